"""Channel management: which notification channel an API key has, and deleting one in the way.

An API key has at most one channel: a webhook (``"webhook"``), a websocket (``"websocket"``) or a
long poll (``"long-poll"``). Registering one while another type exists fails with 400 "other type
of channel already exists"; `existing_channel` names the one in the way, `delete_channel`
removes it, and `channel_conflict` turns the service's refusal into a `mds.ChannelConflictError`
that names it. `mds.NotificationListener` uses all three for ``replace_existing``.
"""

from __future__ import annotations

from collections.abc import Callable

from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient
from mds.exceptions import ApiException, ChannelConflictError, NotFoundException

__all__ = [
    "LONG_POLL",
    "WEBHOOK",
    "WEBSOCKET",
    "channel_conflict",
    "delete_channel",
    "existing_channel",
]

#: Channel names, as `mds.ChannelConflictError.channel` uses them.
WEBSOCKET = "websocket"
LONG_POLL = "long-poll"
WEBHOOK = "webhook"

# ``delivery_mechanism`` of GET /v2/notification/channel → channel name
_MECHANISMS = {"CALLBACK": WEBHOOK, "LONG_POLLING": LONG_POLL, "WEB_SOCKET": WEBSOCKET}


def existing_channel(api_client: ApiClient) -> str | None:
    """The notification channel the API key of *api_client* has: ``"webhook"``,
    ``"websocket"``, ``"long-poll"`` or None (none, or a long poll on a service too old to say).

    Asks ``GET /v2/notification/channel`` (2020 services), then falls back to probing
    ``get_webhook()`` and ``get_websocket()``. Raises `mds.ApiException` subclasses for
    failures other than 404.
    """
    try:
        answer = api_client.call_api(
            "/v2/notification/channel", "GET", response_type="object",
            _return_http_data_only=True,
        )
    except NotFoundException:
        answer = None
    if isinstance(answer, dict):
        name = _MECHANISMS.get(str(answer.get("delivery_mechanism", "")).upper())
        if name is not None:
            return name
    api = NotificationsApi(api_client)
    try:
        api.get_webhook()
        return WEBHOOK
    except NotFoundException:
        pass
    try:
        api.get_websocket()
        return WEBSOCKET
    except NotFoundException:
        pass
    return None


def delete_channel(api: NotificationsApi, channel: str) -> bool:
    """Delete the *channel* (``"webhook"``, ``"websocket"`` or ``"long-poll"``) of *api*'s key,
    and with it whatever is queued on it. Returns True, or False when it was already gone (404).

    Raises `ValueError` for another name, and `mds.ApiException` subclasses for failures.
    """
    deleters: dict[str, Callable[[], object]] = {
        WEBHOOK: api.deregister_webhook,
        WEBSOCKET: api.delete_websocket,
        LONG_POLL: api.delete_long_poll_channel,
    }
    delete = deleters.get(channel)
    if delete is None:
        raise ValueError(f"no such channel: {channel!r}")
    try:
        delete()
    except NotFoundException:
        return False
    return True


def channel_conflict(
    refusal: ApiException | None, channel: str, reason: str | None = None
) -> ChannelConflictError:
    """The `mds.ChannelConflictError` naming *channel* as the one in the way, carrying the status,
    reason, body and headers of the service's *refusal* (a 400 or a 409) when there is one, else
    status 400. *reason* replaces the refusal's reason."""
    if refusal is None:
        return ChannelConflictError(
            400, reason or "other type of channel already exists", channel=channel)
    return ChannelConflictError(
        refusal.status, reason or refusal.reason or "other type of channel already exists",
        refusal.body, refusal.headers, channel=channel,
    )
