"""`NotificationListener`: a batch source of either transport, turned into a stream of events
that survives failures and stops when asked."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from mds._types import UNSET
from mds.api.channels import LONG_POLL, WEBSOCKET, delete_channel
from mds.api.device_requests_api import DeviceRequestsApi
from mds.api.notifications_api import NotificationsApi
from mds.api.subscriptions_api import SubscriptionsApi
from mds.api_client import ApiClient
from mds.checkpoint import DEFAULT_WINDOW, CheckpointStore, Gate
from mds.events import AsyncResponse, Event, event_list
from mds.exceptions import ApiTimeoutError, ApiTypeError, ApiValueError, ClientClosedError, MdsError
from mds.listener._dedupe import Handover, uid_of
from mds.listener._long_poll_source import LongPollSource
from mds.listener._policy import DEFAULT_CLOSE_CODE_POLICY, Action, ListenerStats, ReconnectPolicy
from mds.listener._requests import device_request, encode_value
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, BatchSource, ChannelGuard, Counters
from mds.listener._stream import Registry, Stream
from mds.listener._websocket_source import WebsocketOptions, WebsocketSource
from mds.models import (
    NotificationMessage,
    Presubscription,
    SerializationConfigData,
    SerializationConfigObjectV2,
)
from mds.models.presubscription import check_presubscriptions
from mds.models.serialization_config_data import check_serialization

__all__ = ["NotificationListener"]

logger = logging.getLogger("mds.listener")

#: Most items kept for iteration while request threads read the channel (``max_buffered``).
DEFAULT_MAX_BUFFERED = 10_000


def default_serialization() -> SerializationConfigData:
    """What a listener registers its websocket channel with unless told otherwise: the 2020
    ``cfg`` flags ``include_uid`` (for dropping repeats) and ``include_timestamp``."""
    return SerializationConfigData(
        type="v2", cfg=SerializationConfigObjectV2(include_uid=True, include_timestamp=True))


class NotificationListener:
    """Receive notifications over the websocket (default) or the long poll, for ever.

    Iterate it for typed events (`mds.events`: `ResourceChanged`, `DeviceRegistered`, ...), or
    iterate ``messages()`` for whole `mds.NotificationMessage` batches. A context manager:
    entering opens the channel (so conflicts and bad keys raise there), leaving calls
    ``close()``.

    Repeats are dropped (effectively-once): the websocket channel is registered with the 2020
    ``cfg`` flags ``include_uid`` and ``include_timestamp``, so every item carries a ``uid``,
    and a `mds.checkpoint.Gate` between the channel and the application hands on only items
    whose uid it has not seen finished: within the last ``dedupe_window`` uids in memory, and,
    with a ``checkpoint``, across restarts (and across processes sharing a Redis checkpoint).
    An item is *finished* when the application asks for the next one (the next event, or for
    ``messages()`` the next batch); leaving ``with`` normally, or ``close()``, finishes the last
    one, while leaving ``with`` on an exception (or calling ``close()`` while an exception is
    being handled) releases it, so a redelivery is handed on again. ``stats`` counts what was
    dropped (``duplicates_dropped``, ``busy``). The long poll has no serialization option:
    its items carry no uid, so nothing is deduplicated there (the checkpoint records nothing).

    It also sends device requests and waits for their answers on its channel: ``request()``,
    and the short forms ``read()``, ``write()`` and ``execute()``. These may be called from
    any thread, several at once, whether or not a thread iterates: when none is reading the
    channel, the requesting thread reads it itself and keeps every other event for iteration.

    Args:
        api_client: the `mds.ApiClient` with the service URL and API key. The listener makes its
            requests on a private copy, so ``stop()`` never disturbs the caller's own calls.
        channel: ``"websocket"`` or ``"long-poll"``.
        register: register the websocket channel when opening (PUT; for a channel that exists,
            only its serialization is applied). With False the channel must exist already, with
            whatever serialization it has. (A long poll needs no registration.)
        serialization: the `mds.SerializationConfigData` (or dict) the websocket channel is
            registered with; by default ``include_uid`` and ``include_timestamp``. None
            registers without one, as before 2020 (then items carry no uid: no deduplication).
        checkpoint: where finished uids are recorded, so that a restarted listener skips what it
            finished before: a file path (`mds.checkpoint.SqliteCheckpoint`), a ``redis://``
            URL (`mds.checkpoint.RedisCheckpoint`, ``pip install "mds-client[redis]"``), or a
            `mds.checkpoint.CheckpointStore`; opened with the listener, closed by ``close()``
            (except a store object passed in, which stays the caller's). None (default): only
            the in-memory window.
        dedupe_window: how many of the latest uids are remembered in memory (a bounded window:
            about 200 bytes each).
        max_buffered: most items kept for iteration while threads of ``request()`` read the
            channel (no thread is iterating, or it is busy). Past it, those threads stop reading
            (the service keeps queuing) and wait for the iteration; nothing is dropped. (A
            request from the iterating thread's own loop reads on.)
        replace_existing: when the key has a channel of another type, delete it when opening.
            Without it, opening raises `mds.ChannelConflictError` naming that channel.
        reconnect: a `ReconnectPolicy` (back-off, ``max_failures``, takeover handling).
        close_code_policy: websocket close code → `Action`; codes not in it get ``RECONNECT``.
            Default `DEFAULT_CLOSE_CODE_POLICY`.
        delete_channel_on_close: ``close()`` also deletes the channel (and its queue).
        ping_interval, ping_timeout: websocket keepalive: a ping every ``ping_interval``
            seconds; no pong within ``ping_timeout`` declares the connection dead (reconnect).
        async_responses: an `mds.AsyncResponses` registry fed every batch as it arrives (the
            answers to the listener's own requests excepted).
        subscribe: pre-subscription rules (`mds.Presubscription` objects or dicts) to set when
            opening, with ``SubscriptionsApi.update_pre_subscriptions``: they **replace** every
            rule the API key had (``[]`` removes them all; None, the default, leaves them
            alone). Checked against the service's limits at once (`mds.ApiValueError`).
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
        async_responses: Registry | None = None,
        subprotocol_auth: bool = False,
        connect_timeout: float = 10.0,
        close_timeout: float = 0.5,
        subscribe: Iterable[Presubscription | Mapping[str, Any]] | None = None,
        serialization: SerializationConfigData | Mapping[str, Any] | None = UNSET,
        checkpoint: str | os.PathLike[str] | CheckpointStore | None = None,
        dedupe_window: int = DEFAULT_WINDOW,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        if channel not in (WEBSOCKET, LONG_POLL):
            raise ValueError(f"channel must be 'websocket' or 'long-poll', not {channel!r}")
        if serialization is UNSET:
            serialization = default_serialization()
        elif isinstance(serialization, Mapping):
            serialization = dict(serialization)
        config = check_serialization(serialization)
        for name, limit in (("dedupe_window", dedupe_window), ("max_buffered", max_buffered)):
            if type(limit) is not int:
                raise ApiTypeError(f"{name} must be an int, not {type(limit).__name__}")
            if limit < 1:
                raise ApiValueError(f"{name} must be at least 1, not {limit}")
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike,
                                                                  CheckpointStore)):
            raise ApiTypeError("checkpoint must be a file path, a redis:// URL or a "
                               f"CheckpointStore, not {type(checkpoint).__name__}")
        self.checkpoint = checkpoint
        self.dedupe_window = dedupe_window
        self.max_buffered = max_buffered
        self.subscribe: list[Presubscription] | None = (
            None if subscribe is None else check_presubscriptions(list(subscribe)))
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
            close_timeout=close_timeout, serialization=config,
        )
        self._session = Session()
        self._counters = Counters()
        self._source: BatchSource | None = None  # made when opening
        self._stream: Stream | None = None  # the source's batches, shared out (when open)
        self._open_lock = threading.Lock()  # one thread opens; others wait for it
        self._events: deque[Event] = deque()  # of the current batch, not yet yielded
        self._handover: Handover | None = None  # the gate and what the application holds
        self._unadmitted: Batch | None = None  # read; the gate failed on it: admit it again
        self._device_requests: DeviceRequestsApi | None = None
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
        self._release(delete=self.delete_channel_on_close, failed=exc is not None)

    def __repr__(self) -> str:
        host = self.api_client.configuration.host
        return f"<NotificationListener {self.channel} {host} {self._state()}>"

    def _state(self) -> str:
        if self._closed:
            return "closed"
        if self._session.stopping:
            return "stopped"
        return "open" if self._source is not None else "new"

    def open(self) -> NotificationListener:
        """Open the channel: set the ``subscribe`` rules, check for a conflicting channel,
        register, connect. Idempotent; iterating and sending a request open it too. Returns
        self. Raises as described in the class docstring."""
        self._opened()
        return self

    def _opened(self) -> Stream:
        """The stream of the open listener, opening it first if needed (one thread opens)."""
        with self._open_lock:
            stream = self._stream
            if stream is None:
                stream = self._open()
            return stream

    def _open(self) -> Stream:
        if self._closed:
            raise ClientClosedError("this NotificationListener is closed")
        session = self._session
        # The store first: a checkpoint that cannot be opened raises before any channel work.
        gate = Gate(self.checkpoint, window=self.dedupe_window)
        self._handover = Handover(gate, self._counters)
        session.start(self.api_client)
        self._source = source = self._make_source()
        self._stream = stream = Stream(session, source, self._counters, self.async_responses,
                                       self.max_buffered)
        self._counters.started = time.time()
        try:
            if self.subscribe is not None:
                rules = SubscriptionsApi(session.client)
                session.call(rules.update_pre_subscriptions, self.subscribe)
            source.open()
        except Stopped:
            session.stop()
        except BaseException:
            # Nothing will call close() for a `with` that failed to enter: release it all now,
            # and never delete a channel we did not get.
            self._release(delete=False, failed=True)
            raise
        return stream

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
        channel; finish the item the application holds (or, when called while an exception is
        being handled, release it) and close the checkpoint. Idempotent. Errors while deleting
        the channel or recording the checkpoint are logged, not raised."""
        self._release(delete=self.delete_channel_on_close, failed=sys.exc_info()[1] is not None)

    def _release(self, delete: bool, failed: bool) -> None:
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._counters.connected = False
        handover = self._handover
        if handover is not None:
            handover.end(failed, [uid_of(event) for event in self._events])
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
        handover = self._handover
        if handover is not None and handover.holding:
            handover.finish_in_hand()  # the application asks for more: it is done with those
        events = self._events
        event = events.popleft() if events else self._next_event()
        uid = uid_of(event)
        if uid is not None:
            self._handed().hand(uid)
        return event

    def _next_event(self) -> Event:
        events = self._events
        while not events:
            batch = self._next_batch()
            if batch is None:
                raise StopIteration
            try:
                events.extend(self._handed().events(event_list(batch)))
            except BaseException:
                self._unadmitted = batch  # the gate failed: nothing was claimed; keep it
                raise
        return events.popleft()

    def messages(self) -> Iterator[NotificationMessage]:
        """Iterate whole batches (`mds.NotificationMessage`, never empty) instead of events.
        Shares the stream with event iteration; every batch goes to exactly one of them. A
        batch holds the items the gate admits (repeats left out); the items of a batch are
        finished when the next batch is asked for.

        Raises RuntimeError if events of a batch are still buffered from event iteration
        (iterate the listener until they are consumed first)."""
        while True:
            if self._events:
                raise RuntimeError(
                    "events of a batch are still buffered: iterate the listener for them first"
                )
            handover = self._handover
            if handover is not None and handover.holding:
                handover.finish_in_hand()
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                try:
                    admitted = self._handed().batch(batch)
                except BaseException:
                    self._unadmitted = batch
                    raise
                if admitted is not None:
                    break
            yield _as_message(admitted)

    def _handed(self) -> Handover:
        """The handover of the open listener (a batch came, so it was opened)."""
        handover = self._handover
        assert handover is not None, "the listener was opened before a batch came"
        return handover

    def _next_batch(self) -> Batch | None:
        """The next non-empty batch (first one the gate failed on), or None when the stream has
        ended."""
        batch = self._unadmitted
        if batch is not None:
            self._unadmitted = None
            return batch
        stream = self._stream or self._opened()
        return stream.next_batch()

    # -- device requests -------------------------------------------------------------------------
    def request(
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
        """Send a device request and return the device's answer from this listener's channel.

        Opens the listener first if needed, so that the channel exists before the request is
        sent (with a long poll that no thread is running yet, that takes one poll). Then sends
        *method* on *path* with a fresh async id (a UUID) through
        `mds.DeviceRequestsApi.create_async_request` on ``api_client``, and waits for the
        ``async-responses`` item with that id. That answer is not yielded by iteration; every
        other event is, in order, whichever thread read it.

        Args:
            device_id: the device (endpoint) id.
            path: the resource path (``/3303/0/5700``; the leading slash may be left out; a
                query such as ``?pmax=60`` is allowed).
            method: ``GET``, ``PUT``, ``POST`` or ``DELETE``.
            payload: sent to the device: ``bytes`` as they are, ``str`` as UTF-8.
            content_type: the payload's content type; accept: the content type wanted back.
            timeout: seconds to wait for the answer (None: no limit).
            retry, expiry_seconds: how long the service keeps trying a device it cannot reach
                (0 to 10 retries; 60 s to 30 days); the service's defaults when None.

        Returns the `mds.AsyncResponse` (2xx ``status``; ``value`` decoded by its content type).

        Raises:
            mds.AsyncResponseError: the answer's status is 300 or more (``.status``,
                ``.error``, ``.response``): the device refused, or the service could not
                deliver the request (``REQUEST_EXPIRED``, ``NOT_CONNECTED``, ``TIMEOUT``...).
            mds.ApiTimeoutError: no answer within *timeout*. With the long poll, a poll under
                way is never cut short, so this may come up to one poll hold late. Also when
                ``max_buffered`` notifications wait for iteration (no thread iterates, or it
                is behind): the request then stops reading the channel, and says so.
            mds.ClientClosedError: the listener is closed, or stopped before the answer came
                (``stop()`` from another thread ends a waiting request at once).
            mds.ApiValueError, mds.ApiTypeError: a bad argument (nothing is sent), and the
                `mds.ApiException` of a refused request (404 ``DEVICE_NOT_FOUND``, 400
                ``QUEUE_IS_FULL``...) or of a failure to open the listener.
        """
        body = device_request(method, path, payload, content_type, accept)
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._closed or self._session.stopping:
            raise ClientClosedError(f"this NotificationListener is {self._state()}: it cannot "
                                    "receive answers any more")
        stream = self._opened()
        what = f"{body.method} {body.uri} on {device_id}"
        try:
            if not stream.until_ready(deadline) or (
                    deadline is not None and time.monotonic() >= deadline):
                raise ApiTimeoutError(f"no answer to {what} within {timeout:g} s: the "
                                      f"{self.channel} channel was not open in time (nothing "
                                      "was sent)" + _backlog(stream))
            async_id = str(uuid.uuid4())
            stream.expect(async_id)
            try:
                self._requests_api().create_async_request(
                    device_id, async_id, body, retry=retry, expiry_seconds=expiry_seconds)
                answer = stream.answer(async_id, deadline)
            finally:
                stream.forget(async_id)
        except Stopped:
            raise ClientClosedError(
                f"the NotificationListener stopped before the answer to {what} came (stop() or "
                "close() was called, or the service ended the stream)") from None
        if answer is None:
            raise ApiTimeoutError(f"no answer to {what} within {timeout:g} s (async id "
                                  f"{async_id})" + _backlog(stream))
        return answer.raise_for_status()

    def read(
        self,
        device_id: str,
        path: str,
        *,
        accept: str | None = None,
        timeout: float | None = 60.0,
        retry: int | None = None,
        expiry_seconds: int | None = None,
    ) -> Any:
        """Read a resource: ``request(device_id, path, "GET", ...)``, returning the answer's
        decoded ``value`` (None without a payload). Raises as `request` does."""
        return self.request(device_id, path, accept=accept, timeout=timeout, retry=retry,
                            expiry_seconds=expiry_seconds).value

    def write(
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
        """Write a resource's value: a PUT of *value* encoded as *content_type* (``bytes`` as
        they are; JSON types: its JSON; other types: a ``str`` as UTF-8, a number or bool as
        JSON writes it, ``21.5``, ``true``). Returns the `mds.AsyncResponse`; raises as
        `request` does, and `mds.ApiTypeError` for a value that cannot be encoded."""
        payload = encode_value(value, content_type)
        return self.request(device_id, path, "PUT", payload, content_type=content_type,
                            timeout=timeout, retry=retry, expiry_seconds=expiry_seconds)

    def execute(
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
        """Execute a resource (a POST, with an optional *payload* of *content_type*). Returns
        the `mds.AsyncResponse` (whatever the device answered is its ``value``); raises as
        `request` does."""
        return self.request(device_id, path, "POST", payload, content_type=content_type,
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


def _backlog(stream: Stream) -> str:
    """Why a request could not read the channel, when that is why it timed out."""
    if not stream.full:
        return ""
    return (f"; the listener holds {stream.buffered} notifications that no thread has iterated "
            f"yet (max_buffered={stream.max_buffered}), so requests stopped reading the channel: "
            "iterate the listener (or messages()) to take them")


def _as_message(batch: Batch) -> NotificationMessage:
    if isinstance(batch, NotificationMessage):
        return batch
    return NotificationMessage.from_wire(batch)
