"""NotificationData: one resource value change."""

from __future__ import annotations

from typing import Any

from mds.models._base import Model, field, to_int


class PayloadMixin:
    """``payload_bytes`` and ``decode()`` for models that carry a base64 ``payload`` and a ``ct``."""

    __slots__ = ()
    payload: Any
    ct: Any

    @property
    def payload_bytes(self) -> bytes:
        """The decoded payload bytes (``b""`` when there is none). Raises `mds.PayloadDecodeError`."""
        if self.payload is None:
            return b""
        # Imported here, not at module level: `mds.payload` is only needed once a payload is
        # read, and `import mds` stays as cheap as `import urllib3`.
        from mds.payload import decode_base64

        return decode_base64(self.payload)

    def decode(self) -> Any:
        """The payload decoded by its content type (see `mds.decode_payload`)."""
        from mds.payload import decode_payload

        return decode_payload(self.payload_bytes, self.ct)


class NotificationData(PayloadMixin, Model):
    """A resource value change: ``ep``, ``path``, ``ct``, ``payload`` (base64) and ``max_age``
    (JSON ``max-age``; a number or numeric string on the wire, an int here)."""

    ep: str | None = field("ep", "str")  # device id
    path: str | None = field("path", "str")  # resource path, e.g. /3303/0/5700
    ct: str | None = field("ct", "str")  # content type of the payload
    payload: str | None = field("payload", "str")  # base64 encoded payload
    max_age: int | None = field("max-age", "int", convert=to_int)  # seconds the value is valid

    def __init__(
        self,
        ep: str | None = None,
        path: str | None = None,
        ct: str | None = None,
        payload: str | None = None,
        max_age: int | str | None = None,
    ) -> None:
        self._data = {}
        self.ep = ep
        self.path = path
        self.ct = ct
        self.payload = payload
        self.max_age = max_age  # type: ignore[assignment]  # a numeric string reads as int
