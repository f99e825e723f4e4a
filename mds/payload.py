"""Decode device payloads by their content type: text, JSON, SenML JSON and LwM2M TLV.

A notification or async response carries its payload as base64 plus a content type (``ct``).
`decode_payload` picks the decoder from the content type alone, never by looking at the bytes:

- ``text/plain``, ``application/vnd.oma.lwm2m+text``: an ``int`` or ``float`` when the whole
  text is a number as JSON writes it, else the ``str`` exactly as sent (nothing trimmed);
- ``application/json``, ``application/vnd.oma.lwm2m+json``: the parsed JSON;
- ``application/senml+json``: ``list[SenmlRecord]``, the pack resolved (RFC 8428 §4.6);
- ``application/vnd.oma.lwm2m+tlv``, ``application/nanoservice-tlv``: a `TlvPayload`;
- anything else (``application/octet-stream``, ``application/vnd.oma.lwm2m+opaq``, ...), or no
  content type: the ``bytes``.

Every malformed payload raises `mds.exceptions.PayloadDecodeError` (a ``ValueError``).

TLV leaves are untyped bytes: only the device's object model says whether resource 5700 is a
float, a string or an integer, so `TlvValue` offers typed readers (``as_int()``, ``as_float()``,
``as_str()``, ...) that apply the LwM2M rules strictly, instead of guessing a type.

`encode_tlv` is the inverse of `decode_tlv`, for emulators, demos and tests.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import json
import math
import re
import struct
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mds.exceptions import PayloadDecodeError

__all__ = [
    "SenmlRecord",
    "TlvContainer",
    "TlvEntry",
    "TlvKind",
    "TlvPayload",
    "TlvValue",
    "decode_base64",
    "decode_payload",
    "decode_tlv",
    "encode_tlv",
    "encode_tlv_bool",
    "encode_tlv_float",
    "encode_tlv_int",
    "encode_tlv_objlnk",
    "encode_tlv_str",
    "encode_tlv_time",
    "normalize_content_type",
    "parse_senml",
]


# --------------------------------------------------------------------------------------------
# base64 and content types
# --------------------------------------------------------------------------------------------


if sys.version_info >= (3, 11):

    def _b64(text: str) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)

else:  # pragma: no cover - Python 3.10: no strict_mode, so check the alphabet and padding first
    _STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

    def _b64(text: str) -> bytes:
        if _STRICT_BASE64.fullmatch(text) is None:
            raise binascii.Error("not strict base64")
        return binascii.a2b_base64(text)


def decode_base64(payload: str | bytes) -> bytes:
    """The bytes of a base64 string as the service sends payloads.

    *payload* may be a ``str`` (base64 text) or ``bytes`` (already decoded, returned as is).
    Missing ``=`` padding is tolerated, since some devices and proxies drop it; any other
    deviation (whitespace, characters outside the standard alphabet, a stray length) raises
    `PayloadDecodeError`.
    """
    if type(payload) is str:
        try:
            return _b64(payload)
        except ValueError:  # binascii.Error, or a non-ASCII str
            pass
        missing = -len(payload) % 4
        if missing in (1, 2):  # 3 would mean 4n+1 characters, which no base64 text has
            try:
                return _b64(payload + "=" * missing)
            except ValueError:
                pass
        shown = payload if len(payload) <= 40 else payload[:40] + "..."
        raise PayloadDecodeError(f"payload is not valid base64: {shown!r}")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise PayloadDecodeError(
        f"a payload must be base64 text or bytes, not {type(payload).__name__}"
    )


def normalize_content_type(content_type: str | None) -> str:
    """``"Text/Plain; charset=utf-8"`` -> ``"text/plain"``; None -> ``""``."""
    if not content_type or not isinstance(content_type, str):
        return ""
    return content_type.partition(";")[0].strip().lower()


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------

# A number exactly as JSON writes it: no '+', no leading zeros, no spaces, no 'nan' or 'inf'.
# Text such as "007" or " 5" is not a number: converting it would lose what the device sent.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _decode_text(raw: bytes) -> int | float | str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadDecodeError(f"text payload is not valid UTF-8: {exc}") from None
    first = text[:1]
    if not ("0" <= first <= "9" or first == "-"):
        return text  # most strings are done here, without the regex
    if text.isdigit() and text.isascii() and (first != "0" or len(text) == 1):
        try:
            return int(text)
        except ValueError:  # more digits than int() accepts (sys.get_int_max_str_digits)
            return text
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text
    if match.lastindex is None:  # neither fraction nor exponent
        try:
            return int(text)
        except ValueError:
            return text
    number = float(text)
    return number if math.isfinite(number) else text


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise PayloadDecodeError(f"JSON payload is not valid UTF-8: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise PayloadDecodeError(f"payload is not valid JSON: {exc}") from None


# --------------------------------------------------------------------------------------------
# SenML (RFC 8428)
# --------------------------------------------------------------------------------------------

#: Seconds since 1970 from this value on; smaller times are relative to "now" (RFC 8428 §4.5.3).
SENML_ABSOLUTE_TIME = 2**28

SenmlValue = float | int | str | bool | bytes


@dataclass(frozen=True, slots=True)
class SenmlRecord:
    """One resolved SenML record (RFC 8428 §4.6): base fields already applied.

    ``name`` is base name + name; ``time`` is base time + time (0 when neither is given);
    ``unit`` is the unit, else the base unit, else None; ``value`` is the record's value with
    the base value added: a number (``v``), ``str`` (``vs``), ``bool`` (``vb``) or ``bytes``
    (``vd``, already base64url-decoded), or None for a record that carries only a sum;
    ``sum`` and ``update_time`` likewise; ``version`` is the pack's ``bver`` (10 by default).
    """

    name: str
    time: float
    unit: str | None = None
    value: SenmlValue | None = None
    sum: float | None = None
    update_time: float | None = None
    version: int = 10

    @property
    def time_kind(self) -> str:
        """``"absolute"`` (seconds since 1970, ``time >= 2**28``) or ``"relative"`` (to now)."""
        return "absolute" if self.time >= SENML_ABSOLUTE_TIME else "relative"

    def absolute_time(self, now: float | None = None) -> float:
        """Seconds since 1970: ``time`` itself if absolute, else *now* (default: the current
        time) plus ``time``."""
        if self.time >= SENML_ABSOLUTE_TIME:
            return self.time
        return (time.time() if now is None else now) + self.time

    def to_dict(self) -> dict[str, Any]:
        """The record in RFC 8428 resolved form (labels ``n``, ``t``, ``u``, ``v``/``vs``/``vb``/
        ``vd``, ``s``, ``ut``; ``bver`` only when not 10), ready for ``json.dumps``."""
        out: dict[str, Any] = {"n": self.name, "t": self.time}
        if self.unit is not None:
            out["u"] = self.unit
        value = self.value
        if isinstance(value, bool):
            out["vb"] = value
        elif isinstance(value, bytes):
            out["vd"] = base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
        elif isinstance(value, str):
            out["vs"] = value
        elif value is not None:
            out["v"] = value
        if self.sum is not None:
            out["s"] = self.sum
        if self.update_time is not None:
            out["ut"] = self.update_time
        if self.version != 10:
            out["bver"] = self.version
        return out


_SENML_STRINGS = ("bn", "bu", "n", "u", "vs", "vd")
_SENML_NUMBERS = ("bt", "bv", "bs", "t", "v", "s", "ut")
_SENML_VALUES = ("v", "vs", "vb", "vd")


def _senml_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def _resolve_senml(pack: Any) -> list[SenmlRecord]:
    if not isinstance(pack, list):
        raise PayloadDecodeError(f"a SenML pack is a JSON array, not {type(pack).__name__}")
    base_name = ""
    base_time: float = 0
    base_unit: str | None = None
    base_value: float = 0
    base_sum: float = 0
    version = 10
    out: list[SenmlRecord] = []
    for index, record in enumerate(pack):
        if not isinstance(record, dict):
            raise PayloadDecodeError(f"SenML record {index} is not a JSON object")
        for label, item in record.items():
            if label.endswith("_"):
                raise PayloadDecodeError(
                    f"SenML record {index} has the field {label!r}, which must be understood"
                    " (its label ends with '_') and is not"
                )
            if label in _SENML_STRINGS:
                if type(item) is not str:
                    raise PayloadDecodeError(f"SenML record {index}: {label!r} must be a string")
            elif label in _SENML_NUMBERS:
                if not _senml_number(item):
                    raise PayloadDecodeError(f"SenML record {index}: {label!r} must be a number")
            elif label == "vb":
                if type(item) is not bool:
                    raise PayloadDecodeError(f"SenML record {index}: 'vb' must be true or false")
            elif label == "bver" and type(item) is not int:
                raise PayloadDecodeError(f"SenML record {index}: 'bver' must be an integer")
        if "bn" in record:
            base_name = record["bn"]
        if "bt" in record:
            base_time = record["bt"]
        if "bu" in record:
            base_unit = record["bu"]
        if "bv" in record:
            base_value = record["bv"]
        if "bs" in record:
            base_sum = record["bs"]
        if "bver" in record:
            version = record["bver"]
        present = [label for label in _SENML_VALUES if label in record]
        if len(present) > 1:
            raise PayloadDecodeError(f"SenML record {index} has more than one value: {present}")
        value: SenmlValue | None = None
        if present:
            label = present[0]
            value = record[label]
            if label == "v":
                value = base_value + record["v"]
            elif label == "vd":
                value = _decode_base64url(record["vd"], index)
        total = base_sum + record["s"] if "s" in record else None
        if value is None and total is None:
            continue  # a record of base fields only: no resolved record (RFC 8428 §4.6)
        name = base_name + record.get("n", "")
        if not name:
            raise PayloadDecodeError(f"SenML record {index} has no name (neither 'bn' nor 'n')")
        out.append(
            SenmlRecord(
                name=name,
                time=base_time + record.get("t", 0),
                unit=record.get("u", base_unit),
                value=value,
                sum=total,
                update_time=record.get("ut"),
                version=version,
            )
        )
    return out


def _decode_base64url(text: str, index: int) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise PayloadDecodeError(f"SenML record {index}: 'vd' is not base64url") from None


def parse_senml(payload: bytes | str | list[Any]) -> list[SenmlRecord]:
    """Resolve a SenML JSON pack (RFC 8428 §4.6) into `SenmlRecord` objects, in pack order.

    *payload* is the raw payload (``bytes``), its base64 text as on the wire (``str``, as for
    `decode_payload`), or an already parsed JSON array. Base name, time, unit, value and sum
    apply to the record that carries them and every record after it; a record without a value
    or sum yields nothing but its base fields still apply. Field names ending in ``_`` that
    this decoder does not understand make the pack invalid, as RFC 8428 §4.4 requires; other
    unknown fields are ignored. Raises `PayloadDecodeError`.
    """
    if isinstance(payload, list):
        return _resolve_senml(payload)
    return _resolve_senml(_parse_json(decode_base64(payload)))


def _decode_senml(raw: bytes) -> list[SenmlRecord]:
    return _resolve_senml(_parse_json(raw))


# --------------------------------------------------------------------------------------------
# LwM2M TLV
# --------------------------------------------------------------------------------------------


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
        return self is TlvKind.OBJECT_INSTANCE or self is TlvKind.MULTIPLE_RESOURCE


_KINDS = (
    TlvKind.OBJECT_INSTANCE,
    TlvKind.RESOURCE_INSTANCE,
    TlvKind.MULTIPLE_RESOURCE,
    TlvKind.RESOURCE_VALUE,
)
_KIND_BITS = {kind: index for index, kind in enumerate(_KINDS)}
# What each container may hold (the spec's hierarchy).
_ALLOWED_CHILDREN = {
    TlvKind.OBJECT_INSTANCE: frozenset({TlvKind.RESOURCE_VALUE, TlvKind.MULTIPLE_RESOURCE}),
    TlvKind.MULTIPLE_RESOURCE: frozenset({TlvKind.RESOURCE_INSTANCE}),
}
# Level in the object model; the top level of a payload holds entries of one level only.
_LEVEL = {
    TlvKind.OBJECT_INSTANCE: 1,
    TlvKind.MULTIPLE_RESOURCE: 2,
    TlvKind.RESOURCE_VALUE: 2,
    TlvKind.RESOURCE_INSTANCE: 3,
}
# datetime.UTC is Python 3.11+; this package supports 3.10.
_UTC = datetime.timezone.utc
_MAX_ID = 0xFFFF
_MAX_LENGTH = 0xFFFFFF
_REPR_BYTES = 48


def _as_kind(kind: TlvKind | str) -> TlvKind:
    try:
        return TlvKind(kind)
    except ValueError:
        raise ValueError(f"unknown TLV kind {kind!r}") from None


def _check_id(ident: int) -> int:
    if type(ident) is not int or not 0 <= ident <= _MAX_ID:
        raise ValueError(f"a TLV identifier is an int in 0..65535, not {ident!r}")
    return ident


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
        _encode_entry(self, out)
        return bytes(out)

    def _label(self) -> str:
        return f"{self.kind.value} {self.id}"


_set = object.__setattr__


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
        id: int,  # noqa: A002  (named like the attribute and the repr)
        value: Any,
        kind: TlvKind | str = TlvKind.RESOURCE_VALUE,
    ) -> None:
        kind = _as_kind(kind)
        if kind.is_container:
            raise ValueError(
                f"a TlvValue is a resource_value or resource_instance, not {kind.value}"
            )
        data = _encode_python_value(value)
        if len(data) > _MAX_LENGTH:
            raise ValueError(f"a TLV value holds at most {_MAX_LENGTH} bytes, not {len(data)}")
        _set(self, "id", _check_id(id))
        _set(self, "kind", kind)
        _set(self, "value", data)

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
            return datetime.datetime.fromtimestamp(seconds, _UTC)
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
        id: int,  # noqa: A002  (named like the attribute and the repr)
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
        allowed = _ALLOWED_CHILDREN[kind]
        for child in children:
            if child.kind not in allowed:
                raise ValueError(f"a {kind.value} cannot hold a {child.kind.value}")
        try:
            self._adopt(children)
        except PayloadDecodeError as exc:
            raise ValueError(str(exc)) from None

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
    level = _LEVEL[entries[0].kind]
    for entry in entries:
        if _LEVEL[entry.kind] != level:
            raise PayloadDecodeError(
                f"invalid nesting: {entries[0]._label()} and {entry._label()} side by side"
                " at the top level"
            )


def _build_entries(
    entries: Iterable[TlvEntry] | Mapping[int, Any], leaf_kind: TlvKind
) -> tuple[TlvEntry, ...]:
    """Entries from an iterable of entries, or from a mapping id -> value / mapping."""
    if isinstance(entries, Mapping) and not isinstance(entries, _TlvMapping):
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
    if isinstance(entries, _TlvMapping):
        return entries.entries
    result = tuple(entries)
    for entry in result:
        if not isinstance(entry, TlvEntry):
            raise TypeError(f"expected TlvEntry objects, got {type(entry).__name__}")
    return result


# What each container may hold (the spec's hierarchy), by the type byte's bits 7-6:
# 0 Object Instance > 3 Resource or 2 Multiple Resource; 2 Multiple Resource > 1 Resource Instance.
_ALLOWED_BITS = {
    None: (True, True, True, True),
    0: (False, False, True, True),
    2: (False, True, False, False),
}
_LEVEL_BITS = (1, 3, 2, 2)


def _parse_tlv(data: bytes, pos: int, end: int, parent: int | None) -> tuple[TlvEntry, ...]:
    """The entries in data[pos:end]; *parent* is the enclosing container's kind bits."""
    out: list[TlvEntry] = []
    allowed = _ALLOWED_BITS[parent]
    new_value = TlvValue.__new__
    new_container = TlvContainer.__new__
    level = 0
    while pos < end:
        start = pos
        type_byte = data[pos]
        pos += 1
        bits = type_byte >> 6
        if type_byte & 0x20:
            if pos + 2 > end:
                raise PayloadDecodeError(
                    f"truncated TLV header at offset {start}: the identifier needs 2 bytes,"
                    f" {end - pos} left"
                )
            ident = (data[pos] << 8) | data[pos + 1]
            pos += 2
        else:
            if pos >= end:
                raise PayloadDecodeError(
                    f"truncated TLV header at offset {start}: the identifier needs 1 byte, 0 left"
                )
            ident = data[pos]
            pos += 1
        length_bytes = (type_byte >> 3) & 3
        if length_bytes:
            if pos + length_bytes > end:
                raise PayloadDecodeError(
                    f"truncated TLV header at offset {start}: the length needs {length_bytes}"
                    f" byte(s), {end - pos} left"
                )
            length = int.from_bytes(data[pos : pos + length_bytes], "big")
            pos += length_bytes
        else:
            length = type_byte & 7
        if pos + length > end:
            raise PayloadDecodeError(
                f"{_KINDS[bits].value} {ident} at offset {start} declares {length} value byte(s),"
                f" only {end - pos} left"
            )
        if not allowed[bits]:
            raise PayloadDecodeError(
                f"invalid nesting: {_KINDS[bits].value} {ident} at offset {start}"
                f" inside a {_KINDS[parent].value}"  # type: ignore[index]
            )
        if parent is None:
            if not level:
                level = _LEVEL_BITS[bits]
            elif _LEVEL_BITS[bits] != level:
                raise PayloadDecodeError(
                    f"invalid nesting: {out[0]._label()} and {_KINDS[bits].value} {ident}"
                    f" side by side at the top level (offset {start})"
                )
        if bits & 1:  # a leaf: Resource Instance (01) or Resource with value (11)
            leaf = new_value(TlvValue)
            _set(leaf, "id", ident)
            _set(leaf, "kind", _KINDS[bits])
            _set(leaf, "value", data[pos : pos + length])
            out.append(leaf)
        else:
            container = new_container(TlvContainer)
            _set(container, "id", ident)
            _set(container, "kind", _KINDS[bits])
            container._adopt(_parse_tlv(data, pos, pos + length, bits))
            out.append(container)
        pos += length
    return tuple(out)


def decode_tlv(payload: bytes | str) -> TlvPayload:
    """Decode an LwM2M TLV payload (``application/vnd.oma.lwm2m+tlv`` or the older name
    ``application/nanoservice-tlv``) into a `TlvPayload`.

    *payload* is the raw bytes, or base64 text as on the wire. The spec's rules are enforced:
    a header cut short, a length running past its enclosing data, an entry where the hierarchy
    does not allow it (Object Instance > Resource / Multiple Resource > Resource Instance) and
    a repeated id among siblings all raise `PayloadDecodeError`.
    """
    return _decode_tlv_bytes(decode_base64(payload))


# -- encoding ---------------------------------------------------------------------------------


def encode_tlv_int(value: int) -> bytes:
    """An LwM2M Integer: the shortest of 1, 2, 4 or 8 signed big-endian bytes."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, not {type(value).__name__}")
    for size in (1, 2, 4, 8):
        limit = 1 << (8 * size - 1)
        if -limit <= value < limit:
            return value.to_bytes(size, "big", signed=True)
    raise ValueError(f"{value} does not fit in a 64-bit TLV integer")


def encode_tlv_float(value: float, size: int = 8) -> bytes:
    """An LwM2M Float: IEEE 754 big-endian, 8 bytes (default) or 4."""
    if size == 8:
        return struct.pack(">d", value)
    if size == 4:
        try:
            return struct.pack(">f", value)
        except OverflowError:
            raise ValueError(f"{value} does not fit in a 4-byte float") from None
    raise ValueError(f"a TLV float is 4 or 8 bytes, not {size}")


def encode_tlv_bool(value: bool) -> bytes:
    """An LwM2M Boolean: one byte, 0 or 1."""
    return b"\x01" if value else b"\x00"


def encode_tlv_str(value: str) -> bytes:
    """An LwM2M String: UTF-8."""
    return value.encode("utf-8")


def encode_tlv_objlnk(object_id: int, instance_id: int) -> bytes:
    """An LwM2M Objlnk: 16-bit object id, then 16-bit instance id."""
    try:
        return struct.pack(">HH", object_id, instance_id)
    except struct.error:
        raise ValueError(f"object link ids are 0..65535, not {object_id}:{instance_id}") from None


def encode_tlv_time(value: int | datetime.datetime) -> bytes:
    """An LwM2M Time: seconds since 1970 as an Integer (a naive datetime is taken as UTC)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        value = math.floor(value.timestamp())
    return encode_tlv_int(value)


def _encode_python_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool):
        return encode_tlv_bool(value)
    if isinstance(value, int):
        return encode_tlv_int(value)
    if isinstance(value, float):
        return encode_tlv_float(value)
    if isinstance(value, str):
        return encode_tlv_str(value)
    if isinstance(value, datetime.datetime):
        return encode_tlv_time(value)
    if isinstance(value, tuple) and len(value) == 2:
        return encode_tlv_objlnk(value[0], value[1])
    raise TypeError(f"cannot encode a {type(value).__name__} as a TLV value")


def _encode_header(kind: TlvKind, ident: int, length: int, out: bytearray) -> None:
    type_byte = _KIND_BITS[kind] << 6
    if ident > 0xFF:
        type_byte |= 0x20
    if length < 8:
        out.append(type_byte | length)
        length_field = b""
    elif length <= 0xFF:
        out.append(type_byte | 0x08)
        length_field = length.to_bytes(1, "big")
    elif length <= 0xFFFF:
        out.append(type_byte | 0x10)
        length_field = length.to_bytes(2, "big")
    elif length <= _MAX_LENGTH:
        out.append(type_byte | 0x18)
        length_field = length.to_bytes(3, "big")
    else:
        raise ValueError(f"{kind.value} {ident}: {length} bytes do not fit a TLV length")
    out += ident.to_bytes(2 if ident > 0xFF else 1, "big")
    out += length_field


def _encode_entry(entry: TlvEntry, out: bytearray) -> None:
    if isinstance(entry, TlvValue):
        _encode_header(entry.kind, entry.id, len(entry.value), out)
        out += entry.value
    elif isinstance(entry, TlvContainer):
        body = bytearray()
        for child in entry.entries:
            _encode_entry(child, body)
        _encode_header(entry.kind, entry.id, len(body), out)
        out += body
    else:
        raise TypeError(f"expected a TlvEntry, not {type(entry).__name__}")


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
        _encode_entry(entry, out)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------


def _decode_tlv_bytes(raw: bytes) -> TlvPayload:
    payload = TlvPayload.__new__(TlvPayload)
    payload._adopt(_parse_tlv(raw, 0, len(raw), None))
    return payload


def _identity(raw: bytes) -> bytes:
    return raw


_DECODERS: dict[str, Any] = {
    "text/plain": _decode_text,
    "application/vnd.oma.lwm2m+text": _decode_text,
    "application/json": _parse_json,
    "application/vnd.oma.lwm2m+json": _parse_json,
    "application/senml+json": _decode_senml,
    "application/vnd.oma.lwm2m+tlv": _decode_tlv_bytes,
    "application/nanoservice-tlv": _decode_tlv_bytes,
}


def _decode_raw(raw: bytes, content_type: str | None) -> Any:
    """`decode_payload` for raw bytes (no base64 step); the events module's fast path."""
    decoder = _DECODERS.get(content_type)  # type: ignore[arg-type]  # fast path: exact name
    if decoder is None:
        decoder = _DECODERS.get(normalize_content_type(content_type), _identity)
    return decoder(raw)


def decode_payload(payload: bytes | str, content_type: str | None) -> Any:
    """Decode a device payload by its content type (see the table in this module's docs).

    *payload* is base64 text as on the wire (``str``) or the raw bytes. *content_type* is the
    ``ct`` the service sent; parameters such as ``; charset=utf-8`` and case are ignored, and
    an unknown or missing type gives the bytes unchanged.

    Returns ``int``/``float``/``str`` for text, the parsed value for JSON, ``list[SenmlRecord]``
    for SenML JSON, a `TlvPayload` for TLV, else ``bytes``. Raises `PayloadDecodeError` when the
    payload is not valid base64 or not valid for its content type.
    """
    raw = payload if type(payload) is bytes else decode_base64(payload)
    decoder = _DECODERS.get(content_type)  # type: ignore[arg-type]
    if decoder is None:
        decoder = _DECODERS.get(normalize_content_type(content_type), _identity)
    return decoder(raw)
