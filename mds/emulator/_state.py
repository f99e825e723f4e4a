"""Channel state and queue batching for the emulator.

Everything here is plain data guarded by the emulator's single lock; no I/O happens in this
module. The emulator keeps one :class:`KeyState` per API key it has seen, holding at most one
channel (callback, long poll or websocket) and that channel's queue of undelivered items.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mds.emulator._websocket import WebsocketSession

#: The NotificationMessage keys, in the order the service documents them.
MESSAGE_KEYS: Final = (
    "notifications",
    "registrations",
    "reg-updates",
    "de-registrations",
    "registrations-expired",
    "async-responses",
)

CALLBACK: Final = "CALLBACK"
LONG_POLLING: Final = "LONG_POLLING"
WEB_SOCKET: Final = "WEB_SOCKET"

#: One queued item: (NotificationMessage key, value, whether the key holds a list).
Item = tuple[str, Any, bool]


def split_message(message: dict[str, Any]) -> list[Item]:
    """Split a NotificationMessage into queue items, keeping the order of its keys.

    List values become one item per element; any other value (an unknown key holding an
    object, say) becomes a single item delivered unchanged.
    """
    items: list[Item] = []
    for key, value in message.items():
        if isinstance(value, list):
            items.extend((key, element, True) for element in value)
        else:
            items.append((key, value, False))
    return items


def build_message(queue: Iterable[Item], limit: int) -> tuple[dict[str, Any], int]:
    """Merge items from the front of ``queue`` into one NotificationMessage.

    Takes at most ``limit`` items and stops early rather than reorder: an item joins the message
    only if its key is new to the message or is the key of the item just before it, so a reader
    that walks the message's keys in order sees the items in queued order.

    Returns the message and the number of items it holds (taken from the front of the queue).
    """
    message: dict[str, Any] = {}
    last_key: str | None = None
    taken = 0
    for key, value, listed in queue:
        if taken >= limit:
            break
        if key in message:
            if key != last_key or not listed:
                break
            message[key].append(value)
        else:
            message[key] = [value] if listed else value
        last_key = key
        taken += 1
    return message, taken


def pop_front(queue: deque[Item], count: int) -> list[Item]:
    """Remove and return the first ``count`` items of ``queue``."""
    return [queue.popleft() for _ in range(count)]


def push_front(queue: deque[Item], items: list[Item]) -> None:
    """Put ``items`` back at the front of ``queue``, in their original order."""
    queue.extendleft(reversed(items))


class Channel:
    """Base of the three channel types: a delivery mechanism and its queue."""

    mechanism: str = ""

    def __init__(self, now: float) -> None:
        self.queue: deque[Item] = deque()
        self.created = now


class CallbackChannel(Channel):
    """A registered webhook and the state of its single delivery worker."""

    mechanism = CALLBACK

    def __init__(self, now: float, url: str, headers: dict[str, str]) -> None:
        super().__init__(now)
        self.url = url
        self.headers = headers
        #: Bumped whenever the URL is replaced, so the worker restarts its back-off.
        self.generation = 0
        self.failing_since: float | None = None
        self.worker: threading.Thread | None = None


class PullChannel(Channel):
    """A long-poll channel: created by the first GET, refreshed by every GET."""

    mechanism = LONG_POLLING

    def __init__(self, now: float) -> None:
        super().__init__(now)
        self.last_get = now
        self.waiting = False


class WebsocketChannel(Channel):
    """A registered websocket channel and the socket currently bound to it, if any."""

    mechanism = WEB_SOCKET

    def __init__(self, now: float) -> None:
        super().__init__(now)
        self.channel_id = uuid.uuid4().hex
        self.session: WebsocketSession | None = None
        self.disconnected_since = now

    def wire(self) -> dict[str, Any]:
        """The 2019 WebsocketChannel wire shape, answered by PUT and GET."""
        return {
            "channelId": self.channel_id,
            "queueSize": len(self.queue),
            "status": "connected" if self.session is not None else "disconnected",
        }


class KeyState:
    """Everything the service keeps for one API key."""

    def __init__(self, lock: threading.RLock) -> None:
        self.channel: Channel | None = None
        #: When the long-poll channel was deleted, while inside the purge window.
        self.pull_deleted_at: float | None = None
        self.cond = threading.Condition(lock)
