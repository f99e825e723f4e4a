"""`mds.aio.NotificationListener`: the asyncio face of `mds.NotificationListener`."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from mds._types import UNSET
from mds.aio._gate import Gate
from mds.aio._long_poll import LongPollSource
from mds.aio._stream import Source, Stream
from mds.aio._websocket import WebsocketSource
from mds.aio._worker import Worker
from mds.api.channels import LONG_POLL, WEBSOCKET, delete_channel
from mds.api.device_requests_api import DeviceRequestsApi
from mds.api.subscriptions_api import SubscriptionsApi
from mds.api_client import ApiClient
from mds.checkpoint import DEFAULT_WINDOW, CheckpointStore
from mds.events import AsyncResponse, Event
from mds.exceptions import ApiTimeoutError, ApiTypeError, ApiValueError, ClientClosedError, MdsError
from mds.listener._listener import DEFAULT_MAX_BUFFERED, default_serialization
from mds.listener._long_poll_source import LongPollSource as SyncLongPollSource
from mds.listener._policy import DEFAULT_CLOSE_CODE_POLICY, Action, ListenerStats, ReconnectPolicy
from mds.listener._requests import device_request, encode_value
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, ChannelGuard, Counters
from mds.listener._stream import Registry
from mds.listener._websocket_source import WebsocketOptions
from mds.models import NotificationMessage, Presubscription, SerializationConfigData
from mds.models.presubscription import check_presubscriptions
from mds.models.serialization_config_data import check_serialization

__all__ = ["NotificationListener"]

logger = logging.getLogger("mds.listener")


class NotificationListener:
    """Receive notifications over the websocket (default) or the long poll, in asyncio.

    ::

        async with mds.aio.NotificationListener(api_client) as listener:
            async for event in listener:          # typed events (mds.events)
                ...

    The same guarantees as `mds.NotificationListener`, from the same policy objects: the
    websocket reconnects on the same close codes (``close_code_policy``), backs off as the
    ``reconnect`` policy says, recognises takeovers; nothing is lost or reordered between the
    wire and the loop. The websocket runs on the event loop (websockets' asyncio client); the
    REST calls (registration, rules, device requests, the held long poll) run the synchronous
    `mds.ApiClient` in a few threads of the listener's own, all finished by ``close()``.

    **Cancellation-safe**: a task cancelled inside ``async for`` (or in ``request()``) loses
    nothing: what it had not yet received stays buffered for the next ``async for``. One task
    reads the channel for all the others, and no caller's cancellation interrupts it.

    Entering ``async with`` opens the channel (sets the ``subscribe`` rules, checks for a
    conflicting channel, registers, connects: bad keys and conflicts raise there); leaving
    closes it. ``async for`` and ``request()`` open it too.

    Args: as `mds.NotificationListener` (``channel``, ``register``, ``replace_existing``,
    ``reconnect``, ``close_code_policy``, ``delete_channel_on_close``, ``ping_interval``,
    ``ping_timeout``, ``async_responses``, ``subprotocol_auth``, ``connect_timeout``,
    ``close_timeout``, ``subscribe``), and:

        serialization: what the websocket channel is registered with (a
            `mds.SerializationConfigData` or its dict); by default the 2020 ``cfg`` with
            ``include_uid`` and ``include_timestamp``; None registers without one. The long
            poll has no serialization (its items carry no ``uid``).
        checkpoint: an `mds.checkpoint` store (or a path of a sqlite file, or a
            ``redis://`` URL) recording what the application finished: an event is finished
            when the application asks for the next one (or leaves ``async with`` without an
            exception; leaving with one releases it, so that a redelivery is processed).
            Events finished before, and those another consumer holds, are not yielded.
        dedupe_window: how many of the latest uids are remembered in memory to drop repeats.
            Without a store, the events of a batch are finished together, when the application
            asks for the event after the batch's last (the same answers, one call).
        max_buffered: most items kept for iteration while tasks awaiting ``request()`` read
            the channel (no task iterates, or it is busy). Past it, the channel is not read
            (the service keeps queuing) until the iteration takes some: nothing is dropped,
            memory stays bounded, and a request may then time out.

    Raises `ValueError` (channel), `mds.ApiValueError` or `mds.ApiTypeError` (``dedupe_window``,
    ``max_buffered``, ``checkpoint``, ``subscribe``, ``serialization``) for a bad argument, and
    (from opening or iterating): `mds.UnauthorizedException`, `mds.ForbiddenException`,
    `mds.ChannelConflictError` (`mds.ChannelTakenOverError` when another consumer keeps taking
    the channel), and, with ``max_failures``, the last failure's exception.
    """

    def __init__(
        self,
        api_client: ApiClient,
        channel: str = WEBSOCKET,
        *,
        register: bool = True,
        replace_existing: bool = False,
        reconnect: ReconnectPolicy | None = None,
        close_code_policy: Mapping[int, Action] | None = None,
        delete_channel_on_close: bool = False,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        async_responses: Registry | None = None,
        subprotocol_auth: bool = False,
        connect_timeout: float = 10.0,
        close_timeout: float = 0.5,
        subscribe: Iterable[Presubscription | Mapping[str, Any]] | None = None,
        serialization: SerializationConfigData | Mapping[str, Any] | Any | None = UNSET,
        checkpoint: str | os.PathLike[str] | CheckpointStore | None = None,
        dedupe_window: int = DEFAULT_WINDOW,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        if channel not in (WEBSOCKET, LONG_POLL):
            raise ValueError(f"channel must be 'websocket' or 'long-poll', not {channel!r}")
        for name, limit in (("dedupe_window", dedupe_window), ("max_buffered", max_buffered)):
            if type(limit) is not int:
                raise ApiTypeError(f"{name} must be an int, not {type(limit).__name__}")
            if limit < 1:
                raise ApiValueError(f"{name} must be at least 1, not {limit}")
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike,
                                                                  CheckpointStore)):
            raise ApiTypeError("checkpoint must be a file path, a redis:// URL or a "
                               f"CheckpointStore, not {type(checkpoint).__name__}")
        self.subscribe: list[Presubscription] | None = (
            None if subscribe is None else check_presubscriptions(list(subscribe)))
        self.serialization: SerializationConfigData | None = check_serialization(
            default_serialization() if serialization is UNSET else serialization)
        self.api_client = api_client
        self.channel = channel
        self.replace_existing = replace_existing
        self.reconnect_policy = reconnect if reconnect is not None else ReconnectPolicy()
        self.delete_channel_on_close = delete_channel_on_close
        self.async_responses = async_responses
        self.checkpoint = checkpoint
        self.dedupe_window = dedupe_window
        self.max_buffered = max_buffered
        policy = DEFAULT_CLOSE_CODE_POLICY if close_code_policy is None else close_code_policy
        self._websocket = WebsocketOptions(
            register=register,
            close_code_policy=MappingProxyType(
                {int(code): Action(action) for code, action in policy.items()}),
            ping_interval=ping_interval, ping_timeout=ping_timeout,
            subprotocol_auth=subprotocol_auth, connect_timeout=connect_timeout,
            close_timeout=close_timeout, serialization=self.serialization,
        )
        self._session = Session()
        self._counters = Counters()
        self._worker: Worker | None = None  # made when opening
        self._source: Source | None = None
        self._stream: Stream | None = None  # set once open
        self._opening: asyncio.Task[Stream] | None = None
        self._events: deque[Event] = deque()  # of the current batch, not yet yielded
        self._gate: Gate | None = None
        self._device_requests: DeviceRequestsApi | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> NotificationListener:
        try:
            await self.open()
        except BaseException:
            await self.close()  # nothing calls __aexit__ for an `async with` that failed
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._release(delete=self.delete_channel_on_close, failed=exc is not None)

    def __repr__(self) -> str:
        host = self.api_client.configuration.host
        return f"<mds.aio.NotificationListener {self.channel} {host} {self._state()}>"

    def _state(self) -> str:
        if self._closed:
            return "closed"
        if self._session.stopping:
            return "stopped"
        return "open" if self._stream is not None else "new"

    async def open(self) -> NotificationListener:
        """Open the channel: set the ``subscribe`` rules, check for a conflicting channel,
        register, connect. Idempotent; iterating and sending a request open it too. Returns
        self. Cancelling the awaiting task does not abort the opening (a later call awaits the
        same one); ``close()`` does."""
        await self._opened()
        return self

    async def _opened(self) -> Stream:
        stream = self._stream
        if stream is not None:
            return stream
        if self._closed:
            raise ClientClosedError("this NotificationListener is closed")
        opening = self._opening
        if opening is None:
            opening = self._opening = asyncio.get_running_loop().create_task(
                self._open(), name="mds-aio-open")
            # Retrieved here, so that a failure no task awaited any more is not reported as
            # "never retrieved"; every awaiting task raises it.
            opening.add_done_callback(_retrieve)
        return await asyncio.shield(opening)

    async def _open(self) -> Stream:
        session = self._session
        session.start(self.api_client)
        workers = self.api_client.configuration.connection_pool_maxsize + 1
        self._worker = worker = Worker(max_workers=max(workers, 2))
        self._source = source = self._make_source(worker)
        stream = Stream(session, source, self._counters, self.async_responses,
                        self.max_buffered)
        self._counters.started = time.time()
        try:
            self._gate = await Gate.make(self.checkpoint, self.dedupe_window, worker,
                                         self._counters)
            if self.subscribe is not None:
                rules = SubscriptionsApi(session.client)
                await worker.run(session.call, rules.update_pre_subscriptions, self.subscribe)
            await source.open()
        except Stopped:
            session.stop()
        except BaseException:
            await self._release(delete=False, failed=True)
            raise
        self._stream = stream
        return stream

    def _make_source(self, worker: Worker) -> Source:
        session, counters = self._session, self._counters
        backoff = Backoff(self.reconnect_policy, counters)
        guard = ChannelGuard(session, self.replace_existing)
        if self.channel == WEBSOCKET:
            return WebsocketSource(session, worker, backoff, counters, guard, self._websocket)
        return LongPollSource(SyncLongPollSource(session, backoff, counters, guard), worker)

    async def stop(self) -> None:
        """End the iteration promptly: closes the websocket, or aborts the held long poll.
        Events already received are still yielded, then ``async for`` ends. Returns once the
        channel is no longer read. Idempotent; the listener cannot be restarted."""
        session = self._session
        if not session.stopping:
            # Session.stop() may wait (briefly) for an interrupted request to leave: not on
            # the loop's thread.
            await asyncio.to_thread(session.stop)
        source = self._source
        if source is not None:
            await source.close()
        stream = self._stream
        if stream is not None:
            await stream.finish()

    async def close(self) -> None:
        """Stop, close the connections, finish the listener's threads and, with
        ``delete_channel_on_close``, delete the channel; finish the events the application was
        handed (or, when called while an exception is being handled, release them) and close
        the checkpoint. Idempotent. Errors while deleting the channel or recording the
        checkpoint are logged, not raised."""
        await self._release(delete=self.delete_channel_on_close,
                            failed=sys.exc_info()[1] is not None)

    async def _release(self, delete: bool, failed: bool) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop_everything()
            worker = self._worker
            if worker is None:
                return  # never opened: no client, no channel
            try:
                gate = self._gate
                if gate is not None:
                    await gate.end(failed, self._events)
                if delete and self._stream is not None:
                    await worker.run(self._delete_channel)
            finally:
                await worker.close()
                self._session.close()
        finally:
            self._counters.connected = False
            # A failed opening keeps its exception, whose traceback holds the sockets of the
            # request that failed until it is dropped: the listener no longer needs it.
            self._opening = None

    async def _stop_everything(self) -> None:
        opening = self._opening
        if opening is not None and not opening.done() and opening is not asyncio.current_task():
            await asyncio.to_thread(self._session.stop)
            opening.cancel()
            await asyncio.wait([opening])
        try:
            await self.stop()
        finally:
            stream = self._stream
            if stream is not None:
                await stream.cancel()

    def _delete_channel(self) -> None:
        try:
            if delete_channel(self._session.api, self.channel):
                logger.info("deleted the %s channel", self.channel)
        except MdsError as exc:
            logger.warning("could not delete the %s channel: %s", self.channel, exc)

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` or ``close()`` was called, or the server ended the stream."""
        return self._session.stopping

    @property
    def stats(self) -> ListenerStats:
        """A `mds.ListenerStats` snapshot."""
        return self._counters.snapshot(self.channel)

    @property
    def duplicates_dropped(self) -> int:
        """Events not yielded because they were repeats (dedupe window or checkpoint)."""
        gate = self._gate
        return 0 if gate is None else gate.duplicates_dropped

    # -- iteration -------------------------------------------------------------------------------
    def __aiter__(self) -> NotificationListener:
        return self

    async def __anext__(self) -> Event:
        events = self._events
        gate = self._gate
        if events and gate is not None and not gate.blocking:
            # The common case: an event of the current batch, nothing to record per event.
            return events.popleft()
        return await self._next_event()

    async def _next_event(self) -> Event:
        gate = self._gate or await self._admission()
        if gate.blocking and gate.holding:
            # The application asks for more: it is done with the last one. (In memory only, the
            # gate is told once per batch, before the next is admitted: the same answers.)
            await gate.finish_in_hand()
        events = self._events
        while not events:
            admitted = await gate.events(self._next_batch)
            if admitted is None:
                raise StopAsyncIteration
            events.extend(admitted)
        event = events.popleft()
        if gate.blocking:
            gate.hand(event)
        return event

    async def _admission(self) -> Gate:
        """The gate, made when opening (which this does first, if needed)."""
        await self._opened()
        gate = self._gate
        assert gate is not None  # opened
        return gate

    async def messages(self) -> AsyncIterator[NotificationMessage]:
        """Iterate whole batches (`mds.NotificationMessage`, never empty) instead of events.
        Shares the stream with event iteration; every batch goes to exactly one of them. A
        batch holds the items the gate admits (repeats left out); its items are finished when
        the next batch is asked for. Cancelling the iterating task loses no batch.

        Raises RuntimeError if events of a batch are still buffered from event iteration."""
        gate = self._gate or await self._admission()
        while True:
            if self._events:
                raise RuntimeError(
                    "events of a batch are still buffered: iterate the listener for them first")
            if gate.holding:
                await gate.finish_in_hand()
            batch = await gate.batch(self._next_batch)
            if batch is None:
                return
            if batch is not False:
                yield _as_message(batch)  # type: ignore[arg-type]

    async def _next_batch(self) -> Batch | None:
        stream = self._stream or await self._opened()
        return await stream.next_batch()

    # -- device requests -------------------------------------------------------------------------
    async def request(
        self,
        device_id: str,
        path: str,
        method: str = "GET",
        payload: bytes | str | None = None,
        *,
        content_type: str | None = None,
        accept: str | None = None,
        timeout: float | None = 60.0,
        retry: int | None = None,
        expiry_seconds: int | None = None,
    ) -> AsyncResponse:
        """Send a device request and return the device's answer from this listener's channel:
        `mds.NotificationListener.request`, awaited. Safe from many tasks at once, while
        another task iterates; the answer is never yielded by iteration.

        Raises `mds.AsyncResponseError` (the answer's status is 300 or more),
        `mds.ApiTimeoutError` (no answer within *timeout*), `mds.ClientClosedError` (closed,
        or stopped before the answer came), `mds.ApiValueError` / `mds.ApiTypeError` (a bad
        argument: nothing is sent), and the `mds.ApiException` of a refused request.
        """
        body = device_request(method, path, payload, content_type, accept)
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._closed or self._session.stopping:
            raise ClientClosedError(f"this NotificationListener is {self._state()}: it cannot "
                                    "receive answers any more")
        stream = await self._opened()
        what = f"{body.method} {body.uri} on {device_id}"
        try:
            if not await stream.until_ready(deadline) or (
                    deadline is not None and time.monotonic() >= deadline):
                raise ApiTimeoutError(f"no answer to {what} within {timeout:g} s: the "
                                      f"{self.channel} channel was not open in time (nothing "
                                      "was sent)")
            async_id = str(uuid.uuid4())
            stream.expect(async_id)
            try:
                worker = self._worker
                assert worker is not None  # open
                await worker.run(self._requests_api().create_async_request, device_id,
                                 async_id, body, retry=retry, expiry_seconds=expiry_seconds)
                answer = await stream.answer(async_id, deadline)
            finally:
                stream.forget(async_id)
        except Stopped:
            raise ClientClosedError(
                f"the NotificationListener stopped before the answer to {what} came (stop() or "
                "close() was called, or the service ended the stream)") from None
        if answer is None:
            raise ApiTimeoutError(f"no answer to {what} within {timeout:g} s (async id "
                                  f"{async_id})")
        return answer.raise_for_status()

    async def read(
        self,
        device_id: str,
        path: str,
        *,
        accept: str | None = None,
        timeout: float | None = 60.0,
        retry: int | None = None,
        expiry_seconds: int | None = None,
    ) -> Any:
        """Read a resource: ``await request(device_id, path, "GET", ...)``, returning the
        answer's decoded ``value``. Raises as `request` does."""
        answer = await self.request(device_id, path, accept=accept, timeout=timeout,
                                    retry=retry, expiry_seconds=expiry_seconds)
        return answer.value

    async def write(
        self,
        device_id: str,
        path: str,
        value: Any,
        content_type: str = "text/plain",
        *,
        timeout: float | None = 60.0,
        retry: int | None = None,
        expiry_seconds: int | None = None,
    ) -> AsyncResponse:
        """Write a resource's value (a PUT of *value* encoded as *content_type*, as
        `mds.NotificationListener.write`). Raises as `request` does."""
        payload = encode_value(value, content_type)
        return await self.request(device_id, path, "PUT", payload, content_type=content_type,
                                  timeout=timeout, retry=retry, expiry_seconds=expiry_seconds)

    async def execute(
        self,
        device_id: str,
        path: str,
        payload: bytes | str | None = None,
        *,
        content_type: str | None = None,
        timeout: float | None = 60.0,
        retry: int | None = None,
        expiry_seconds: int | None = None,
    ) -> AsyncResponse:
        """Execute a resource (a POST, with an optional *payload*). Raises as `request`
        does."""
        return await self.request(device_id, path, "POST", payload, content_type=content_type,
                                  timeout=timeout, retry=retry, expiry_seconds=expiry_seconds)

    def _requests_api(self) -> DeviceRequestsApi:
        api = self._device_requests
        if api is None:
            api = self._device_requests = DeviceRequestsApi(self.api_client)
        return api

    # -- the websocket keywords, read back ------------------------------------------------------
    @property
    def register(self) -> bool:
        return self._websocket.register

    @property
    def close_code_policy(self) -> Mapping[int, Action]:
        return self._websocket.close_code_policy

    @property
    def ping_interval(self) -> float | None:
        return self._websocket.ping_interval

    @property
    def ping_timeout(self) -> float | None:
        return self._websocket.ping_timeout

    @property
    def subprotocol_auth(self) -> bool:
        return self._websocket.subprotocol_auth

    @property
    def connect_timeout(self) -> float:
        return self._websocket.connect_timeout

    @property
    def close_timeout(self) -> float:
        return self._websocket.close_timeout


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _as_message(batch: Batch) -> NotificationMessage:
    if isinstance(batch, NotificationMessage):
        return batch
    return NotificationMessage.from_wire(batch)
