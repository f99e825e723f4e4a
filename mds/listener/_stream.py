"""The batches of one listener, shared by the threads that need them.

Two kinds of thread want a listener's batches: the one that iterates it, and any thread waiting
for the answer to a device request the listener sent (``NotificationListener.request``).
Whichever needs the next batch while no other thread is reading reads it (it holds the *reading
role* meanwhile; the others wait on a condition), so a request is answered whether or not a
thread iterates, and the iterating thread may send requests from its own loop. Every batch read
is shared out under one lock: the answers to the listener's requests go to the threads waiting
for them, the rest is kept, in order, for iteration. Nothing is lost or reordered, and no thread
is started.

Memory is bounded by back-pressure, never by dropping: the iterating thread reads only when
nothing is kept for it, and the thread of a request reads only while fewer than ``max_buffered``
items are kept (a batch is never split, so at most ``max_buffered - 1`` plus one batch). When
the iteration falls that far behind, requests wait for it (and time out if it never comes);
meanwhile nobody reads the channel, so the websocket library stops reading the socket and the
service keeps queuing. The one exception is a request sent by the iterating thread itself (from
its loop): waiting for the iteration would wait for itself, so it reads on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from mds.events import AsyncResponse, events_from_message
from mds.exceptions import MdsError
from mds.listener._session import Session, Stopped
from mds.listener._source import Batch, BatchSource, Counters, batch_size, has_items
from mds.models import NotificationMessage

__all__ = ["Registry", "Stream", "split_answers"]

T = TypeVar("T")


class Registry(Protocol):
    """What a listener feeds every batch to (`mds.AsyncResponses` is one)."""

    def feed_message(self, message: Any) -> Any: ...


def split_answers(batch: Batch, wanted: set[str]) -> tuple[list[AsyncResponse], Batch | None]:
    """The async responses of *batch* for the ids in *wanted* (as events, values decoded; the
    first one for each id, whose id is then removed from *wanted*), and the batch without them:
    *batch* itself when none is there, a wire dict when some were taken out, None when nothing
    else is left."""
    if isinstance(batch, NotificationMessage):
        if not batch.async_responses:
            return [], batch
        data = batch.to_dict()
    else:
        data = batch
    items = data.get("async-responses")
    if type(items) is not list:
        return [], batch
    mine: list[Any] = []
    others: list[Any] = []
    for item in items:
        ident = item.get("id") if type(item) is dict else None
        if isinstance(ident, str) and ident in wanted:
            wanted.discard(ident)
            mine.append(item)
        else:
            others.append(item)
    if not mine:
        return [], batch
    rest = dict(data)
    if others:
        rest["async-responses"] = others
    else:
        del rest["async-responses"]
    answers = [e for e in events_from_message({"async-responses": mine})
               if isinstance(e, AsyncResponse)]
    return answers, (rest if has_items(rest) else None)


class Stream:
    """The batches of a listener's source, read by whichever thread needs the next one.

    ``next_batch`` is for iteration; ``expect``, ``answer`` and ``forget`` are for the threads
    of requests, ``until_ready`` for a request that needs the channel to exist. Any method may
    be called from any thread.
    """

    __slots__ = ("_batches", "_buffered", "_cond", "_counters", "_ended", "_expected",
                 "_iterator", "_reading", "_registry", "_session", "_source", "max_buffered")

    def __init__(self, session: Session, source: BatchSource, counters: Counters,
                 registry: Registry | None, max_buffered: int = 10_000) -> None:
        self._session = session
        self._source = source
        self._counters = counters
        self._registry = registry
        self.max_buffered = max_buffered
        self._cond = threading.Condition(threading.Lock())
        self._reading = False  # a thread holds the reading role
        self._ended = False  # the source has ended: nothing more will be read
        self._batches: deque[Batch] = deque()  # read, not yet handed to iteration
        self._buffered = 0  # items in _batches
        self._iterator: threading.Thread | None = None  # the thread that last iterated
        # async id of a request waiting -> its answer, once arrived
        self._expected: dict[str, AsyncResponse | None] = {}

    # -- for iteration ---------------------------------------------------------------------------
    def next_batch(self) -> Batch | None:
        """The next batch for iteration (without the answers to the listener's requests),
        reading it if no other thread is; None once the stream has ended and every batch read was
        handed out."""
        self._iterator = threading.current_thread()
        try:
            # mypy solves T as the join of the union's members (object): say it.
            return cast("Batch | None", self._serve(self._take_batch, None))
        except Stopped:
            return None

    def _take_batch(self) -> Batch | None:
        batches = self._batches
        if not batches:
            return None
        batch = batches.popleft()
        full = self._buffered >= self.max_buffered
        self._buffered -= batch_size(batch)
        if full and self._buffered < self.max_buffered:
            self._cond.notify_all()  # requests waiting for room may read again
        return batch

    @property
    def buffered(self) -> int:
        """Items read and kept for iteration, not taken yet."""
        return self._buffered

    @property
    def full(self) -> bool:
        """``max_buffered`` items or more are kept for iteration: requests do not read."""
        return self._buffered >= self.max_buffered

    # -- for requests ----------------------------------------------------------------------------
    def until_ready(self, deadline: float | None) -> bool:
        """Return True once the source's channel exists (at once, usually), reading batches
        until it does (the first long poll makes its channel); False if the *deadline*
        (`time.monotonic`) passes first. Raises `Stopped` when the stream has ended."""
        source = self._source
        return self._serve(lambda: True if source.ready else None, deadline) is not None

    def expect(self, async_id: str) -> None:
        """From now on, take the answer for *async_id* out of the batches read, for `answer`."""
        with self._cond:
            self._expected[async_id] = None

    def answer(self, async_id: str, deadline: float | None) -> AsyncResponse | None:
        """The answer for the *async_id* given to `expect`, reading batches while no other
        thread does; None if the *deadline* (`time.monotonic`) passes first. Raises `Stopped`
        when the stream has ended without it."""
        expected = self._expected
        return self._serve(lambda: expected.get(async_id), deadline)

    def forget(self, async_id: str) -> None:
        """Stop expecting *async_id* (answered, or given up on); a late answer stays in the
        stream for iteration."""
        with self._cond:
            self._expected.pop(async_id, None)

    # -- reading ---------------------------------------------------------------------------------
    def _serve(self, take: Callable[[], T | None], deadline: float | None) -> T | None:
        """What *take* (called with the lock held) finds, as soon as it finds something; until
        then read batches whenever no other thread is reading and there is room for what is
        read, else wait for the one that is reading (or for the iteration to make room). None
        when the *deadline* passes; `Stopped` once the stream has ended without it."""
        cond = self._cond
        while True:
            with cond:
                while True:
                    found = take()
                    if found is not None:
                        return found
                    if self._ended:
                        raise Stopped
                    timeout = None
                    if deadline is not None:
                        timeout = deadline - time.monotonic()
                        if timeout <= 0:
                            return None
                    # Iteration reads only when nothing is kept for it: always room then.
                    if not self._reading and (self._buffered < self.max_buffered
                                              or threading.current_thread() is self._iterator):
                        self._reading = True
                        break
                    cond.wait(timeout)
            self._read(timeout)

    def _read(self, timeout: float | None) -> None:
        """With the reading role: read one batch (waiting at most *timeout* seconds), share it
        out, and give the role back, waking every waiting thread."""
        cond = self._cond
        batch: Batch | None = None
        ended = False
        try:
            batch, ended = self._fetch(timeout)
            if batch is not None:
                with cond:
                    if self._expected:
                        batch = self._take_answers(batch)
                registry = self._registry
                if batch is not None and registry is not None:
                    registry.feed_message(batch)
        finally:
            with cond:
                if batch is not None:
                    self._batches.append(batch)
                    self._buffered += batch_size(batch)
                if ended:
                    self._ended = True
                self._reading = False
                cond.notify_all()

    def _take_answers(self, batch: Batch) -> Batch | None:
        """Keep the answers to the ids still waiting (the lock is held); the rest of *batch*,
        where a repeated answer stays, for iteration."""
        expected = self._expected
        waiting = {ident for ident, answer in expected.items() if answer is None}
        answers, rest = split_answers(batch, waiting)
        for answer in answers:
            expected[answer.id] = answer
        return rest

    def _fetch(self, timeout: float | None) -> tuple[Batch | None, bool]:
        """The next batch from the source, or None; and whether the stream has ended."""
        session, source = self._session, self._source
        session.claim()
        try:
            if session.stopping:
                raise Stopped
            batch = source.next_batch(timeout)
        except Stopped:
            return self._end(), True
        except MdsError:
            if not session.stopping:
                raise
            return self._end(), True  # e.g. the private client was closed under a request
        if batch is not None:
            self._count(batch)
        return batch, False

    def _end(self) -> Batch | None:
        """The stream ended: a batch that had already arrived, if any."""
        self._session.stop()
        batch = self._source.drain()
        if batch is not None:
            self._count(batch)
        return batch

    def _count(self, batch: Batch) -> None:
        counters = self._counters
        counters.messages += 1
        counters.events += batch_size(batch)
        counters.last_message_at = time.time()
