"""The emulator's websocket channel: handshake statuses, every close code, queueing and delivery.

Driven by websockets' own threading client and plain urllib3, never by the SDK.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mds.emulator import Emulator, ManualClock
from servers import wait_until

FAST: dict[str, Any] = {"long_poll_hold": 0.3, "websocket_expiry": 30.0}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(**FAST) as emulator:
        yield emulator


def rest(
    http: urllib3.PoolManager, emu: Emulator, method: str, path: str, key: str | None = None
) -> urllib3.BaseHTTPResponse:
    return http.request(
        method, emu.url + path, headers={"Authorization": f"Bearer {key or emu.api_key}"}
    )


def ws_url(emu: Emulator) -> str:
    return "ws" + emu.url[len("http") :] + "/v2/notification/websocket-connect"


def open_socket(emu: Emulator, key: str | None = None, **kwargs: Any) -> ClientConnection:
    """Connect with the subprotocol offer, as browsers and the SDK do."""
    kwargs.setdefault("subprotocols", ["wss", f"pelion_{key or emu.api_key}"])
    kwargs.setdefault("open_timeout", 5)
    kwargs.setdefault("close_timeout", 2)
    kwargs.setdefault("max_size", None)
    if "legacy" in inspect.signature(connect).parameters:
        kwargs.setdefault("legacy", True)  # websockets >= 17.1 warns on direct use otherwise
    connection: ClientConnection = connect(ws_url(emu), **kwargs)
    return connection


def register(http: urllib3.PoolManager, emu: Emulator, key: str | None = None) -> None:
    assert rest(http, emu, "PUT", "/v2/notification/websocket", key).status in (200, 201)


def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int | None, str | None]:
    """Read until the socket closes; return its close code and reason."""
    deadline = time.monotonic() + timeout
    try:
        while True:  # a recv() that times out (TimeoutError) fails the test
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed:
        return ws.close_code, ws.close_reason


def values(frame: str | bytes) -> list[str]:
    message = json.loads(frame)
    return [item["path"] for item in message["notifications"]]


def status_of(http: urllib3.PoolManager, emu: Emulator, key: str | None = None) -> dict[str, Any]:
    response = rest(http, emu, "GET", "/v2/notification/websocket", key)
    assert response.status == 200
    result: dict[str, Any] = response.json()
    return result


def wait_for(predicate: Any) -> None:
    assert wait_until(predicate), "condition not reached in time"


# ---------------------------------------------------------------------- handshake


def test_subprotocol_auth_answers_wss_and_delivers(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    register(http, emu)
    with open_socket(emu) as ws:
        assert ws.subprotocol == "wss"
        wait_for(lambda: status_of(http, emu)["status"] == "connected")
        emu.notify("dev", "/3303/0/5700", 21.5)
        frame = ws.recv(timeout=5)
        assert isinstance(frame, str)  # a text frame
        assert json.loads(frame) == {
            "notifications": [
                {
                    "ep": "dev",
                    "path": "/3303/0/5700",
                    "ct": "text/plain",
                    "payload": "MjEuNQ==",
                    "max-age": 0,
                }
            ]
        }
    wait_for(lambda: status_of(http, emu)["status"] == "disconnected")


def test_authorization_header_without_wss_offer(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    with open_socket(emu, subprotocols=["chat"], additional_headers=headers) as ws:
        assert ws.subprotocol is None
        emu.notify("dev", "/1/0/1", 1)
        assert values(ws.recv(timeout=5)) == ["/1/0/1"]
    with open_socket(emu, subprotocols=None, additional_headers=headers) as ws:
        assert ws.subprotocol is None
        emu.notify("dev", "/1/0/2", 1)
        assert values(ws.recv(timeout=5)) == ["/1/0/2"]


def upgrade_request(
    http: urllib3.PoolManager, emu: Emulator, headers: dict[str, str]
) -> urllib3.BaseHTTPResponse:
    return http.request("GET", emu.url + "/v2/notification/websocket-connect", headers=headers)


HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def test_handshake_without_upgrade_headers_is_426(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    auth = {"Authorization": f"Bearer {emu.api_key}"}
    response = upgrade_request(http, emu, auth)
    assert response.status == 426
    assert response.json()["type"] == "upgrade_required"
    assert response.headers["Upgrade"] == "websocket"
    headers = dict(HANDSHAKE, **auth)
    del headers["Upgrade"]
    assert upgrade_request(http, emu, headers).status == 426


@pytest.mark.parametrize("missing", ["Sec-WebSocket-Key", "Sec-WebSocket-Version"])
def test_handshake_missing_websocket_header_is_400(
    http: urllib3.PoolManager, emu: Emulator, missing: str
) -> None:
    register(http, emu)
    headers = dict(HANDSHAKE, Authorization=f"Bearer {emu.api_key}")
    del headers[missing]
    response = upgrade_request(http, emu, headers)
    assert response.status == 400
    assert missing in response.json()["message"]


def test_malformed_handshake_is_refused_and_binds_nothing(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    register(http, emu)
    headers = dict(HANDSHAKE, Authorization=f"Bearer {emu.api_key}")
    headers["Sec-WebSocket-Key"] = "not base64 of 16 bytes"
    response = upgrade_request(http, emu, headers)
    assert response.status == 400
    assert response.headers["Connection"] == "close"
    assert status_of(http, emu)["status"] == "disconnected"
    with open_socket(emu) as ws:  # the key's handshake slot was given back
        assert ws.subprotocol == "wss"


def test_handshake_without_credentials_is_401(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    response = upgrade_request(http, emu, HANDSHAKE)
    assert response.status == 401
    assert response.json()["type"] == "unauthorized"
    with pytest.raises(InvalidStatus, match="401"):
        open_socket(emu, subprotocols=["wss"])


def test_concurrent_handshake_for_one_key_is_429(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    emu.add_fault(endpoint="GET /v2/notification/websocket-connect", delay=0.5)
    opened: list[ClientConnection] = []
    thread = threading.Thread(target=lambda: opened.append(open_socket(emu)))
    thread.start()
    try:
        # The PUT and the slow handshake, which holds the key's handshake slot from before it
        # takes the delay fault until the delay is over.
        wait_for(lambda: len(emu.requests()) == 2)
        response = upgrade_request(
            http, emu, dict(HANDSHAKE, Authorization=f"Bearer {emu.api_key}")
        )
        assert response.status == 429
        assert response.json()["type"] == "too_many_requests"
    finally:
        thread.join()
        for ws in opened:
            ws.close()
    assert len(opened) == 1


def test_status_fault_on_connect(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    emu.add_fault(endpoint="GET /v2/notification/websocket-connect", status=503)
    response = upgrade_request(http, emu, dict(HANDSHAKE, Authorization=f"Bearer {emu.api_key}"))
    assert response.status == 503
    with open_socket(emu) as ws:  # the fault was used up
        assert ws.subprotocol == "wss"


# ---------------------------------------------------------------------- close codes


def test_invalid_key_closes_1008(http: urllib3.PoolManager) -> None:
    with Emulator(api_keys=["ak_good"]) as emu:
        register(http, emu)
        with open_socket(emu, key="ak_bad") as ws:
            assert closed_with(ws)[0] == 1008
        with open_socket(emu, key="not-an-api-key") as ws:
            assert closed_with(ws)[0] == 1008
        records = emu.requests()
        assert all("ak_bad" not in json.dumps(record) for record in records)
        assert records[-1]["headers"]["Sec-WebSocket-Protocol"] == "wss, [secure]"


def test_unregistered_channel_closes_1011(http: urllib3.PoolManager, emu: Emulator) -> None:
    with open_socket(emu) as ws:
        assert closed_with(ws)[0] == 1011
    # Registering and reconnecting works.
    register(http, emu)
    with open_socket(emu) as ws:
        emu.notify("dev", "/1/0/1", 1)
        assert values(ws.recv(timeout=5)) == ["/1/0/1"]


def test_rest_delete_closes_1000_and_drops_queue(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    with open_socket(emu) as ws:
        wait_for(lambda: status_of(http, emu)["status"] == "connected")
        assert rest(http, emu, "DELETE", "/v2/notification/websocket").status == 204
        assert closed_with(ws)[0] == 1000
    assert rest(http, emu, "GET", "/v2/notification/websocket").status == 404


def test_second_connection_replaces_first_with_1001(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    register(http, emu)
    with open_socket(emu) as first:
        wait_for(lambda: status_of(http, emu)["status"] == "connected")
        with open_socket(emu) as second:
            code, _reason = closed_with(first)
            assert code == 1001
            emu.notify("dev", "/1/0/1", 1)
            assert values(second.recv(timeout=5)) == ["/1/0/1"]
            assert status_of(http, emu)["status"] == "connected"


def test_stop_closes_1001() -> None:
    emu = Emulator().start()
    try:
        http = urllib3.PoolManager(retries=False)
        register(http, emu)
        http.clear()
        ws = open_socket(emu)
    finally:
        emu.stop()
    try:
        assert closed_with(ws)[0] == 1001
    finally:
        ws.close()


def test_fault_close_1012(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    register(http, emu, "ak_other")
    with open_socket(emu) as ws, open_socket(emu, key="ak_other") as other:
        wait_for(lambda: emu.health()["websockets"] == 2)
        assert emu.add_fault(
            websocket="close", code=1012, reason="restart", api_key=emu.api_key
        ) == {"sockets": 1}
        assert closed_with(ws) == (1012, "restart")
        emu.notify("dev", "/1/0/1", 1, api_key="ak_other")
        assert values(other.recv(timeout=5)) == ["/1/0/1"]  # the other key's socket is untouched


def test_fault_drop_is_1006_after_frames_already_sent(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    register(http, emu)
    with open_socket(emu) as ws:
        wait_for(lambda: emu.health()["websockets"] == 1)
        emu.notify("dev", "/1/0/1", 1)
        wait_for(lambda: status_of(http, emu)["queueSize"] == 0)
        assert emu.add_fault(websocket="drop") == {"sockets": 1}
        assert values(ws.recv(timeout=5)) == ["/1/0/1"]
        assert closed_with(ws)[0] == 1006
    # The channel survives a dropped connection.
    assert status_of(http, emu)["status"] == "disconnected"


def test_client_close_is_1000_and_channel_stays(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    ws = open_socket(emu)
    ws.close()
    assert ws.close_code == 1000
    wait_for(lambda: status_of(http, emu)["status"] == "disconnected")
    emu.notify("dev", "/1/0/1", 1)
    assert status_of(http, emu)["queueSize"] == 1


# ---------------------------------------------------------------------- delivery


def test_queue_while_disconnected_then_in_order(http: urllib3.PoolManager) -> None:
    with Emulator(batch_limit=4) as emu:
        register(http, emu)
        for n in range(10):
            emu.notify("dev", f"/1/0/{n}", n)
        assert status_of(http, emu) | {"channelId": ""} == {
            "channelId": "",
            "queueSize": 10,
            "status": "disconnected",
        }
        with open_socket(emu) as ws:
            received: list[str] = []
            sizes = []
            while len(received) < 10:
                batch = values(ws.recv(timeout=5))
                sizes.append(len(batch))
                received.extend(batch)
            assert received == [f"/1/0/{n}" for n in range(10)]
            assert max(sizes) <= 4
            assert status_of(http, emu)["queueSize"] == 0


def test_every_kind_arrives_as_one_message_per_frame(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    register(http, emu)
    emu.register_device("dev", ept="Light")
    emu.async_response("id-1", status=504, error="TIMEOUT")
    with open_socket(emu) as ws:
        assert json.loads(ws.recv(timeout=5)) == {
            "registrations": [{"ep": "dev", "ept": "Light", "q": False, "resources": []}],
            "async-responses": [{"id": "id-1", "status": 504, "error": "TIMEOUT"}],
        }


def test_drop_every_k_frames_loses_nothing_with_reconnects(http: urllib3.PoolManager) -> None:
    with Emulator(batch_limit=1) as emu:
        register(http, emu)
        total = 12
        for n in range(total):
            emu.notify("dev", f"/1/0/{n}", n)
        assert emu.add_fault(websocket="drop", every=5) == {"armed": 1}
        received: list[str] = []
        codes = []
        while len(received) < total:
            with open_socket(emu) as ws:
                try:
                    while len(received) < total:
                        received.extend(values(ws.recv(timeout=5)))
                except ConnectionClosed:
                    codes.append(ws.close_code)
        assert received == [f"/1/0/{n}" for n in range(total)]
        assert codes == [1006, 1006]
        emu.reset()  # ends the drop-every fault
        register(http, emu)
        with open_socket(emu) as ws:
            for n in range(6):
                emu.notify("dev", f"/2/0/{n}", n)
            got: list[str] = []
            while len(got) < 6:
                got.extend(values(ws.recv(timeout=5)))
            assert got == [f"/2/0/{n}" for n in range(6)]


def test_pings_are_answered(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    with open_socket(emu) as ws:
        assert ws.ping().wait(5)
        ws.send("clients are not supposed to send, but it must not hurt")
        assert ws.ping().wait(5)
        emu.notify("dev", "/1/0/1", 1)
        assert values(ws.recv(timeout=5)) == ["/1/0/1"]


def test_channel_expires_after_disconnect(http: urllib3.PoolManager) -> None:
    clock = ManualClock()
    with Emulator(websocket_expiry=86400, clock=clock) as emu:
        register(http, emu)
        with open_socket(emu):
            wait_for(lambda: status_of(http, emu)["status"] == "connected")
            clock.advance(2 * 86400)  # connected: no expiry
            assert status_of(http, emu)["status"] == "connected"
        wait_for(lambda: status_of(http, emu)["status"] == "disconnected")
        clock.advance(86399)
        assert status_of(http, emu)["status"] == "disconnected"
        clock.advance(1)
        assert rest(http, emu, "GET", "/v2/notification/websocket").status == 404
        with open_socket(emu) as ws:
            assert closed_with(ws)[0] == 1011


def test_reset_closes_sockets_with_1001(http: urllib3.PoolManager, emu: Emulator) -> None:
    register(http, emu)
    with open_socket(emu) as ws:
        wait_for(lambda: emu.health()["websockets"] == 1)
        emu.reset()
        assert closed_with(ws)[0] == 1001
    assert rest(http, emu, "GET", "/v2/notification/websocket").status == 404


def test_stop_leaves_no_emulator_threads(http: urllib3.PoolManager) -> None:
    emu = Emulator(long_poll_hold=30.0).start()
    try:
        register(http, emu)
        register(http, emu, "ak_second")
        ws = open_socket(emu)
        poller = threading.Thread(
            target=lambda: rest(http, emu, "GET", "/v2/notification/pull", "ak_longpoll")
        )
        poller.start()
        wait_for(lambda: emu.health()["channels"] == 3)
    finally:
        started = time.monotonic()
        emu.stop()
    assert time.monotonic() - started < 1.0
    poller.join(5)
    try:
        assert closed_with(ws)[0] == 1001
    finally:
        ws.close()
    left = [t for t in threading.enumerate() if t.name.startswith("mds-emulator")]
    assert left == []
