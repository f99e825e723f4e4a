"""The models of the Notifications API, importable from `mds.models` and `mds`."""

from mds.models.async_id_response import AsyncIDResponse
from mds.models.endpoint_data import EndpointData
from mds.models.notification_data import NotificationData
from mds.models.notification_message import NotificationMessage
from mds.models.resources_data import ResourcesData
from mds.models.webhook import Webhook
from mds.models.websocket_channel import WebsocketChannel

__all__ = [
    "AsyncIDResponse",
    "EndpointData",
    "NotificationData",
    "NotificationMessage",
    "ResourcesData",
    "Webhook",
    "WebsocketChannel",
]
