"""The threads that run the synchronous client's blocking calls for an asyncio listener."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from mds.exceptions import ClientClosedError

__all__ = ["Worker"]

P = ParamSpec("P")
R = TypeVar("R")


class Worker:
    """A small pool of threads owned by one listener, for the blocking calls of the synchronous
    `mds.ApiClient` (registration, rules, device requests, the held long poll).

    Why threads and not an async HTTP library: the REST calls are few and short next to the
    stream (the websocket itself runs on the event loop), and running the one `ApiClient` keeps a
    single implementation of requests, errors, TLS and proxies. Why a pool of its own and not the
    loop's default executor: a held long poll occupies a thread for up to the service's hold
    (30 s), which must not starve the application's own ``to_thread`` calls, and ``close()``
    must be able to wait until every thread has finished (no thread outlives the listener).
    """

    __slots__ = ("_closed", "_lock", "_pending", "_pool")

    def __init__(self, max_workers: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="mds-aio")
        self._pending: set[concurrent.futures.Future[object]] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` in one of the threads. Cancelling the awaiting task does not
        stop the call (a thread cannot be interrupted); its result is dropped. Raises
        `mds.ClientClosedError` once closed."""
        with self._lock:
            if self._closed:
                raise ClientClosedError("this NotificationListener is closed")
            future = self._pool.submit(fn, *args, **kwargs)
            self._pending.add(future)  # type: ignore[arg-type]
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, future: concurrent.futures.Future[R]) -> None:
        with self._lock:
            self._pending.discard(future)

    async def close(self) -> None:
        """Accept no more calls, and wait until the calls under way have returned. Idempotent."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in pending])
