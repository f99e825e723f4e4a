"""The models of the Connect device-data APIs, importable from `mds.models` and `mds`.

`mds.models.Resource` (a resource as ``GET /v2/endpoints/{device-id}`` lists it) is exported
from `mds` as ``EndpointResource``: ``mds.Resource`` was already the event class of a resource a
device registered (`mds.events.Resource`), and keeps meaning that.
"""

from mds.models.async_id import AsyncID
from mds.models.async_id_response import AsyncIDResponse
from mds.models.channel_metadata import ChannelMetadata
from mds.models.device_request import DeviceRequest
from mds.models.endpoint_data import EndpointData
from mds.models.notification_data import NotificationData
from mds.models.notification_message import NotificationMessage
from mds.models.presubscription import Presubscription
from mds.models.register_websocket_channel import RegisterWebsocketChannel
from mds.models.resource import Resource
from mds.models.resources_data import ResourcesData
from mds.models.serialization_config_data import SerializationConfigData
from mds.models.serialization_config_object_v2 import SerializationConfigObjectV2
from mds.models.webhook import Webhook
from mds.models.websocket_channel import WebsocketChannel

__all__ = [
    "AsyncID",
    "AsyncIDResponse",
    "ChannelMetadata",
    "DeviceRequest",
    "EndpointData",
    "NotificationData",
    "NotificationMessage",
    "Presubscription",
    "RegisterWebsocketChannel",
    "Resource",
    "ResourcesData",
    "SerializationConfigData",
    "SerializationConfigObjectV2",
    "Webhook",
    "WebsocketChannel",
]
