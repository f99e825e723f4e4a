"""The LwM2M TLV wire format: entry headers both ways, value encodings, and the one table of
which entry kind may hold which.

This module knows bytes and small integers only; `mds.payload._tlv_model` builds the typed
entries (`TlvValue`, `TlvContainer`, `TlvPayload`) on top of it.

An entry is a type byte, an identifier, an optional length field and a value. Bits 7-6 of the
type byte give the entry's kind (the indexes of `KINDS`); bit 5 says whether the identifier
takes 2 bytes (else 1); bits 4-3 give the width of the length field (0-3 bytes) and, when that
is 0, bits 2-0 hold the value's length (0-7).
"""

from __future__ import annotations

import datetime
import math
import struct
from typing import Any, NamedTuple, TypeAlias

from mds.exceptions import PayloadDecodeError

__all__ = [
    "KINDS",
    "MAX_ID",
    "MAX_LENGTH",
    "MULTIPLE_RESOURCE",
    "OBJECT_INSTANCE",
    "RESOURCE_INSTANCE",
    "RESOURCE_VALUE",
    "UTC",
    "Kind",
    "RawEntry",
    "encode_python_value",
    "encode_tlv_bool",
    "encode_tlv_float",
    "encode_tlv_int",
    "encode_tlv_objlnk",
    "encode_tlv_str",
    "encode_tlv_time",
    "parse_entries",
    "write_header",
]


class Kind(NamedTuple):
    """One entry kind: its name, its level in the object model, and the kinds it may hold."""

    name: str
    #: 1 Object Instance, 2 Resource or Multiple Resource, 3 Resource Instance; the top level
    #: of a payload holds entries of one level only
    level: int
    #: the kinds (type byte bits 7-6) of the entries inside its value; empty for a leaf
    holds: frozenset[int]


OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE_VALUE = range(4)

#: The spec's hierarchy, indexed by bits 7-6 of the type byte: Object Instance > Resource or
#: Multiple Resource; Multiple Resource > Resource Instance. The one place it is written.
KINDS: tuple[Kind, ...] = (
    Kind("object_instance", 1, frozenset({MULTIPLE_RESOURCE, RESOURCE_VALUE})),
    Kind("resource_instance", 3, frozenset()),
    Kind("multiple_resource", 2, frozenset({RESOURCE_INSTANCE})),
    Kind("resource_value", 2, frozenset()),
)
_ANY_KIND = frozenset(range(4))  # what the top level of a payload may hold
_LEVELS = tuple(kind.level for kind in KINDS)

MAX_ID = 0xFFFF
MAX_LENGTH = 0xFFFFFF
# datetime.UTC is Python 3.11+; this package supports 3.10.
UTC = datetime.timezone.utc

#: A parsed entry: (kind, identifier, value); a leaf's value is its bytes, a container's the
#: entries inside it.
RawEntry: TypeAlias = "tuple[int, int, bytes | list[RawEntry]]"


# -- reading -----------------------------------------------------------------------------------


def parse_entries(data: bytes, pos: int = 0, end: int | None = None, parent: int | None = None,
                  ) -> list[RawEntry]:
    """The entries in ``data[pos:end]``, containers parsed recursively, in payload order.

    *parent* is the kind of the enclosing container (None at the top level). Raises
    `PayloadDecodeError` for a header cut short, a length running past its enclosing data, an
    entry where the hierarchy does not allow it, and top-level entries of different levels.
    """
    if end is None:
        end = len(data)
    allowed = _ANY_KIND if parent is None else KINDS[parent].holds
    out: list[RawEntry] = []
    level = 0
    while pos < end:
        start = pos
        type_byte = data[pos]
        pos += 1
        kind = type_byte >> 6
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
                f"{KINDS[kind].name} {ident} at offset {start} declares {length} value byte(s),"
                f" only {end - pos} left"
            )
        if kind not in allowed:
            raise PayloadDecodeError(
                f"invalid nesting: {KINDS[kind].name} {ident} at offset {start}"
                f" inside a {KINDS[parent].name}"  # type: ignore[index]  # the top level allows all
            )
        if parent is None:
            if not level:
                level = _LEVELS[kind]
            elif _LEVELS[kind] != level:
                first_kind, first_id, _ = out[0]
                raise PayloadDecodeError(
                    f"invalid nesting: {KINDS[first_kind].name} {first_id} and"
                    f" {KINDS[kind].name} {ident} side by side at the top level (offset {start})"
                )
        if kind & 1:  # a leaf: Resource Instance (01) or Resource with value (11)
            out.append((kind, ident, data[pos : pos + length]))
        else:
            out.append((kind, ident, parse_entries(data, pos, pos + length, kind)))
        pos += length
    return out


# -- writing -----------------------------------------------------------------------------------


def write_header(kind: int, ident: int, length: int, out: bytearray) -> None:
    """Append the header of an entry (*kind* as in `KINDS`) with the shortest identifier and
    length fields. Raises ``ValueError`` for a length TLV cannot express."""
    type_byte = kind << 6
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
    elif length <= MAX_LENGTH:
        out.append(type_byte | 0x18)
        length_field = length.to_bytes(3, "big")
    else:
        raise ValueError(f"{KINDS[kind].name} {ident}: {length} bytes do not fit a TLV length")
    out += ident.to_bytes(2 if ident > 0xFF else 1, "big")
    out += length_field


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
            value = value.replace(tzinfo=UTC)
        value = math.floor(value.timestamp())
    return encode_tlv_int(value)


def encode_python_value(value: Any) -> bytes:
    """A leaf's bytes for a Python value, by its type: ``bytes`` as they are, ``bool``, ``int``
    (the shortest Integer), ``float`` (8 bytes), ``str``, ``datetime`` (a Time),
    ``(object_id, instance_id)`` (an Objlnk). Raises ``TypeError`` for any other type."""
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
