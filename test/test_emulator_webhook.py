"""The emulator's webhook (callback) channel: registration checks, deliveries, back-off, give-up.

A small purpose-built receiver (``http.server`` on port 0) plays the customer's web app; the
emulator is driven with plain urllib3, never with the SDK.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
import urllib3

from mds.emulator import Emulator, ManualClock
from servers import wait_until

CALLBACK = "/v2/notification/callback"


class Receiver:
    """A web app receiving webhook PUTs; answers from a script, then ``default``.

    Script entries: an int status, ``("sleep", seconds)`` (then 200), or
    ``("redirect", url)`` (a 302).
    """

    def __init__(
        self, script: list[Any] | None = None, default: int = 200, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script: deque[Any] = deque(script or [])
        self.default = default
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.active += 1
                    receiver.max_active = max(receiver.max_active, receiver.active)
                    receiver.calls.append(
                        {
                            "time": time.monotonic(),
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                    action = receiver.script.popleft() if receiver.script else receiver.default
                try:
                    if isinstance(action, tuple) and action[0] == "sleep":
                        receiver.stopping.wait(action[1])
                        action = 200
                finally:
                    # Done before answering: once the answer is out, the emulator may send the
                    # next request, which must not count as overlapping with this one.
                    with receiver.lock:
                        receiver.active -= 1
                self.send_response(302 if isinstance(action, tuple) else action)
                if isinstance(action, tuple):
                    self.send_header("Location", action[1])
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins the handler threads

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the emulator hung up on a slow answer: expected in timeout tests

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def deliveries(self) -> list[dict[str, Any]]:
        """Calls after the registration check."""
        with self.lock:
            return [call for call in self.calls if call["body"] != b"{}"]

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def new_receiver(receivers: list[Receiver], *args: Any, **kwargs: Any) -> Receiver:
    receiver = Receiver(*args, **kwargs)
    receivers.append(receiver)
    return receiver


@pytest.fixture
def emu(receivers: list[Receiver]) -> Iterator[Emulator]:
    # Depends on receivers so it stops first (closing its connections to them).
    with Emulator(
        webhook_backoff_base=0.02,
        webhook_backoff_cap=0.08,
        webhook_give_up=30.0,
        webhook_timeout=0.3,
    ) as emulator:
        yield emulator


def register(
    http: urllib3.PoolManager,
    emu: Emulator,
    body: Any,
    content_type: str = "application/json",
    key: str | None = None,
) -> urllib3.BaseHTTPResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.request(
        "PUT",
        emu.url + CALLBACK,
        body=data,
        headers={"Authorization": f"Bearer {key or emu.api_key}", "Content-Type": content_type},
    )


def rest(http: urllib3.PoolManager, emu: Emulator, method: str) -> urllib3.BaseHTTPResponse:
    return http.request(
        method, emu.url + CALLBACK, headers={"Authorization": f"Bearer {emu.api_key}"}
    )


def wait_for(predicate: Any) -> None:
    assert wait_until(predicate), "condition not reached in time"


def attempts(emu: Emulator) -> list[tuple[int, int | None]]:
    """(attempt, status) of every delivery the emulator made so far."""
    return [(r["attempt"], r["status"]) for r in emu.deliveries() if r["kind"] == "delivery"]


def paths(call: dict[str, Any]) -> list[str]:
    return [item["path"] for item in json.loads(call["body"])["notifications"]]


# ---------------------------------------------------------------------- registration


def test_registration_sends_validation_put_with_headers(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers)
    response = register(http, emu, {"url": rx.url(), "headers": {"authorization": "s3cret"}})
    assert response.status == 204
    assert len(rx.calls) == 1
    check = rx.calls[0]
    assert check["body"] == b"{}"
    assert check["headers"]["authorization"] == "s3cret"
    assert check["headers"]["content-type"] == "application/json"
    got = rest(http, emu, "GET")
    assert got.status == 200
    assert got.json() == {"url": rx.url(), "headers": {"authorization": "s3cret"}}
    channel = http.request(
        "GET",
        emu.url + "/v2/notification/channel",
        headers={"Authorization": f"Bearer {emu.api_key}"},
    )
    assert channel.json() == {"delivery_mechanism": "CALLBACK"}
    assert emu.deliveries()[0]["kind"] == "validation"


def test_validation_accepts_204(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers, [204])
    assert register(http, emu, {"url": rx.url()}).status == 204


@pytest.mark.parametrize("answer", [500, 404, 201, 302])
def test_validation_failure_is_400(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver], answer: int
) -> None:
    target = new_receiver(receivers)
    script: list[Any] = [("redirect", target.url())] if answer == 302 else [answer]
    rx = new_receiver(receivers, script)
    response = register(http, emu, {"url": rx.url()})
    assert response.status == 400
    assert response.json()["type"] == "bad_request"
    assert target.calls == []  # redirects are not followed
    assert rest(http, emu, "GET").status == 404


def test_validation_connection_refused_is_400(http: urllib3.PoolManager, emu: Emulator) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = register(http, emu, {"url": f"http://127.0.0.1:{port}/hook"})
    assert response.status == 400
    assert "not reachable" in response.json()["message"]
    assert emu.deliveries()[-1]["status"] is None


def test_validation_timeout_is_400(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers, [("sleep", 2.0)])
    started = time.monotonic()
    assert register(http, emu, {"url": rx.url()}).status == 400
    assert time.monotonic() - started < 1.5  # webhook_timeout is 0.3 s
    assert "Timeout" in emu.deliveries()[-1]["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ({"url": "http://127.0.0.1:9/x"}, "text/plain", 415),
        (b"{not json", "application/json", 400),
        ({"headers": {}}, "application/json", 400),
        ({"url": 42}, "application/json", 400),
        ([1, 2], "application/json", 400),
        ({"url": "http://127.0.0.1:9/x", "headers": {"a": 1}}, "application/json", 400),
        ({"url": "ftp://127.0.0.1/x"}, "application/json", 400),
        ({"url": "not a url"}, "application/json", 400),
        ({"url": "http://127.0.0.1:9/" + "x" * 400}, "application/json", 400),
    ],
)
def test_registration_body_errors(
    http: urllib3.PoolManager, emu: Emulator, body: Any, content_type: str, status: int
) -> None:
    response = register(http, emu, body, content_type)
    assert response.status == status
    assert response.json()["code"] == status
    assert emu.deliveries() == []  # refused before any validation request


def test_400_character_limit_counts_url_and_headers(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers)
    base = rx.url("/")
    headers = {"x-a": "v" * (400 - len(base) - 3)}
    assert register(http, emu, {"url": base, "headers": headers}).status == 204
    headers = {"x-a": "v" * (401 - len(base) - 3)}
    response = register(http, emu, {"url": base, "headers": headers})
    assert response.status == 400
    assert "400 characters" in json.dumps(response.json())


def test_charset_parameter_is_still_json(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers)
    assert register(http, emu, {"url": rx.url()}, "application/json; charset=utf-8").status == 204


def test_other_channel_type_blocks_registration(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers)
    auth = {"Authorization": f"Bearer {emu.api_key}"}
    assert http.request("PUT", emu.url + "/v2/notification/websocket", headers=auth).status == 201
    response = register(http, emu, {"url": rx.url()})
    assert response.status == 400
    assert "other type of channel already exists" in response.json()["message"]
    assert rx.calls == []
    # And the other way round.
    assert (
        http.request("DELETE", emu.url + "/v2/notification/websocket", headers=auth).status == 204
    )
    assert register(http, emu, {"url": rx.url()}).status == 204
    assert http.request("PUT", emu.url + "/v2/notification/websocket", headers=auth).status == 400
    assert http.request("GET", emu.url + "/v2/notification/pull", headers=auth).status == 400


# ---------------------------------------------------------------------- deliveries


def test_deliveries_carry_headers_and_one_message(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers)
    assert (
        register(http, emu, {"url": rx.url(), "headers": {"authorization": "s3cret"}}).status == 204
    )
    message = {
        "notifications": [
            {"ep": "d", "path": f"/1/0/{n}", "ct": "text/plain", "payload": "MQ==", "max-age": 0}
            for n in range(3)
        ],
        "de-registrations": ["d"],
    }
    assert emu.queue_message(message) == 1
    wait_for(lambda: len(rx.deliveries()) == 1)
    call = rx.deliveries()[0]
    assert call["headers"]["authorization"] == "s3cret"
    assert call["headers"]["content-type"] == "application/json"
    assert json.loads(call["body"]) == message
    wait_for(lambda: emu.deliveries()[-1]["kind"] == "delivery")  # recorded once answered
    record = emu.deliveries()[-1]
    assert (record["kind"], record["status"], record["attempt"], record["items"]) == (
        "delivery",
        200,
        1,
        4,
    )


def test_one_batch_in_flight_in_order(http: urllib3.PoolManager, receivers: list[Receiver]) -> None:
    rx = new_receiver(receivers, [200] + [("sleep", 0.03)] * 5)
    with Emulator(batch_limit=1, webhook_timeout=2.0) as emu:
        assert register(http, emu, {"url": rx.url()}).status == 204
        for n in range(5):
            emu.notify("d", f"/1/0/{n}", n)
        wait_for(lambda: len(rx.deliveries()) == 5)
        assert [paths(call) for call in rx.deliveries()] == [[f"/1/0/{n}"] for n in range(5)]
        assert rx.max_active == 1


def test_retry_backoff_grows_and_caps_same_batch(
    http: urllib3.PoolManager, receivers: list[Receiver]
) -> None:
    failures = 6
    rx = new_receiver(receivers, [200] + [500] * failures)
    clock = ManualClock()
    with Emulator(webhook_backoff_base=1, webhook_backoff_cap=4, clock=clock) as emu:
        assert register(http, emu, {"url": rx.url()}).status == 204
        emu.notify("d", "/1/0/0", 0)
        # Each retry comes when the clock reaches its back-off: 1, 2, 4 (the cap), 4, ... s.
        for attempt, delay in enumerate([1, 2, 4, 4, 4, 4], start=1):
            wait_for(lambda attempt=attempt: len(attempts(emu)) == attempt)
            if attempt == 1:
                emu.notify("d", "/1/0/1", 1)  # queued while the first batch is being retried
            clock.advance(delay)
        wait_for(lambda: len(attempts(emu)) == failures + 2)
        assert attempts(emu) == [(n, 500) for n in range(1, 7)] + [(7, 200), (1, 200)]
    calls = rx.deliveries()
    # Every retry sends the same batch; the new item waits for the next one.
    assert all(call["body"] == calls[0]["body"] for call in calls[: failures + 1])
    assert paths(calls[failures]) == ["/1/0/0"]
    assert paths(calls[failures + 1]) == ["/1/0/1"]


def test_timeout_is_a_failure_and_is_retried(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers, [200, ("sleep", 1.0)])
    assert register(http, emu, {"url": rx.url()}).status == 204
    emu.notify("d", "/1/0/0", 0)
    wait_for(lambda: any(r["status"] == 200 for r in emu.deliveries() if r["kind"] == "delivery"))
    records = [r for r in emu.deliveries() if r["kind"] == "delivery"]
    assert records[0]["status"] is None
    assert "Timeout" in records[0]["error"]
    assert (records[1]["attempt"], records[1]["status"]) == (2, 200)


def test_give_up_removes_callback_and_queue(
    http: urllib3.PoolManager, receivers: list[Receiver]
) -> None:
    rx = new_receiver(receivers, [200], default=503)
    clock = ManualClock()
    with Emulator(
        webhook_backoff_base=1, webhook_backoff_cap=4, webhook_give_up=10, clock=clock
    ) as emu:
        assert register(http, emu, {"url": rx.url()}).status == 204
        emu.notify("d", "/1/0/0", 0)
        # Failures at 0, 1, 3 and 7 s are retried; the one at 11 s is 10 s after the first.
        for attempt, delay in enumerate([1, 2, 4, 4], start=1):
            wait_for(lambda attempt=attempt: len(attempts(emu)) == attempt)
            assert rest(http, emu, "GET").status == 200
            clock.advance(delay)
        wait_for(lambda: rest(http, emu, "GET").status == 404)
        assert attempts(emu) == [(n, 503) for n in range(1, 6)]
        assert emu.deliveries()[-1]["kind"] == "removed"
        assert len(rx.deliveries()) == 5
        assert emu.notify("d", "/1/0/1", 1) == 0  # no channel any more
        # The worker stopped.
        wait_for(lambda: not [t for t in threading.enumerate() if t.name == "mds-emulator-webhook"])


def test_reregistering_replaces_url(
    http: urllib3.PoolManager, emu: Emulator, receivers: list[Receiver]
) -> None:
    first = new_receiver(receivers)
    second = new_receiver(receivers)
    assert register(http, emu, {"url": first.url()}).status == 204
    assert register(http, emu, {"url": second.url(), "headers": {"x-k": "v"}}).status == 204
    assert rest(http, emu, "GET").json() == {"url": second.url(), "headers": {"x-k": "v"}}
    emu.notify("d", "/1/0/0", 0)
    wait_for(lambda: len(second.deliveries()) == 1)
    assert first.deliveries() == []
    # A replacement that fails validation keeps the working callback.
    broken = new_receiver(receivers, [500])
    assert register(http, emu, {"url": broken.url()}).status == 400
    assert rest(http, emu, "GET").json()["url"] == second.url()


def test_reregistering_restarts_a_failing_delivery_at_the_new_url(
    http: urllib3.PoolManager, receivers: list[Receiver]
) -> None:
    failing = new_receiver(receivers, [200], default=500)
    working = new_receiver(receivers)
    # The clock never moves: the back-off after the failure would never end.
    with Emulator(webhook_backoff_base=5.0, clock=ManualClock()) as emu:
        assert register(http, emu, {"url": failing.url()}).status == 204
        emu.notify("d", "/1/0/0", 0)
        wait_for(lambda: attempts(emu) == [(1, 500)])
        assert register(http, emu, {"url": working.url()}).status == 204
        wait_for(lambda: len(working.deliveries()) == 1)
        assert paths(working.deliveries()[0]) == ["/1/0/0"]
        # The emulator records an attempt once its answer is back: after the receiver has it.
        wait_for(lambda: attempts(emu) == [(1, 500), (2, 200)])


def test_delete_drops_queue(http: urllib3.PoolManager, receivers: list[Receiver]) -> None:
    rx = new_receiver(receivers, [200], default=500)
    # With the clock standing still, the failed delivery waits for its back-off until deleted.
    with Emulator(clock=ManualClock()) as emu:
        assert register(http, emu, {"url": rx.url()}).status == 204
        emu.notify("d", "/1/0/old", 0)
        wait_for(lambda: attempts(emu) == [(1, 500)])
        assert rest(http, emu, "DELETE").status == 204
        assert rest(http, emu, "DELETE").status == 404
        assert rest(http, emu, "GET").status == 404
        rx.default = 200
        assert register(http, emu, {"url": rx.url()}).status == 204
        emu.notify("d", "/1/0/new", 1)
        wait_for(lambda: len(rx.deliveries()) == 2)
        # The old item would have come first: it went with the deleted channel's queue.
        assert paths(rx.deliveries()[1]) == ["/1/0/new"]
        wait_for(lambda: attempts(emu) == [(1, 500), (1, 200)])  # recorded after the answer


def test_https_callback_with_trusted_ca(
    http: urllib3.PoolManager, receivers: list[Receiver], tmp_path: Path
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    rx = new_receiver(receivers, tls=server_context)
    with Emulator(webhook_ca_certs=str(ca_path), webhook_timeout=2.0) as emu:
        assert register(http, emu, {"url": rx.url()}).status == 204
        emu.notify("d", "/1/0/0", 0)
        wait_for(lambda: len(rx.deliveries()) == 1)
    with Emulator(webhook_timeout=2.0) as emu:  # the throw-away CA is not trusted by default
        response = register(http, emu, {"url": rx.url()})
        assert response.status == 400
        assert "SSL" in emu.deliveries()[-1]["error"]
