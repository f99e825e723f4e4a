"""``mds demo``: the whole device-data loop on this machine, with no account.

Starts the emulator in-process, registers a websocket channel through the SDK, opens a
`NotificationListener` that sets pre-subscription rules, simulates a few devices (some of their
changes subscribed, one not) and prints what the listener receives; on the way the application
reads a resource with a device request, answered through the same channel. Internal: run it
with ``mds demo``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient
from mds.cli._format import event_to_json
from mds.cli._listen import describe_rules
from mds.configuration import Configuration
from mds.emulator import Emulator
from mds.events import (
    AsyncResponse,
    DeviceDeregistered,
    DeviceRegistered,
    DeviceRegistrationExpired,
    DeviceRegistrationUpdated,
    Event,
    ResourceChanged,
)
from mds.listener import NotificationListener
from mds.payload import TlvPayload, encode_tlv

__all__ = ["run_demo"]

THERMOSTAT = "thermostat-01"
DOOR = "door-sensor-02"
LAMP = "lamp-03"
TLV = "application/vnd.oma.lwm2m+tlv"
#: The thermostat's resource the application reads when the thermostat reports its object.
UNITS = "/3303/0/5701"
#: A resource that changes but that no rule subscribes to.
BATTERY = "/3/0/9"

#: The application's pre-subscription rules: the thermostats' temperature object, every
#: resource of every light, and every resource of the devices whose names start with "door-".
RULES: list[dict[str, Any]] = [
    {"endpoint-type": "Thermostat", "resource-path": ["/3303/*"]},
    {"endpoint-type": "Light"},
    {"endpoint-name": "door-*"},
]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _script(emulator: Emulator, unsent: list[int]) -> list[tuple[int, Callable[[], object]]]:
    """The simulated story: (events it brings to the listener, how the emulator is told).
    The battery change is not subscribed: how many channels it reached goes to *unsent*."""
    tlv = encode_tlv({5700: 22.5, 5701: "Cel"})
    lamp_state = {"on": True, "dimmer": 80}
    return [
        (1, lambda: emulator.register_device(
            THERMOSTAT, ept="Thermostat", resources=[
                {"path": "/3303/0/5700", "obs": True, "rt": "temperature", "value": 20.0},
                {"path": UNITS, "rt": "units", "value": "Cel"},
                {"path": "/3303/0", "ct": TLV, "obs": True},
                {"path": BATTERY, "obs": True, "rt": "battery", "value": 90}])),
        (1, lambda: emulator.register_device(
            DOOR, ept="DoorSensor", resources=[{"path": "/10351/0/1", "obs": True}])),
        (1, lambda: emulator.set_resource(THERMOSTAT, "/3303/0/5700", 21.5)),
        (0, lambda: unsent.append(emulator.set_resource(THERMOSTAT, BATTERY, 87))),
        (1, lambda: emulator.set_resource(DOOR, "/10351/0/1", "open")),
        (2, lambda: (
            emulator.register_device(LAMP, ept="Light", resources=[
                {"path": "/3311/0", "ct": "application/json", "obs": True,
                 "value": {"on": False}}]),
            emulator.set_resource(LAMP, "/3311/0", lamp_state))),
        (1, lambda: emulator.set_resource(THERMOSTAT, "/3303/0", ct=TLV,
                                          payload_b64=_b64(tlv))),
        (1, lambda: emulator.deregister_device(DOOR)),
    ]


def _value(event: Any) -> str:
    """The decoded value, as a newcomer would like to see it."""
    value = event.value
    if isinstance(value, TlvPayload):
        parts = []
        for ident in value:
            leaf = value.leaf(ident)
            shown: Any = leaf.value
            if ident == 5700:
                shown = leaf.as_float()
            elif ident == 5701:
                shown = leaf.as_str()
            parts.append(f"{ident}={shown!r}")
        return "TLV {" + ", ".join(parts) + "}"
    return repr(value)


def _line(event: Any) -> str:
    if isinstance(event, ResourceChanged):
        return (f"  ResourceChanged     {event.device_id:<16} {event.path:<14} "
                f"= {_value(event)}   [{event.content_type}]")
    if isinstance(event, (DeviceRegistered, DeviceRegistrationUpdated)):
        paths = ", ".join(r.path for r in event.resources)
        return (f"  {type(event).__name__:<19} {event.device_id:<16} type {event.endpoint_type}, "
                f"resources {paths or '-'}")
    if isinstance(event, (DeviceDeregistered, DeviceRegistrationExpired)):
        return f"  {type(event).__name__:<19} {event.device_id}"
    if isinstance(event, AsyncResponse):
        return (f"  AsyncResponse       {event.id:<31} status {event.status} "
                f"= {_value(event)}")
    return f"  {event!r}"


def _asks(event: Event) -> bool:
    """Whether the application reads the thermostat's units on this event: when the
    thermostat reports its whole temperature object."""
    return (isinstance(event, ResourceChanged) and event.device_id == THERMOSTAT
            and event.path == "/3303/0")


def run_demo(out: TextIO, *, json_lines: bool = False, step_delay: float = 0.12) -> int:
    """Run the demo, printing to *out*; returns 0."""
    def say(text: str = "") -> None:
        if not json_lines:
            out.write(text + "\n")
            out.flush()

    def show(event: Event) -> None:
        out.write((json.dumps(event_to_json(event)) if json_lines else _line(event)) + "\n")
        out.flush()

    say("mds demo: Device Management notifications, end to end, on this machine.")
    say("No account needed: a local emulator plays the service.\n")
    unsent: list[int] = []
    with Emulator() as emulator:
        configuration = Configuration(host=emulator.url, api_key=emulator.api_key)
        with ApiClient(configuration) as api_client:
            api = NotificationsApi(api_client)
            channel = api.register_websocket()
            say(f"  emulator   {emulator.url}")
            say(f"  channel    websocket registered (status: {channel.status})")
            script = _script(emulator, unsent)
            expected = sum(count for count, _ in script) + 1  # and the answer to the read
            started = time.monotonic()
            with NotificationListener(api_client, register=False, subscribe=RULES) as listener:
                say(f"  rules      pre-subscriptions set: {describe_rules(listener.subscribe or [])}")
                say("  listener   NotificationListener(api_client, subscribe=RULES) connected\n")
                say("Simulated devices act; the listener prints what arrives:\n")

                def act() -> None:
                    for _, step in script:
                        if listener.stopped:
                            return
                        step()
                        time.sleep(step_delay)

                actor = threading.Thread(target=act, name="mds-demo-devices", daemon=True)
                safety = threading.Timer(15.0, listener.stop)
                safety.daemon = True
                actor.start()
                safety.start()
                received = 0
                try:
                    for event in listener:
                        received += 1
                        show(event)
                        if _asks(event):
                            say(f"  (the application reads {THERMOSTAT} {UNITS}: a device "
                                "request, answered on the same channel)")
                            show(listener.request(THERMOSTAT, UNITS, timeout=10.0))
                            received += 1
                        if received >= expected:
                            break
                finally:
                    safety.cancel()
                    listener.stop()
                    actor.join(5.0)
                stats = listener.stats
            elapsed = time.monotonic() - started
    say()
    if unsent == [0]:
        say(f"Not sent: {THERMOSTAT} changed {BATTERY} (battery) to 87 as well, but no rule "
            "subscribes to it.")
    say(f"Received {stats.events} events in {stats.messages} batches in {elapsed:.2f} s.")
    say("\nThe code behind it:\n")
    say("    import mds")
    say("    from mds.listener import NotificationListener")
    say("    client = mds.ApiClient(mds.Configuration(host=URL, api_key=KEY))")
    say("    rules = [{'endpoint-type': 'Thermostat', 'resource-path': ['/3303/*']}, ...]")
    say("    with NotificationListener(client, subscribe=rules) as listener:  # websocket")
    say("        for event in listener:")
    say("            print(event)")
    say(f"            units = listener.read('{THERMOSTAT}', '{UNITS}')  # a device request")
    say("\nNext: 'mds emulator' runs the emulator on port 8080; in another terminal,")
    say("'mds listen --host http://127.0.0.1:8080 --api-key ak_demo --subscribe /3303/*' prints")
    say("what it sends, and 'mds request --host ... --api-key ... DEVICE PATH' reads a resource.")
    say("Against your account: 'MDS_API_KEY=ak_... mds listen'.")
    return 0
