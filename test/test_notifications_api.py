"""Every operation, every status the service can answer (SERVICE.md's table), over a real socket.

Each case asserts what goes on the wire (method, path, headers, body bytes) and what the caller
gets back (value, or exception class and fields).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import mds
from conftest import API_KEY
from servers import ScriptedServer

ERROR_BODY = {
    "object": "error", "code": 0, "type": "x", "message": "it failed",
    "request_id": "0123456789abcdef0123456789abcdef",
    "fields": [{"name": "url", "message": "not reachable"}],
}

WEBHOOK_JSON = {"url": "https://example.com/hook", "headers": {"authorization": "s3cr3t"}}
WS_2019 = {"channelId": "abc123", "queueSize": 3, "status": "connected"}
WS_2020 = {"queue_size": -1, "status": "unknown"}
BATCH = {
    "notifications": [{"ep": "0172b9ba5409000000000001001117f5", "path": "/3200/0/5501",
                       "ct": "text/plain", "payload": "NTc=", "max-age": 0}],
    "async-responses": [{"id": "123e4567-e89b-12d3-a456-426655440000", "status": 504,
                         "error": "TIMEOUT"}],
}

# operation -> (method, path, accept header, sends a JSON body)
OPERATIONS = {
    "register_webhook": ("PUT", "/v2/notification/callback", None, True),
    "get_webhook": ("GET", "/v2/notification/callback", "application/json", False),
    "deregister_webhook": ("DELETE", "/v2/notification/callback", None, False),
    "long_poll_notifications": ("GET", "/v2/notification/pull", "application/json", False),
    "delete_long_poll_channel": ("DELETE", "/v2/notification/pull", None, False),
    "register_websocket": ("PUT", "/v2/notification/websocket", "application/json", False),
    "get_websocket": ("GET", "/v2/notification/websocket", "application/json", False),
    "delete_websocket": ("DELETE", "/v2/notification/websocket", None, False),
    "get_channel_metadata": ("GET", "/v2/notification/channel", "application/json", False),
}

ERRORS = {
    400: mds.BadRequestException, 401: mds.UnauthorizedException, 403: mds.ForbiddenException,
    404: mds.NotFoundException, 409: mds.ConflictException, 410: mds.GoneException,
    415: mds.UnsupportedMediaTypeException, 426: mds.UpgradeRequiredException,
    429: mds.TooManyRequestsException, 500: mds.ServiceException,
}

# Every (operation, status) the service can answer, with the body it sends.
SUCCESS_CASES: list[tuple[str, int, Any, Any]] = [
    ("register_webhook", 204, b"", None),
    ("get_webhook", 200, WEBHOOK_JSON, mds.Webhook.from_dict(WEBHOOK_JSON)),
    ("deregister_webhook", 204, b"", None),
    ("long_poll_notifications", 200, BATCH, mds.NotificationMessage.from_dict(BATCH)),
    ("long_poll_notifications", 204, b"", mds.NotificationMessage()),
    ("delete_long_poll_channel", 200, "REMOVED", "REMOVED"),
    ("delete_long_poll_channel", 200, "ALREADY_DELETED", "ALREADY_DELETED"),
    ("register_websocket", 201, WS_2019, mds.WebsocketChannel("abc123", 3, "connected")),
    ("register_websocket", 200, WS_2020, mds.WebsocketChannel(queue_size=-1, status="unknown")),
    ("get_websocket", 200, WS_2019, mds.WebsocketChannel("abc123", 3, "connected")),
    ("delete_websocket", 204, b"", None),
    *[("get_channel_metadata", 200, {"delivery_mechanism": m}, mds.ChannelMetadata(m))
      for m in ("CALLBACK", "LONG_POLLING", "WEB_SOCKET", "SOMETHING_NEW")],
]

ERROR_CASES = [
    ("register_webhook", s) for s in (400, 401, 403, 415)
] + [
    ("get_webhook", s) for s in (401, 403, 404)
] + [
    ("deregister_webhook", s) for s in (401, 403, 404)
] + [
    ("long_poll_notifications", s) for s in (400, 401, 409, 410)
] + [
    ("delete_long_poll_channel", 401),
] + [
    ("register_websocket", s) for s in (400, 401, 403)
] + [
    ("get_websocket", s) for s in (401, 403, 404)
] + [
    ("delete_websocket", s) for s in (401, 403, 404)
] + [
    ("get_channel_metadata", 404),
]


def call(api: mds.NotificationsApi, name: str, **kwargs: Any) -> Any:
    if name == "register_webhook":
        return api.register_webhook(mds.Webhook.from_dict(WEBHOOK_JSON), **kwargs)
    return getattr(api, name)(**kwargs)


def check_request(server: ScriptedServer, name: str) -> None:
    method, path, accept, has_body = OPERATIONS[name]
    assert len(server.requests) == 1, "exactly one request, no retry"
    req = server.requests[0]
    assert (req.method, req.path) == (method, path)
    assert req.header("Authorization") == f"Bearer {API_KEY}"
    assert req.header("Accept") == accept
    assert req.header("User-Agent") == f"mds-client/{mds.__version__}/python"
    if has_body:
        assert req.header("Content-Type") == "application/json"
        assert json.loads(req.body) == WEBHOOK_JSON
        assert req.body == b'{"url":"https://example.com/hook","headers":{"authorization":"s3cr3t"}}'
    else:
        assert req.header("Content-Type") is None
        assert req.body == b""


@pytest.mark.parametrize(("name", "status", "body", "expected"), SUCCESS_CASES)
def test_success(server: ScriptedServer, api: mds.NotificationsApi, name: str, status: int,
                 body: Any, expected: Any) -> None:
    method, path, _, _ = OPERATIONS[name]
    headers = {"Content-Type": "text/plain"} if isinstance(body, str) else {}
    server.reply(method, path, status, body, headers)
    assert call(api, name) == expected
    check_request(server, name)


@pytest.mark.parametrize(("name", "status", "body", "expected"), SUCCESS_CASES)
def test_with_http_info(server: ScriptedServer, api: mds.NotificationsApi, name: str,
                        status: int, body: Any, expected: Any) -> None:
    method, path, _, _ = OPERATIONS[name]
    server.reply(method, path, status, body, {"X-Request-Id": "rid-1"})
    fn = getattr(api, f"{name}_with_http_info")
    args = (mds.Webhook.from_dict(WEBHOOK_JSON),) if name == "register_webhook" else ()
    data, got_status, headers = fn(*args)
    assert data == expected
    assert got_status == status
    assert headers["x-request-id"] == "rid-1"


@pytest.mark.parametrize(("name", "status"), ERROR_CASES)
def test_error_status(server: ScriptedServer, api: mds.NotificationsApi, name: str,
                      status: int) -> None:
    method, path, _, _ = OPERATIONS[name]
    server.reply(method, path, status, dict(ERROR_BODY, code=status))
    with pytest.raises(ERRORS[status]) as info:
        call(api, name)
    exc = info.value
    assert isinstance(exc, mds.ApiException)
    assert exc.status == status
    assert exc.code == status
    assert exc.message == "it failed"
    assert exc.request_id == "0123456789abcdef0123456789abcdef"
    assert exc.fields == [{"name": "url", "message": "not reachable"}]
    assert "it failed" in str(exc)
    assert str(status) in str(exc)
    check_request(server, name)


def test_error_without_json_body(server: ScriptedServer, api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/pull", 410, "CHANNEL_DELETED",
                 {"Content-Type": "text/plain"})
    with pytest.raises(mds.GoneException) as info:
        api.long_poll_notifications()
    assert info.value.body == "CHANNEL_DELETED"
    assert info.value.request_id is None


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504])
def test_server_errors_are_service_exceptions(server: ScriptedServer, status: int) -> None:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, retries=False)
    server.reply("GET", "/v2/notification/callback", status, b"")
    with mds.ApiClient(cfg) as client, pytest.raises(mds.ServiceException) as info:
        mds.NotificationsApi(client).get_webhook()
    assert info.value.status == status


def test_preload_content_false_returns_raw_response(server: ScriptedServer,
                                                    api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/pull", 200, BATCH)
    raw = api.long_poll_notifications(_preload_content=False)
    assert raw.status == 200
    assert json.loads(raw.data) == BATCH
    raw.release_conn()


def test_async_req_and_asynchronous_alias(server: ScriptedServer,
                                          api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/callback", 200, WEBHOOK_JSON, times=2)
    first = api.get_webhook(async_req=True)
    second = api.get_webhook(asynchronous=True)
    assert first.get(timeout=5).url == "https://example.com/hook"
    assert second.get(timeout=5) == mds.Webhook.from_dict(WEBHOOK_JSON)
    assert first.ready()
    assert first.successful()


def test_async_req_raises_from_get(server: ScriptedServer, api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/websocket", 404, dict(ERROR_BODY, code=404))
    result = api.get_websocket(async_req=True)
    with pytest.raises(mds.NotFoundException):
        result.get(timeout=5)
    assert not result.successful()


def test_unknown_keyword_is_type_error(api: mds.NotificationsApi) -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        api.get_webhook(colour="blue")  # type: ignore[call-overload]


def test_missing_required_webhook_is_value_error(server: ScriptedServer,
                                                 api: mds.NotificationsApi) -> None:
    with pytest.raises(ValueError, match="webhook"):
        api.register_webhook(None)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="url"):
        api.register_webhook(mds.Webhook())
    assert server.requests == []


def test_webhook_limits_checked_before_sending(server: ScriptedServer,
                                               api: mds.NotificationsApi) -> None:
    long_url = "https://example.com/" + "a" * 380
    with pytest.raises(mds.ApiValueError, match="400"):
        api.register_webhook(mds.Webhook(long_url, {"authorization": "x" * 10}))
    with pytest.raises(mds.ApiValueError, match="CR or LF"):
        api.register_webhook(mds.Webhook("https://example.com", {"x-secret": "a\r\nInjected: 1"}))
    with pytest.raises(mds.ApiValueError):
        api.register_webhook(mds.Webhook("ftp://example.com"))
    # exactly 400 characters is accepted and sent
    url = "https://example.com/" + "b" * (400 - len("https://example.com/") - 2)
    server.reply("PUT", "/v2/notification/callback", 204)
    api.register_webhook(mds.Webhook(url, {"a": "b"}))
    assert len(server.requests) == 1


def test_register_webhook_accepts_a_dict(server: ScriptedServer,
                                         api: mds.NotificationsApi) -> None:
    server.reply("PUT", "/v2/notification/callback", 204)
    api.register_webhook(WEBHOOK_JSON)
    assert json.loads(server.requests[0].body) == WEBHOOK_JSON


def test_2xx_with_invalid_json_is_a_clear_error(server: ScriptedServer,
                                                api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/pull", 200, b'{"notifications": [', )
    with pytest.raises(mds.ApiResponseError, match="not valid JSON") as info:
        api.long_poll_notifications()
    assert info.value.status == 200
    assert info.value.body == '{"notifications": ['


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b'{"notifications": {"ep": 1}}',
                                  b'{"registrations": "x"}', b'{"de-registrations": 5}'])
def test_2xx_with_wrong_shape_is_a_clear_error(server: ScriptedServer,
                                               api: mds.NotificationsApi, body: bytes) -> None:
    server.reply("GET", "/v2/notification/pull", 200, body)
    with pytest.raises(mds.ApiResponseError):
        api.long_poll_notifications()


def test_forward_compatible_bodies(server: ScriptedServer, api: mds.NotificationsApi) -> None:
    body = {
        "notifications": [{"ep": "e1", "path": "/3/0/1", "ct": "text/plain", "payload": "MQ==",
                           "max-age": "60", "new-field": True}],
        "de-registrations": [{"ep": "e2", "original-ep": "dev-2", "uid": "u", "timestamp": 1}],
        "registrations-expired": ["e3"],
        "future-kind": [{"x": 1}],
    }
    server.reply("GET", "/v2/notification/pull", 200, body)
    message = api.long_poll_notifications()
    assert message.notifications[0].max_age == 60
    assert message.notifications[0].payload_bytes == b"1"
    assert message.de_registrations[0]["ep"] == "e2"
    assert message.registrations_expired == ["e3"]
    assert message.registrations == []
    assert message.reg_updates == []
    assert message.to_dict() == body


def test_host_with_base_path(server: ScriptedServer) -> None:
    cfg = mds.Configuration(host=server.url + "/base/", api_key=API_KEY)
    server.reply("GET", "/base/v2/notification/callback", 200, WEBHOOK_JSON)
    with mds.ApiClient(cfg) as client:
        assert mds.NotificationsApi(client).get_webhook().url == WEBHOOK_JSON["url"]


def test_default_api_client() -> None:
    api = mds.NotificationsApi()
    assert api.api_client.configuration.host == "https://api.us-east-1.mbedcloud.com"
    api.api_client.close()


def test_plain_method_returns_the_triple_when_asked(server: ScriptedServer,
                                                    api: mds.NotificationsApi) -> None:
    server.reply("GET", "/v2/notification/websocket", 200, WS_2019)
    data, status, headers = api.get_websocket(_return_http_data_only=False)
    assert (data.channel_id, status) == ("abc123", 200)
    assert headers["content-type"] == "application/json"


# -- the 2020 serialization -------------------------------------------------------------------

SERIALIZATION = {"type": "v2", "max_chunk_size": 500,
                 "cfg": {"deregistrations_as_object": True, "include_uid": True,
                         "include_timestamp": True, "include_original_ep": True}}


def test_register_websocket_sends_the_serialization(server: ScriptedServer,
                                                    api: mds.NotificationsApi) -> None:
    server.reply("PUT", "/v2/notification/websocket", 201,
                 {"queue_size": 0, "status": "disconnected", "serialization": SERIALIZATION})
    channel = api.register_websocket(mds.SerializationConfigData(
        max_chunk_size=500, cfg=mds.SerializationConfigObjectV2(True, True, True, True)))
    assert isinstance(channel.serialization, mds.SerializationConfigData)
    assert channel.serialization.cfg is not None
    assert channel.serialization.cfg.include_uid is True
    [req] = server.requests
    assert req.header("Content-Type") == "application/json"
    assert req.body == (b'{"serialization":{"type":"v2","max_chunk_size":500,"cfg":'
                        b'{"deregistrations_as_object":true,"include_original_ep":true,'
                        b'"include_timestamp":true,"include_uid":true}}}')


def test_register_websocket_takes_a_dict_and_keeps_the_old_call(server: ScriptedServer,
                                                                api: mds.NotificationsApi) -> None:
    server.reply("PUT", "/v2/notification/websocket", 200, WS_2020, times=3)
    api.register_websocket(serialization={"type": "v2", "max_chunk_size": "100"})
    api.register_websocket()
    data, status, _ = api.register_websocket_with_http_info(None)
    assert (data, status) == (mds.WebsocketChannel(queue_size=-1, status="unknown"), 200)
    with_config, plain, info = server.requests
    assert json.loads(with_config.body) == {"serialization": {"type": "v2", "max_chunk_size": "100"}}
    assert (plain.body, plain.header("Content-Type")) == (b"", None)
    assert (info.body, info.header("Content-Type")) == (b"", None)


@pytest.mark.parametrize(("config", "error", "text"), [
    ({"type": "v2", "max_chunk_size": 99}, mds.ApiValueError, "100 to 10000"),
    ({"type": "v2", "max_chunk_size": 10001}, mds.ApiValueError, "100 to 10000"),
    ({"type": "v2", "max_chunk_size": "lots"}, mds.ApiTypeError, "max_chunk_size"),
    ({"type": "v2", "max_chunk_size": True}, mds.ApiTypeError, "max_chunk_size"),
    ({"max_chunk_size": 500}, mds.ApiValueError, "type"),
    ({"type": 2}, mds.ApiTypeError, "type"),
    ({"type": "v2", "cfg": {"include_uid": "yes"}}, mds.ApiTypeError, "include_uid"),
    ({"type": "v2", "cfg": "all"}, mds.ApiTypeError, "cfg"),
    ("v2", mds.ApiTypeError, "serialization"),
])
def test_serialization_checked_before_sending(server: ScriptedServer, api: mds.NotificationsApi,
                                              config: Any, error: type[Exception],
                                              text: str) -> None:
    with pytest.raises(error, match=text):
        api.register_websocket(config)
    with pytest.raises(error, match=text):
        api.register_webhook(mds.Webhook("https://example.com/hook", serialization=config))
    assert server.requests == []


def test_register_webhook_sends_the_serialization(server: ScriptedServer,
                                                  api: mds.NotificationsApi) -> None:
    server.reply("PUT", "/v2/notification/callback", 204)
    server.reply("GET", "/v2/notification/callback", 200,
                 {"url": "https://example.com/hook", "serialization": {
                     "type": "v2", "max_chunk_size": "100", "cfg": {"include_uid": "true"}}})
    api.register_webhook(mds.Webhook("https://example.com/hook", serialization=SERIALIZATION))
    assert json.loads(server.requests[0].body) == {"url": "https://example.com/hook",
                                                   "serialization": SERIALIZATION}
    hook = api.get_webhook()
    assert hook.serialization == mds.SerializationConfigData(
        "v2", 100, mds.SerializationConfigObjectV2(include_uid=True))


def test_emulator_serves_the_channel_and_the_serialization(mds_emulator: Any,
                                                           mds_client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(mds_client)
    with pytest.raises(mds.NotFoundException):
        api.get_channel_metadata()
    api.register_websocket(mds.SerializationConfigData(max_chunk_size=100, cfg={"include_uid": True}))
    assert api.get_channel_metadata() == mds.ChannelMetadata("WEB_SOCKET")
    channel = api.get_websocket()
    assert channel.serialization == mds.SerializationConfigData(  # the flags not given: False
        "v2", 100, mds.SerializationConfigObjectV2(False, False, False, include_uid=True))
    api.delete_websocket()
    api.long_poll_notifications()
    assert api.get_channel_metadata().delivery_mechanism == "LONG_POLLING"
