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

This module holds what every format shares: base64, content types and the one dispatch. Each
format has a module of its own that works on the raw bytes: ``_text`` (text and JSON),
``_senml``, ``_tlv_codec`` (the TLV wire format) and ``_tlv_model`` (the typed TLV entries).
The SenML and TLV modules are imported on first use, so that ``import mds.payload`` stays
cheap for code that only meets text and JSON.
"""

from __future__ import annotations

import binascii
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mds.exceptions import PayloadDecodeError
from mds.payload._text import decode_text, parse_json

if TYPE_CHECKING:
    from mds.payload._senml import SenmlRecord
    from mds.payload._tlv_codec import (
        encode_tlv_bool,
        encode_tlv_float,
        encode_tlv_int,
        encode_tlv_objlnk,
        encode_tlv_str,
        encode_tlv_time,
    )
    from mds.payload._tlv_model import (
        TlvContainer,
        TlvEntry,
        TlvKind,
        TlvPayload,
        TlvValue,
        encode_tlv,
    )

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
    _a2b_base64 = binascii.a2b_base64
else:  # pragma: no cover - Python 3.10: no strict_mode, so check the alphabet and padding first
    _STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

    def _a2b_base64(text: str, *, strict_mode: bool) -> bytes:
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
            return _a2b_base64(payload, strict_mode=True)  # C, no frame of its own on 3.11+
        except ValueError:  # binascii.Error, or a non-ASCII str
            pass
        missing = -len(payload) % 4
        if missing in (1, 2):  # 3 would mean 4n+1 characters, which no base64 text has
            try:
                return _a2b_base64(payload + "=" * missing, strict_mode=True)
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
# the formats that are imported on first use
# --------------------------------------------------------------------------------------------


def decode_tlv(payload: bytes | str) -> TlvPayload:
    """Decode an LwM2M TLV payload (``application/vnd.oma.lwm2m+tlv`` or the older name
    ``application/nanoservice-tlv``) into a `TlvPayload`.

    *payload* is the raw bytes, or base64 text as on the wire. The spec's rules are enforced:
    a header cut short, a length running past its enclosing data, an entry where the hierarchy
    does not allow it (Object Instance > Resource / Multiple Resource > Resource Instance) and
    a repeated id among siblings all raise `PayloadDecodeError`.
    """
    return _decode_tlv_bytes(decode_base64(payload))


def parse_senml(payload: bytes | str | list[Any]) -> list[SenmlRecord]:
    """Resolve a SenML JSON pack (RFC 8428 §4.6) into `SenmlRecord` objects, in pack order.

    *payload* is the raw payload (``bytes``), its base64 text as on the wire (``str``, as for
    `decode_payload`), or an already parsed JSON array. Base name, time, unit, value and sum
    apply to the record that carries them and every record after it; a record without a value
    or sum yields nothing but its base fields still apply. Field names ending in ``_`` that
    this decoder does not understand make the pack invalid, as RFC 8428 §4.4 requires; other
    unknown fields are ignored. Raises `PayloadDecodeError`.
    """
    from mds.payload._senml import resolve_senml

    if isinstance(payload, list):
        return resolve_senml(payload)
    return resolve_senml(parse_json(decode_base64(payload)))


def _decode_tlv_bytes(raw: bytes) -> TlvPayload:
    from mds.payload._tlv_model import decode_tlv_bytes

    return decode_tlv_bytes(raw)


def _decode_senml(raw: bytes) -> list[SenmlRecord]:
    from mds.payload._senml import decode_senml

    return decode_senml(raw)


_SENML_NAMES = frozenset({"SenmlRecord"})
_TLV_CODEC_NAMES = frozenset({
    "encode_tlv_bool", "encode_tlv_float", "encode_tlv_int", "encode_tlv_objlnk",
    "encode_tlv_str", "encode_tlv_time",
})
_TLV_MODEL_NAMES = frozenset({
    "TlvContainer", "TlvEntry", "TlvKind", "TlvPayload", "TlvValue", "encode_tlv",
})


if not TYPE_CHECKING:  # pragma: no branch - type checkers read the imports above instead, so
    # that a misspelt name stays an error for them

    def __getattr__(name: str) -> Any:
        """The names of the SenML and TLV modules, imported on first access."""
        if name in _SENML_NAMES:
            from mds.payload import _senml

            value = getattr(_senml, name)
        elif name in _TLV_MODEL_NAMES:
            from mds.payload import _tlv_model

            value = getattr(_tlv_model, name)
        elif name in _TLV_CODEC_NAMES:
            from mds.payload import _tlv_codec

            value = getattr(_tlv_codec, name)
        else:
            raise AttributeError(f"module 'mds.payload' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# --------------------------------------------------------------------------------------------
# the dispatch
# --------------------------------------------------------------------------------------------


def _identity(raw: bytes) -> bytes:
    return raw


#: The decoder of each content type the SDK reads, by its normalized name.
_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "text/plain": decode_text,
    "application/vnd.oma.lwm2m+text": decode_text,
    "application/json": parse_json,
    "application/vnd.oma.lwm2m+json": parse_json,
    "application/senml+json": _decode_senml,
    "application/vnd.oma.lwm2m+tlv": _decode_tlv_bytes,
    "application/nanoservice-tlv": _decode_tlv_bytes,
}


def decode_payload(payload: bytes | str, content_type: str | None) -> Any:
    """Decode a device payload by its content type (see the table in this module's docs).

    *payload* is base64 text as on the wire (``str``) or the raw bytes. *content_type* is the
    ``ct`` the service sent; parameters such as ``; charset=utf-8`` and case are ignored, and
    an unknown or missing type gives the bytes unchanged.

    Returns ``int``/``float``/``str`` for text, the parsed value for JSON, ``list[SenmlRecord]``
    for SenML JSON, a `TlvPayload` for TLV, else ``bytes``. Raises `PayloadDecodeError` when the
    payload is not valid base64 or not valid for its content type.
    """
    return decode_payload_with_bytes(payload, content_type)[1]


def decode_payload_with_bytes(payload: bytes | str, content_type: str | None,
                              ) -> tuple[bytes, Any]:
    """`decode_payload`, also giving the bytes: ``(bytes, value)``; raises as it does.

    The one dispatch, and the event layer's path for the first read of every payload: one
    call where `decode_base64` and `decode_payload` would be two. Not in ``__all__``.
    """
    if type(payload) is str:
        try:  # what decode_base64 tries first, without a call of its own
            raw = _a2b_base64(payload, strict_mode=True)
        except ValueError:  # it also takes text without its padding, or says what is wrong
            raw = decode_base64(payload)
    else:
        raw = decode_base64(payload)
    if content_type == "text/plain":  # what devices send most: one comparison, no lookup
        # and most often a whole number: ASCII digits without a leading zero, few enough for
        # int() to take them all. decode_text reads those the same (a test holds them to it).
        if raw.isdigit() and len(raw) < 19 and (raw[0] != 0x30 or len(raw) == 1):
            return raw, int(raw)
        return raw, decode_text(raw)
    # The name as the service spells it (one lookup); else normalized.
    decoder = _DECODERS.get(content_type or "")
    if decoder is None:
        decoder = _DECODERS.get(normalize_content_type(content_type), _identity)
    return raw, decoder(raw)
