"""The 2020 ``serialization`` configuration of webhook and websocket channels; no state, no I/O.

A channel registered with ``{"serialization": {"type": "v2", "max_chunk_size": N, "cfg": {...}}}``
gets at most ``N`` items per delivered NotificationMessage, and the ``cfg`` flags decorate every
item as it is queued: ``uid`` (a message id for duplicate detection), ``timestamp`` (when the
service queued it), ``original-ep`` (the endpoint name the device registered with), and
de-registrations / expired registrations as objects ``{"ep", ...}`` instead of strings.
:func:`parse_serialization` validates the wire form once; :func:`decorate` applies it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mds.emulator._messages import Item

__all__ = [
    "MAX_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "Serialization",
    "SerializationError",
    "decorate",
    "parse_serialization",
]

MIN_CHUNK_SIZE: Final = 100
MAX_CHUNK_SIZE: Final = 10_000
#: The ``cfg`` flags of SerializationConfigObjectV2, in the spec's order.
FLAGS: Final = (
    "deregistrations_as_object",
    "include_uid",
    "include_timestamp",
    "include_original_ep",
)
#: NotificationMessage keys whose items are device ids (strings, unless as objects).
_ID_KINDS: Final = frozenset({"de-registrations", "registrations-expired"})
#: NotificationMessage keys whose items are objects the ``include_*`` flags decorate.
_OBJECT_KINDS: Final = frozenset(
    {"notifications", "registrations", "reg-updates", "async-responses"} | _ID_KINDS
)


class SerializationError(ValueError):
    """A ``serialization`` object the service would refuse: ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Serialization:
    """A channel's validated ``serialization`` (SerializationConfigData, type ``v2``)."""

    max_chunk_size: int = MAX_CHUNK_SIZE
    deregistrations_as_object: bool = False
    include_uid: bool = False
    include_timestamp: bool = False
    include_original_ep: bool = False

    @property
    def decorates(self) -> bool:
        """Whether queued items change at all (any ``cfg`` flag set)."""
        return (
            self.deregistrations_as_object
            or self.include_uid
            or self.include_timestamp
            or self.include_original_ep
        )

    def wire(self) -> dict[str, Any]:
        """The wire form, every field spelled out (what GET answers)."""
        return {
            "type": "v2",
            "max_chunk_size": self.max_chunk_size,
            "cfg": {flag: getattr(self, flag) for flag in FLAGS},
        }


def _flag(value: Any, field: str) -> bool:
    # The spec's own examples send the flags as strings ("true").
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SerializationError(field, f"{field} must be true or false")


def _chunk_size(value: Any) -> int:
    field = "serialization.max_chunk_size"
    # The spec's examples send it as a string ("100"); a bool is not a number here.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise SerializationError(field, f"{field} must be an integer")
    if not MIN_CHUNK_SIZE <= value <= MAX_CHUNK_SIZE:
        raise SerializationError(
            field, f"{field} must be from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE}"
        )
    return value


def parse_serialization(data: Any) -> Serialization:
    """Validate a SerializationConfigData object.

    ``type`` is required and must be ``v2``; ``max_chunk_size`` (100 to 10000, default 10000)
    and the ``cfg`` flags may come as numbers / booleans or as the strings the spec's examples
    use (``"100"``, ``"true"``). Unknown keys are ignored.

    Raises:
        SerializationError: For anything else, naming the field.
    """
    if not isinstance(data, Mapping):
        raise SerializationError("serialization", "serialization must be an object")
    if "type" not in data:
        raise SerializationError("serialization.type", "serialization.type is required")
    if data["type"] != "v2":
        raise SerializationError("serialization.type", 'serialization.type must be "v2"')
    chunk = MAX_CHUNK_SIZE
    if data.get("max_chunk_size") is not None:
        chunk = _chunk_size(data["max_chunk_size"])
    cfg = data.get("cfg")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise SerializationError("serialization.cfg", "serialization.cfg must be an object")
    flags = {
        flag: _flag(cfg[flag], f"serialization.cfg.{flag}")
        for flag in FLAGS
        if cfg.get(flag) is not None
    }
    return Serialization(max_chunk_size=chunk, **flags)


def decorate(
    items: list[Item],
    config: Serialization,
    timestamp: Callable[[], str],
    original_ep: Mapping[str, str],
) -> list[Item]:
    """Items as a channel with ``config`` queues them (copies; ``items`` is not changed).

    Args:
        items: Queue items of one injection.
        config: The channel's serialization.
        timestamp: Returns the time to stamp (called once).
        original_ep: The endpoint name each known device registered with, by device id; a
            device not in it is taken to have registered under its id.
    """
    stamp = timestamp() if config.include_timestamp else None
    decorated: list[Item] = []
    for key, value, listed in items:
        if key in _ID_KINDS and isinstance(value, str):
            if not config.deregistrations_as_object:
                decorated.append((key, value, listed))
                continue
            value = {"ep": value}
        if key not in _OBJECT_KINDS or not isinstance(value, dict):
            decorated.append((key, value, listed))
            continue
        value = dict(value)
        if config.include_uid:
            value["uid"] = str(uuid.uuid4())
        if stamp is not None:
            value["timestamp"] = stamp
        if config.include_original_ep and isinstance(value.get("ep"), str):
            value.setdefault("original-ep", original_ep.get(value["ep"], value["ep"]))
        decorated.append((key, value, listed))
    return decorated
