"""`NotificationListener`: a batch source of either transport, turned into a stream of events
that survives failures and stops when asked."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

from mds.api.channels import LONG_POLL, WEBSOCKET, delete_channel
from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient
from mds.events import AsyncResponse, Event, event_list
from mds.exceptions import MdsError
from mds.listener._long_poll_source import LongPollSource
from mds.listener._policy import DEFAULT_CLOSE_CODE_POLICY, Action, ListenerStats, ReconnectPolicy
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, BatchSource, ChannelGuard, Counters, batch_size
from mds.listener._websocket_source import WebsocketOptions, WebsocketSource
from mds.models import NotificationMessage

__all__ = ["NotificationListener"]

logger = logging.getLogger("mds.listener")


class _AsyncResponsesLike(Protocol):
    def feed(self, events: Any) -> Any: ...

    def feed_message(self, message: Any) -> Any: ...


class NotificationListener:
    """Receive notifications over the websocket (default) or the long poll, for ever.

    Iterate it for typed events (`mds.events`: `ResourceChanged`, `DeviceRegistered`, ...), or
    iterate ``messages()`` for whole `mds.NotificationMessage` batches. A context manager:
    entering opens the channel (so conflicts and bad keys raise there), leaving calls
    ``close()``.

    Args:
        api_client: the `mds.ApiClient` with the service URL and API key. The listener makes its
            requests on a private copy, so ``stop()`` never disturbs the caller's own calls.
        channel: ``"websocket"`` or ``"long-poll"``.
        register: register the websocket channel when opening (PUT; no effect if it exists).
            With False the channel must exist already. (A long poll needs no registration.)
        replace_existing: when the key has a channel of another type, delete it when opening.
            Without it, opening raises `mds.ChannelConflictError` naming that channel.
        reconnect: a `ReconnectPolicy` (back-off, ``max_failures``, takeover handling).
        close_code_policy: websocket close code → `Action`; codes not in it get ``RECONNECT``.
            Default `DEFAULT_CLOSE_CODE_POLICY`.
        delete_channel_on_close: ``close()`` also deletes the channel (and its queue).
        ping_interval, ping_timeout: websocket keepalive: a ping every ``ping_interval``
            seconds; no pong within ``ping_timeout`` declares the connection dead (reconnect).
        async_responses: an `mds.AsyncResponses` registry fed every batch as it arrives.
        subprotocol_auth: also offer the key as the ``pelion_<key>`` websocket subprotocol.
        connect_timeout: seconds allowed for a websocket handshake.
        close_timeout: seconds a closing websocket waits for the server's close frame (bounds
            how long ``stop()`` can take with a server that went silent).

    Raises (from opening or iterating): `mds.UnauthorizedException` (401, or close 1008),
    `mds.ForbiddenException`, `mds.ChannelConflictError` (another channel type; 409: another
    long poll on the key), and, with ``max_failures``, the last failure's exception.
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
        async_responses: _AsyncResponsesLike | None = None,
        subprotocol_auth: bool = False,
        connect_timeout: float = 10.0,
        close_timeout: float = 0.5,
    ) -> None:
        if channel not in (WEBSOCKET, LONG_POLL):
            raise ValueError(f"channel must be 'websocket' or 'long-poll', not {channel!r}")
        self.api_client = api_client
        self.channel = channel
        self.replace_existing = replace_existing
        self.reconnect_policy = reconnect if reconnect is not None else ReconnectPolicy()
        self.delete_channel_on_close = delete_channel_on_close
        self.async_responses = async_responses
        policy = DEFAULT_CLOSE_CODE_POLICY if close_code_policy is None else close_code_policy
        self._websocket = WebsocketOptions(
            register=register,
            close_code_policy=MappingProxyType(
                {int(code): Action(action) for code, action in policy.items()}),
            ping_interval=ping_interval, ping_timeout=ping_timeout,
            subprotocol_auth=subprotocol_auth, connect_timeout=connect_timeout,
            close_timeout=close_timeout,
        )
        self._session = Session()
        self._counters = Counters()
        self._source: BatchSource | None = None  # made when opening
        self._events: deque[Event] = deque()  # of the current batch, not yet yielded
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> NotificationListener:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "stopped" if self._session.stopping else (
            "open" if self._source is not None else "new")
        return f"<NotificationListener {self.channel} {self.api_client.configuration.host} {state}>"

    def open(self) -> NotificationListener:
        """Open the channel: check for a conflicting channel, register, connect. Idempotent;
        iterating opens it too. Returns self. Raises as described in the class docstring."""
        if self._source is None:
            self._open()
        return self

    def _open(self) -> BatchSource:
        if self._closed:
            raise RuntimeError("this NotificationListener is closed")
        self._session.start(self.api_client)
        self._source = source = self._make_source()
        self._counters.started = time.time()
        try:
            source.open()
        except Stopped:
            self._session.stop()
        except BaseException:
            # Nothing will call close() for a `with` that failed to enter: release it all now,
            # and never delete a channel we did not get.
            self._release(delete=False)
            raise
        return source

    def _make_source(self) -> BatchSource:
        session, counters = self._session, self._counters
        backoff = Backoff(self.reconnect_policy, counters)
        guard = ChannelGuard(session, self.replace_existing)
        if self.channel == WEBSOCKET:
            return WebsocketSource(session, backoff, counters, guard, self._websocket)
        return LongPollSource(session, backoff, counters, guard)

    def stop(self) -> None:
        """End the iteration promptly, from any thread: closes the websocket, or aborts the
        held long poll. Events already received are still yielded, then the iterator ends.
        Idempotent; the listener cannot be restarted."""
        self._session.stop()

    def close(self) -> None:
        """Stop, close the connections and, with ``delete_channel_on_close``, delete the
        channel. Idempotent. Errors while deleting the channel are logged, not raised."""
        self._release(delete=self.delete_channel_on_close)

    def _release(self, delete: bool) -> None:
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._counters.connected = False
        if self._source is None:
            return  # never opened: no client, no channel
        session = self._session
        try:
            if delete:
                self._delete_channel(session.api)
        finally:
            session.close()

    def _delete_channel(self, api: NotificationsApi) -> None:
        try:
            if delete_channel(api, self.channel):
                logger.info("deleted the %s channel", self.channel)
        except MdsError as exc:
            logger.warning("could not delete the %s channel: %s", self.channel, exc)

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` or ``close()`` was called, or the server ended the stream."""
        return self._session.stopping

    @property
    def stats(self) -> ListenerStats:
        """A `ListenerStats` snapshot."""
        return self._counters.snapshot(self.channel)

    # -- iteration -------------------------------------------------------------------------------
    def __iter__(self) -> NotificationListener:
        return self

    def __next__(self) -> Event:
        events = self._events
        if events:
            return events.popleft()
        return self._next_event()

    def _next_event(self) -> Event:
        events = self._events
        while not events:
            batch = self._next_batch()
            if batch is None:
                raise StopIteration
            decoded = event_list(batch)
            registry = self.async_responses
            if registry is not None:
                answers = [e for e in decoded if isinstance(e, AsyncResponse)]
                if answers:
                    registry.feed(answers)
            events.extend(decoded)
        return events.popleft()

    def messages(self) -> Iterator[NotificationMessage]:
        """Iterate whole batches (`mds.NotificationMessage`, never empty) instead of events.
        Shares the stream with event iteration; every batch goes to exactly one of them.

        Raises RuntimeError if events of a batch are still buffered from event iteration
        (iterate the listener until they are consumed first)."""
        while True:
            if self._events:
                raise RuntimeError(
                    "events of a batch are still buffered: iterate the listener for them first"
                )
            batch = self._next_batch()
            if batch is None:
                return
            message = _as_message(batch)
            registry = self.async_responses
            if registry is not None and message.async_responses:
                registry.feed_message(message)
            yield message

    def _next_batch(self) -> Batch | None:
        """The next non-empty batch, or None when the stream has ended."""
        source = self._source or self._open()
        session = self._session
        session.claim()
        try:
            if session.stopping:
                raise Stopped
            batch = source.next_batch()
        except Stopped:
            return self._end(source)
        except MdsError:
            if session.stopping:  # e.g. the private client was closed under a request
                return self._end(source)
            raise
        self._count(batch)
        return batch

    def _end(self, source: BatchSource) -> Batch | None:
        """The stream ended: a batch that had already arrived, if any (then None)."""
        self._session.stop()
        batch = source.drain()
        if batch is not None:
            self._count(batch)
        return batch

    def _count(self, batch: Batch) -> None:
        counters = self._counters
        counters.messages += 1
        counters.events += batch_size(batch)
        counters.last_message_at = time.time()

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


def _as_message(batch: Batch) -> NotificationMessage:
    if isinstance(batch, NotificationMessage):
        return batch
    return NotificationMessage.from_wire(batch)
