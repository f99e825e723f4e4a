"""mds.payload: every published vector, the content-type dispatch, and TLV round trips."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mds.exceptions import PayloadDecodeError
from mds.payload import (
    SenmlRecord,
    TlvContainer,
    TlvEntry,
    TlvKind,
    TlvPayload,
    TlvValue,
    decode_base64,
    decode_payload,
    decode_tlv,
    encode_tlv,
    encode_tlv_bool,
    encode_tlv_float,
    encode_tlv_int,
    encode_tlv_objlnk,
    encode_tlv_str,
    encode_tlv_time,
    parse_senml,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "payload-vectors.json").read_text("utf-8"))


def _ids(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _joined(parts: list[dict[str, Any]]) -> bytes:
    return b"".join(bytes.fromhex(p["hex"]) * p["repeat"] for p in parts)


def _payload_bytes(vector: dict[str, Any]) -> bytes:
    if "payload_parts" in vector:
        data = _joined(vector["payload_parts"])
        assert len(data) == vector["payload_length"]
        assert hashlib.sha256(data).hexdigest() == vector["payload_sha256"]
        return data
    data = bytes.fromhex(vector["payload_hex"])
    assert base64.b64decode(vector["payload_base64"]) == data
    return data


# --------------------------------------------------------------------------------------------
# TLV vectors
# --------------------------------------------------------------------------------------------

_READERS: dict[str, Callable[[TlvValue], Any]] = {
    "string": TlvValue.as_str,
    "integer": TlvValue.as_int,
    "float": TlvValue.as_float,
    "boolean": TlvValue.as_bool,
    "time": TlvValue.as_time,
    "opaque": TlvValue.as_opaque,
    "objlnk": lambda v: "{}:{}".format(*v.as_objlnk()),
}


def _check_entry(entry: TlvEntry, expected: dict[str, Any]) -> None:
    assert entry.kind == expected["type"]
    assert entry.kind.value == expected["type"]
    assert entry.id == expected["id"]
    if "children" in expected:
        assert isinstance(entry, TlvContainer)
        assert entry.is_container
        assert list(entry) == [c["id"] for c in expected["children"]]  # payload order
        assert len(entry) == len(expected["children"])
        for child, want in zip(entry.values(), expected["children"], strict=True):
            _check_entry(child, want)
            assert entry[want["id"]] is child
        return
    assert isinstance(entry, TlvValue)
    assert not entry.is_container
    if "value_parts" in expected:
        assert entry.value == _joined(expected["value_parts"])
        assert len(entry.value) == expected["value_length"]
    else:
        assert entry.value == bytes.fromhex(expected["value_hex"])
    typed = expected.get("typed")
    if typed is not None:
        assert _READERS[typed["as"]](entry) == typed["value"]


@pytest.mark.parametrize("vector", _ids("tlv"))
def test_tlv_vector(vector: dict[str, Any]) -> None:
    data = _payload_bytes(vector)
    if vector.get("expected_error"):
        with pytest.raises(PayloadDecodeError):
            decode_tlv(data)
        with pytest.raises(PayloadDecodeError):  # and through the content-type dispatch
            decode_payload(base64.b64encode(data).decode(), vector["content_type"])
        return
    payload = decode_payload(base64.b64encode(data).decode(), vector["content_type"])
    assert isinstance(payload, TlvPayload)
    assert list(payload) == [e["id"] for e in vector["expected"]]
    assert len(payload.entries) == len(vector["expected"])
    for entry, expected in zip(payload.entries, vector["expected"], strict=True):
        _check_entry(entry, expected)
    # The encoder writes the shortest headers, as every sourced vector does: byte-exact.
    assert encode_tlv(payload) == data
    assert decode_tlv(data) == payload


@pytest.mark.parametrize("vector", _ids("tlv_values"))
def test_tlv_value_vector(vector: dict[str, Any]) -> None:
    leaf = TlvValue(0, bytes.fromhex(vector["value_hex"]))
    read = _READERS[vector["as"]]
    if vector.get("expected_error"):
        with pytest.raises(PayloadDecodeError):
            read(leaf)
        return
    got = read(leaf)
    if vector["as"] == "float":
        assert got == pytest.approx(vector["expected_value"], rel=1e-7)
    else:
        assert got == vector["expected_value"]
        assert type(got) is type(vector["expected_value"])


def test_tlv_reads_mbed_client_quirks() -> None:
    # 8-byte booleans and integers from Mbed Client; floats sent as ASCII inside TLV.
    payload = decode_tlv("CAAM6BbaCAAAAAAAAAAA")
    assert payload.leaf(0, 5850).as_bool() is False
    assert TlvValue(1, bytes(7) + b"\x01").as_bool() is True
    floats = decode_tlv(
        "CAAy6BZEDDI0LjYxMTExMDY4N+gV4wgAAAAAAAAAAOgV5AgAAAAAAAAAyOcWRUNlbHNpdXMIARDoFkQM"
        "MzQuNDQ0NDQyNzQ5CAIQ6BZEDDIyLjIyMjIyMTM3NQ=="
    )
    sensor = floats.leaf(0, 5700)
    assert float(sensor.as_str()) == pytest.approx(24.611110687)
    with pytest.raises(PayloadDecodeError, match="4 or 8 bytes"):
        sensor.as_float()  # 12 ASCII bytes are not an IEEE float: no guessing
    assert floats.leaf(0, 5604).as_int() == 200


def test_tlv_typed_readers() -> None:
    assert TlvValue(13, b"\x51\x82\x42\x8f").as_datetime() == datetime.datetime(
        2013, 5, 2, 10, 40, 15, tzinfo=datetime.timezone.utc
    )
    assert TlvValue(1, b"\xff\xff\xff\xfe").as_unsigned() == 0xFFFFFFFE
    assert TlvValue(1, b"\xff\xff\xff\xfe").as_int() == -2
    assert TlvValue(1, b"\x00\x42\x00\x01").as_objlnk() == (66, 1)
    assert TlvValue(1, b"\x01\x02").as_opaque() == b"\x01\x02"
    assert TlvValue(7, b"").as_str() == ""
    with pytest.raises(PayloadDecodeError, match="resource_value 7"):
        TlvValue(7, b"").as_int()
    with pytest.raises(PayloadDecodeError, match="UTF-8"):
        TlvValue(1, b"\xff\xfe").as_str()
    with pytest.raises(PayloadDecodeError):
        TlvValue(1, b"\x00\x00\x00\x02").as_bool()
    assert isinstance(PayloadDecodeError("x"), ValueError)


def test_tlv_payload_reads_like_a_mapping() -> None:
    payload = decode_tlv(bytes.fromhex(VECTORS["tlv"][1]["payload_hex"]))  # ACL, 2 instances
    assert list(payload.keys()) == [0, 2]
    assert 2 in payload
    assert 1 not in payload
    instance = payload[2]
    assert isinstance(instance, TlvContainer)
    assert instance.kind is TlvKind.OBJECT_INSTANCE
    assert instance.kind == "object_instance"  # type: ignore[comparison-overlap]  # a str enum
    assert [e.kind for e in instance.values()] == [
        "resource_value",
        "resource_value",
        "multiple_resource",
        "resource_value",
    ]
    acl = instance[2]
    assert isinstance(acl, TlvContainer)
    assert {i: v.as_int() for i, v in acl.items()} == {127: 7, 310: 1}  # type: ignore[attr-defined]
    assert payload.to_dict()[2][2] == {127: b"\x07", 310: b"\x01"}
    with pytest.raises(KeyError):
        payload[99]
    with pytest.raises(AttributeError):
        payload[0].id = 5
    with pytest.raises(TypeError):
        payload[5] = payload[0]  # type: ignore[index]
    # typed lookups by path
    assert payload.leaf(2, 2, 310).as_int() == 1
    assert payload.container(2, 2) == acl
    with pytest.raises(TypeError, match="container"):
        payload.leaf(2, 2)
    with pytest.raises(TypeError, match="value"):
        payload.container(2, 0)
    with pytest.raises(KeyError):
        payload.leaf(2, 0, 1)
    with pytest.raises(KeyError):
        payload.leaf(7)
    # readable reprs, usable as dict keys, picklable
    assert repr(payload.leaf(0, 0)) == "TlvValue(kind='resource_value', id=0, value=b'\\x01')"
    assert repr(payload).startswith("TlvPayload([TlvContainer(kind='object_instance', id=0,")
    assert len({payload, decode_tlv(payload.to_bytes())}) == 1
    assert pickle.loads(pickle.dumps(payload)) == payload


def test_tlv_equality_ignores_order_but_iteration_keeps_it() -> None:
    a = decode_tlv(encode_tlv({1: b"a", 2: b"b"}))
    b = decode_tlv(encode_tlv({2: b"b", 1: b"a"}))
    assert a == b
    assert hash(a) == hash(b)
    assert list(a) == [1, 2]
    assert list(b) == [2, 1]
    assert a != decode_tlv(encode_tlv({1: b"a", 2: b"c"}))
    leaf = TlvValue(1, b"a")
    assert leaf != TlvValue(1, b"a", kind="resource_instance")
    assert leaf == TlvValue(1, b"a")


def test_tlv_long_value_repr_is_short() -> None:
    leaf = TlvValue(69, b"0123456789" * 10_000)
    text = repr(leaf)
    assert "<100000 bytes:" in text
    assert len(text) < 150


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        ("c10001c10002", "duplicate resource_value 0"),  # same id twice at the top level
        ("0600c10001c10002", "duplicate resource_value 0 in object_instance 0"),
        ("c10001080000", "invalid nesting"),  # a resource beside an object instance
        ("4100010300c10001", "invalid nesting"),  # a resource instance beside an object instance
        ("02000000", "invalid nesting"),  # an object instance inside an object instance
        ("8303c10001", "invalid nesting"),  # a resource inside a multiple resource
        ("0300410001", "invalid nesting"),  # a resource instance directly in an instance
        ("c8", "truncated"),  # no identifier
        ("e801", "truncated"),  # 16-bit identifier cut short
        ("c801", "truncated"),  # no length byte
        ("d001ff", "truncated"),  # 16-bit length cut short
        ("d801ffff", "truncated"),  # 24-bit length cut short
        ("c30141", "declares 3 value byte"),
        # the instance's child would fit in the payload, but not in its instance
        ("0300c301414243", "declares 3 value byte\\(s\\), only 1 left"),
    ],
)
def test_tlv_rejects_malformed(hex_payload: str, message: str) -> None:
    with pytest.raises(PayloadDecodeError, match=message):
        decode_tlv(bytes.fromhex(hex_payload))


def test_tlv_empty_payload_is_empty() -> None:
    assert decode_payload("", "application/vnd.oma.lwm2m+tlv") == TlvPayload()
    assert len(decode_tlv(b"")) == 0


# --------------------------------------------------------------------------------------------
# TLV encoding, and property tests
# --------------------------------------------------------------------------------------------


def test_encode_tlv_from_plain_mapping() -> None:
    data = encode_tlv({5700: 21.5, 5701: "Cel", 5850: True, 11: {0: 0, 1: 300}})
    payload = decode_tlv(data)
    assert payload.leaf(5700).as_float() == 21.5
    assert payload.leaf(5701).as_str() == "Cel"
    assert payload.leaf(5850).as_bool() is True
    errors = payload.container(11)
    assert errors.kind == "multiple_resource"
    assert [errors.leaf(i).as_int() for i in errors] == [0, 300]
    instances = encode_tlv({0: {1: 1}, 1: {1: 2}}, kind="object_instance")
    assert decode_tlv(instances).leaf(1, 1).as_int() == 2
    assert decode_tlv(encode_tlv({0: b"x", 1: b"y"}, kind="resource_instance"))[1].kind == (
        "resource_instance"
    )


def test_encode_tlv_typed_helpers() -> None:
    assert encode_tlv_int(0) == b"\x00"
    assert encode_tlv_int(-129) == b"\xff\x7f"
    assert encode_tlv_int(2**31) == b"\x00\x00\x00\x00\x80\x00\x00\x00"
    with pytest.raises(ValueError, match="64-bit"):
        encode_tlv_int(2**63)
    assert encode_tlv_float(1.0, 4) == bytes.fromhex("3f800000")
    assert encode_tlv_float(1.1) == bytes.fromhex("3ff199999999999a")
    assert encode_tlv_bool(True) == b"\x01"
    assert encode_tlv_str("é") == b"\xc3\xa9"
    assert encode_tlv_objlnk(66, 1) == bytes.fromhex("00420001")
    moment = datetime.datetime(2013, 5, 2, 10, 40, 15, tzinfo=datetime.timezone.utc)
    assert encode_tlv_time(moment) == bytes.fromhex("5182428f")
    assert TlvValue(5, moment).as_datetime() == moment
    assert TlvValue(5, (3, 0)).as_objlnk() == (3, 0)


_BIG = b"x" * (0xFFFFFF // 2 + 1)  # two of them overflow a container's 3-byte length field


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: TlvValue(70000, b""), ValueError, "0..65535"),
        (lambda: TlvValue(1, b"", kind="instance"), ValueError, "unknown TLV kind 'instance'"),
        (lambda: TlvValue(1, b"", kind="multiple_resource"), ValueError, "not multiple_resource"),
        (lambda: TlvValue(1, b"x" * 0x1000000), ValueError, "at most 16777215 bytes"),
        (lambda: TlvValue(1, object()), TypeError, "cannot encode a object"),
        (lambda: TlvContainer(1, kind="resource_value"), ValueError, "not resource_value"),
        (lambda: TlvContainer(1, [TlvValue(1, b"")], kind="multiple_resource"), ValueError,
         "a multiple_resource cannot hold a resource_value"),
        (lambda: TlvContainer(1, [TlvValue(1, b""), TlvValue(1, b"x")]), ValueError,
         "duplicate resource_value 1 in object_instance 1"),
        (lambda: TlvPayload([TlvValue(1, b""), TlvContainer(2, {})]), ValueError,
         "side by side at the top level"),
        (lambda: TlvPayload([5]), TypeError,  # type: ignore[list-item]
         "expected TlvEntry objects, got int"),
        (lambda: encode_tlv([TlvValue(1, b""), TlvContainer(2, {})]), ValueError, "invalid nesting"),
        (lambda: encode_tlv({1: object()}), TypeError, "cannot encode a object"),
        (lambda: encode_tlv({1: {2: b""}}, kind="multiple_resource"), ValueError,
         "a mapping's top-level kind"),
        (lambda: encode_tlv({0: b"x"}, kind="object_instance"), ValueError,
         "needs a mapping of resources"),
        (lambda: encode_tlv({0: {1: b""}}, kind="resource_instance"), ValueError,
         "a resource_instance cannot hold a mapping"),
        (lambda: TlvContainer(1, {2: _BIG, 3: _BIG}).to_bytes(), ValueError,
         "do not fit a TLV length"),
        (lambda: encode_tlv_int(True), TypeError, "expected an int, not bool"),
        (lambda: encode_tlv_float(1e300, 4), ValueError, "does not fit in a 4-byte float"),
        (lambda: encode_tlv_float(1.0, 2), ValueError, "4 or 8 bytes, not 2"),
        (lambda: encode_tlv_objlnk(70000, 0), ValueError, "0..65535, not 70000:0"),
    ],
)
def test_encoding_refuses_what_tlv_cannot_hold(build: Any, error: type[Exception], message: str,
                                               ) -> None:
    with pytest.raises(error, match=message):
        build()


def test_entries_encode_themselves_and_python_values_by_type() -> None:
    leaf = TlvValue(5700, 21.5)
    assert leaf.to_bytes() == encode_tlv(leaf) == encode_tlv({5700: 21.5})
    assert TlvValue(1, bytearray(b"ab")).value == b"ab"
    assert TlvValue(1, memoryview(b"ab")).value == b"ab"
    assert TlvValue(1, 7).as_int() == 7
    # a naive datetime is UTC; an int is already seconds
    naive = datetime.datetime(2013, 5, 2, 10, 40, 15)
    assert encode_tlv_time(naive) == encode_tlv_time(1367491215) == bytes.fromhex("5182428f")
    # entries from a mapping may be entries already
    instance = TlvContainer(0, {1: TlvValue(1, b"a"), 2: b"b"})
    assert decode_tlv(encode_tlv({0: instance.to_dict()}, kind="object_instance")) == decode_tlv(
        encode_tlv([instance]))
    assert str(TlvKind.MULTIPLE_RESOURCE) == "multiple_resource"
    assert TlvKind.MULTIPLE_RESOURCE.is_container
    assert not TlvKind.RESOURCE_INSTANCE.is_container


def test_entries_are_read_only_and_compare_only_with_entries() -> None:
    payload = decode_tlv(encode_tlv({1: b"a", 2: {0: b"b"}}))
    leaf, container = payload.leaf(1), payload.container(2)
    for entry in (leaf, container):
        with pytest.raises(AttributeError, match="read-only"):
            entry.id = 3
        with pytest.raises(AttributeError, match="read-only"):
            del entry.kind
    with pytest.raises(AttributeError, match="read-only"):
        payload.extra = 1
    assert leaf != b"a"
    assert container != {0: b"b"}
    assert payload != {1: b"a"}
    with pytest.raises(TypeError, match="at least one id"):
        payload.leaf()


@pytest.mark.parametrize(
    ("value", "reader", "message"),
    [
        (b"\x01\x02\x03", TlvValue.as_unsigned, "unsigned integer is 1, 2, 4 or 8 bytes, not 3"),
        (b"\x00\x00\x01", TlvValue.as_bool, "a boolean is 1 byte"),
        (b"\x01\x02", TlvValue.as_float, "a float is 4 or 8 bytes, not 2"),
        (b"\x01", TlvValue.as_objlnk, "an object link is 4 bytes, not 1"),
        (encode_tlv_int(2**62), TlvValue.as_datetime, "out of range"),
    ],
)
def test_typed_readers_refuse_bytes_of_another_type(value: bytes, reader: Any, message: str,
                                                    ) -> None:
    with pytest.raises(PayloadDecodeError, match=message):
        reader(TlvValue(9, value))


def test_encoder_uses_16_bit_ids_and_every_length_field() -> None:
    for size, header in [(7, "c701"), (8, "c80108"), (256, "d0010100"), (65536, "d801010000")]:
        assert encode_tlv({1: b"x" * size}).hex().startswith(header)
    assert encode_tlv({256: b""}).hex() == "e00100"


_LEAF_VALUES = st.one_of(
    st.binary(max_size=12),
    st.binary(min_size=250, max_size=300),  # 1- and 2-byte length fields
    st.integers(65_536, 65_540).map(lambda n: b"z" * n),  # a 3-byte length field
)
_IDS = st.one_of(st.integers(0, 255), st.integers(256, 0xFFFF))


def _unique(children: st.SearchStrategy[TlvEntry]) -> st.SearchStrategy[list[TlvEntry]]:
    return st.lists(children, max_size=4, unique_by=lambda e: e.id)


def _leaves(kind: str) -> st.SearchStrategy[TlvEntry]:
    return st.tuples(_IDS, _LEAF_VALUES).map(lambda t: TlvValue(t[0], t[1], kind))


def _containers(kind: str, children: st.SearchStrategy[TlvEntry]) -> st.SearchStrategy[TlvEntry]:
    return st.tuples(_IDS, _unique(children)).map(lambda t: TlvContainer(t[0], t[1], kind))


_RESOURCE_INSTANCES = _leaves("resource_instance")
_RESOURCES = st.one_of(
    _leaves("resource_value"), _containers("multiple_resource", _RESOURCE_INSTANCES)
)
_INSTANCES = _containers("object_instance", _RESOURCES)
_PAYLOADS = st.one_of(
    _unique(_INSTANCES).map(TlvPayload),
    _unique(_RESOURCES).map(TlvPayload),
    _unique(_RESOURCE_INSTANCES).map(TlvPayload),
)

_KIND_BITS = {"object_instance": 0, "resource_instance": 1, "multiple_resource": 2}


def _reference_encode(entries: tuple[TlvEntry, ...], widths: st.DataObject) -> bytes:
    """An independent encoder that picks any length-field width that fits (not the shortest)."""
    out = b""
    for entry in entries:
        if isinstance(entry, TlvContainer):
            body = _reference_encode(entry.entries, widths)
        else:
            assert isinstance(entry, TlvValue)
            body = entry.value
        type_byte = _KIND_BITS.get(entry.kind.value, 3) << 6
        id_bytes = entry.id.to_bytes(2 if entry.id > 255 else 1, "big")
        if entry.id > 255:
            type_byte |= 0x20
        fitting = [w for w in (0, 1, 2, 3) if len(body) < (8 if w == 0 else 1 << (8 * w))]
        width = widths.draw(st.sampled_from(fitting))
        if width == 0:
            header = bytes([type_byte | len(body)]) + id_bytes
        else:
            header = bytes([type_byte | width << 3]) + id_bytes + len(body).to_bytes(width, "big")
        out += header + body
    return out


@settings(max_examples=150, deadline=None)
@given(_PAYLOADS)
def test_tlv_round_trip(payload: TlvPayload) -> None:
    data = encode_tlv(payload)
    decoded = decode_tlv(data)
    assert decoded == payload
    assert [e.id for e in decoded.entries] == [e.id for e in payload.entries]
    assert decode_payload(base64.b64encode(data).decode(), "application/nanoservice-tlv") == payload


@settings(max_examples=150, deadline=None)
@given(_PAYLOADS, st.data())
def test_tlv_decodes_any_length_field_width(payload: TlvPayload, data: st.DataObject) -> None:
    assert decode_tlv(_reference_encode(payload.entries, data)) == payload


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_tlv_decoder_never_fails_other_than_by_payload_error(data: bytes) -> None:
    try:
        payload = decode_tlv(data)
    except PayloadDecodeError:
        return
    assert encode_tlv(payload) == data or decode_tlv(encode_tlv(payload)) == payload


@settings(max_examples=100, deadline=None)
@given(_PAYLOADS, st.data())
def test_tlv_truncated_payload_is_an_error(payload: TlvPayload, data: st.DataObject) -> None:
    encoded = encode_tlv(payload)
    if not encoded:
        return
    cut = data.draw(st.integers(1, len(encoded)))
    try:
        prefix = decode_tlv(encoded[:-cut])
    except PayloadDecodeError:
        return
    # Only a cut between two top-level entries leaves a well-formed payload: the first ones.
    assert len(prefix) < len(payload)
    assert prefix.entries == payload.entries[: len(prefix)]


@given(st.integers(-(2**63), 2**63 - 1))
def test_int_round_trip(value: int) -> None:
    assert TlvValue(1, encode_tlv_int(value)).as_int() == value
    assert len(encode_tlv_int(value)) in (1, 2, 4, 8)


@given(st.floats(allow_nan=False))
def test_float_round_trip(value: float) -> None:
    assert TlvValue(1, encode_tlv_float(value)).as_float() == value


@given(st.text())
def test_str_round_trip(value: str) -> None:
    assert decode_tlv(encode_tlv({0: value}))[0].as_str() == value  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _ids("text"))
def test_text_vector(vector: dict[str, Any]) -> None:
    raw = decode_base64(vector["payload_base64"])
    text = vector["expected"]["text"]
    assert raw.decode("utf-8") == text == vector["payload_text"]
    value = decode_payload(vector["payload_base64"], vector["content_type"])
    typed = vector.get("typed")
    if typed and typed["as"] == "integer":
        assert value == typed["value"]
        assert type(value) is int
    elif typed and typed["as"] == "string":
        assert value == typed["value"] == text
    else:  # a number as text becomes the number; anything else stays the exact text
        try:
            assert value == float(text)
            assert str(value) == text
        except ValueError:
            assert value == text
    # the same text through the LwM2M text type
    assert decode_payload(raw, "application/vnd.oma.lwm2m+text") == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("57", 57),
        ("-5", -5),
        ("0", 0),
        ("3.31", 3.31),
        ("-0.5", -0.5),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("12345678901234567890", 12345678901234567890),
        ("value1\n", "value1\n"),
        ("57\n", "57\n"),  # not trimmed, so not a number
        (" 57", " 57"),
        ("+5", "+5"),
        ("007", "007"),  # leading zeros carry meaning (codes, serials): kept as text
        ("1_000", "1_000"),
        ("٣", "٣"),  # a non-ASCII digit
        ("nan", "nan"),
        ("inf", "inf"),
        ("1e999", "1e999"),  # not finite
        (".5", ".5"),
        ("", ""),
        ("Open Mobile Alliance", "Open Mobile Alliance"),
    ],
)
def test_text_numbers_are_json_numbers(text: str, expected: Any) -> None:
    value = decode_payload(text.encode("utf-8"), "text/plain")
    assert value == expected
    assert type(value) is type(expected)


@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_text_numbers_round_trip_through_json_text(number: int | float) -> None:
    value = decode_payload(json.dumps(number).encode(), "text/plain")
    assert value == number
    assert type(value) is type(number)


@given(st.text())
def test_text_is_kept_exactly_unless_it_is_a_number(text: str) -> None:
    value = decode_payload(text.encode("utf-8"), "application/vnd.oma.lwm2m+text")
    if isinstance(value, str):
        assert value == text
    else:
        assert json.loads(text) == value  # only JSON number syntax becomes a number


@settings(max_examples=300)
@given(st.one_of(st.text(alphabet="0123456789-+.eE _", max_size=24), st.integers().map(str)))
def test_text_plain_reads_numbers_as_the_lwm2m_text_type_does(text: str) -> None:
    # text/plain, the common case, has a shortcut for whole numbers; the LwM2M name does not
    value = decode_payload(text.encode(), "text/plain")
    assert value == decode_payload(text.encode(), "application/vnd.oma.lwm2m+text")
    assert type(value) is type(decode_payload(text.encode(), "application/vnd.oma.lwm2m+text"))


def test_text_numbers_too_long_for_int_stay_text() -> None:
    digits = "7" * 5000  # more than int() reads (sys.get_int_max_str_digits)
    assert decode_payload(digits.encode(), "text/plain") == digits
    assert decode_payload(f"-{digits}".encode(), "text/plain") == f"-{digits}"


def test_text_invalid_utf8_is_an_error() -> None:
    with pytest.raises(PayloadDecodeError, match="UTF-8"):
        decode_payload(b"\xff\xfe", "text/plain")


# --------------------------------------------------------------------------------------------
# SenML
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _ids("senml_json"))
def test_senml_vector(vector: dict[str, Any]) -> None:
    raw = decode_base64(vector["payload_base64"])
    assert raw.decode("utf-8") == vector["payload_text"]
    if vector.get("expected_error"):
        with pytest.raises(PayloadDecodeError, match="must be understood"):
            decode_payload(vector["payload_base64"], vector["content_type"])
        with pytest.raises(PayloadDecodeError):
            parse_senml(raw)
        return
    records = decode_payload(vector["payload_base64"], vector["content_type"])
    assert records == parse_senml(raw) == parse_senml(vector["payload_base64"])
    expected = vector["expected"]["records"]
    assert len(records) == len(expected)
    for record, want in zip(records, expected, strict=True):
        assert isinstance(record, SenmlRecord)
        assert record.name == want["n"]
        assert record.unit == want.get("u")
        assert record.time == pytest.approx(want["t"], abs=1e-6)
        assert record.time_kind == want["time_kind"]
        assert record.version == want.get("bver", 10)
        resolved = record.to_dict()
        for label in ("vs", "vb", "vd"):
            if label in want:
                assert resolved[label] == want[label]
        if "v" in want:
            assert resolved["v"] == pytest.approx(want["v"], abs=1e-9)
        if "vd_hex" in want:
            assert record.value == bytes.fromhex(want["vd_hex"])
        elif "vb" in want:
            assert record.value is want["vb"]
        else:
            assert record.value == want.get("v", want.get("vs"))
        resolved_expected = {k: v for k, v in want.items() if k not in ("time_kind", "vd_hex")}
        assert resolved.keys() == resolved_expected.keys()


def test_senml_base_value_sum_and_update_time() -> None:
    pack = [
        {"bn": "dev/", "bv": 100, "bs": 10, "bu": "W", "bt": 1.5e9, "n": "a", "v": 1, "s": 2},
        {"n": "b", "v": -1, "ut": 60, "t": -10},
        {"bn": "other/"},  # base fields only: no record
        {"n": "c", "vs": "on"},
    ]
    records = parse_senml(pack)
    assert [r.name for r in records] == ["dev/a", "dev/b", "other/c"]
    assert records[0].value == 101
    assert records[0].sum == 12
    assert records[0].unit == "W"
    assert records[1].value == 99
    assert records[1].update_time == 60
    assert records[1].time == 1.5e9 - 10
    assert records[1].time_kind == "absolute"
    assert records[1].absolute_time() == 1.5e9 - 10
    assert records[2].value == "on"
    assert parse_senml([{"n": "x", "v": 1, "t": -5}])[0].absolute_time(now=1000.0) == 995.0


@pytest.mark.parametrize(
    "pack",
    [
        {"n": "x", "v": 1},  # not an array
        [5],
        [{"n": 5, "v": 1}],
        [{"n": "x", "v": "1"}],
        [{"n": "x", "v": True}],
        [{"n": "x", "vb": 1}],
        [{"n": "x", "v": 1, "vs": "1"}],  # two values
        [{"v": 1}],  # no name
        [{"n": "x", "vd": "***"}],
        [{"n": "x", "v": 1, "bver_": 1}],
    ],
)
def test_senml_rejects_malformed(pack: Any) -> None:
    with pytest.raises(PayloadDecodeError):
        parse_senml(json.dumps(pack).encode())


def test_senml_records_back_to_resolved_json() -> None:
    (record,) = parse_senml([{"bn": "d/", "n": "e", "v": 2.5, "s": 10, "ut": 5, "bver": 11}])
    assert record.to_dict() == {"n": "d/e", "t": 0, "v": 2.5, "s": 10, "ut": 5, "bver": 11}
    with pytest.raises(PayloadDecodeError, match="'bver' must be an integer"):
        parse_senml([{"n": "e", "v": 1, "bver": "11"}])


def test_senml_ignores_unknown_fields_without_underscore() -> None:
    assert parse_senml([{"n": "x", "v": 1, "foo": 2}])[0].value == 1


# --------------------------------------------------------------------------------------------
# dispatch, base64, JSON
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ct", "kind"),
    [
        ("text/plain", int),
        ("TEXT/PLAIN; charset=utf-8", int),
        (" text/plain ", int),
        ("application/vnd.oma.lwm2m+text", int),
        ("application/json", int),
        ("application/vnd.oma.lwm2m+json", int),
        ("application/octet-stream", bytes),
        ("application/vnd.oma.lwm2m+opaq", bytes),
        ("application/link-format", bytes),
        ("application/x-unknown", bytes),
        ("", bytes),
        (None, bytes),
    ],
)
def test_content_type_alone_picks_the_decoder(ct: str | None, kind: type) -> None:
    value = decode_payload("NTc=", ct)
    assert type(value) is kind
    assert value == (57 if kind is int else b"57")


def test_tlv_is_never_guessed() -> None:
    tlv = "yAAUT3BlbiBNb2JpbGUgQWxsaWFuY2U="  # valid TLV bytes
    assert decode_payload(tlv, "application/octet-stream") == base64.b64decode(tlv)
    assert decode_payload(tlv, None) == base64.b64decode(tlv)
    # text delivered with a TLV content type is an error, not garbage
    with pytest.raises(PayloadDecodeError):
        decode_payload("Q2hhbmdlIG1lIQ==", "application/vnd.oma.lwm2m+tlv")


def test_json_payloads() -> None:
    encoded = base64.b64encode(b'{"a": [1, 2.5, null]}').decode()
    assert decode_payload(encoded, "application/json") == {"a": [1, 2.5, None]}
    for bad in (b"{", b"NaN", b"\xff", b'{"a": Infinity}'):
        with pytest.raises(PayloadDecodeError):
            decode_payload(bad, "application/json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NTc=", b"57"),
        ("NTc", b"57"),  # missing padding is tolerated
        ("NQ", b"5"),
        ("NQ==", b"5"),
        ("", b""),
    ],
)
def test_base64_accepts(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected
    assert decode_payload(text, "application/octet-stream") == expected


@pytest.mark.parametrize(
    "text", ["N", "NTc==", "NT=c", "NTc=\n", " NTc=", "NT c=", "é", "NTc-", "===="]
)
def test_base64_rejects(text: str) -> None:
    with pytest.raises(PayloadDecodeError, match="base64"):
        decode_payload(text, "text/plain")


def test_the_format_modules_load_on_first_use() -> None:
    import mds.payload

    assert {"TlvPayload", "SenmlRecord", "encode_tlv_int"} <= set(dir(mds.payload))
    assert mds.payload.TlvPayload is TlvPayload
    with pytest.raises(AttributeError, match="no attribute 'TlvPayloads'"):
        mds.payload.TlvPayloads  # type: ignore[attr-defined]  # noqa: B018 - the read is the test


def test_bytes_are_taken_as_raw_payload() -> None:
    assert decode_payload(b"NTc=", "text/plain") == "NTc="
    assert decode_payload(bytearray(b"57"), "text/plain") == 57  # type: ignore[arg-type]
    with pytest.raises(PayloadDecodeError):
        decode_payload(57, "text/plain")  # type: ignore[arg-type]
