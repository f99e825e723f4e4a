"""Field readers beyond the shared base's: booleans sent as text, and one model inside another.

`to_bool` reads the service's ``"true"``/``"false"`` (2020 serialization flags, ``obs``).

A nested model (``Webhook.serialization``, ``SerializationConfigData.cfg``): the shared base
reads nested models only as list items, so a single nested object is a field that converts
(`nested`): a dict read from the wire or given by a caller becomes the model. The owning class's
``to_dict`` writes the nested model's current value back (`nested_to_dict`), not the dict it was
read from, which the nested model's setters no longer keep in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mds.models._base import Model

__all__ = ["nested", "nested_to_dict", "to_bool"]


def to_bool(value: Any) -> Any:
    """Booleans sent as ``"true"``/``"false"`` (any case) read as bool; anything else is kept as
    sent, for the caller to judge."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
    return value


def nested(model: type[Model]) -> Callable[[Any], Any]:
    """A field converter: a mapping reads as *model* (copied); a *model* instance, or anything
    else, is kept as given (a value of the wrong shape is the sender's to judge, not fatal)."""

    def read(value: Any) -> Any:
        if isinstance(value, Mapping):
            return model.from_dict(value)
        return value

    return read


def nested_to_dict(owner: Model, out: dict[str, Any], *names: str) -> dict[str, Any]:
    """*out* (``owner``'s wire dict) with the attributes *names* that hold a model written as
    that model's current wire dict."""
    for name in names:
        value = getattr(owner, name)
        if isinstance(value, Model):
            out[owner.attribute_map[name]] = value.to_dict()
    return out
