"""The whole device-data loop, end to end against the emulator, on each channel a key can have:
the websocket and the long poll (through a NotificationListener, whose requests are answered on
its own channel), and the webhook (a WebhookReceiver served by a real WSGI server on 127.0.0.1,
the device requests sent with DeviceRequestsApi, their answers taken from an AsyncResponses fed
by the receiver).

Each story: a subscribed change arrives and an unsubscribed one does not; a read, a write and an
execution are answered; an offline device's request expires with its reason (on the emulator's
manual clock); a full re-registration drops the manual subscriptions but not the
pre-subscriptions."""

from __future__ import annotations

import base64
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest
from test_webhook_receiver import serve_wsgiref

import mds
from mds.async_responses import AsyncResponses
from mds.emulator import Emulator, ManualClock
from mds.events import AsyncResponse, DeviceRegistered, Event, ResourceChanged
from mds.listener import NotificationListener
from mds.webhook_receiver import WebhookReceiver
from servers import wait_until

pytestmark = pytest.mark.timeout(60)

DEVICE = "thermostat-01"
TEMPERATURE = "/3303/0/5700"
UNITS = "/3303/0/5701"
BATTERY = "/3/0/9"
REBOOT = "/3/0/4"
RESOURCES: dict[str, Any] = {TEMPERATURE: 20.0, UNITS: "Cel", BATTERY: 90, REBOOT: None}
#: The rule of every story: the thermostats' temperature object (not the battery).
RULES = [{"endpoint-type": "Thermostat", "resource-path": ["/3303/*"]}]
#: The long-poll hold of the service, in seconds of the emulator's (manual) clock.
HOLD = 30.0
CHANNELS = ["websocket", "long-poll", "webhook"]


class Loop(Protocol):
    """One way of running the loop: where events arrive, how requests are sent."""

    def events(self, count: int) -> list[Event]:
        """The next *count* events (answers to this loop's requests excepted)."""

    def request(self, device_id: str, path: str, method: str = "GET",
                payload: bytes | None = None, *, content_type: str | None = None,
                expiry_seconds: int | None = None) -> AsyncResponse:
        """Send a device request and return its answer (AsyncResponseError for >= 300)."""


class ListenerLoop:
    """A NotificationListener: events by iteration, requests with ``request()``."""

    def __init__(self, listener: NotificationListener) -> None:
        self.listener = listener

    def events(self, count: int) -> list[Event]:
        events: list[Event] = []
        for event in self.listener:
            events.append(event)
            if len(events) == count:
                break
        return events

    def request(self, device_id: str, path: str, method: str = "GET",
                payload: bytes | None = None, *, content_type: str | None = None,
                expiry_seconds: int | None = None) -> AsyncResponse:
        return self.listener.request(device_id, path, method, payload, content_type=content_type,
                                     expiry_seconds=expiry_seconds, timeout=20)


class WebhookLoop:
    """A webhook: events from the receiver, requests with DeviceRequestsApi and
    AsyncResponses."""

    def __init__(self, client: mds.ApiClient) -> None:
        self.received: queue.Queue[Event] = queue.Queue()
        self.answers = AsyncResponses()
        self.api = mds.DeviceRequestsApi(client)

        def on_event(event: Event) -> None:
            if not isinstance(event, AsyncResponse):  # those are the registry's
                self.received.put(event)

        self.receiver = WebhookReceiver({"authorization": "loop-secret"}, on_event=on_event,
                                        async_responses=self.answers)

    def events(self, count: int) -> list[Event]:
        return [self.received.get(timeout=10) for _ in range(count)]

    def request(self, device_id: str, path: str, method: str = "GET",
                payload: bytes | None = None, *, content_type: str | None = None,
                expiry_seconds: int | None = None) -> AsyncResponse:
        async_id = str(uuid.uuid4())
        encoded = None if payload is None else base64.b64encode(payload).decode("ascii")
        body = mds.DeviceRequest(method=method, uri=path, content_type=content_type,
                                 payload_b64=encoded)
        self.api.create_async_request(device_id, async_id, body, expiry_seconds=expiry_seconds)
        return self.answers.wait(async_id, timeout=20)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(clock=clock) as emulator:  # the service's own durations, on a manual clock
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[mds.ApiClient]:
    with mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key)) as api_client:
        yield api_client


def release_polls(clock: ManualClock, done: Callable[[], bool]) -> None:
    """Until *done*, step the manual clock by the long-poll hold, so that a held poll (the one
    that makes the channel, or one a request waits behind) ends; a no-op on the other
    channels, whose work never waits for the clock."""
    while not wait_until(done, 1.0):
        clock.advance(HOLD)


@pytest.fixture(params=CHANNELS)
def loop(request: pytest.FixtureRequest, emu: Emulator, client: mds.ApiClient,
         clock: ManualClock) -> Iterator[Loop]:
    """A loop on the channel of the parameter, with the rules set and the thermostat
    registered (its registration already consumed)."""
    if request.param == "webhook":
        webhook_loop = WebhookLoop(client)
        url, stop = serve_wsgiref(webhook_loop.receiver)
        try:
            mds.SubscriptionsApi(client).update_pre_subscriptions(RULES)
            mds.NotificationsApi(client).register_webhook(
                mds.Webhook(url, {"authorization": "loop-secret"}))
            register(emu, clock, webhook_loop)
            yield webhook_loop
        finally:
            stop()
        return
    with NotificationListener(client, request.param, subscribe=RULES) as listener:
        listener_loop = ListenerLoop(listener)
        register(emu, clock, listener_loop)
        yield listener_loop
        listener.stop()


def register(emu: Emulator, clock: ManualClock, loop: Loop) -> None:
    """Register the thermostat once the channel exists (a long poll makes its channel with its
    first poll, which waiting for an event starts), and take its registration event."""
    waiting = Background(lambda: loop.events(1))
    assert wait_until(lambda: emu.health()["channels"] == 1, 10)
    emu.register_device(DEVICE, ept="Thermostat", resources=RESOURCES)
    assert isinstance(waiting.result(clock)[0], DeviceRegistered)


class Background:
    """*work* running in a thread; `result` waits for it, releasing long polls meanwhile."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            self._outcome.append(exc)

    def result(self, clock: ManualClock) -> Any:
        """The work's result, or its exception raised here."""
        release_polls(clock, lambda: not self._thread.is_alive())
        self._thread.join()
        if isinstance(self._outcome[0], BaseException):
            raise self._outcome[0]
        return self._outcome[0]


def in_background(clock: ManualClock, work: Callable[[], Any]) -> Any:
    """Run *work* in a thread while releasing long polls; its result (or exception)."""
    return Background(work).result(clock)


def changes(events: list[Event]) -> list[tuple[str, Any]]:
    return [(e.path, e.value) for e in events if isinstance(e, ResourceChanged)]


def test_a_subscribed_change_arrives_an_unsubscribed_one_does_not(
        emu: Emulator, clock: ManualClock, loop: Loop) -> None:
    assert emu.set_resource(DEVICE, BATTERY, 87) == 0  # no rule, no subscription: not sent
    assert emu.set_resource(DEVICE, TEMPERATURE, 21.5) == 1
    assert emu.set_resource(DEVICE, UNITS, "Fahrenheit") == 1
    events = in_background(clock, lambda: loop.events(2))
    assert changes(events) == [(TEMPERATURE, 21.5), (UNITS, "Fahrenheit")]


def test_read_write_and_execute_are_answered(emu: Emulator, clock: ManualClock,
                                             loop: Loop) -> None:
    emu.on_execute(DEVICE, REBOOT, lambda payload: b"rebooting in " + payload)
    read = in_background(clock, lambda: loop.request(DEVICE, UNITS))
    assert (read.status, read.value) == (200, "Cel")
    written = in_background(clock, lambda: loop.request(DEVICE, TEMPERATURE, "PUT", b"23.5",
                                                        content_type="text/plain"))
    assert written.status == 200
    # The write is a change of a subscribed resource: it is notified too.
    assert changes(in_background(clock, lambda: loop.events(1))) == [(TEMPERATURE, 23.5)]
    assert in_background(clock, lambda: loop.request(DEVICE, TEMPERATURE)).value == 23.5
    executed = in_background(clock, lambda: loop.request(DEVICE, REBOOT, "POST", b"5 s"))
    assert (executed.status, executed.value) == (200, "rebooting in 5 s")
    assert [e["payload_b64"] for e in emu.executions(DEVICE)] == ["NSBz"]


def test_an_offline_devices_request_expires_with_its_reason(
        emu: Emulator, clock: ManualClock, loop: Loop) -> None:
    emu.set_online(DEVICE, False)
    reading = Background(lambda: loop.request(DEVICE, TEMPERATURE, expiry_seconds=60))
    release_polls(clock, lambda: any(r["path"].startswith("/v2/device-requests/")
                                     for r in emu.requests()))
    clock.advance(59)
    assert emu.device(DEVICE)["queued"] == 1  # still waiting in the device's queue
    clock.advance(1)
    with pytest.raises(mds.AsyncResponseError) as info:
        reading.result(clock)
    assert (info.value.status, info.value.error) == (429, "REQUEST_EXPIRED")


def test_a_full_registration_drops_manual_subscriptions_not_pre_subscriptions(
        emu: Emulator, clock: ManualClock, client: mds.ApiClient, loop: Loop) -> None:
    subscriptions = mds.SubscriptionsApi(client)
    subscriptions.add_resource_subscription(DEVICE, BATTERY)  # by hand
    assert sorted(subscriptions.get_endpoint_subscriptions(DEVICE)) == sorted(
        [TEMPERATURE, UNITS, BATTERY])
    emu.set_resource(DEVICE, BATTERY, 80)
    emu.set_resource(DEVICE, TEMPERATURE, 21.0)
    assert changes(in_background(clock, lambda: loop.events(2))) == [
        (BATTERY, 80), (TEMPERATURE, 21.0)]

    # A registration update keeps both.
    emu.update_registration(DEVICE)
    emu.set_resource(DEVICE, BATTERY, 79)
    events = in_background(clock, lambda: loop.events(2))
    assert type(events[0]).__name__ == "DeviceRegistrationUpdated"
    assert changes(events) == [(BATTERY, 79)]

    # A full registration: the rule subscribes again, the manual subscription is gone.
    emu.register_device(DEVICE, ept="Thermostat", resources=RESOURCES)
    assert sorted(subscriptions.get_endpoint_subscriptions(DEVICE)) == [TEMPERATURE, UNITS]
    assert emu.set_resource(DEVICE, BATTERY, 78) == 0
    emu.set_resource(DEVICE, TEMPERATURE, 22.0)
    events = in_background(clock, lambda: loop.events(2))
    assert isinstance(events[0], DeviceRegistered)
    assert changes(events) == [(TEMPERATURE, 22.0)]
    assert subscriptions.check_resource_subscription(DEVICE, BATTERY) is False
