"""What happened to every queued item, as the service sees it: :class:`Ledger`.

Every item queued for a channel is counted once as queued, then, at most once, as delivered
(written whole to a websocket, written as a long-poll answer, acknowledged 2xx by a webhook) or
as lost, with the reason. What should have reached the application is exactly
``queued - lost - still queued``: a verifier reads it from :meth:`Ledger.report`.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from typing import Any, Final

from mds.emulator._messages import Item

__all__ = ["LOSS_REASONS", "Ledger", "describe"]

#: Why the service lost an item: sent on a connection that died (``in_flight``), dropped as the
#: oldest of a full queue (``queue_cap``), older than the event lifetime (``expired``), its
#: channel removed as idle (``channel_expired``) or deleted (``channel_deleted``: a DELETE, a
#: webhook given up).
LOSS_REASONS: Final = ("in_flight", "queue_cap", "expired", "channel_expired", "channel_deleted")


def describe(item: Item, reason: str) -> dict[str, Any]:
    """A lost item as the report lists it: ``{"ep", "path", "uid", "payload", "reason"}``.

    ``ep`` is the device id (an async response's ``id`` when it has no ``ep``); fields the
    item does not have are ``None``.
    """
    _key, value, _listed = item
    if isinstance(value, dict):
        ep = value.get("ep", value.get("id"))
        return {
            "ep": ep,
            "path": value.get("path"),
            "uid": value.get("uid"),
            "payload": value.get("payload"),
            "reason": reason,
        }
    return {
        "ep": value if isinstance(value, str) else None,
        "path": None,
        "uid": None,
        "payload": None,
        "reason": reason,
    }


class Ledger:
    """Counts of queued, delivered and lost items, and the last lost items themselves.

    Thread-safe (its own lock).

    Args:
        limit: Most lost items listed (oldest dropped first); the counts go on past it.
    """

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._queued = 0
        self._delivered = 0
        self._lost: collections.Counter[str] = collections.Counter()
        self._lost_items: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)

    def reset(self) -> None:
        """Forget every count and lost item."""
        with self._lock:
            self._queued = 0
            self._delivered = 0
            self._lost.clear()
            self._lost_items.clear()

    def queued(self, count: int) -> None:
        """``count`` items were queued for a channel."""
        with self._lock:
            self._queued += count

    def delivered(self, count: int) -> None:
        """``count`` items reached the client (see the module's note for what counts)."""
        with self._lock:
            self._delivered += count

    def lost(self, items: Iterable[Item], reason: str) -> int:
        """``items`` are lost for ``reason`` (one of :data:`LOSS_REASONS`); returns how many."""
        described = [describe(item, reason) for item in items]
        if described:
            with self._lock:
                self._lost[reason] += len(described)
                self._lost_items.extend(described)
        return len(described)

    def report(self) -> dict[str, Any]:
        """``{"queued", "delivered", "lost": {reason: count}, "lost_items",
        "lost_items_dropped"}`` (JSON-able copies).
        """
        with self._lock:
            lost = {reason: self._lost[reason] for reason in LOSS_REASONS}
            listed = [dict(item) for item in self._lost_items]
            return {
                "queued": self._queued,
                "delivered": self._delivered,
                "lost": lost,
                "lost_items": listed,
                "lost_items_dropped": sum(lost.values()) - len(listed),
            }
