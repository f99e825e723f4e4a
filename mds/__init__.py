"""mds: the Python client for the Device Management Connect Notifications API.

Public, stable names are the ones listed in ``__all__`` (see docs/PublicAPI.md). Importing the
package starts no thread, opens no socket and configures no logging beyond a ``NullHandler``.
Names whose modules pull in the websocket stack are loaded on first use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mds._version import __version__
from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient, AsyncResult
from mds.configuration import Configuration
from mds.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiTimeoutError,
    ApiTLSError,
    ApiTransportError,
    ApiTypeError,
    ApiValueError,
    AsyncResponseError,
    BadRequestException,
    ChannelConflictError,
    ClientClosedError,
    ConflictException,
    ForbiddenException,
    GoneException,
    MdsError,
    NotFoundException,
    PayloadDecodeError,
    PayloadTooLargeException,
    ServiceException,
    TooManyRequestsException,
    UnauthorizedException,
    UnsupportedMediaTypeException,
    UpgradeRequiredException,
    WebsocketClosedError,
)
from mds.models import (
    AsyncIDResponse,
    EndpointData,
    NotificationData,
    NotificationMessage,
    ResourcesData,
    Webhook,
    WebsocketChannel,
)

if TYPE_CHECKING:
    from mds.websocket import WebsocketConnection

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first access: these modules import the websocket stack.
_LAZY = {
    "WebsocketConnection": "mds.websocket",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mds' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "ApiClient",
    "ApiConnectionError",
    "ApiException",
    "ApiResponseError",
    "ApiTLSError",
    "ApiTimeoutError",
    "ApiTransportError",
    "ApiTypeError",
    "ApiValueError",
    "AsyncIDResponse",
    "AsyncResponseError",
    "AsyncResult",
    "BadRequestException",
    "ChannelConflictError",
    "ClientClosedError",
    "Configuration",
    "ConflictException",
    "EndpointData",
    "ForbiddenException",
    "GoneException",
    "MdsError",
    "NotFoundException",
    "NotificationData",
    "NotificationMessage",
    "NotificationsApi",
    "PayloadDecodeError",
    "PayloadTooLargeException",
    "ResourcesData",
    "ServiceException",
    "TooManyRequestsException",
    "UnauthorizedException",
    "UnsupportedMediaTypeException",
    "UpgradeRequiredException",
    "Webhook",
    "WebsocketChannel",
    "WebsocketClosedError",
    "WebsocketConnection",
    "__version__",
]
