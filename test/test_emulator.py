"""The emulator's REST endpoints, long poll, batching, key isolation and admin API.

Driven only by independent clients (urllib3), never by the SDK, so that the emulator and the SDK
cannot agree on a mistake.
"""

from __future__ import annotations

import base64
import json
import pydoc
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from mds.emulator import Emulator, ManualClock
from mds.emulator._messages import build_message, split_message
from mds.emulator.pytest_plugin import mds_client, mds_emulator  # noqa: F401 - fixtures
from servers import wait_until

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
    body: dict[str, Any] = response.json()
    assert body["object"] == "error"
    assert body["code"] == status
    assert body["type"] == kind
    assert isinstance(body["message"], str)
    assert body["message"]
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
    with pytest.raises(ValueError, match="at least one non-empty key"):
        Emulator(api_keys=[])
    with pytest.raises(ValueError, match="long_poll_hold must not be negative"):
        Emulator(long_poll_hold=-1)
    with pytest.raises(ValueError, match="batch_limit must be at least 1"):
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
    response = call(http, emu, "PATCH", "/v2/notification/pull")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, DELETE"
    response = call(http, emu, "HEAD", "/v2/notification/channel")
    assert response.status == 405
    assert response.data == b""  # HEAD: headers only


def test_request_bodies_chunked_or_malformed(http: urllib3.PoolManager, emu: Emulator) -> None:
    url = emu.url + "/v2/notification/websocket"
    auth = {"Authorization": f"Bearer {emu.api_key}"}
    chunked = http.request("PUT", url, body=iter([b'{"a":', b" 1}"]), headers=auth, chunked=True)
    assert chunked.status == 201
    assert emu.requests()[-1]["body"] == '{"a": 1}'
    for headers, status in [
        ({"Content-Length": "ten"}, 400),
        ({"Content-Length": str(17 * 1024 * 1024)}, 413),
    ]:
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            sock.sendall(f"PUT /v2/notification/websocket HTTP/1.1\r\n{head}\r\n".encode())
            assert sock.recv(65536).startswith(f"HTTP/1.1 {status} ".encode())
    for chunks, status in [(b"zz\r\n", 400), (b"1100001\r\n", 413)]:
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
            sock.sendall(
                b"PUT /v2/notification/websocket HTTP/1.1\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + chunks
            )
            assert sock.recv(65536).startswith(f"HTTP/1.1 {status} ".encode())


def test_ipv6_host(http: urllib3.PoolManager) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        emu = Emulator(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert emu.url == f"http://[::1]:{emu.port}"
        assert http.request("GET", emu.url + "/_emulator/health").json()["status"] == "ok"
    finally:
        emu.stop()


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
    assert isinstance(channel["channelId"], str)
    assert channel["channelId"]
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
    clock = ManualClock()
    with Emulator(websocket_expiry=86400, clock=clock) as emu:
        assert call(http, emu, "PUT", "/v2/notification/websocket").status == 201
        assert emu.notify("dev", "/1/0/1", 1) == 1
        clock.advance(86399)
        assert call(http, emu, "GET", "/v2/notification/websocket").json()["queueSize"] == 1
        clock.advance(1)
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


def held_poll(http: urllib3.PoolManager, emu: Emulator, key: str | None = None) -> list[int]:
    """Start a long-poll GET in a thread; returns once it is held (its status list fills later).

    The GET creates the channel and starts holding in one step, so a new channel means a held GET.
    """
    channels = emu.health()["channels"]
    status: list[int] = []
    thread = threading.Thread(
        target=lambda: status.append(
            call(http, emu, "GET", "/v2/notification/pull", key=key or emu.api_key).status
        ),
        daemon=True,
    )
    thread.start()
    assert wait_until(lambda: emu.health()["channels"] > channels)
    return status


def test_second_concurrent_long_poll_is_409(http: urllib3.PoolManager) -> None:
    with Emulator(clock=ManualClock()) as emu:
        first = held_poll(http, emu)
        assert_error(call(http, emu, "GET", "/v2/notification/pull"), 409, "conflict")
        emu.notify("dev", "/1/0/1", 1)
        assert wait_until(lambda: first == [200])


def test_manual_clock_ends_a_held_long_poll(http: urllib3.PoolManager) -> None:
    clock = ManualClock()
    with Emulator(long_poll_hold=30, clock=clock) as emu:
        status = held_poll(http, emu)
        clock.advance(29)
        assert emu.notify("dev", "/1/0/1", 1) == 1  # still held: it takes the notification
        assert wait_until(lambda: status == [200])
        status = held_poll(http, emu, key="ak_second")
        clock.advance(30)
        assert wait_until(lambda: status == [204])


def test_long_poll_delete_and_purge_window(http: urllib3.PoolManager) -> None:
    clock = ManualClock()
    with Emulator(long_poll_hold=0, purge_window=120, clock=clock) as emu:
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
        clock.advance(119)
        assert_error(call(http, emu, "GET", "/v2/notification/pull"), 410, "gone")
        clock.advance(1)  # the purge window is over
        response = call(http, emu, "GET", "/v2/notification/pull")
        assert response.status == 204  # a new, empty channel: the old queue is gone


def test_delete_during_a_held_poll_ends_it_with_410(http: urllib3.PoolManager) -> None:
    with Emulator(clock=ManualClock()) as emu:
        result = held_poll(http, emu)
        assert call(http, emu, "DELETE", "/v2/notification/pull").data == b"REMOVED"
        assert wait_until(lambda: result == [410])


def test_long_poll_channel_expires(http: urllib3.PoolManager) -> None:
    clock = ManualClock()
    with Emulator(long_poll_hold=0.0, pull_expiry=600, clock=clock) as emu:
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204
        assert emu.notify("dev", "/1/0/1", 1) == 1
        clock.advance(599)
        assert emu.health()["channels"] == 1
        clock.advance(1)
        assert emu.notify("dev", "/1/0/1", 2) == 0
        assert_error(call(http, emu, "GET", "/v2/notification/channel"), 404, "not_found")
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204  # queue dropped


def test_stop_answers_held_long_poll(http: urllib3.PoolManager) -> None:
    emu = Emulator(long_poll_hold=30.0).start()
    try:
        result = held_poll(http, emu)
        started = time.monotonic()
    finally:
        emu.stop()
    assert wait_until(lambda: result == [204])
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
    clock = ManualClock()
    with Emulator(long_poll_hold=30, clock=clock) as emu:
        keys = [f"ak_key{n}" for n in range(4)]
        for key in keys[:2]:
            assert call(http, emu, "PUT", "/v2/notification/websocket", key=key).status == 201
        results = {key: held_poll(http, emu, key) for key in keys[2:]}
        assert emu.notify("dev", "/1/0/1", "for-key2", api_key="ak_key2") == 1
        assert wait_until(lambda: results["ak_key2"] == [200])
        assert results["ak_key3"] == []  # still held
        clock.advance(30)
        assert wait_until(lambda: results["ak_key3"] == [204])  # held the full time, got nothing
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


def test_injection_methods(http: urllib3.PoolManager) -> None:
    with Emulator(api_keys="ak_single", long_poll_hold=0) as emu:  # one key as a plain string
        assert emu.api_key == "ak_single"
        assert call(http, emu, "GET", "/v2/notification/pull").status == 204
        emu.notify("d", "/1/0/0")  # no value: an empty payload
        emu.notify("d", "/1/0/1", True)
        emu.notify("d", "/1/0/2", None, ct="application/json")
        emu.update_registration("d", q=True)
        emu.expire_registration("d")
        emu.async_response("id", status=202, ct="text/plain")
        message = pull(http, emu)
        assert [item["payload"] for item in message["notifications"]] == ["", "dHJ1ZQ==", "bnVsbA=="]
        assert message["reg-updates"] == [{"ep": "d", "q": True, "resources": []}]
        assert message["registrations-expired"] == ["d"]
        assert message["async-responses"] == [{"id": "id", "status": 202, "ct": "text/plain"}]
        with pytest.raises(TypeError, match="NotificationMessage"):
            emu.queue_message([("notifications", [])])  # type: ignore[arg-type]


def test_help_lists_the_options() -> None:
    text = pydoc.render_doc(Emulator)
    assert "long_poll_hold" in text
    assert "ManualClock" in text


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


def test_fault_bodies(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.add_fault(endpoint="DELETE /v2/notification/callback", status=204)
    emu.add_fault(
        endpoint="GET /v2/notification/callback",
        status=200,
        body={"url": "https://example.com/hook", "headers": {}},
    )
    emu.add_fault(
        endpoint="GET /v2/notification/channel",
        status=500,
        body="<html>oops</html>",
        headers={"Content-Type": "text/html"},
    )
    deleted = call(http, emu, "DELETE", "/v2/notification/callback")
    assert (deleted.status, deleted.data) == (204, b"")
    got = call(http, emu, "GET", "/v2/notification/callback")
    assert got.headers["Content-Type"] == "application/json"
    assert got.json() == {"url": "https://example.com/hook", "headers": {}}
    channel = call(http, emu, "GET", "/v2/notification/channel")
    assert (channel.status, channel.headers["Content-Type"]) == (500, "text/html")
    assert channel.data == b"<html>oops</html>"


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
    assert_error(post("messages", b'{"message": [1]}'), 400, "bad_request")
    assert_error(post("deregister", b'{"ep": "d", "api_key": 1}'), 400, "bad_request")
    assert_error(post("nothing", b"{}"), 404, "not_found")
    assert_error(http.request("GET", f"{emu.url}/_emulator/nothing"), 404, "not_found")
    response = http.request("PUT", f"{emu.url}/_emulator/reset")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, POST"


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


@pytest.mark.parametrize(("spec", "message"), [
    ({"status": 101}, "final HTTP status"),
    ({"status": True}, "final HTTP status"),
    ({"delay": 1e12}, "delay must be a number of seconds"),
    ({"delay": float("nan")}, "delay must be a number of seconds"),
    ({"status": 503, "headers": {"Retry-After": "1\r\nX-Injected: 1"}}, "cannot be sent"),
    ({"status": 503, "headers": {"Bad Name": "1"}}, "cannot be sent"),
])
def test_add_fault_refuses_what_could_not_be_answered(spec: dict[str, Any], message: str) -> None:
    # The same checks as the admin API's (found by fuzzing there): each of these used to drop the
    # faulted request's connection, or leave its client waiting, instead of answering.
    with Emulator() as emu, pytest.raises(ValueError, match=message):
        emu.add_fault(endpoint="GET /v2/notification/callback", **spec)
