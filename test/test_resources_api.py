"""ResourcesApi (deprecated by the service) over a real socket: each call warns and names its
replacement, sends the exact request, and maps every status the service documents."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import mds
from conftest import API_KEY
from mds.emulator import Emulator
from servers import ScriptedServer

DEVICE = "015f3850a657000000000001001002ab"
PATH = f"/v2/endpoints/{DEVICE}/3303/0/5700"
#: What every deprecation warning says.
DEPRECATED = r"deprecated; use DeviceRequestsApi\.create_async_request"
ACCEPTED = {"async-response-id": "9e3c96b8-c4d7-496a-ab90-cc732b9b560e"}

# operation -> (HTTP method, positional arguments after the device id and path, replacement)
OPERATIONS: dict[str, tuple[str, tuple[Any, ...], str]] = {
    "get_resource_value": ("GET", (), "GET"),
    "update_resource_value": ("PUT", ("21.5",), "PUT"),
    "execute_or_create_resource": ("POST", (), "POST"),
    "delete_resource_path": ("DELETE", (), "DELETE"),
}

SUCCESS = [
    ("get_resource_value", 200, "21.5", "21.5"),
    ("get_resource_value", 202, ACCEPTED, mds.AsyncID.from_dict(ACCEPTED)),
    ("get_resource_value", 205, b"", None),
    ("update_resource_value", 202, ACCEPTED, mds.AsyncID.from_dict(ACCEPTED)),
    ("execute_or_create_resource", 202, ACCEPTED, mds.AsyncID.from_dict(ACCEPTED)),
    ("delete_resource_path", 202, ACCEPTED, mds.AsyncID.from_dict(ACCEPTED)),
]
ERRORS = {400: mds.BadRequestException, 404: mds.NotFoundException,
          409: mds.ConflictException, 410: mds.GoneException, 412: mds.ApiException,
          429: mds.TooManyRequestsException, 502: mds.ServiceException}
ERROR_CASES = [
    *[("get_resource_value", s) for s in (400, 404, 409, 410, 429, 502)],
    *[("update_resource_value", s) for s in (400, 409, 410, 429, 502)],
    *[("execute_or_create_resource", s) for s in (400, 404, 409, 410, 429, 502)],
    *[("delete_resource_path", s) for s in (400, 404, 409, 410, 429, 502)],
]


@pytest.fixture
def resources(server: ScriptedServer) -> Iterator[mds.ResourcesApi]:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, retries=False)
    with mds.ApiClient(cfg) as client:
        yield mds.ResourcesApi(client)


@pytest.mark.parametrize(("name", "status", "body", "expected"), SUCCESS)
def test_success_warns_and_names_the_replacement(server: ScriptedServer,
                                                 resources: mds.ResourcesApi, name: str,
                                                 status: int, body: Any, expected: Any) -> None:
    method, args, replacement = OPERATIONS[name]
    headers = {"Content-Type": "text/plain"} if isinstance(body, str) else {}
    server.reply(method, PATH, status, body, headers, times=2)
    with pytest.warns(DeprecationWarning, match=DEPRECATED) as info:
        assert getattr(resources, name)(DEVICE, "/3303/0/5700", *args) == expected
    [warning] = info.list
    assert f"with method {replacement}" in str(warning.message)
    assert warning.filename == __file__  # it points at the caller's line
    with pytest.warns(DeprecationWarning, match=DEPRECATED) as info:
        data, got_status, _ = getattr(resources, f"{name}_with_http_info")(DEVICE, "3303/0/5700",
                                                                            *args)
    assert (data, got_status) == (expected, status)
    assert info.list[0].filename == __file__
    req = server.requests[0]
    assert (req.method, req.path) == (method, PATH)
    assert req.header("Authorization") == f"Bearer {API_KEY}"


@pytest.mark.parametrize(("name", "status"), ERROR_CASES)
def test_error_statuses(server: ScriptedServer, resources: mds.ResourcesApi, name: str,
                        status: int) -> None:
    method, args, _ = OPERATIONS[name]
    server.reply(method, PATH, status, {"code": status, "message": f"failed {status}"})
    with pytest.warns(DeprecationWarning, match=DEPRECATED), pytest.raises(ERRORS[status]) as info:
        getattr(resources, name)(DEVICE, "/3303/0/5700", *args)
    assert (info.value.status, info.value.message) == (status, f"failed {status}")
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_no_resp_sends_a_non_confirmable_request(server: ScriptedServer,
                                                 resources: mds.ResourcesApi, name: str) -> None:
    method, args, _ = OPERATIONS[name]
    server.reply(method, PATH, 204)
    with pytest.warns(DeprecationWarning, match=DEPRECATED):
        assert getattr(resources, name)(DEVICE, "/3303/0/5700", *args, no_resp=True) is None
    assert server.requests[0].path == PATH + "?noResp=true"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # each call warns: tested above
def test_query_and_body_of_each_operation(server: ScriptedServer,
                                          resources: mds.ResourcesApi) -> None:
    server.reply("GET", PATH, 205)
    server.reply("PUT", PATH, 202, ACCEPTED, times=2)
    server.reply("POST", PATH, 202, ACCEPTED, times=2)
    resources.get_resource_value(DEVICE, "/3303/0/5700", cache_only=True, no_resp=False)
    resources.update_resource_value(DEVICE, "/3303/0/5700", "21.5 °C")
    resources.update_resource_value(DEVICE, "/3303/0/5700", b"\x00\x01",
                                    content_type="application/octet-stream")
    resources.execute_or_create_resource(DEVICE, "/3303/0/5700")
    resources.execute_or_create_resource(DEVICE, "/3303/0/5700", "reset")
    get, put_text, put_bytes, post_empty, post_function = server.requests
    assert get.path == PATH + "?cacheOnly=true&noResp=false"
    assert get.body == b""
    assert (put_text.body, put_text.header("Content-Type")) == ("21.5 °C".encode(), "text/plain")
    assert (put_bytes.body, put_bytes.header("Content-Type")) == (
        b"\x00\x01", "application/octet-stream")
    assert (post_empty.body, post_empty.header("Content-Type")) == (b"", None)
    assert (post_function.body, post_function.header("Content-Type")) == (b"reset", "text/plain")


@pytest.mark.parametrize(("call", "error"), [
    (lambda r: r.update_resource_value(DEVICE, "/1", None), mds.ApiValueError),
    (lambda r: r.update_resource_value(DEVICE, "/1", 21.5), mds.ApiTypeError),
    (lambda r: r.execute_or_create_resource(DEVICE, "/1", {"f": 1}), mds.ApiTypeError),
    (lambda r: r.get_resource_value(DEVICE, "/1", cache_only="yes"), mds.ApiTypeError),
    (lambda r: r.delete_resource_path(DEVICE, "/1", no_resp=1), mds.ApiTypeError),
    (lambda r: r.get_resource_value(DEVICE, "/1/../2"), mds.ApiValueError),
    (lambda r: r.get_resource_value("a/b", "/1"), mds.ApiValueError),
    (lambda r: r.delete_resource_path(DEVICE, "/1?x"), mds.ApiValueError),
    (lambda r: r.update_resource_value(DEVICE, "/1", "v", content_type="a\r\nb"), mds.ApiValueError),
])
def test_refused_before_sending(server: ScriptedServer, resources: mds.ResourcesApi,
                                call: Any, error: type[Exception]) -> None:
    with pytest.warns(DeprecationWarning, match=DEPRECATED), pytest.raises(error):
        call(resources)
    assert server.requests == []


def test_a_warning_turned_error_stops_the_call(server: ScriptedServer,
                                               resources: mds.ResourcesApi) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(DeprecationWarning):
            resources.delete_resource_path(DEVICE, "/3303/0/5700")
    assert server.requests == []


def test_async_req(server: ScriptedServer, resources: mds.ResourcesApi) -> None:
    server.reply("DELETE", PATH, 202, ACCEPTED)
    with pytest.warns(DeprecationWarning, match=DEPRECATED):
        result = resources.delete_resource_path(DEVICE, "3303/0/5700", async_req=True)
    assert result.get(timeout=5) == mds.AsyncID.from_dict(ACCEPTED)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # each call warns: tested above
def test_emulator_older_flow(mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    mds_emulator.register_device("dev-1", resources={"/3303/0/5700": "21.5"})
    resources = mds.ResourcesApi(mds_client)
    # Nothing cached yet: 205, None.
    assert resources.get_resource_value("dev-1", "/3303/0/5700", cache_only=True) is None
    with pytest.raises(mds.ApiException) as info:  # no notification channel yet
        resources.get_resource_value("dev-1", "/3303/0/5700")
    assert info.value.status == 412
    mds.NotificationsApi(mds_client).register_websocket()
    assert isinstance(resources.get_resource_value("dev-1", "/3303/0/5700"), mds.AsyncID)
    assert isinstance(resources.update_resource_value("dev-1", "3303/0/5700", "22"), mds.AsyncID)
    assert isinstance(resources.execute_or_create_resource("dev-1", "/3303/0/5700"), mds.AsyncID)
    assert isinstance(resources.delete_resource_path("dev-1", "/3303/0/5700"), mds.AsyncID)
    with pytest.raises(mds.GoneException):
        resources.get_resource_value("nobody", "/3303/0/5700")
    with pytest.raises(mds.NotFoundException):
        resources.get_resource_value("dev-1", "/9/9/9")
