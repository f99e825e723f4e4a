"""RegisterWebsocketChannel: the body of ``PUT /v2/notification/websocket``."""

from __future__ import annotations

from typing import Any

from mds.models._base import Model, field
from mds.models._fields import nested, nested_to_dict
from mds.models.serialization_config_data import SerializationConfigData

__all__ = ["RegisterWebsocketChannel"]


class RegisterWebsocketChannel(Model):
    """A websocket channel registration: its ``serialization`` (a `SerializationConfigData`;
    a dict is read as one), sent by ``NotificationsApi.register_websocket(serialization=...)``."""

    serialization: SerializationConfigData | None = field(
        "serialization", "SerializationConfigData", convert=nested(SerializationConfigData)
    )

    def __init__(self, serialization: SerializationConfigData | dict[str, Any] | None = None) -> None:
        self._data = {}
        if isinstance(serialization, dict):  # read here: to_dict() keeps no copy of the dict
            serialization = SerializationConfigData.from_dict(serialization)
        self.serialization = serialization

    def to_dict(self) -> dict[str, Any]:
        return nested_to_dict(self, super().to_dict(), "serialization")
