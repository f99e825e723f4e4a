"""Faults the emulator can inject, as typed values validated in one place (:func:`parse_fault`).

Two kinds exist: an :class:`EndpointFault` changes the next answers of one REST endpoint
(a status, a delay), a :class:`SocketFault` closes or drops open websockets. Both the
``Emulator.add_fault(**spec)`` method and the admin API's ``POST /_emulator/faults`` hand their
spec to :func:`parse_fault`; the service only ever sees the typed value.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["EndpointFault", "Fault", "SocketFault", "parse_fault"]

#: Close codes a server can put in a close frame (1005 and 1006 only describe a missing one).
_UNSENDABLE_CODES = (1005, 1006)
#: What an HTTP header name (a token) and value may hold (RFC 9110, 5.1 and 5.5).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@dataclass(frozen=True)
class EndpointFault:
    """The next ``count`` answers of ``endpoint`` (``"GET /v2/notification/pull"``) are changed.

    ``status`` replaces the answer (``None``: the real answer, only delayed); ``body`` is sent
    as JSON, or as ``text/plain`` when it is a string (``None``: the service's error body for
    ``status``); ``delay`` (seconds of real time) holds the answer back first.
    """

    endpoint: str
    status: int | None
    delay: float | None
    headers: tuple[tuple[str, str], ...]
    body: Any
    count: int
    api_key: str | None


@dataclass(frozen=True)
class SocketFault:
    """Open websockets are closed with ``code`` and ``reason`` (``action="close"``), or lose their
    TCP connection without a close frame (``"drop"``); with ``every``, every socket is dropped
    after each ``every``-th frame it delivers, from now until a reset.
    """

    action: Literal["close", "drop"]
    code: int
    reason: str
    every: int | None
    api_key: str | None


Fault = EndpointFault | SocketFault


def parse_fault(spec: Mapping[str, Any], endpoints: Collection[str]) -> Fault:
    """Validate a fault spec (the keywords of ``add_fault``, the JSON of the admin API).

    Args:
        spec: ``{"endpoint", "status", "delay", "headers", "body", "count"}`` for an endpoint
            fault, ``{"websocket": "close", "code", "reason"}`` or
            ``{"websocket": "drop", "every"}`` for a websocket fault; any of them may carry
            ``api_key`` to affect only that key.
        endpoints: The endpoints a fault may name, ``"METHOD /path"`` each.

    Raises:
        ValueError: For an unknown or malformed fault.
    """
    api_key = spec.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError("api_key must be a string")
    action = spec.get("websocket")
    if action is not None:
        return _socket_fault(str(action), spec, api_key)
    endpoint = spec.get("endpoint")
    if not isinstance(endpoint, str) or endpoint not in endpoints:
        raise ValueError(f"endpoint must be one of {sorted(endpoints)}")
    status = spec.get("status")
    delay = spec.get("delay")
    if status is None and delay is None:
        raise ValueError("a fault needs a status or a delay")
    # A 1xx is no final answer: the faulted request's client would wait until its time-out.
    if status is not None and not (
            isinstance(status, int) and not isinstance(status, bool) and 200 <= status <= 599):
        raise ValueError("status must be a final HTTP status (200..599)")
    # Longer than a thread can wait, the delay would drop the connection instead of answering.
    if delay is not None and (not isinstance(delay, (int, float)) or isinstance(delay, bool)
                              or not 0 <= delay <= threading.TIMEOUT_MAX):
        raise ValueError("delay must be a number of seconds from 0 to "
                         f"{threading.TIMEOUT_MAX:.0f}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ValueError("headers must be an object")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(str(name)) or not _FIELD_VALUE.fullmatch(str(value)):
            raise ValueError(f"headers: {str(name)!r} cannot be sent as an HTTP header")
    count = spec.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    return EndpointFault(
        endpoint=endpoint,
        status=status,
        delay=float(delay) if delay is not None else None,
        headers=tuple((str(name), str(value)) for name, value in headers.items()),
        body=spec.get("body"),
        count=count,
        api_key=api_key,
    )


def _socket_fault(action: str, spec: Mapping[str, Any], api_key: str | None) -> SocketFault:
    if action == "close":
        code = spec.get("code", 1012)
        if not isinstance(code, int) or not 1000 <= code <= 4999 or code in _UNSENDABLE_CODES:
            raise ValueError("code must be a websocket close code that can be sent")
        return SocketFault("close", code, str(spec.get("reason", "")), None, api_key)
    if action == "drop":
        every = spec.get("every")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError("every must be a positive integer")
        return SocketFault("drop", 1006, "", every, api_key)
    raise ValueError('websocket must be "close" or "drop"')
