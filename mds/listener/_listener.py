"""`NotificationListener`: a batch source of either transport, turned into a stream of events
that survives failures and stops when asked."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from mds.api.channels import LONG_POLL, WEBSOCKET, delete_channel
from mds.api.device_requests_api import DeviceRequestsApi
from mds.api.notifications_api import NotificationsApi
from mds.api.subscriptions_api import SubscriptionsApi
from mds.api_client import ApiClient
from mds.events import AsyncResponse, Event, event_list
from mds.exceptions import ApiTimeoutError, ClientClosedError, MdsError
from mds.listener._long_poll_source import LongPollSource
from mds.listener._policy import DEFAULT_CLOSE_CODE_POLICY, Action, ListenerStats, ReconnectPolicy
from mds.listener._requests import device_request, encode_value
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, BatchSource, ChannelGuard, Counters
from mds.listener._stream import Registry, Stream
from mds.listener._websocket_source import WebsocketOptions, WebsocketSource
from mds.models import NotificationMessage, Presubscription
from mds.models.presubscription import check_presubscriptions

__all__ = ["NotificationListener"]

logger = logging.getLogger("mds.listener")


class NotificationListener:
    """Receive notifications over the websocket (default) or the long poll, for ever.

    Iterate it for typed events (`mds.events`: `ResourceChanged`, `DeviceRegistered`, ...), or
    iterate ``messages()`` for whole `mds.NotificationMessage` batches. A context manager:
    entering opens the channel (so conflicts and bad keys raise there), leaving calls
    ``close()``.

    It also sends device requests and waits for their answers on its channel: ``request()``,
    and the short forms ``read()``, ``write()`` and ``execute()``. These may be called from
    any thread, several at once, whether or not a thread iterates: when none is reading the
    channel, the requesting thread reads it itself and keeps every other event for iteration.

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
    ) -> None:
        if channel not in (WEBSOCKET, LONG_POLL):
            raise ValueError(f"channel must be 'websocket' or 'long-poll', not {channel!r}")
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
            close_timeout=close_timeout,
        )
        self._session = Session()
        self._counters = Counters()
        self._source: BatchSource | None = None  # made when opening
        self._stream: Stream | None = None  # the source's batches, shared out (when open)
        self._open_lock = threading.Lock()  # one thread opens; others wait for it
        self._events: deque[Event] = deque()  # of the current batch, not yet yielded
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
        self.close()

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
        session.start(self.api_client)
        self._source = source = self._make_source()
        self._stream = stream = Stream(session, source, self._counters, self.async_responses)
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
            self._release(delete=False)
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
            events.extend(event_list(batch))
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
            yield _as_message(batch)

    def _next_batch(self) -> Batch | None:
        """The next non-empty batch, or None when the stream has ended."""
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
                way is never cut short, so this may come up to one poll hold late.
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
                                      "was sent)")
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
                                  f"{async_id})")
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


def _as_message(batch: Batch) -> NotificationMessage:
    if isinstance(batch, NotificationMessage):
        return batch
    return NotificationMessage.from_wire(batch)
