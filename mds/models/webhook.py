"""Webhook: the callback URL (and headers) the service delivers notifications to, and the
service's rules for it (`check_webhook`)."""

from __future__ import annotations

from typing import Any

from mds.exceptions import ApiTypeError, ApiValueError
from mds.models._base import Model, field
from mds.models._fields import nested, nested_to_dict
from mds.models.serialization_config_data import SerializationConfigData, check_serialization

__all__ = ["WEBHOOK_MAX_LENGTH", "Webhook", "check_webhook"]

#: The service's limit on a webhook's URL plus all header names and values.
WEBHOOK_MAX_LENGTH = 400


class Webhook(Model):
    """A callback registration: ``url`` (required when sending) and optional ``headers``.

    ``headers`` are sent with every delivery, typically a shared secret such as
    ``{"authorization": "<secret>"}``; their values are shown as ``[secure]`` in ``repr()``.
    ``serialization`` is the 2020 service's optional `SerializationConfigData` (a dict is read
    as one).
    """

    url: str | None = field("url", "str")  # where notifications are sent
    headers: dict[str, str] | None = field("headers", "dict(str, str)")  # sent with every delivery
    serialization: SerializationConfigData | None = field(  # 2020 config
        "serialization", "SerializationConfigData", convert=nested(SerializationConfigData)
    )
    _secret_fields = frozenset({"headers"})

    def __init__(
        self,
        url: str | None = None,
        headers: dict[str, str] | None = None,
        serialization: SerializationConfigData | dict[str, Any] | None = None,
    ) -> None:
        self._data = {}
        self.url = url
        self.headers = headers
        if isinstance(serialization, dict):  # read here: to_dict() keeps no copy of the dict
            serialization = SerializationConfigData.from_dict(serialization)
        self.serialization = serialization

    def to_dict(self) -> dict[str, Any]:
        return nested_to_dict(self, super().to_dict(), "serialization")


def check_webhook(webhook: Any) -> Webhook:
    """Check a webhook as the service would, before anything is sent, and return it as a
    `Webhook` (a dict of JSON keys is accepted too).

    Raises `ApiValueError` when it is missing, has no ``url``, a URL that is not http(s), CR or
    LF in the URL or a header, more than `WEBHOOK_MAX_LENGTH` characters of URL plus header
    names and values, or a ``serialization`` that `check_serialization` refuses (such as
    ``max_chunk_size`` outside 100 to 10000); `ApiTypeError` when it, its URL, its headers or its
    serialization have the wrong type.
    """
    if webhook is None:
        raise ApiValueError("Missing the required parameter `webhook` when calling `register_webhook`")
    if isinstance(webhook, dict):
        webhook = Webhook.from_dict(webhook)
    if not isinstance(webhook, Webhook):
        raise ApiTypeError(f"webhook must be a mds.Webhook, got {type(webhook).__name__}")
    url = webhook.url
    if not url:
        raise ApiValueError("Invalid value for `url`, must not be `None`")
    if not isinstance(url, str):
        raise ApiTypeError("Webhook.url must be a string")
    if not url.lower().startswith(("http://", "https://")):
        raise ApiValueError("Webhook.url must be an http:// or https:// URL")
    headers = webhook.headers or {}
    if not isinstance(headers, dict):
        raise ApiTypeError("Webhook.headers must be a dict of strings")
    for text in (url, *headers.keys(), *headers.values()):
        if not isinstance(text, str):
            raise ApiTypeError("Webhook header names and values must be strings")
        if "\r" in text or "\n" in text:
            raise ApiValueError("Webhook URL and header names/values must not contain CR or LF")
    total = len(url) + sum(len(k) + len(v) for k, v in headers.items())
    if total > WEBHOOK_MAX_LENGTH:
        raise ApiValueError(
            f"Webhook URL plus header names and values is {total} characters; "
            f"the service allows at most {WEBHOOK_MAX_LENGTH}"
        )
    check_serialization(webhook.serialization)
    return webhook
