"""The API classes, one per tag of the service's description."""

from mds.api.device_requests_api import DeviceRequestsApi
from mds.api.endpoints_api import EndpointsApi
from mds.api.notifications_api import NotificationsApi
from mds.api.resources_api import ResourcesApi
from mds.api.subscriptions_api import SubscriptionsApi

__all__ = ["DeviceRequestsApi", "EndpointsApi", "NotificationsApi", "ResourcesApi", "SubscriptionsApi"]
