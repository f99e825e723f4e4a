"""mds.events: typed events from notification batches, bad items included."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import logging
import pickle
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

import mds
from mds.emulator import Emulator
from mds.events import (
    AsyncResponse,
    DeviceDeregistered,
    DeviceRegistered,
    DeviceRegistrationExpired,
    DeviceRegistrationUpdated,
    Event,
    Resource,
    ResourceChanged,
    event_list,
    events_from_message,
    message_dict,
)
from mds.exceptions import AsyncResponseError
from mds.models import NotificationMessage
from mds.payload import TlvPayload, encode_tlv

EP = "0172b9ba5409000000000001001117f5"
EP2 = "015f3850a657000000000001001002ab"
ASYNC_ID = "123e4567-e89b-12d3-a456-426655440000"

# The service's own examples (SERVICE.md), as one mixed batch.
MIXED = {
    "notifications": [
        {"ep": EP, "path": "/3200/0/5501", "ct": "text/plain", "payload": "NTc=", "max-age": 0}
    ],
    "registrations": [
        {
            "ep": EP2,
            "ept": "Light",
            "original-ep": "my-device-123",
            "q": False,
            "resources": [
                {
                    "path": "/sen/light",
                    "ct": "text/plain",
                    "obs": True,
                    "rt": "light_sensor",
                    "if": "sensor",
                }
            ],
        }
    ],
    "reg-updates": [{"ep": EP2, "ept": "Light", "q": True}],
    "de-registrations": [EP2],
    "registrations-expired": [EP],
    "async-responses": [
        {
            "id": ASYNC_ID,
            "status": 200,
            "payload": "dmFsdWUxCg==",
            "ct": "text/plain",
            "max-age": 600,
        },
        {"id": "other", "status": 504, "error": "TIMEOUT"},
    ],
}


def _events(message: Any) -> list[Event]:
    return list(events_from_message(message))


def test_mixed_batch_yields_one_typed_event_per_item_in_wire_order() -> None:
    events = _events(json.loads(json.dumps(MIXED)))
    assert [type(e) for e in events] == [
        ResourceChanged,
        DeviceRegistered,
        DeviceRegistrationUpdated,
        DeviceDeregistered,
        DeviceRegistrationExpired,
        AsyncResponse,
        AsyncResponse,
    ]
    assert all(e.error is None for e in events[:-1])
    assert events[0] == ResourceChanged(EP, "/3200/0/5501", "text/plain", 0, b"57", 57)
    assert events[1] == DeviceRegistered(
        EP2,
        "Light",
        "my-device-123",
        False,
        (Resource("/sen/light", "text/plain", True, "light_sensor", "sensor"),),
    )
    assert events[2] == DeviceRegistrationUpdated(EP2, "Light", None, True, ())
    assert events[3] == DeviceDeregistered(EP2)
    assert events[4] == DeviceRegistrationExpired(EP)
    answer = events[5]
    assert isinstance(answer, AsyncResponse)
    assert (answer.id, answer.status, answer.ok, answer.max_age) == (ASYNC_ID, 200, True, 600)
    assert answer.payload == b"value1\n"
    assert answer.value == "value1\n"
    timeout = events[6]
    assert isinstance(timeout, AsyncResponse)
    assert (timeout.status, timeout.error, timeout.ok, timeout.value) == (
        504,
        "TIMEOUT",
        False,
        None,
    )


def test_kinds_follow_the_order_of_keys_in_the_message() -> None:
    message = {
        "async-responses": [{"id": "a1", "status": 200}],
        "de-registrations": ["d1", "d2"],
        "notifications": [
            {"ep": "n1", "path": "/1/0/1", "ct": "text/plain", "payload": "MQ=="},
            {"ep": "n2", "path": "/1/0/1", "ct": "text/plain", "payload": "Mg=="},
        ],
    }
    events = _events(message)
    assert [
        (type(e).__name__, getattr(e, "device_id", getattr(e, "id", None))) for e in events
    ] == [
        ("AsyncResponse", "a1"),
        ("DeviceDeregistered", "d1"),
        ("DeviceDeregistered", "d2"),
        ("ResourceChanged", "n1"),
        ("ResourceChanged", "n2"),
    ]
    assert [e.value for e in events[3:]] == [1, 2]  # type: ignore[attr-defined]


def test_model_and_wire_dict_give_the_same_events() -> None:
    wire = json.loads(json.dumps(MIXED))
    model = NotificationMessage.from_dict(json.loads(json.dumps(MIXED)))
    assert _events(model) == _events(wire)
    assert list(model.events()) == _events(wire)


def test_bad_items_never_hide_the_rest_of_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    message = {
        "notifications": [
            {"ep": "ok-1", "path": "/1", "ct": "text/plain", "payload": "MQ=="},
            {"ep": "bad-b64", "path": "/1", "ct": "text/plain", "payload": "!!not base64!!"},
            "not an object",
            {
                "ep": "bad-tlv",
                "path": "/3/0",
                "ct": "application/vnd.oma.lwm2m+tlv",
                "payload": "Q2hhbmdlIG1lIQ==",
            },
            {"ep": 42, "path": "/1", "payload": "MQ=="},
            {"ep": "bad-types", "path": 7, "ct": 5, "payload": "MQ==", "max-age": "soon"},
            {"ep": "ok-2", "path": "/2", "ct": "text/plain", "payload": "Mg=="},
        ],
        "registrations": [
            {"ep": "reg-bad", "q": "yes", "resources": [{"path": "/a", "obs": "true"}, 5, {}]},
            None,
        ],
        "async-responses": [
            {"status": 200},
            {"id": "a", "status": "x"},
            {"id": "b", "status": 200},
        ],
    }
    with caplog.at_level(logging.WARNING, logger="mds.events"):
        events = _events(message)
    assert len(events) == 7 + 2 + 3  # one event per item, none dropped
    ok1, b64, not_obj, tlv, bad_ep, bad_types, ok2 = events[:7]
    assert ok1.error is None
    assert ok1.value == 1  # type: ignore[attr-defined]
    assert ok2.error is None
    assert ok2.value == 2  # type: ignore[attr-defined]

    assert isinstance(b64, ResourceChanged)
    assert b64.device_id == "bad-b64"
    assert b64.value is None
    assert b64.payload == b""
    assert b64.error is not None
    assert "notifications[1]" in b64.error
    assert "base64" in b64.error

    assert isinstance(not_obj, ResourceChanged)
    assert not_obj.device_id == ""
    assert not_obj.error == "notifications[2]: not an object: 'not an object'"

    assert isinstance(tlv, ResourceChanged)
    assert tlv.value is None
    assert tlv.payload == b"Change me!"  # the bytes stay available
    assert tlv.error is not None
    assert "application/vnd.oma.lwm2m+tlv" in tlv.error

    assert isinstance(bad_ep, ResourceChanged)
    assert bad_ep.device_id == ""
    assert bad_ep.error is not None
    assert "'ep' is not a string: 42" in bad_ep.error

    assert isinstance(bad_types, ResourceChanged)
    assert bad_types.error is not None
    for complaint in ("'path' is not a string", "'ct' is not a string", "'max-age'"):
        assert complaint in bad_types.error
    assert bad_types.content_type is None
    assert bad_types.value == b"1"
    assert bad_types.max_age is None

    reg, none_reg = events[7:9]
    assert isinstance(reg, DeviceRegistered)
    assert reg.device_id == "reg-bad"
    assert reg.queue_mode is False
    assert reg.resources == (Resource("/a"),)  # the readable resource is kept
    assert reg.error is not None
    for complaint in (
        "'q'",
        "resources[0] (/a) has a wrong type for obs",
        "resources[1]",
        "resources[2] has no 'path'",
    ):
        assert complaint in reg.error
    assert isinstance(none_reg, DeviceRegistered)
    assert none_reg.error is not None

    no_id, bad_status, fine = events[9:]
    assert isinstance(no_id, AsyncResponse)
    assert no_id.id == ""
    assert no_id.error is not None
    assert isinstance(bad_status, AsyncResponse)
    assert bad_status.status == 0
    assert bad_status.error is not None
    assert "'status'" in bad_status.error
    assert fine == AsyncResponse("b", 200)

    # items that cannot be routed to a device are logged
    unroutable = [r for r in caplog.records if r.name == "mds.events"]
    assert len(unroutable) == 4  # not an object, ep 42, registration None, async without id
    assert all(r.levelno == logging.WARNING for r in unroutable)


def test_de_registrations_as_objects() -> None:
    message = {
        "de-registrations": [
            {"ep": EP, "original-ep": "my-device", "uid": "5e2f", "timestamp": 1700000000123},
            EP2,
        ],
        "registrations-expired": [{"ep": EP2, "uid": "77"}, {"original-ep": "no-ep"}, 17],
    }
    events = _events(message)
    assert events[0] == DeviceDeregistered(EP, "my-device", "5e2f", 1700000000123)
    assert events[1] == DeviceDeregistered(EP2)
    assert events[2] == DeviceRegistrationExpired(EP2, uid="77")
    assert isinstance(events[3], DeviceRegistrationExpired)
    assert events[3].device_id == ""
    assert events[3].original_id == "no-ep"
    assert events[3].error is not None
    assert "'ep'" in events[3].error
    assert events[4].error == "registrations-expired[2]: not a device id or object: 17"


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [(600, 600), ("600", 600), (" 60 ", 60), (60.0, 60), ("60.0", 60), (None, None)],
)
def test_max_age_number_or_numeric_string(max_age: Any, expected: int | None) -> None:
    item: dict[str, Any] = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "MQ=="}
    if max_age is not None:
        item["max-age"] = max_age
    (event,) = _events({"notifications": [item]})
    assert isinstance(event, ResourceChanged)
    assert event.max_age == expected
    assert event.error is None
    (answer,) = _events({"async-responses": [{"id": "x", "status": 200, "max-age": max_age}]})
    assert isinstance(answer, AsyncResponse)
    assert answer.max_age == expected


@pytest.mark.parametrize("max_age", ["soon", 1.5, True, [1]])
def test_bad_max_age_is_reported_and_the_value_still_decoded(max_age: Any) -> None:
    item = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "MQ==", "max-age": max_age}
    (event,) = _events({"notifications": [item]})
    assert isinstance(event, ResourceChanged)
    assert event.max_age is None
    assert event.value == 1
    assert event.error is not None
    assert "'max-age' is not a whole number" in event.error


def test_payload_types_decode_by_content_type() -> None:
    tlv = base64.b64encode(encode_tlv({5700: 21.5})).decode()
    items = [
        {"ep": EP, "path": "/3303/0", "ct": "application/vnd.oma.lwm2m+tlv", "payload": tlv},
        {"ep": EP, "path": "/3303/0", "ct": "application/octet-stream", "payload": tlv},
        {"ep": EP, "path": "/x", "ct": "application/json", "payload": "eyJhIjogMX0="},
        {"ep": EP, "path": "/x", "ct": "text/plain"},  # no payload at all
    ]
    tlv_event, opaque, as_json, empty = _events({"notifications": items})
    assert isinstance(tlv_event.value, TlvPayload)  # type: ignore[attr-defined]
    assert tlv_event.value[5700].as_float() == 21.5  # type: ignore[attr-defined]
    assert opaque.value == base64.b64decode(tlv)  # type: ignore[attr-defined]
    assert as_json.value == {"a": 1}  # type: ignore[attr-defined]
    assert empty.payload == b""  # type: ignore[attr-defined]
    assert empty.value is None  # type: ignore[attr-defined]
    assert empty.error is None


def test_kind_that_is_not_a_list_becomes_one_error_event() -> None:
    events = _events({"notifications": {"ep": EP}, "de-registrations": EP, "registrations": None})
    assert len(events) == 2
    assert isinstance(events[0], ResourceChanged)
    assert events[0].error is not None
    assert "'notifications' is not a list" in events[0].error
    assert isinstance(events[1], DeviceDeregistered)
    assert events[1].error is not None
    assert "'de-registrations' is not a list" in events[1].error


def test_unknown_keys_and_empty_messages() -> None:
    assert _events({}) == []
    assert _events({"future-kind": [1, 2], "notifications": []}) == []
    assert _events(NotificationMessage()) == []


def test_python_attribute_names_are_accepted() -> None:
    events = _events({"de_registrations": ["a"], "async_responses": [{"id": "b", "status": 204}]})
    assert events == [DeviceDeregistered("a"), AsyncResponse("b", 204)]


def test_wrong_message_type_raises_at_the_call() -> None:
    with pytest.raises(TypeError, match="NotificationMessage"):
        events_from_message("notifications")
    with pytest.raises(TypeError):
        events_from_message([{"ep": EP}])


def test_events_are_frozen_hashable_and_picklable() -> None:
    events = _events(json.loads(json.dumps(MIXED)))
    for event in events:
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.error = "changed"  # type: ignore[misc]
        assert hash(event) == hash(pickle.loads(pickle.dumps(event)))
        assert pickle.loads(pickle.dumps(event)) == event
    assert len(set(events)) == len(events)
    json_event = _events(
        {
            "notifications": [
                {"ep": EP, "path": "/x", "ct": "application/json", "payload": "eyJhIjogMX0="}
            ]
        }
    )[0]
    assert hash(json_event)  # a dict value does not make the event unhashable
    first = events[0]
    assert isinstance(first, ResourceChanged)
    moved = dataclasses.replace(first, path="/9")
    assert moved.path == "/9"
    assert moved.value == first.value == 57


def test_events_support_match() -> None:
    seen = []
    for event in _events(json.loads(json.dumps(MIXED))):
        match event:
            case ResourceChanged(device_id=device, path="/3200/0/5501", value=value):
                seen.append(("changed", device, value))
            case AsyncResponse(id=async_id, status=200):
                seen.append(("answer", async_id, event.value))
            case DeviceDeregistered(device_id=device):
                seen.append(("gone", device, None))
    assert seen == [("changed", EP, 57), ("gone", EP2, None), ("answer", ASYNC_ID, "value1\n")]


def test_async_response_status_helpers() -> None:
    ok = AsyncResponse("a", 204)
    assert ok.ok
    assert ok.raise_for_status() is ok
    for status in (0, 199, 300, 404, 504):
        failed = AsyncResponse("a", status, "TIMEOUT" if status == 504 else None)
        assert not failed.ok
        with pytest.raises(AsyncResponseError) as caught:
            failed.raise_for_status()
        assert caught.value.response is failed
        assert caught.value.status == status
    with pytest.raises(AsyncResponseError, match="TIMEOUT"):
        AsyncResponse("a", 504, "TIMEOUT").raise_for_status()


def test_async_response_with_bad_payload_keeps_the_service_error() -> None:
    (event,) = _events(
        {"async-responses": [{"id": "a", "status": 502, "error": "NOT_DELIVERED", "payload": "%%"}]}
    )
    assert isinstance(event, AsyncResponse)
    assert event.error is not None
    assert event.error.startswith("NOT_DELIVERED; async-responses[0]: payload is not valid base64")


def test_resource_types_split() -> None:
    assert Resource("/a", resource_type="oic.r.temp  oic.r.x").resource_types == (
        "oic.r.temp",
        "oic.r.x",
    )
    assert Resource("/a").resource_types == ()


def test_large_batch_keeps_every_item() -> None:
    items = [
        {
            "ep": f"dev-{i}",
            "path": "/3303/0/5700",
            "ct": "text/plain",
            "payload": base64.b64encode(str(i / 4).encode()).decode(),
            "max-age": 60,
        }
        for i in range(20_000)
    ]
    items[12_345]["payload"] = "@"
    events = _events({"notifications": items})
    assert len(events) == 20_000
    assert [e for e in events if e.error is not None] == [events[12_345]]
    assert events[19_999].value == 19_999 / 4  # type: ignore[attr-defined]


# -- payloads decoded on first read --------------------------------------------------------------

TLV_BAD = {"ep": EP, "path": "/3/0", "ct": "application/vnd.oma.lwm2m+tlv",
           "payload": "Q2hhbmdlIG1lIQ=="}  # "Change me!" is not TLV
TLV_ERROR = "notifications[1]: payload does not decode as application/vnd.oma.lwm2m+tlv: "


def test_value_is_decoded_once_and_kept() -> None:
    item = {"ep": EP, "path": "/x", "ct": "application/json", "payload": "eyJhIjogMX0="}
    (event,) = _events({"notifications": [item]})
    assert isinstance(event, ResourceChanged)
    assert event.payload == b'{"a": 1}'
    first = event.value
    assert first == {"a": 1}
    assert event.value is first
    assert event.error is None


@pytest.mark.parametrize("read_first", ["error", "value", "repr", "hash", "eq", "pickle", "match"])
def test_undecodable_payload_reports_whichever_field_is_read_first(read_first: str) -> None:
    ok = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "MQ=="}
    (fine, event) = _events({"notifications": [ok, TLV_BAD]})
    assert isinstance(event, ResourceChanged)
    if read_first == "error":
        assert event.error is not None
        assert event.error.startswith(TLV_ERROR)
    elif read_first == "value":
        assert event.value is None
    elif read_first == "repr":
        shown = repr(event)
        assert "value=None" in shown
        assert f"error={TLV_ERROR!r}"[:-1] in shown
    elif read_first == "hash":
        assert hash(event) != hash(fine)
    elif read_first == "eq":
        assert event != ResourceChanged(EP, "/3/0", "application/vnd.oma.lwm2m+tlv", None,
                                        b"Change me!")  # that one has no error
    elif read_first == "pickle":
        event = pickle.loads(pickle.dumps(event))
    else:
        match event:
            case ResourceChanged(value=None, error=str(problem)):
                assert problem.startswith(TLV_ERROR)
            case _:
                pytest.fail("the event did not match")
    assert event.value is None
    assert event.payload == b"Change me!"
    assert event.error is not None
    assert event.error.startswith(TLV_ERROR)
    eager = ResourceChanged(EP, "/3/0", "application/vnd.oma.lwm2m+tlv", None, b"Change me!",
                            None, event.error)
    assert event == eager
    assert hash(event) == hash(eager)
    assert fine.error is None
    assert fine.value == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("read_first", ["payload", "value", "error", "eq"])
def test_bad_base64_reports_whichever_field_is_read_first(read_first: str) -> None:
    bad = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "!!not base64!!"}
    padless = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc"}  # "57", no "="
    (event, tolerated) = _events({"notifications": [bad, padless]})
    assert isinstance(event, ResourceChanged)
    if read_first == "payload":
        assert event.payload == b""
    elif read_first == "value":
        assert event.value is None
    elif read_first == "error":
        assert event.error is not None
    else:
        assert event != ResourceChanged(EP, "/1", "text/plain", None, b"")
    assert (event.payload, event.value) == (b"", None)
    assert event.error == "notifications[0]: payload is not valid base64: '!!not base64!!'"
    assert tolerated == ResourceChanged(EP, "/1", "text/plain", None, b"57", 57)


def test_async_response_decode_error_keeps_the_service_error() -> None:
    bad_json = base64.b64encode(b"{not json").decode()
    items = [
        {"id": "a", "status": 200, "ct": "application/json", "payload": bad_json},
        {"id": "b", "status": 502, "error": "NOT_DELIVERED", "ct": "application/json",
         "payload": bad_json},
        {"id": "c", "status": 200, "ct": "text/plain", "payload": "NDI="},
    ]
    plain, with_service_error, fine = _events({"async-responses": items})
    assert isinstance(plain, AsyncResponse)
    assert isinstance(with_service_error, AsyncResponse)
    assert plain.value is None
    assert plain.payload == b"{not json"
    assert plain.error is not None
    assert plain.error.startswith("async-responses[0]: payload does not decode as application/json")
    assert with_service_error.error is not None
    assert with_service_error.error.startswith(
        "NOT_DELIVERED; async-responses[1]: payload does not decode as application/json")
    assert with_service_error.value is None
    assert fine == AsyncResponse("c", 200, None, "text/plain", None, b"42", 42)


def test_events_copy_pickle_and_replace_before_any_read() -> None:
    def fresh() -> ResourceChanged:
        (event,) = _events({"notifications": [
            {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "MTIuNQ==", "max-age": 5}]})
        assert isinstance(event, ResourceChanged)
        return event

    expected = ResourceChanged(EP, "/1", "text/plain", 5, b"12.5", 12.5)
    assert pickle.loads(pickle.dumps(fresh())) == expected
    assert copy.copy(fresh()) == expected
    assert dataclasses.replace(fresh(), path="/2") == dataclasses.replace(expected, path="/2")
    assert dataclasses.asdict(fresh())["value"] == 12.5
    event = fresh()
    assert type(event) is ResourceChanged  # the exact class, whatever built it
    for name in ("value", "error", "payload"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, name, None)
    assert event.value == 12.5


def test_first_reads_from_many_threads_agree() -> None:
    items = [dict(TLV_BAD) if i % 3 == 0 else
             {"ep": EP, "path": "/1", "ct": "text/plain", "payload": base64.b64encode(
                 str(i).encode()).decode()} for i in range(3000)]
    expected = [(e.value, e.error) for e in _events({"notifications": items})]  # type: ignore[attr-defined]
    events = _events({"notifications": items})
    seen: list[list[tuple[Any, Any]]] = []
    barrier = threading.Barrier(6)

    def read(value_first: bool) -> None:
        barrier.wait()
        pairs = []
        for event in events:
            if value_first:
                value = event.value  # type: ignore[attr-defined]
                pairs.append((value, event.error))
            else:
                error = event.error
                pairs.append((event.value, error))  # type: ignore[attr-defined]
        seen.append(pairs)

    threads = [threading.Thread(target=read, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 6
    assert all(pairs == expected for pairs in seen)



def test_json_values_are_one_object_for_every_reading_thread() -> None:
    items = [{"ep": EP, "path": "/x", "ct": "application/json",
              "payload": base64.b64encode(json.dumps({"n": i}).encode()).decode()}
             for i in range(500)]
    events = _events({"notifications": items})
    barrier = threading.Barrier(4)
    seen: list[list[Any]] = []

    def read() -> None:
        barrier.wait()
        seen.append([event.value for event in events])  # type: ignore[attr-defined]

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4
    for index, event in enumerate(events):
        assert event.value == {"n": index}  # type: ignore[attr-defined]
        # a dict can be changed, so every reader must hold the one the event keeps
        assert all(values[index] is event.value for values in seen)  # type: ignore[attr-defined]


# -- what a message and its items may be ---------------------------------------------------------


class _Batch:
    """Not a model, not a mapping: anything with a to_dict() giving the wire dict."""

    def __init__(self, wire: Any) -> None:
        self.wire = wire

    def to_dict(self) -> Any:
        return self.wire


def test_any_object_with_to_dict_is_a_message_and_any_mapping_an_item() -> None:
    wire = json.loads(json.dumps(MIXED))
    expected = _events(wire)
    assert _events(_Batch(json.loads(json.dumps(MIXED)))) == expected
    assert _events(types.MappingProxyType(json.loads(json.dumps(MIXED)))) == expected
    # items that are read-only mappings, or objects with to_dict(), as models' items are
    items: dict[str, Any] = json.loads(json.dumps(MIXED))
    items["notifications"] = [types.MappingProxyType(i) for i in items["notifications"]]
    items["registrations"] = [_Batch(i) for i in items["registrations"]]
    items["async-responses"] = [types.MappingProxyType(i) for i in items["async-responses"]]
    assert _events(items) == expected
    assert message_dict(wire) is wire  # the wire dict itself, not a copy
    with pytest.raises(TypeError, match="_Batch"):
        events_from_message(_Batch([]))  # to_dict() gave no mapping
    (odd,) = _events({"registrations": [_Batch([])]})  # an item whose to_dict() is no object
    assert odd.error is not None
    assert "not an object" in odd.error


def test_event_list_is_the_events_as_a_list() -> None:
    wire = json.loads(json.dumps(MIXED))
    assert event_list(wire) == _events(wire)
    notifications_only = {"notifications": MIXED["notifications"]}
    assert event_list(notifications_only) == _events(notifications_only)
    assert event_list({}) == []


def test_kinds_given_as_tuples_or_iterators_are_read_as_lists() -> None:
    def items() -> Iterator[str]:
        yield from ("d1", "d2")

    events = _events({"de-registrations": items(), "registrations-expired": ("e1",)})
    assert events == [DeviceDeregistered("d1"), DeviceDeregistered("d2"),
                      DeviceRegistrationExpired("e1")]


@pytest.mark.parametrize(
    ("kind", "item", "complaint"),
    [
        ("notifications", {"ep": EP, "ct": "text/plain", "payload": "MQ=="}, "no 'path'"),
        ("registrations", {"ep": EP, "resources": "/a"}, "'resources' is not a list: '/a'"),
        ("registrations", {"ep": EP, "original-ep": 5}, "'original-ep' is not a string: 5"),
        ("de-registrations", {"ep": EP, "original-ep": [1]}, "'original-ep' is not a string"),
        ("async-responses", {"id": 7, "status": 200}, "'id' is not a string: 7"),
        ("async-responses", ["a", 200], "not an object: ['a', 200]"),
        ("async-responses", {"id": "a"}, "no 'status'"),
        ("async-responses", {"id": "a", "status": 200, "max-age": "soon"}, "'max-age'"),
        ("async-responses", {"id": "a", "status": 200, "ct": 5, "payload": "MQ=="},
         "'ct' is not a string"),
    ],
)
def test_malformed_items_say_what_is_wrong(kind: str, item: Any, complaint: str) -> None:
    (event,) = _events({kind: [item]})
    assert event.error is not None
    assert event.error.startswith(f"{kind}[0]: ")
    assert complaint in event.error


def test_lenient_readings_of_odd_but_usable_items() -> None:
    (gone,) = _events({"de-registrations": [{"ep": EP, "uid": 5, "original_ep": "mine"}]})
    assert gone == DeviceDeregistered(EP, "mine", "5")  # uid as text, the Python key accepted
    (answer,) = _events({"async-responses": [
        {"id": "a", "status": " 204 ", "error": 404, "max_age": 30}]})
    assert answer == AsyncResponse("a", 204, "404", None, 30)  # numeric texts read as numbers
    (changed,) = _events({"notifications": [
        {"ep": EP, "path": "/1", "ct": None, "payload": "MQ==", "max_age": "30"}]})
    assert isinstance(changed, ResourceChanged)
    assert changed.error is None
    assert (changed.max_age, changed.value) == (30, b"1")  # no content type: the bytes


def test_async_responses_decode_their_payload_on_first_read_too() -> None:
    wire = {"id": "a", "status": 200, "ct": "application/json", "payload": "eyJhIjogMX0="}
    first, second = _events({"async-responses": [wire, dict(wire, payload="%%")]})
    assert isinstance(first, AsyncResponse)
    assert isinstance(second, AsyncResponse)
    assert first == AsyncResponse("a", 200, None, "application/json", None, b'{"a": 1}', {"a": 1})
    assert second.error == "async-responses[1]: payload is not valid base64: '%%'"
    assert (second.payload, second.value, second.ok) == (b"", None, True)


# -- every event is an immutable dataclass, however it was built ---------------------------------

_WIRE_BUILT = json.loads(json.dumps(MIXED))


@pytest.mark.parametrize("event", [*_events(_WIRE_BUILT), *event_list(_WIRE_BUILT)],
                         ids=lambda e: type(e).__name__)
def test_fields_cannot_be_assigned_or_deleted(event: Event) -> None:
    assert dataclasses.is_dataclass(event)
    names = [f.name for f in dataclasses.fields(event)]
    assert type(event).__match_args__ == tuple(names)
    before = [getattr(event, name) for name in names]
    for name in names:
        with pytest.raises(dataclasses.FrozenInstanceError, match=name):
            setattr(event, name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(event, name)
    if isinstance(event, (ResourceChanged, AsyncResponse)):
        # (the other events, frozen dataclasses with slots=True, raise TypeError here: a
        # CPython bug in the __setattr__ that dataclasses generate for them)
        with pytest.raises(AttributeError):
            event.extra = 1
    assert [getattr(event, name) for name in names] == before
    assert dataclasses.replace(event) == event
    assert list(dataclasses.asdict(event)) == names


PAYLOADS = [
    ("text/plain", "LTEyLjU="),  # -12.5
    ("text/plain", "MDA3"),  # "007"
    ("application/json", "WzEsIDJd"),  # [1, 2]
    ("application/json", "WzEs"),  # "[1," is not JSON
    ("application/vnd.oma.lwm2m+tlv", base64.b64encode(encode_tlv({1: 5})).decode()),
    ("application/octet-stream", "AAE="),
    (None, "AAE"),  # padding left out
    ("text/plain", "*"),  # not base64
]


@pytest.mark.parametrize(("ct", "payload"), PAYLOADS)
def test_an_event_read_from_the_wire_equals_one_built_decoded(ct: str | None, payload: str) -> None:
    wire = {"ep": EP, "path": "/p", "ct": ct, "payload": payload, "max-age": 9}
    (lazy,) = _events({"notifications": [wire]})
    (lazy_for_repr,) = _events({"notifications": [wire]})
    (lazy_for_hash,) = _events({"notifications": [wire]})
    (other,) = _events({"notifications": [dict(wire, path="/q")]})
    assert isinstance(lazy, ResourceChanged)
    eager = ResourceChanged(EP, "/p", ct, 9, lazy.payload, lazy.value, lazy.error)
    assert repr(lazy_for_repr) == repr(eager)
    assert hash(lazy_for_hash) == hash(eager)
    assert lazy_for_hash == lazy == eager != other
    assert pickle.loads(pickle.dumps(other)) == dataclasses.replace(eager, path="/q")


def test_events_pickled_by_the_first_release_still_load() -> None:
    # pickle.dumps(list(events_from_message(...)), protocol=4) with mds 1.0, when events were
    # slotted dataclasses: a text/plain notification and a JSON async response.
    blob = base64.b64decode(
        "gASVmwAAAAAAAABdlCiMCm1kcy5ldmVudHOUjA9SZXNvdXJjZUNoYW5nZWSUk5QpgZRdlCiMA2RldpSMAi8xlIwK"
        "dGV4dC9wbGFpbpRLBUMCNTeUSzlOZWJoAYwNQXN5bmNSZXNwb25zZZSTlCmBlF2UKIwBYZRLyE6MEGFwcGxpY2F0"
        "aW9uL2pzb26UTkMIeyJhIjogMX2UfZSMAWGUSwFzZWJlLg=="
    )
    assert pickle.loads(blob) == [
        ResourceChanged("dev", "/1", "text/plain", 5, b"57", 57),
        AsyncResponse("a", 200, None, "application/json", None, b'{"a": 1}', {"a": 1}),
    ]


# --------------------------------------------------------------------------------------------
# original_id, uid and timestamp: what the 2020 serialization cfg flags add to every item
# --------------------------------------------------------------------------------------------

STAMP = "2020-10-26T12:00:00.123Z"
CFG = {"original-ep": "my-device", "uid": "5e2f", "timestamp": STAMP}


def _cfg(event: Any) -> tuple[Any, Any, Any]:
    """``(original_id, uid, timestamp)``, which every kind of event has."""
    return event.original_id, event.uid, event.timestamp


def test_every_kind_reads_the_cfg_keys_when_sent() -> None:
    notification = {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc=", "max-age": 0}
    answer = {"id": ASYNC_ID, "status": 200, "ct": "text/plain", "payload": "NTc="}
    registration = {"ep": EP2, "ept": "Light", "q": False}
    message = {
        "notifications": [notification, {**notification, **CFG}],
        "registrations": [registration, {**registration, **CFG}],
        "reg-updates": [registration, {**registration, **CFG}],
        "de-registrations": [{"ep": EP}, {"ep": EP, **CFG}],
        "registrations-expired": [{"ep": EP}, {"ep": EP, **CFG}],
        "async-responses": [answer, {**answer, **CFG}],
    }
    events = _events(message)
    assert len(events) == 12
    for plain, decorated in zip(events[::2], events[1::2], strict=True):
        assert type(plain) is type(decorated)
        assert _cfg(plain) == (None, None, None)
        assert _cfg(decorated) == ("my-device", "5e2f", STAMP)
        assert plain.error is None
        assert decorated.error is None
        assert plain != decorated
        assert dataclasses.replace(plain, original_id="my-device", uid="5e2f",  # type: ignore[type-var]
                                   timestamp=STAMP) == decorated
    assert events[1] == ResourceChanged(EP, "/1", "text/plain", 0, b"57", 57, None,
                                        "my-device", "5e2f", STAMP)
    assert events[3] == DeviceRegistered(EP2, "Light", "my-device", uid="5e2f", timestamp=STAMP)
    assert events[11] == AsyncResponse(ASYNC_ID, 200, None, "text/plain", None, b"57", 57,
                                       original_id="my-device", uid="5e2f", timestamp=STAMP)


@pytest.mark.parametrize(
    "item",
    [
        # without max-age: the cfg keys make up the standard five
        {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc=", "uid": 17},
        {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc=", "max-age": None, "uid": 17},
        {"ep": EP, "path": "/1", "payload": "NTc=", "original_ep": "my-device", "uid": 17},
        # what a listener's channel sends: the five, uid and timestamp
        {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc=", "max-age": 0, "uid": 17,
         "timestamp": STAMP},
    ],
)
def test_cfg_keys_of_notifications_however_the_item_is_laid_out(item: dict[str, Any]) -> None:
    (event,) = _events({"notifications": [item]})
    assert isinstance(event, ResourceChanged)
    assert event.error is None
    assert event.uid == "17"  # a number is kept as its str(), as for de-registrations
    assert event.original_id == item.get("original_ep")
    assert event.timestamp == item.get("timestamp")
    assert event.value == (57 if "ct" in item else b"57")


def test_an_original_ep_that_is_not_a_string_is_reported() -> None:
    bad = {"original-ep": 5, "uid": "u"}
    events = _events({
        "notifications": [{"ep": EP, "path": "/1", "ct": None, "payload": "", "max-age": 1, **bad}],
        "registrations": [{"ep": EP, **bad}],
        "async-responses": [{"id": "a", "status": 200, "payload": "NTc=", **bad}],
    })
    for event in events:
        assert event.error is not None
        assert "'original-ep' is not a string: 5" in event.error
        assert _cfg(event)[:2] == (None, "u")


def test_cfg_keys_take_part_in_equality_and_only_uid_and_original_id_in_the_hash() -> None:
    plain = ResourceChanged(EP, "/1", "text/plain", None, b"1", 1)
    assert plain == ResourceChanged(EP, "/1", "text/plain", None, b"1", 1, None, None, None)
    assert plain.__match_args__[:7] == (
        "device_id", "path", "content_type", "max_age", "payload", "value", "error")
    assert [f.name for f in dataclasses.fields(plain)][7:] == ["original_id", "uid", "timestamp"]
    stamped = dataclasses.replace(plain, timestamp=[2020, 10, 26])
    assert stamped != plain
    assert hash(stamped) == hash(plain)  # a timestamp of any type keeps the event hashable
    assert dataclasses.replace(plain, uid="u") != plain
    assert len({plain, dataclasses.replace(plain, uid="u"), stamped}) == 3
    for event in (DeviceRegistered(EP, timestamp={"at": 1}), DeviceDeregistered(EP, timestamp=[1]),
                  AsyncResponse("a", 200, timestamp={"at": 1})):
        assert hash(event) == hash(dataclasses.replace(event, timestamp=None))


def test_cfg_keys_survive_pickling_copying_and_repr() -> None:
    (lazy,) = _events({"notifications": [
        {"ep": EP, "path": "/1", "ct": "text/plain", "payload": "NTc=", "max-age": 0, **CFG}]})
    built = [
        lazy,
        ResourceChanged(EP, "/1", "text/plain", 0, b"57", 57, None, "my-device", "5e2f", STAMP),
        AsyncResponse("a", 200, original_id="my-device", uid="5e2f", timestamp=STAMP),
        DeviceRegistered(EP, original_id="my-device", uid="5e2f", timestamp=STAMP),
        DeviceRegistrationUpdated(EP, original_id="my-device", uid="5e2f", timestamp=STAMP),
    ]
    for event in built:
        for copied in (pickle.loads(pickle.dumps(event)), copy.copy(event), copy.deepcopy(event)):
            assert copied == event
            assert _cfg(copied) == ("my-device", "5e2f", STAMP)
        assert "original_id='my-device'" in repr(event)
        assert repr(event).endswith(f"uid='5e2f', timestamp='{STAMP}')")
    assert lazy == built[1]


class _OldPickle:
    """Pickles as an event of *cls* from an earlier release: ``cls.__new__`` then
    ``__setstate__`` with the field values of that release, in order."""

    def __init__(self, cls: type, state: list[Any]) -> None:
        self.cls, self.state = cls, state

    def __reduce__(self) -> tuple[Any, ...]:
        return (object.__new__, (self.cls,), self.state)


def test_registrations_pickled_before_uid_and_timestamp_still_load() -> None:
    resources = (Resource("/1", "text/plain", True),)
    for cls in (DeviceRegistered, DeviceRegistrationUpdated):
        old = [EP, "Light", "my-device", True, resources, None]
        loaded = pickle.loads(pickle.dumps(_OldPickle(cls, old)))
        assert type(loaded) is cls
        assert loaded == cls(EP, "Light", "my-device", True, resources)
        assert (loaded.uid, loaded.timestamp) == (None, None)
        assert hash(loaded) == hash(cls(EP, "Light", "my-device", True, resources))
    old_notification = pickle.loads(pickle.dumps(
        _OldPickle(ResourceChanged, [EP, "/1", "text/plain", 5, b"57", 57, None])))
    assert old_notification == ResourceChanged(EP, "/1", "text/plain", 5, b"57", 57)
    assert old_notification.uid is None


def test_cfg_flags_of_a_websocket_channel_reach_the_events(mds_emulator: Emulator) -> None:
    configuration = mds.Configuration(host=mds_emulator.url, api_key=mds_emulator.api_key)
    with mds.ApiClient(configuration) as api_client:
        flags = {"include_uid": True, "include_timestamp": True, "include_original_ep": True}
        mds.NotificationsApi(api_client).register_websocket(
            serialization={"type": "v2", "max_chunk_size": 100, "cfg": flags})
        with mds.NotificationListener(api_client, register=False) as listener:
            mds_emulator.register_device("lamp-7", original_ep="my-lamp", resources={"/3311/0/5850": 1})
            mds_emulator.notify("lamp-7", "/3311/0/5850", "on")
            mds_emulator.queue_message(
                {"async-responses": [{"id": "r1", "status": 200, "ct": "text/plain", "payload": "MQ=="}]})
            events = []
            for event in listener:
                events.append(event)
                if len(events) == 3:
                    break
    registered, changed, answer = events
    assert isinstance(registered, DeviceRegistered)
    assert isinstance(changed, ResourceChanged)
    assert isinstance(answer, AsyncResponse)
    assert (registered.original_id, changed.original_id) == ("my-lamp", "my-lamp")
    assert answer.original_id is None  # an answer has no "ep" to name
    assert changed.value == "on"
    assert answer.value == 1
    uids = [_cfg(event)[1] for event in events]
    assert all(isinstance(uid, str) for uid in uids)
    assert len(set(uids)) == 3  # one per item
    for event in events:
        timestamp = _cfg(event)[2]
        assert isinstance(timestamp, str)
        assert timestamp.endswith("Z")
        assert event.error is None
