"""AsyncID: the id the service gives a request whose answer comes later, on the channel."""

from __future__ import annotations

from mds.models._base import Model, field


class AsyncID(Model):
    """``async_response_id`` (JSON ``async-response-id``): the ``id`` of the `AsyncIDResponse`
    that will answer the request through the notification channel."""

    async_response_id: str | None = field("async-response-id", "str")  # the answer's id

    def __init__(self, async_response_id: str | None = None) -> None:
        self._data = {}
        self.async_response_id = async_response_id
