"""Typed events: one `NotificationMessage` batch turned into a stream of small immutable objects.

::

    for event in events_from_message(message):
        match event:
            case ResourceChanged(device_id=ep, path="/3303/0/5700", value=value):
                ...
            case DeviceRegistered(device_id=ep, resources=resources):
                ...
            case AsyncResponse() if not event.ok:
                ...

Every event is a frozen, hashable dataclass with an ``error`` attribute: None when the item was
fine, else a sentence saying what was wrong with it. A malformed item never hides the rest of
its batch and is never dropped: it becomes an event of its kind with ``error`` set and the
fields that could be read filled in (an unreadable device id is ``""``; such items are also
logged as warnings on the ``mds.events`` logger, since they cannot be routed to a device).
Assigning or deleting a field raises `dataclasses.FrozenInstanceError` (an ``AttributeError``);
``dataclasses.fields``, ``replace`` and ``asdict``, ``copy`` and ``pickle`` work on every event.

Payloads are decoded when first read, then kept: ``payload`` is the bytes (base64 decoded) and
``value`` those bytes decoded by the content type (`mds.payload.decode_payload`), and the first
read of ``payload``, ``value`` or ``error`` (or of anything that reads them: ``==``, ``hash``,
``repr``, pickling, ``match``) decodes both, so a consumer that only routes events by device
and path never pays for decoding. The event reads the same whenever it is read; only the
moment of the work differs. When the payload is bad, ``value`` is None and ``error`` says why
(``payload`` keeps whatever bytes could be read: ``b""`` when the base64 was bad). ``value``
takes part in equality but not in the hash, since it may be a dict or a list (JSON, SenML):
events can go in sets and be dict keys whatever they hold. Events may be read from several
threads: the first reads agree, and a value that can be changed (a JSON object, a list) is one
object for every reader.

Every event also carries what a channel registered with the 2020 ``serialization`` ``cfg``
flags adds to its items (``include_original_ep``, ``include_uid``, ``include_timestamp``):
``original_id`` (``original-ep``, the endpoint name the device registered with), ``uid`` (a
message id, for spotting an item delivered twice; a non-string one is kept as its ``str()``)
and ``timestamp`` (when the service queued the item, as sent), each None when not sent. They
come after the other fields, so events built positionally read as before; they take part in
equality, and ``timestamp``, sent as anything, like ``value`` not in the hash.

*message* may be a wire dict (as ``json.loads`` gives it) or an object with a ``to_dict()``
method that returns one, such as `mds.models.NotificationMessage`; this module knows nothing of
the models, which sit above it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import FrozenInstanceError, dataclass, field, fields
from functools import partial
from itertools import chain
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

from mds.exceptions import AsyncResponseError, PayloadDecodeError
from mds.payload import decode_base64, decode_payload, decode_payload_with_bytes

__all__ = [
    "AsyncResponse",
    "DeviceDeregistered",
    "DeviceRegistered",
    "DeviceRegistrationExpired",
    "DeviceRegistrationUpdated",
    "Event",
    "Resource",
    "ResourceChanged",
    "event_list",
    "events_from_message",
    "message_dict",
]

logger = logging.getLogger("mds.events")


class Event:
    """Base class of every event. ``error`` is None for a well-formed item, else what was wrong."""

    __slots__ = ()

    error: str | None


# --------------------------------------------------------------------------------------------
# events with a payload, decoded on first read
# --------------------------------------------------------------------------------------------

#: Types of decoded values that no reader can change: threads that decode the same event at
#: once store equal values, so these are stored without taking `_DECODING`.
_IMMUTABLE = frozenset({int, float, str, bytes, type(None)})
# Held while a value that can be changed (JSON, SenML) is stored, so that every reader of the
# event gets the same object.
_DECODING = threading.Lock()


class _PayloadEvent(Event):
    """The state behind `ResourceChanged` and `AsyncResponse`: every field in a ``_<name>``
    slot (read through the properties that `_fields_in_slots` adds), and the payload decoded
    on first read.

    An event read from a well-formed wire item holds the payload's base64 text in ``_pending``
    and the item's index in its list in ``_index`` (for the error text), and its ``_payload``,
    ``_value`` and ``_error`` slots are empty. The first read of ``payload``, ``value`` or
    ``error`` fills them, then sets ``_pending`` to None. An event built any other way has
    every slot filled and ``_pending`` None from the start.
    """

    __slots__ = ("_content_type", "_error", "_index", "_max_age", "_original_id", "_payload",
                 "_pending", "_timestamp", "_uid", "_value")

    #: the message key of the items this event is read from, for error texts
    _KEY: ClassVar[str]

    _content_type: str | None
    _max_age: int | None
    _payload: bytes
    _value: Any
    _error: str | None
    _pending: str | None
    _index: int
    _original_id: str | None
    _uid: str | None
    _timestamp: Any

    def __reduce__(self) -> tuple[Any, ...]:
        # The decoded fields, in the order of __init__: a copy or an unpickled event is built
        # decoded, whatever the original had read.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]

    def __setstate__(self, state: list[Any]) -> None:
        # An event pickled by mds 1.0, a slotted dataclass then: its fields' values in order
        # (without the fields added since, which take their defaults).
        type(self).__init__(self, *state)


def _read_value(event: _PayloadEvent) -> Any:
    """``event.value``, decoding the payload first if that is still pending.

    The hot path of a consumer that reads values: one call into `mds.payload` and four slot
    stores."""
    text = event._pending
    if text is None:
        return event._value
    error: str | None = None
    try:
        raw, value = decode_payload_with_bytes(text, event._content_type)
    except PayloadDecodeError as exc:
        raw, value, error = _decode_failure(event, text, exc)
    if type(value) not in _IMMUTABLE:
        return _store_once(event, raw, value, error)
    # Threads reading the event for the first time at once may each get here: they store
    # equal values that nobody can change.
    event._payload = raw
    event._error = error
    event._value = value
    event._pending = None  # last: a reader that sees None finds the other slots filled
    return value


def _decode_failure(event: _PayloadEvent, text: str, exc: PayloadDecodeError,
                    ) -> tuple[bytes, None, str]:
    """``(bytes, None, error)`` for a payload that raised *exc*: the bytes are ``b""`` when
    the base64 is bad, else what it decodes to (the content type did not fit them)."""
    try:
        raw = decode_base64(text)
    except PayloadDecodeError:
        return b"", None, _error([str(exc)], event._KEY, event._index)
    problem = f"payload does not decode as {event._content_type}: {exc}"
    return raw, None, _error([problem], event._KEY, event._index)


def _store_once(event: _PayloadEvent, raw: bytes, value: Any, error: str | None) -> Any:
    """Store a decoded value that can be changed (a JSON object, a list) unless another
    thread was first, so that every reader gets the same object; returns the one stored."""
    with _DECODING:
        if event._pending is not None:
            event._payload = raw
            event._error = error
            event._value = value
            event._pending = None
        return event._value


def _read_payload(event: _PayloadEvent) -> bytes:
    if event._pending is not None:
        _read_value(event)
    return event._payload


def _read_error(event: _PayloadEvent) -> str | None:
    if event._pending is not None:
        _read_value(event)
    return event._error


_DECODED_ON_READ: dict[str, Callable[[_PayloadEvent], Any]] = {
    "payload": _read_payload,
    "value": _read_value,
    "error": _read_error,
}

_P = TypeVar("_P", bound=_PayloadEvent)


def _fields_in_slots(cls: type[_P]) -> type[_P]:
    """Make the frozen dataclass *cls* keep its fields in its ``_<name>`` slots, behind
    read-only properties, instead of refusing assignment in ``__setattr__``.

    Why: a frozen dataclass's ``__setattr__`` refuses every assignment, so whatever fills an
    instance must call ``object.__setattr__`` once per field (about 70 ns each), which made
    building an event cost more than all the rest of reading its item. With read-only
    properties, an event is as immutable for its users (assigning or deleting a field raises
    `FrozenInstanceError`; there is no ``__dict__`` for new attributes), while this module's
    own code stores plainly into the slots. ``payload``, ``value`` and ``error`` decode the
    payload on first read.
    """
    for name in ("__setattr__", "__delattr__"):
        delattr(cls, name)
    for f in fields(cls):  # type: ignore[arg-type]
        refuse = _refuse(f.name)
        getter = _DECODED_ON_READ.get(f.name) or attrgetter("_" + f.name)
        setattr(cls, f.name, property(getter, refuse, refuse))
    return cls


def _refuse(name: str) -> Callable[..., None]:
    """A property's setter and deleter for the field *name*, raising as a frozen dataclass
    does."""

    def refuse(event: Any, *value: Any) -> None:
        raise FrozenInstanceError(f"cannot {'assign to' if value else 'delete'} field {name!r}")

    return refuse


@_fields_in_slots
@dataclass(frozen=True, init=False)
class ResourceChanged(_PayloadEvent):
    """A resource's value changed (an item of ``notifications``).

    ``payload`` is the raw bytes (base64 decoded), ``value`` the payload decoded by its content
    type (see `mds.decode_payload`), or None when it could not be decoded (``error`` says why;
    ``payload`` is then ``b""`` if the base64 was bad). Both are decoded when one of ``payload``,
    ``value`` and ``error`` is first read. ``max_age`` is in seconds, None when not sent.
    ``original_id``, ``uid`` and ``timestamp`` are None unless the channel's ``cfg`` asked for
    them (see the module's docstring).
    """

    __slots__ = ("_device_id", "_path")
    _KEY = "notifications"

    device_id: str
    path: str
    content_type: str | None
    max_age: int | None
    payload: bytes
    value: Any = field(default=None, hash=False)
    error: str | None = None
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)

    def __init__(
        self,
        device_id: str,
        path: str,
        content_type: str | None,
        max_age: int | None,
        payload: bytes,
        value: Any = None,
        error: str | None = None,
        original_id: str | None = None,
        uid: str | None = None,
        timestamp: Any = None,
    ) -> None:
        self._device_id = device_id
        self._path = path
        self._content_type = content_type
        self._max_age = max_age
        self._payload = payload
        self._value = value
        self._error = error
        self._original_id = original_id
        self._uid = uid
        self._timestamp = timestamp
        self._pending = None


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource a device registered: ``path`` (``/3303/0/5700``), ``content_type``,
    ``observable``, ``resource_type`` (``rt``, may hold several space-separated types) and
    ``interface`` (``if``)."""

    path: str
    content_type: str | None = None
    observable: bool = False
    resource_type: str | None = None
    interface: str | None = None

    @property
    def resource_types(self) -> tuple[str, ...]:
        """``resource_type`` split on spaces (empty when there is none)."""
        return tuple(self.resource_type.split()) if self.resource_type else ()


_R = TypeVar("_R", bound=Event)


def _loads_older_pickles(cls: type[_R]) -> type[_R]:
    """Let the slotted dataclass *cls* unpickle the field values of an earlier release, which
    had fewer fields: the missing ones, added at the end since, take their defaults.

    Set after ``@dataclass`` has run, since Python 3.10's ``slots=True`` replaces a
    ``__setstate__`` defined in the class body."""

    def setstate(self: Any, state: list[Any]) -> None:
        for index, f in enumerate(fields(cls)):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, state[index] if index < len(state) else f.default)

    cls.__setstate__ = setstate  # type: ignore[attr-defined]
    return cls


@_loads_older_pickles
@dataclass(frozen=True, slots=True)
class DeviceRegistered(Event):
    """A device registered (an item of ``registrations``).

    ``endpoint_type`` is ``ept``, ``original_id`` the device's own endpoint name
    (``original-ep``), ``queue_mode`` is ``q`` (False when not sent), ``resources`` a tuple of
    `Resource`; ``uid`` and ``timestamp`` as in `DeviceDeregistered`.
    """

    device_id: str
    endpoint_type: str | None = None
    original_id: str | None = None
    queue_mode: bool = False
    resources: tuple[Resource, ...] = ()
    error: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)


@_loads_older_pickles
@dataclass(frozen=True, slots=True)
class DeviceRegistrationUpdated(Event):
    """A device updated its registration (an item of ``reg-updates``); fields as in
    `DeviceRegistered`."""

    device_id: str
    endpoint_type: str | None = None
    original_id: str | None = None
    queue_mode: bool = False
    resources: tuple[Resource, ...] = ()
    error: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class DeviceDeregistered(Event):
    """A device deregistered (an item of ``de-registrations``).

    The item is a device id, or, with the 2020 ``deregistrations_as_object`` option, an object
    that may also carry ``original-ep``, ``uid`` (a message id, for spotting duplicates) and
    ``timestamp`` (when the service queued it), kept here as sent (``timestamp`` is left out of
    the hash, as every event's is).
    """

    device_id: str
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRegistrationExpired(Event):
    """A device's registration expired (an item of ``registrations-expired``); fields as in
    `DeviceDeregistered`."""

    device_id: str
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)
    error: str | None = None


@_fields_in_slots
@dataclass(frozen=True, init=False)
class AsyncResponse(_PayloadEvent):
    """A device's answer to an earlier asynchronous request (an item of ``async-responses``).

    ``id`` is the async request id; ``status`` the device's (or the service's) status code,
    0 when missing; ``error`` the service's error text (``"TIMEOUT"``), or what was wrong with
    the item; ``payload``/``value``, ``original_id``, ``uid`` and ``timestamp`` as in
    `ResourceChanged` (``value`` None without a payload).
    """

    __slots__ = ("_id", "_status")
    _KEY = "async-responses"

    id: str
    status: int
    error: str | None = None
    content_type: str | None = None
    max_age: int | None = None
    payload: bytes = b""
    value: Any = field(default=None, hash=False)
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = field(default=None, hash=False)

    def __init__(
        self,
        id: str,  # noqa: A002 - the wire's name, and the field's
        status: int,
        error: str | None = None,
        content_type: str | None = None,
        max_age: int | None = None,
        payload: bytes = b"",
        value: Any = None,
        original_id: str | None = None,
        uid: str | None = None,
        timestamp: Any = None,
    ) -> None:
        self._id = id
        self._status = status
        self._error = error
        self._content_type = content_type
        self._max_age = max_age
        self._payload = payload
        self._value = value
        self._original_id = original_id
        self._uid = uid
        self._timestamp = timestamp
        self._pending = None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self._status < 300

    def raise_for_status(self) -> AsyncResponse:
        """Raise `mds.AsyncResponseError` unless the status is 2xx; return self otherwise."""
        if not 200 <= self._status < 300:
            raise AsyncResponseError(self)
        return self


# --------------------------------------------------------------------------------------------
# reading items
# --------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_dict(item: Any) -> dict[str, Any] | None:
    """The wire dict of an item: the item itself, a copy of a mapping, or what its
    ``to_dict()`` returns (a model's item); None for anything else."""
    if type(item) is dict:
        return item
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict):
            return data
    return None


def _max_age(item: dict[str, Any], problems: list[str]) -> int | None:
    value = item.get("max-age")
    if value is None:
        value = item.get("max_age")
        if value is None:
            return None
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and "_" not in value:
        # (as the models read numbers: other scripts' digits and underscores are not the wire's)
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    problems.append(f"'max-age' is not a whole number: {_describe(value)}")
    return None


def _optional_str(item: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = item.get(key)
    if value is None or type(value) is str:
        return value
    problems.append(f"{key!r} is not a string: {_describe(value)}")
    return None


def _cfg_keys(item: dict[str, Any], problems: list[str]) -> tuple[str | None, str | None, Any]:
    """``(original_id, uid, timestamp)`` of an item, the keys the ``cfg`` flags add: None when
    not sent; an ``original-ep`` that is not a string is added to *problems*, a ``uid`` that
    is not one is kept as its ``str()``."""
    original = item.get("original-ep")
    if original is None:
        original = item.get("original_ep")
    if original is not None and type(original) is not str:
        problems.append(f"'original-ep' is not a string: {_describe(original)}")
        original = None
    uid = item.get("uid")
    if uid is not None and type(uid) is not str:
        uid = str(uid)
    return original, uid, item.get("timestamp")


def _device_id(item: dict[str, Any], problems: list[str]) -> str:
    ep = item.get("ep")
    if type(ep) is str and ep:
        return ep
    if ep is None or ep == "":
        problems.append("no device id ('ep')")
    else:
        problems.append(f"'ep' is not a string: {_describe(ep)}")
    return ""


def _payload(item: dict[str, Any], content_type: str | None, problems: list[str],
             ) -> tuple[bytes, Any]:
    """``(bytes, value)`` of an item's payload, decoded now (for items with a problem
    already, which are rare); a decoding problem is added to *problems*."""
    encoded = item.get("payload")
    if encoded is None:
        return b"", None
    try:
        raw = decode_base64(encoded)
    except PayloadDecodeError as exc:
        problems.append(str(exc))
        return b"", None
    try:
        return raw, decode_payload(raw, content_type)
    except PayloadDecodeError as exc:
        problems.append(f"payload does not decode as {content_type}: {exc}")
        return raw, None


def _error(problems: list[str], key: str, index: int) -> str:
    return f"{key}[{index}]: " + "; ".join(problems)


_NOTIFICATION_KEYS = ("ep", "path", "ct", "payload", "max-age")


def _notifications(items: list[Any], key: str) -> list[Event]:
    """The events of a ``notifications`` list: the hot path of the whole SDK.

    A well-formed item (as nearly every item is) becomes an event here, stored straight into
    its slots with its payload left as base64 for the first read (see `_PayloadEvent`), so
    that a consumer that never looks at a payload never pays for decoding it; any other item
    goes to `_notification`, which says what is wrong with it. The keys the ``cfg`` flags
    add are looked for only in an item with more keys than the standard ones, so that they
    cost the items of other channels one ``len()``; an item with exactly ``uid`` and
    ``timestamp`` besides (a listener's channel) is read without a call."""
    new = object.__new__
    events: list[Event] = []
    append = events.append
    for index, item in enumerate(items):
        if type(item) is not dict:
            append(_notification(item, key, index))
            continue
        try:  # the keys the service sends in every item, read the quickest way
            ep = item["ep"]
            path = item["path"]
            ct = item["ct"]
            encoded = item["payload"]
            max_age = item["max-age"]
            extra = len(item) - 5  # keys besides those five
        except KeyError:  # one is missing: None, as for a key sent with null
            ep, path, ct, encoded, max_age = map(item.get, _NOTIFICATION_KEYS)
            extra = -1  # unknown
        if (
            type(ep) is str
            and ep
            and type(path) is str
            and (ct is None or type(ct) is str)
            and type(encoded) is str
            and (type(max_age) is int or (max_age is None and "max_age" not in item))
        ):
            if not extra:
                original = uid = timestamp = None
            elif extra == 2 and "uid" in item and "timestamp" in item:
                # What a channel registered by a listener sends (include_uid and
                # include_timestamp): nearly every item of such a channel.
                original = None
                uid = item["uid"]
                if uid is not None and type(uid) is not str:
                    uid = str(uid)
                timestamp = item["timestamp"]
            else:
                problems: list[str] = []
                original, uid, timestamp = _cfg_keys(item, problems)
                if problems:
                    append(_notification(item, key, index))
                    continue
            event = new(ResourceChanged)
            event._device_id = ep
            event._path = path
            event._content_type = ct
            event._max_age = max_age
            event._original_id = original
            event._uid = uid
            event._timestamp = timestamp
            event._pending = encoded
            event._index = index
            append(event)
        else:
            append(_notification(item, key, index))
    return events


def _notification(item: Any, key: str, index: int) -> ResourceChanged:
    """The event of a ``notifications`` item that is not well formed (see `_notifications`)."""
    data = _as_dict(item)
    if data is None:
        return _unroutable(
            _broken_notification(f"{key}[{index}]: not an object: {_describe(item)}")
        )
    problems: list[str] = []
    ep = _device_id(data, problems)
    path = _optional_str(data, "path", problems)
    if path is None and "path" not in data:
        problems.append("no 'path'")
    ct = _optional_str(data, "ct", problems)
    age = _max_age(data, problems)
    original, uid, timestamp = _cfg_keys(data, problems)
    raw, value = _payload(data, ct, problems)
    error = _error(problems, key, index) if problems else None
    event = ResourceChanged(ep, path or "", ct, age, raw, value, error, original, uid, timestamp)
    return _unroutable(event) if not ep else event


def _resources(data: dict[str, Any], problems: list[str]) -> tuple[Resource, ...]:
    items = data.get("resources")
    if items is None:
        return ()
    if type(items) is not list:
        problems.append(f"'resources' is not a list: {_describe(items)}")
        return ()
    out: list[Resource] = []
    for index, item in enumerate(items):
        res = _as_dict(item)
        if res is None:
            problems.append(f"resources[{index}] is not an object: {_describe(item)}")
            continue
        path = res.get("path")
        if type(path) is not str or not path:
            problems.append(f"resources[{index}] has no 'path'")
            continue
        ct = res.get("ct")
        obs = res.get("obs")
        rt = res.get("rt")
        interface = res.get("if")
        if interface is None:
            interface = res.get("_if")
        checks = (("ct", ct, str), ("obs", obs, bool), ("rt", rt, str), ("if", interface, str))
        bad = [
            name for name, value, kind in checks if value is not None and type(value) is not kind
        ]
        if bad:
            problems.append(f"resources[{index}] ({path}) has a wrong type for {', '.join(bad)}")
        out.append(
            Resource(
                path,
                ct if type(ct) is str else None,
                obs is True,
                rt if type(rt) is str else None,
                interface if type(interface) is str else None,
            )
        )
    return tuple(out)


def _registration(
    cls: type[DeviceRegistered | DeviceRegistrationUpdated], item: Any, key: str, index: int
) -> DeviceRegistered | DeviceRegistrationUpdated:
    data = _as_dict(item)
    if data is None:
        return _unroutable(cls("", error=f"{key}[{index}]: not an object: {_describe(item)}"))
    problems: list[str] = []
    ep = _device_id(data, problems)
    ept = _optional_str(data, "ept", problems)
    original, uid, timestamp = _cfg_keys(data, problems)
    queue = data.get("q")
    if queue is not None and type(queue) is not bool:
        problems.append(f"'q' is not true or false: {_describe(queue)}")
    resources = _resources(data, problems)
    event = cls(
        ep,
        ept,
        original,
        queue is True,
        resources,
        _error(problems, key, index) if problems else None,
        uid,
        timestamp,
    )
    return _unroutable(event) if not ep else event


def _deregistration(
    cls: type[DeviceDeregistered | DeviceRegistrationExpired], item: Any, key: str, index: int
) -> DeviceDeregistered | DeviceRegistrationExpired:
    if type(item) is str and item:
        return cls(item)
    data = _as_dict(item)
    if data is None:
        return _unroutable(
            cls("", error=f"{key}[{index}]: not a device id or object: {_describe(item)}")
        )
    problems: list[str] = []
    ep = _device_id(data, problems)
    original, uid, timestamp = _cfg_keys(data, problems)
    event = cls(ep, original, uid, timestamp, _error(problems, key, index) if problems else None)
    return _unroutable(event) if not ep else event


def _async_response(item: Any, key: str, index: int) -> AsyncResponse:
    data = _as_dict(item)
    if data is None:
        return _unroutable(
            AsyncResponse("", 0, f"{key}[{index}]: not an object: {_describe(item)}")
        )
    problems: list[str] = []
    async_id = data.get("id")
    if type(async_id) is not str or not async_id:
        if not async_id:
            problems.append("no async request id ('id')")
        else:
            problems.append(f"'id' is not a string: {_describe(async_id)}")
        async_id = ""
    status = data.get("status")
    if type(status) is not int:
        # ASCII digits only (str.isdigit() is also true for "²", which int() refuses), and
        # few of them: int() refuses more than a few thousand, and no status has more than 3.
        if isinstance(status, str) and status.isascii() and status.strip().isdigit() \
                and len(status) <= 20:
            status = int(status)
        else:
            if status is None:
                problems.append("no 'status'")
            else:
                problems.append(f"'status' is not an int: {_describe(status)}")
            status = 0
    wire_error = data.get("error")
    if wire_error is not None and type(wire_error) is not str:
        wire_error = str(wire_error)
    ct = _optional_str(data, "ct", problems)
    age = _max_age(data, problems)
    # Unlike a notification, an answer has no fixed set of keys (error, ct, payload and max-age
    # come and go), so no length says whether the cfg keys are there; three lookups are small
    # next to the rest of this reader.
    original, uid, timestamp = _cfg_keys(data, problems)
    encoded = data.get("payload")
    if not problems and wire_error is None and type(encoded) is str:
        # A well-formed item with a payload: decoded on first read, as for notifications.
        event = object.__new__(AsyncResponse)
        event._id = async_id
        event._status = status
        event._content_type = ct
        event._max_age = age
        event._original_id = original
        event._uid = uid
        event._timestamp = timestamp
        event._pending = encoded
        event._index = index
        return event
    raw, value = _payload(data, ct, problems)
    error = wire_error
    if problems:
        error = (wire_error + "; " if wire_error else "") + _error(problems, key, index)
    event = AsyncResponse(async_id, status, error, ct, age, raw, value, original, uid, timestamp)
    return _unroutable(event) if not async_id else event


_E = TypeVar("_E", bound=Event)


def _unroutable(event: _E) -> _E:
    """Log an item that has no device (or async) id: no handler can claim it."""
    logger.warning("notification item without an id: %s", event.error)
    return event


def _broken_notification(error: str) -> ResourceChanged:
    return ResourceChanged("", "", None, None, b"", None, error)


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------

_READERS: dict[str, Callable[[Any, str, int], Event]] = {
    "notifications": _notification,
    "registrations": partial(_registration, DeviceRegistered),
    "reg-updates": partial(_registration, DeviceRegistrationUpdated),
    "de-registrations": partial(_deregistration, DeviceDeregistered),
    "registrations-expired": partial(_deregistration, DeviceRegistrationExpired),
    "async-responses": _async_response,
}
# One event standing for a kind whose value is not a list.
_BROKEN: dict[str, Callable[[str], Event]] = {
    "notifications": _broken_notification,
    "registrations": lambda error: DeviceRegistered("", error=error),
    "reg-updates": lambda error: DeviceRegistrationUpdated("", error=error),
    "de-registrations": lambda error: DeviceDeregistered("", error=error),
    "registrations-expired": lambda error: DeviceRegistrationExpired("", error=error),
    "async-responses": lambda error: AsyncResponse("", 0, error),
}
# Python attribute names, for dicts built by hand or by ``to_dict()``-like helpers.
_ALIASES = {
    "reg_updates": "reg-updates",
    "de_registrations": "de-registrations",
    "registrations_expired": "registrations-expired",
    "async_responses": "async-responses",
}


def message_dict(message: Any) -> Mapping[str, Any]:
    """The wire dict of a batch: *message* itself when it is a mapping (the wire dict, keyed
    by the JSON keys), else what its ``to_dict()`` returns (`mds.NotificationMessage` has one).

    Raises ``TypeError`` for anything else.
    """
    if type(message) is dict or isinstance(message, Mapping):
        return message
    to_dict = getattr(message, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, Mapping):
            return data
    raise TypeError(
        "events_from_message() takes a NotificationMessage or its wire dict, not "
        f"{type(message).__name__}"
    )


def events_from_message(message: Mapping[str, Any] | Any) -> Iterator[Event]:
    """The events in a notification batch, one per item, in wire order.

    *message* is a `mds.models.NotificationMessage` or its wire dict (as from ``json.loads`` of a
    webhook body, a websocket frame or a long-poll answer). Kinds follow the order of their
    keys in the message (``notifications``, ``registrations``, ``reg-updates``,
    ``de-registrations``, ``registrations-expired``, ``async-responses``), items the order of
    their list; unknown keys are ignored.

    Yields `ResourceChanged`, `DeviceRegistered`, `DeviceRegistrationUpdated`,
    `DeviceDeregistered`, `DeviceRegistrationExpired` and `AsyncResponse`. A malformed item
    becomes an event with ``error`` set, never an exception, so the rest of the batch always
    comes through; a kind whose value is not a list becomes one such event. Raises
    ``TypeError`` (at the call) only if *message* is neither a mapping nor a model.
    """
    return chain.from_iterable(_event_lists(message_dict(message)))


def _event_lists(data: Mapping[str, Any]) -> Iterator[list[Event]]:
    """The events of a batch, one list per kind, in the order of the message's keys."""
    for key, items in data.items():
        key = _ALIASES.get(key, key)
        reader = _READERS.get(key)
        if reader is None or items is None:
            continue
        if type(items) is not list:
            if isinstance(items, (tuple, Iterator)):
                items = list(items)
            else:
                yield [_unroutable(_BROKEN[key](f"{key!r} is not a list: {_describe(items)}"))]
                continue
        if reader is _notification:
            yield _notifications(items, key)
        else:
            yield [reader(item, key, index) for index, item in enumerate(items)]


def event_list(message: Mapping[str, Any] | Any) -> list[Event]:
    """`events_from_message` as a list (the listener's path: no generator per event)."""
    lists = list(_event_lists(message_dict(message)))
    if len(lists) == 1:
        return lists[0]
    return [event for events in lists for event in events]
