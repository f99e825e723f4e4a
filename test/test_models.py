"""Models: the SERVICE.md wire examples round-trip; attributes, repr, equality, tolerance."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mds
from mds.exceptions import ModelError

WIRE_EXAMPLES = [
    '{"notifications":[{"ep":"0172b9ba5409000000000001001117f5","path":"/3200/0/5501","ct":"text/plain","payload":"NTc=","max-age":0}]}',
    '{"async-responses":[{"id":"123e4567-e89b-12d3-a456-426655440000","status":200,"payload":"dmFsdWUxCg==","ct":"text/plain","max-age":600}]}',
    '{"async-responses":[{"id":"123e4567-e89b-12d3-a456-426655440000","status":504,"error":"TIMEOUT"}]}',
    '{"registrations":[{"ep":"015f3850a657000000000001001002ab","ept":"Light","original-ep":"my-device-123","q":false,"resources":[{"path":"/sen/light","ct":"text/plain","obs":true,"rt":"light_sensor","if":"sensor"}]}]}',
    '{"de-registrations":["015f3850a657000000000001001002ab"],"registrations-expired":["015f3850a657000000000001001002ab"]}',
]


@pytest.mark.parametrize("wire", WIRE_EXAMPLES)
def test_wire_examples_round_trip(wire: str) -> None:
    doc = json.loads(wire)
    message = mds.NotificationMessage.from_dict(doc)
    assert message.to_dict() == doc
    assert mds.NotificationMessage.from_dict(message.to_dict()) == message
    assert message
    assert eval(  # noqa: S307 - repr is valid Python for plain values
        repr(message), {k: getattr(mds, k) for k in mds.models.__all__}
    ) == message


def test_attributes_read_the_wire_names() -> None:
    message = mds.NotificationMessage.from_dict(json.loads(WIRE_EXAMPLES[3]))
    device = message.registrations[0]
    assert isinstance(device, mds.EndpointData)
    assert (device.ep, device.ept, device.original_ep, device.q) == (
        "015f3850a657000000000001001002ab", "Light", "my-device-123", False)
    resource = device.resources[0]
    assert isinstance(resource, mds.ResourcesData)
    assert (resource.path, resource.ct, resource.obs, resource.rt, resource._if) == (
        "/sen/light", "text/plain", True, "light_sensor", "sensor")
    response = mds.NotificationMessage.from_dict(json.loads(WIRE_EXAMPLES[1])).async_responses[0]
    assert isinstance(response, mds.AsyncIDResponse)
    assert (response.status, response.max_age, response.payload_bytes) == (200, 600, b"value1\n")
    assert response.decode() == "value1\n"


def test_generated_metadata() -> None:
    assert mds.NotificationData.attribute_map == {
        "ep": "ep", "path": "path", "ct": "ct", "payload": "payload", "max_age": "max-age"}
    assert mds.NotificationMessage.swagger_types["reg_updates"] == "list[EndpointData]"
    assert mds.ResourcesData.attribute_map["_if"] == "if"
    assert mds.Webhook.swagger_types["headers"] == "dict(str, str)"


def test_constructors_use_python_names_and_serialise_to_wire_keys() -> None:
    data = mds.NotificationData(ep="e", path="/1/0/2", ct="text/plain", payload="MQ==", max_age=5)
    assert data.to_dict() == {"ep": "e", "path": "/1/0/2", "ct": "text/plain", "payload": "MQ==",
                              "max-age": 5}
    message = mds.NotificationMessage(notifications=[data], reg_updates=[mds.EndpointData(ep="x")])
    assert message.to_dict() == {"notifications": [data.to_dict()], "reg-updates": [{"ep": "x"}]}
    assert len(message) == 2
    assert "NotificationData(ep='e'" in message.to_str().replace('"', "'") or "'ep': 'e'" in message.to_str()
    data.max_age = None
    assert "max-age" not in data.to_dict()


def test_empty_message_is_falsy_and_lists_are_never_none() -> None:
    message = mds.NotificationMessage()
    assert not message and len(message) == 0
    for name in ("notifications", "registrations", "reg_updates", "de_registrations",
                 "registrations_expired", "async_responses"):
        assert getattr(message, name) == []
    message.notifications.append(mds.NotificationData(ep="a"))
    assert message and message.to_dict() == {"notifications": [{"ep": "a"}]}


@pytest.mark.parametrize(("wire", "expected"), [({"max-age": 60}, 60), ({"max-age": "60"}, 60),
                                                ({"max-age": "1.0"}, 1), ({}, None)])
def test_max_age_number_or_string(wire: dict[str, Any], expected: int | None) -> None:
    assert mds.NotificationData.from_dict(wire).max_age == expected


@pytest.mark.parametrize(
    ("wire", "channel"),
    [
        ({"channelId": "c1", "queueSize": 4, "status": "connected"},
         mds.WebsocketChannel("c1", 4, "connected")),
        ({"queue_size": -1, "status": "unknown"}, mds.WebsocketChannel(None, -1, "unknown")),
        ({"queueSize": "7", "status": "hibernating"},
         mds.WebsocketChannel(None, "7", "hibernating")),
    ],
)
def test_websocket_channel_both_service_versions(wire: dict[str, Any],
                                                 channel: mds.WebsocketChannel) -> None:
    parsed = mds.WebsocketChannel.from_dict(wire)
    assert (parsed.channel_id, parsed.queue_size, parsed.status) == (
        channel.channel_id, int(channel.queue_size), channel.status)
    assert parsed.to_dict() == wire, "the service's own spelling survives a round trip"


def test_unknown_keys_survive_and_wrong_shapes_are_typed_errors() -> None:
    message = mds.NotificationMessage.from_dict({"new-kind": [1], "notifications": []})
    assert message.to_dict() == {"new-kind": [1]}
    with pytest.raises(ModelError):
        mds.NotificationMessage.from_dict({"notifications": {"ep": "x"}})
    with pytest.raises(mds.ApiTypeError):
        mds.NotificationMessage.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]


def test_bad_base64_is_a_payload_error() -> None:
    with pytest.raises(mds.PayloadDecodeError):
        _ = mds.NotificationData(payload="not base64!").payload_bytes
    assert mds.NotificationData().payload_bytes == b""


def test_webhook_repr_hides_header_values() -> None:
    hook = mds.Webhook("https://h.example/x", {"authorization": "topsecret"})
    assert "topsecret" not in repr(hook) + hook.to_str()
    assert hook.to_dict()["headers"]["authorization"] == "topsecret"


def test_models_are_unhashable_and_compare_by_value() -> None:
    assert mds.Webhook("u") == mds.Webhook("u")
    assert mds.Webhook("u") != mds.Webhook("v")
    assert mds.Webhook("u") != mds.WebsocketChannel()
    with pytest.raises(TypeError):
        hash(mds.Webhook("u"))


# -- property-based: any wire message survives from_dict -> to_dict --------------------------
text = st.text(max_size=20)
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


notification = st.builds(
    lambda ep, path, ct, payload, age: drop_none(
        {"ep": ep, "path": path, "ct": ct, "payload": payload, "max-age": age}),
    maybe(text), maybe(text), maybe(text), maybe(st.binary(max_size=16).map(
        lambda b: __import__("base64").b64encode(b).decode())),
    maybe(st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 999).map(str))),
)
resource = st.builds(
    lambda p, ct, obs, rt, i: drop_none({"path": p, "ct": ct, "obs": obs, "rt": rt, "if": i}),
    maybe(text), maybe(text), maybe(st.booleans()), maybe(text), maybe(text))
endpoint = st.builds(
    lambda ep, ept, oep, q, res: drop_none(
        {"ep": ep, "ept": ept, "original-ep": oep, "q": q, "resources": res or None}),
    maybe(text), maybe(text), maybe(text), maybe(st.booleans()),
    st.lists(resource, max_size=3))
async_response = st.builds(
    lambda i, s, e: drop_none({"id": i, "status": s, "error": e}),
    maybe(text), maybe(st.integers(100, 599)), maybe(text))
deregistration = st.one_of(text, st.fixed_dictionaries({"ep": text, "uid": text}))
message = st.builds(
    lambda n, r, u, d, x, a: {k: v for k, v in {
        "notifications": n, "registrations": r, "reg-updates": u, "de-registrations": d,
        "registrations-expired": x, "async-responses": a}.items() if v},
    st.lists(notification, max_size=4), st.lists(endpoint, max_size=3),
    st.lists(endpoint, max_size=2), st.lists(deregistration, max_size=3),
    st.lists(text, max_size=3), st.lists(async_response, max_size=3))


@given(message)
def test_any_wire_message_round_trips(doc: dict[str, Any]) -> None:
    model = mds.NotificationMessage.from_dict(doc)
    assert model.to_dict() == doc
    assert bool(model) == bool(doc)
    assert mds.NotificationMessage.from_dict(json.loads(json.dumps(model.to_dict()))) == model
