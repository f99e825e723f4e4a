"""AsyncIDResponse: a device's answer to an earlier asynchronous request."""

from __future__ import annotations

from mds.models._base import Field, Model, to_int
from mds.models.notification_data import PayloadMixin


class AsyncIDResponse(PayloadMixin, Model):
    """An answer to an async request: ``id``, ``status`` (200 ok; 4xx/5xx device-side errors),
    ``error`` (e.g. ``TIMEOUT``), ``ct``, ``max_age`` (JSON ``max-age``) and ``payload`` (base64)."""

    __slots__ = ()
    id = Field("id", "str", doc="The async request id.")
    status = Field("status", "int", convert=to_int, doc="Device-side status.")
    error = Field("error", "str", doc="Error text, e.g. TIMEOUT.")
    ct = Field("ct", "str", doc="Content type of the payload.")
    max_age = Field("max-age", "int", convert=to_int, doc="Seconds the value stays valid.")
    payload = Field("payload", "str", doc="Base64 encoded payload.")

    def __init__(
        self,
        id: str | None = None,  # noqa: A002 - the wire's own name
        status: int | None = None,
        error: str | None = None,
        ct: str | None = None,
        max_age: int | str | None = None,
        payload: str | None = None,
    ) -> None:
        self._init_fields(
            {"id": id, "status": status, "error": error, "ct": ct, "max_age": max_age,
             "payload": payload}
        )
