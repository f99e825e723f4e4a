"""The batches of an asyncio listener, shared by the tasks that need them.

Two kinds of task want a listener's batches: the one iterating it, and any task awaiting the
answer to a device request. One *pump* task reads the source while some task is waiting for
something it has not got (a batch, an answer, the channel being ready) and shares out every
batch it reads: the answers to the listener's requests to the tasks awaiting them, the rest, in
order, to iteration. A waiting task only waits for the pump to say that something changed, and
takes what it wanted without an ``await`` in between: cancelling a waiting task therefore never
loses a batch (it stays here for the next ``async for``), and the pump, which no caller's
cancellation reaches, is never interrupted in the middle of a frame or a poll.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from mds.events import AsyncResponse
from mds.listener._session import Session, Stopped
from mds.listener._source import Batch, Counters, batch_size
from mds.listener._stream import Registry, split_answers

__all__ = ["Source", "Stream"]

T = TypeVar("T")


class Source(Protocol):
    """Where an asyncio listener's batches come from: one class per transport, read by the
    pump task only."""

    @property
    def ready(self) -> bool:
        """The channel exists on the service, so that the answer to a request has somewhere to
        go."""

    async def open(self) -> None:
        """Get the channel ready (register, connect); raises what opening raises."""

    async def next_batch(self) -> Batch | None:
        """The next non-empty batch, or None when something other than a batch happened (a poll
        that brought nothing). Raises `Stopped` at the end."""

    async def close(self) -> None:
        """Close the connection, after ``Session.stop()``."""


class Stream:
    """The batches of a listener's source, read by one pump task on behalf of every waiting
    task; see the module docstring. Every method is for tasks of the listener's loop."""

    __slots__ = ("_batches", "_buffered", "_changed", "_counters", "_demand", "_ended",
                 "_expected", "_failure", "_iterating", "_pump", "_registry", "_session",
                 "_source", "max_buffered")

    def __init__(self, session: Session, source: Source, counters: Counters,
                 registry: Registry | None, max_buffered: int = 10_000) -> None:
        self._session = session
        self._source = source
        self._counters = counters
        self._registry = registry
        self._batches: deque[Batch] = deque()  # read, not yet handed to iteration
        self._buffered = 0  # items in them
        self.max_buffered = max_buffered
        # async id of a request waiting -> its answer, once arrived
        self._expected: dict[str, AsyncResponse | None] = {}
        self._demand = 0  # tasks waiting for something the pump has to read
        self._iterating = 0  # of them, those iterating
        self._pump: asyncio.Task[None] | None = None
        self._changed: asyncio.Future[None] | None = None  # set by the pump after each step
        self._ended = False
        self._failure: Exception | None = None  # what the last pump raised, for a waiter

    # -- for iteration ---------------------------------------------------------------------------
    async def next_batch(self) -> Batch | None:
        """The next batch for iteration (without the answers to the listener's requests); None
        once the stream has ended and every batch read was handed out."""
        try:
            return cast("Batch | None", await self._serve(self._take_batch, None, True))
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
            self._notify()  # requests waiting for room may have the pump read again
        return batch

    # -- for requests ----------------------------------------------------------------------------
    async def until_ready(self, deadline: float | None) -> bool:
        """True once the source's channel exists; False if the *deadline* (`time.monotonic`)
        passes first. `Stopped` when the stream has ended."""
        source = self._source
        return await self._serve(lambda: True if source.ready else None, deadline) is not None

    def expect(self, async_id: str) -> None:
        """From now on, take the answer for *async_id* out of the batches read."""
        self._expected[async_id] = None

    async def answer(self, async_id: str, deadline: float | None) -> AsyncResponse | None:
        """The answer for *async_id* (given to `expect`); None if the *deadline* passes first.
        `Stopped` when the stream has ended without it."""
        expected = self._expected
        return await self._serve(lambda: expected.get(async_id), deadline)

    def forget(self, async_id: str) -> None:
        """Stop expecting *async_id*; a late answer stays in the stream for iteration."""
        self._expected.pop(async_id, None)

    # -- ending ----------------------------------------------------------------------------------
    async def finish(self) -> None:
        """After ``Session.stop()``: let the pump read what had already arrived, to the end."""
        while not self._ended:
            pump = self._pump or self._start()
            await asyncio.wait([pump])
            if self._failure is not None:
                return  # for the next waiter to raise

    async def cancel(self) -> None:
        """Stop the pump where it is (when closing), and wait until it has."""
        pump = self._pump
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
            await asyncio.wait([pump])
        self._ended = True

    # -- waiting ---------------------------------------------------------------------------------
    async def _serve(self, take: Callable[[], T | None], deadline: float | None,
                     iterating: bool = False) -> T | None:
        """What *take* finds, as soon as it finds something, waiting for the pump meanwhile;
        None when the *deadline* passes; `Stopped` once the stream has ended without it; the
        pump's failure, if it failed while this task waited."""
        while True:
            found = take()
            if found is not None:
                return found
            failure = self._failure
            if failure is not None:
                self._failure = None
                raise failure
            if self._ended:
                raise Stopped
            timeout = None
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return None
            changed = self._changed
            if changed is None:
                changed = self._changed = asyncio.get_running_loop().create_future()
            self._demand += 1
            self._iterating += iterating
            try:
                if self._pump is None and self._wanted():
                    self._start()
                # asyncio.wait never cancels what it waits for: a cancelled waiter leaves the
                # shared future (and the pump) alone.
                await asyncio.wait([changed], timeout=timeout)
            finally:
                self._demand -= 1
                self._iterating -= iterating

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)

    # -- the pump --------------------------------------------------------------------------------
    def _start(self) -> asyncio.Task[None]:
        pump = self._pump = asyncio.get_running_loop().create_task(self._run(), name="mds-aio-pump")
        return pump

    def _wanted(self) -> bool:
        """A task iterates and no batch is kept for it, or the stream is ending (what had
        arrived is read to the end), or some task waits for what only reading can bring while
        fewer than ``max_buffered`` items are kept for iteration (past that, the service keeps
        queuing: memory stays bounded, nothing is dropped, and requests wait for the
        iteration).

        (An iterating task woken for a batch has not taken it yet when the pump asks again:
        reading on for it then would parse the frames waiting on the socket ahead of the
        iteration, whose items would be out of the CPU's caches by the time it gets to them.)
        """
        if self._session.stopping or (self._iterating and not self._batches):
            return True
        if self._buffered >= self.max_buffered:
            return False
        return self._demand > self._iterating or any(
            answer is None for answer in self._expected.values())

    async def _run(self) -> None:
        source, session = self._source, self._session
        try:
            while self._wanted():
                batch = await source.next_batch()
                if batch is not None:
                    self._share(batch)
                self._notify()
        except Stopped:
            self._ended = True
        except asyncio.CancelledError:
            self._ended = True
            raise
        except Exception as exc:  # noqa: BLE001 - handed to a waiting task, which raises it
            if session.stopping:
                self._ended = True  # e.g. the private client was closed under a request
            else:
                self._failure = exc
        finally:
            self._pump = None
            self._notify()

    def _share(self, batch: Batch) -> None:
        """Count *batch*, give the answers in it to the requests awaiting them, feed the
        registry, and keep the rest for iteration."""
        counters = self._counters
        counters.messages += 1
        counters.events += batch_size(batch)
        counters.last_message_at = time.time()
        rest: Batch | None = batch
        expected = self._expected
        if expected:
            waiting = {ident for ident, answer in expected.items() if answer is None}
            answers, rest = split_answers(batch, waiting)
            for answer in answers:
                expected[answer.id] = answer
        if rest is not None:
            registry = self._registry
            if registry is not None:
                registry.feed_message(rest)
            self._batches.append(rest)
            self._buffered += batch_size(rest)
