"""WebsocketChannel: the state of the key's websocket channel."""

from __future__ import annotations

from typing import Any

from mds.models._base import Model, field, to_int
from mds.models._fields import nested, nested_to_dict
from mds.models.serialization_config_data import SerializationConfigData


class WebsocketChannel(Model):
    """The websocket channel as the service reports it.

    ``queue_size`` is read from ``queueSize`` (2019) or ``queue_size`` (2020); -1 means the
    service could not tell. ``status`` is ``"connected"``, ``"disconnected"`` or ``"unknown"``
    (any other value the service may add is kept as sent). ``channel_id`` is only sent by 2019.
    ``serialization`` is the channel's 2020 `SerializationConfigData`, when it has one.
    """

    channel_id: str | None = field("channelId", "str")  # unique channel id (2019 service only)
    queue_size: int | None = field(  # events waiting; -1 = unknown
        "queueSize", "int", convert=to_int, aliases=("queue_size",)
    )
    status: str | None = field("status", "str")  # connected | disconnected | unknown
    serialization: SerializationConfigData | None = field(  # 2020 config
        "serialization", "SerializationConfigData", convert=nested(SerializationConfigData)
    )

    def __init__(
        self,
        channel_id: str | None = None,
        queue_size: int | str | None = None,
        status: str | None = None,
        serialization: SerializationConfigData | dict[str, Any] | None = None,
    ) -> None:
        self._data = {}
        self.channel_id = channel_id
        self.queue_size = queue_size  # type: ignore[assignment]  # a numeric string reads as int
        self.status = status
        if isinstance(serialization, dict):  # read here: to_dict() keeps no copy of the dict
            serialization = SerializationConfigData.from_dict(serialization)
        self.serialization = serialization

    def to_dict(self) -> dict[str, Any]:
        return nested_to_dict(self, super().to_dict(), "serialization")
