"""NotificationMessage: one batch as delivered by webhook, long poll or websocket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mds.exceptions import ModelError
from mds.models._base import Field, Model
from mds.models.async_id_response import AsyncIDResponse
from mds.models.endpoint_data import EndpointData
from mds.models.notification_data import NotificationData

if TYPE_CHECKING:
    from mds.events import Event


class NotificationMessage(Model):
    """A batch of notifications; any mix of kinds. Every list attribute is a list, never None.

    ``de_registrations`` and ``registrations_expired`` hold device ids as strings, or, with the
    2020 ``deregistrations_as_object`` option, dicts ``{"ep", "original-ep", "uid", "timestamp"}``.
    An empty message (a long poll's 204) is falsy.
    """

    __slots__ = ()
    notifications = Field(
        "notifications", "list[NotificationData]", model="NotificationData", is_list=True
    )
    registrations = Field("registrations", "list[EndpointData]", model="EndpointData", is_list=True)
    reg_updates = Field("reg-updates", "list[EndpointData]", model="EndpointData", is_list=True)
    de_registrations = Field("de-registrations", "list[str]", is_list=True)
    registrations_expired = Field("registrations-expired", "list[str]", is_list=True)
    async_responses = Field(
        "async-responses", "list[AsyncIDResponse]", model="AsyncIDResponse", is_list=True
    )

    def __init__(
        self,
        notifications: list[NotificationData] | None = None,
        registrations: list[EndpointData] | None = None,
        reg_updates: list[EndpointData] | None = None,
        de_registrations: list[Any] | None = None,
        registrations_expired: list[Any] | None = None,
        async_responses: list[AsyncIDResponse] | None = None,
    ) -> None:
        self._init_fields(
            {"notifications": notifications, "registrations": registrations,
             "reg_updates": reg_updates, "de_registrations": de_registrations,
             "registrations_expired": registrations_expired, "async_responses": async_responses}
        )

    def __bool__(self) -> bool:
        data = self._data
        return any(data.get(f.key) for f in self._fields)

    def __len__(self) -> int:
        """The number of items of every kind in the batch."""
        data = self._data
        return sum(len(data.get(f.key) or ()) for f in self._fields)

    def events(self) -> Iterator[Event]:
        """The batch as typed events (`mds.events`), in wire order; a bad item becomes an event
        with ``error`` set and never hides the rest."""
        from mds.events import events_from_message

        return events_from_message(self)


def parse_message(raw: str | bytes | bytearray) -> dict[str, Any]:
    """The wire dict of one delivered batch: a webhook body, a websocket frame or a long-poll
    answer, as JSON text or bytes.

    The dict is what `NotificationMessage` wraps (``NotificationMessage._wrap``) and what the
    event layer reads directly. Items inside the lists are not judged here: a malformed item
    becomes an event with ``error`` set, so it never hides the rest of its batch.

    Raises `mds.ModelError` when *raw* is not JSON, not a JSON object, or a kind of item
    (``notifications``, ``registrations``...) is not a list; each caller turns that into the
    error of its channel (a 400 answer for a webhook, `mds.ApiResponseError` for a response or
    a frame).
    """
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ModelError(f"not valid JSON ({exc})") from None
    if type(doc) is not dict:
        raise ModelError(f"expected a JSON object (a NotificationMessage), got {type(doc).__name__}")
    if not NotificationMessage._fits(doc):
        raise ModelError("not a NotificationMessage: an item list is not a JSON array, or a nested value has the wrong JSON type")
    return doc
