"""DeviceRequestsApi over a real socket: the exact request, every status the service documents,
the checks made before sending, and the emulator answering through the channel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import mds
from conftest import API_KEY
from mds.emulator import Emulator
from servers import ScriptedServer

PATH = "/v2/device-requests/015f3850a657000000000001001002ab"
DEVICE = "015f3850a657000000000001001002ab"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"object": "error", "code": status, "type": "x", "message": message,
            "request_id": "0" * 32}


@pytest.fixture
def requests_api(server: ScriptedServer) -> Iterator[mds.DeviceRequestsApi]:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, retries=False)
    with mds.ApiClient(cfg) as client:
        yield mds.DeviceRequestsApi(client)


def test_create_async_request_sends_the_request(server: ScriptedServer,
                                                requests_api: mds.DeviceRequestsApi) -> None:
    server.reply("POST", PATH, 202)
    body = mds.DeviceRequest("PUT", "/5/0/1", accept="text/plain", content_type="text/plain",
                             payload_b64="dmFsdWUxCg==")
    assert requests_api.create_async_request(DEVICE, "req-1_A", body, retry=2,
                                             expiry_seconds=60) is None
    [req] = server.requests
    assert req.method == "POST"
    assert req.path == PATH + "?async-id=req-1_A&retry=2&expiry-seconds=60"
    assert req.header("Authorization") == f"Bearer {API_KEY}"
    assert req.header("Content-Type") == "application/json"
    assert req.header("Accept") is None
    assert req.body == (b'{"method":"PUT","uri":"/5/0/1","accept":"text/plain",'
                        b'"content-type":"text/plain","payload-b64":"dmFsdWUxCg=="}')


def test_dict_body_and_no_optional_query(server: ScriptedServer,
                                         requests_api: mds.DeviceRequestsApi) -> None:
    server.reply("POST", PATH, 202, headers={"X-Request-Id": "rid"})
    data, status, headers = requests_api.create_async_request_with_http_info(
        DEVICE, "a" * 40, {"method": "GET", "uri": "3200/0/5501"})
    assert (data, status, headers["x-request-id"]) == (None, 202, "rid")
    [req] = server.requests
    assert req.path == PATH + "?async-id=" + "a" * 40
    assert json.loads(req.body) == {"method": "GET", "uri": "/3200/0/5501"}


@pytest.mark.parametrize(("status", "message", "exc_type"), [
    (400, "QUEUE_IS_FULL", mds.BadRequestException),
    (400, "MALFORMED_JSON_CONTENT", mds.BadRequestException),
    (400, "MALFORMED_ASYNC_ID", mds.BadRequestException),
    (400, "DEVICE_NOT_CONNECTED", mds.BadRequestException),
    (400, "RESOURCE_NOT_FOUND", mds.BadRequestException),
    (401, "Authentication failure.", mds.UnauthorizedException),
    (404, "DEVICE_NOT_FOUND", mds.NotFoundException),
    (404, "URI_PATH_DOES_NOT_EXISTS", mds.NotFoundException),
])
def test_error_statuses(server: ScriptedServer, requests_api: mds.DeviceRequestsApi,
                        status: int, message: str, exc_type: type[mds.ApiException]) -> None:
    server.reply("POST", PATH, status, error_body(status, message))
    with pytest.raises(exc_type) as info:
        requests_api.create_async_request(DEVICE, "id1", {"method": "GET", "uri": "/1/0/1"})
    assert (info.value.status, info.value.message) == (status, message)
    assert len(server.requests) == 1


@pytest.mark.parametrize(("args", "kwargs", "error", "text"), [
    ((DEVICE, "", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "async_id"),
    ((DEVICE, "a" * 41, {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "async_id"),
    ((DEVICE, "a b", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "async_id"),
    ((DEVICE, "a&retry=9", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "async_id"),
    ((DEVICE, 7, {"method": "GET", "uri": "/1"}), {}, mds.ApiTypeError, "async_id"),
    ((DEVICE, "x", {"method": "FETCH", "uri": "/1"}), {}, mds.ApiValueError, "method"),
    ((DEVICE, "x", {"method": "get", "uri": "/1"}), {}, mds.ApiValueError, "method"),
    ((DEVICE, "x", {"method": "GET"}), {}, mds.ApiValueError, "uri"),
    ((DEVICE, "x", {"method": "GET", "uri": 5}), {}, mds.ApiTypeError, "uri"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1 /2"}), {}, mds.ApiValueError, "uri"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1#x"}), {}, mds.ApiValueError, "uri"),
    ((DEVICE, "x", {"method": "PUT", "uri": "/1", "payload-b64": "not base64!"}), {},
     mds.ApiValueError, "payload_b64"),
    ((DEVICE, "x", {"method": "PUT", "uri": "/1", "payload-b64": "é"}), {},
     mds.ApiValueError, "payload_b64"),
    ((DEVICE, "x", {"method": "PUT", "uri": "/1", "accept": "a\r\nX: y"}), {},
     mds.ApiValueError, "accept"),
    ((DEVICE, "x", {"method": "PUT", "uri": "/1", "content-type": 3}), {},
     mds.ApiTypeError, "content_type"),
    ((DEVICE, "x", None), {}, mds.ApiValueError, "body"),
    ((DEVICE, "x", "GET /1"), {}, mds.ApiTypeError, "body"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"retry": 11}, mds.ApiValueError, "retry"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"retry": -1}, mds.ApiValueError, "retry"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"retry": True}, mds.ApiTypeError, "retry"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"expiry_seconds": 59}, mds.ApiValueError,
     "expiry_seconds"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"expiry_seconds": 2_592_001},
     mds.ApiValueError, "expiry_seconds"),
    ((DEVICE, "x", {"method": "GET", "uri": "/1"}), {"expiry_seconds": "60"}, mds.ApiTypeError,
     "expiry_seconds"),
    (("", "x", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "device_id"),
    (("a/b", "x", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "device_id"),
    (("a?b", "x", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "device_id"),
    (("..", "x", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "device_id"),
    (("a\r\nb", "x", {"method": "GET", "uri": "/1"}), {}, mds.ApiValueError, "device_id"),
])
def test_refused_before_sending(server: ScriptedServer, requests_api: mds.DeviceRequestsApi,
                                args: tuple[Any, ...], kwargs: dict[str, Any],
                                error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        requests_api.create_async_request(*args, **kwargs)
    with pytest.raises(error, match=text):
        requests_api.create_async_request(*args, **kwargs, async_req=True)
    assert server.requests == []


def test_the_given_model_is_not_changed(server: ScriptedServer,
                                        requests_api: mds.DeviceRequestsApi) -> None:
    server.reply("POST", PATH, 202)
    body = mds.DeviceRequest("GET", "3303/0/5700")
    requests_api.create_async_request(DEVICE, "id1", body)
    assert body.uri == "3303/0/5700"
    assert json.loads(server.requests[0].body)["uri"] == "/3303/0/5700"


def test_async_req_and_preload_content(server: ScriptedServer,
                                       requests_api: mds.DeviceRequestsApi) -> None:
    server.reply("POST", PATH, 202, times=2)
    result = requests_api.create_async_request(DEVICE, "id1", {"method": "GET", "uri": "/1"},
                                               asynchronous=True)
    assert result.get(timeout=5) is None
    raw = requests_api.create_async_request(DEVICE, "id2", {"method": "GET", "uri": "/1"},
                                            _preload_content=False)
    assert raw.status == 202
    raw.release_conn()


def test_the_answer_arrives_on_the_channel(mds_emulator: Emulator,
                                           mds_client: mds.ApiClient) -> None:
    mds_emulator.register_device("dev-1", ept="Sensor", resources={"/3303/0/5700": "21.5"})
    notifications = mds.NotificationsApi(mds_client)
    notifications.long_poll_notifications()  # opens the key's long-poll channel
    requests_api = mds.DeviceRequestsApi(mds_client)
    requests_api.create_async_request("dev-1", "read-1", mds.DeviceRequest("GET", "/3303/0/5700"))
    answers: list[mds.AsyncIDResponse] = []
    for _ in range(5):
        answers += notifications.long_poll_notifications().async_responses
        if answers:
            break
    [answer] = answers
    assert (answer.id, answer.status, answer.payload_bytes) == ("read-1", 200, b"21.5")


@pytest.mark.parametrize(("device", "uri", "exc_type", "message"), [
    ("nobody", "/3303/0/5700", mds.NotFoundException, "DEVICE_NOT_FOUND"),
    ("dev-1", "/3303/0/1", mds.NotFoundException, "URI_PATH_DOES_NOT_EXISTS"),
])
def test_emulator_refusals(mds_emulator: Emulator, mds_client: mds.ApiClient, device: str,
                           uri: str, exc_type: type[mds.ApiException], message: str) -> None:
    mds_emulator.register_device("dev-1", resources={"/3303/0/5700": "21.5"})
    with pytest.raises(exc_type) as info:
        mds.DeviceRequestsApi(mds_client).create_async_request(device, "x1", {"method": "GET",
                                                                              "uri": uri})
    assert info.value.message == message


def test_emulator_queue_full(mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    mds_emulator.register_device("dev-1", q=True, resources={"/3303/0/5700": "21.5"})
    mds_emulator.set_online("dev-1", False)
    api = mds.DeviceRequestsApi(mds_client)
    for n in range(20):
        api.create_async_request("dev-1", f"q{n}", {"method": "GET", "uri": "/3303/0/5700"})
    with pytest.raises(mds.BadRequestException) as info:
        api.create_async_request("dev-1", "q20", {"method": "GET", "uri": "/3303/0/5700"})
    assert info.value.message == "QUEUE_IS_FULL"
