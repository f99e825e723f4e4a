"""AsyncIDResponse: a device's answer to an earlier asynchronous request."""

from __future__ import annotations

from mds.models._base import Model, field, to_int
from mds.models.notification_data import PayloadMixin


class AsyncIDResponse(PayloadMixin, Model):
    """An answer to an async request: ``id``, ``status`` (200 ok; 4xx/5xx device-side errors),
    ``error`` (e.g. ``TIMEOUT``), ``ct``, ``max_age`` (JSON ``max-age``) and ``payload`` (base64)."""

    id: str | None = field("id", "str")  # the async request id
    status: int | None = field("status", "int", convert=to_int)  # device-side status
    error: str | None = field("error", "str")  # error text, e.g. TIMEOUT
    ct: str | None = field("ct", "str")  # content type of the payload
    max_age: int | None = field("max-age", "int", convert=to_int)  # seconds the value is valid
    payload: str | None = field("payload", "str")  # base64 encoded payload

    def __init__(
        self,
        id: str | None = None,  # noqa: A002 - the wire's own name
        status: int | None = None,
        error: str | None = None,
        ct: str | None = None,
        max_age: int | str | None = None,
        payload: str | None = None,
    ) -> None:
        self._data = {}
        self.id = id
        self.status = status
        self.error = error
        self.ct = ct
        self.max_age = max_age  # type: ignore[assignment]  # a numeric string reads as int
        self.payload = payload
