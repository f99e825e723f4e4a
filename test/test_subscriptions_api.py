"""SubscriptionsApi over a real socket: the exact request of every operation, every status the
service documents for it, the path checks, and the emulator's subscription rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import mds
from conftest import API_KEY
from mds.emulator import Emulator
from servers import ScriptedServer

DEVICE = "015f3850a657000000000001001002ab"
SUBS = "/v2/subscriptions"
ONE = f"{SUBS}/{DEVICE}"
RES = f"{ONE}/3303/0/5700"
RULES: list[dict[str, Any]] = [{"endpoint-name": "node-001", "resource-path": ["/dev"]},
         {"endpoint-type": "Light", "resource-path": ["/sen/*"]},
         {"endpoint-name": "node*"}]


def error_body(status: int) -> dict[str, Any]:
    return {"object": "error", "code": status, "type": "x", "message": f"failed {status}",
            "request_id": "0" * 32}


@pytest.fixture
def subs(server: ScriptedServer) -> Iterator[mds.SubscriptionsApi]:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, retries=False)
    with mds.ApiClient(cfg) as client:
        yield mds.SubscriptionsApi(client)


# operation -> (positional arguments, method, path, Accept header, JSON body sent)
OPERATIONS: dict[str, tuple[tuple[Any, ...], str, str, str | None, Any]] = {
    "update_pre_subscriptions": ((RULES,), "PUT", SUBS, None, RULES),
    "get_pre_subscriptions": ((), "GET", SUBS, "application/json", None),
    "delete_pre_subscriptions": ((), "DELETE", SUBS, None, None),
    "get_endpoint_subscriptions": ((DEVICE,), "GET", ONE, "text/uri-list", None),
    "delete_endpoint_subscriptions": ((DEVICE,), "DELETE", ONE, None, None),
    "add_resource_subscription": ((DEVICE, "/3303/0/5700"), "PUT", RES, "application/json", None),
    "check_resource_subscription": ((DEVICE, "/3303/0/5700"), "GET", RES, None, None),
    "delete_resource_subscription": ((DEVICE, "/3303/0/5700"), "DELETE", RES, None, None),
}

# (operation, status, body the server sends, what the method returns)
SUCCESS = [
    ("update_pre_subscriptions", 204, b"", None),
    ("get_pre_subscriptions", 200, RULES, [mds.Presubscription.from_dict(r) for r in RULES]),
    ("get_pre_subscriptions", 200, [], []),
    ("delete_pre_subscriptions", 204, b"", None),
    ("get_endpoint_subscriptions", 200, "/3303/0/5700\r\n# a comment\r\n/3/0\n\n",
     ["/3303/0/5700", "/3/0"]),
    ("get_endpoint_subscriptions", 200, b"", []),
    ("delete_endpoint_subscriptions", 204, b"", None),
    ("add_resource_subscription", 200, b"", None),
    ("add_resource_subscription", 202, {"async-response-id": "9e3c96b8"}, mds.AsyncID("9e3c96b8")),
    ("check_resource_subscription", 200, b"", True),
    ("check_resource_subscription", 404, error_body(404), False),
    ("delete_resource_subscription", 204, b"", None),
]

# Every error status the service documents for each operation.
ERRORS = {400: mds.BadRequestException, 401: mds.UnauthorizedException,
          403: mds.ForbiddenException, 404: mds.NotFoundException,
          429: mds.TooManyRequestsException, 502: mds.ServiceException}
ERROR_CASES = [
    *[("update_pre_subscriptions", s) for s in (400, 401, 403)],
    *[("get_pre_subscriptions", s) for s in (401, 403)],
    *[("delete_pre_subscriptions", s) for s in (401, 403)],
    ("get_endpoint_subscriptions", 404),
    *[("add_resource_subscription", s) for s in (400, 404, 429, 502)],
]


@pytest.mark.parametrize(("name", "status", "body", "expected"), SUCCESS)
def test_success(server: ScriptedServer, subs: mds.SubscriptionsApi, name: str, status: int,
                 body: Any, expected: Any) -> None:
    args, method, path, accept, sent = OPERATIONS[name]
    headers = {"Content-Type": "text/uri-list"} if isinstance(body, str) else {}
    server.reply(method, path, status, body, {**headers, "X-Request-Id": "rid"})
    assert getattr(subs, name)(*args) == expected
    [req] = server.requests
    assert (req.method, req.path) == (method, path)
    assert req.header("Authorization") == f"Bearer {API_KEY}"
    assert req.header("Accept") == accept
    if sent is None:
        assert req.body == b""
        assert req.header("Content-Type") is None
    else:
        assert req.header("Content-Type") == "application/json"
        assert json.loads(req.body) == sent
    server.reply(method, path, status, body, {**headers, "X-Request-Id": "rid"})
    data, got_status, got_headers = getattr(subs, f"{name}_with_http_info")(*args)
    assert (data, got_status, got_headers["x-request-id"]) == (expected, status, "rid")


@pytest.mark.parametrize(("name", "status"), ERROR_CASES)
def test_error_statuses(server: ScriptedServer, subs: mds.SubscriptionsApi, name: str,
                        status: int) -> None:
    args, method, path, _, _ = OPERATIONS[name]
    server.reply(method, path, status, error_body(status))
    with pytest.raises(ERRORS[status]) as info:
        getattr(subs, name)(*args)
    assert (info.value.status, info.value.message) == (status, f"failed {status}")
    assert len(server.requests) == 1


def test_check_resource_subscription_raises_other_errors(server: ScriptedServer,
                                                         subs: mds.SubscriptionsApi) -> None:
    server.reply("GET", RES, 401, error_body(401))
    with pytest.raises(mds.UnauthorizedException):
        subs.check_resource_subscription(DEVICE, "3303/0/5700")


def test_rules_are_sent_as_given(server: ScriptedServer, subs: mds.SubscriptionsApi) -> None:
    server.reply("PUT", SUBS, 204, times=2)
    subs.update_pre_subscriptions([mds.Presubscription("node-001", resource_path=["/dev"]),
                                   mds.Presubscription(endpoint_type="Sensor")])
    assert server.requests[0].body == (
        b'[{"endpoint-name":"node-001","resource-path":["/dev"]},{"endpoint-type":"Sensor"}]'
    )
    subs.update_pre_subscriptions([])  # an empty list removes every rule
    assert server.requests[1].body == b"[]"


@pytest.mark.parametrize(("path", "sent"), [
    ("/3303/0/5700", "/3303/0/5700"),
    ("3303/0/5700", "/3303/0/5700"),
    ("3303", "/3303"),
    ("/sen/light", "/sen/light"),
    ("/a%b/ü", "/a%25b/%C3%BC"),
])
def test_resource_path_joining(server: ScriptedServer, subs: mds.SubscriptionsApi, path: str,
                               sent: str) -> None:
    server.reply("PUT", ONE + sent, 200)
    subs.add_resource_subscription(DEVICE, path)
    [req] = server.requests
    assert req.path == ONE + sent
    assert "//" not in req.path
    assert "%2F" not in req.path.upper()


BAD_PATHS = ["", "/", "//3303/0", "/3303//0", "/3303/0/", "/3303/../0", "/3303/./0", "..",
             "/3303?x=1", "/3303#frag", "/33 03", "/3303\r\nX: y", "/3303\t0", "/3303/\x00"]
BAD_DEVICES = ["", "a/b", "a?b", "a#b", "..", ".", "a b", "a\r\nb", "a\nb", "a\x7f"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_resource_paths_are_refused(server: ScriptedServer, subs: mds.SubscriptionsApi,
                                        path: str) -> None:
    for name in ("add_resource_subscription", "check_resource_subscription",
                 "delete_resource_subscription"):
        with pytest.raises(mds.ApiValueError, match="resource_path"):
            getattr(subs, name)(DEVICE, path)
        with pytest.raises(mds.ApiValueError, match="resource_path"):
            getattr(subs, name)(DEVICE, path, async_req=True)
    assert server.requests == []


@pytest.mark.parametrize("device", BAD_DEVICES)
def test_bad_device_ids_are_refused(server: ScriptedServer, subs: mds.SubscriptionsApi,
                                    device: str) -> None:
    with pytest.raises(mds.ApiValueError, match="device_id"):
        subs.get_endpoint_subscriptions(device)
    with pytest.raises(mds.ApiValueError, match="device_id"):
        subs.delete_endpoint_subscriptions(device)
    with pytest.raises(mds.ApiValueError, match="device_id"):
        subs.add_resource_subscription(device, "/3303/0/5700")
    assert server.requests == []


def test_wrong_types_are_refused(server: ScriptedServer, subs: mds.SubscriptionsApi) -> None:
    with pytest.raises(mds.ApiTypeError, match="device_id"):
        subs.get_endpoint_subscriptions(42)  # type: ignore[call-overload]
    with pytest.raises(mds.ApiTypeError, match="resource_path"):
        subs.check_resource_subscription(DEVICE, 3303)  # type: ignore[call-overload]
    assert server.requests == []


@pytest.mark.parametrize(("rules", "error", "text"), [
    (None, mds.ApiValueError, "presubscriptions"),
    ({"endpoint-name": "x"}, mds.ApiTypeError, "list"),
    ("node*", mds.ApiTypeError, "list"),
    ([42], mds.ApiTypeError, r"presubscriptions\[0\]"),
    ([{"endpoint-name": "x" * 65}], mds.ApiValueError, "1 to 64"),
    ([{"endpoint-type": ""}], mds.ApiValueError, "1 to 64"),
    ([{"endpoint-type": 5}], mds.ApiTypeError, "endpoint_type"),
    ([{"endpoint-name": "no*de"}], mds.ApiValueError, "only at the end"),
    ([{"resource-path": ["3303/*"]}], mds.ApiValueError, "must start with '/'"),
    ([{"resource-path": ["/" + "1" * 128]}], mds.ApiValueError, "1 to 128"),
    ([{"resource-path": ["/33 03"]}], mds.ApiValueError, "whitespace"),
    ([{"resource-path": "/3303"}], mds.ApiTypeError, "resource_path"),
    ([{}] * 1025, mds.ApiValueError, "1024"),
    ([{"resource-path": [f"/{n}" for n in range(257)]}], mds.ApiValueError, "256"),
])
def test_rules_checked_before_sending(server: ScriptedServer, subs: mds.SubscriptionsApi,
                                      rules: Any, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        subs.update_pre_subscriptions(rules)
    assert server.requests == []


def test_limits_are_inclusive(server: ScriptedServer, subs: mds.SubscriptionsApi) -> None:
    server.reply("PUT", SUBS, 204, times=2)
    subs.update_pre_subscriptions([{"endpoint-name": "n" * 64, "resource-path": ["/" + "1" * 127]}])
    subs.update_pre_subscriptions([{"resource-path": [f"/{n}" for n in range(256)]}] * 1024)
    assert len(server.requests) == 2


def test_async_req_and_raw_response(server: ScriptedServer, subs: mds.SubscriptionsApi) -> None:
    server.reply("GET", RES, 404, error_body(404))
    server.reply("GET", RES, 200)
    assert subs.check_resource_subscription(DEVICE, "/3303/0/5700", async_req=True).get(5) is False
    raw = subs.check_resource_subscription(DEVICE, "/3303/0/5700", _preload_content=False)
    assert raw.status == 200
    raw.release_conn()


# -- against the emulator --------------------------------------------------------------------

@pytest.fixture
def emulated(mds_emulator: Emulator, mds_client: mds.ApiClient) -> mds.SubscriptionsApi:
    mds_emulator.register_device("node-1", ept="Sensor", resources={
        "/3303/0/5700": "21.5", "/3/0/0": {"value": "acme", "obs": False}})
    return mds.SubscriptionsApi(mds_client)


def test_emulator_rules_round_trip(emulated: mds.SubscriptionsApi) -> None:
    rules = [mds.Presubscription(endpoint_name="node*", resource_path=["/3303/*"])]
    emulated.update_pre_subscriptions(rules)
    assert emulated.get_pre_subscriptions() == rules
    emulated.delete_pre_subscriptions()
    assert emulated.get_pre_subscriptions() == []


def test_emulator_rules_apply_on_registration(mds_emulator: Emulator,
                                              emulated: mds.SubscriptionsApi) -> None:
    emulated.update_pre_subscriptions([{"endpoint-type": "Sensor", "resource-path": ["/3303/*"]}])
    with pytest.raises(mds.NotFoundException):  # the rules apply from the next registration
        emulated.get_endpoint_subscriptions("node-1")
    mds_emulator.update_registration("node-1")
    assert emulated.get_endpoint_subscriptions("node-1") == ["/3303/0/5700"]
    assert emulated.check_resource_subscription("node-1", "3303/0/5700") is True
    emulated.delete_endpoint_subscriptions("node-1")
    assert emulated.check_resource_subscription("node-1", "3303/0/5700") is False


def test_emulator_manual_subscription(mds_emulator: Emulator,
                                      emulated: mds.SubscriptionsApi) -> None:
    assert emulated.add_resource_subscription("node-1", "3303/0/5700") is None
    assert emulated.check_resource_subscription("node-1", "/3303/0/5700") is True
    assert emulated.get_endpoint_subscriptions("node-1") == ["/3303/0/5700"]
    emulated.delete_resource_subscription("node-1", "/3303/0/5700")
    assert emulated.check_resource_subscription("node-1", "/3303/0/5700") is False
    emulated.add_resource_subscription("node-1", "/3303/0/5700")
    mds_emulator.register_device("node-1", ept="Sensor")  # a full registration drops it
    assert emulated.check_resource_subscription("node-1", "/3303/0/5700") is False


def test_emulator_statuses(mds_emulator: Emulator, emulated: mds.SubscriptionsApi) -> None:
    accepted = emulated.add_resource_subscription("node-1", "/3/0/0")  # not observable: 202
    assert isinstance(accepted, mds.AsyncID)
    assert accepted.async_response_id
    with pytest.raises(mds.NotFoundException):
        emulated.add_resource_subscription("node-1", "/9/9/9")
    with pytest.raises(mds.NotFoundException):
        emulated.add_resource_subscription("nobody", "/3303/0/5700")
    assert emulated.check_resource_subscription("nobody", "/3303/0/5700") is False
    mds_emulator.set_online("node-1", False)
    cfg = mds.Configuration(host=mds_emulator.url, api_key=mds_emulator.api_key, retries=False)
    with mds.ApiClient(cfg) as client, pytest.raises(mds.ServiceException) as info:
        mds.SubscriptionsApi(client).add_resource_subscription("node-1", "/3303/0/5700")
    assert info.value.status == 502
    with pytest.raises(mds.BadRequestException):  # a key the service does not know: its 400
        emulated.update_pre_subscriptions([{"endpoint-name": "x", "unknown": 1}])


def test_emulator_queue_full(mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    mds_emulator.register_device("q-1", q=True, resources={"/3303/0/5700": "21.5"})
    mds_emulator.set_online("q-1", False)
    cfg = mds.Configuration(host=mds_emulator.url, api_key=mds_emulator.api_key, retries=False)
    with mds.ApiClient(cfg) as client:
        subs = mds.SubscriptionsApi(client)
        for _ in range(20):  # offline in queue mode: each waits for the device
            assert isinstance(subs.add_resource_subscription("q-1", "/3303/0/5700"), mds.AsyncID)
        with pytest.raises(mds.TooManyRequestsException):
            subs.add_resource_subscription("q-1", "/3303/0/5700")
