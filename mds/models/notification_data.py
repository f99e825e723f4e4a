"""NotificationData: one resource value change."""

from __future__ import annotations

from typing import Any

from mds.models._base import Field, Model, to_int


class PayloadMixin:
    """``payload_bytes`` and ``value`` for models that carry a base64 ``payload`` and a ``ct``."""

    __slots__ = ()
    payload: Any
    ct: Any

    @property
    def payload_bytes(self) -> bytes:
        """The decoded payload bytes (``b""`` when there is none). Raises `mds.PayloadDecodeError`."""
        if self.payload is None:
            return b""
        from mds.payload import decode_base64

        return decode_base64(self.payload)

    def decode(self) -> Any:
        """The payload decoded by its content type (see `mds.decode_payload`)."""
        from mds.payload import decode_payload

        return decode_payload(self.payload_bytes, self.ct)


class NotificationData(PayloadMixin, Model):
    """A resource value change: ``ep``, ``path``, ``ct``, ``payload`` (base64) and ``max_age``
    (JSON ``max-age``; a number or numeric string on the wire, an int here)."""

    __slots__ = ()
    ep = Field("ep", "str", doc="Device id.")
    path = Field("path", "str", doc="Resource path, e.g. /3303/0/5700.")
    ct = Field("ct", "str", doc="Content type of the payload.")
    payload = Field("payload", "str", doc="Base64 encoded payload.")
    max_age = Field("max-age", "int", convert=to_int, doc="Seconds the value stays valid.")

    def __init__(
        self,
        ep: str | None = None,
        path: str | None = None,
        ct: str | None = None,
        payload: str | None = None,
        max_age: int | str | None = None,
    ) -> None:
        self._init_fields(
            {"ep": ep, "path": path, "ct": ct, "payload": payload, "max_age": max_age}
        )
