"""NotificationsApi: the ten endpoints of the Notifications API, one method (and one
``*_with_http_info``) each. Each is a declarative `Operation` handed to `ApiClient.call_operation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from mds._types import UNSET, TimeoutArg
from mds.api._common import is_async
from mds.api_client import ApiClient, Operation
from mds.exceptions import ApiValueError
from mds.models import (
    ChannelMetadata,
    NotificationMessage,
    RegisterWebsocketChannel,
    SerializationConfigData,
    Webhook,
    WebsocketChannel,
)
from mds.models.serialization_config_data import check_serialization
from mds.models.webhook import WEBHOOK_MAX_LENGTH as WEBHOOK_MAX_LENGTH  # re-exported, as before
from mds.models.webhook import check_webhook as check_webhook  # re-exported, as before

if TYPE_CHECKING:
    from mds.websocket import WebsocketConnection

REGISTER_WEBHOOK = Operation(
    "register_webhook", "PUT", "/v2/notification/callback", {204: None, 200: None},
    body_type=Webhook, content_type="application/json",
)
GET_WEBHOOK = Operation(
    "get_webhook", "GET", "/v2/notification/callback", {200: Webhook}, accept="application/json"
)
DEREGISTER_WEBHOOK = Operation("deregister_webhook", "DELETE", "/v2/notification/callback", {204: None})
LONG_POLL_NOTIFICATIONS = Operation(
    "long_poll_notifications", "GET", "/v2/notification/pull",
    {200: NotificationMessage, 204: NotificationMessage}, accept="application/json",
    long_poll=True,
)
DELETE_LONG_POLL_CHANNEL = Operation(
    "delete_long_poll_channel", "DELETE", "/v2/notification/pull", {200: "str", 204: None}
)
REGISTER_WEBSOCKET = Operation(
    "register_websocket", "PUT", "/v2/notification/websocket",
    {200: WebsocketChannel, 201: WebsocketChannel}, accept="application/json",
    body_type=RegisterWebsocketChannel, content_type="application/json",
)
GET_WEBSOCKET = Operation(
    "get_websocket", "GET", "/v2/notification/websocket", {200: WebsocketChannel},
    accept="application/json",
)
DELETE_WEBSOCKET = Operation("delete_websocket", "DELETE", "/v2/notification/websocket", {204: None})
GET_CHANNEL_METADATA = Operation(
    "get_channel_metadata", "GET", "/v2/notification/channel", {200: ChannelMetadata},
    accept="application/json",
)


class NotificationsApi:
    """The Notifications API. Every method raises an `mds.ApiException` subclass on failure.

    Common keyword arguments: ``async_req`` (alias ``asynchronous``) returns an `AsyncResult`;
    ``_preload_content=False`` returns the raw urllib3 response; ``_request_timeout`` is a number
    (total seconds), a ``(connect, read)`` tuple, or None for no timeout.
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    # -- webhook -------------------------------------------------------------------------------
    @overload
    def register_webhook(
        self, webhook: Webhook | dict[str, Any], *, async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def register_webhook(
        self, webhook: Webhook | dict[str, Any], *, async_req: bool = False,
        asynchronous: bool | None = None, _return_http_data_only: bool = True,
        _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def register_webhook(
        self, webhook: Webhook | dict[str, Any], *, async_req: bool = False,
        asynchronous: bool | None = None, _return_http_data_only: bool = True,
        _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Register a callback URL (PUT /v2/notification/callback). Returns None.

        The service sends ``{}`` to the URL to validate it (400 if that fails). The URL plus all
        header names and values must fit in 400 characters; that is checked before sending.
        """
        return self.register_webhook_with_http_info(
            webhook, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def register_webhook_with_http_info(
        self, webhook: Webhook | dict[str, Any], *, async_req: bool = False,
        asynchronous: bool | None = None, _return_http_data_only: bool = False,
        _preload_content: bool = True, _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`register_webhook`, returning ``(None, status, headers)``."""
        webhook = check_webhook(webhook)
        return self.api_client.call_operation(
            REGISTER_WEBHOOK, body=webhook, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def get_webhook(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Webhook: ...
    @overload
    def get_webhook(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_webhook(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Check callback URL (GET /v2/notification/callback). Returns a `Webhook`; 404 raises
        `NotFoundException` when none is registered."""
        return self.get_webhook_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_webhook_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_webhook`, returning ``(Webhook, status, headers)``."""
        return self.api_client.call_operation(
            GET_WEBHOOK, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def deregister_webhook(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def deregister_webhook(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def deregister_webhook(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Delete callback URL (DELETE /v2/notification/callback). Returns None."""
        return self.deregister_webhook_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def deregister_webhook_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`deregister_webhook`, returning ``(None, status, headers)``."""
        return self.api_client.call_operation(
            DEREGISTER_WEBHOOK, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    # -- long poll -----------------------------------------------------------------------------
    @overload
    def long_poll_notifications(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> NotificationMessage: ...
    @overload
    def long_poll_notifications(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def long_poll_notifications(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Get notifications using Long Poll (GET /v2/notification/pull).

        Returns a `NotificationMessage`: the batch on 200, an empty (falsy) one on 204. The read
        timeout defaults to the configuration's ``long_poll_timeout`` (90 s), above the server's
        hold, and a read timeout is never retried.
        """
        return self.long_poll_notifications_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def long_poll_notifications_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`long_poll_notifications`, returning ``(NotificationMessage, status, headers)``."""
        return self.api_client.call_operation(
            LONG_POLL_NOTIFICATIONS, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def delete_long_poll_channel(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> str | None: ...
    @overload
    def delete_long_poll_channel(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_long_poll_channel(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Delete notification Long Poll channel (DELETE /v2/notification/pull).

        Returns the service's text answer, ``"REMOVED"`` or ``"ALREADY_DELETED"``.
        """
        return self.delete_long_poll_channel_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_long_poll_channel_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_long_poll_channel`, returning ``(text, status, headers)``."""
        return self.api_client.call_operation(
            DELETE_LONG_POLL_CHANNEL, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    # -- websocket -----------------------------------------------------------------------------
    @overload
    def register_websocket(
        self, serialization: SerializationConfigData | dict[str, Any] | None = None, *,
        async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> WebsocketChannel: ...
    @overload
    def register_websocket(
        self, serialization: SerializationConfigData | dict[str, Any] | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def register_websocket(
        self, serialization: SerializationConfigData | dict[str, Any] | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Register a websocket channel (PUT /v2/notification/websocket). Returns the
        `WebsocketChannel` (201 registered, 200 already registered).

        With *serialization* (a `SerializationConfigData` or a dict), the request sends it as a
        `RegisterWebsocketChannel` body, checked first (``max_chunk_size`` 100 to 10000:
        `ApiValueError`); without, it sends no body, as before.
        """
        return self.register_websocket_with_http_info(
            serialization, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def register_websocket_with_http_info(
        self, serialization: SerializationConfigData | dict[str, Any] | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`register_websocket`, returning ``(WebsocketChannel, status, headers)``."""
        config = check_serialization(serialization)
        body = RegisterWebsocketChannel(config) if config is not None else None
        return self.api_client.call_operation(
            REGISTER_WEBSOCKET, body=body, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def get_websocket(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> WebsocketChannel: ...
    @overload
    def get_websocket(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_websocket(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Get websocket channel information (GET /v2/notification/websocket)."""
        return self.get_websocket_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_websocket_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_websocket`, returning ``(WebsocketChannel, status, headers)``."""
        return self.api_client.call_operation(
            GET_WEBSOCKET, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def delete_websocket(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def delete_websocket(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_websocket(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Delete websocket channel (DELETE /v2/notification/websocket). Returns None."""
        return self.delete_websocket_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_websocket_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_websocket`, returning ``(None, status, headers)``."""
        return self.api_client.call_operation(
            DELETE_WEBSOCKET, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    # -- channel -------------------------------------------------------------------------------
    @overload
    def get_channel_metadata(
        self, *, async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> ChannelMetadata: ...
    @overload
    def get_channel_metadata(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_channel_metadata(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Get channel metadata (GET /v2/notification/channel): a `ChannelMetadata` whose
        ``delivery_mechanism`` is ``"CALLBACK"``, ``"LONG_POLLING"`` or ``"WEB_SOCKET"``.
        404 raises `NotFoundException` when the key has no channel."""
        return self.get_channel_metadata_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_channel_metadata_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_channel_metadata`, returning ``(ChannelMetadata, status, headers)``."""
        return self.api_client.call_operation(
            GET_CHANNEL_METADATA, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def connect_websocket(
        self, connection: str = "Upgrade", upgrade: str = "websocket",
        sec_web_socket_protocol: str | None = None, *, subprotocol_auth: bool = False,
        async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> WebsocketConnection: ...
    @overload
    def connect_websocket(
        self, connection: str = "Upgrade", upgrade: str = "websocket",
        sec_web_socket_protocol: str | None = None, *, subprotocol_auth: bool = False,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def connect_websocket(
        self, connection: str = "Upgrade", upgrade: str = "websocket",
        sec_web_socket_protocol: str | None = None, *, subprotocol_auth: bool = False,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Open the websocket (GET /v2/notification/websocket-connect) and return the open
        `mds.WebsocketConnection`: iterate it for `NotificationMessage` objects.

        Authenticates with the Authorization header. ``sec_web_socket_protocol`` (a comma
        separated offer, e.g. ``"wss,pelion_ak_..."``) or ``subprotocol_auth=True`` (builds
        ``wss, pelion_<key>`` from the configured key) also offers the key as a subprotocol.
        Handshake refusals raise the matching `ApiException` subclass (400, 401, 426, 429).
        """
        return self.connect_websocket_with_http_info(
            connection, upgrade, sec_web_socket_protocol, subprotocol_auth=subprotocol_auth,
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _request_timeout=_request_timeout,
        )

    def connect_websocket_with_http_info(
        self, connection: str = "Upgrade", upgrade: str = "websocket",
        sec_web_socket_protocol: str | None = None, *, subprotocol_auth: bool = False,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`connect_websocket`, returning ``(WebsocketConnection, 101, handshake headers)``."""
        if connection is None or upgrade is None:
            raise ApiValueError("Missing the required parameters `connection` and `upgrade`")
        client = self.api_client
        if is_async(async_req, asynchronous):
            return client.submit(
                self.connect_websocket_with_http_info, connection, upgrade, sec_web_socket_protocol,
                subprotocol_auth=subprotocol_auth, _return_http_data_only=_return_http_data_only,
                _request_timeout=_request_timeout,
            )
        from mds.websocket import open_websocket

        ws = open_websocket(
            client, connection=connection, upgrade=upgrade,
            sec_web_socket_protocol=sec_web_socket_protocol, subprotocol_auth=subprotocol_auth,
            timeout=_request_timeout,
        )
        if _return_http_data_only:
            return ws
        return ws, 101, ws.response_headers
