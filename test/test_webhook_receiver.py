"""WebhookReceiver under real WSGI servers (waitress, wsgiref) with the emulator delivering, and
byte-level requests for the refusals; parse_webhook; register_webhook_with_secret."""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import mds
from mds.async_responses import AsyncResponses
from mds.emulator import Emulator
from mds.events import DeviceRegistered, ResourceChanged
from mds.webhook_receiver import (
    WebhookReceiver,
    parse_webhook,
    register_webhook_with_secret,
)
from servers import wait_until

SECRET = "s3cr3t-value-never-shown"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _ThreadedWSGIServer(WSGIServer):
    daemon_threads = True


def serve_wsgiref(app: Any) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadedWSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return f"http://127.0.0.1:{server.server_port}/hook", stop


def serve_waitress(app: Any) -> tuple[str, Callable[[], None]]:
    """waitress in a thread; its loop runs in slices so that the thread itself closes every
    socket when told to stop (closing them from another thread races its select())."""
    from waitress import wasyncore
    from waitress.server import create_server

    server: Any = create_server(app, host="127.0.0.1", port=0, threads=2)
    stopping = threading.Event()

    def run() -> None:
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        server.close()
        wasyncore.close_all(server._map)

    thread = threading.Thread(target=run)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join()

    return f"http://127.0.0.1:{server.effective_port}/hook", stop


@pytest.fixture(params=["waitress", "wsgiref"])
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[[Any], str]]:
    stops: list[Callable[[], None]] = []

    def start(app: Any) -> str:
        url, stop = (serve_waitress if request.param == "waitress" else serve_wsgiref)(app)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


def raw_request(url: str, method: str = "PUT", body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, "/hook", body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# -- end to end -------------------------------------------------------------------------------

def test_emulator_delivers_to_the_receiver(mds_emulator: Emulator, mds_client: mds.ApiClient,
                                           serve: Callable[[Any], str]) -> None:
    events: list[Any] = []
    messages: list[mds.NotificationMessage] = []
    registry = AsyncResponses()
    receiver = WebhookReceiver({"authorization": SECRET}, on_event=events.append,
                               on_message=messages.append, async_responses=registry)
    url = serve(receiver)
    api = mds.NotificationsApi(mds_client)
    assert register_webhook_with_secret(api, url, SECRET) == SECRET
    assert api.get_webhook().url == url
    for i in range(5):
        mds_emulator.notify("dev", "/3303/0/5700", i)
    mds_emulator.register_device("dev-2", ept="Light")
    mds_emulator.async_response("req-9", value="ok")
    assert wait_until(lambda: len(events) == 7)
    assert [e.value for e in events[:5]] == [0, 1, 2, 3, 4]
    assert all(isinstance(e, ResourceChanged) for e in events[:5])
    assert isinstance(events[5], DeviceRegistered)
    assert sum(len(m) for m in messages) == 7
    assert registry.wait("req-9", timeout=1).value == "ok"
    kinds = [d["kind"] for d in mds_emulator.deliveries()]
    assert kinds[0] == "validation"
    assert all(d["status"] == 204 for d in mds_emulator.deliveries())


def test_a_failing_handler_answers_500_and_the_batch_comes_again(
        mds_emulator: Emulator, mds_client: mds.ApiClient, serve: Callable[[Any], str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="mds.webhook")
    seen: list[Any] = []

    def flaky(event: Any) -> None:
        seen.append(event.value)
        if len(seen) == 1:
            raise RuntimeError("database down")

    url = serve(WebhookReceiver({"authorization": SECRET}, on_event=flaky))
    register_webhook_with_secret(mds.NotificationsApi(mds_client), url, SECRET)
    mds_emulator.notify("dev", "/1/0/1", 41)
    assert wait_until(lambda: len(seen) == 2)
    assert seen == [41, 41]  # nothing lost: retried after the 500

    def statuses() -> list[Any]:
        return [d["status"] for d in mds_emulator.deliveries() if d["kind"] == "delivery"]

    assert wait_until(lambda: len(statuses()) == 2)
    assert statuses() == [500, 204]
    assert any("handler failed" in r.getMessage() for r in caplog.records)


def test_register_webhook_with_secret_generates_and_checks_length(
        mds_emulator: Emulator, mds_client: mds.ApiClient, serve: Callable[[Any], str]) -> None:
    api = mds.NotificationsApi(mds_client)
    url = serve(WebhookReceiver())
    first = register_webhook_with_secret(api, url)
    second = register_webhook_with_secret(api, url, header="x-hook-secret")
    assert len(first) >= 40
    assert first != second
    assert api.get_webhook().headers == {"x-hook-secret": second}
    puts_before = sum(1 for r in mds_emulator.requests() if r["method"] == "PUT")
    with pytest.raises(mds.ApiValueError) as info:
        register_webhook_with_secret(api, url + "/" + "x" * 400)
    assert "400" in str(info.value)
    assert sum(1 for r in mds_emulator.requests() if r["method"] == "PUT") == puts_before


# -- refusals, on the wire --------------------------------------------------------------------

@pytest.fixture
def receiver_url() -> Iterator[tuple[str, list[Any]]]:
    """A receiver under wsgiref, which hands the body to the application unread."""
    calls: list[Any] = []
    receiver = WebhookReceiver({"Authorization": SECRET}, on_message=calls.append,
                               max_body=1000)
    url, stop = serve_wsgiref(receiver)
    yield url, calls
    stop()


def auth(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": SECRET, "Content-Type": "application/json", **(extra or {})}


def test_validation_request_answers_204(receiver_url: tuple[str, list[Any]]) -> None:
    url, calls = receiver_url
    status, _, body = raw_request(url, body=b"{}", headers=auth())
    assert (status, body, calls) == (204, b"", [])


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_other_methods_answer_405_with_allow(receiver_url: tuple[str, list[Any]],
                                             method: str) -> None:
    url, calls = receiver_url
    status, headers, _ = raw_request(url, method, body=b"{}", headers=auth())
    assert status == 405
    assert headers["Allow"] == "PUT"
    assert calls == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "wrong"},
                                     {"Authorization": SECRET + "x"}])
def test_wrong_or_missing_secret_answers_401_without_echo(
        receiver_url: tuple[str, list[Any]], headers: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mds")
    url, calls = receiver_url
    status, _, body = raw_request(url, body=b'{"notifications":[]}', headers=headers)
    assert status == 401
    assert calls == []
    assert SECRET.encode() not in body
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_oversized_body_answers_413_without_reading_it(
        receiver_url: tuple[str, list[Any]]) -> None:
    url, calls = receiver_url
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        # Announce a gigabyte, send only a few bytes: the answer must come anyway.
        sock.sendall(b"PUT /hook HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.")
    assert b" 413 " in answer.split(b"\r\n", 1)[0]
    assert calls == []


def test_oversized_body_under_waitress_answers_413(serve: Callable[[Any], str]) -> None:
    # waitress reads a request's body before calling the application (bound it with its own
    # max_request_body_size); the receiver still refuses it.
    calls: list[Any] = []
    url = serve(WebhookReceiver(on_message=calls.append, max_body=100))
    body = json.dumps({"de-registrations": ["x" * 200]}).encode()
    status, _, _ = raw_request(url, body=body, headers={"Content-Type": "application/json"})
    assert status == 413
    assert calls == []


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'"text"', b'{"notifications": 5}', b'{"notifications": [1]}',
    b'{"de-registrations": [5]}', b'{"registrations": {"ep": "x"}}', b"\xff\xfe",
])
def test_malformed_bodies_answer_400_without_calling_the_handler(
        receiver_url: tuple[str, list[Any]], body: bytes) -> None:
    url, calls = receiver_url
    status, _, _ = raw_request(url, body=body, headers=auth())
    assert status == 400
    assert calls == []


def test_bad_items_in_a_good_batch_are_delivered_as_events_with_error(
        serve: Callable[[Any], str]) -> None:
    events: list[Any] = []
    url = serve(WebhookReceiver(on_event=events.append))
    body = json.dumps({"notifications": [
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain", "payload": "!!"},
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain",
         "payload": base64.b64encode(b"7").decode()}]}).encode()
    status, _, _ = raw_request(url, body=body, headers={"Content-Type": "application/json"})
    assert status == 204
    assert events[0].error
    assert events[1].value == 7


# -- parse_webhook ----------------------------------------------------------------------------

def test_parse_webhook_for_framework_views() -> None:
    headers = {"AUTHORIZATION": SECRET, "content-type": "application/json"}
    body = json.dumps({"registrations": [{"ep": "dev"}], "de-registrations": ["old"]})
    message = parse_webhook(headers, body, expected_headers={"authorization": SECRET})
    assert [type(e).__name__ for e in message.events()] == [
        "DeviceRegistered", "DeviceDeregistered"]
    assert not parse_webhook(headers, b"{}")  # validation request: empty, falsy
    with pytest.raises(mds.UnauthorizedException) as info:
        parse_webhook({}, body, expected_headers={"authorization": SECRET})
    assert info.value.status == 401
    assert SECRET not in str(info.value)
    with pytest.raises(mds.BadRequestException) as bad:
        parse_webhook(headers, b"{nope")
    assert bad.value.status == 400
    with pytest.raises(mds.PayloadTooLargeException) as big:
        parse_webhook(headers, b"{}" + b" " * 100, max_body=10)
    assert big.value.status == 413


def test_receiver_repr_and_direct_wsgi_call_hide_the_secret() -> None:
    receiver = WebhookReceiver({"authorization": SECRET})
    assert SECRET not in repr(receiver)
    answers: list[Any] = []
    body = receiver({"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "2", "HTTP_AUTHORIZATION": "x",
                     "wsgi.input": None}, lambda status, headers: answers.append(status))
    assert answers == ["401 Unauthorized"]
    assert SECRET.encode() not in b"".join(body)
    answers.clear()
    receiver({"REQUEST_METHOD": "PUT", "HTTP_AUTHORIZATION": SECRET},
             lambda status, headers: answers.append(status))
    assert answers == ["411 Length Required"]


def wsgi_call(app: WebhookReceiver, environ: dict[str, Any]) -> tuple[str, bytes]:
    """Call the WSGI application as a server would; returns the status line and the body."""
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], body


def test_content_length_is_checked_before_the_body_is_parsed() -> None:
    calls: list[Any] = []
    receiver = WebhookReceiver({"Content-Type": "application/json"}, on_message=calls.append)
    put = {"REQUEST_METHOD": "PUT", "CONTENT_TYPE": "application/json"}
    for length in ("abc", "-1"):
        status, body = wsgi_call(receiver, {**put, "CONTENT_LENGTH": length,
                                            "wsgi.input": io.BytesIO(b"{}")})
        assert status == "400 Bad Request"
        assert body == b"invalid Content-Length\n"
    status, body = wsgi_call(receiver, {**put, "CONTENT_LENGTH": "100",
                                        "wsgi.input": io.BytesIO(b'{"de-registrations": []}')})
    assert status == "400 Bad Request"
    assert b"shorter" in body
    # The expected headers are read from the environ keys WSGI gives them (no HTTP_ prefix for
    # Content-Type): a wrong one is refused.
    status, _ = wsgi_call(receiver, {**put, "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "2",
                                     "wsgi.input": io.BytesIO(b"{}")})
    assert status == "401 Unauthorized"
    assert calls == []


def test_expected_headers_must_be_strings() -> None:
    with pytest.raises(TypeError, match="string values"):
        WebhookReceiver({"authorization": 5})  # type: ignore[dict-item]


def test_on_message_alone_gets_whole_batches_and_the_registry_its_answers() -> None:
    messages: list[mds.NotificationMessage] = []
    registry = AsyncResponses()
    receiver = WebhookReceiver(on_message=messages.append, async_responses=registry)
    body = json.dumps({"async-responses": [{"id": "a1", "status": 200, "ct": "text/plain",
                                            "payload": "Nw=="}]}).encode()
    status, _ = wsgi_call(receiver, {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": str(len(body)),
                                     "wsgi.input": io.BytesIO(body)})
    assert status == "204 No Content"
    assert [m.async_responses[0].id for m in messages] == ["a1"]
    assert registry.wait("a1", timeout=0).value == 7
