"""mds: the Python client for the Device Management Connect Notifications API.

Public, stable names are the ones listed in ``__all__`` (see docs/PublicAPI.md). Importing the
package starts no thread, opens no socket and configures no logging beyond a ``NullHandler``.
Names whose modules pull in the websocket stack are loaded on first use.
"""

import logging as _logging
import typing as _typing

from mds._version import __version__
from mds.api.device_requests_api import DeviceRequestsApi
from mds.api.endpoints_api import EndpointsApi
from mds.api.notifications_api import NotificationsApi
from mds.api.resources_api import ResourcesApi
from mds.api.subscriptions_api import SubscriptionsApi
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
    ChannelTakenOverError,
    CheckpointError,
    ClientClosedError,
    ConflictException,
    ForbiddenException,
    GoneException,
    MdsError,
    ModelError,
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
    AsyncID,
    AsyncIDResponse,
    ChannelMetadata,
    DeviceRequest,
    EndpointData,
    NotificationData,
    NotificationMessage,
    Presubscription,
    RegisterWebsocketChannel,
    ResourcesData,
    SerializationConfigData,
    SerializationConfigObjectV2,
    Webhook,
    WebsocketChannel,
)

# The spec's Resource model under another name: `mds.Resource` is the event class of a resource
# a device registered (mds.events.Resource) and keeps meaning that.
from mds.models import Resource as EndpointResource

if _typing.TYPE_CHECKING:
    from mds.async_responses import AsyncResponses
    from mds.events import (
        AsyncResponse,
        DeviceDeregistered,
        DeviceRegistered,
        DeviceRegistrationExpired,
        DeviceRegistrationUpdated,
        Event,
        Resource,
        ResourceChanged,
        events_from_message,
    )
    from mds.listener import ListenerStats, NotificationListener, ReconnectPolicy
    from mds.payload import (
        SenmlRecord,
        TlvContainer,
        TlvPayload,
        TlvValue,
        decode_payload,
        decode_tlv,
        encode_tlv,
        parse_senml,
    )
    from mds.webhook_receiver import WebhookReceiver, parse_webhook, register_webhook_with_secret
    from mds.websocket import WebsocketConnection

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# Loaded on first access, so that `import mds` stays as cheap as `import urllib3`: these modules
# pull in the websocket stack or are only needed by consumers of notifications.
_LAZY = {
    "AsyncResponse": "mds.events",
    "AsyncResponses": "mds.async_responses",
    "DeviceDeregistered": "mds.events",
    "DeviceRegistered": "mds.events",
    "DeviceRegistrationExpired": "mds.events",
    "DeviceRegistrationUpdated": "mds.events",
    "Event": "mds.events",
    "ListenerStats": "mds.listener",
    "NotificationListener": "mds.listener",
    "ReconnectPolicy": "mds.listener",
    "Resource": "mds.events",
    "ResourceChanged": "mds.events",
    "SenmlRecord": "mds.payload",
    "TlvContainer": "mds.payload",
    "TlvPayload": "mds.payload",
    "TlvValue": "mds.payload",
    "WebhookReceiver": "mds.webhook_receiver",
    "WebsocketConnection": "mds.websocket",
    "decode_payload": "mds.payload",
    "decode_tlv": "mds.payload",
    "encode_tlv": "mds.payload",
    "events_from_message": "mds.events",
    "parse_senml": "mds.payload",
    "parse_webhook": "mds.webhook_receiver",
    "register_webhook_with_secret": "mds.webhook_receiver",
}


def __getattr__(name: str) -> _typing.Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mds' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "AsyncID",
    "AsyncIDResponse",
    "AsyncResponse",
    "AsyncResponseError",
    "AsyncResponses",
    "AsyncResult",
    "BadRequestException",
    "ChannelConflictError",
    "ChannelMetadata",
    "ChannelTakenOverError",
    "CheckpointError",
    "ClientClosedError",
    "Configuration",
    "ConflictException",
    "DeviceDeregistered",
    "DeviceRegistered",
    "DeviceRegistrationExpired",
    "DeviceRegistrationUpdated",
    "DeviceRequest",
    "DeviceRequestsApi",
    "EndpointData",
    "EndpointResource",
    "EndpointsApi",
    "Event",
    "ForbiddenException",
    "GoneException",
    "ListenerStats",
    "MdsError",
    "ModelError",
    "NotFoundException",
    "NotificationData",
    "NotificationListener",
    "NotificationMessage",
    "NotificationsApi",
    "PayloadDecodeError",
    "PayloadTooLargeException",
    "Presubscription",
    "ReconnectPolicy",
    "RegisterWebsocketChannel",
    "Resource",
    "ResourceChanged",
    "ResourcesApi",
    "ResourcesData",
    "SenmlRecord",
    "SerializationConfigData",
    "SerializationConfigObjectV2",
    "ServiceException",
    "SubscriptionsApi",
    "TlvContainer",
    "TlvPayload",
    "TlvValue",
    "TooManyRequestsException",
    "UnauthorizedException",
    "UnsupportedMediaTypeException",
    "UpgradeRequiredException",
    "Webhook",
    "WebhookReceiver",
    "WebsocketChannel",
    "WebsocketClosedError",
    "WebsocketConnection",
    "__version__",
    "decode_payload",
    "decode_tlv",
    "encode_tlv",
    "events_from_message",
    "parse_senml",
    "parse_webhook",
    "register_webhook_with_secret",
]
