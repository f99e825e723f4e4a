"""SerializationConfigData: a channel's 2020 serialization, and its check before sending."""

from __future__ import annotations

from typing import Any

from mds.exceptions import ApiTypeError, ApiValueError
from mds.models._base import Model, field, to_int
from mds.models._fields import nested, nested_to_dict
from mds.models.serialization_config_object_v2 import SerializationConfigObjectV2

__all__ = [
    "MAX_CHUNK_SIZE_RANGE",
    "SerializationConfigData",
    "check_serialization",
]

#: The service's bounds of ``max_chunk_size`` (items per delivered NotificationMessage).
MAX_CHUNK_SIZE_RANGE = (100, 10_000)


class SerializationConfigData(Model):
    """How the service serialises a channel's messages (webhook or websocket registration).

    ``type`` is ``"v2"`` (the default, and the only type the service defines; another value
    read from the service is kept); ``max_chunk_size`` caps the items of one delivered
    ``NotificationMessage`` (100 to 10000; the service's default is 10000; ``"500"`` reads as
    500); ``cfg`` a `SerializationConfigObjectV2` (a dict is read as one).
    """

    type: str | None = field("type", "str")  # v2
    max_chunk_size: int | None = field("max_chunk_size", "int", convert=to_int)  # 100..10000
    cfg: SerializationConfigObjectV2 | None = field(
        "cfg", "SerializationConfigObjectV2", convert=nested(SerializationConfigObjectV2)
    )

    def __init__(
        self,
        type: str | None = "v2",  # noqa: A002 - the wire's own name
        max_chunk_size: int | str | None = None,
        cfg: SerializationConfigObjectV2 | dict[str, Any] | None = None,
    ) -> None:
        self._data = {}
        self.type = type
        self.max_chunk_size = max_chunk_size  # type: ignore[assignment]  # "500" reads as 500
        if isinstance(cfg, dict):  # read here, so that to_dict() has no copy of the dict to keep
            cfg = SerializationConfigObjectV2.from_dict(cfg)
        self.cfg = cfg

    def to_dict(self) -> dict[str, Any]:
        return nested_to_dict(self, super().to_dict(), "cfg")


def check_serialization(value: Any) -> SerializationConfigData | None:
    """Check a serialization config before sending and return it as a
    `SerializationConfigData` (a dict is accepted too); None stays None.

    Raises `ApiValueError` when ``type`` is missing or ``max_chunk_size`` is outside 100 to
    10000, `ApiTypeError` when the config, ``type``, ``max_chunk_size``, ``cfg`` or one of its
    flags has the wrong type.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        value = SerializationConfigData.from_dict(value)
    if not isinstance(value, SerializationConfigData):
        raise ApiTypeError(
            f"serialization must be a mds.SerializationConfigData or a dict, got {type(value).__name__}"
        )
    if not value.type:
        raise ApiValueError("Invalid value for `type`, must not be `None` (use 'v2')")
    if not isinstance(value.type, str):
        raise ApiTypeError(f"SerializationConfigData.type must be a string, got {type(value.type).__name__}")
    size = value.max_chunk_size
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise ApiTypeError(f"max_chunk_size must be an integer, got {size!r}")
        low, high = MAX_CHUNK_SIZE_RANGE
        if not low <= size <= high:
            raise ApiValueError(
                f"Invalid value for `max_chunk_size`: {size}; it must be {low} to {high}"
            )
    cfg = value.cfg
    if cfg is not None:
        if not isinstance(cfg, SerializationConfigObjectV2):
            raise ApiTypeError(f"cfg must be a mds.SerializationConfigObjectV2 or a dict, got {cfg!r}")
        for name in SerializationConfigObjectV2.attribute_map:
            flag = getattr(cfg, name)
            if flag is not None and not isinstance(flag, bool):
                raise ApiTypeError(f"cfg.{name} must be True or False, got {flag!r}")
    return value
