"""Fuzzing the emulator's REST endpoints and its websocket, byte for byte over raw sockets.

* Any method, path (the route templates with fuzzed ids and resource paths, ``..``, ``.``,
  percent-encodings, query strings), headers (invalid bytes, huge values, bad Authorization)
  and body (random bytes, random JSON, the known fields with wrong types): the emulator
  answers (never drops the connection), never with a 500, only with a status the service
  documents for that request: a 2xx, a 4xx, 502 (a device that is offline: documented for
  subscriptions and device requests), or, from the HTTP layer itself, 501 for a method it does
  not implement and 505 for an HTTP version it does not speak (RFC 9110 §15.6.2, §15.6.6).
* Another API key's state (its websocket channel and queue, its pre-subscriptions, its
  subscriptions on a device) reads the same through the REST API before and after each
  request.
* Garbage websocket frames (any opcode, random payloads, invalid UTF-8, oversized, fragments,
  closes with odd codes) sent by a raw client: afterwards a normal client of the same key and
  one of another key still connect and receive.

The emulator is started once for the module.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

import mds
from fuzzing import KeyState, fuzz, header_names, json_values
from mds.emulator import Emulator

FUZZ_KEY = "ak_fuzz0000000000000000000000000000"
VICTIM_DEVICE = "victim-device-1"
FUZZ_DEVICE = "fuzz-device-1"
#: The statuses a request may be answered with (see the module docstring).
ANSWERS = {101, 200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410, 411, 412, 413, 414, 415,
           426, 429, 431, 501, 502, 505}
RESOURCES = [
    {"path": "/3/0/0", "value": "maker", "obs": False},
    {"path": "/3303/0/5700", "value": "21.5", "obs": True},
    {"path": "/3201/0/5850", "value": "1", "obs": True},
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module: the victim (its own key) has a websocket channel with a
    queue, pre-subscriptions and a subscription on its own device; the fuzzer's key has a
    device of its own, so that requests reach the device-data rules too."""
    with Emulator(long_poll_hold=0.05, webhook_timeout=1.0) as emu:
        victim = emu.api_key
        emu.register_device(VICTIM_DEVICE, resources=RESOURCES, api_key=victim)
        emu.register_device(FUZZ_DEVICE, resources=RESOURCES, q=True, api_key=FUZZ_KEY)
        status, _ = _victim_request(emu, "PUT", "/v2/notification/websocket")
        assert status == 201
        status, _ = _victim_request(emu, "PUT", "/v2/subscriptions",
                                    [{"endpoint-name": VICTIM_DEVICE, "resource-path": ["/3/*"]}])
        assert status == 204
        status, _ = _victim_request(emu, "PUT", f"/v2/subscriptions/{VICTIM_DEVICE}/3303/0/5700")
        assert status == 200
        for value in range(3):
            emu.notify(VICTIM_DEVICE, "/3303/0/5700", value, api_key=victim)
        yield emu


def _victim_request(emu: Emulator, method: str, path: str,
                    body: Any = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def victim(emulator: Emulator) -> Iterator[KeyState]:
    state = KeyState(emulator.port, emulator.api_key, VICTIM_DEVICE)
    state.read()  # connected now: its server thread is the module's, not a test's
    yield state
    state.close()


# ---------------------------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------------------------

ROUTE_TEMPLATES = [
    "/v2/notification/callback", "/v2/notification/pull", "/v2/notification/websocket",
    "/v2/notification/websocket-connect", "/v2/notification/channel", "/v2/subscriptions",
    "/v2/subscriptions/{device-id}", "/v2/subscriptions/{device-id}/{resourcePath}",
    "/v2/device-requests/{device-id}", "/v2/endpoints/{device-id}",
    "/v2/endpoints/{device-id}/{resourcePath}",
]

ROUTE_METHODS = {
    "/v2/notification/callback": ["PUT", "GET", "DELETE"],
    "/v2/notification/pull": ["GET", "DELETE"],
    "/v2/notification/websocket": ["PUT", "GET", "DELETE"],
    "/v2/notification/websocket-connect": ["GET"],
    "/v2/notification/channel": ["GET"],
    "/v2/subscriptions": ["PUT", "GET", "DELETE"],
    "/v2/subscriptions/{device-id}": ["GET", "DELETE"],
    "/v2/subscriptions/{device-id}/{resourcePath}": ["PUT", "GET", "DELETE"],
    "/v2/device-requests/{device-id}": ["POST"],
    "/v2/endpoints/{device-id}": ["GET"],
    "/v2/endpoints/{device-id}/{resourcePath}": ["GET", "PUT", "POST", "DELETE"],
}
ROUTE_TEMPLATES = sorted(ROUTE_METHODS)
ANY_METHOD = st.sampled_from(range(10)).flatmap(
    lambda n: st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]) if n < 7
    else st.sampled_from(["OPTIONS", "TRACE", "CONNECT"]) if n < 9
    else st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", min_size=1, max_size=8)
)
GOOD_SEGMENTS = [FUZZ_DEVICE, "3", "0", "5700", "3303", "1", "5850", "3201"]
odd_segment = st.one_of(
    st.sampled_from([FUZZ_DEVICE, "..", ".", "%2F", "%2f", "%2e%2e", "%2E", "%00", "%", "%zz",
                     "%25", "a%20b", "-1", "\u00e9", "*"]),
    st.text(max_size=10).map(lambda text: quote(text, safe="")),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8),
)


def _often(draw: st.DrawFn, tenths: int) -> bool:
    """True *tenths* times in ten (hypothesis leans towards small integers, not booleans)."""
    return draw(st.sampled_from(range(10))) < tenths


def _segment(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(GOOD_SEGMENTS)) if _often(draw, 6) else draw(odd_segment)


def _resource_path(draw: st.DrawFn) -> str:
    if _often(draw, 5):
        return draw(st.sampled_from(["3/0/0", "3303/0/5700", "3201/0/5850", "3303/0", "3",
                                     "3303/0/5700/0"]))
    return "/".join(_segment(draw) for _ in range(draw(st.integers(0, 4))))


@st.composite
def targets(draw: st.DrawFn) -> tuple[str, str]:
    """(method, request target): mostly a route with one of its methods and plausible ids,
    else any method and odd paths."""
    choice = draw(st.sampled_from(range(10)))
    if choice == 0:
        path = "/" + _resource_path(draw)
    elif choice == 1:
        path = draw(st.sampled_from(["*", "//v2/subscriptions", "/v2/../v2/subscriptions",
                                     "/v2/subscriptions/", "/v2", "/_emulator", "http://x/v2",
                                     "/v2/notification/pull/", "/V2/SUBSCRIPTIONS"]))
    else:
        template = draw(st.sampled_from(ROUTE_TEMPLATES))
        path = template.replace("{device-id}", _segment(draw)).replace(
            "{resourcePath}", _resource_path(draw))
        if choice > 3:
            return draw(st.sampled_from(ROUTE_METHODS[template])), _with_query(draw, path)
    return draw(ANY_METHOD), _with_query(draw, path)


def _with_query(draw: st.DrawFn, path: str) -> str:
    if _often(draw, 6):
        return path
    query = draw(st.lists(
        st.tuples(st.sampled_from(["async-id", "retry", "expiry-seconds", "x", ""]),
                  st.text(max_size=10).map(lambda text: quote(text, safe=""))
                  | st.sampled_from(["1", "-1", "99999999999999999999", "abc", "%zz", "0",
                                     "60"])),
        max_size=3,
    ))
    return path + "?" + "&".join(f"{name}={value}" for name, value in query)


_GOOD_AUTHORIZATION = f"Bearer {FUZZ_KEY}".encode()
authorizations = st.sampled_from(range(10)).flatmap(lambda n: st.just(_GOOD_AUTHORIZATION)
                                                    if n < 7 else st.one_of(
    st.none(),
    st.sampled_from([b"Bearer", b"Bearer ", b"bearer  " + FUZZ_KEY.encode(), b"Basic YTpi",
                     b"Bearer ak_", b"Bearer not-an-api-key", b"Bearer ak_\xff\xfe",
                     b"Bearer ak_" + b"x" * 60_000, b"Bearer " + FUZZ_KEY.encode() + b"\x00"]),
    st.text(max_size=30).map(lambda text: b"Bearer " + text.encode("utf-8")),
))
content_types = st.sampled_from(range(10)).flatmap(lambda n: st.just(b"application/json")
                                                   if n < 5 else st.one_of(
    st.none(),
    st.sampled_from([b"Application/JSON; charset=utf-8", b"text/plain",
                     b"application/octet-stream", b"", b"\xff"]),
))
extra_headers = st.lists(
    st.one_of(
        st.tuples(header_names, st.binary(max_size=40).filter(
            lambda value: b"\r" not in value and b"\n" not in value)),
        st.tuples(st.sampled_from(["Connection", "Upgrade", "Sec-WebSocket-Key",
                                   "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Expect",
                                   "X-Huge"]),
                  st.sampled_from([b"Upgrade", b"websocket", b"dGhlIHNhbXBsZSBub25jZQ==", b"13",
                                   b"wss, pelion_" + FUZZ_KEY.encode(), b"100-continue",
                                   b"x" * 20_000, b"keep-alive"])),
    ).map(lambda header: (header[0].encode(), header[1])),
    max_size=5,
)

#: Bodies: random bytes, random JSON, and the known fields of the request bodies with any
#: values (the webhook's url and headers, serialization, pre-subscriptions, device requests).
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({}, optional={
        "url": st.sampled_from(["http://127.0.0.1:9/hook", "not a url", "ftp://x", ""])
        | json_values,
        "headers": json_values,
        "serialization": json_values | st.fixed_dictionaries({}, optional={
            "type": json_values | st.sampled_from(["v2", "v1", "V2"]),
            "max_chunk_size": json_values | st.sampled_from(["100", 99, 10001, "1e3"]),
            "cfg": json_values | st.dictionaries(
                st.sampled_from(["include_uid", "include_timestamp", "include_original_ep",
                                 "deregistrations_as_object"]),
                json_values | st.sampled_from(["true", "false", "TRUE"])),
        }),
        "method": json_values | st.sampled_from(["GET", "PUT", "POST", "DELETE", "get"]),
        "uri": json_values | st.sampled_from(["/3/0/0", "/3303/0/5700", "3/0/0", "/", ""]),
        "accept": json_values, "content-type": json_values,
        "payload-b64": json_values | st.sampled_from(["MQ==", "!!", ""]),
    }).map(lambda value: json.dumps(value).encode()),
    st.lists(st.fixed_dictionaries({}, optional={
        "endpoint-name": json_values | st.just(FUZZ_DEVICE),
        "endpoint-type": json_values,
        "resource-path": json_values | st.lists(st.sampled_from(["/3/*", "*", "", "/3303/0/5700"])),
    }), max_size=3).map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"[" * 50_000, b'{"a":' * 50_000, b"\xff\xfe\x00", b"null", b"{}", b"[]"]),
)
#: How the body is framed: Content-Length (true, or shorter than the body), chunked (well
#: formed or not), or not at all.
framings = st.sampled_from(["length", "length", "length", "short", "chunked", "bad-chunked",
                            "none", "bad-length"])


def _frame(framing: str, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    if framing == "length":
        return [(b"Content-Length", str(len(body)).encode())], body
    if framing == "short":
        return [(b"Content-Length", str(len(body) // 2).encode())], body
    if framing == "chunked":
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                          for part in (body[:7], body[7:]) if part)
        return [(b"Transfer-Encoding", b"chunked")], chunks + b"0\r\n\r\n"
    if framing == "bad-chunked":
        return [(b"Transfer-Encoding", b"chunked")], b"zz\r\n" + body
    if framing == "bad-length":
        return [(b"Content-Length", b"-1")], body
    return [], b""


def _exchange(port: int, request: bytes, method: str) -> tuple[int, bytes]:
    """Send *request* on a new connection, end our side, and read the answer: its status and
    body. A connection dropped without an answer raises (http.client.RemoteDisconnected)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # pragma: no cover - the server already closed after answering
            pass
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = b"" if response.status == 101 else response.read()
        return response.status, body


@fuzz(share=0.5)
@given(target=targets(), authorization=authorizations, content_type=content_types,
       headers=extra_headers, body=bodies, framing=framings)
@example(target=("OPTIONS", "/v2/subscriptions"), authorization=None, content_type=None,
         headers=[], body=b"", framing="none")
def test_rest_endpoints_answer_documented_statuses_and_leave_other_keys_alone(
    emulator: Emulator, victim: KeyState, target: tuple[str, str], authorization: bytes | None,
    content_type: bytes | None, headers: list[tuple[bytes, bytes]], body: bytes, framing: str,
) -> None:
    method, path = target
    before = victim.read()
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    if authorization is not None:
        lines.append(b"Authorization: " + authorization)
    if content_type is not None:
        lines.append(b"Content-Type: " + content_type)
    framing_headers, payload = _frame(framing, body)
    lines += [name + b": " + value for name, value in [*headers, *framing_headers]]
    request = b"\r\n".join(lines) + b"\r\n\r\n" + payload

    status, answer = _exchange(emulator.port, request, method)

    event(f"status {status}")  # (shown by --hypothesis-show-statistics)
    assert status in ANSWERS, (status, answer[:300])
    assert emulator.api_key.encode() not in answer
    assert victim.read() == before


def test_a_negative_chunk_size_is_answered_400_at_once(emulator: Emulator) -> None:
    """Regression (found by fuzzing): ``-5`` read as a chunk size ended in ``read(-5)``, which
    raises: the connection was dropped without an answer. It is a malformed body: 400."""
    request = (b"PUT /v2/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + FUZZ_KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabcde\r\n")
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(request)  # and the connection stays open: the client waits
        response = http.client.HTTPResponse(sock, method="PUT")
        response.begin()
        assert response.status == 400
        assert b"chunked" in response.read()


# ---------------------------------------------------------------------------------------------
# the websocket
# ---------------------------------------------------------------------------------------------

OPCODES = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x3, 0x7, 0xB, 0xF]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One websocket frame from a client, as bytes, any of it wrong: opcode (reserved ones
    included), FIN and RSV bits, mask or no mask, a length that lies, payloads of invalid
    UTF-8 or over the server's size limit, close frames with odd codes."""
    opcode = draw(st.sampled_from(OPCODES))
    fin = draw(st.booleans()) if opcode < 8 else draw(st.integers(0, 9)) > 0
    rsv = draw(st.sampled_from([0, 0, 0, 0x40, 0x20, 0x10]))
    if opcode == 0x8 and draw(st.booleans()):
        code = draw(st.sampled_from([1000, 1001, 1005, 1006, 1015, 999, 3000, 4999, 5000, 0]))
        payload = struct.pack("!H", code) + draw(st.binary(max_size=20) | st.just(b"\xff\xfe"))
    else:
        payload = draw(st.one_of(
            st.binary(max_size=150),
            st.sampled_from([b"\xff\xfe\xfd", b"\xed\xa0\x80", b"x" * 130, b"y" * 70_000]),
            json_values.map(lambda value: json.dumps(value).encode()),
        ))
    masked = draw(st.integers(0, 9)) > 0
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    length = len(payload)
    if draw(st.integers(0, 19)) == 0:  # a length that lies
        length = draw(st.sampled_from([0, 1, 125, 126, 65536, 2**63 - 1]))
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if masked:
        mask = draw(st.binary(min_size=4, max_size=4))
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def _open_websocket(port: int, key: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"GET /v2/notification/websocket-connect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n\r\n"
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


@fuzz(share=0.05)
@given(garbage=st.lists(frames(), min_size=1, max_size=6))
def test_the_websocket_survives_garbage_frames(emulator: Emulator, garbage: list[bytes]) -> None:
    """After any garbage on the fuzzer's socket, a normal client of the same key and one of
    another key connect and receive."""
    status, _ = _exchange(emulator.port, (
        b"PUT /v2/notification/websocket HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Authorization: Bearer " + FUZZ_KEY.encode() + b"\r\n\r\n"), "PUT")
    assert status in (200, 201)
    with _open_websocket(emulator.port, FUZZ_KEY) as sock:
        for frame in garbage:
            try:
                sock.sendall(frame)
            except OSError:  # the server closed on an earlier frame, as it may
                break
    _receives(emulator, FUZZ_KEY)
    _receives(emulator, VICTIM_OTHER_KEY)


VICTIM_OTHER_KEY = "ak_other000000000000000000000000000"


def _receives(emulator: Emulator, key: str) -> None:
    """A normal client (the SDK's websocket) of *key* connects and receives a notification."""
    configuration = mds.Configuration(host=emulator.url, api_key=key)
    with mds.ApiClient(configuration) as client:
        api = mds.NotificationsApi(client)
        api.register_websocket()
        with api.connect_websocket() as websocket:
            emulator.notify("ws-check", "/3303/0/5700", 7, api_key=key)
            while True:
                message = websocket.recv(timeout=10)
                values = [(e.device_id, e.value) for e in message.events()  # type: ignore[attr-defined]
                          if getattr(e, "device_id", None) == "ws-check"]
                if values:
                    assert values == [("ws-check", 7)]
                    return
