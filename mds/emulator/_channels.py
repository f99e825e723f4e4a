"""What the emulated service keeps per API key: a channel, its queue, and the socket bound to it.

Plain data guarded by the service's single lock, with no rules and no I/O: the rules that change
it live in :class:`mds.emulator._service.NotificationService`. The service keeps one
:class:`KeyState` per API key it has seen, holding at most one channel (callback, long poll or
websocket) and that channel's queue of undelivered items.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

from mds.emulator._messages import Item, item_size
from mds.emulator._serialization import Serialization

__all__ = [
    "CALLBACK",
    "LONG_POLLING",
    "WEB_SOCKET",
    "CallbackChannel",
    "Channel",
    "ItemQueue",
    "KeyState",
    "PullChannel",
    "SocketSession",
    "Taken",
    "WebsocketChannel",
]

CALLBACK: Final = "CALLBACK"
LONG_POLLING: Final = "LONG_POLLING"
WEB_SOCKET: Final = "WEB_SOCKET"


@dataclass(frozen=True)
class Taken:
    """Items taken from the front of a queue, with when each was received and its size."""

    items: list[Item]
    received: list[float]
    sizes: list[int]

    def __len__(self) -> int:
        return len(self.items)


class ItemQueue:
    """A channel's queue of undelivered items, oldest first, with their total size.

    Iterating it yields the items (what :func:`~mds.emulator._messages.build_message` reads).
    When each item was received and its size are kept alongside, in deques of their own, so
    that iterating and taking items stays as fast as on a plain deque.
    """

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._received: deque[float] = deque()
        self._sizes: deque[int] = deque()
        #: Bytes of every item queued (their JSON text).
        self.size = 0

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def extend(self, items: Iterable[Item], received: float) -> int:
        """Append ``items``, received at ``received``; returns how many."""
        count = total = 0
        for item in items:  # (one loop, no temporary lists: most calls queue one item)
            size = item_size(item)
            self._items.append(item)
            self._received.append(received)
            self._sizes.append(size)
            total += size
            count += 1
        self.size += total
        return count

    def oldest(self) -> float | None:
        """When the item at the front was received; ``None`` when the queue is empty."""
        return self._received[0] if self._received else None

    def take(self, count: int) -> Taken:
        """Remove and return the first ``count`` items (all of them when there are fewer)."""
        if count >= len(self._items):
            taken = Taken(list(self._items), list(self._received), list(self._sizes))
            self._items.clear()
            self._received.clear()
            self._sizes.clear()
            self.size = 0
            return taken
        items, received, sizes = self._items, self._received, self._sizes
        taken = Taken(
            [items.popleft() for _ in range(count)],
            [received.popleft() for _ in range(count)],
            [sizes.popleft() for _ in range(count)],
        )
        self.size -= sum(taken.sizes)
        return taken

    def put_back(self, taken: Taken) -> None:
        """Put ``taken`` (taken from this queue before) back at the front, in its order."""
        self._items.extendleft(reversed(taken.items))
        self._received.extendleft(reversed(taken.received))
        self._sizes.extendleft(reversed(taken.sizes))
        self.size += sum(taken.sizes)

    def excess(self, most_bytes: int, most_items: int | None) -> int:
        """How many items at the front must go for the queue to hold at most ``most_bytes``
        and ``most_items`` (``None``: any number).
        """
        count = 0
        if most_items is not None and len(self._items) > most_items:
            count = len(self._items) - most_items
        size = self.size - sum(islice(self._sizes, count))
        for item_bytes in islice(self._sizes, count, None):
            if size <= most_bytes:
                break
            size -= item_bytes
            count += 1
        return count

    def received_before(self, moment: float) -> int:
        """How many items at the front were received at or before ``moment``."""
        count = 0
        for received in self._received:
            if received > moment:
                break
            count += 1
        return count

    def clear(self) -> list[Item]:
        """Remove every item; returns them."""
        return self.take(len(self._items)).items


class Channel:
    """Base of the three channel types: a delivery mechanism and its queue."""

    mechanism: str = ""

    def __init__(self, now: float) -> None:
        self.queue = ItemQueue()
        self.created = now
        #: The 2020 ``serialization`` it was registered with (webhook and websocket only).
        self.serialization: Serialization | None = None


class CallbackChannel(Channel):
    """A registered webhook and the progress of its single delivery worker."""

    mechanism = CALLBACK

    def __init__(self, now: float, api_key: str, url: str, headers: dict[str, str]) -> None:
        super().__init__(now)
        self.api_key = api_key
        self.url = url
        self.headers = headers
        #: Bumped whenever the URL is replaced, so that a failing delivery restarts at once.
        self.generation = 0
        #: The generation the delivery progress below belongs to.
        self.delivering_generation = 0
        #: The batch in flight (message, its items), out of the queue until delivered.
        self.pending: tuple[dict[str, Any], Taken] | None = None
        #: Tries of the pending batch so far.
        self.attempt = 0
        #: Failed deliveries in a row, for the back-off.
        self.failures = 0
        #: When the first of the failures in a row was sent, for the give-up.
        self.failing_since: float | None = None
        #: No delivery before this time (the back-off after a failure).
        self.retry_at: float | None = None


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
        self.session: SocketSession | None = None
        self.disconnected_since = now

    def wire(self, shape: str = "2019") -> dict[str, Any]:
        """The WebsocketChannel wire shape answered by PUT (201) and GET.

        ``"2019"``: ``{"channelId", "queueSize", "status"}`` with the true queue size and
        status. ``"2020"``: ``{"queue_size": -1, "status": "unknown"}``, what the 2020 service
        answers ("the current version does not yet have the capability to determine the
        channel status"). Both carry ``serialization`` when the channel was registered with one.
        """
        wire: dict[str, Any]
        if shape == "2020":
            wire = {"queue_size": -1, "status": "unknown"}
        else:
            wire = {
                "channelId": self.channel_id,
                "queueSize": len(self.queue),
                "status": "connected" if self.session is not None else "disconnected",
            }
        if self.serialization is not None:
            wire["serialization"] = self.serialization.wire()
        return wire


class KeyState:
    """Everything the service keeps for one API key."""

    def __init__(self, lock: threading.RLock) -> None:
        self.channel: Channel | None = None
        #: When the long-poll channel was deleted, while inside the purge window.
        self.pull_deleted_at: float | None = None
        #: Notified whenever something a waiter of this key may wait for has changed.
        self.cond = threading.Condition(lock)


class SocketSession:
    """One accepted websocket as the service sees it: no socket, only what it has been asked.

    Other threads never touch the socket; they set :attr:`close_request` or
    :attr:`drop_request` under the service lock and notify the key's condition, and the thread
    serving the socket acts on it. ``state`` and ``channel`` are set when the socket is bound to
    the key's websocket channel; a refused socket has neither and a close request.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.state: KeyState | None = None
        self.channel: WebsocketChannel | None = None
        self.close_request: tuple[int, str] | None = None
        self.drop_request = False
        self.peer_gone = False
        self.frames_sent = 0

    def request_close(self, code: int, reason: str) -> None:
        """Ask the session to close with ``code`` (caller holds the service lock)."""
        if self.close_request is None and not self.drop_request:
            self.close_request = (code, reason)

    def request_drop(self) -> None:
        """Ask the session to drop its TCP connection (caller holds the service lock)."""
        if self.close_request is None:
            self.drop_request = True

    @property
    def ending(self) -> bool:
        """Whether the session should stop delivering."""
        return self.peer_gone or self.drop_request or self.close_request is not None
