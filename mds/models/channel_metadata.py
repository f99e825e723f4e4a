"""ChannelMetadata: which kind of notification channel the key has."""

from __future__ import annotations

from mds.models._base import Model, field

__all__ = ["DELIVERY_MECHANISMS", "ChannelMetadata"]

#: The delivery mechanisms the service names (another value it may add is kept as sent).
DELIVERY_MECHANISMS = ("CALLBACK", "LONG_POLLING", "WEB_SOCKET")


class ChannelMetadata(Model):
    """The key's notification channel (``GET /v2/notification/channel``):
    ``delivery_mechanism`` is ``"CALLBACK"`` (a webhook), ``"LONG_POLLING"`` or
    ``"WEB_SOCKET"``."""

    delivery_mechanism: str | None = field("delivery_mechanism", "str")  # CALLBACK | ...

    def __init__(self, delivery_mechanism: str | None = None) -> None:
        self._data = {}
        self.delivery_mechanism = delivery_mechanism
