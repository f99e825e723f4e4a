"""LwM2M TLV payloads as typed, immutable entries: `TlvPayload`, `TlvContainer`, `TlvValue`.

TLV leaves are untyped bytes: only the device's object model says whether resource 5700 is a
float, a string or an integer, so `TlvValue` offers typed readers (``as_int()``,
``as_float()``, ``as_str()``, ...) that apply the LwM2M rules strictly, instead of guessing.

`decode_tlv_bytes` builds a `TlvPayload` from bytes and `encode_tlv` writes entries back; the
wire format itself (headers, value encodings, which kind may hold which) is
`mds.payload._tlv_codec`.
"""

from __future__ import annotations

import datetime
import enum
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mds.exceptions import PayloadDecodeError
from mds.payload._tlv_codec import (
    KINDS,
    MAX_ID,
    MAX_LENGTH,
    UTC,
    RawEntry,
    encode_python_value,
    parse_entries,
    write_header,
)

__all__ = [
    "TlvContainer",
    "TlvEntry",
    "TlvKind",
    "TlvPayload",
    "TlvValue",
    "decode_tlv_bytes",
    "encode_tlv",
]

_REPR_BYTES = 48


class TlvKind(str, enum.Enum):
    """The four TLV entry types (bits 7-6 of the type byte). Compares equal to its value."""

    OBJECT_INSTANCE = "object_instance"  # 00: value = Resource / Multiple Resource entries
    RESOURCE_INSTANCE = "resource_instance"  # 01: a leaf inside a Multiple Resource
    MULTIPLE_RESOURCE = "multiple_resource"  # 10: value = Resource Instance entries
    RESOURCE_VALUE = "resource_value"  # 11: a single-instance Resource's value

    def __str__(self) -> str:
        return self.value

    @property
    def is_container(self) -> bool:
        """True for Object Instance and Multiple Resource."""
        return bool(KINDS[_BITS[self]].holds)


#: TlvKind by the type byte's bits 7-6, and back.
_KINDS = tuple(TlvKind(kind.name) for kind in KINDS)
_BITS = {kind: bits for bits, kind in enumerate(_KINDS)}


def _as_kind(kind: TlvKind | str) -> TlvKind:
    try:
        return TlvKind(kind)
    except ValueError:
        raise ValueError(f"unknown TLV kind {kind!r}") from None


def _check_id(ident: int) -> int:
    if type(ident) is not int or not 0 <= ident <= MAX_ID:
        raise ValueError(f"a TLV identifier is an int in 0..65535, not {ident!r}")
    return ident


_set = object.__setattr__  # entries refuse attribute assignment; their constructors use this


class TlvEntry:
    """Base of `TlvValue` (a leaf) and `TlvContainer`: every entry has an ``id`` and a ``kind``.

    Entries are immutable and hashable.
    """

    __slots__ = ()

    id: int
    kind: TlvKind

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    @property
    def is_container(self) -> bool:
        """True for an Object Instance or Multiple Resource."""
        return self.kind.is_container

    def to_bytes(self) -> bytes:
        """This entry encoded as TLV (header and value)."""
        out = bytearray()
        self._write(out)
        return bytes(out)

    def _write(self, out: bytearray) -> None:
        raise NotImplementedError  # pragma: no cover - every entry class writes itself

    def _label(self) -> str:
        return f"{self.kind.value} {self.id}"


class TlvValue(TlvEntry):
    """A TLV leaf: a Resource value (``kind`` ``resource_value``) or a Resource Instance in a
    Multiple Resource (``resource_instance``).

    ``value`` holds the raw bytes. The typed readers apply the LwM2M TLV encodings and raise
    `PayloadDecodeError` when the bytes cannot be that type; which reader is right depends on the
    resource's definition in the object model, never on the bytes.

    Build one with ``TlvValue(id, value, kind="resource_value")``; a non-bytes *value* is encoded
    by its Python type (``bool``, ``int``, ``float``, ``str``, ``datetime``, ``(object_id,
    instance_id)``), see `encode_tlv`.
    """

    __slots__ = ("id", "kind", "value")

    value: bytes

    def __init__(
        self,
        id: int,  # noqa: A002 - named like the attribute and the repr
        value: Any,
        kind: TlvKind | str = TlvKind.RESOURCE_VALUE,
    ) -> None:
        kind = _as_kind(kind)
        if kind.is_container:
            raise ValueError(
                f"a TlvValue is a resource_value or resource_instance, not {kind.value}"
            )
        data = encode_python_value(value)
        if len(data) > MAX_LENGTH:
            raise ValueError(f"a TLV value holds at most {MAX_LENGTH} bytes, not {len(data)}")
        _set(self, "id", _check_id(id))
        _set(self, "kind", kind)
        _set(self, "value", data)

    def _write(self, out: bytearray) -> None:
        write_header(_BITS[self.kind], self.id, len(self.value), out)
        out += self.value

    # -- typed readers ------------------------------------------------------------------------
    def _fail(self, what: str) -> PayloadDecodeError:
        return PayloadDecodeError(f"{self._label()}: {what} (value {self.value[:16].hex()})")

    def as_int(self) -> int:
        """The value as an LwM2M Integer: signed big-endian, 1, 2, 4 or 8 bytes."""
        size = len(self.value)
        if size not in (1, 2, 4, 8):
            raise self._fail(f"an integer is 1, 2, 4 or 8 bytes, not {size}")
        return int.from_bytes(self.value, "big", signed=True)

    def as_unsigned(self) -> int:
        """The value as an LwM2M 1.1 Unsigned Integer: big-endian, 1, 2, 4 or 8 bytes."""
        size = len(self.value)
        if size not in (1, 2, 4, 8):
            raise self._fail(f"an unsigned integer is 1, 2, 4 or 8 bytes, not {size}")
        return int.from_bytes(self.value, "big")

    def as_float(self) -> float:
        """The value as an LwM2M Float: IEEE 754 big-endian, 4 or 8 bytes.

        (Mbed Client devices send some floats as ASCII text; read those with ``as_str()``.)
        """
        size = len(self.value)
        if size == 8:
            return float(struct.unpack(">d", self.value)[0])
        if size == 4:
            return float(struct.unpack(">f", self.value)[0])
        raise self._fail(f"a float is 4 or 8 bytes, not {size}")

    def as_bool(self) -> bool:
        """The value as an LwM2M Boolean: 0 or 1.

        The spec writes a Boolean as one byte; Mbed Client devices write it as a 2-, 4- or
        8-byte integer, which is accepted too. Any value other than 0 or 1 raises.
        """
        size = len(self.value)
        if size not in (1, 2, 4, 8):
            raise self._fail(f"a boolean is 1 byte (or an integer of 2, 4 or 8), not {size}")
        number = int.from_bytes(self.value, "big")
        if number > 1:
            raise self._fail("a boolean is 0 or 1")
        return number == 1

    def as_str(self) -> str:
        """The value as an LwM2M String (UTF-8)."""
        try:
            return self.value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None

    def as_opaque(self) -> bytes:
        """The value as LwM2M Opaque: the bytes themselves."""
        return self.value

    def as_time(self) -> int:
        """The value as an LwM2M Time: seconds since 1970, an Integer (1, 2, 4 or 8 bytes)."""
        return self.as_int()

    def as_datetime(self) -> datetime.datetime:
        """The value as an LwM2M Time, as a timezone-aware UTC `datetime.datetime`."""
        seconds = self.as_time()
        try:
            return datetime.datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise self._fail(f"time {seconds} is out of range") from None

    def as_objlnk(self) -> tuple[int, int]:
        """The value as an LwM2M Objlnk: ``(object_id, instance_id)``, two 16-bit integers."""
        if len(self.value) != 4:
            raise self._fail(f"an object link is 4 bytes, not {len(self.value)}")
        object_id, instance_id = struct.unpack(">HH", self.value)
        return (object_id, instance_id)

    # -- data model ---------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TlvValue):
            return NotImplemented
        return self.id == other.id and self.kind is other.kind and self.value == other.value

    def __hash__(self) -> int:
        return hash((self.kind, self.id, self.value))

    def __repr__(self) -> str:
        if len(self.value) <= _REPR_BYTES:
            shown = repr(self.value)
        else:
            shown = f"<{len(self.value)} bytes: {self.value[:_REPR_BYTES]!r}...>"
        return f"TlvValue(kind={self.kind.value!r}, id={self.id}, value={shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TlvValue, (self.id, self.value, self.kind.value))


class _TlvMapping(Mapping[int, TlvEntry]):
    """Shared read-only mapping behaviour: id -> entry, iteration in payload order."""

    __slots__ = ()

    _entries: tuple[TlvEntry, ...]
    _index: dict[int, TlvEntry]

    def _adopt(self, entries: tuple[TlvEntry, ...]) -> None:
        """Take *entries* as the children; raises `PayloadDecodeError` for a repeated id."""
        index = {entry.id: entry for entry in entries}
        if len(index) != len(entries):
            seen: set[int] = set()
            for entry in entries:
                if entry.id in seen:
                    where = self._label() if isinstance(self, TlvEntry) else "the payload"
                    raise PayloadDecodeError(f"duplicate {entry._label()} in {where}")
                seen.add(entry.id)
        _set(self, "_entries", entries)
        _set(self, "_index", index)

    @property
    def entries(self) -> tuple[TlvEntry, ...]:
        """The entries, in payload order."""
        return self._entries

    def __getitem__(self, ident: int) -> TlvEntry:
        return self._index[ident]

    def __iter__(self) -> Iterator[int]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ident: object) -> bool:
        return ident in self._index

    def _find(self, path: tuple[int, ...]) -> TlvEntry:
        if not path:
            raise TypeError("give at least one id")
        node: _TlvMapping = self
        entry: TlvEntry | None = None
        for depth, ident in enumerate(path):
            if entry is not None:
                if not isinstance(entry, TlvContainer):
                    shown = "/".join(map(str, path[:depth]))
                    raise KeyError(f"{shown} is a {entry.kind.value}, which holds no {ident}")
                node = entry
            entry = node._index[ident]
        assert entry is not None
        return entry

    def leaf(self, *path: int) -> TlvValue:
        """The leaf at *path* (ids, one per level): ``payload.leaf(0, 5700).as_float()``.

        Raises ``KeyError`` if there is no such entry, ``TypeError`` if it is a container.
        """
        entry = self._find(path)
        if not isinstance(entry, TlvValue):
            raise TypeError(f"{entry._label()} is a container, not a value")
        return entry

    def container(self, *path: int) -> TlvContainer:
        """The Object Instance or Multiple Resource at *path*: ``payload.container(0, 11)``.

        Raises ``KeyError`` if there is no such entry, ``TypeError`` if it is a leaf.
        """
        entry = self._find(path)
        if not isinstance(entry, TlvContainer):
            raise TypeError(f"{entry._label()} is a value, not a container")
        return entry

    def to_dict(self) -> dict[int, Any]:
        """A plain nested dict: id -> bytes for leaves, id -> dict for containers."""
        out: dict[int, Any] = {}
        for entry in self._entries:
            if isinstance(entry, TlvContainer):
                out[entry.id] = entry.to_dict()
            elif isinstance(entry, TlvValue):
                out[entry.id] = entry.value
        return out

    def _entries_repr(self) -> str:
        return "[" + ", ".join(repr(e) for e in self._entries) + "]"


class TlvContainer(TlvEntry, _TlvMapping):
    """An Object Instance (``kind`` ``object_instance``, holding Resources and Multiple
    Resources) or a Multiple Resource (``multiple_resource``, holding Resource Instances).

    A read-only mapping of child id -> child entry; iteration, ``keys()``, ``values()`` and
    ``entries`` follow payload order. Two containers are equal when kind, id and children are
    (regardless of order).

    Build one with ``TlvContainer(id, entries, kind="object_instance")``, where *entries* is an
    iterable of `TlvEntry` or a mapping id -> value (a mapping value inside an Object Instance
    becomes a Multiple Resource).
    """

    __slots__ = ("_entries", "_index", "id", "kind")

    def __init__(
        self,
        id: int,  # noqa: A002 - named like the attribute and the repr
        entries: Iterable[TlvEntry] | Mapping[int, Any] = (),
        kind: TlvKind | str = TlvKind.OBJECT_INSTANCE,
    ) -> None:
        kind = _as_kind(kind)
        if not kind.is_container:
            raise ValueError(
                f"a TlvContainer is an object_instance or multiple_resource, not {kind.value}"
            )
        _set(self, "id", _check_id(id))
        _set(self, "kind", kind)
        child_kind = (
            TlvKind.RESOURCE_VALUE if kind is TlvKind.OBJECT_INSTANCE else TlvKind.RESOURCE_INSTANCE
        )
        children = _build_entries(entries, child_kind)
        allowed = KINDS[_BITS[kind]].holds
        for child in children:
            if _BITS[child.kind] not in allowed:
                raise ValueError(f"a {kind.value} cannot hold a {child.kind.value}")
        try:
            self._adopt(children)
        except PayloadDecodeError as exc:
            raise ValueError(str(exc)) from None

    def _write(self, out: bytearray) -> None:
        body = bytearray()
        for child in self._entries:
            child._write(body)
        write_header(_BITS[self.kind], self.id, len(body), out)
        out += body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TlvContainer):
            return NotImplemented
        return self.id == other.id and self.kind is other.kind and self._index == other._index

    def __hash__(self) -> int:
        return hash((self.kind, self.id, frozenset(self._entries)))

    def __repr__(self) -> str:
        return (
            f"TlvContainer(kind={self.kind.value!r}, id={self.id}, entries={self._entries_repr()})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (TlvContainer, (self.id, self._entries, self.kind.value))


class TlvPayload(_TlvMapping):
    """A decoded TLV payload: a read-only mapping of top-level id -> `TlvEntry`.

    The top level holds entries of one level of the object model: Object Instances (a read of
    an object), Resources and Multiple Resources (a read of an instance), or Resource Instances
    (a read of a multiple resource). Iteration, ``keys()``, ``values()`` and ``entries`` follow
    payload order; ids are unique. Equality ignores order.

    Index it like nested dicts (``payload[0][5700]``), or, with precise types for mypy, with
    ``payload.leaf(0, 5700)`` and ``payload.container(0, 11)``:

    >>> from mds.payload import decode_tlv
    >>> payload = decode_tlv(bytes.fromhex("c30a323231"))
    >>> payload.leaf(10).as_str()
    '221'
    """

    __slots__ = ("_entries", "_index")

    def __init__(self, entries: Iterable[TlvEntry] | Mapping[int, Any] = ()) -> None:
        children = _build_entries(entries, TlvKind.RESOURCE_VALUE)
        try:
            _check_top_level(children)
            self._adopt(children)
        except PayloadDecodeError as exc:
            raise ValueError(str(exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TlvPayload is read-only")

    def to_bytes(self) -> bytes:
        """The payload encoded as TLV (``encode_tlv(self)``)."""
        return encode_tlv(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TlvPayload):
            return NotImplemented
        return self._index == other._index

    def __hash__(self) -> int:
        return hash(frozenset(self._entries))

    def __repr__(self) -> str:
        return f"TlvPayload({self._entries_repr()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TlvPayload, (self._entries,))


def _check_top_level(entries: tuple[TlvEntry, ...]) -> None:
    if not entries:
        return
    level = KINDS[_BITS[entries[0].kind]].level
    for entry in entries:
        if KINDS[_BITS[entry.kind]].level != level:
            raise PayloadDecodeError(
                f"invalid nesting: {entries[0]._label()} and {entry._label()} side by side"
                " at the top level"
            )


def _build_entries(
    entries: Iterable[TlvEntry] | Mapping[int, Any], leaf_kind: TlvKind
) -> tuple[TlvEntry, ...]:
    """Entries from an iterable of entries, or from a mapping id -> value / mapping."""
    if isinstance(entries, _TlvMapping):
        return entries.entries
    if isinstance(entries, Mapping):
        built: list[TlvEntry] = []
        for ident, value in entries.items():
            if isinstance(value, TlvEntry):
                built.append(value)
            elif isinstance(value, Mapping):
                if leaf_kind is TlvKind.OBJECT_INSTANCE:
                    built.append(TlvContainer(ident, value, TlvKind.OBJECT_INSTANCE))
                elif leaf_kind is TlvKind.RESOURCE_VALUE:
                    built.append(TlvContainer(ident, value, TlvKind.MULTIPLE_RESOURCE))
                else:
                    raise ValueError(f"a {leaf_kind.value} cannot hold a mapping (id {ident})")
            elif leaf_kind is TlvKind.OBJECT_INSTANCE:
                raise ValueError(f"an object_instance needs a mapping of resources (id {ident})")
            else:
                built.append(TlvValue(ident, value, leaf_kind))
        return tuple(built)
    result = tuple(entries)
    for entry in result:
        if not isinstance(entry, TlvEntry):
            raise TypeError(f"expected TlvEntry objects, got {type(entry).__name__}")
    return result


# -- bytes to entries and back -----------------------------------------------------------------


# The slots of a leaf, filled without TlvEntry.__setattr__ (which refuses) when a payload is
# decoded: a slot's own setter costs less than object.__setattr__.
_set_leaf_id = vars(TlvValue)["id"].__set__
_set_leaf_kind = vars(TlvValue)["kind"].__set__
_set_leaf_value = vars(TlvValue)["value"].__set__


def _typed(raw: list[RawEntry]) -> tuple[TlvEntry, ...]:
    """Typed entries from parsed ones; the codec has checked the hierarchy, `_adopt` checks
    that ids are unique among siblings."""
    out: list[TlvEntry] = []
    new = object.__new__
    for bits, ident, value in raw:
        if isinstance(value, bytes):
            leaf = new(TlvValue)
            _set_leaf_id(leaf, ident)
            _set_leaf_kind(leaf, _KINDS[bits])
            _set_leaf_value(leaf, value)
            out.append(leaf)
        else:
            container = new(TlvContainer)
            _set(container, "id", ident)
            _set(container, "kind", _KINDS[bits])
            container._adopt(_typed(value))
            out.append(container)
    return tuple(out)


def decode_tlv_bytes(raw: bytes) -> TlvPayload:
    """The `TlvPayload` of a TLV payload's bytes. Raises `PayloadDecodeError` when the bytes
    break a rule of the format (see `mds.payload.decode_tlv`)."""
    payload = TlvPayload.__new__(TlvPayload)
    payload._adopt(_typed(parse_entries(raw)))
    return payload


def encode_tlv(
    entries: TlvPayload | TlvEntry | Iterable[TlvEntry] | Mapping[int, Any],
    *,
    kind: TlvKind | str = TlvKind.RESOURCE_VALUE,
) -> bytes:
    """Encode entries as an LwM2M TLV payload: the inverse of `decode_tlv`.

    *entries* is a `TlvPayload`, one `TlvEntry`, an iterable of entries, or a plain mapping
    id -> value whose top-level entries are of *kind*:

    - ``"resource_value"`` (default): id -> value, or id -> {instance id -> value} for a
      Multiple Resource: ``encode_tlv({5700: 21.5, 5701: "Cel", 11: {0: 0}})``;
    - ``"object_instance"``: instance id -> {resource id -> value or mapping};
    - ``"resource_instance"``: instance id -> value.

    Values are encoded by their Python type: ``bytes`` as is, ``bool`` as one byte, ``int``
    as the shortest Integer, ``float`` as an 8-byte Float, ``str`` as UTF-8, ``datetime`` as
    a Time, ``(object_id, instance_id)`` as an Objlnk. Use the ``encode_tlv_*`` helpers (and
    pass bytes) for another width. Ids above 255 get 16-bit identifiers; lengths use the
    shortest length field. Raises ``ValueError`` or ``TypeError`` for what TLV cannot hold.
    """
    if isinstance(entries, TlvEntry):
        items: tuple[TlvEntry, ...] = (entries,)
    elif isinstance(entries, Mapping) and not isinstance(entries, _TlvMapping):
        top = _as_kind(kind)
        if top is TlvKind.MULTIPLE_RESOURCE:
            raise ValueError(
                "a mapping's top-level kind is object_instance, resource_value or"
                " resource_instance (a mapping value becomes a multiple_resource)"
            )
        items = _build_entries(entries, top)
    else:
        items = _build_entries(entries, TlvKind.RESOURCE_VALUE)
    try:
        _check_top_level(items)
    except PayloadDecodeError as exc:
        raise ValueError(str(exc)) from None
    out = bytearray()
    for entry in items:
        entry._write(out)
    return bytes(out)
