"""Simulated devices as the emulated service sees them: plain data and validation, no rules, no I/O.

A :class:`Device` owns resources (:class:`Resource`: path, content type, observable, value),
knows the resource directory it registered with, is online or not, and keeps the requests
queued for it (:class:`PendingRequest`) and the subscriptions each API key holds on it
(:class:`Subscriptions`). The rules that change all this live in
:class:`mds.emulator._device_service.DeviceService`.

The parsers here validate what clients send, once: pre-subscription rules
(:func:`parse_presubscriptions`), device requests (:func:`parse_device_request`), resource
paths (:func:`resource_path`) and the resources a test registers (:func:`resource_specs`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mds.emulator._messages import encode_payload

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_PAYLOAD_BYTES",
    "METHODS",
    "Answer",
    "Device",
    "DeviceRequest",
    "ExecuteAnswer",
    "Invalid",
    "PendingRequest",
    "Presubscription",
    "Resource",
    "Subscriptions",
    "checked_b64",
    "decode_value",
    "is_under",
    "parse_device_request",
    "parse_presubscriptions",
    "resource_path",
    "resource_specs",
]

#: The CoAP methods a device request may use.
METHODS: Final = ("GET", "PUT", "POST", "DELETE")
#: Longest resource path a request may name (the deprecated POST's documented limit).
MAX_PATH_CHARS: Final = 255
#: Largest payload delivered to a device (the deprecated PUT's documented limit); a larger one
#: is answered with 413.
MAX_PAYLOAD_BYTES: Final = 1_048_576
#: Limits of the pre-subscription rules, from the spec.
MAX_NAME_CHARS: Final = 64
MAX_PATTERN_CHARS: Final = 128
MAX_PATTERNS: Final = 256
MAX_RULES: Final = 1024
#: Keys of a ResourcesData dict that describe the device's value, not the registration.
_VALUE_KEYS: Final = ("value", "payload_b64", "max_age")
_FORBIDDEN_IN_PATH = re.compile(r"[\s?#*%\\]")


class Invalid(ValueError):
    """Something a client sent that the service refuses: ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---------------------------------------------------------------------- paths


def resource_path(text: Any) -> str | None:
    """``text`` as a resource path with one leading slash (``"3303/0/5700"`` gives
    ``"/3303/0/5700"``), or ``None`` when it is not one: empty, longer than
    :data:`MAX_PATH_CHARS`, an empty, ``.`` or ``..`` segment (``//``), whitespace, ``?``,
    ``#``, ``%``, ``\\`` or ``*``.
    """
    if not isinstance(text, str):
        return None
    path = text if text.startswith("/") else "/" + text
    if len(path) > MAX_PATH_CHARS or _FORBIDDEN_IN_PATH.search(path):
        return None
    segments = path[1:].split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return None
    return path


def is_under(path: str, ancestor: str) -> bool:
    """Whether ``path`` is ``ancestor`` or lies below it (``/3303/0/5700`` is under ``/3303``)."""
    return path == ancestor or path.startswith(ancestor + "/")


def _pattern_matches(pattern: str, value: str) -> bool:
    """A name or type with an optional trailing ``*`` (a prefix) against ``value``."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


# ---------------------------------------------------------------------- resources


@dataclass
class Resource:
    """One resource of a simulated device and its current value (base64 of its payload)."""

    path: str
    ct: str = "text/plain"
    obs: bool = False
    rt: str | None = None
    payload: str = ""
    max_age: int = 60
    has_value: bool = False

    def snapshot(self) -> dict[str, Any]:
        """What ``Emulator.device()`` shows of it."""
        shown: dict[str, Any] = {"path": self.path, "ct": self.ct, "obs": self.obs}
        if self.rt is not None:
            shown["rt"] = self.rt
        shown["payload_b64"] = self.payload
        shown["value"] = decode_value(self.payload, self.ct)
        return shown


def decode_value(payload_b64: str, ct: str) -> Any:
    """A payload as a test would like to read it: text types as ``str``, JSON types parsed,
    anything else ``None`` (read ``payload_b64`` then).
    """
    raw = base64.b64decode(payload_b64)
    media = ct.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None
    if media.startswith("text/") or media == "application/vnd.oma.lwm2m+text":
        return raw.decode("utf-8", "replace")
    return None


def _resource(path: str, spec: Mapping[str, Any], obs_default: bool) -> Resource:
    ct = spec.get("ct") or "text/plain"
    if not isinstance(ct, str):
        raise ValueError(f"resource {path}: ct must be a string")
    max_age = spec.get("max_age", 60)
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
        raise ValueError(f"resource {path}: max_age must be a non-negative integer")
    rt = spec.get("rt")
    resource = Resource(
        path=path,
        ct=ct,
        obs=bool(spec.get("obs", obs_default)),
        rt=rt if isinstance(rt, str) else None,
        max_age=max_age,
    )
    payload_b64 = spec.get("payload_b64")
    if payload_b64 is not None:
        resource.payload = checked_b64(payload_b64, f"resource {path}: payload_b64")
        resource.has_value = True
    elif "value" in spec:
        resource.payload = encode_payload(spec["value"], ct)
        resource.has_value = True
    return resource


def checked_b64(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        return base64.b64encode(base64.b64decode(value, validate=True)).decode("ascii")
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def resource_specs(resources: Any) -> list[tuple[dict[str, Any], Resource]]:
    """The resources a test registers a device with: ``(ResourcesData wire dict, Resource)``.

    Two forms are accepted:

    * a list of ResourcesData dicts (``path``, ``ct``, ``obs``, ``rt``, ``if``; ``_if`` and
      ``if_`` are taken for ``if``), each optionally with the device's ``value`` (or
      ``payload_b64``) and ``max_age``; the registration shows the dict without those three,
      and a resource is observable only when it says ``obs: true``;
    * a mapping ``path -> value`` or ``path -> dict`` (the dict as above, without ``path``):
      observable unless it says ``obs: False``; the registration lists ``path``, ``ct`` and
      ``obs`` (and ``rt``/``if`` when given).

    Raises:
        ValueError: For a resource without a valid path, a duplicated path or a malformed
            value.
    """
    if resources is None:
        return []
    specs: list[tuple[dict[str, Any], Resource]] = []
    if isinstance(resources, Mapping):
        for path_text, spec in resources.items():
            path = resource_path(path_text)
            if path is None:
                raise ValueError(f"not a resource path: {path_text!r}")
            given: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {"value": spec}
            resource = _resource(path, given, obs_default=True)
            wire: dict[str, Any] = {"path": path_text, "ct": resource.ct, "obs": resource.obs}
            for key, value in given.items():
                if key in ("rt", "if", "_if", "if_"):
                    wire["if" if key in ("_if", "if_") else key] = value
            specs.append((wire, resource))
    elif isinstance(resources, Sequence) and not isinstance(resources, (str, bytes)):
        for spec in resources:
            if not isinstance(spec, Mapping):
                raise ValueError("each resource must be a ResourcesData dict")
            path = resource_path(spec.get("path"))
            if path is None:
                raise ValueError(f"not a resource path: {spec.get('path')!r}")
            resource = _resource(path, spec, obs_default=False)
            wire = {
                ("if" if key in ("_if", "if_") else key): value
                for key, value in spec.items()
                if key not in _VALUE_KEYS
            }
            specs.append((wire, resource))
    else:
        raise ValueError("resources must be a list of ResourcesData dicts or a mapping by path")
    paths = [resource.path for _, resource in specs]
    if len(set(paths)) != len(paths):
        raise ValueError("a resource path is listed twice")
    return specs


# ---------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class Presubscription:
    """One pre-subscription rule (Presubscription), validated."""

    endpoint_name: str | None = None
    endpoint_type: str | None = None
    resource_paths: tuple[str, ...] | None = None

    def wire(self) -> dict[str, Any]:
        """The rule as GET /v2/subscriptions answers it (only the keys it has)."""
        wire: dict[str, Any] = {}
        if self.endpoint_name is not None:
            wire["endpoint-name"] = self.endpoint_name
        if self.endpoint_type is not None:
            wire["endpoint-type"] = self.endpoint_type
        if self.resource_paths is not None:
            wire["resource-path"] = list(self.resource_paths)
        return wire

    def matches_device(self, ep: str, ept: str | None) -> bool:
        """Whether the rule applies to device ``ep`` of type ``ept``."""
        if self.endpoint_name is not None and not _pattern_matches(self.endpoint_name, ep):
            return False
        return self.endpoint_type is None or self.endpoint_type == ept

    def matches_resource(self, path: str) -> bool:
        """Whether the rule subscribes resource ``path`` (of a device it applies to).

        No ``resource-path``: every (observable) resource. A pattern ending in ``*`` is a
        prefix; any other names a resource, or an object or object instance and so every
        resource below it.
        """
        if self.resource_paths is None:
            return True
        for pattern in self.resource_paths:
            if pattern.endswith("*"):
                if path.startswith(pattern[:-1]):
                    return True
            elif is_under(path, pattern.rstrip("/") or "/"):
                return True
        return False


def _rule_text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise Invalid(f"{where}.{key}", f"{key} must be a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        raise Invalid(f"{where}.{key}", f"{key} is longer than {MAX_NAME_CHARS} characters")
    if key == "endpoint-name" and "*" in value[:-1]:
        raise Invalid(f"{where}.{key}", "'*' may only end an endpoint name")
    return value


def parse_presubscriptions(data: Any) -> list[Presubscription]:
    """Validate a PresubscriptionArray (the body of ``PUT /v2/subscriptions``).

    Raises:
        Invalid: Not an array; an entry that is not an object or has an unknown key; a name or
            type that is not a string, is empty or longer than 64 characters; a ``*``
            anywhere but at the end of a name or path; ``resource-path`` not a non-empty list
            of paths starting with ``/``, at most 128 characters each; more than 256 separate
            paths in all; more than 1024 entries.
    """
    if not isinstance(data, list):
        raise Invalid("presubscriptions", "the body must be a JSON array of presubscriptions")
    if len(data) > MAX_RULES:
        raise Invalid("presubscriptions", f"at most {MAX_RULES} presubscription entries")
    rules: list[Presubscription] = []
    patterns: set[str] = set()
    for index, entry in enumerate(data):
        where = f"[{index}]"
        if not isinstance(entry, dict):
            raise Invalid(where, "each presubscription must be an object")
        unknown = set(entry) - {"endpoint-name", "endpoint-type", "resource-path"}
        if unknown:
            raise Invalid(f"{where}.{sorted(unknown)[0]}", "unknown presubscription field")
        paths = entry.get("resource-path")
        resource_paths: tuple[str, ...] | None = None
        if paths is not None:
            if not isinstance(paths, list) or not paths:
                raise Invalid(f"{where}.resource-path", "resource-path must be a non-empty list")
            for pattern in paths:
                if (
                    not isinstance(pattern, str)
                    or not pattern.startswith("/")
                    or "*" in pattern[:-1]
                    or len(pattern) > MAX_PATTERN_CHARS
                    or re.search(r"\s", pattern)
                ):
                    raise Invalid(
                        f"{where}.resource-path",
                        "each resource path starts with '/', has at most "
                        f"{MAX_PATTERN_CHARS} characters and '*' only at its end",
                    )
                patterns.add(pattern)
            resource_paths = tuple(paths)
        rules.append(
            Presubscription(
                endpoint_name=_rule_text(entry, "endpoint-name", where),
                endpoint_type=_rule_text(entry, "endpoint-type", where),
                resource_paths=resource_paths,
            )
        )
    if len(patterns) > MAX_PATTERNS:
        raise Invalid("presubscriptions", f"at most {MAX_PATTERNS} separate resource paths")
    return rules


class Subscriptions:
    """The resources one API key is subscribed to on one device.

    ``manual`` come from ``PUT /v2/subscriptions/{device-id}/{path}`` and go on a full
    registration; ``pre`` are what the key's pre-subscription rules gave at the last
    registration or registration update.
    """

    __slots__ = ("manual", "pre")

    def __init__(self) -> None:
        self.manual: set[str] = set()
        self.pre: set[str] = set()

    def covers(self, path: str) -> bool:
        """Whether a change of ``path`` is delivered (it, or an object above it, is subscribed)."""
        return any(is_under(path, subscribed) for subscribed in (*self.manual, *self.pre))

    def paths(self) -> list[str]:
        """Every subscribed path, sorted."""
        return sorted(self.manual | self.pre)

    def discard(self, path: str) -> None:
        """Remove the subscription of exactly ``path``, manual or from a rule."""
        self.manual.discard(path)
        self.pre.discard(path)


# ---------------------------------------------------------------------- requests


@dataclass(frozen=True)
class DeviceRequest:
    """A validated DeviceRequest: what to do on the device."""

    method: str
    path: str
    query: str
    accept: str | None
    content_type: str | None
    payload: bytes | None


def parse_device_request(data: Any) -> DeviceRequest:
    """Validate a DeviceRequest body (already parsed from JSON).

    ``method`` one of GET, PUT, POST, DELETE; ``uri`` a resource path, optionally with a
    query (``/5/0/1?pmax=120``); ``accept`` and ``content-type`` strings; ``payload-b64``
    valid base64. Unknown keys are ignored.

    Raises:
        Invalid: Naming the field at fault.
    """
    if not isinstance(data, dict):
        raise Invalid("body", "the body must be a DeviceRequest object")
    method = data.get("method")
    if method not in METHODS:
        raise Invalid("method", f"method must be one of {', '.join(METHODS)}")
    uri = data.get("uri")
    if not isinstance(uri, str):
        raise Invalid("uri", "uri must be a string")
    path_text, _, query = uri.partition("?")
    path = resource_path(path_text)
    if path is None or re.search(r"[\s#]", query):
        raise Invalid("uri", "uri must be a resource path such as /3303/0/5700")
    texts: dict[str, str | None] = {}
    for key in ("accept", "content-type"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise Invalid(key, f"{key} must be a string")
        texts[key] = value
    payload: bytes | None = None
    if data.get("payload-b64") is not None:
        try:
            payload = base64.b64decode(
                checked_b64(data["payload-b64"], "payload-b64"), validate=True
            )
        except ValueError as exc:
            raise Invalid("payload-b64", str(exc)) from None
    return DeviceRequest(method, path, query, texts["accept"], texts["content-type"], payload)


@dataclass
class ExecuteAnswer:
    """What a device answers to a POST on one path: a value, or a function of the payload."""

    answer: Any
    status: int
    ct: str

    def reply(self, payload: bytes) -> tuple[int, Any]:
        """``(status, value)`` for a POST with ``payload`` (the function is called here)."""
        value = self.answer(payload) if callable(self.answer) else self.answer
        return self.status, value


@dataclass(eq=False)
class PendingRequest:
    """A request waiting for a device, or on its way to it.

    ``kind`` is ``"request"`` (a device request, or a call of the deprecated resource API)
    or ``"subscribe"`` (a subscription the device has yet to accept). ``attempt`` counts the
    attempts started; an attempt in flight ends at ``due``. ``reply`` is ``False`` for a
    non-confirmable request (``noResp=true``), which is answered by nobody.
    """

    api_key: str
    async_id: str
    request: DeviceRequest
    retries_left: int
    expires_at: float
    kind: str = "request"
    reply: bool = True
    attempt: int = 0
    due: float | None = None
    #: Why the attempt in flight will fail (``"TIMEOUT"``), ``None`` when it will succeed.
    failure: str | None = None
    #: Answered (or dropped): out of the device's queue for good.
    done: bool = False


@dataclass(eq=False)
class Device:
    """A simulated device: its registration, resources, queue and the keys' subscriptions."""

    ep: str
    ept: str | None = None
    original_ep: str | None = None
    q: bool = False
    registered: bool = True
    online: bool = True
    #: Seconds it takes to answer; ``None``: the emulator's ``device_latency``.
    latency: float | None = None
    #: The live resources, by path.
    resources: dict[str, Resource] = field(default_factory=dict)
    #: The ResourcesData of its last registration (what the service knows without asking).
    directory: list[dict[str, Any]] = field(default_factory=list)
    #: The directory's resource paths, normalized, in its order.
    directory_order: list[str] = field(default_factory=list)
    directory_paths: frozenset[str] = frozenset()
    queue: deque[PendingRequest] = field(default_factory=deque)
    subscriptions: dict[str, Subscriptions] = field(default_factory=dict)
    #: Resources changed while offline, reported when it comes back (ordered, no repeats).
    changed_offline: dict[str, None] = field(default_factory=dict)
    answers: dict[str, ExecuteAnswer] = field(default_factory=dict)
    #: The service's cache of values it received: path -> (payload, ct, max_age, until).
    cache: dict[str, tuple[str, str, int, float]] = field(default_factory=dict)

    def knows(self, path: str) -> bool:
        """Whether the directory has ``path``: a resource, or an object / instance above one."""
        return any(is_under(known, path) for known in self.directory_paths)

    def knows_object(self, path: str) -> bool:
        """Whether the directory has the object ``path`` belongs to (a POST may create below)."""
        return self.knows("/" + path[1:].split("/", 1)[0])

    def observable(self, path: str) -> bool:
        """Whether a live observable resource is ``path`` or lies below it."""
        return any(
            resource.obs and is_under(resource.path, path) for resource in self.resources.values()
        )

    def queued_for(self, api_key: str) -> int:
        """How many of its pending requests ``api_key`` sent."""
        return sum(1 for pending in self.queue if pending.api_key == api_key)

    def snapshot(self) -> dict[str, Any]:
        """What ``Emulator.device()`` shows (no API keys: they are secrets)."""
        return {
            "ep": self.ep,
            "ept": self.ept,
            "original_ep": self.original_ep,
            "q": self.q,
            "registered": self.registered,
            "online": self.online,
            "latency": self.latency,
            "queued": len(self.queue),
            "resources": {path: res.snapshot() for path, res in sorted(self.resources.items())},
        }


#: A device's answer: (status, payload base64 or None, ct or None, max-age or None).
Answer = tuple[int, str | None, str | None, int | None]
