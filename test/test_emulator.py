"""The emulator's REST endpoints, long poll, batching, key isolation and admin API.

Driven only by independent clients (urllib3), never by the SDK, so that the emulator and the SDK
cannot agree on a mistake.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from mds.emulator import Emulator
from mds.emulator._messages import build_message, split_message
from mds.emulator.pytest_plugin import mds_client, mds_emulator  # noqa: F401 - fixtures

FAST: dict[str, Any] = {
    "long_poll_hold": 0.3,
    "webhook_backoff_base": 0.01,
    "webhook_backoff_cap": 0.05,
    "webhook_give_up": 1.0,
    "webhook_timeout": 1.0,
    "pull_expiry": 30.0,
    "websocket_expiry": 30.0,
    "purge_window": 0.3,
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(**FAST) as emulator:
        yield emulator


def call(
    http: urllib3.PoolManager,
    emu: Emulator,
    method: str,
    path: str,
    key: str | None = "default",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> urllib3.BaseHTTPResponse:
    """One request; ``key="default"`` sends the emulator's key, ``None`` sends no credentials."""
    send = dict(headers or {})
    if key == "default":
        key = emu.api_key
    if key is not None:
        send["Authorization"] = f"Bearer {key}"
    data: bytes | None = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        send.setdefault("Content-Type", "application/json")
    return http.request(method, emu.url + path, body=data, headers=send)


def assert_error(response: urllib3.BaseHTTPResponse, status: int, kind: str) -> dict[str, Any]:
    assert response.status == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["object"] == "error"
    assert body["code"] == status
    assert body["type"] == kind
    assert isinstance(body["message"], str) and body["message"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    return body


# ---------------------------------------------------------------------- lifecycle


def test_start_stop_is_quick_and_url_works(http: urllib3.PoolManager) -> None:
    started = time.monotonic()
    with Emulator() as emu:
        ready = time.monotonic() - started
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.running
        assert emu.api_key.startswith("ak_")
        response = http.request("GET", emu.url + "/_emulator/health")
        assert response.status == 200
        assert response.json()["status"] == "ok"
        stopping = time.monotonic()
    assert ready < 1.0
    assert time.monotonic() - stopping < 1.0
    assert not emu.running
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.stop()  # idempotent


def test_start_twice_raises_and_restart_works() -> None:
    emu = Emulator()
    emu.start()
    try:
        with pytest.raises(RuntimeError):
            emu.start()
    finally:
        emu.stop()
    with emu:
        assert emu.health()["status"] == "ok"


def test_import_starts_no_threads() -> None:
    code = "import threading, mds.emulator; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError):
        Emulator(api_keys=[])
    with pytest.raises(ValueError):
        Emulator(long_poll_hold=-1)
    with pytest.raises(ValueError):
        Emulator(batch_limit=0)


def test_fixture_gives_running_emulator(mds_emulator: Emulator) -> None:  # noqa: F811
    assert mds_emulator.running
    assert mds_emulator.long_poll_hold == 1.0
    assert mds_emulator.health()["channels"] == 0


def test_client_fixture_is_configured_and_closed(
    mds_emulator: Emulator,  # noqa: F811
    mds_client: Any,  # noqa: F811
) -> None:
    assert mds_client.configuration.host == mds_emulator.url
    assert mds_client.configuration.api_key["Authorization"] == mds_emulator.api_key
    assert not mds_client.closed


# ---------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/notification/callback"),
        ("GET", "/v2/notification/callback"),
        ("DELETE", "/v2/notification/callback"),
        ("GET", "/v2/notification/pull"),
        ("DELETE", "/v2/notification/pull"),
        ("PUT", "/v2/notification/websocket"),
        ("GET", "/v2/notification/websocket"),
        ("DELETE", "/v2/notification/websocket"),
        ("GET", "/v2/notification/channel"),
    ],
)
def test_missing_key_is_401(
    http: urllib3.PoolManager, emu: Emulator, method: str, path: str
) -> None:
    assert_error(call(http, emu, method, path, key=None), 401, "unauthorized")
    # A non-bearer scheme is no API key either.
    response = http.request(
        method, emu.url + path, headers={"Authorization": f"Basic {emu.api_key}"}
    )
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/notification/callback"),
        ("GET", "/v2/notification/callback"),
        ("DELETE", "/v2/notification/callback"),
        ("PUT", "/v2/notification/websocket"),
        ("GET", "/v2/notification/websocket"),
        ("DELETE", "/v2/notification/websocket"),
        ("GET", "/v2/notification/channel"),
    ],
)
def test_token_that_is_not_an_api_key_is_403(
    http: urllib3.PoolManager, emu: Emulator, method: str, path: str
) -> None:
    assert_error(call(http, emu, method, path, key="eyJhbGciOi.user.token"), 403, "forbidden")


def test_pull_endpoints_answer_401_for_a_token_that_is_not_an_api_key(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    # SERVICE.md lists no 403 for the long-poll endpoints.
    assert_error(
        call(http, emu, "GET", "/v2/notification/pull", key="user_token"), 401, "unauthorized"
    )
    assert_error(
        call(http, emu, "DELETE", "/v2/notification/pull", key="user_token"), 401, "unauthorized"
    )


def test_only_configured_keys_are_valid(http: urllib3.PoolManager) -> None:
    with Emulator(api_keys=["ak_first", "ak_second"], **FAST) as emu:
        assert emu.api_key == "ak_first"
        assert call(http, emu, "PUT", "/v2/notification/websocket", key="ak_second").status == 201
        body = assert_error(
            call(http, emu, "PUT", "/v2/notification/websocket", key="ak_unknown"),
            401,
            "unauthorized",
        )
        assert "ak_unknown" not in json.dumps(body)
        assert call(http, emu, "PUT", "/v2/notification/websocket", key="ak_first").status == 201


def test_unknown_path_and_method(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(call(http, emu, "GET", "/v2/notification/nope"), 404, "not_found")
    response = call(http, emu, "POST", "/v2/notification/websocket")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "PUT, GET, DELETE"


# ---------------------------------------------------------------------- channels


def test_channel_metadata_for_each_type(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(call(http, emu, "GET", "/v2/notification/channel"), 404, "not_found")
    assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
    response = call(http, emu, "GET", "/v2/notification/channel")
    assert response.status == 200
    assert response.json() == {"delivery_mechanism": "WEB_SOCKET"}
    assert call(http, emu, "DELETE", "/v2/notification/websocket").status == 204
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    assert call(http, emu, "GET", "/v2/notification/channel").json() == {
        "delivery_mechanism": "LONG_POLLING"
    }


def test_websocket_channel_rest_statuses(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(call(http, emu, "GET", "/v2/notification/websocket"), 404, "not_found")
    assert_error(call(http, emu, "DELETE", "/v2/notification/websocket"), 404, "not_found")
    created = call(http, emu, "PUT", "/v2/notification/websocket")
    assert created.status == 201
    assert created.headers["Content-Type"] == "application/json"
    channel = created.json()
    assert channel["status"] == "disconnected"
    assert channel["queueSize"] == 0
    assert isinstance(channel["channelId"], str) and channel["channelId"]
    again = call(http, emu, "PUT", "/v2/notification/websocket")
    assert again.status == 200
    assert again.json()["channelId"] == channel["channelId"]
    emu.notify("dev", "/3303/0/5700", 1)
    emu.notify("dev", "/3303/0/5700", 2)
    info = call(http, emu, "GET", "/v2/notification/websocket")
    assert info.status == 200
    assert info.json() == {
        "channelId": channel["channelId"],
        "queueSize": 2,
        "status": "disconnected",
    }
    assert call(http, emu, "DELETE", "/v2/notification/websocket").status == 204
    assert_error(call(http, emu, "GET", "/v2/notification/websocket"), 404, "not_found")
    # The queue went with the channel.
    assert call(http, emu, "PUT", "/v2/notification/websocket").json()["queueSize"] == 0


def test_other_channel_type_is_400(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    body = assert_error(call(http, emu, "PUT", "/v2/notification/websocket"), 400, "bad_request")
    assert "other type of channel already exists" in body["message"]
    assert call(http, emu, "DELETE", "/v2/notification/pull").data == b"REMOVED"
    assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
    body = assert_error(call(http, emu, "GET", "/v2/notification/pull"), 400, "bad_request")
    assert "other type of channel already exists" in body["message"]


def test_websocket_channel_expires_without_connection(http: urllib3.PoolManager) -> None:
    with Emulator(websocket_expiry=0.2) as emu:
        assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
        assert emu.notify("dev", "/1/0/1", 1) == 1
        time.sleep(0.25)
        assert emu.notify("dev", "/1/0/1", 2) == 0
        assert_error(call(http, emu, "GET", "/v2/notification/websocket"), 404, "not_found")


# ---------------------------------------------------------------------- long poll


def test_long_poll_holds_then_204(http: urllib3.PoolManager, emu: Emulator) -> None:
    started = time.monotonic()
    response = call(http, emu, "GET", "/v2/notification/pull")
    held = time.monotonic() - started
    assert response.status == 204
    assert response.data == b""
    assert 0.25 <= held < 2.0


def test_long_poll_answers_as_soon_as_something_is_queued(
    http: urllib3.PoolManager,
) -> None:
    with Emulator(long_poll_hold=5.0) as emu:
        # The GET creates the channel and holds; the notification arrives while it waits.
        timer = threading.Timer(0.1, emu.notify, args=("dev", "/3303/0/5700", 21.5))
        timer.start()
        started = time.monotonic()
        try:
            response = call(http, emu, "GET", "/v2/notification/pull")
        finally:
            timer.join()
        assert time.monotonic() - started < 2.0
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {
            "notifications": [
                {
                    "ep": "dev",
                    "path": "/3303/0/5700",
                    "ct": "text/plain",
                    "payload": base64.b64encode(b"21.5").decode(),
                    "max-age": 0,
                }
            ]
        }


def test_long_poll_delivers_everything_queued(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    for value in range(5):
        emu.notify("dev", "/1/0/1", value)
    response = call(http, emu, "GET", "/v2/notification/pull")
    assert response.status == 200
    payloads = [item["payload"] for item in response.json()["notifications"]]
    assert payloads == [base64.b64encode(str(v).encode()).decode() for v in range(5)]
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204


def test_second_concurrent_long_poll_is_409(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=1.0) as emu:
        first: list[int] = []
        thread = threading.Thread(
            target=lambda: first.append(call(http, emu, "GET", "/v2/notification/pull").status)
        )
        thread.start()
        deadline = time.monotonic() + 2
        while not emu.requests() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        assert_error(call(http, emu, "GET", "/v2/notification/pull"), 409, "conflict")
        emu.notify("dev", "/1/0/1", 1)
        thread.join()
        assert first == [200]


def test_long_poll_delete_and_purge_window(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    emu.notify("dev", "/1/0/1", 1)
    deleted = call(http, emu, "DELETE", "/v2/notification/pull")
    assert deleted.status == 200
    assert deleted.headers["Content-Type"] == "text/plain"
    assert deleted.data == b"REMOVED"
    again = call(http, emu, "DELETE", "/v2/notification/pull")
    assert (again.status, again.data) == (200, b"ALREADY_DELETED")
    body = assert_error(call(http, emu, "GET", "/v2/notification/pull"), 410, "gone")
    assert "CHANNEL_DELETED" in body["message"]
    assert emu.notify("dev", "/1/0/1", 2) == 0  # no channel in the purge window
    time.sleep(0.35)  # purge_window
    response = call(http, emu, "GET", "/v2/notification/pull")
    assert response.status == 204  # a new, empty channel: the old queue is gone


def test_delete_during_a_held_poll_ends_it_with_410(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=5.0, purge_window=5.0) as emu:
        result: list[int] = []
        thread = threading.Thread(
            target=lambda: result.append(call(http, emu, "GET", "/v2/notification/pull").status)
        )
        thread.start()
        deadline = time.monotonic() + 2
        while emu.health()["channels"] == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        assert call(http, emu, "DELETE", "/v2/notification/pull").data == b"REMOVED"
        thread.join()
        assert result == [410]
        assert time.monotonic() - started < 2.0


def test_long_poll_channel_expires(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0.0, pull_expiry=0.2) as emu:
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204
        assert emu.notify("dev", "/1/0/1", 1) == 1
        time.sleep(0.25)
        assert emu.notify("dev", "/1/0/1", 2) == 0
        assert_error(call(http, emu, "GET", "/v2/notification/channel"), 404, "not_found")
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204  # queue dropped


def test_stop_answers_held_long_poll(http: urllib3.PoolManager) -> None:
    emu = Emulator(long_poll_hold=30.0).start()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(call(http, emu, "GET", "/v2/notification/pull").status)
    )
    try:
        thread.start()
        deadline = time.monotonic() + 2
        while emu.health()["channels"] == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
    finally:
        emu.stop()
    thread.join()
    assert result == [204]
    assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------------- batching


def test_batches_hold_at_most_batch_limit_items(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0.0, batch_limit=3) as emu:
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204
        for value in range(7):
            emu.notify("dev", "/1/0/1", value)
        sizes = []
        while (response := call(http, emu, "GET", "/v2/notification/pull")).status == 200:
            sizes.append(len(response.json()["notifications"]))
        assert sizes == [3, 3, 1]


def test_batching_never_reorders_across_kinds(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    emu.notify("dev", "/1/0/1", 1)
    emu.register_device("dev2", ept="Light")
    emu.notify("dev", "/1/0/1", 2)
    emu.notify("dev", "/1/0/1", 3)
    emu.deregister_device("dev2")
    first = call(http, emu, "GET", "/v2/notification/pull").json()
    assert list(first) == ["notifications", "registrations"]
    assert len(first["notifications"]) == 1
    second = call(http, emu, "GET", "/v2/notification/pull").json()
    assert list(second) == ["notifications", "de-registrations"]
    assert len(second["notifications"]) == 2
    assert second["de-registrations"] == ["dev2"]


def test_build_message_unit() -> None:
    items = split_message({"notifications": [1, 2], "registrations": [3], "custom": {"x": 1}})
    items += split_message({"notifications": [4]})
    message, count = build_message(items, 10)
    assert message == {"notifications": [1, 2], "registrations": [3], "custom": {"x": 1}}
    assert count == 4
    message, count = build_message(items[count:], 10)
    assert (message, count) == ({"notifications": [4]}, 1)
    assert build_message(items, 1) == ({"notifications": [1]}, 1)


def test_big_message_is_split_by_batch_limit(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0.0, batch_limit=4) as emu:
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204
        assert emu.queue_message({"de-registrations": [str(n) for n in range(10)]}) == 1
        got = []
        while (response := call(http, emu, "GET", "/v2/notification/pull")).status == 200:
            got.append(response.json()["de-registrations"])
        assert got == [["0", "1", "2", "3"], ["4", "5", "6", "7"], ["8", "9"]]


# ---------------------------------------------------------------------- isolation


def test_concurrent_api_keys_are_isolated(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0.5) as emu:
        keys = [f"ak_key{n}" for n in range(4)]
        for key in keys[:2]:
            assert call(http, emu, "PUT", "/v2/notification/websocket", key=key).status == 201
        results: dict[str, Any] = {}

        def poll(key: str) -> None:
            results[key] = call(http, emu, "GET", "/v2/notification/pull", key=key)

        threads = [threading.Thread(target=poll, args=(key,)) for key in keys[2:]]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 2
        while emu.health()["channels"] < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert emu.notify("dev", "/1/0/1", "for-key2", api_key="ak_key2") == 1
        for thread in threads:
            thread.join()
        assert results["ak_key2"].status == 200
        assert results["ak_key3"].status == 204  # held the full time, got nothing
        sizes = {
            key: call(http, emu, "GET", "/v2/notification/websocket", key=key).json()["queueSize"]
            for key in keys[:2]
        }
        assert sizes == {"ak_key0": 0, "ak_key1": 0}
        # Without a key, every existing channel gets it.
        assert emu.notify("dev", "/1/0/1", "all") == 4
        # Deleting one key's channel leaves the others alone.
        assert call(http, emu, "DELETE", "/v2/notification/websocket", key="ak_key0").status == 204
        info = call(http, emu, "GET", "/v2/notification/websocket", key="ak_key1").json()
        assert info["queueSize"] == 1


# ---------------------------------------------------------------------- admin API


def admin(http: urllib3.PoolManager, emu: Emulator, name: str, body: Any = None) -> Any:
    if body is None:
        response = http.request("GET", f"{emu.url}/_emulator/{name}")
    else:
        response = http.request(
            "POST",
            f"{emu.url}/_emulator/{name}",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
    assert response.status == 200, response.data
    return response.json()


def pull(http: urllib3.PoolManager, emu: Emulator) -> dict[str, Any]:
    response = call(http, emu, "GET", "/v2/notification/pull")
    assert response.status == 200, response.status
    result: dict[str, Any] = response.json()
    return result


def test_admin_messages_and_device_events(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert admin(http, emu, "messages", {"message": {"notifications": []}}) == {"queued": 0}
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    message = {
        "async-responses": [
            {"id": "123e4567", "status": 200, "payload": "dmFsdWUxCg==", "ct": "text/plain"}
        ]
    }
    assert admin(http, emu, "messages", {"message": message}) == {"queued": 1}
    assert pull(http, emu) == message
    assert admin(http, emu, "messages", {"message": message, "api_key": "ak_nobody"}) == {
        "queued": 0
    }
    resources = [
        {"path": "/sen/light", "ct": "text/plain", "obs": True, "rt": "light", "if": "sensor"}
    ]
    admin(
        http,
        emu,
        "register",
        {
            "ep": "015f",
            "ept": "Light",
            "original_ep": "my-device",
            "q": False,
            "resources": resources,
        },
    )
    admin(http, emu, "reg-update", {"ep": "015f", "ept": "Light", "resources": []})
    admin(http, emu, "deregister", {"ep": "015f"})
    admin(http, emu, "expire", {"ep": "015f"})
    assert pull(http, emu) == {
        "registrations": [
            {
                "ep": "015f",
                "ept": "Light",
                "original-ep": "my-device",
                "q": False,
                "resources": resources,
            }
        ],
        "reg-updates": [{"ep": "015f", "ept": "Light", "q": False, "resources": []}],
        "de-registrations": ["015f"],
        "registrations-expired": ["015f"],
    }


def test_admin_notify_encodes_values(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    admin(http, emu, "notify", {"ep": "d", "path": "/3200/0/5501", "value": 57})
    admin(http, emu, "notify", {"ep": "d", "path": "/1/0/1", "value": "héllo"})
    admin(
        http,
        emu,
        "notify",
        {"ep": "d", "path": "/1/0/2", "value": {"a": 1}, "ct": "application/json"},
    )
    admin(
        http,
        emu,
        "notify",
        {"ep": "d", "path": "/1/0/3", "payload_b64": "AAE=", "ct": "application/octet-stream"},
    )
    items = pull(http, emu)["notifications"]
    assert items[0] == {
        "ep": "d",
        "path": "/3200/0/5501",
        "ct": "text/plain",
        "payload": "NTc=",
        "max-age": 0,
    }
    assert base64.b64decode(items[1]["payload"]).decode() == "héllo"
    assert json.loads(base64.b64decode(items[2]["payload"])) == {"a": 1}
    assert items[2]["ct"] == "application/json"
    assert items[3]["payload"] == "AAE="


def test_admin_async_response(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204
    admin(
        http, emu, "async-response", {"id": "abc", "status": 200, "value": "value1", "max_age": 600}
    )
    admin(http, emu, "async-response", {"id": "def", "status": 504, "error": "TIMEOUT"})
    assert pull(http, emu) == {
        "async-responses": [
            {"id": "abc", "status": 200, "payload": "dmFsdWUx", "ct": "text/plain", "max-age": 600},
            {"id": "def", "status": 504, "error": "TIMEOUT"},
        ]
    }


def test_admin_status_fault(http: urllib3.PoolManager, emu: Emulator) -> None:
    answer = admin(
        http,
        emu,
        "faults",
        {
            "endpoint": "GET /v2/notification/pull",
            "status": 503,
            "headers": {"Retry-After": "1"},
            "count": 2,
        },
    )
    assert answer == {"armed": 2}
    for _ in range(2):
        response = call(http, emu, "GET", "/v2/notification/pull")
        assert_error(response, 503, "service_unavailable")
        assert response.headers["Retry-After"] == "1"
    assert call(http, emu, "GET", "/v2/notification/pull").status == 204


def test_admin_fault_custom_body_and_key_scope(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.add_fault(
        endpoint="PUT /v2/notification/websocket", status=429, body="slow down", api_key="ak_other"
    )
    assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
    response = call(http, emu, "PUT", "/v2/notification/websocket", key="ak_other")
    assert (response.status, response.data) == (429, b"slow down")
    assert call(http, emu, "PUT", "/v2/notification/websocket", key="ak_other").status == 201


def test_admin_delay_fault(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.add_fault(endpoint="GET /v2/notification/channel", delay=0.2)
    started = time.monotonic()
    assert call(http, emu, "GET", "/v2/notification/channel").status == 404
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert call(http, emu, "GET", "/v2/notification/channel").status == 404
    assert time.monotonic() - started < 0.2


def test_admin_rejects_bad_requests(http: urllib3.PoolManager, emu: Emulator) -> None:
    def post(name: str, body: bytes) -> urllib3.BaseHTTPResponse:
        return http.request("POST", f"{emu.url}/_emulator/{name}", body=body)

    assert_error(post("faults", b'{"endpoint": "GET /nowhere", "status": 500}'), 400, "bad_request")
    assert_error(post("faults", b'{"websocket": "explode"}'), 400, "bad_request")
    assert_error(post("notify", b'{"path": "/1/0/1"}'), 400, "bad_request")
    assert_error(post("messages", b"[1]"), 400, "bad_request")
    assert_error(post("messages", b"not json"), 400, "bad_request")
    assert_error(post("nothing", b"{}"), 404, "not_found")
    assert_error(http.request("GET", f"{emu.url}/_emulator/nothing"), 404, "not_found")


def test_admin_requests_are_recorded_and_redacted(http: urllib3.PoolManager, emu: Emulator) -> None:
    call(http, emu, "PUT", "/v2/notification/websocket", body={"x": 1})
    records = admin(http, emu, "requests")
    assert len(records) == 1
    record = records[0]
    assert record["method"] == "PUT"
    assert record["path"] == "/v2/notification/websocket"
    assert record["headers"]["Authorization"] == "[secure]"
    assert record["body"] == '{"x": 1}'
    assert emu.api_key not in json.dumps(records)
    assert emu.requests() == records


def test_admin_reset_and_health(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
    emu.add_fault(endpoint="GET /v2/notification/websocket", status=500)
    health = admin(http, emu, "health")
    assert health["status"] == "ok"
    assert health["channels"] == 1
    assert health["websockets"] == 0
    assert admin(http, emu, "reset", {}) == {"reset": True}
    assert admin(http, emu, "requests") == []
    assert admin(http, emu, "deliveries") == []
    # The channel and the fault are gone.
    assert_error(call(http, emu, "GET", "/v2/notification/websocket"), 404, "not_found")
