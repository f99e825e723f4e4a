"""NotificationMessage: one batch as delivered by webhook, long poll or websocket, and
`parse_message`, the one function that turns such a delivery's bytes into its wire dict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mds.exceptions import ModelError
from mds.models._base import Model, field, fits, parse_object
from mds.models.async_id_response import AsyncIDResponse
from mds.models.endpoint_data import EndpointData
from mds.models.notification_data import NotificationData

if TYPE_CHECKING:
    from mds.events import Event

__all__ = ["NotificationMessage", "parse_message"]


class NotificationMessage(Model):
    """A batch of notifications; any mix of kinds. Every list attribute is a list, never None.

    ``de_registrations`` and ``registrations_expired`` hold device ids as strings, or, with the
    2020 ``deregistrations_as_object`` option, dicts ``{"ep", "original-ep", "uid", "timestamp"}``.
    An empty message (a long poll's 204) is falsy.
    """

    notifications: list[NotificationData] = field(
        "notifications", "list[NotificationData]", model=NotificationData, is_list=True
    )
    registrations: list[EndpointData] = field(
        "registrations", "list[EndpointData]", model=EndpointData, is_list=True
    )
    reg_updates: list[EndpointData] = field(
        "reg-updates", "list[EndpointData]", model=EndpointData, is_list=True
    )
    de_registrations: list[Any] = field("de-registrations", "list[str]", is_list=True)
    registrations_expired: list[Any] = field("registrations-expired", "list[str]", is_list=True)
    async_responses: list[AsyncIDResponse] = field(
        "async-responses", "list[AsyncIDResponse]", model=AsyncIDResponse, is_list=True
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
        # None reads as [] (the type: ignores below): list attributes are never None.
        self._data = {}
        self.notifications = notifications  # type: ignore[assignment]
        self.registrations = registrations  # type: ignore[assignment]
        self.reg_updates = reg_updates  # type: ignore[assignment]
        self.de_registrations = de_registrations  # type: ignore[assignment]
        self.registrations_expired = registrations_expired  # type: ignore[assignment]
        self.async_responses = async_responses  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return any(map(bool, self._kinds()))

    def __len__(self) -> int:
        """The number of items of every kind in the batch."""
        return sum(map(len, self._kinds()))

    def _kinds(self) -> tuple[list[Any], ...]:
        return (self.notifications, self.registrations, self.reg_updates, self.de_registrations,
                self.registrations_expired, self.async_responses)

    def events(self) -> Iterator[Event]:
        """The batch as typed events (`mds.events`), in wire order; a bad item becomes an event
        with ``error`` set and never hides the rest."""
        # Imported here: `mds.events` sits below the models and is not needed by `import mds`.
        from mds.events import events_from_message

        return events_from_message(self.to_dict())


def parse_message(raw: str | bytes | bytearray) -> dict[str, Any]:
    """The wire dict of one delivered batch: a webhook body, a websocket frame or a long-poll
    answer, as JSON text or bytes.

    The dict is what ``NotificationMessage.from_wire`` adopts and what the event layer reads
    directly. Items inside the lists are not judged here: a malformed item becomes an event
    with ``error`` set, so it never hides the rest of its batch.

    Raises `mds.ModelError` when *raw* is not JSON, not a JSON object, or a kind of item
    (``notifications``, ``registrations``...) or a registration's ``resources`` is not a list;
    each caller turns that into the error of its channel (a 400 answer for a webhook,
    `mds.ApiResponseError` for a response or a frame).
    """
    doc = parse_object(raw, "NotificationMessage")
    if not fits(NotificationMessage, doc):
        raise ModelError(
            "not a NotificationMessage: an item list is not a JSON array, or a nested value "
            "has the wrong JSON type"
        )
    return doc
