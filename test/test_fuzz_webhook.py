"""Fuzzing the webhook side: `mds.parse_webhook` and `mds.WebhookReceiver` on any method,
headers (Content-Length lies included) and body answer only their documented statuses and
never raise.

* `parse_webhook` returns a NotificationMessage or raises `mds.ApiException` with status 400,
  401 or 413 (its docstring);
* the receiver, driven through its WSGI callable with a real ``wsgi.input``, answers 204, 400,
  401, 405, 411 or 413 (500 and 503 only when a handler raised or items were held elsewhere:
  the handlers here never raise, so a 500 would be the SDK's own failure), reads no more than
  the request's Content-Length, and hands a valid batch's items to the handler in wire order;
* a smaller number of raw requests through a real server (wsgiref, on 127.0.0.1), byte for
  byte as a client could send them.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import mds
from fuzzing import (
    fuzz,
    header_names,
    header_values,
    json_values,
    messages,
    mutated_messages,
)
from mds.events import Event, events_from_message

SECRET = "s3cret-webhook-header-value"
EXPECTED = {"authorization": SECRET}
#: Small enough that fuzzed bodies reach it.
MAX_BODY = 2000
DOCUMENTED = {204, 400, 401, 405, 411, 413, 500, 503}

bodies = st.one_of(
    messages.map(lambda m: json.dumps(m).encode()),
    mutated_messages().map(lambda m: json.dumps(m).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"", b"{}", b"[" * 3000, b'{"notifications": ' * 400, b"\xff\xfe{}",
                     b'{"notifications": [1]}', b'{"de-registrations": [{}, 2]}']),
)
request_headers = st.dictionaries(header_names, header_values, max_size=5)
#: Text as a framework may hand it over: any code point, lone surrogates included.
any_text = st.text(st.characters(exclude_categories=()), max_size=60)
authorization = st.sampled_from([SECRET, SECRET.upper(), SECRET + " ", "", SECRET[:-1],
                                 "Bearer " + SECRET, "\u00e9" + SECRET[1:]])


# ---------------------------------------------------------------------------------------------
# parse_webhook
# ---------------------------------------------------------------------------------------------


@fuzz(share=0.75)
@given(
    headers=request_headers | st.dictionaries(any_text, any_text, max_size=3),
    auth=st.none() | authorization | any_text,
    body=st.one_of(bodies, any_text, messages.map(json.dumps)),
    expected=st.sampled_from([None, EXPECTED, {"X-Secret": "a", "authorization": SECRET}]),
    max_body=st.sampled_from([None, MAX_BODY, 0, 10**9]),
)
@example(headers={}, auth=SECRET, body="\ud800", expected=EXPECTED, max_body=MAX_BODY)
@example(headers={}, auth=None, body=b"[" * 100_000, expected=None, max_body=None)
@example(headers={"authorization": "\ud800"}, auth=None, body=b"{}", expected=EXPECTED,
         max_body=None)
def test_parse_webhook_returns_a_message_or_raises_a_documented_error(
    headers: dict[str, str], auth: str | None, body: bytes | str,
    expected: dict[str, str] | None, max_body: int | None,
) -> None:
    if auth is not None:
        headers = {**headers, "Authorization": auth}
    result: mds.NotificationMessage | mds.ApiException
    try:
        result = mds.parse_webhook(headers, body, expected_headers=expected, max_body=max_body)
    except mds.ApiException as exc:
        result = exc
    if isinstance(result, mds.ApiException):
        assert result.status in (400, 401, 413), result
        assert SECRET not in str(result)
    else:
        assert isinstance(result, mds.NotificationMessage)
        list(events_from_message(result))  # what the caller does next


# ---------------------------------------------------------------------------------------------
# WebhookReceiver through its WSGI callable
# ---------------------------------------------------------------------------------------------

methods = st.one_of(st.sampled_from(["PUT", "PUT", "PUT", "GET", "POST", "DELETE", "put", "HEAD"]),
                    st.text(max_size=8))
#: How the request's Content-Length relates to its body: the truth, a lie, junk or none.
lengths = st.one_of(
    st.just("true"), st.just("true"), st.just(None),
    st.integers(-3, 3).map(lambda delta: f"delta{delta:+d}"),
    st.sampled_from(["", " ", "abc", "-1", "1e3", "0x10", "\u0663", "99999999999999999999999"]),
)


def _content_length(spec: str | None, body: bytes) -> str | None:
    if spec is None:
        return None
    if spec == "true":
        return str(len(body))
    if spec.startswith("delta"):
        return str(max(0, len(body) + int(spec[5:])))
    return spec


class _Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.messages: list[mds.NotificationMessage] = []


def _receiver(recorder: _Recorder) -> mds.WebhookReceiver:
    return mds.WebhookReceiver(EXPECTED, on_event=recorder.events.append,
                               on_message=recorder.messages.append, max_body=MAX_BODY)


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert exc_info is None
        answers.append((status, headers))
        return lambda data: None

    chunks = app(environ, start_response)
    body = b"".join(chunks)
    (status, headers), = answers
    assert isinstance(status, str)
    assert status[:3].isdigit()
    assert status[3:4] == " "
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in headers)
    return int(status[:3]), headers, body


@fuzz(share=0.5)
@given(
    method=methods, headers=request_headers, auth=st.none() | authorization, body=bodies,
    length=lengths, extra=st.binary(max_size=20),
)
@example(method="PUT", headers={}, auth=SECRET, body=b'{"async-responses": [{"id": "a",'
         b' "status": "\xc2\xb2"}]}', length="true", extra=b"")
@example(method="PUT", headers={}, auth=SECRET, length="true", extra=b"",
         body=b'{"":[],"async-responses":[{"":"","":2,"error":[]}]}')
def test_receiver_answers_only_documented_statuses(
    method: str, headers: dict[str, str], auth: str | None, body: bytes, length: str | None,
    extra: bytes,
) -> None:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    environ["REQUEST_METHOD"] = method
    content_length = _content_length(length, body)
    if content_length is None:
        environ.pop("CONTENT_LENGTH", None)
    else:
        environ["CONTENT_LENGTH"] = content_length
    # What follows the body on the connection (the next request) must not be read.
    stream = io.BytesIO(body + extra)
    environ["wsgi.input"] = stream
    recorder = _Recorder()

    status, response_headers, response_body = _call(_receiver(recorder), environ)

    assert status in DOCUMENTED
    assert status != 500, response_body  # the handlers never raise: a 500 is the SDK's failure
    assert SECRET.encode() not in response_body
    if content_length is not None and content_length.isdigit():
        assert stream.tell() <= int(content_length)
    if status == 405:
        assert ("Allow", "PUT") in response_headers
    handled = status == 204 and body.strip() not in (b"{}",) and bool(recorder.messages)
    if handled:
        assert method.upper() == "PUT"
        assert auth == SECRET
        (message,) = recorder.messages
        # One event per item of the message, in its order. (Compared by kind: the events are
        # read from the wire dict, while the model's to_dict() leaves out what the wire form
        # does not keep, such as an "error": [] of a malformed item.)
        expected = list(events_from_message(message))
        assert [type(e) for e in recorder.events] == [type(e) for e in expected]
    else:
        assert recorder.events == []


@fuzz(share=0.25)
@given(method=methods, headers=request_headers, auth=st.none() | authorization | any_text,
       body=st.one_of(bodies, any_text))
@example(method="PUT", headers={}, auth="\ud800", body=b"{}")
@example(method="PUT", headers={}, auth=SECRET, body="\ud800")
def test_receiver_process_answers_only_documented_statuses(
    method: str, headers: dict[str, str], auth: str | None, body: bytes | str,
) -> None:
    """`WebhookReceiver.process`, the core that servers and frameworks (and `mds.aio`) call."""
    if auth is not None:
        headers = {**headers, "authorization": auth}
    recorder = _Recorder()
    answer = _receiver(recorder).process(headers, body, method)
    assert answer.status in DOCUMENTED
    assert answer.status != 500, answer
    assert SECRET.encode() not in answer.body
    if recorder.events:
        assert answer.status == 204


def test_a_valid_batch_is_handled_and_answered_204() -> None:
    """The fuzzed property holds for the plain case too: every item reaches the handler."""
    recorder = _Recorder()
    body = json.dumps({"notifications": [{"ep": "d1", "path": "/3/0/0", "ct": "text/plain",
                                           "payload": "MQ=="}]})
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD="PUT", HTTP_AUTHORIZATION=SECRET,
                   CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body.encode())})
    status, _, _ = _call(_receiver(recorder), environ)
    assert status == 204
    assert [(e.device_id, e.value) for e in recorder.events] == [("d1", 1)]  # type: ignore[attr-defined]


def test_a_body_nested_too_deeply_is_answered_400() -> None:
    """Regression (found by fuzzing): JSON nested deeper than the parser goes raised
    RecursionError out of the receiver instead of answering 400."""
    recorder = _Recorder()
    receiver = mds.WebhookReceiver(EXPECTED, on_event=recorder.events.append)
    body = b"[" * 100_000
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD="PUT", HTTP_AUTHORIZATION=SECRET,
                   CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
    status, _, answer = _call(receiver, environ)
    assert status == 400
    assert b"nested too deeply" in answer
    assert recorder.events == []


# ---------------------------------------------------------------------------------------------
# the same through a real server, byte for byte
# ---------------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[WSGIServer, _Recorder]]:
    recorder = _Recorder()
    server = make_server("127.0.0.1", 0, _receiver(recorder), handler_class=_QuietHandler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fuzz-wsgiref", daemon=True)
    thread.start()
    yield server, recorder
    server.shutdown()
    thread.join(5)
    server.server_close()


_TOKEN = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=10)
raw_methods = st.one_of(st.sampled_from([b"PUT", b"PUT", b"GET", b"POST", b"DELETE"]),
                        _TOKEN.map(str.encode))
raw_header_lines = st.lists(
    st.one_of(
        st.tuples(header_names, header_values).map(
            lambda nv: nv[0].encode() + b": " + nv[1].encode("latin-1")),
        st.binary(max_size=40).filter(lambda line: b"\n" not in line and b"\r" not in line),
    ),
    max_size=4,
)


@fuzz(share=0.1)
@given(
    method=raw_methods, auth=st.none() | authorization, lines=raw_header_lines, body=bodies,
    length=lengths,
)
def test_receiver_behind_a_real_server_answers_only_documented_statuses(
    served: tuple[WSGIServer, _Recorder], method: bytes, auth: str | None, lines: list[bytes],
    body: bytes, length: str | None,
) -> None:
    server, _ = served
    head = [method + b" /notify HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if auth is not None:
        head.append(b"Authorization: " + auth.encode("latin-1", "replace"))
    content_length = _content_length(length, body)
    if content_length is not None:
        head.append(b"Content-Length: " + content_length.encode("utf-8"))
    request = b"\r\n".join(head + lines) + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # a Content-Length that promises more ends here
        answer = _read_all(sock)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1."), answer[:200]
    status = int(status_line.split()[1])
    # 400 for a request line or header the server itself refuses, before the receiver runs.
    assert status in DOCUMENTED, answer[:300]
    assert status != 500, answer[:300]
    assert SECRET.encode() not in answer


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
