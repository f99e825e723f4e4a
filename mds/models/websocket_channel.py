"""WebsocketChannel: the state of the key's websocket channel."""

from __future__ import annotations

from typing import Any

from mds.models._base import Field, Model, to_int


class WebsocketChannel(Model):
    """The websocket channel as the service reports it.

    ``queue_size`` is read from ``queueSize`` (2019) or ``queue_size`` (2020); -1 means the
    service could not tell. ``status`` is ``"connected"``, ``"disconnected"`` or ``"unknown"``
    (any other value the service may add is kept as sent). ``channel_id`` is only sent by 2019.
    """

    __slots__ = ()
    channel_id = Field("channelId", "str", doc="Unique channel id (2019 service only).")
    queue_size = Field("queueSize", "int", convert=to_int, aliases=("queue_size",),
                       doc="Events waiting; -1 = unknown.")
    status = Field("status", "str", doc="connected | disconnected | unknown.")
    serialization = Field("serialization", "object", doc="2020 serialisation config (dict).")

    def __init__(
        self,
        channel_id: str | None = None,
        queue_size: int | None = None,
        status: str | None = None,
        serialization: dict[str, Any] | None = None,
    ) -> None:
        self._init_fields(
            {"channel_id": channel_id, "queue_size": queue_size, "status": status,
             "serialization": serialization}
        )
