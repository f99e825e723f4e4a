"""WebsocketChannel: the state of the key's websocket channel."""

from __future__ import annotations

from typing import Any

from mds.models._base import Model, field, to_int


class WebsocketChannel(Model):
    """The websocket channel as the service reports it.

    ``queue_size`` is read from ``queueSize`` (2019) or ``queue_size`` (2020); -1 means the
    service could not tell. ``status`` is ``"connected"``, ``"disconnected"`` or ``"unknown"``
    (any other value the service may add is kept as sent). ``channel_id`` is only sent by 2019.
    """

    channel_id: str | None = field("channelId", "str")  # unique channel id (2019 service only)
    queue_size: int | None = field(  # events waiting; -1 = unknown
        "queueSize", "int", convert=to_int, aliases=("queue_size",)
    )
    status: str | None = field("status", "str")  # connected | disconnected | unknown
    serialization: dict[str, Any] | None = field("serialization", "object")  # 2020 config

    def __init__(
        self,
        channel_id: str | None = None,
        queue_size: int | str | None = None,
        status: str | None = None,
        serialization: dict[str, Any] | None = None,
    ) -> None:
        self._data = {}
        self.channel_id = channel_id
        self.queue_size = queue_size  # type: ignore[assignment]  # a numeric string reads as int
        self.status = status
        self.serialization = serialization
