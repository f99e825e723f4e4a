"""`AsyncResponses`: match device answers to the async requests that asked for them.

A device request (read a resource, write, execute) answers at once with an async id; the device's
answer arrives later, in the ``async-responses`` of some notification batch, on whatever channel
the API key uses. Feed every batch (or its events) to one `AsyncResponses`, and let any thread
wait for the id it holds::

    responses = AsyncResponses()
    # the channel's consumer thread / webhook handler:
    responses.feed_message(message)
    # any other thread:
    answer = responses.wait(async_id, timeout=30)   # an AsyncResponse with a 2xx status
    print(answer.value)

An answer can arrive before anyone waits for it (the device was quick, or the request was sent
through another process): it is kept until claimed, for at most ``ttl`` seconds, and at most
``max_pending`` of them (the oldest go first). No threads are started; waiting uses a condition
variable, not polling.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mds.events import AsyncResponse, Event, events_from_message, message_dict
from mds.exceptions import AsyncResponseError
from mds.models import NotificationMessage

__all__ = ["AsyncResponses"]


class _Waiters:
    """The threads waiting for one async id: a condition sharing the registry's lock."""

    __slots__ = ("condition", "count")

    def __init__(self, lock: threading.Lock) -> None:
        self.condition = threading.Condition(lock)
        self.count = 0


class AsyncResponses:
    """A thread-safe registry of async responses, keyed by async id.

    :param max_pending: how many answers nobody has waited for yet are kept; when more arrive,
        the oldest is dropped. Answers someone is already waiting for do not count.
    :param ttl: seconds an unclaimed answer is kept (None: until claimed or pushed out).
    :param clock: a monotonic clock in seconds (for tests); default `time.monotonic`.

    Each answer is delivered to one `wait` call: two threads waiting for the same id get it
    once between them, and the other keeps waiting.
    """

    def __init__(
        self,
        max_pending: int = 10000,
        ttl: float | None = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 0:
            raise ValueError(f"max_pending must be >= 0, not {max_pending}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be > 0 or None, not {ttl}")
        self._max_pending = max_pending
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # id -> (response, expiry); arrival order, so the oldest (and soonest to expire) first
        self._unclaimed: OrderedDict[str, tuple[AsyncResponse, float]] = OrderedDict()
        # id -> response that arrived while someone waits for it (not bounded, not expired)
        self._ready: dict[str, AsyncResponse] = {}
        self._waiters: dict[str, _Waiters] = {}
        self._dropped = 0

    # -- feeding ---------------------------------------------------------------------------------
    def feed(
        self, events: Event | Iterable[Event] | Mapping[str, Any] | NotificationMessage
    ) -> int:
        """Take the `AsyncResponse` events among *events* (one event or an iterable of them; other
        kinds are ignored) and wake whoever waits for their ids. Returns how many were taken.

        An answer for an id that already has an unclaimed answer replaces it. A whole batch (a
        `NotificationMessage` or wire dict) passed here by mistake is handled as `feed_message`.
        """
        if isinstance(events, Event):
            events = (events,)
        elif isinstance(events, (Mapping, NotificationMessage)):
            return self.feed_message(events)
        # Collect outside the lock: a generator may be decoding payloads as it goes.
        batch = [e for e in events if type(e) is AsyncResponse and e.id]
        if not batch:
            return 0
        with self._lock:
            now = self._clock()
            for event in batch:
                waiters = self._waiters.get(event.id)
                if waiters is not None:
                    self._ready[event.id] = event
                    waiters.condition.notify()
                else:
                    self._shelve(event, now)
            self._expire(now)
        return len(batch)

    def feed_message(self, message: Mapping[str, Any] | NotificationMessage) -> int:
        """`feed` the async responses of a notification batch (a `NotificationMessage` or its wire
        dict); the batch's other items are not even decoded. Returns how many were taken."""
        if isinstance(message, NotificationMessage):
            answers: Any = [answer.to_dict() for answer in message.async_responses]
        else:
            data = message_dict(message)
            answers = data.get("async-responses")
            if answers is None:
                answers = data.get("async_responses")
        if not answers:
            return 0
        return self.feed(events_from_message({"async-responses": answers}))

    def _shelve(self, response: AsyncResponse, now: float) -> None:
        """Keep an answer nobody waits for yet (the lock is held)."""
        self._unclaimed.pop(response.id, None)
        if self._max_pending == 0:
            self._dropped += 1
            return
        expiry = now + self._ttl if self._ttl is not None else float("inf")
        self._unclaimed[response.id] = (response, expiry)
        if len(self._unclaimed) > self._max_pending:
            self._unclaimed.popitem(last=False)
            self._dropped += 1

    # -- claiming --------------------------------------------------------------------------------
    def wait(self, async_id: str, timeout: float | None = None) -> AsyncResponse:
        """Block until the answer for *async_id* arrives (or return it at once if it already
        has), and return it; it is removed from the registry.

        :param timeout: seconds to wait at most; None waits forever, 0 only looks.
        :raises TimeoutError: no answer within *timeout*.
        :raises mds.AsyncResponseError: the answer has a non-2xx status (``.response`` holds it).
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._lock:
            response = self._take(async_id)
            if response is None:
                waiters = self._waiters.get(async_id)
                if waiters is None:
                    waiters = self._waiters[async_id] = _Waiters(self._lock)
                waiters.count += 1
                try:
                    while True:
                        response = self._ready.pop(async_id, None)
                        if response is not None:
                            break
                        if deadline is None:
                            waiters.condition.wait()
                        else:
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                break
                            waiters.condition.wait(remaining)
                finally:
                    waiters.count -= 1
                    if not waiters.count:
                        del self._waiters[async_id]
                        # Interrupted (KeyboardInterrupt) just as the answer came: keep it.
                        stranded = self._ready.pop(async_id, None)
                        if stranded is not None:
                            self._shelve(stranded, self._clock())
        if response is None:
            raise TimeoutError(f"no async response for {async_id} within {timeout} s")
        if not 200 <= response.status < 300:
            raise AsyncResponseError(response)
        return response

    def _take(self, async_id: str) -> AsyncResponse | None:
        response = self._ready.pop(async_id, None)
        if response is not None:
            return response
        self._expire(self._clock())
        entry = self._unclaimed.pop(async_id, None)
        return entry[0] if entry is not None else None

    def _expire(self, now: float) -> None:
        unclaimed = self._unclaimed
        while unclaimed:
            first = next(iter(unclaimed.values()))
            if first[1] > now:
                break
            unclaimed.popitem(last=False)
            self._dropped += 1

    # -- housekeeping ----------------------------------------------------------------------------
    def pending(self) -> int:
        """How many answers are held that no `wait` has claimed yet (expired ones removed)."""
        with self._lock:
            self._expire(self._clock())
            return len(self._unclaimed) + len(self._ready)

    def waiting(self) -> int:
        """How many `wait` calls are blocked right now."""
        with self._lock:
            return sum(w.count for w in self._waiters.values())

    @property
    def dropped(self) -> int:
        """How many unclaimed answers were pushed out by ``max_pending`` or expired by ``ttl``."""
        with self._lock:
            return self._dropped

    def discard(self, async_id: str) -> bool:
        """Forget the unclaimed answer for *async_id*; True if there was one."""
        with self._lock:
            found = self._unclaimed.pop(async_id, None) is not None
            return self._ready.pop(async_id, None) is not None or found

    def __contains__(self, async_id: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return async_id in self._unclaimed or async_id in self._ready

    def __repr__(self) -> str:
        return (
            f"AsyncResponses(pending={self.pending()}, waiting={self.waiting()},"
            f" max_pending={self._max_pending}, ttl={self._ttl})"
        )
