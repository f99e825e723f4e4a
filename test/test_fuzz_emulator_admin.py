"""Fuzzing the emulator's admin API (``/_emulator/...``) over raw HTTP: any method, name and body
(random bytes, random JSON, JSON's ``NaN`` and ``Infinity``, the known fields with wrong types)
is answered 200 or a 4xx (400 malformed, 404 unknown endpoint, 405 wrong method), never a 500
and never a dropped connection; what it accepts does not break the REST endpoints afterwards
(an armed fault answers what it says, and nothing else); and, as long as the requests name the
fuzzer's own key, another key's state (channel, queue, subscriptions) is unchanged.

``reset`` (documented to clear everything) and the global chaos switch are left out of the
state check; chaos specs are fuzzed on their own, without it. The emulator is started once
for the module, apart from the REST fuzzing's (an admin request may arm faults).
"""

from __future__ import annotations

import http.client
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzzing import KeyState, fuzz, json_values
from mds.emulator import Emulator

FUZZ_KEY = "ak_fuzzadmin00000000000000000000000"
VICTIM_DEVICE = "victim-device-1"
FUZZ_DEVICE = "fuzz-device-1"
ADMIN_ANSWERS = {200, 400, 404, 405, 411, 413}

POST_NAMES = ["messages", "notify", "register", "reg-update", "deregister", "expire",
              "async-response", "set-resource", "set-online", "set-latency", "on-execute",
              "faults"]
GET_NAMES = ["health", "requests", "deliveries", "devices", "executions", "chaos"]
#: Every field an admin endpoint reads.
FIELDS = ["ep", "path", "value", "ct", "payload_b64", "max_age", "max-age", "ept", "original_ep",
          "original-ep", "q", "resources", "id", "status", "error", "online", "latency",
          "message", "endpoint", "delay", "headers", "body", "count", "websocket", "code",
          "reason", "every"]
#: The REST endpoints a fault may name.
ENDPOINTS = [
    "GET /v2/notification/pull", "PUT /v2/notification/websocket",
    "GET /v2/notification/websocket", "GET /v2/subscriptions", "PUT /v2/subscriptions",
    "GET /v2/subscriptions/{device-id}", "POST /v2/device-requests/{device-id}",
    "GET /v2/endpoints/{device-id}", "GET /v2/notification/channel",
]

RESOURCES = [{"path": "/3303/0/5700", "value": "21.5", "obs": True}]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(long_poll_hold=0.05) as emu:
        emu.register_device(VICTIM_DEVICE, resources=RESOURCES, api_key=emu.api_key)
        assert _request(emu.port, "PUT", "/v2/notification/websocket", b"", emu.api_key)[0] == 201
        rules = json.dumps([{"endpoint-name": VICTIM_DEVICE}]).encode()
        assert _request(emu.port, "PUT", "/v2/subscriptions", rules, emu.api_key)[0] == 204
        path = f"/v2/subscriptions/{VICTIM_DEVICE}/3303/0/5700"
        assert _request(emu.port, "PUT", path, b"", emu.api_key)[0] == 200
        emu.notify(VICTIM_DEVICE, "/3303/0/5700", 1, api_key=emu.api_key)
        yield emu


def _request(port: int, method: str, path: str, body: bytes,
             key: str | None = None, timeout: float = 15) -> tuple[int, bytes]:
    """One request on a new connection; a dropped connection raises."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        connection.request(method, path, body, headers)
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
# strategies
# ---------------------------------------------------------------------------------------------

#: JSON text the standard library writes and reads, though it is not JSON: NaN, Infinity.
_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
odd = st.one_of(
    json_values, _NON_FINITE,
    st.sampled_from(["", "x", "\u00e9\u0000", "9" * 5000, -1, 0, 1, 1e308, 2**64, True, [], {},
                     "/3303/0/5700", "text/plain", "MQ==", "!!", "close", "drop", 1000, 1006,
                     4999, 5000, 200, 599, 600, "GET /v2/subscriptions", "\r\nX: y"]),
)
device_ids = st.sampled_from([FUZZ_DEVICE, "fuzz-device-2", ""]) | st.text(max_size=8).filter(
    lambda ep: ep != VICTIM_DEVICE)


def _field_value(name: str) -> st.SearchStrategy[Any]:
    if name == "ep":
        return device_ids | odd
    if name == "endpoint":
        return st.sampled_from(ENDPOINTS).map(
            lambda endpoint: endpoint.replace("{device-id}", FUZZ_DEVICE)
            if False else endpoint) | odd
    if name == "resources":
        return st.lists(st.fixed_dictionaries({"path": st.sampled_from(["/3/0/0", "/1"]) | odd},
                                              optional={"value": odd, "obs": odd, "ct": odd}),
                        max_size=3) | odd
    if name == "headers":
        return st.dictionaries(st.text(max_size=10), st.text(max_size=10) | odd, max_size=2) | odd
    if name == "message":
        return st.dictionaries(st.sampled_from(["notifications", "registrations", "x"]), odd,
                               max_size=2) | odd
    return odd


#: A body each POST endpoint accepts; the fuzzer changes, removes and adds fields of it.
TEMPLATES: dict[str, dict[str, Any]] = {
    "messages": {"message": {"notifications": [{"ep": FUZZ_DEVICE, "path": "/3/0/0",
                                                "payload": "MQ=="}]}},
    "notify": {"ep": FUZZ_DEVICE, "path": "/3303/0/5700", "value": 1},
    "register": {"ep": FUZZ_DEVICE, "resources": [{"path": "/3303/0/5700", "value": "1",
                                                   "obs": True}]},
    "reg-update": {"ep": FUZZ_DEVICE, "resources": [{"path": "/3/0/0"}]},
    "deregister": {"ep": FUZZ_DEVICE},
    "expire": {"ep": "fuzz-device-2"},
    "async-response": {"id": "abc", "status": 200, "value": "x"},
    "set-resource": {"ep": FUZZ_DEVICE, "path": "/3303/0/5700", "value": 2},
    "set-online": {"ep": FUZZ_DEVICE, "online": False},
    "set-latency": {"ep": FUZZ_DEVICE, "latency": 0.01},
    "on-execute": {"ep": FUZZ_DEVICE, "path": "/3201/0/5850", "value": "ok", "status": 200},
    "faults": {"endpoint": "GET /v2/subscriptions", "status": 503, "count": 1},
}


@st.composite
def admin_bodies(draw: st.DrawFn, name: str) -> dict[str, Any]:
    body = dict(TEMPLATES[name])
    if name == "faults" and _often(draw, 3):
        body = {"websocket": draw(st.sampled_from(["close", "drop"])), "code": 1012}
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS + sorted(body)))
        if field in body and _often(draw, 3):
            del body[field]
        else:
            body[field] = draw(_field_value(field), label=field)
    # Requests name the fuzzer's own key (a request without one reaches every key's channel,
    # as documented); sometimes a wrong value.
    if _often(draw, 9):
        body["api_key"] = FUZZ_KEY
    else:
        body["api_key"] = draw(odd.map(lambda value: "ak_x" if value is None else value))
    return body


def _often(draw: st.DrawFn, tenths: int) -> bool:
    return draw(st.sampled_from(range(10))) < tenths


def _encode(body: Any) -> bytes:
    # allow_nan: json.dumps writes NaN and Infinity, which json.loads (and the emulator) reads.
    return json.dumps(body, allow_nan=True).encode()


admin_requests = st.one_of(
    st.sampled_from(POST_NAMES).flatmap(
        lambda name: st.tuples(st.just("POST"), st.just(name), admin_bodies(name).map(_encode))),
    st.tuples(st.sampled_from(["GET", "PUT", "DELETE", "HEAD", "POST", "PATCH"]),
              st.sampled_from(POST_NAMES + GET_NAMES)
              | st.text(max_size=12).map(lambda name: quote(name, safe="/%")),
              st.binary(max_size=50) | json_values.map(_encode)),
)


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


@fuzz(share=0.5)
@given(request=admin_requests)
@example(request=("POST", "async-response", b'{"id": "a", "status": Infinity, "api_key": "'
                  + FUZZ_KEY.encode() + b'"}'))
@example(request=("POST", "faults", b'{"endpoint": "GET /v2/subscriptions", "delay": NaN, '
                  b'"api_key": "' + FUZZ_KEY.encode() + b'"}'))
@example(request=("POST", "faults", b'{"endpoint": "GET /v2/subscriptions", "status": 503, '
                  b'"headers": {"X-\\u00e9\\u4e2d": "1"}, "api_key": "' + FUZZ_KEY.encode()
                  + b'"}'))
@example(request=("POST", "faults", b'{"endpoint": "GET /v2/subscriptions", "status": 503, '
                  b'"headers": {"X-A": "1\\r\\nX-B: 2"}, "api_key": "' + FUZZ_KEY.encode()
                  + b'"}'))
def test_admin_api_answers_documented_statuses(
    emulator: Emulator, victim: KeyState, request: tuple[str, str, bytes]
) -> None:
    method, name, body = request
    before = victim.read()

    status, answer = _request(emulator.port, method, "/_emulator/" + name, body)

    event(f"{name if name in POST_NAMES + GET_NAMES else '?'} {status}")
    assert status in ADMIN_ANSWERS, (status, answer[:300])
    if name == "faults" and status == 200:
        _fault_answers_as_armed(emulator, json.loads(body))
    assert victim.read() == before


#: Endpoints where a fault with a long delay was armed for the fuzzer's key: faults queue up,
#: so a later request there may wait that long, and none is sent.
_SLOW: set[str] = set()


def _fault_answers_as_armed(emulator: Emulator, spec: dict[str, Any]) -> None:
    """An armed endpoint fault answers the request it names (with its status, or the route's
    own answer after its delay), and never drops the connection."""
    endpoint = spec.get("endpoint")
    delay = spec.get("delay")
    if spec.get("websocket") is not None or spec.get("api_key") != FUZZ_KEY \
            or not isinstance(endpoint, str):
        return
    if isinstance(delay, (int, float)) and delay > 0.5:
        _SLOW.add(endpoint)  # armed as asked; no test waits that long for it
    if endpoint in _SLOW:
        return
    method, path = endpoint.split(" ", 1)
    path = path.replace("{device-id}", FUZZ_DEVICE)
    count = spec.get("count", 1)
    for _ in range(min(count, 3) if isinstance(count, int) else 1):
        status, _answer = _request(emulator.port, method, path, b"", FUZZ_KEY, timeout=10)
        assert 200 <= status <= 599


@fuzz(share=0.05)
@given(spec=st.fixed_dictionaries({}, optional={
    "probability": odd | st.floats(0, 1), "seed": odd | st.integers(),
    "faults": st.dictionaries(st.sampled_from(["rest.status", "rest.latency", "x"]) | st.text(
        max_size=8), odd | st.floats(0, 1), max_size=3) | odd,
    "endpoints": st.lists(st.sampled_from(ENDPOINTS) | st.text(max_size=8), max_size=2) | odd,
    "other": odd,
}))
def test_chaos_specs_are_accepted_or_refused_400(emulator: Emulator, spec: dict[str, Any]) -> None:
    try:
        status, answer = _request(emulator.port, "PUT", "/_emulator/chaos", _encode(spec))
        assert status in (200, 400), (status, answer[:300])
        status, _ = _request(emulator.port, "GET", "/_emulator/chaos", b"")
        assert status == 200
    finally:  # chaos off again: it reaches every key
        assert _request(emulator.port, "PUT", "/_emulator/chaos", b"{}")[0] == 200


@pytest.mark.parametrize(
    ("name", "body"),
    [
        # int(Infinity) raised OverflowError: the connection was dropped without an answer.
        ("async-response", b'{"id": "a", "status": Infinity}'),
        ("async-response", b'{"id": "a", "status": 1e999}'),
        # Accepted, these broke the faulted request later: wait(NaN) raises, a header that
        # cannot be encoded raises, a CR LF in a value splits the answer.
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "delay": NaN}'),
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "delay": 1e300}'),
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "delay": 1' + b"0" * 400 + b"}"),
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "status": 503, '
                   b'"headers": {"X-\\u00e9\\u4e2d": "1"}}'),
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "status": 503, '
                   b'"headers": {"X-A": "1\\r\\nX-B: 2"}}'),
        # A ct that is not text failed to encode the value (AttributeError): dropped.
        ("notify", b'{"ep": "d", "path": "/1/0/1", "value": 1, "ct": 5}'),
        ("async-response", b'{"id": "a", "value": 1, "ct": ["x"]}'),
        # A 1xx is no final answer: the faulted request's client waited until its time-out.
        ("faults", b'{"endpoint": "GET /v2/subscriptions", "status": 100}'),
        # RecursionError out of json.loads dropped the connection.
        ("notify", b"[" * 100_000),
    ],
)
def test_admin_requests_that_broke_the_emulator_are_answered_400(
    emulator: Emulator, name: str, body: bytes
) -> None:
    """Regressions found by fuzzing; each names the fuzzer's key so that nothing else moves."""
    if body.startswith(b"{"):
        body = body[:-1] + b', "api_key": "' + FUZZ_KEY.encode() + b'"}'
    status, answer = _request(emulator.port, "POST", "/_emulator/" + name, body)
    assert status == 400, answer
    assert json.loads(answer)["message"].startswith("Invalid request")
    # and the REST endpoint a refused fault named answers as before (a key of its own: the
    # fuzz tests may have armed faults for theirs)
    assert _request(emulator.port, "GET", "/v2/subscriptions", b"", "ak_regressions")[0] == 200


def test_a_null_ct_is_the_default_content_type(emulator: Emulator) -> None:
    """Regression (found by fuzzing): ``"ct": null`` dropped the connection; it is text/plain,
    as a missing ct is."""
    body = json.dumps({"ep": "d", "path": "/1/0/1", "value": 1, "ct": None,
                       "api_key": "ak_regressions"}).encode()
    status, answer = _request(emulator.port, "POST", "/_emulator/notify", body)
    assert status == 200, answer
