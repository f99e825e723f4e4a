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

Payloads are decoded when first read, then kept: ``payload`` is the bytes (base64 decoded) and
``value`` those bytes decoded by the content type (`mds.payload.decode_payload`), and the first
read of ``payload``, ``value`` or ``error`` (or of anything that reads them: ``==``, ``hash``,
``repr``, pickling, ``match``) decodes both, so a consumer that only routes events by device
and path never pays for decoding. The event reads the same whenever it is read; only the
moment of the work differs. When the payload is bad, ``value`` is None and ``error`` says why
(``payload`` keeps whatever bytes could be read: ``b""`` when the base64 was bad). ``value``
takes part in equality but not in the hash, since it may be a dict or a list (JSON, SenML):
events can go in sets and be dict keys whatever they hold.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import Any, TypeVar

from mds.exceptions import AsyncResponseError, PayloadDecodeError
from mds.models._base import Model
from mds.payload import decode_base64, decode_payload

__all__ = [
    "AsyncResponse",
    "DeviceDeregistered",
    "DeviceRegistered",
    "DeviceRegistrationExpired",
    "DeviceRegistrationUpdated",
    "Event",
    "Resource",
    "ResourceChanged",
    "events_from_message",
]

logger = logging.getLogger("mds.events")


class Event:
    """Base class of every event. ``error`` is None for a well-formed item, else what was wrong."""

    __slots__ = ()

    error: str | None


class _Undecoded:
    """The type of `_UNDECODED`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undecoded>"


#: In the ``value`` slot of an event whose payload has not been decoded yet. Its ``error`` slot
#: then holds what the error text needs, and a `ResourceChanged`'s ``payload`` slot the base64
#: text (see ``_decode_payload``); they are all replaced together, ``value`` last.
_UNDECODED: Any = _Undecoded()
# Held while an event's payload is decoded and its slots are replaced, so that a thread that
# reads the event meanwhile never sees some slots decoded and others not.
_DECODING = threading.Lock()


class _DecodedOnRead:
    """A field of an event whose payload may not be decoded yet (``value``, ``error``, and for
    `ResourceChanged` ``payload``): reads the slot, decoding the payload first if that has not
    happened yet. Writes go to the slot (the dataclass ``__init__``, unpickling); the frozen
    dataclass still refuses assignment by users."""

    __slots__ = ("_slot", "_value_slot")

    def __init__(self, slot: Any, value_slot: Any) -> None:
        self._slot = slot
        self._value_slot = value_slot

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if self._value_slot.__get__(obj) is _UNDECODED:
            obj._decode_payload()
        return self._slot.__get__(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        self._slot.__set__(obj, value)

    def __delete__(self, obj: Any) -> None:
        self._slot.__delete__(obj)


def _decode_on_read(cls: type, *names: str) -> tuple[Any, ...]:
    """Route the fields *names* of the slotted dataclass *cls* through `_DecodedOnRead` (its
    ``value`` slot holding `_UNDECODED` means "not yet"); returns their raw slot descriptors,
    for the code that fills them."""
    slots = tuple(cls.__dict__[name] for name in names)
    value_slot = cls.__dict__["value"]
    for name, slot in zip(names, slots, strict=True):
        setattr(cls, name, _DecodedOnRead(slot, value_slot))
    return slots


def _decode_late(
    payload: bytes, content_type: str | None, earlier: str | None, key: str, index: int
) -> tuple[Any, str | None]:
    """``(value, error)`` of a payload that was left for its first read."""
    try:
        return decode_payload(payload, content_type), earlier
    except PayloadDecodeError as exc:
        problem = f"payload does not decode as {content_type}: {exc}"
        return None, (earlier + "; " if earlier else "") + _error([problem], key, index)


@dataclass(frozen=True, slots=True)
class ResourceChanged(Event):
    """A resource's value changed (an item of ``notifications``).

    ``payload`` is the raw bytes (base64 decoded), ``value`` the payload decoded by its content
    type (see `mds.decode_payload`), or None when it could not be decoded (``error`` says why;
    ``payload`` is then ``b""`` if the base64 was bad). Both are decoded when one of ``payload``,
    ``value`` and ``error`` is first read. ``max_age`` is in seconds, None when not sent.
    """

    device_id: str
    path: str
    content_type: str | None
    max_age: int | None
    payload: bytes
    value: Any = field(default=None, hash=False)
    error: str | None = None

    def _decode_payload(self) -> None:
        # While undecoded, the payload slot holds the base64 text and the error slot the item's
        # index in ``notifications``.
        with _DECODING:
            if _RC_VALUE.__get__(self) is not _UNDECODED:
                return  # another thread was first
            index = _RC_ERROR.__get__(self)
            error: str | None
            try:
                raw = decode_base64(_RC_PAYLOAD.__get__(self))
            except PayloadDecodeError as exc:
                raw, value, error = b"", None, _error([str(exc)], "notifications", index)
            else:
                value, error = _decode_late(raw, self.content_type, None, "notifications", index)
            _RC_PAYLOAD.__set__(self, raw)
            _RC_ERROR.__set__(self, error)
            _RC_VALUE.__set__(self, value)  # last: this marks the event decoded


_RC_PAYLOAD, _RC_VALUE, _RC_ERROR = _decode_on_read(ResourceChanged, "payload", "value", "error")


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


@dataclass(frozen=True, slots=True)
class DeviceRegistered(Event):
    """A device registered (an item of ``registrations``).

    ``endpoint_type`` is ``ept``, ``original_id`` the device's own endpoint name
    (``original-ep``), ``queue_mode`` is ``q`` (False when not sent), ``resources`` a tuple of
    `Resource`.
    """

    device_id: str
    endpoint_type: str | None = None
    original_id: str | None = None
    queue_mode: bool = False
    resources: tuple[Resource, ...] = ()
    error: str | None = None


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


@dataclass(frozen=True, slots=True)
class DeviceDeregistered(Event):
    """A device deregistered (an item of ``de-registrations``).

    The item is a device id, or, with the 2020 ``deregistrations_as_object`` option, an object
    that may also carry ``original-ep``, ``uid`` (a message id, for spotting duplicates) and
    ``timestamp`` (when the service queued it), kept here as sent.
    """

    device_id: str
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRegistrationExpired(Event):
    """A device's registration expired (an item of ``registrations-expired``); fields as in
    `DeviceDeregistered`."""

    device_id: str
    original_id: str | None = None
    uid: str | None = None
    timestamp: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AsyncResponse(Event):
    """A device's answer to an earlier asynchronous request (an item of ``async-responses``).

    ``id`` is the async request id; ``status`` the device's (or the service's) status code,
    0 when missing; ``error`` the service's error text (``"TIMEOUT"``), or what was wrong with
    the item; ``payload``/``value`` as in `ResourceChanged` (``value`` None without a payload).
    """

    id: str
    status: int
    error: str | None = None
    content_type: str | None = None
    max_age: int | None = None
    payload: bytes = b""
    value: Any = field(default=None, hash=False)

    def _decode_payload(self) -> None:
        # While undecoded, the error slot holds (the service's error text, the item's index).
        with _DECODING:
            if _AR_VALUE.__get__(self) is not _UNDECODED:
                return  # another thread was first
            earlier, index = _AR_ERROR.__get__(self)
            value, error = _decode_late(
                self.payload, self.content_type, earlier, "async-responses", index
            )
            _AR_ERROR.__set__(self, error)
            _AR_VALUE.__set__(self, value)  # last: this marks the event decoded

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def raise_for_status(self) -> AsyncResponse:
        """Raise `mds.AsyncResponseError` unless the status is 2xx; return self otherwise."""
        if not 200 <= self.status < 300:
            raise AsyncResponseError(self)
        return self


_AR_VALUE, _AR_ERROR = _decode_on_read(AsyncResponse, "value", "error")


# --------------------------------------------------------------------------------------------
# reading items
# --------------------------------------------------------------------------------------------

class _FillingResourceChanged(ResourceChanged):
    """A `ResourceChanged` being filled in by `_notifications`, which then makes it a plain
    `ResourceChanged` (``__class__`` assignment; same slots, so the same memory layout).

    Why: a frozen dataclass's own ``__setattr__`` refuses assignment, so its ``__init__`` (and
    any code outside it) must call ``object.__setattr__`` once per field, and that costs more
    than all the rest of reading an item. This class puts back plain attribute assignment,
    straight into the slots, which makes building an event about twice as fast. No instance of
    it ever leaves `_notifications`.
    """

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__  # with __setattr__: plain C attribute setting, no wrapper
    payload = _RC_PAYLOAD  # the slots themselves, not the decoding descriptors
    value = _RC_VALUE
    error = _RC_ERROR


_new_object = object.__new__


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_dict(item: Any) -> dict[str, Any] | None:
    """The wire dict of an item (a dict, or a model wrapping one), else None."""
    if type(item) is dict:
        return item
    if isinstance(item, Model):
        return item._data  # the model's own dict, not a to_dict() copy
    wire = getattr(item, "_wire", None)
    if wire is not None:
        data = wire()
        return data if isinstance(data, dict) else None
    if isinstance(item, Mapping):
        return dict(item)
    return None


def _max_age(item: dict[str, Any], problems: list[str]) -> int | None:
    value = item.get("max-age")
    if value is None:
        value = item.get("max_age")
        if value is None:
            return None
    if type(value) is int:
        return value
    if isinstance(value, str):
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


def _device_id(item: dict[str, Any], problems: list[str]) -> str:
    ep = item.get("ep")
    if type(ep) is str and ep:
        return ep
    if ep is None or ep == "":
        problems.append("no device id ('ep')")
    else:
        problems.append(f"'ep' is not a string: {_describe(ep)}")
    return ""


def _payload(
    item: dict[str, Any], content_type: str | None, problems: list[str], *, late: bool = False
) -> tuple[bytes, Any]:
    """``(bytes, value)`` of an item's payload. With *late*, a payload that is valid base64 is
    not decoded further: the value is `_UNDECODED`, for the event's first read to decode."""
    encoded = item.get("payload")
    if encoded is None:
        return b"", None
    try:
        raw = decode_base64(encoded)
    except PayloadDecodeError as exc:
        problems.append(str(exc))
        return b"", None
    if late:
        return raw, _UNDECODED
    try:
        return raw, decode_payload(raw, content_type)
    except PayloadDecodeError as exc:
        problems.append(f"payload does not decode as {content_type}: {exc}")
        return raw, None


def _error(problems: list[str], key: str, index: int) -> str:
    return f"{key}[{index}]: " + "; ".join(problems)


def _notifications(items: list[Any], key: str) -> list[Event]:
    """The events of a ``notifications`` list: the hot path of the whole SDK.

    A well-formed item (as nearly every item is) becomes an event here, its payload left as
    base64 for the first read (value `_UNDECODED`, the item's index in the error slot); any
    other goes to `_notification`, which says what is wrong with it. Decoding base64 here
    would cost 15% more per event (measured, 1000 text/plain items a batch), for consumers
    that may never look at the payload."""
    new = _new_object
    filling = _FillingResourceChanged
    done = ResourceChanged
    undecoded = _UNDECODED
    events: list[Event] = []
    append = events.append
    for index, item in enumerate(items):
        if type(item) is dict:
            data = item
        elif isinstance(item, Model):  # a NotificationMessage's items: read the wire dict
            data = item._data
        else:
            append(_notification(item, key, index))
            continue
        ep = data.get("ep")
        path = data.get("path")
        ct = data.get("ct")
        encoded = data.get("payload")
        max_age = data.get("max-age")
        if (
            type(ep) is str
            and ep
            and type(path) is str
            and (ct is None or type(ct) is str)
            and type(encoded) is str
            and (type(max_age) is int or max_age is None and "max_age" not in data)
        ):
            event: Any = new(filling)
            event.device_id = ep
            event.path = path
            event.content_type = ct
            event.max_age = max_age
            event.payload = encoded  # base64 until first read
            event.error = index  # for the error text, should decoding fail
            event.value = undecoded
            event.__class__ = done
            append(event)
            continue
        append(_notification(data, key, index))
    return events


def _notification(item: Any, key: str, index: int) -> ResourceChanged:
    """The event of a ``notifications`` item that is not well formed (see `_notifications`)."""
    data = item if type(item) is dict else _as_dict(item)
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
    raw, value = _payload(data, ct, problems)
    event = ResourceChanged(
        ep, path or "", ct, age, raw, value, _error(problems, key, index) if problems else None
    )
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
    original = data.get("original-ep")
    if original is None:
        original = data.get("original_ep")
    if original is not None and type(original) is not str:
        problems.append(f"'original-ep' is not a string: {_describe(original)}")
        original = None
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
    original = data.get("original-ep")
    if original is None:
        original = data.get("original_ep")
    if original is not None and type(original) is not str:
        problems.append(f"'original-ep' is not a string: {_describe(original)}")
        original = None
    uid = data.get("uid")
    if uid is not None and type(uid) is not str:
        uid = str(uid)
    event = cls(
        ep, original, uid, data.get("timestamp"), _error(problems, key, index) if problems else None
    )
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
        if isinstance(status, str) and status.strip().isdigit():
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
    raw, value = _payload(data, ct, problems, late=not problems)
    if value is _UNDECODED:  # a well-formed item: decode on first read, as for notifications
        event = AsyncResponse(async_id, status, None, ct, age, raw)
        _AR_ERROR.__set__(event, (wire_error, index))
        _AR_VALUE.__set__(event, _UNDECODED)
        return event
    error = wire_error
    if problems:
        error = (wire_error + "; " if wire_error else "") + _error(problems, key, index)
    event = AsyncResponse(async_id, status, error, ct, age, raw, value)
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
    if type(message) is dict:
        return message
    wire = getattr(message, "_wire", None)
    if callable(wire):
        data = wire()
        if isinstance(data, Mapping):
            return data
    to_dict = getattr(message, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, Mapping):
            return data
    if isinstance(message, Mapping):
        return message
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
