"""What the property-based fuzz tests (``test/test_fuzz_*.py``) share: their hypothesis
settings and the strategies of the wire's values.

The settings are one profile, applied per test with ``@fuzz()`` (never loaded globally, so the
other hypothesis tests keep their defaults):

* ``max_examples``: ``MDS_FUZZ_EXAMPLES`` from the environment, 2000 by default, per target;
  a target that is slow per example (a real server, raw sockets) takes a share of it;
* ``deadline=None``: a slow example on a loaded machine is not a finding;
* ``derandomize=True`` when ``CI=true``: CI runs the same examples every time, so that a red
  build can be replayed; elsewhere each run explores new ones;
* no example database: the tree stays clean, and a failure prints the example to replay
  (``print_blob``), which then stays as an explicit ``@example`` regression test.

Run longer locally with, e.g., ``MDS_FUZZ_EXAMPLES=50000 python -m pytest test/test_fuzz_*.py``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "CONTENT_TYPES",
    "EXAMPLES",
    "KeyState",
    "content_types",
    "fuzz",
    "header_names",
    "header_values",
    "json_values",
    "messages",
    "mutated_messages",
    "odd_values",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Examples per target: ``MDS_FUZZ_EXAMPLES`` or 2000.
EXAMPLES = max(1, int(os.environ.get("MDS_FUZZ_EXAMPLES") or 2000))

#: Whether this run is CI's (reproducible examples).
IN_CI = os.environ.get("CI", "").lower() == "true"

settings.register_profile(
    "mds-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=IN_CI,
    database=None,
    print_blob=True,
    # Servers and large generated bodies are slow to set up on a loaded machine; the example
    # counts are what this suite promises, not a speed.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


def fuzz(share: float = 1.0) -> Callable[[F], F]:
    """The fuzz profile as a decorator; *share* of `EXAMPLES` for targets slow per example."""
    profile = settings.get_profile("mds-fuzz")
    return settings(profile, max_examples=max(1, int(EXAMPLES * share)))


# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------

#: Every content type the payload decoders know, and a few they do not.
CONTENT_TYPES = (
    "text/plain",
    "application/vnd.oma.lwm2m+text",
    "application/json",
    "application/vnd.oma.lwm2m+json",
    "application/senml+json",
    "application/vnd.oma.lwm2m+tlv",
    "application/nanoservice-tlv",
    "application/octet-stream",
    "application/vnd.oma.lwm2m+opaq",
    "application/link-format",
)


def _odd_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))
    )


def content_types() -> st.SearchStrategy[str | None]:
    """A known content type (odd case, with parameters and spaces), or any text, or None."""
    known = st.sampled_from(CONTENT_TYPES).flatmap(_odd_case)
    with_parameters = st.tuples(
        known, st.sampled_from(["", " ", "\t"]), st.sampled_from(["", ";", "; charset=utf-8", ";;x"])
    ).map("".join)
    return st.one_of(st.none(), known, with_parameters, st.text(max_size=40))


#: JSON values (what ``json.loads`` gives), nested a few levels.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)

#: Header names as HTTP carries them (tokens), and some that no client should send.
header_names = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
            min_size=1, max_size=20),
    st.sampled_from(["Authorization", "Content-Type", "Content-Length", "Transfer-Encoding",
                     "Connection", "Upgrade", "Expect", "Host"]),
)

#: Header values: Latin-1 text without line breaks (what an HTTP library can put on the wire).
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)


# -- NotificationMessages ---------------------------------------------------------------------

_B64 = st.binary(max_size=24).map(lambda raw: base64.b64encode(raw).decode())
_DEVICE_ID = st.text(min_size=1, max_size=12)
_CFG = {"uid": st.text(max_size=12), "timestamp": st.integers(0, 2**41),
        "original-ep": _DEVICE_ID}

#: One well-formed item of each kind, as the service sends it.
_NOTIFICATION = st.fixed_dictionaries(
    {"ep": _DEVICE_ID, "path": st.sampled_from(["/3303/0/5700", "/3/0/0", "/1/0"])},
    optional={"ct": st.sampled_from(CONTENT_TYPES), "payload": _B64,
              "max-age": st.integers(0, 86400), **_CFG},
)
_RESOURCE = st.fixed_dictionaries(
    {"path": st.sampled_from(["/3/0/0", "/3303/0/5700"])},
    optional={"ct": st.text(max_size=8), "obs": st.booleans(), "rt": st.text(max_size=8),
              "if": st.text(max_size=8)},
)
_REGISTRATION = st.fixed_dictionaries(
    {"ep": _DEVICE_ID},
    optional={"ept": st.text(max_size=8), "q": st.booleans(),
              "resources": st.lists(_RESOURCE, max_size=3), **_CFG},
)
_ASYNC_RESPONSE = st.fixed_dictionaries(
    {"id": _DEVICE_ID, "status": st.sampled_from([200, 202, 400, 404, 500, 502])},
    optional={"error": st.text(max_size=12), "ct": st.sampled_from(CONTENT_TYPES),
              "payload": _B64, "max-age": st.integers(0, 86400), **_CFG},
)
_DEREGISTRATION = _DEVICE_ID | st.fixed_dictionaries({"ep": _DEVICE_ID}, optional=_CFG)

#: Well-formed NotificationMessage dicts (possibly ``{}``, the validation request).
messages = st.fixed_dictionaries(
    {},
    optional={
        "notifications": st.lists(_NOTIFICATION, max_size=4),
        "registrations": st.lists(_REGISTRATION, max_size=2),
        "reg-updates": st.lists(_REGISTRATION, max_size=2),
        "de-registrations": st.lists(_DEREGISTRATION, max_size=2),
        "registrations-expired": st.lists(_DEREGISTRATION, max_size=2),
        "async-responses": st.lists(_ASYNC_RESPONSE, max_size=2),
    },
)

#: Values that break the readers of an item's fields: wrong JSON types, and numbers spelt in
#: ways some parsers read and some do not.
odd_values = st.one_of(
    json_values,
    st.sampled_from(["\u00b2", "\u0663", "--5", "1_0", "9" * 5000, "1e999", "nan", " 7 ", "",
                     "-", "true", "!!", "AAAA", "=", "\x00"]),
)


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed message with a few changes: a value replaced by an odd one, a key
    removed, an item replaced, a list replaced by something else."""
    message: dict[str, Any] = draw(messages)
    for _ in range(draw(st.integers(1, 4))):
        kinds = sorted(message)
        if not kinds:
            message[draw(st.text(max_size=20) | st.sampled_from(_KINDS))] = draw(odd_values)
            continue
        kind = draw(st.sampled_from(kinds))
        items = message[kind]
        if not isinstance(items, list) or not items or draw(st.integers(0, 9)) == 0:
            message[kind] = draw(odd_values)
            continue
        index = draw(st.integers(0, len(items) - 1))
        item = items[index]
        if not isinstance(item, dict) or draw(st.integers(0, 5)) == 0:
            items[index] = draw(odd_values)
            continue
        key = draw(st.sampled_from([*sorted(item), *_ITEM_KEYS]))
        if key in item and draw(st.booleans()):
            del item[key]
        else:
            item[key] = draw(odd_values)
    return message


_ITEM_KEYS = ["ep", "payload", "ct", "max-age", "status", "resources", "uid", "q", "id", "path"]
_KINDS = ["notifications", "registrations", "reg-updates", "de-registrations",
          "registrations-expired", "async-responses"]


# -- another key's view of its own state --------------------------------------------------------


class KeyState:
    """What one API key reads of its own state through the emulator's REST API (its channel
    and queue, its pre-subscriptions, its subscriptions on *device*), over one keep-alive
    connection: the fuzz tests compare it before and after each request of another key."""

    def __init__(self, port: int, api_key: str, device: str) -> None:
        self._port = port
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._paths = ("/v2/notification/websocket", "/v2/subscriptions",
                       f"/v2/subscriptions/{device}", "/v2/notification/channel")
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)

    def read(self) -> list[tuple[int, Any]]:
        """``(status, body)`` of each read; an error body without its (random) request id."""
        out = []
        for path in self._paths:
            self._connection.request("GET", path, headers=self._headers)
            response = self._connection.getresponse()
            body: Any = response.read()
            if response.getheader("Content-Type", "").startswith("application/json"):
                body = json.loads(body)
                if isinstance(body, dict):
                    body.pop("request_id", None)
            out.append((response.status, body))
        return out

    def close(self) -> None:
        self._connection.close()
