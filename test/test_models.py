"""Models: the SERVICE.md wire examples round-trip; attributes, repr, equality, tolerance."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mds
from mds.exceptions import ModelError
from mds.models.notification_message import parse_message

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
    assert eval(  # repr is valid Python for plain values
        repr(message), {k: getattr(mds.models, k) for k in mds.models.__all__}
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
    assert not message
    assert len(message) == 0
    for name in ("notifications", "registrations", "reg_updates", "de_registrations",
                 "registrations_expired", "async_responses"):
        assert getattr(message, name) == []
    message.notifications.append(mds.NotificationData(ep="a"))
    assert message
    assert message.to_dict() == {"notifications": [{"ep": "a"}]}


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
        channel.channel_id, channel.queue_size, channel.status)
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


def test_setters_read_back_as_the_wire_would_and_keep_the_spelling_given() -> None:
    data = mds.NotificationData.from_dict({"ep": "e", "max-age": "60"})
    assert data.max_age == 60
    assert data.to_dict()["max-age"] == "60"
    data.max_age = "30"  # type: ignore[assignment]
    assert data.max_age == 30
    assert data.to_dict() == {"ep": "e", "max-age": "30"}
    data.max_age = 5
    assert data.to_dict() == {"ep": "e", "max-age": 5}
    data.ep = "other"
    assert data.to_dict()["ep"] == "other"
    channel = mds.WebsocketChannel.from_dict({"queue_size": "2"})
    assert channel.queue_size == 2
    assert channel.to_dict() == {"queue_size": "2"}
    channel.queue_size = 7
    assert channel.to_dict() == {"queueSize": 7}, "a new value goes out under the main key"
    message = mds.NotificationMessage.from_dict({"registrations-expired": ["d"]})
    message.registrations_expired = None  # type: ignore[assignment]
    assert message.registrations_expired == []
    assert not message


@pytest.mark.parametrize("wire", [{"queueSize": 3, "queue_size": 5}, {"queue_size": 5, "queueSize": 3}])
def test_when_both_spellings_come_the_main_key_wins(wire: dict[str, Any]) -> None:
    channel = mds.WebsocketChannel.from_dict(wire)
    assert channel.queue_size == 3
    assert channel.to_dict() == {"queueSize": 3}


def test_lists_keep_what_they_hold() -> None:
    message = mds.NotificationMessage.from_dict({"de-registrations": ["d1", None, {"ep": "d2"}]})
    assert message.to_dict() == {"de-registrations": ["d1", None, {"ep": "d2"}]}
    assert mds.WebsocketChannel(serialization={"at": None}).to_dict() == {"serialization": {}}


def test_equality_is_by_meaning_not_by_spelling() -> None:
    assert mds.NotificationData(max_age="60") == mds.NotificationData(max_age=60)
    assert mds.WebsocketChannel.from_dict({"queueSize": 3}) == mds.WebsocketChannel.from_dict(
        {"queue_size": "3"})
    assert mds.NotificationData.from_dict({"ep": "e", "new": 1}) != mds.NotificationData(ep="e")
    assert mds.NotificationMessage(notifications=[mds.NotificationData(ep="e")]) == \
        mds.NotificationMessage.from_dict({"notifications": [{"ep": "e"}]})


def test_iteration_gives_every_attribute_by_python_name() -> None:
    resource = mds.ResourcesData(path="/1/0/1", _if="sensor")
    assert dict(resource) == {"path": "/1/0/1", "ct": None, "obs": None, "rt": None,
                              "_if": "sensor"}
    assert dict(mds.EndpointData(ep="d"))["resources"] == []


def test_repr_shows_unknown_keys_and_hides_secrets() -> None:
    data = mds.NotificationData.from_dict({"ep": "e", "max-age": "1", "new-field": True})
    assert repr(data) == "NotificationData(ep='e', max_age=1, 'new-field': True)"
    hook = mds.Webhook.from_dict({"url": "u", "headers": {"authorization": "s3"}, "x": None})
    assert repr(hook) == "Webhook(url='u', headers={'authorization': '[secure]'})"
    assert "s3" not in hook.to_str()


@pytest.mark.parametrize("wire", WIRE_EXAMPLES)
def test_models_pickle_and_copy(wire: str) -> None:
    message = mds.NotificationMessage.from_dict(json.loads(wire))
    for clone in (pickle.loads(pickle.dumps(message)), copy.deepcopy(message)):
        assert clone == message
        assert clone is not message
        assert clone.to_dict() == message.to_dict()
    data = mds.NotificationData(max_age="7")
    assert pickle.loads(pickle.dumps(data)).to_dict() == {"max-age": "7"}


def test_from_dict_copies_and_from_wire_adopts() -> None:
    doc: dict[str, Any] = {"notifications": [{"ep": "e", "max_age": 1}], "max_age": 5}
    copied = mds.NotificationMessage.from_dict(doc)
    doc["notifications"][0]["ep"] = "changed"
    assert copied.notifications[0].ep == "e"
    assert copied.to_dict() == {"notifications": [{"ep": "e", "max_age": 1}], "max_age": 5}
    assert mds.NotificationData.from_dict({"max_age": 1}).to_dict() == {"max-age": 1}, (
        "python names are accepted at the top level")
    wire = json.loads(WIRE_EXAMPLES[0])
    adopted = mds.NotificationMessage.from_wire(wire)
    assert adopted == mds.NotificationMessage.from_dict(json.loads(WIRE_EXAMPLES[0]))
    with pytest.raises(ModelError, match="expected a JSON object, got list"):
        mds.NotificationMessage.from_wire([])  # type: ignore[arg-type]


def test_items_that_are_not_objects_are_kept_for_the_event_layer() -> None:
    message = mds.NotificationMessage.from_dict(
        {"notifications": ["junk", {"ep": "e"}], "registrations": [7]})
    assert message.notifications[0] == "junk"
    assert message.notifications[1].ep == "e"
    assert message.registrations == [7]
    assert len(message) == 3


@pytest.mark.parametrize(("wire", "where"), [
    ({"registrations": [{"ep": "d", "resources": {"path": "/1"}}]}, "EndpointData.resources"),
    ({"de-registrations": "d"}, "NotificationMessage.de_registrations"),
    ({"async-responses": {"id": "x"}}, "NotificationMessage.async_responses"),
])
def test_wrong_typed_nested_values_are_model_errors(wire: dict[str, Any], where: str) -> None:
    with pytest.raises(ModelError, match=f"{where}: expected a JSON array"):
        mds.NotificationMessage.from_dict(wire)
    with pytest.raises(ModelError, match="not a NotificationMessage"):
        parse_message(json.dumps(wire))


@pytest.mark.parametrize(("raw", "message"), [
    (b"{", "not valid JSON"),
    (b"\xff", "not valid JSON"),
    ("[1]", "expected a JSON object (a NotificationMessage), got list"),
])
def test_parse_message_says_what_is_wrong(raw: str | bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_message(raw)
    assert parse_message(b'{"notifications": ["x"], "new": 1}') == {
        "notifications": ["x"], "new": 1}
    registrations = {"registrations": [{"ep": "d", "resources": [{"path": "/1"}]}, "junk"]}
    assert parse_message(json.dumps(registrations)) == registrations


def test_a_new_enum_value_is_accepted() -> None:
    channel = mds.WebsocketChannel.from_dict({"status": "hibernating", "queueSize": "unknown"})
    assert channel.status == "hibernating"
    odd: object = channel.queue_size
    assert odd == "unknown", "an odd value is kept as sent, for the caller to judge"


def test_subclasses_are_models_of_their_own_and_never_replace_the_sdk_ones() -> None:
    class NotificationData(mds.NotificationData):
        def label(self) -> str:
            return f"{self.ep}{self.path}"

    mine = NotificationData.from_dict({"ep": "e", "path": "/1"})
    assert type(mine) is NotificationData
    assert mine.label() == "e/1"
    mine.note = "subclasses without __slots__ keep a __dict__"  # type: ignore[attr-defined]
    message = mds.NotificationMessage.from_dict({"notifications": [{"ep": "e"}]})
    assert type(message.notifications[0]) is mds.NotificationData


def test_check_webhook_lives_with_the_webhook_and_is_importable_as_before() -> None:
    from mds.api import notifications_api
    from mds.models.webhook import WEBHOOK_MAX_LENGTH, check_webhook

    assert notifications_api.check_webhook is check_webhook
    assert notifications_api.WEBHOOK_MAX_LENGTH == WEBHOOK_MAX_LENGTH == 400
    assert check_webhook({"url": "https://h.example/x"}) == mds.Webhook("https://h.example/x")
    with pytest.raises(mds.ApiTypeError):
        check_webhook("https://h.example/x")
    with pytest.raises(mds.ApiTypeError):
        check_webhook(mds.Webhook(url=5))  # type: ignore[arg-type]
    with pytest.raises(mds.ApiTypeError):
        check_webhook(mds.Webhook("https://h", headers=["a"]))  # type: ignore[arg-type]
    with pytest.raises(mds.ApiTypeError):
        check_webhook(mds.Webhook("https://h", headers={"a": 1}))  # type: ignore[dict-item]


@pytest.mark.parametrize(("sent", "read"), [
    (" 7 ", 7), ("-3", -3), ("2.0", 2), (2.0, 2), ("1.5", "1.5"), (2.5, 2.5), ("soon", "soon"),
    (True, True),
])
def test_whole_numbers_read_as_int_and_anything_else_as_sent(sent: Any, read: Any) -> None:
    data = mds.NotificationData.from_dict({"max-age": sent})
    assert data.max_age == read
    assert type(data.max_age) is type(read)
    assert data.to_dict() == {"max-age": sent}


def test_nested_values_serialise_to_plain_json() -> None:
    message = mds.NotificationMessage.from_dict(
        {"notifications": [mds.NotificationData(ep="e", max_age="1")],
         "extra": {"kept": 1, "dropped": None, "empty": []}})
    assert message.to_dict() == {"notifications": [{"ep": "e", "max-age": "1"}],
                                 "extra": {"kept": 1}}
    hook = mds.Webhook("u", headers="a bare secret")  # type: ignore[arg-type]
    assert "a bare secret" not in repr(hook) + hook.to_str()
    assert mds.Webhook("u").to_str() == "{'url': 'u'}"


# -- property-based: any wire message survives from_dict -> to_dict --------------------------
text = st.text(max_size=20)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


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
