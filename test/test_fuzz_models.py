"""Fuzzing every model of `mds.models`: ``from_dict`` on any JSON value returns a model or raises
`mds.ModelError` (the one documented error), and the model it returns can be shown, compared
and written back (``to_dict``, ``repr``, ``to_str``) without an exception; a valid dict
round-trips through ``to_dict``.

Models are read from what the service sends: one odd value must never cost more than its own
item, and never an exception other than the documented one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mds
import mds.models
from fuzzing import fuzz, json_values
from mds.models._base import Field, Model
from mds.models.notification_message import parse_message

MODELS: list[type[Model]] = [getattr(mds.models, name) for name in mds.models.__all__]
_BY_NAME = {cls.__name__: cls for cls in MODELS}


def _keys(cls: type[Model]) -> st.SearchStrategy[str]:
    """The model's JSON keys, aliases and python names, or any text."""
    known = [key for f in cls._fields for key in (f.key, *f.aliases, f.name)]
    return st.one_of(st.sampled_from(known), st.text(max_size=10))


def _odd_values() -> st.SearchStrategy[Any]:
    """JSON values, plus the spellings the converters read (numbers and booleans as text)."""
    return st.one_of(
        json_values,
        st.integers().map(str),
        st.floats().map(str),
        st.sampled_from(["true", "FALSE", " true ", "1e5", "-0", "\u00b2", "\u0663", "1_000",
                         "9" * 5000, "1e999", "nan", ""]),
    )


def _shaped(cls: type[Model]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with (mostly) the model's own keys and any values, nested models included."""
    return st.dictionaries(_keys(cls), st.one_of(_odd_values(), st.deferred(lambda: _any_model())),
                           max_size=6)


def _any_model() -> st.SearchStrategy[Any]:
    return st.sampled_from(MODELS).flatmap(
        lambda cls: st.dictionaries(_keys(cls), _odd_values(), max_size=4)
    )


@fuzz(share=0.75)
@given(data=st.data(), cls=st.sampled_from(MODELS))
def test_from_dict_returns_a_model_or_raises_model_error(data: Any, cls: type[Model]) -> None:
    value = data.draw(st.one_of(_shaped(cls), json_values), label="value")
    try:
        model = cls.from_dict(value)
    except mds.ModelError:
        return
    assert isinstance(model, cls)
    wire = model.to_dict()
    json.dumps(wire)  # still JSON
    repr(model)
    model.to_str()
    # None values and empty lists are left out of the wire form (documented), so what
    # to_dict() gives is a fixed point: read again, it is written the same.
    assert cls.from_dict(wire).to_dict() == wire


@pytest.mark.parametrize(
    ("cls", "value"),
    [
        (mds.models.WebsocketChannel, {"queueSize": "\u00b2"}),  # str.isdigit() is true for it
        (mds.models.AsyncIDResponse, {"status": "\u0663"}),  # an Arabic-Indic digit
        (mds.models.NotificationData, {"max-age": "9" * 5000}),  # more than int() reads
        (mds.models.SerializationConfigData, {"max_chunk_size": "-\u00b9"}),
        (mds.models.NotificationData, {"max-age": "--5"}),
        (mds.models.NotificationData, {"max-age": "6_0"}),
    ],
)
def test_numbers_int_cannot_read_are_kept_as_sent(cls: type[Model], value: dict[str, Any]) -> None:
    """Regression (found by fuzzing): text that looks like digits to ``str.isdigit`` but that
    ``int()`` refuses used to raise ValueError from ``from_dict``; it is kept as sent, like any
    other value that is not a whole number, and so is text in digits of other scripts."""
    model = cls.from_dict(value)
    assert model.to_dict() == value
    (key, sent), = value.items()
    assert getattr(model, cls._by_key[key].name) == sent


# -- round trip ---------------------------------------------------------------------------------

def _valid_value(f: Field) -> st.SearchStrategy[Any]:
    text = st.text(max_size=12)
    if f.is_list:
        if f.model is not None:
            return st.lists(_valid(f.model), min_size=1, max_size=3)
        return st.lists(text, min_size=1, max_size=3)
    if f.type_name in _BY_NAME:
        return _valid(_BY_NAME[f.type_name])
    if f.type_name == "int":
        ints = st.integers(-(2**63), 2**63)
        return ints | ints.map(str) if f.convert is not None else ints
    if f.type_name == "bool":
        return st.booleans() | st.sampled_from(["true", "false"]) if f.convert else st.booleans()
    if f.type_name == "dict(str, str)":
        return st.dictionaries(text, text, max_size=3)
    return text


def _valid(cls: type[Model]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={f.key: _valid_value(f) for f in cls._fields}
    ).filter(bool)


@fuzz(share=0.25)
@given(data=st.data(), cls=st.sampled_from(MODELS))
def test_valid_dicts_round_trip_through_to_dict(data: Any, cls: type[Model]) -> None:
    value = data.draw(_valid(cls), label="value")
    model = cls.from_dict(value)
    assert model.to_dict() == value
    assert cls.from_dict(model.to_dict()) == model


def test_json_nested_deeper_than_the_parser_goes_is_a_model_error() -> None:
    """Regression (found by fuzzing `parse_webhook`): a body of 3000 ``[`` raised RecursionError
    out of the one wire parser of webhook bodies, websocket frames and long-poll answers."""
    for raw in (b"[" * 100_000, b'{"a":' * 100_000, "[" * 100_000):
        with pytest.raises(mds.ModelError, match="nested too deeply"):
            parse_message(raw)
