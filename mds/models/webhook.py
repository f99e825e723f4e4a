"""Webhook: the callback URL (and headers) the service delivers notifications to."""

from __future__ import annotations

from typing import Any

from mds.models._base import Field, Model


class Webhook(Model):
    """A callback registration: ``url`` (required when sending) and optional ``headers``.

    ``headers`` are sent with every delivery, typically a shared secret such as
    ``{"authorization": "<secret>"}``; their values are shown as ``[secure]`` in ``repr()``.
    ``serialization`` is the 2020 service's optional serialisation config (a plain dict).
    """

    __slots__ = ()
    url = Field("url", "str", required=True, doc="The URL to which notifications are sent.")
    headers = Field("headers", "dict(str, str)", doc="Headers sent with every delivery.")
    serialization = Field("serialization", "object", doc="2020 serialisation config (dict).")
    _secret_fields = frozenset({"headers"})

    def __init__(
        self,
        url: str | None = None,
        headers: dict[str, str] | None = None,
        serialization: dict[str, Any] | None = None,
    ) -> None:
        self._init_fields({"url": url, "headers": headers, "serialization": serialization})
