"""The 2020 ``serialization`` option of webhook and websocket channels in the emulator.

``max_chunk_size`` caps the items of one delivered message; the ``cfg`` flags add ``uid``,
``timestamp`` and ``original-ep`` to items and turn de-registrations into objects; the option is
stored and answered by GET; ``websocket_shape`` chooses the 2019 or 2020 answers of the websocket
channel endpoints. Driven by plain urllib3, websockets' client and a small webhook receiver.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from test_emulator import assert_error, call
from test_emulator_webhook import Receiver
from test_emulator_websocket import open_socket

from mds.emulator import Emulator, ManualClock
from mds.emulator._serialization import Serialization, decorate, parse_serialization
from servers import wait_until

WEBSOCKET = "/v2/notification/websocket"
CALLBACK = "/v2/notification/callback"
ALL_FLAGS = {
    "deregistrations_as_object": "true",
    "include_uid": "true",
    "include_timestamp": "true",
    "include_original_ep": "true",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver([200, 500])  # validation OK; the first delivery fails (a back-off on the clock)
    yield rx
    rx.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
def emu(receiver: Receiver, clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(clock=clock, webhook_timeout=2.0) as emulator:
        yield emulator


def frames(emu: Emulator, count: int) -> list[dict[str, Any]]:
    """The next ``count`` messages of a websocket opened on the key's channel."""
    with open_socket(emu) as websocket:
        return [json.loads(websocket.recv(timeout=5)) for _ in range(count)]


# ---------------------------------------------------------------------- webhook


def test_webhook_serialization_is_stored_and_applied(
    http: urllib3.PoolManager, emu: Emulator, receiver: Receiver, clock: ManualClock
) -> None:
    serialization = {"type": "v2", "max_chunk_size": "100", "cfg": ALL_FLAGS}  # the spec's example
    webhook = {"url": receiver.url(), "headers": {"authorization": "s"}, "serialization": serialization}
    assert call(http, emu, "PUT", CALLBACK, body=webhook).status == 204
    stored = call(http, emu, "GET", CALLBACK).json()
    assert stored == {
        "url": receiver.url(),
        "headers": {"authorization": "s"},
        "serialization": {
            "type": "v2",
            "max_chunk_size": 100,
            "cfg": {flag: True for flag in ALL_FLAGS},
        },
    }
    assert call(http, emu, "GET", "/v2/notification/channel").json() == {"delivery_mechanism": "CALLBACK"}
    emu.register_device("dev-1", original_ep="my-thermostat", resources={"/3303/0/5700": 20})
    # The registration alone fails first; its retry waits for the clock, so everything injected
    # meanwhile is queued when the retry goes out.
    assert wait_until(lambda: [r["status"] for r in emu.deliveries() if r["kind"] == "delivery"] == [500])
    for n in range(150):
        emu.notify("dev-1", "/3303/0/5700", n)
    emu.deregister_device("dev-1")
    clock.advance(1)
    assert wait_until(lambda: len(receiver.deliveries()) == 4)
    messages = [json.loads(delivery["body"]) for delivery in receiver.deliveries()[1:]]
    # At most 100 items a message, never reordered.
    assert [sum(len(items) for items in message.values()) for message in messages] == [1, 100, 51]
    registration = messages[0]["registrations"][0]
    assert registration["original-ep"] == "my-thermostat"
    first = messages[1]["notifications"][0]
    assert first["original-ep"] == "my-thermostat"
    assert first["timestamp"] == (
        datetime.datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    uids = [item["uid"] for message in messages for items in message.values() for item in items]
    assert len(set(uids)) == 152  # one per item
    assert [len(message.get("notifications", [])) for message in messages] == [0, 100, 50]
    (deregistration,) = messages[2]["de-registrations"]
    assert set(deregistration) == {"ep", "uid", "timestamp", "original-ep"}
    assert deregistration["ep"] == "dev-1"
    # Registering again without serialization removes it.
    assert call(http, emu, "PUT", CALLBACK, body={"url": receiver.url()}).status == 204
    assert "serialization" not in call(http, emu, "GET", CALLBACK).json()


@pytest.mark.parametrize(
    ("serialization", "field"),
    [
        ("v2", "serialization"),
        ({}, "serialization.type"),
        ({"type": "v1"}, "serialization.type"),
        ({"type": "v2", "max_chunk_size": 99}, "serialization.max_chunk_size"),
        ({"type": "v2", "max_chunk_size": "10001"}, "serialization.max_chunk_size"),
        ({"type": "v2", "max_chunk_size": "many"}, "serialization.max_chunk_size"),
        ({"type": "v2", "max_chunk_size": True}, "serialization.max_chunk_size"),
        ({"type": "v2", "max_chunk_size": 100.5}, "serialization.max_chunk_size"),
        ({"type": "v2", "cfg": []}, "serialization.cfg"),
        ({"type": "v2", "cfg": {"include_uid": "yes"}}, "serialization.cfg.include_uid"),
        ({"type": "v2", "cfg": {"include_timestamp": 1}}, "serialization.cfg.include_timestamp"),
    ],
)
def test_malformed_serialization_is_400(
    http: urllib3.PoolManager, emu: Emulator, receiver: Receiver, serialization: Any, field: str
) -> None:
    webhook = {"url": receiver.url(), "serialization": serialization}
    body = assert_error(call(http, emu, "PUT", CALLBACK, body=webhook), 400, "bad_request")
    assert body["fields"] == [{"name": field, "message": body["fields"][0]["message"]}]
    body = assert_error(
        call(http, emu, "PUT", WEBSOCKET, body={"serialization": serialization}), 400, "bad_request"
    )
    assert body["fields"][0]["name"] == field
    assert_error(call(http, emu, "GET", "/v2/notification/channel"), 404, "not_found")  # no channel


def test_serialization_limits_and_defaults() -> None:
    assert parse_serialization({"type": "v2", "max_chunk_size": 10_000}).max_chunk_size == 10_000
    assert parse_serialization({"type": "v2", "max_chunk_size": " 100 "}).max_chunk_size == 100
    config = parse_serialization({"type": "v2", "max_chunk_size": None, "cfg": None, "extra": 1})
    assert config == Serialization()
    assert not config.decorates
    assert config.wire()["cfg"] == {flag: False for flag in ALL_FLAGS}
    flags = parse_serialization({"type": "v2", "cfg": {"include_uid": False, "include_timestamp": "TRUE"}})
    assert (flags.include_uid, flags.include_timestamp) == (False, True)


def test_decorate_leaves_other_items_alone() -> None:
    items = [
        ("de-registrations", "d", True),
        ("async-responses", {"id": "a", "status": 200}, True),
        ("custom", {"ep": "x"}, False),
        ("notifications", "not an object", True),
    ]
    config = Serialization(include_original_ep=True)
    decorated = decorate(items, config, lambda: "now", {})
    assert decorated == items  # no ep to name, strings stay strings, unknown kinds untouched
    assert decorated[1][1] is not items[1][1]  # a copy: the shared item is never changed


# ---------------------------------------------------------------------- websocket


def test_websocket_serialization(http: urllib3.PoolManager, emu: Emulator, clock: ManualClock) -> None:
    serialization = {"type": "v2", "max_chunk_size": 100, "cfg": {"deregistrations_as_object": True}}
    created = call(http, emu, "PUT", WEBSOCKET, body={"serialization": serialization})
    assert created.status == 201
    assert created.json()["serialization"]["max_chunk_size"] == 100
    assert call(http, emu, "GET", WEBSOCKET).json()["serialization"]["cfg"]["deregistrations_as_object"]
    for n in range(120):
        emu.notify("dev-1", "/1/0/1", n)
    emu.deregister_device("dev-1")
    emu.expire_registration("dev-2")
    first, second = frames(emu, 2)
    assert len(first["notifications"]) == 100
    assert second == {
        "notifications": second["notifications"],
        "de-registrations": [{"ep": "dev-1"}],  # as objects, nothing more asked for
        "registrations-expired": [{"ep": "dev-2"}],
    }
    assert "uid" not in second["notifications"][0]
    # A PUT with a new serialization updates the channel; one without leaves it.
    update = {"serialization": {"type": "v2", "cfg": {"include_timestamp": True}}}
    again = call(http, emu, "PUT", WEBSOCKET, body=update)
    assert again.status == 200
    assert again.json()["serialization"]["cfg"]["include_timestamp"] is True
    assert call(http, emu, "PUT", WEBSOCKET).json()["serialization"]["max_chunk_size"] == 10_000
    emu.notify("dev-1", "/1/0/1", 1)
    clock.advance(1.5)
    emu.notify("dev-1", "/1/0/1", 2)
    (message,) = frames(emu, 1)
    stamps = [item["timestamp"] for item in message["notifications"]]
    moments = [datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in stamps]
    assert (moments[1] - moments[0]).total_seconds() == 1.5  # stamped by the emulator's clock


def test_websocket_put_body_must_be_an_object(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(call(http, emu, "PUT", WEBSOCKET, body=b"{"), 400, "bad_request")
    assert_error(call(http, emu, "PUT", WEBSOCKET, body=[]), 400, "bad_request")
    assert call(http, emu, "PUT", WEBSOCKET, body={}).status == 201  # an empty object: no option
    assert "serialization" not in call(http, emu, "GET", WEBSOCKET).json()


def test_websocket_2020_shapes(http: urllib3.PoolManager) -> None:
    with Emulator(websocket_shape="2020") as emu:
        assert emu.websocket_shape == "2020"
        created = call(http, emu, "PUT", WEBSOCKET)
        assert (created.status, created.json()) == (201, {"queue_size": -1, "status": "unknown"})
        again = call(http, emu, "PUT", WEBSOCKET)
        assert (again.status, again.json()) == (200, {})  # RegisterWebsocketChannel, no option
        serialization = {"type": "v2", "max_chunk_size": 500}
        updated = call(http, emu, "PUT", WEBSOCKET, body={"serialization": serialization})
        assert updated.status == 200
        assert updated.json()["serialization"]["max_chunk_size"] == 500
        got = call(http, emu, "GET", WEBSOCKET).json()
        assert (got["queue_size"], got["status"]) == (-1, "unknown")
        assert got["serialization"]["type"] == "v2"
        emu.websocket_shape = "2019"  # a setting like the others
        assert set(call(http, emu, "GET", WEBSOCKET).json()) == {
            "channelId",
            "queueSize",
            "status",
            "serialization",
        }
    with pytest.raises(ValueError, match="websocket_shape"):
        Emulator(websocket_shape="2021")
    with pytest.raises(ValueError, match="device_timeout"):
        Emulator(device_timeout=0)
