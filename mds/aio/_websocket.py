"""The notification websocket on websockets' asyncio client, opened with the options and the
error translation of `mds.websocket` (subprotocol auth, TLS settings, proxy, redacted logs); and
the batch source of an asyncio listener on it (close-code policy, takeovers, back-off: the
synchronous listener's objects)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mds.api.channels import LONG_POLL, WEBSOCKET
from mds.exceptions import (
    ApiException,
    ApiResponseError,
    BadRequestException,
    ChannelConflictError,
    ForbiddenException,
    MdsError,
    UnauthorizedException,
    WebsocketClosedError,
)
from mds.listener._policy import Action
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, ChannelGuard, Counters, has_items, retryable
from mds.listener._websocket_source import (
    Takeovers,
    WebsocketOptions,
    close_action,
    takeover_said,
)
from mds.websocket import connect_options, handshake_errors, parse_frame_dict, websocket_url

if TYPE_CHECKING:
    from mds.aio._worker import Worker
    from mds.api_client import ApiClient

__all__ = ["WebsocketSource", "open_websocket"]

logger = logging.getLogger("mds.listener")

async def open_websocket(
    client: ApiClient,
    *,
    subprotocol_auth: bool = False,
    timeout: float | None = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 0.5,
) -> ClientConnection:
    """Open the notification websocket for *client*'s configuration on the running loop, with
    the options `mds.websocket.connect_options` computes for the synchronous one (headers,
    ``pelion_<key>`` subprotocol with *subprotocol_auth*, TLS settings, proxy, redacted logs).
    Raises the `mds.ApiException` subclass `mds.websocket.handshake_errors` names on failure."""
    options = connect_options(client, subprotocol_auth=subprotocol_auth)
    # asyncio.TimeoutError: the handshake's timeout before Python 3.11.
    with handshake_errors(options.url, timeouts=(TimeoutError, asyncio.TimeoutError)):
        conn = await connect(
            options.url,
            open_timeout=timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            **options.keywords(),
        )
    return conn


class WebsocketSource:
    """The batch source of an asyncio listener's websocket: frames become wire dicts. Used by
    one task at a time (the stream's pump). The REST calls it needs (registration, asking who
    holds the channel) run in the listener's `Worker` through the synchronous `Session`, so
    that ``stop()`` interrupts them as it does for the synchronous listener; the back-off waits
    on the loop, cut short by `close`."""

    __slots__ = ("_backoff", "_conn", "_connected_before", "_connecting", "_counters",
                 "_guard", "_options", "_register_next", "_session", "_takeovers", "_waking",
                 "_worker")

    def __init__(self, session: Session, worker: Worker, backoff: Backoff, counters: Counters,
                 guard: ChannelGuard, options: WebsocketOptions) -> None:
        self._session = session
        self._worker = worker
        self._backoff = backoff
        self._counters = counters
        self._guard = guard
        self._options = options
        self._takeovers = Takeovers(backoff.policy)
        self._register_next = options.register
        self._connected_before = False
        self._conn: ClientConnection | None = None
        self._connecting: asyncio.Future[ClientConnection] | None = None
        self._waking: asyncio.Future[None] | None = None  # ends a back-off wait early

    @property
    def ready(self) -> bool:
        """Registered and connected once: from then on the service queues for the channel."""
        return self._connected_before

    async def open(self) -> None:
        await self._connect()

    async def next_batch(self) -> Batch | None:
        """The next non-empty batch, reconnecting as the policies say; `Stopped` at the end.
        Once stopped, the frames that had already arrived are still returned, then `Stopped`."""
        while True:
            conn = self._conn or await self._connect()
            try:
                frame = await conn.recv()
            except ConnectionClosed as exc:
                received = exc.rcvd
                if received is not None:
                    await self._closed(int(received.code), received.reason)
                else:
                    await self._closed(1006, str(exc))
                continue
            try:
                batch = parse_frame_dict(frame)
            except ApiResponseError as bad:
                self._counters.bad_frames += 1
                logger.warning("skipped a websocket frame that is not a NotificationMessage: %s",
                               bad.reason)
                continue
            if has_items(batch):
                self._backoff.delivered()
                return batch

    async def close(self) -> None:
        """Close the open websocket (the frames it had received can still be read), or give up
        the one being opened, or end the back-off wait."""
        waking = self._waking
        if waking is not None and not waking.done():
            waking.set_result(None)
        connecting = self._connecting
        if connecting is not None:
            connecting.cancel()
        conn = self._conn
        if conn is not None:
            await conn.close()

    async def _connect(self) -> ClientConnection:
        session, backoff = self._session, self._backoff
        while True:
            if session.stopping:
                raise Stopped
            delay = backoff.take_delay()
            if delay > 0:
                await self._pause(delay)
            try:
                if self._register_next:
                    await self._register()
                    self._register_next = False
                conn = await self._open()
            except (UnauthorizedException, ForbiddenException, ChannelConflictError):
                raise
            except ApiException as exc:
                if session.stopping:
                    raise Stopped from None
                if not retryable(exc):
                    raise
                backoff.failure(exc, "could not open the websocket")
                continue
            if session.stopping:
                await conn.close()
                raise Stopped
            self._conn = conn
            counters = self._counters
            if self._connected_before:
                counters.reconnects += 1
            self._connected_before = True
            counters.connected = True
            backoff.connected()
            self._guard.opened()
            logger.info("websocket connected to %s", websocket_url(session.client.configuration.host))
            return conn

    async def _pause(self, delay: float) -> None:
        """Wait *delay* seconds of back-off, or less when `close` (``stop()``) ends the wait;
        `Stopped` then."""
        waking = self._waking = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([waking], timeout=delay)
        finally:
            self._waking = None
        if self._session.stopping:
            raise Stopped

    async def _open(self) -> ClientConnection:
        """Open the websocket in a task of its own, which ``close()`` cancels: ``stop()`` must
        not wait for a handshake that hangs (up to ``connect_timeout``)."""
        session, options = self._session, self._options
        connecting = self._connecting = asyncio.ensure_future(open_websocket(
            session.client, subprotocol_auth=options.subprotocol_auth,
            timeout=options.connect_timeout, ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout, close_timeout=options.close_timeout,
        ))
        try:
            await asyncio.wait([connecting])
        finally:
            self._connecting = None
            if not connecting.done():  # the pump itself was cancelled (closing)
                connecting.cancel()
        if connecting.cancelled():
            raise Stopped
        return connecting.result()

    async def _register(self) -> None:
        """Register the websocket channel (PUT); a channel of another type in the way is named,
        or replaced once when opening with ``replace_existing``."""
        session, run, guard = self._session, self._worker.run, self._guard
        register = session.api.register_websocket
        try:
            await run(session.call, register, self._options.serialization)
            return
        except BadRequestException as exc:
            existing = await run(guard.identify, LONG_POLL)
            if existing is None or existing == WEBSOCKET:
                raise
            await run(guard.settle, exc, existing)
        await run(session.call, register, self._options.serialization)

    async def _closed(self, code: int, reason: str) -> None:
        """Apply the close-code policy: returns to reconnect, raises `Stopped` to end, or
        raises the policy's exception."""
        self._conn = None
        self._counters.connected = False
        if self._session.stopping:
            raise Stopped
        action = close_action(self._options, self._backoff, self._counters, code, reason)
        if action is Action.STOP:
            self._session.stop()
            raise Stopped
        self._register_next = action is Action.REREGISTER
        if code == 1001 and await self._is_takeover(reason):
            self._register_next = False
            self._takeovers.taken_over(self._backoff, self._counters)
            return
        self._backoff.failure(WebsocketClosedError(code, reason), "websocket closed")

    async def _is_takeover(self, reason: str) -> bool:
        said = takeover_said(reason)
        if said is not None:
            return said
        # Not conclusive: ask whether someone else is connected to the channel.
        session = self._session
        try:
            channel = await self._worker.run(session.call, session.api.get_websocket,
                                             _request_timeout=5.0)
        except MdsError:
            return False
        return str(getattr(channel, "status", "")).lower() == "connected"
