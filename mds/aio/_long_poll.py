"""The long poll of an asyncio listener: the synchronous listener's source, run in a worker
thread one slice at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mds.listener._source import Batch

if TYPE_CHECKING:
    from mds.aio._worker import Worker
    from mds.listener._long_poll_source import LongPollSource as SyncLongPollSource

__all__ = ["LongPollSource"]

#: Longest time one call into the synchronous source takes before the pump looks again at who
#: is waiting (a poll under way is never cut short: it ends within the service's hold).
_SLICE = 1.0


class LongPollSource:
    """The long-poll source of `mds.listener`, awaited: the held GET runs in the listener's
    `Worker`; ``stop()`` aborts it through the synchronous `Session` (``ApiClient.interrupt``),
    as it does for the synchronous listener. Back-off and channel conflicts are that source's."""

    __slots__ = ("_source", "_worker")

    def __init__(self, source: SyncLongPollSource, worker: Worker) -> None:
        self._source = source
        self._worker = worker

    @property
    def ready(self) -> bool:
        return self._source.ready

    async def open(self) -> None:
        await self._worker.run(self._source.open)

    async def next_batch(self) -> Batch | None:
        """The next batch, or None after a poll that brought nothing or after a slice of a
        back-off delay; `Stopped` at the end."""
        return await self._worker.run(self._source.next_batch, _SLICE)

    async def close(self) -> None:
        """Nothing to close: the session's ``stop()`` aborted the held poll."""
