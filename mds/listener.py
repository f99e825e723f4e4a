"""NotificationListener: a stream of notifications over the websocket or the long poll, that
survives dropped connections, restarts of the service and rate limits, and stops when asked.

::

    with NotificationListener(api_client) as listener:        # websocket by default
        for event in listener:                                # typed events (mds.events)
            print(event)

What happens when the websocket closes is data, not code: `DEFAULT_CLOSE_CODE_POLICY` maps each
close code to an `Action`, and a listener takes an overriding mapping as ``close_code_policy``.
Back-off is described by a `ReconnectPolicy`. ``listener.stats`` is a `ListenerStats` snapshot.

Threads: the listener starts none of its own (the websocket library runs one reader thread per
connection, which also answers and sends pings). Everything happens in the thread that iterates;
``stop()`` may be called from any other thread and makes the iteration end within a fraction of
a second, even while a long poll is held by the service.
"""

from __future__ import annotations

import copy
import enum
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient
from mds.events import AsyncResponse, Event, event_list
from mds.exceptions import (
    ApiException,
    ApiResponseError,
    ApiTransportError,
    BadRequestException,
    ChannelConflictError,
    ConflictException,
    ForbiddenException,
    GoneException,
    MdsError,
    NotFoundException,
    TooManyRequestsException,
    UnauthorizedException,
    WebsocketClosedError,
)
from mds.models import NotificationMessage

if TYPE_CHECKING:
    from mds.websocket import WebsocketConnection

__all__ = [
    "DEFAULT_CLOSE_CODE_POLICY",
    "Action",
    "ListenerStats",
    "NotificationListener",
    "ReconnectPolicy",
    "existing_channel",
]

logger = logging.getLogger("mds.listener")

#: Channel names, as `mds.ChannelConflictError.channel` uses them.
WEBSOCKET = "websocket"
LONG_POLL = "long-poll"
WEBHOOK = "webhook"
_MECHANISMS = {"CALLBACK": WEBHOOK, "LONG_POLLING": LONG_POLL, "WEB_SOCKET": WEBSOCKET}


class Action(str, enum.Enum):
    """What a `NotificationListener` does when the websocket closes with a given code."""

    #: End the iteration cleanly (no exception).
    STOP = "stop"
    #: Open a new connection after a back-off delay (`ReconnectPolicy`).
    RECONNECT = "reconnect"
    #: Register the websocket channel again (PUT), then reconnect after a back-off delay.
    REREGISTER = "reregister"
    #: Raise `mds.UnauthorizedException`: the API key is missing or invalid; retrying is useless.
    RAISE_UNAUTHORIZED = "raise_unauthorized"
    #: Raise `mds.WebsocketClosedError` (with ``code`` and ``close_reason``).
    RAISE = "raise"


#: The close-code policy of the service (see SERVICE.md); codes not listed get ``RECONNECT``.
#: Read-only: pass ``{**DEFAULT_CLOSE_CODE_POLICY, 1000: Action.RECONNECT}`` to change it.
DEFAULT_CLOSE_CODE_POLICY: Mapping[int, Action] = MappingProxyType(
    {
        1000: Action.STOP,  # normal: the channel was deleted over REST (or we closed)
        1001: Action.REREGISTER,  # going away: taken over, channel deleted, server shutting down
        1006: Action.RECONNECT,  # connection lost without a close frame (incl. keepalive timeout)
        1008: Action.RAISE_UNAUTHORIZED,  # policy violation: the API key is missing or invalid
        1011: Action.REREGISTER,  # unexpected condition, e.g. no channel registered
        1012: Action.RECONNECT,  # service restart
        1013: Action.RECONNECT,  # try again later
    }
)


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a `NotificationListener` waits between attempts.

    Back-off after a failure (a lost connection, a 429/5xx, a network error): the n-th
    consecutive failure waits a random time between 0 and ``min(max_delay, initial_delay *
    multiplier ** (n - 1))`` ("full jitter"; ``jitter=False`` waits the upper bound). The count
    starts again after a healthy connection: one that delivered a message or stayed open for
    ``healthy_after`` seconds. A 429 with ``Retry-After`` waits at least that long.

    ``max_failures``: after this many consecutive failures the listener raises the last error;
    None (the default) never gives up (every failure is logged at WARNING on ``mds.listener``).

    Takeovers (another consumer opened the websocket of the same API key, so the service closed
    ours with 1001) are not failures: the listener waits ``takeover_delay``, doubled for each
    further takeover within ``takeover_window`` seconds, capped at ``takeover_max_delay``, so
    two consumers never fight over the channel in a tight loop. With ``max_takeovers`` set,
    more takeovers than that within the window raise `mds.ChannelConflictError`.
    """

    # Not urllib3's Retry: that one bounds a single request's attempts; this one paces an
    # unbounded stream (reset after healthy connections, close codes, takeovers) and is also
    # used for the websocket, which urllib3 never sees.

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: bool = True
    healthy_after: float = 30.0
    max_failures: int | None = None
    takeover_delay: float = 5.0
    takeover_max_delay: float = 300.0
    takeover_window: float = 600.0
    max_takeovers: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial_delay", "max_delay", "healthy_after", "takeover_delay",
                     "takeover_max_delay", "takeover_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"ReconnectPolicy.{name} must not be negative")
        if self.multiplier < 1:
            raise ValueError("ReconnectPolicy.multiplier must be at least 1")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError("ReconnectPolicy.max_failures must be None or at least 1")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1 for the first)."""
        exponent = max(0, failures - 1)
        try:
            cap = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        except OverflowError:
            cap = self.max_delay
        if not self.jitter:
            return cap
        return (rng or random).uniform(0.0, cap)

    def takeover_wait(self, recent: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``recent``-th takeover within the window (1 for the first).
        Between half and all of the doubled delay, so that two consumers drift apart."""
        try:
            cap = min(self.takeover_max_delay, self.takeover_delay * 2.0 ** max(0, recent - 1))
        except OverflowError:
            cap = self.takeover_max_delay
        if not self.jitter:
            return cap
        return (rng or random).uniform(cap / 2.0, cap)


@dataclass(frozen=True)
class ListenerStats:
    """A snapshot of a listener's health (``listener.stats``; each read makes a new one).

    ``messages``: batches received; ``events``: items in them; ``reconnects``: times delivery
    was re-established after a close or a failure; ``takeovers``: times another consumer took
    the websocket channel; ``failures``: failures seen in all, ``consecutive_failures`` since the
    last success; ``bad_frames``: frames that were not a NotificationMessage (logged, skipped);
    ``last_close_code`` / ``last_close_reason``: of the last websocket close; ``last_error``: the
    text of the last failure; ``connected``: a websocket is open (long poll: the last poll
    succeeded); ``started``: `time.time` when the listener opened (None before);
    ``last_message_at``: `time.time` of the last batch.
    """

    channel: str
    connected: bool = False
    started: float | None = None
    messages: int = 0
    events: int = 0
    reconnects: int = 0
    takeovers: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    bad_frames: int = 0
    last_close_code: int | None = None
    last_close_reason: str | None = None
    last_error: str | None = None
    last_message_at: float | None = None


class _AsyncResponsesLike(Protocol):
    def feed(self, events: Any) -> Any: ...

    def feed_message(self, message: Any) -> Any: ...


class _Stopped(Exception):
    """Internal: the listener was stopped (or the server ended the stream); end the iteration."""


# -- batches as wire dicts ----------------------------------------------------------------------
# Iterating events needs no NotificationMessage: the listener parses each websocket frame with
# json.loads and reads events straight from the wire dict, which skips wrapping every item in a
# model (about a fifth of the time json.loads takes). ``messages()`` still yields models, and
# long-poll answers come as models from the API client (their items are read in place).

#: The JSON keys of the item lists of a NotificationMessage.
_KINDS = tuple(f.key for f in NotificationMessage._fields)


def _has_items(data: Mapping[str, Any]) -> bool:
    """``bool(NotificationMessage)`` of a wire dict: some kind has items."""
    return any(data.get(key) for key in _KINDS)


def _size(data: Mapping[str, Any]) -> int:
    """The items of a batch (``len(NotificationMessage)``), counting a kind whose value is not a
    list as the one error event it becomes (``len()`` of it would count characters, or fail)."""
    total = 0
    for key in _KINDS:
        items = data.get(key)
        if items:
            total += len(items) if type(items) is list else 1
    return total


def _parse_wire(frame: str | bytes) -> dict[str, Any]:
    """The wire dict of a websocket frame that `mds.websocket.parse_frame` accepts; for any
    other frame, raises the `ApiResponseError` that ``parse_frame`` raises (it is asked)."""
    try:
        doc = json.loads(frame)
    except ValueError:
        doc = None
    if type(doc) is dict and NotificationMessage._fits(doc):
        return doc
    from mds.websocket import parse_frame

    return parse_frame(frame)._wire()


def existing_channel(api_client: ApiClient) -> str | None:
    """The notification channel the API key of *api_client* has: ``"webhook"``,
    ``"websocket"``, ``"long-poll"`` or None (none, or a long poll on a service too old to say).

    Asks ``GET /v2/notification/channel`` (2020 services), then falls back to probing
    ``get_webhook()`` and ``get_websocket()``. Raises `mds.ApiException` subclasses for
    failures other than 404.
    """
    try:
        answer = api_client.call_api(
            "/v2/notification/channel", "GET", response_type="object",
            _return_http_data_only=True,
        )
    except NotFoundException:
        answer = None
    if isinstance(answer, dict):
        name = _MECHANISMS.get(str(answer.get("delivery_mechanism", "")).upper())
        if name is not None:
            return name
    api = NotificationsApi(api_client)
    try:
        api.get_webhook()
        return WEBHOOK
    except NotFoundException:
        pass
    try:
        api.get_websocket()
        return WEBSOCKET
    except NotFoundException:
        pass
    return None


def _private_client(api_client: ApiClient) -> ApiClient:
    """A client of the same service and key whose requests the listener alone makes, so that
    ``stop()`` can abort them with ``interrupt()`` without touching the caller's requests. Its
    transport retries are off: the listener retries itself, logging every failure."""
    configuration = copy.copy(api_client.configuration)
    configuration.retries = False
    # Only the log settings are per client; the private one logs through the shared logger.
    configuration.debug = False
    configuration.logger_file = None
    client = ApiClient(configuration, cookie=api_client.cookie)
    for name, value in api_client.default_headers.items():
        client.default_headers[name] = value
    return client


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
        self.register = register
        self.replace_existing = replace_existing
        self.reconnect_policy = reconnect if reconnect is not None else ReconnectPolicy()
        policy = DEFAULT_CLOSE_CODE_POLICY if close_code_policy is None else close_code_policy
        self.close_code_policy: Mapping[int, Action] = MappingProxyType(
            {int(code): Action(action) for code, action in policy.items()}
        )
        self.delete_channel_on_close = delete_channel_on_close
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.async_responses = async_responses
        self.subprotocol_auth = subprotocol_auth
        self.connect_timeout = connect_timeout
        self.close_timeout = close_timeout

        # Re-entrant: stop() may run in a signal handler on top of the iterating thread.
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._client: ApiClient | None = None
        self._api: NotificationsApi | None = None
        self._conn: WebsocketConnection | None = None
        self._opened = False
        self._closed = False
        self._finished = False  # the stream ended (stop(), or the server's 1000)
        self._in_call = False  # a request of the private client may be in flight
        self._events: deque[Event] = deque()
        self._rng = random.Random()
        # websocket state
        self._need_register = False
        self._delay = 0.0
        self._connected_at = 0.0
        self._conn_messages = 0
        self._connections = 0
        self._takeover_times: deque[float] = deque()
        self._first_open = True
        # counters (written by the iterating thread only)
        self._started: float | None = None
        self._messages_count = 0
        self._events_count = 0
        self._reconnects = 0
        self._takeovers = 0
        self._failures = 0
        self._consecutive = 0
        self._bad_frames = 0
        self._last_close: tuple[int, str] | None = None
        self._last_error: str | None = None
        self._last_message_at: float | None = None
        self._connected = False

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
        state = "closed" if self._closed else "stopped" if self._finished else (
            "open" if self._opened else "new")
        return f"<NotificationListener {self.channel} {self.api_client.configuration.host} {state}>"

    def open(self) -> NotificationListener:
        """Open the channel: check for a conflicting channel, register, connect. Idempotent;
        iterating opens it too. Returns self. Raises as described in the class docstring."""
        if self._opened:
            return self
        if self._closed:
            raise RuntimeError("this NotificationListener is closed")
        with self._lock:
            if self._client is None:
                self._client = _private_client(self.api_client)
                self._api = NotificationsApi(self._client)
        self._opened = True
        self._started = time.time()
        try:
            if self.channel == WEBSOCKET:
                self._need_register = self.register
                self._ws_connect()
            else:
                self._poll_open()
        except _Stopped:
            self._finished = True
        except BaseException:
            # Nothing will call close() for a `with` that failed to enter: release it all now,
            # and never delete a channel we did not get.
            self._release(delete=False)
            raise
        return self

    def stop(self) -> None:
        """End the iteration promptly, from any thread: closes the websocket, or aborts the
        held long poll. Events already received are still yielded, then the iterator ends.
        Idempotent; the listener cannot be restarted."""
        with self._lock:
            self._stop_event.set()
            conn = self._conn
            client = self._client
            in_call = self._in_call
        if conn is not None:
            conn.close()
        if client is not None and in_call:
            # A request that was about to connect when interrupt() ran would escape it: repeat
            # until the iterating thread has left the call (bounded; local calls take ms).
            deadline = time.monotonic() + 2.0
            while True:
                client.interrupt()
                with self._lock:
                    if not self._in_call:
                        break
                if time.monotonic() >= deadline or threading.current_thread() is self._owner():
                    break
                time.sleep(0.01)

    def close(self) -> None:
        """Stop, close the connections and, with ``delete_channel_on_close``, delete the
        channel. Idempotent. Errors while deleting the channel are logged, not raised."""
        self._release(delete=self.delete_channel_on_close)

    def _release(self, delete: bool) -> None:
        if self._closed:
            return
        self.stop()
        self._closed = True
        with self._lock:
            client, self._client = self._client, None
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._connected = False
        if client is None:
            return
        try:
            if delete and self._opened:
                self._delete_own_channel(client)
        finally:
            client.close()

    def _owner(self) -> threading.Thread | None:
        return getattr(self, "_iterating_thread", None)

    def _delete_own_channel(self, client: ApiClient) -> None:
        api = NotificationsApi(client)
        try:
            if self.channel == WEBSOCKET:
                api.delete_websocket()
            else:
                api.delete_long_poll_channel()
            logger.info("deleted the %s channel", self.channel)
        except NotFoundException:
            pass
        except MdsError as exc:
            logger.warning("could not delete the %s channel: %s", self.channel, exc)

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` or ``close()`` was called, or the server ended the stream."""
        return self._finished or self._stop_event.is_set()

    @property
    def stats(self) -> ListenerStats:
        """A `ListenerStats` snapshot."""
        close = self._last_close
        return ListenerStats(
            channel=self.channel,
            connected=self._connected,
            started=self._started,
            messages=self._messages_count,
            events=self._events_count,
            reconnects=self._reconnects,
            takeovers=self._takeovers,
            failures=self._failures,
            consecutive_failures=self._consecutive,
            bad_frames=self._bad_frames,
            last_close_code=close[0] if close else None,
            last_close_reason=close[1] if close else None,
            last_error=self._last_error,
            last_message_at=self._last_message_at,
        )

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
            data = self._next_batch(wire=True)
            if data is None:
                raise StopIteration
            events.extend(self._decode(data))
        return events.popleft()

    def _decode(self, data: dict[str, Any]) -> list[Event]:
        decoded = event_list(data)
        registry = self.async_responses
        if registry is not None and data.get("async-responses"):
            registry.feed([e for e in decoded if isinstance(e, AsyncResponse)])
        return decoded

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
            message = self._next_message()
            if message is None:
                return
            registry = self.async_responses
            if registry is not None and message.async_responses:
                registry.feed_message(message)
            yield message

    def _next_message(self) -> NotificationMessage | None:
        """The next non-empty batch, or None when the stream has ended."""
        return self._next_batch(wire=False)  # type: ignore[no-any-return]

    def _next_batch(self, wire: bool) -> Any:
        """The next non-empty batch, or None when the stream has ended: a `NotificationMessage`,
        or with *wire* its wire dict (websocket frames are then never wrapped in models)."""
        if not self._opened:
            self.open()
        self._iterating_thread = threading.current_thread()
        try:
            if self._finished:
                raise _Stopped
            if self.channel == WEBSOCKET:
                batch = self._ws_next(wire)
            else:
                batch = self._poll_next()
                if wire:
                    batch = batch._wire()
        except _Stopped:
            self._finished = True
            return self._drain(wire)
        except MdsError:
            if self.stopped:  # e.g. the private client was closed under a request
                self._finished = True
                return self._drain(wire)
            raise
        self._count(batch)
        return batch

    def _count(self, batch: NotificationMessage | dict[str, Any]) -> None:
        self._messages_count += 1
        self._events_count += _size(
            batch._wire() if isinstance(batch, NotificationMessage) else batch)
        self._conn_messages += 1
        self._last_message_at = time.time()

    def _drain(self, wire: bool) -> Any:
        """After a stop: a batch that had already reached the websocket's buffer, if any (as
        in `_next_batch`)."""
        conn = self._conn
        if conn is None:
            return None
        while True:
            try:
                if wire:
                    batch: Any = _parse_wire(conn.recv_raw(timeout=0))
                    full = _has_items(batch)
                else:
                    batch = conn.recv(timeout=0)
                    full = bool(batch)
            except ApiResponseError:
                self._bad_frames += 1
                continue
            except MdsError:
                self._forget_conn(conn)
                return None
            if full:
                self._count(batch)
                return batch

    # -- websocket ------------------------------------------------------------------------------
    def _ws_next(self, wire: bool) -> NotificationMessage | dict[str, Any]:
        while True:
            conn = self._conn
            if conn is None:
                conn = self._ws_connect()
            try:
                if wire:
                    data = _parse_wire(conn.recv_raw())
                    if _has_items(data):
                        return data
                    continue
                message = conn.recv()
            except ApiResponseError as exc:
                self._bad_frames += 1
                logger.warning("skipped a websocket frame that is not a NotificationMessage: %s",
                               exc.reason)
                continue
            except WebsocketClosedError as exc:
                self._ws_closed(conn, int(exc.code or 1006), exc.close_reason)
                continue
            except ApiTransportError as exc:
                self._ws_closed(conn, 1006, str(exc))
                continue
            if message:
                return message

    def _ws_connect(self) -> WebsocketConnection:
        """Register if needed, wait out the pending delay, open the websocket; retries
        failures with back-off. Raises _Stopped when stopped."""
        from mds.websocket import open_websocket

        while True:
            self._wait(self._delay)
            self._delay = 0.0
            assert self._client is not None
            try:
                if self._need_register:
                    self._ws_register()
                    self._need_register = False
                with self._lock:
                    if self._stop_event.is_set():
                        raise _Stopped
                conn = open_websocket(
                    self._client, subprotocol_auth=self.subprotocol_auth,
                    timeout=self.connect_timeout, ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout, close_timeout=self.close_timeout,
                )
            except (UnauthorizedException, ForbiddenException, ChannelConflictError):
                raise
            except ApiException as exc:
                if self.stopped:
                    raise _Stopped from None
                if isinstance(exc, ApiException) and not _retryable(exc):
                    raise
                self._failure(exc, "could not open the websocket")
                continue
            with self._lock:
                self._conn = conn
                stopped = self._stop_event.is_set()
            if stopped:
                conn.close()
                raise _Stopped
            self._connections += 1
            if self._connections > 1:
                self._reconnects += 1
            self._connected = True
            self._connected_at = time.monotonic()
            self._conn_messages = 0
            self._first_open = False
            logger.info("websocket connected to %s", conn.url)
            return conn

    def _ws_register(self) -> None:
        assert self._api is not None
        try:
            self._call(self._api.register_websocket)
            return
        except BadRequestException as exc:
            if isinstance(exc, ChannelConflictError):
                raise
            existing = self._identify_channel(exc, default=LONG_POLL)
            if existing is None or existing == WEBSOCKET:
                raise
            if not (self.replace_existing and self._first_open):
                raise _conflict(exc, existing) from None
            self._replace(existing)
        self._call(self._api.register_websocket)

    def _ws_closed(self, conn: WebsocketConnection, code: int, reason: str) -> None:
        """Apply the close-code policy to a closed websocket. Returns to reconnect, raises
        _Stopped to end, or raises the policy's exception."""
        self._forget_conn(conn)
        if self.stopped:
            raise _Stopped
        self._last_close = (code, reason)
        lasted = time.monotonic() - self._connected_at
        if self._conn_messages or lasted >= self.reconnect_policy.healthy_after:
            self._consecutive = 0
        action = self.close_code_policy.get(code, Action.RECONNECT)
        if action is Action.STOP:
            logger.info("websocket closed by the service with %d (%s): stopping", code, reason)
            raise _Stopped
        if action is Action.RAISE_UNAUTHORIZED:
            raise UnauthorizedException(
                401, f"websocket closed with {code} (API key missing or invalid)"
                + (f": {reason}" if reason else ""))
        if action is Action.RAISE:
            raise WebsocketClosedError(code, reason)
        self._need_register = action is Action.REREGISTER
        if code == 1001 and self._is_takeover(reason):
            self._takeover(reason)
            return
        self._failure(WebsocketClosedError(code, reason), "websocket closed")

    def _forget_conn(self, conn: WebsocketConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        self._connected = False
        conn.close()

    def _is_takeover(self, reason: str) -> bool:
        text = (reason or "").lower()
        if any(word in text for word in ("another", "took over", "taken over", "takeover",
                                         "new connection")):
            return True
        if "shut" in text or "delet" in text:
            return False
        # The reason is not conclusive: ask whether someone else is connected to the channel.
        assert self._api is not None
        try:
            channel = self._call(self._api.get_websocket, _request_timeout=5.0)
        except MdsError:
            return False
        return str(getattr(channel, "status", "")).lower() == "connected"

    def _takeover(self, reason: str) -> None:
        policy = self.reconnect_policy
        now = time.monotonic()
        times = self._takeover_times
        times.append(now)
        while times and now - times[0] > policy.takeover_window:
            times.popleft()
        self._takeovers += 1
        self._need_register = False
        if policy.max_takeovers is not None and len(times) > policy.max_takeovers:
            raise ChannelConflictError(
                409, f"another consumer took the websocket channel {len(times)} times within "
                f"{policy.takeover_window:g} s", channel=WEBSOCKET)
        self._delay = policy.takeover_wait(len(times), self._rng)
        logger.warning(
            "another consumer took over the websocket channel of this API key (%d time(s) "
            "recently, %d in all); reconnecting in %.1f s. Only one connection per key receives "
            "notifications.", len(times), self._takeovers, self._delay)

    # -- long poll ------------------------------------------------------------------------------
    def _poll_open(self) -> None:
        """Refuse (or replace) a channel of another type before the first poll."""
        assert self._client is not None
        try:
            existing = self._call(existing_channel, self._client_or_stop())
        except (UnauthorizedException, ForbiddenException):
            raise
        except MdsError as exc:
            if self.stopped:
                raise _Stopped from None
            logger.debug("could not ask which channel exists: %s", exc)
            return
        if existing is None or existing == LONG_POLL:
            return
        if not self.replace_existing:
            raise ChannelConflictError(
                400, "other type of channel already exists", channel=existing)
        self._replace(existing)

    def _client_or_stop(self) -> ApiClient:
        client = self._client
        if client is None:
            raise _Stopped
        return client

    def _poll_next(self) -> NotificationMessage:
        assert self._api is not None
        api = self._api
        while True:
            self._wait(self._delay)
            self._delay = 0.0
            try:
                message = self._call(api.long_poll_notifications)
            except (UnauthorizedException, ForbiddenException, ChannelConflictError):
                raise
            except ConflictException as exc:
                raise _conflict(exc, LONG_POLL, "another long poll is waiting on this API key") \
                    from None
            except BadRequestException as exc:
                if self.stopped:
                    raise _Stopped from None
                existing = self._identify_channel(exc, default=None)
                if existing is None or existing == LONG_POLL:
                    self._failure(exc, "long poll failed")
                    continue
                if not (self.replace_existing and self._first_open):
                    raise _conflict(exc, existing) from None
                self._replace(existing)
                continue
            except MdsError as exc:
                if self.stopped:
                    raise _Stopped from None
                if isinstance(exc, ApiException) and not _retryable(exc) \
                        and not isinstance(exc, GoneException):
                    raise
                self._failure(exc, "long poll failed")
                continue
            self._first_open = False
            if not self._connected:
                self._connected = True
                if self._failures:
                    self._reconnects += 1
            self._consecutive = 0
            if message:
                return message  # type: ignore[no-any-return]

    # -- shared ---------------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one request of the private client, marked so that stop() can abort it."""
        with self._lock:
            if self._stop_event.is_set():
                raise _Stopped
            self._in_call = True
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._in_call = False

    def _identify_channel(self, exc: ApiException, default: str | None) -> str | None:
        """Which channel a 400 on registration (or on a poll) complains about."""
        try:
            found = self._call(existing_channel, self._client_or_stop())
        except MdsError as probe_error:
            if self.stopped:
                raise _Stopped from None
            logger.debug("could not ask which channel exists: %s", probe_error)
            return None
        return found if found is not None else default

    def _replace(self, existing: str) -> None:
        assert self._api is not None
        api = self._api
        logger.warning("deleting the existing %s channel of this API key (replace_existing)",
                       existing)
        try:
            if existing == WEBHOOK:
                self._call(api.deregister_webhook)
            elif existing == WEBSOCKET:
                self._call(api.delete_websocket)
            else:
                self._call(api.delete_long_poll_channel)
        except NotFoundException:
            pass
        self._first_open = False

    def _failure(self, exc: BaseException, what: str) -> None:
        """Count and log a failure, choose the back-off delay; raise it past max_failures."""
        self._failures += 1
        self._consecutive += 1
        self._connected = False
        self._last_error = f"{type(exc).__name__}: {exc}"
        policy = self.reconnect_policy
        if policy.max_failures is not None and self._consecutive >= policy.max_failures:
            logger.error("%s: %s; giving up after %d consecutive failures", what, exc,
                         self._consecutive)
            raise exc
        delay = policy.delay(self._consecutive, self._rng)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        self._delay = delay
        logger.warning("%s: %s; retrying in %.2f s (failure %d in a row)", what, exc, delay,
                       self._consecutive)

    def _wait(self, delay: float) -> None:
        if self._stop_event.is_set():
            raise _Stopped
        if delay > 0 and self._stop_event.wait(delay):
            raise _Stopped


def _retryable(exc: ApiException) -> bool:
    """Failures worth retrying: no answer, 429, 5xx, 410 (long poll purge), a bad 2xx body."""
    return (
        isinstance(exc, (ApiTransportError, TooManyRequestsException, GoneException,
                         ApiResponseError))
        or exc.status >= 500
        or exc.status == 0
    )


def _conflict(exc: ApiException, channel: str, reason: str | None = None) -> ChannelConflictError:
    return ChannelConflictError(
        exc.status, reason or exc.reason or "other type of channel already exists", exc.body,
        exc.headers, channel=channel,
    )
