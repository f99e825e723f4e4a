"""The API classes."""

from mds.api.notifications_api import NotificationsApi

__all__ = ["NotificationsApi"]
