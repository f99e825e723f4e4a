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


# -- effectively once: repeats dropped by uid -------------------------------------------------

def uid_of(event: Any) -> Any:
    return event.uid


def register_with_uids(api_client: mds.ApiClient, url: str) -> None:
    """Register *url* as the callback, its items carrying ``uid`` (the 2020 cfg)."""
    flags = mds.SerializationConfigObjectV2(include_uid=True)
    mds.NotificationsApi(api_client).register_webhook(mds.Webhook(
        url=url, headers={"authorization": SECRET},
        serialization=mds.SerializationConfigData(cfg=flags)))


def batch_body(*uids: str) -> bytes:
    return json.dumps({"notifications": [
        {"ep": "dev", "path": "/3303/0/5700", "ct": "text/plain", "max-age": 0, "uid": uid,
         "payload": base64.b64encode(uid.encode()).decode()} for uid in uids]}).encode()


def test_a_batch_the_emulator_delivers_again_is_handled_once(
        mds_emulator: Emulator, mds_client: mds.ApiClient, serve: Callable[[Any], str],
        tmp_path: Any) -> None:
    events: list[Any] = []
    with WebhookReceiver({"authorization": SECRET}, on_event=events.append,
                         checkpoint=tmp_path / "hook.sqlite") as receiver:
        register_with_uids(mds_client, serve(receiver))
        # Every acknowledgement is taken as a time-out: the batch comes again and again.
        mds_emulator.set_chaos(0, seed=7, faults={"webhook.retry": 1.0})
        for i in range(5):
            mds_emulator.notify("dev", "/3303/0/5700", i)

        def answered() -> list[Any]:
            return [d for d in mds_emulator.deliveries() if d["kind"] == "delivery"]

        assert wait_until(lambda: len(answered()) >= 4)
        mds_emulator.set_chaos(None)
        repeats = len(answered())
        assert wait_until(lambda: mds_emulator.chaos_report()["items"]["delivered"] == 5)
        assert [e.value for e in events] == [0, 1, 2, 3, 4]  # once each, in order
        # The receiver answered 204 every time; the chaos took some of them as time-outs.
        assert all(d["status"] == 204 or d["error"].startswith("answered 204, taken as")
                   for d in answered())
        stats = receiver.stats
        assert stats.events == 5
        # Every item delivered more than once was dropped.
        assert stats.duplicates_dropped == sum(d["items"] for d in answered()) - 5
        assert stats.duplicates_dropped >= repeats - 1
        assert stats.failures == stats.busy == 0
        assert stats.batches == len(answered())


def put(url: str, body: bytes, headers: dict[str, str] | None = None,
        ) -> tuple[int, dict[str, str], bytes]:
    return raw_request(url, body=body, headers={**auth(), **(headers or {})})


def test_puts_of_the_same_batches_from_threads_are_handled_once(tmp_path: Any) -> None:
    handled: list[str] = []
    lock = threading.Lock()

    def on_event(event: Any) -> None:
        with lock:
            handled.append(event.uid)

    receiver = WebhookReceiver({"authorization": SECRET}, on_event=on_event,
                               checkpoint=str(tmp_path / "c.sqlite"))
    url, stop = serve_wsgiref(receiver)
    bodies = [batch_body(*(f"b{b}-{i}" for i in range(20))) for b in range(5)]
    statuses: list[int] = []
    start = threading.Barrier(4)

    def sender() -> None:
        start.wait()
        for _ in range(3):
            for body in bodies:
                status, headers, _ = put(url, body)
                with lock:
                    statuses.append(status)
                if status == 503:
                    assert headers["Retry-After"] == "1"

    threads = [threading.Thread(target=sender) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # As the service does: a batch answered 503 comes again; by now it is all done.
        assert all(put(url, body)[0] == 204 for body in bodies)
    finally:
        stop()
        receiver.close()
    assert sorted(handled) == sorted(f"b{b}-{i}" for b in range(5) for i in range(20))
    assert set(statuses) <= {204, 503}
    assert receiver.stats.events == 100


def test_a_failed_batch_is_released_and_its_redelivery_handled_once(
        mds_emulator: Emulator, mds_client: mds.ApiClient, serve: Callable[[Any], str],
        tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="mds.webhook")
    attempts: list[Any] = []
    done: list[Any] = []

    def flaky(event: Any) -> None:
        attempts.append(event.uid)
        if len(attempts) == 1:
            raise RuntimeError("database down")
        done.append(event.value)

    receiver = WebhookReceiver({"authorization": SECRET}, on_event=flaky,
                               checkpoint=tmp_path / "c.sqlite")
    register_with_uids(mds_client, serve(receiver))
    mds_emulator.notify("dev", "/1/0/1", 41)
    assert wait_until(lambda: mds_emulator.chaos_report()["items"]["delivered"] == 1)
    statuses = [d["status"] for d in mds_emulator.deliveries() if d["kind"] == "delivery"]
    assert statuses == [500, 204]
    assert done == [41]
    assert attempts[0] == attempts[1]  # the same uid, admitted again after the release
    assert receiver.stats.failures == 1
    # Delivered once more (a late repeat): dropped, handler not called.
    assert put(serve(receiver), batch_body(attempts[0]))[0] == 204
    assert len(attempts) == 2
    receiver.close()


def test_items_held_by_another_worker_answer_503_after_the_rest_is_handled(
        tmp_path: Any) -> None:
    path = tmp_path / "shared.sqlite"
    entered, proceed = threading.Event(), threading.Event()
    first_seen: list[str] = []
    second_seen: list[str] = []
    messages: list[mds.NotificationMessage] = []

    def slow(event: Any) -> None:
        first_seen.append(event.uid)
        entered.set()
        proceed.wait(5)

    def record(message: mds.NotificationMessage) -> None:
        messages.append(message)

    first = WebhookReceiver(on_event=slow, checkpoint=path)
    second = WebhookReceiver(on_event=lambda e: second_seen.append(uid_of(e)),
                             on_message=record, checkpoint=path)
    url_one, stop_one = serve_wsgiref(first)
    url_two, stop_two = serve_wsgiref(second)
    try:
        answers: list[int] = []
        sender = threading.Thread(target=lambda: answers.append(put(url_one, batch_body("a"))[0]))
        sender.start()
        assert entered.wait(5)  # the first worker is handling "a"
        assert put(url_two, batch_body("a"))[0] == 503  # nothing else to handle
        status, headers, body = put(url_two, batch_body("a", "b"))
        assert (status, headers["Retry-After"]) == (503, "1")
        assert b"another consumer" in body
        assert second_seen == ["b"]  # handled before the 503
        assert [uid_of(e) for e in messages[0].events()] == ["b"]  # on_message: admitted only
        proceed.set()
        sender.join()
        assert answers == [204]
        # The service retries: "a" is done by the first worker, "b" by the second.
        assert put(url_two, batch_body("a", "b"))[0] == 204
        assert second_seen == ["b"]
        assert first_seen == ["a"]
        assert second.stats == mds.webhook_receiver.ReceiverStats(
            batches=3, events=1, duplicates_dropped=2, busy=2, failures=0)
    finally:
        proceed.set()
        stop_one()
        stop_two()
        first.close()
        second.close()


def test_a_restarted_receiver_skips_what_it_finished(tmp_path: Any) -> None:
    path = tmp_path / "restart.sqlite"
    handled: list[str] = []
    with WebhookReceiver(on_event=lambda e: handled.append(uid_of(e)), checkpoint=path) as receiver:
        assert receiver.process({}, batch_body("x", "y")).status == 204
    with WebhookReceiver(on_event=lambda e: handled.append(uid_of(e)), checkpoint=path) as again:
        assert again.process({}, batch_body("x", "y", "z")).status == 204
        assert again.stats.duplicates_dropped == 2
    assert handled == ["x", "y", "z"]


def test_a_failing_checkpoint_answers_503_and_loses_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    from redis_server import RedisServer

    caplog.set_level(logging.ERROR, logger="mds.webhook")
    handled: list[str] = []
    with RedisServer(password="pw-hidden") as redis:
        def handler(event: Any) -> None:
            handled.append(event.uid)
            if event.uid == "stop-redis":
                redis.stop()  # the store fails between handling and recording

        receiver = WebhookReceiver(on_event=handler, checkpoint=redis.url)
        assert receiver.process({}, batch_body("ok")).status == 204
        answer = receiver.process({}, batch_body("stop-redis"))
    assert answer.status == 204  # handled: not to be delivered again
    answer = receiver.process({}, batch_body("next"))
    assert (answer.status, dict(answer.headers)["Retry-After"]) == (503, "1")
    assert b"checkpoint" in answer.body
    assert handled == ["ok", "stop-redis"]  # "next" waits for the service's retry
    assert receiver.stats.failures == 1
    receiver.close()
    with RedisServer(password="pw-hidden") as redis:
        def failing(event: Any) -> None:
            redis.stop()
            raise RuntimeError("the handler and the store fail together")

        receiver = WebhookReceiver(on_event=failing, checkpoint=redis.url)
        assert receiver.process({}, batch_body("f")).status == 500
        receiver.close()
    assert all("pw-hidden" not in r.getMessage() for r in caplog.records)
    assert any("could not release" in r.getMessage() for r in caplog.records)


def test_process_admit_and_delivery_for_other_servers() -> None:
    """The core an ASGI receiver reuses: check_request before the body, admit, then the
    Delivery's handled() or failed()."""
    receiver = WebhookReceiver({"authorization": SECRET})
    assert receiver.check_request("GET", {}, None) == receiver.process({}, b"", "GET")
    assert receiver.check_request("PUT", {"Authorization": SECRET}, "12") is None
    for args, status in [(("put", {"authorization": SECRET}, None), 411),
                         (("PUT", {}, 2), 401)]:
        answer = receiver.check_request(*args)
        assert answer is not None
        assert answer.status == status
    refused = receiver.admit(b"[]")
    assert isinstance(refused, mds.webhook_receiver.WebhookAnswer)
    assert refused.status_line == "400 Bad Request"
    assert receiver.admit(b"{}") == mds.webhook_receiver.WebhookAnswer(204)
    delivery = receiver.admit(batch_body("p", "q"))
    assert isinstance(delivery, mds.webhook_receiver.Delivery)
    assert [uid_of(e) for e in delivery.events()] == ["p", "q"]
    assert repr(delivery) == "<Delivery of 2 items>"
    assert delivery.events() is delivery.events()  # made once
    assert delivery.failed().status == 500  # released: admitted again
    again = receiver.admit(batch_body("p", "q"))
    assert isinstance(again, mds.webhook_receiver.Delivery)
    assert again.handled() == mds.webhook_receiver.WebhookAnswer(204)
    assert receiver.admit(batch_body("q", "p")) == mds.webhook_receiver.WebhookAnswer(204)
    answer = receiver.process({"Authorization": SECRET}, batch_body("p").decode())
    assert answer.status == 204
    stats = receiver.stats
    assert (stats.events, stats.failures, stats.duplicates_dropped) == (2, 1, 3)
    with pytest.raises(AttributeError):
        stats.events = 0  # type: ignore[misc]


def test_items_without_uid_are_always_handled(tmp_path: Any) -> None:
    events: list[Any] = []
    receiver = WebhookReceiver(on_event=events.append, checkpoint=tmp_path / "n.sqlite")
    body = json.dumps({"registrations": [{"ep": "d1"}], "de-registrations": ["d2"]}).encode()
    assert receiver.process({}, body).status == 204
    assert receiver.process({}, body).status == 204
    assert [e.device_id for e in events] == ["d1", "d2", "d1", "d2"]
    mixed = json.dumps({"de-registrations": ["d3"], "notifications": json.loads(
        batch_body("m"))["notifications"]}).encode()
    assert receiver.process({}, mixed).status == 204
    assert receiver.process({}, mixed).status == 204
    assert [e.device_id for e in events[4:]] == ["d3", "dev", "d3"]  # the repeat of "m" dropped
    assert receiver.stats.duplicates_dropped == 1
    receiver.close()


def test_unusual_bodies_keep_their_other_keys_and_uids() -> None:
    messages: list[mds.NotificationMessage] = []
    receiver = WebhookReceiver(on_message=messages.append)
    items = json.loads(batch_body("u1", "u2"))["notifications"]
    items[1]["uid"] = 12345  # read as the event reads it: "12345"
    body = {"notifications": items, "registrations": [], "extra": {"kept": True}}
    assert receiver.process({}, json.dumps(body).encode()).status == 204
    body["notifications"] = [*items, json.loads(batch_body("u3"))["notifications"][0]]
    assert receiver.process({}, json.dumps(body).encode()).status == 204
    assert [uid_of(e) for m in messages for e in m.events()] == ["u1", "12345", "u3"]
    assert messages[1].to_dict()["extra"] == {"kept": True}
    assert receiver.stats.duplicates_dropped == 2
    receiver.handle(messages[0])  # handle() itself drops nothing
    assert len(messages) == 3


def test_a_uid_utf8_cannot_encode_is_handled_once(tmp_path: Any) -> None:
    events: list[Any] = []
    with WebhookReceiver(on_event=events.append, checkpoint=tmp_path / "s.sqlite") as receiver:
        body = batch_body("x").replace(b'"uid": "x"', b'"uid": "\\ud800"')
        assert receiver.process({}, body).status == 204
        assert receiver.process({}, body).status == 204
    assert [uid_of(e) for e in events] == ["\ud800"]
