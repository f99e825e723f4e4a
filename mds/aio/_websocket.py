"""The notification websocket on websockets' asyncio client: opening it as `mds.websocket` opens
the synchronous one (subprotocol auth, TLS settings, proxy, redacted logs), translating the
library's exceptions into `mds` exceptions at this one boundary; and the batch source of an
asyncio listener on it (close-code policy, takeovers, back-off: the synchronous listener's
objects)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from mds.api.channels import LONG_POLL, WEBSOCKET
from mds.exceptions import (
    SENSITIVE_HEADERS,
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiTimeoutError,
    ApiTLSError,
    ApiValueError,
    BadRequestException,
    ChannelConflictError,
    ClientClosedError,
    ForbiddenException,
    MdsError,
    UnauthorizedException,
    WebsocketClosedError,
    exception_for_status,
)
from mds.listener._policy import Action
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, ChannelGuard, Counters, has_items, retryable
from mds.listener._websocket_source import Takeovers, WebsocketOptions
from mds.websocket import MAX_FRAME_BYTES, parse_frame_dict, websocket_url

if TYPE_CHECKING:
    from mds.aio._worker import Worker
    from mds.api_client import ApiClient

__all__ = ["WebsocketSource", "open_websocket"]

logger = logging.getLogger("mds.listener")

# Words of a 1001 close reason that say another connection took the channel, and words that
# say it is something else (as the synchronous listener reads them).
_TAKEOVER_WORDS = ("another", "took over", "taken over", "takeover", "new connection")
_NOT_TAKEOVER_WORDS = ("shut", "delet")


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Passes websockets' log records on with secrets removed (handshake headers, the key).
    The same rules as `mds.websocket`'s, which keeps its adapter private."""

    def __init__(self, logger: logging.Logger, secrets: tuple[str, ...]) -> None:
        super().__init__(logger, {})
        self._secrets = tuple(s for s in secrets if s)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        if len(args) == 2 and isinstance(args[0], str) and args[0].lower() in SENSITIVE_HEADERS:
            args = (args[0], "[secure]")
        elif args:
            args = tuple(self._scrub(a) for a in args)
        self.logger.log(level, self._scrub(msg), *args, **kwargs)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or hasattr(value, "data"):
            text = str(value)
            if any(s in text for s in self._secrets) or "pelion_" in text:
                for secret in self._secrets:
                    text = text.replace(secret, "[secure]")
                return text.replace("pelion_", "pelion_[secure]")
        return value


def _ssl_context(client: ApiClient) -> ssl.SSLContext:
    cfg = client.configuration
    context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if not cfg.verify_ssl or cfg.assert_hostname is False:
        context.check_hostname = False
    if not cfg.verify_ssl:
        context.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        context.load_cert_chain(cfg.cert_file, cfg.key_file)
    return context


async def open_websocket(
    client: ApiClient,
    *,
    subprotocol_auth: bool = False,
    timeout: float | None = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 0.5,
) -> ClientConnection:
    """Open the notification websocket for *client*'s configuration on the running loop: the
    same headers, ``pelion_<key>`` subprotocol (with *subprotocol_auth*), TLS settings
    (``ssl_ca_cert``, ``verify_ssl``, ``assert_hostname``, client certificate) and proxy
    (``configuration.proxy``; none without it, as the synchronous client) as
    `mds.websocket.open_websocket`. Raises an `mds.ApiException` subclass on failure."""
    if client.closed:
        raise ClientClosedError("this ApiClient is closed; create a new one")
    cfg = client.configuration
    url = websocket_url(cfg.host)
    headers = {k: v for k, v in client.default_headers.items() if k.lower() != "user-agent"}
    auth = client.auth_header()
    if auth:
        headers["Authorization"] = auth
    key = cfg.raw_api_key() or ""
    subprotocols: list[str] | None = None
    if subprotocol_auth:
        if not key:
            raise ApiValueError("subprotocol_auth needs an API key in the configuration")
        subprotocols = ["wss", f"pelion_{key}"]
    kwargs: dict[str, Any] = {}
    if url.startswith("wss:"):
        kwargs["ssl"] = _ssl_context(client)
        if isinstance(cfg.assert_hostname, str):
            kwargs["server_hostname"] = cfg.assert_hostname
    redacting = _RedactingLogger(logging.getLogger("mds.websocket.protocol"), (key, auth or ""))
    where = f"websocket {url}"
    try:
        return await connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols,  # type: ignore[arg-type]
            user_agent_header=client.user_agent,
            proxy=cfg.proxy or None,
            open_timeout=timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=MAX_FRAME_BYTES,
            max_queue=64,
            compression=None,
            logger=redacting,
            **kwargs,
        )
    except InvalidStatus as exc:
        response = exc.response
        raise exception_for_status(
            response.status_code, response.reason_phrase, bytes(response.body or b""),
            dict(response.headers),
        ) from None
    except (TimeoutError, asyncio.TimeoutError) as exc:  # distinct before Python 3.11
        raise ApiTimeoutError(f"{where}: the handshake timed out") from exc
    except ssl.SSLError as exc:
        raise ApiTLSError(f"{where}: TLS failed ({exc})") from exc
    except InvalidURI as exc:
        raise ApiValueError(f"{where}: {exc}") from None
    except (InvalidHandshake, ConnectionClosed, OSError, EOFError) as exc:
        tls = _find_cause(exc, ssl.SSLError)
        if tls is not None:
            raise ApiTLSError(f"{where}: TLS failed ({tls})") from exc
        if (_find_cause(exc, TimeoutError) or _find_cause(exc, asyncio.TimeoutError)) is not None:
            raise ApiTimeoutError(f"{where}: the handshake timed out") from exc
        raise ApiConnectionError(f"{where}: {_describe(exc)}") from exc


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of *kind* in *exc*'s cause/context chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _describe(exc: BaseException) -> str:
    # Never echo a handshake request or response: the text may carry the key.
    text = str(exc)
    if "pelion_" in text or "Bearer " in text:
        return type(exc).__name__
    return text or type(exc).__name__


class WebsocketSource:
    """The batch source of an asyncio listener's websocket: frames become wire dicts. Used by
    one task at a time (the stream's pump). The REST calls it needs (registration, asking who
    holds the channel) and the back-off waits run in the listener's `Worker` through the
    synchronous `Session`, so that ``stop()`` interrupts them as it does for the synchronous
    listener."""

    __slots__ = ("_backoff", "_conn", "_connected_before", "_connecting", "_counters",
                 "_delay_pending", "_guard", "_options", "_register_next", "_session",
                 "_takeovers", "_worker")

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
        self._delay_pending = False  # the back-off has a delay to wait before connecting
        self._conn: ClientConnection | None = None
        self._connecting: asyncio.Future[ClientConnection] | None = None

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
        the one being opened."""
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
            if self._delay_pending:
                # Backoff waits on the session's threading.Event, which stop() sets: in a
                # worker thread, so that the loop stays free (see the report on Backoff).
                await self._worker.run(backoff.pause, session)
                self._delay_pending = False
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
                self._delay_pending = True
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
        counters = self._counters
        counters.connected = False
        if self._session.stopping:
            raise Stopped
        counters.last_close_code, counters.last_close_reason = code, reason
        self._backoff.disconnected()
        action = self._options.close_code_policy.get(code, Action.RECONNECT)
        if action is Action.STOP:
            logger.info("websocket closed by the service with %d (%s): stopping", code, reason)
            self._session.stop()
            raise Stopped
        if action is Action.RAISE_UNAUTHORIZED:
            raise UnauthorizedException(
                401, f"websocket closed with {code} (API key missing or invalid)"
                + (f": {reason}" if reason else ""))
        if action is Action.RAISE:
            raise WebsocketClosedError(code, reason)
        self._register_next = action is Action.REREGISTER
        if code == 1001 and await self._is_takeover(reason):
            self._taken_over()
            return
        self._backoff.failure(WebsocketClosedError(code, reason), "websocket closed")
        self._delay_pending = True

    async def _is_takeover(self, reason: str) -> bool:
        text = (reason or "").lower()
        if any(word in text for word in _TAKEOVER_WORDS):
            return True
        if any(word in text for word in _NOT_TAKEOVER_WORDS):
            return False
        # Not conclusive: ask whether someone else is connected to the channel.
        session = self._session
        try:
            channel = await self._worker.run(session.call, session.api.get_websocket,
                                             _request_timeout=5.0)
        except MdsError:
            return False
        return str(getattr(channel, "status", "")).lower() == "connected"

    def _taken_over(self) -> None:
        """Another consumer took the channel: not a failure; stay away for a while, longer
        each time (`mds.ChannelTakenOverError` past the policy's limit)."""
        counters = self._counters
        counters.takeovers += 1
        self._register_next = False
        wait = self._takeovers.record()
        self._backoff.postpone(wait)
        self._delay_pending = True
        logger.warning(
            "another consumer took over the websocket channel of this API key (%d time(s) "
            "recently, %d in all); reconnecting in %.1f s. Only one connection per key receives "
            "notifications.", self._takeovers.recent, counters.takeovers, wait)
