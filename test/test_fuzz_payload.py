"""Fuzzing the payload decoders: on any bytes, any base64 text and any content type, each public
entry point returns a value or raises `mds.PayloadDecodeError`, never another exception.

A payload comes from a device, through the service, unchecked: one malformed payload must be
one typed error for its event, never an exception that stops the consumer's batch.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

import mds
from fuzzing import content_types, fuzz, json_values
from mds.payload import decode_base64, decode_payload, decode_tlv, encode_tlv, parse_senml

#: Bytes that look like the formats, so that examples get past the first check of each decoder.
_TLV_HEADERS = st.builds(
    lambda kind, ident, length, rest: bytes([kind]) + ident + length + rest,
    st.integers(0, 255),
    st.binary(min_size=1, max_size=2),
    st.binary(max_size=3),
    st.binary(max_size=40),
)
_JSON_TEXT = json_values.map(lambda value: json.dumps(value).encode())
_SENML_PACKS = st.lists(
    st.dictionaries(
        st.sampled_from(["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd",
                         "s", "t", "ut", "x_", "other"]),
        json_values, max_size=6,
    ),
    max_size=5,
)
_SENML_TEXT = _SENML_PACKS.map(lambda pack: json.dumps(pack).encode())
payload_bytes = st.one_of(
    st.binary(max_size=200), _TLV_HEADERS, _JSON_TEXT, _SENML_TEXT,
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"1" * 5000, b"-" + b"9" * 4400, b"1e999", b"[" * 5000, b"\xef\xbb\xbf1"]),
)
#: Base64 text: valid, cut short, with its padding lost, or any text at all.
base64_text = st.one_of(
    payload_bytes.map(lambda raw: base64.b64encode(raw).decode()),
    payload_bytes.map(lambda raw: base64.b64encode(raw).decode().rstrip("=")),
    payload_bytes.map(lambda raw: base64.b64encode(raw).decode()[:-1]),
    st.text(max_size=60),
)


def _decoded_or_refused(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except mds.PayloadDecodeError as exc:
        return exc  # (a message that says what is wrong: test_payload checks those)


@fuzz(share=0.5)
@given(payload=st.one_of(payload_bytes, base64_text), content_type=content_types())
@example(payload=b"1" * 5000, content_type="text/plain")
@example(payload=b"[" * 100_000, content_type="application/json")
@example(payload=b"[" * 100_000, content_type="application/senml+json")
@example(payload="\u00e9\u00e9\u00e9\u00e9", content_type="text/plain")
def test_decode_payload_raises_only_payload_decode_error(
    payload: bytes | str, content_type: str | None
) -> None:
    _decoded_or_refused(decode_payload, payload, content_type)


@fuzz(share=0.25)
@given(payload=st.one_of(base64_text, payload_bytes))
def test_decode_base64_raises_only_payload_decode_error(payload: bytes | str) -> None:
    result = _decoded_or_refused(decode_base64, payload)
    if isinstance(payload, bytes):
        assert result == payload
    elif isinstance(result, bytes):  # what it accepts is base64 (padding may be missing)
        assert base64.b64decode(payload + "=" * (-len(payload) % 4)) == result


@fuzz(share=0.25)
@given(payload=st.one_of(_TLV_HEADERS, st.binary(max_size=120), base64_text))
def test_decode_tlv_raises_only_payload_decode_error_and_round_trips(
    payload: bytes | str,
) -> None:
    result = _decoded_or_refused(decode_tlv, payload)
    if isinstance(result, mds.PayloadDecodeError):
        return
    # What decodes encodes back to a payload that decodes the same, and every typed reader of
    # every leaf answers a value or PayloadDecodeError.
    assert decode_tlv(encode_tlv(result)) == result
    for leaf in _leaves(result):
        for reader in ("as_int", "as_unsigned", "as_float", "as_bool", "as_str", "as_opaque",
                       "as_time", "as_datetime", "as_objlnk"):
            _decoded_or_refused(getattr(leaf, reader))


def _leaves(container: Any) -> list[Any]:
    out = []
    for entry in container.entries:
        if entry.is_container:
            out += _leaves(entry)
        else:
            out.append(entry)
    return out


@fuzz(share=0.25)
@given(pack=st.one_of(_SENML_PACKS, json_values, _SENML_TEXT, base64_text))
@example(pack=[{"n": "x", "v": 1e308, "bv": 1e308}])
@example(pack=[{"bn": 1, "v": 1}])
@example(pack=[{"n": "x", "vd": "\u00e9"}])
def test_parse_senml_raises_only_payload_decode_error(pack: Any) -> None:
    result = _decoded_or_refused(parse_senml, pack)
    if isinstance(result, list):
        for record in result:
            json.dumps(record.to_dict())  # every resolved record is JSON again


def test_limits_of_the_interpreter_are_payload_errors_too() -> None:
    """Text of more digits than int() reads stays text; JSON nested deeper than the parser
    goes is a PayloadDecodeError (not a RecursionError)."""
    digits = "7" * (sys.get_int_max_str_digits() + 1)
    assert decode_payload(digits.encode(), "text/plain") == digits
    deep = b"[" * (sys.getrecursionlimit() * 10)
    for content_type in ("application/json", "application/senml+json"):
        result = _decoded_or_refused(decode_payload, deep, content_type)
        assert isinstance(result, mds.PayloadDecodeError)
