"""The one implementation behind every model: fields from a table, storage in the wire dict.

A model instance keeps the wire JSON object it stands for (``_data``, keyed by the JSON keys).
Attributes are descriptors that read and write that dict, so deserialising a batch costs one
``json.loads`` plus one small object per item, unknown keys survive a round trip, and ``to_dict()``
gives back the wire form.

Deserialisation checks structure eagerly (objects are objects, lists are lists) and scalar types
lazily, when read: one item with an odd value never costs the rest of its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from mds.exceptions import ModelError

M = TypeVar("M", bound="Model")

_MISSING: Any = object()


class Field:
    """One attribute of a model: python name, JSON key, type, and how to read it."""

    __slots__ = ("name", "key", "type_name", "required", "model", "convert", "is_list", "doc",
                 "aliases")

    def __init__(
        self,
        key: str,
        type_name: str,
        *,
        required: bool = False,
        model: str | None = None,
        is_list: bool = False,
        convert: Callable[[Any], Any] | None = None,
        aliases: tuple[str, ...] = (),
        doc: str = "",
    ) -> None:
        self.name = ""  # set by __set_name__
        self.key = key
        self.type_name = type_name
        self.required = required
        self.model = model
        self.is_list = is_list
        self.convert = convert
        self.aliases = aliases  # other JSON keys the service has used for this attribute
        self.doc = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Model | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj._data.get(self.key)
        if value is None and self.aliases:
            for alias in self.aliases:
                value = obj._data.get(alias)
                if value is not None:
                    break
        if self.is_list:
            if value is None:
                value = obj._data[self.key] = []
            return value
        if self.convert is not None and value is not None:
            return self.convert(value)
        return value

    def __set__(self, obj: Model, value: Any) -> None:
        for alias in self.aliases:
            obj._data.pop(alias, None)
        if value is None:
            obj._data.pop(self.key, None)
        else:
            obj._data[self.key] = value


class Model:
    """Shared base of every `mds` model: serialisation, equality and repr, written once."""

    __slots__ = ("_data",)

    #: python attribute -> type name, as generated clients have it
    swagger_types: ClassVar[dict[str, str]] = {}
    #: python attribute -> JSON key, as generated clients have it
    attribute_map: ClassVar[dict[str, str]] = {}
    _fields: ClassVar[tuple[Field, ...]] = ()
    _by_key: ClassVar[dict[str, Field]] = {}
    _nested: ClassVar[tuple[Field, ...]] = ()
    _plain_lists: ClassVar[tuple[Field, ...]] = ()
    #: attributes whose values are shown as [secure] in repr/to_str
    _secret_fields: ClassVar[frozenset[str]] = frozenset()
    _registry: ClassVar[dict[str, type[Model]]] = {}

    _data: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = tuple(v for v in vars(cls).values() if isinstance(v, Field))
        cls._fields = fields
        cls._by_key = {key: f for f in fields for key in (f.key, *f.aliases)}
        cls._nested = tuple(f for f in fields if f.model is not None)
        cls._plain_lists = tuple(f for f in fields if f.is_list and f.model is None)
        cls.swagger_types = {f.name: f.type_name for f in fields}
        cls.attribute_map = {f.name: f.key for f in fields}
        Model._registry[cls.__name__] = cls

    def _init_fields(self, values: Mapping[str, Any]) -> None:
        self._data = {}
        for f in self._fields:
            value = values.get(f.name)
            if value is not None:
                f.__set__(self, value)

    # -- construction from the wire ---------------------------------------------------------
    @classmethod
    def _wrap(cls: type[M], data: dict[str, Any]) -> M:
        """Adopt a wire dict (no copy); nested objects are wrapped in place."""
        obj = cls.__new__(cls)
        obj._data = data
        for f in cls._plain_lists:
            value = data.get(f.key)
            if value is not None and type(value) is not list:
                raise ModelError(
                    f"{cls.__name__}.{f.name}: expected a JSON array, got {type(value).__name__}"
                )
        for f in cls._nested:
            value = data.get(f.key)
            if value is None:
                continue
            sub = Model._registry[f.model]  # type: ignore[index]
            if f.is_list:
                if type(value) is not list:
                    raise ModelError(
                        f"{cls.__name__}.{f.name}: expected a JSON array, got {type(value).__name__}"
                    )
                data[f.key] = sub._wrap_list(value)
            elif type(value) is dict:
                data[f.key] = sub._wrap(value)
            else:
                raise ModelError(
                    f"{cls.__name__}.{f.name}: expected a JSON object, got {type(value).__name__}"
                )
        return obj

    @classmethod
    def _fits(cls, data: dict[str, Any]) -> bool:
        """Whether ``_wrap(data)`` would succeed (the same structural checks, recursively),
        without wrapping: for consumers that read the wire dict directly."""
        for f in cls._plain_lists:
            value = data.get(f.key)
            if value is not None and type(value) is not list:
                return False
        for f in cls._nested:
            value = data.get(f.key)
            if value is None:
                continue
            sub = Model._registry[f.model]  # type: ignore[index]
            if f.is_list:
                if type(value) is not list:
                    return False
                if sub._nested or sub._plain_lists:
                    for item in value:
                        if type(item) is dict and not sub._fits(item):
                            return False
            elif type(value) is not dict or not sub._fits(value):
                return False
        return True

    @classmethod
    def _wrap_list(cls: type[M], items: list[Any]) -> list[Any]:
        """Wrap the dicts of a wire list (the hot path of deserialising a batch). Items that are
        not objects are kept as they are, for the event layer to report."""
        if cls._nested:
            wrap = cls._wrap
            return [wrap(v) if type(v) is dict else v for v in items]
        new = object.__new__
        out: list[Any] = []
        append = out.append
        for v in items:
            if type(v) is dict:
                obj = new(cls)
                obj._data = v
                append(obj)
            else:
                append(v)
        return out

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Build a model from a dict keyed by JSON keys (or python attribute names).

        The dict is copied; unknown keys are kept. Raises `ModelError` (an `mds.ApiTypeError`) if
        *data* or a nested value has the wrong shape.
        """
        if not isinstance(data, Mapping):
            raise ModelError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        copied: dict[str, Any] = {}
        names = cls.attribute_map
        wire_keys = cls._by_key
        for key, value in data.items():
            if key not in wire_keys:
                key = names.get(key, key)
            copied[key] = _deep_copy(value)
        return cls._wrap(copied)

    # -- back to the wire -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object (JSON keys), as a new dict. None values and empty lists are left out."""
        return _to_wire(self._data)

    def to_str(self) -> str:
        """A readable multi-line form (secrets shown as ``[secure]``)."""
        import pprint  # not at module level: it imports dataclasses, and `import mds` stays lean

        return pprint.pformat(self._display())

    def _display(self) -> dict[str, Any]:
        shown = self.to_dict()
        for name in self._secret_fields:
            key = self.attribute_map[name]
            value = shown.get(key)
            if isinstance(value, dict):
                shown[key] = {k: "[secure]" for k in value}
            elif value is not None:
                shown[key] = "[secure]"
        return shown

    def __repr__(self) -> str:
        shown = self._display()
        parts = []
        for f in self._fields:
            if f.key not in shown:
                continue
            value = shown.pop(f.key)
            if f.name not in self._secret_fields:
                value = getattr(self, f.name)
            parts.append(f"{f.name}={value!r}")
        parts.extend(f"{key!r}: {value!r}" for key, value in shown.items())
        return f"{type(self).__name__}({', '.join(parts)})"

    def _comparable(self) -> dict[str, Any]:
        # Attribute values (so "60" and 60, queueSize and queue_size compare equal) plus any
        # keys this version of the SDK does not know.
        known = self._by_key
        out = {k: v for k, v in _to_wire(self._data).items() if k not in known}
        for f in self._fields:
            value = getattr(self, f.name)
            if value is not None and value != []:
                out[f.name] = value
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._comparable() == other._comparable()  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable, like generated models

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for f in self._fields:
            yield f.name, getattr(self, f.name)

    def _wire(self) -> dict[str, Any]:
        """The underlying wire dict, without a copy (for the SDK's own fast paths)."""
        return self._data


def _to_wire(value: Any) -> Any:
    if isinstance(value, Model):
        return _to_wire(value._data)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None or (type(v) is list and not v):
                continue
            out[k] = _to_wire(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    return value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deep_copy(v) for v in value]
    return value


def to_int(value: Any) -> Any:
    """Numbers sent as numbers or numeric strings (``max-age``, ``queueSize``) read as int.

    Only whole numbers are converted; anything else is returned as sent, for the caller (or the
    event layer, which reports it) to judge.
    """
    if type(value) is int:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
