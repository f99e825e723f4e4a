"""The device-data models of the 2020 spec: wire examples round-trip, strings the service sends
read as numbers and booleans, nested models write back their current value, and the checks made
before sending."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

import mds
from mds.models.device_request import check_device_request
from mds.models.serialization_config_data import check_serialization

# The spec's examples, as the service sends them (strings where it sends strings).
WIRE: list[tuple[type[mds.models._base.Model], dict[str, Any]]] = [
    (mds.AsyncID, {"async-response-id": "9e3c96b8-c4d7-496a-ab90-cc732b9b560e"}),
    (mds.ChannelMetadata, {"delivery_mechanism": "CALLBACK"}),
    (mds.DeviceRequest, {"method": "PUT", "uri": "/5/0/1?k1=v1&k2=v2", "accept": "text/plain",
                         "content-type": "text/plain", "payload-b64": "dmFsdWUxCg=="}),
    (mds.Presubscription, {"endpoint-name": "node-001", "resource-path": ["/dev"]}),
    (mds.Presubscription, {"endpoint-type": "Light", "resource-path": ["/sen/*"]}),
    (mds.RegisterWebsocketChannel, {"serialization": {
        "type": "v2", "max_chunk_size": "100", "cfg": {
            "deregistrations_as_object": "true", "include_uid": "true",
            "include_timestamp": "true", "include_original_ep": "true"}}}),
    (mds.EndpointResource, {"obs": True, "rt": "light_sensor", "type": "text/plain",
                            "uri": "/sen/light"}),
    (mds.SerializationConfigData, {"type": "v2", "max_chunk_size": 500}),
    (mds.SerializationConfigObjectV2, {"deregistrations_as_object": False, "include_uid": True}),
    (mds.Webhook, {"url": "https://www.example.com/my-webhook",
                   "headers": {"authorization": "f4b93d6e"},
                   "serialization": {"type": "v2", "max_chunk_size": "100",
                                     "cfg": {"include_uid": "true"}}}),
    (mds.WebsocketChannel, {"queue_size": 0, "status": "disconnected",
                            "serialization": {"type": "v2", "cfg": {"include_timestamp": False}}}),
]


@pytest.mark.parametrize(("model", "wire"), WIRE)
def test_wire_examples_round_trip(model: type[mds.models._base.Model], wire: dict[str, Any]) -> None:
    read = model.from_wire(json.loads(json.dumps(wire)))
    assert read.to_dict() == wire  # a value goes back in the spelling it came in
    assert model.from_dict(read.to_dict()) == read
    assert model.from_dict(wire) == read
    assert pickle.loads(pickle.dumps(read)) == read
    assert copy.deepcopy(read) == read
    assert type(read).__name__ in repr(read)
    assert json.loads(json.dumps(read.to_dict())) == wire


def test_strings_the_service_sends_read_as_numbers_and_booleans() -> None:
    config = mds.RegisterWebsocketChannel.from_wire(WIRE[5][1]).serialization
    assert isinstance(config, mds.SerializationConfigData)
    assert config.max_chunk_size == 100
    assert isinstance(config.cfg, mds.SerializationConfigObjectV2)
    assert (config.cfg.deregistrations_as_object, config.cfg.include_uid,
            config.cfg.include_timestamp, config.cfg.include_original_ep) == (True,) * 4
    assert mds.SerializationConfigObjectV2.from_dict({"include_uid": " FALSE "}).include_uid is False
    assert mds.EndpointResource.from_dict({"uri": "/1", "obs": "true"}).obs is True
    # Anything else is kept as sent, for the caller to judge (and the checks to refuse).
    odd_flag: Any = mds.SerializationConfigObjectV2.from_dict({"include_uid": "yes"}).include_uid
    odd_size: Any = mds.SerializationConfigData.from_dict({"max_chunk_size": "lots"}).max_chunk_size
    odd_obs: Any = mds.EndpointResource.from_dict({"uri": "/1", "obs": 1}).obs
    assert (odd_flag, odd_size, odd_obs) == ("yes", "lots", 1)


def test_a_nested_model_writes_back_its_current_value() -> None:
    hook = mds.Webhook.from_wire(copy.deepcopy(WIRE[9][1]))
    assert hook.serialization is not None
    assert hook.serialization.cfg is not None
    hook.serialization.max_chunk_size = 500
    hook.serialization.cfg.include_uid = False
    hook.serialization.cfg.include_timestamp = True
    assert hook.to_dict()["serialization"] == {
        "type": "v2", "max_chunk_size": 500,
        "cfg": {"include_uid": False, "include_timestamp": True}}
    hook.serialization = {"type": "v2"}  # type: ignore[assignment]  # a dict reads as the model
    assert isinstance(hook.serialization, mds.SerializationConfigData)
    assert hook.to_dict()["serialization"] == {"type": "v2"}
    hook.serialization = None
    assert "serialization" not in hook.to_dict()


def test_constructors_take_models_or_dicts() -> None:
    as_dict = mds.Webhook("https://h.example/x", serialization={"type": "v2", "max_chunk_size": 200,
                                                                 "cfg": {"include_uid": True}})
    as_model = mds.Webhook("https://h.example/x", serialization=mds.SerializationConfigData(
        max_chunk_size=200, cfg=mds.SerializationConfigObjectV2(include_uid=True)))
    assert as_dict == as_model
    assert as_dict.to_dict() == as_model.to_dict() == {
        "url": "https://h.example/x",
        "serialization": {"type": "v2", "max_chunk_size": 200, "cfg": {"include_uid": True}}}
    assert mds.SerializationConfigData().to_dict() == {"type": "v2"}  # the spec's default
    assert mds.RegisterWebsocketChannel({"type": "v2"}).serialization == mds.SerializationConfigData()
    assert mds.WebsocketChannel(serialization={"type": "v2"}).serialization == (
        mds.SerializationConfigData())
    assert mds.Presubscription().to_dict() == {}
    assert mds.Presubscription().resource_path == []


def test_unknown_keys_and_enum_values_are_kept() -> None:
    metadata = mds.ChannelMetadata.from_dict({"delivery_mechanism": "PIGEON", "since": 3})
    assert metadata.delivery_mechanism == "PIGEON"
    assert metadata.to_dict() == {"delivery_mechanism": "PIGEON", "since": 3}
    config = mds.SerializationConfigData.from_dict({"type": "v3", "cfg": {"include_everything": True}})
    assert config.type == "v3"
    assert config.to_dict() == {"type": "v3", "cfg": {"include_everything": True}}


def test_generated_metadata() -> None:
    assert mds.DeviceRequest.attribute_map == {
        "method": "method", "uri": "uri", "accept": "accept", "content_type": "content-type",
        "payload_b64": "payload-b64"}
    assert mds.Presubscription.swagger_types["resource_path"] == "list[str]"
    assert mds.Webhook.swagger_types["serialization"] == "SerializationConfigData"
    assert mds.SerializationConfigData.swagger_types["cfg"] == "SerializationConfigObjectV2"
    assert mds.AsyncID.attribute_map == {"async_response_id": "async-response-id"}


def test_webhook_repr_still_hides_secrets_with_a_serialization() -> None:
    hook = mds.Webhook.from_dict(WIRE[9][1])
    assert "f4b93d6e" not in repr(hook)
    assert "f4b93d6e" not in hook.to_str()
    assert "max_chunk_size=100" in repr(hook)


@pytest.mark.parametrize(("config", "expected"), [
    (None, None),
    ({"type": "v2"}, mds.SerializationConfigData()),
    ({"type": "v2", "max_chunk_size": 100}, mds.SerializationConfigData(max_chunk_size=100)),
    ({"type": "v2", "max_chunk_size": "10000"}, mds.SerializationConfigData(max_chunk_size=10000)),
    ({"type": "v2", "cfg": {"include_uid": "true"}},
     mds.SerializationConfigData(cfg=mds.SerializationConfigObjectV2(include_uid=True))),
])
def test_check_serialization_accepts(config: Any, expected: Any) -> None:
    assert check_serialization(config) == expected


def test_check_device_request_accepts_every_method() -> None:
    for method in ("GET", "PUT", "POST", "DELETE"):
        request = check_device_request(mds.DeviceRequest(method, "/3303/0/5700?pmax=120"))
        assert request.method == method
        assert request.uri == "/3303/0/5700?pmax=120"
    given = {"method": "POST", "uri": "/123", "content_type": "application/vnd.oma.lwm2m+tlv",
             "payload_b64": "BwHFAnZhbHVl"}
    assert check_device_request(given).to_dict() == {  # attribute names work in a dict too
        "method": "POST", "uri": "/123", "content-type": "application/vnd.oma.lwm2m+tlv",
        "payload-b64": "BwHFAnZhbHVl"}
