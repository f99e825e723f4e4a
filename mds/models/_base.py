"""The one implementation behind every model: one field table per class, one slot per field.

A model declares its fields in its class body, dataclass-style::

    class NotificationData(Model):
        ep: str | None = field("ep", "str")
        max_age: int | None = field("max-age", "int", convert=to_int)

`ModelType` (the models' metaclass) turns that table into real ``__slots__``. From the same
table, the first time a class reads the wire, `_compile` generates the code that builds its
instances from wire dicts: one dict lookup and one slot store per field, with conversions
(``max-age`` sent as ``"60"`` reads as ``60``) and aliases (``queueSize`` / ``queue_size``)
applied once, at that moment. Reading an attribute afterwards is a plain slot read, as fast as
reading the key from the dict. The code is generated with ``exec`` for the reason
``dataclasses`` and ``attrs`` generate ``__init__`` that way: a loop over the table with
``setattr`` costs twice as much per item, and deserialising a batch of notifications is the
SDK's hot path.

Fields that convert, have aliases or hold lists are properties over a private slot (``_max_age``)
whose setter applies the same rules as deserialisation (lists are never None); their getter is
C code (`operator.attrgetter`), not a Python function.

Each instance keeps the wire dict it was built from (``_data``, empty for one built by its
constructor). Its keys this version of the SDK does not know survive ``to_dict()``, and a value
given in another spelling than the one read (``"60"`` for ``max-age``, the key ``queue_size``)
goes back to the wire as it came.

Deserialisation checks structure (lists are lists) and leaves scalar types alone: one item with
an odd value never costs the rest of its batch; the event layer reports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

from mds.exceptions import ModelError

__all__ = ["Field", "Model", "ModelType", "field", "fits", "parse_object", "to_int"]

M = TypeVar("M", bound="Model")

#: Python types of the wire type names, for fields that convert: a value that already has the
#: type is stored as it is, without a call.
_PYTHON_TYPES: dict[str, type] = {"int": int, "str": str, "bool": bool}


class Field:
    """One attribute of a model: python name, JSON key, type name, and how to read it.

    ``model`` is the model class of the items of a list field (nested models are only ever
    lists in this API); ``convert`` turns a wire value into the attribute's value; ``aliases``
    are other JSON keys the service has used for it.
    """

    __slots__ = ("aliases", "convert", "is_list", "key", "model", "name", "slot", "type_name")

    def __init__(
        self,
        key: str,
        type_name: str,
        *,
        model: type[Model] | None = None,
        is_list: bool = False,
        convert: Callable[[Any], Any] | None = None,
        aliases: tuple[str, ...] = (),
    ) -> None:
        self.name = ""  # the attribute it is assigned to, set by ModelType
        self.slot = ""  # where the value is stored: the name itself, or "_" + name
        self.key = key
        self.type_name = type_name
        self.model = model
        self.is_list = is_list
        self.convert = convert
        self.aliases = aliases

    @property
    def managed(self) -> bool:
        """Whether setting the attribute does more than store the value (see the module doc)."""
        return self.is_list or self.convert is not None or bool(self.aliases)

    def read(self, value: Any) -> Any:
        """The attribute value of a wire (or given) value of this field."""
        if value is None:
            return [] if self.is_list else None
        if self.convert is not None and type(value) is not _PYTHON_TYPES.get(self.type_name):
            return self.convert(value)
        return value


def field(
    key: str,
    type_name: str,
    *,
    model: type[Model] | None = None,
    is_list: bool = False,
    convert: Callable[[Any], Any] | None = None,
    aliases: tuple[str, ...] = (),
) -> Any:
    """Declare a model field in a class body (typed ``Any`` so that the annotation rules)."""
    return Field(key, type_name, model=model, is_list=is_list, convert=convert, aliases=aliases)


class ModelType(type):
    """The metaclass of models: turns the field table of a class body into slots, properties
    and generated wire readers (see the module docstring)."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ModelType:
        own = {attr: value for attr, value in namespace.items() if isinstance(value, Field)}
        if own:
            namespace = {k: v for k, v in namespace.items() if k not in own}
            slots = namespace.get("__slots__", ())
            slots = (slots,) if isinstance(slots, str) else tuple(slots)
            for attr, f in own.items():
                f.name = attr
                f.slot = "_" + attr if f.managed else attr
            namespace["__slots__"] = slots + tuple(f.slot for f in own.values())
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        for f in own.values():
            if f.managed:
                setattr(cls, f.name, property(attrgetter(f.slot), _setter(f)))
        inherited: tuple[Field, ...] = getattr(cls, "_fields", ())
        fields = inherited + tuple(own.values())
        cls._fields = fields  # type: ignore[attr-defined]
        cls._by_key = {key: f for f in fields for key in (f.key, *f.aliases)}  # type: ignore[attr-defined]
        cls._lists = tuple(f for f in fields if f.is_list)  # type: ignore[attr-defined]
        cls._spelled = tuple(  # type: ignore[attr-defined]
            f for f in fields if f.convert is not None or f.aliases)
        cls.swagger_types = {f.name: f.type_name for f in fields}  # type: ignore[attr-defined]
        cls.attribute_map = {f.name: f.key for f in fields}  # type: ignore[attr-defined]
        return cls


#: (wrap, wrap_list) of a model class, as `_compile` generates them.
_Readers = tuple[Callable[[dict[str, Any]], Any], Callable[[list[Any]], list[Any]]]


def _readers(cls: type[Model]) -> _Readers:
    """The generated wire readers of *cls*, compiled on first use, so that ``import mds`` does
    not pay for compiling the readers of every model. (Compiling twice in a race is harmless:
    the two are the same.)"""
    readers: _Readers | None = cls.__dict__.get("_generated_readers")
    if readers is None:
        readers = _compile(cls, cls._fields)
        cls._generated_readers = readers  # type: ignore[attr-defined]
    return readers


def _setter(f: Field) -> Callable[[Any, Any], None]:
    slot, key, keys, read = f.slot, f.key, (f.key, *f.aliases), f.read

    def set_value(self: Model, value: Any) -> None:
        stored = read(value)
        setattr(self, slot, stored)
        data = self._data
        for spelling in keys:  # the wire's spelling of the old value no longer applies
            data.pop(spelling, None)
        if value is not None and stored is not value:
            data[key] = value  # given in another form than read: keep it for to_dict()

    return set_value


def _compile(cls: type, fields: tuple[Field, ...]) -> _Readers:
    """Generate ``wrap(dict) -> model`` and ``wrap_list(list) -> list`` for *cls*.

    Each reads every field of the wire dict ``d`` into its slot, or, for a field that converts,
    has aliases or is a list, into a local ``v<i>`` that is processed, then stored. When ``d``
    has as many keys as the model has fields (an item as the service sends it), the values are
    read by subscript, which costs half a ``d.get`` call, falling back to ``d.get`` if a key is
    missing after all. (``d.get(...)`` each time rather than ``get = d.get`` once: a bound
    method per item is one more object for the cyclic collector to count, and batches are
    large.)
    """
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "not_a_list": _not_a_list}
    # Plain fields go straight to their slot; the others through a local, processed below.
    targets = [f"o.{f.slot}" if not f.managed else f"v{i}" for i, f in enumerate(fields)]
    subscripts = [f"{t} = d[{f.key!r}]" for t, f in zip(targets, fields, strict=True)]
    gets = [f"{t} = d.get({f.key!r})" for t, f in zip(targets, fields, strict=True)]
    body = ["o._data = d"]
    if fields:
        body += [f"if len(d) == {len(fields)}:", "    try:"]
        body += ["        " + line for line in subscripts]
        body += ["    except KeyError:"]
        body += ["        " + line for line in gets]
        body += ["else:"]
        body += ["    " + line for line in gets]
    for i, f in enumerate(fields):
        if not f.managed:
            continue
        v = f"v{i}"
        for alias in f.aliases:
            body += [f"if {v} is None:", f"    {v} = d.get({alias!r})"]
        if f.is_list:
            body += [f"if {v} is None:", f"    {v} = []"]
            if f.model is not None:
                env[f"wrap_list_{i}"] = _readers(f.model)[1]
                body += [f"elif type({v}) is list:", f"    {v} = wrap_list_{i}({v})", "else:"]
            else:
                body += [f"elif type({v}) is not list:"]
            body.append(f"    raise not_a_list(cls, {f.name!r}, {v})")
        elif f.convert is not None:
            env[f"convert_{i}"] = f.convert
            env[f"type_{i}"] = _PYTHON_TYPES.get(f.type_name, object)
            body += [f"if {v} is not None and type({v}) is not type_{i}:",
                     f"    {v} = convert_{i}({v})"]
        body.append(f"o.{f.slot} = {v}")
    one = "\n    ".join(body)
    each = "\n            ".join(body)
    source = (
        f"def wrap(d):\n"
        f"    o = new(cls)\n"
        f"    {one}\n"
        f"    return o\n"
        f"def wrap_list(items):\n"
        f"    out = []\n"
        f"    append = out.append\n"
        f"    for d in items:\n"
        f"        if type(d) is dict:\n"
        f"            o = new(cls)\n"
        f"            {each}\n"
        f"            append(o)\n"
        f"        else:\n"  # not an object: kept as it is, for the event layer to report
        f"            append(d)\n"
        f"    return out\n"
    )
    # Generated from the field table only (names and keys as literals), as dataclasses does.
    exec(compile(source, f"<mds model {cls.__qualname__}>", "exec"), env)
    return env["wrap"], env["wrap_list"]


def _not_a_list(cls: type, name: str, value: Any) -> ModelError:
    return ModelError(f"{cls.__name__}.{name}: expected a JSON array, got {type(value).__name__}")


class Model(metaclass=ModelType):
    """Shared base of every `mds` model: serialisation, equality and repr, written once."""

    __slots__ = ("_data",)

    #: python attribute -> type name, as generated clients have it
    swagger_types: ClassVar[dict[str, str]]
    #: python attribute -> JSON key, as generated clients have it
    attribute_map: ClassVar[dict[str, str]]
    #: attributes whose values are shown as [secure] in repr/to_str
    _secret_fields: ClassVar[frozenset[str]] = frozenset()
    _fields: ClassVar[tuple[Field, ...]]
    _by_key: ClassVar[dict[str, Field]]
    _lists: ClassVar[tuple[Field, ...]]
    _spelled: ClassVar[tuple[Field, ...]]

    _data: dict[str, Any]

    # -- construction from the wire ---------------------------------------------------------
    @classmethod
    def from_wire(cls: type[M], data: dict[str, Any]) -> M:
        """Build a model from a wire dict (JSON keys, as ``json.loads`` gives it), adopting it:
        *data* is not copied and belongs to the model afterwards (the SDK's fast path; use
        `from_dict` for a dict you keep using).

        Raises `ModelError` if *data* is not a dict or a list field of it is not a list.
        """
        if type(data) is not dict:
            raise ModelError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        return _readers(cls)[0](data)  # type: ignore[no-any-return]

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
        return _readers(cls)[0](copied)  # type: ignore[no-any-return]

    # -- back to the wire -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object (JSON keys), as a new dict. None values and empty lists are left
        out; keys this SDK does not know are kept, in the order the wire had them, and values
        go back in the spelling they came in (see the module docstring)."""
        values = {f: getattr(self, f.slot) for f in self._fields}
        out: dict[str, Any] = {}
        data = self._data
        if data:
            spelled = self._spellings()
            known = self._by_key
            for key, raw in data.items():  # the wire's order first
                f = known.get(key)
                if f is None:
                    if raw is not None and not (type(raw) is list and not raw):
                        out[key] = _to_wire(raw)
                    continue
                if f not in values:
                    continue
                spelling = spelled.get(f)
                if spelling is None:
                    value = _to_wire(values.pop(f))
                elif spelling[0] == key:
                    value = spelling[1]
                    del values[f]
                else:
                    continue  # another spelling of the same attribute: the one read wins
                if value is not None and not (type(value) is list and not value):
                    out[key] = value
        for f, value in values.items():
            if value is not None and not (type(value) is list and not value):
                out[f.key] = _to_wire(value)
        return out

    def _spellings(self) -> dict[Field, tuple[str, Any]]:
        """For each attribute that converts or has aliases: the JSON key and the value it came
        in as, when there is one (kept in step with the attribute by its setter)."""
        out = {}
        data = self._data
        for f in self._spelled:
            for key in (f.key, *f.aliases):
                raw = data.get(key)
                if raw is not None:
                    out[f] = (key, raw)
                    break
        return out

    def _unknown(self) -> dict[str, Any]:
        """The wire keys this SDK does not know, with their (non-empty) values."""
        known = self._by_key
        return {
            key: _to_wire(value) for key, value in self._data.items()
            if key not in known and value is not None and not (type(value) is list and not value)
        }

    def to_str(self) -> str:
        """A readable multi-line form (secrets shown as ``[secure]``)."""
        import pprint  # not at module level: it imports dataclasses, and `import mds` stays lean

        return pprint.pformat(self._display())

    def _display(self) -> dict[str, Any]:
        shown = self.to_dict()
        for name in self._secret_fields:
            key = self.attribute_map[name]
            if key in shown:
                shown[key] = _masked(shown[key])
        return shown

    def __repr__(self) -> str:
        parts = []
        for f in self._fields:
            value = getattr(self, f.slot)
            if value is None or (type(value) is list and not value):
                continue
            if f.name in self._secret_fields:
                value = _masked(_to_wire(value))
            parts.append(f"{f.name}={value!r}")
        parts.extend(f"{key!r}: {value!r}" for key, value in self._unknown().items())
        return f"{type(self).__name__}({', '.join(parts)})"

    def _comparable(self) -> dict[str, Any]:
        # Attribute values (so "60" and 60, queueSize and queue_size compare equal) plus any
        # keys this version of the SDK does not know.
        out = self._unknown()
        for f in self._fields:
            value = getattr(self, f.slot)
            if value is not None and value != []:
                out[f.name] = value
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model) or type(other) is not type(self):
            return NotImplemented
        return self._comparable() == other._comparable()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable, like generated models

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for f in self._fields:
            yield f.name, getattr(self, f.name)


def fits(model: type[Model], data: dict[str, Any]) -> bool:
    """Whether ``model.from_wire(data)`` would succeed, without building anything: for
    consumers that read the wire dict directly (the same structural checks, recursively)."""
    for f in model._lists:
        value = data.get(f.key)
        if value is None:
            continue
        if type(value) is not list:
            return False
        sub = f.model
        if sub is not None and sub._lists:
            for item in value:
                if type(item) is dict and not fits(sub, item):
                    return False
    return True


def parse_object(raw: str | bytes | bytearray, what: str) -> dict[str, Any]:
    """The JSON object in *raw* (text or bytes); `ModelError` if *raw* is not JSON, or not a
    JSON object (*what* names the object expected, for the message)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"not valid JSON ({exc})") from None
    except RecursionError:  # arrays or objects nested deeper than the parser goes
        raise ModelError("not valid JSON (nested too deeply)") from None
    if type(doc) is not dict:
        raise ModelError(f"expected a JSON object (a {what}), got {type(doc).__name__}")
    return doc


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[secure]" for k in value}
    return "[secure]"


_SCALARS = frozenset({str, int, float, bool})


def _to_wire(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Model):
        return value.to_dict()
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
    if isinstance(value, str):
        text = value.strip()
        # The wire's numbers are ASCII: int() and float() also read other scripts' digits and
        # underscores, and str.isdigit() is true for "²", which int() refuses.
        if not text.isascii() or "_" in text:
            return value
        if text.lstrip("-").isdigit():
            try:
                return int(text)
            except ValueError:  # "--5", or more digits than int() reads
                return value
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
