"""The notification websocket, on the `websockets` library: the one place where its exceptions
become `mds` exceptions."""

from __future__ import annotations

import inspect
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.sync.client import ClientConnection, connect

from mds._types import UNSET
from mds.exceptions import (
    SENSITIVE_HEADERS,
    ApiConnectionError,
    ApiResponseError,
    ApiTimeoutError,
    ApiTLSError,
    ApiValueError,
    ClientClosedError,
    ModelError,
    WebsocketClosedError,
    exception_for_status,
)
from mds.models import NotificationMessage
from mds.models.notification_message import parse_message

if TYPE_CHECKING:
    from mds.api_client import ApiClient

__all__ = [
    "ConnectOptions",
    "WebsocketConnection",
    "connect_options",
    "handshake_errors",
    "open_websocket",
    "websocket_url",
]

WEBSOCKET_PATH = "/v2/notification/websocket-connect"
#: Largest frame accepted: a full batch of 20,000 items fits well inside.
MAX_FRAME_BYTES = 64 * 2**20

_log = logging.getLogger("mds.websocket")
_CONNECT_HAS_LEGACY = "legacy" in inspect.signature(connect).parameters


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Passes websockets' log records on with secrets removed (handshake headers, the key)."""

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


def websocket_url(host: str) -> str:
    """``https://host`` → ``wss://host/v2/notification/websocket-connect`` (http → ws)."""
    parts = urlsplit(host)
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None:
        raise ApiValueError(f"host must be an http(s) URL, got {host!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + WEBSOCKET_PATH, "", ""))


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


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How to open the notification websocket for one client, as `connect_options` computes
    it: the URL, and what websockets' ``connect`` needs besides its timeouts (the same for its
    synchronous and its asyncio client, see `keywords`). The repr leaves out the headers,
    the subprotocols and the logger: they carry the key."""

    url: str
    #: the client's default headers (its User-Agent apart) and the Authorization header
    headers: dict[str, str] = field(repr=False)
    #: ``["wss", "pelion_<key>"]`` with subprotocol auth, the caller's list, or None
    subprotocols: list[str] | None = field(repr=False)
    user_agent: str
    #: ``configuration.proxy``; None connects directly (no proxy from the environment)
    proxy: str | None
    #: for ``wss:`` only: the configuration's CA, verification and client certificate
    ssl_context: ssl.SSLContext | None
    #: ``configuration.assert_hostname`` when it is a name, for ``wss:`` only
    server_hostname: str | None
    #: websockets' log records, with the key and the Authorization header replaced
    logger: logging.LoggerAdapter = field(repr=False)  # type: ignore[type-arg]

    def keywords(self) -> dict[str, Any]:
        """The keyword arguments of ``websockets.sync.client.connect`` and
        ``websockets.asyncio.client.connect`` (both take the same), but the URL and the
        timeouts."""
        keywords: dict[str, Any] = {
            "additional_headers": self.headers,
            "subprotocols": self.subprotocols,
            "user_agent_header": self.user_agent,
            "proxy": self.proxy,
            "max_size": MAX_FRAME_BYTES,
            "max_queue": 64,
            "compression": None,
            "logger": self.logger,
        }
        if self.ssl_context is not None:
            keywords["ssl"] = self.ssl_context
        if self.server_hostname is not None:
            keywords["server_hostname"] = self.server_hostname
        return keywords


def connect_options(
    client: ApiClient,
    *,
    sec_web_socket_protocol: str | None = None,
    subprotocol_auth: bool = False,
) -> ConnectOptions:
    """What opening the notification websocket needs from *client* (its configuration and
    default headers): URL, headers, subprotocols, TLS settings, proxy and a redacting logger.
    The one computation behind `open_websocket` and the websocket of `mds.aio`.

    *sec_web_socket_protocol*: subprotocols to offer, comma-separated; else, with
    *subprotocol_auth*, ``wss`` and ``pelion_<key>`` (the key as a subprotocol, for clients
    that cannot send headers). Raises `mds.ClientClosedError` for a closed client and
    `mds.ApiValueError` for a host that is not an http(s) URL, or subprotocol auth without a
    key."""
    if client.closed:
        raise ClientClosedError("this ApiClient is closed; create a new one")
    cfg = client.configuration
    url = websocket_url(cfg.host)
    headers: dict[str, str] = {
        k: v for k, v in client.default_headers.items() if k.lower() != "user-agent"
    }
    auth = client.auth_header()
    if auth:
        headers["Authorization"] = auth
    key = cfg.raw_api_key() or ""
    subprotocols: list[str] | None = None
    if sec_web_socket_protocol:
        subprotocols = [p.strip() for p in sec_web_socket_protocol.split(",") if p.strip()]
    elif subprotocol_auth:
        if not key:
            raise ApiValueError("subprotocol_auth needs an API key in the configuration")
        subprotocols = ["wss", f"pelion_{key}"]
    secure = url.startswith("wss:")
    return ConnectOptions(
        url=url,
        headers=headers,
        subprotocols=subprotocols,
        user_agent=client.user_agent,
        proxy=cfg.proxy or None,
        ssl_context=_ssl_context(client) if secure else None,
        server_hostname=(
            cfg.assert_hostname if secure and isinstance(cfg.assert_hostname, str) else None
        ),
        logger=_RedactingLogger(logging.getLogger("mds.websocket.protocol"), (key, auth or "")),
    )


@contextmanager
def handshake_errors(
    url: str, *, timeouts: tuple[type[BaseException], ...] = (TimeoutError,)
) -> Iterator[None]:
    """Around websockets' ``connect`` (synchronous or awaited): what it raises while opening
    *url* becomes the `mds` exception, the one translation of handshake failures.

    A refused upgrade becomes the exception of its HTTP status (`exception_for_status`: 401
    `UnauthorizedException`, ...); an exception of *timeouts* (the asyncio client adds
    ``asyncio.TimeoutError``, distinct before Python 3.11), or one caused by it,
    `ApiTimeoutError`; a TLS failure, or one caused by it, `ApiTLSError`; a bad URL
    `ApiValueError`; any other failure to connect `ApiConnectionError`. No message repeats the
    handshake: it may carry the key."""
    where = f"websocket {url}"
    try:
        yield
    except InvalidStatus as exc:
        response = exc.response
        raise exception_for_status(
            response.status_code, response.reason_phrase, bytes(response.body or b""),
            dict(response.headers)
        ) from None
    except timeouts as exc:
        raise ApiTimeoutError(f"{where}: the handshake timed out") from exc
    except ssl.SSLError as exc:
        raise ApiTLSError(f"{where}: TLS failed ({exc})") from exc
    except InvalidURI as exc:
        raise ApiValueError(f"{where}: {exc}") from None
    except (InvalidHandshake, ConnectionClosed, OSError, EOFError) as exc:
        # ConnectionClosed: the connection broke while the request was sent (e.g. a TLS 1.3
        # server refusing the client's certificate).
        tls = _find_cause(exc, (ssl.SSLError,))
        if tls is not None:
            raise ApiTLSError(f"{where}: TLS failed ({tls})") from exc
        if _find_cause(exc, timeouts) is not None:
            raise ApiTimeoutError(f"{where}: the handshake timed out") from exc
        raise ApiConnectionError(f"{where}: {_describe(exc)}") from exc


def _open_timeout(client: ApiClient, timeout: Any) -> float | None:
    if timeout is UNSET:
        timeout = client.configuration.timeout
    if timeout is None:
        return None
    if isinstance(timeout, (tuple, list)):
        values = [t for t in timeout if t is not None]
        return float(sum(values)) if values else None
    return float(timeout)


def open_websocket(
    client: ApiClient,
    *,
    connection: str = "Upgrade",
    upgrade: str = "websocket",
    sec_web_socket_protocol: str | None = None,
    subprotocol_auth: bool = False,
    timeout: Any = None,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 5.0,
) -> WebsocketConnection:
    """Open the notification websocket for *client*'s configuration (see
    `NotificationsApi.connect_websocket`). Raises an `ApiException` subclass on failure.

    ``ping_interval`` / ``ping_timeout``: keepalive; a connection whose pong does not come within
    ``ping_timeout`` is declared dead (close code 1011 locally, then iteration ends).
    ``close_timeout``: how long closing waits for the server's close frame.
    """
    options = connect_options(
        client, sec_web_socket_protocol=sec_web_socket_protocol,
        subprotocol_auth=subprotocol_auth,
    )
    if connection.lower() != "upgrade" or upgrade.lower() != "websocket":
        # The caller asked for something other than a websocket upgrade; the service says 426.
        raise ApiValueError("connect_websocket needs connection='Upgrade' and upgrade='websocket'")
    keywords = options.keywords()
    if _CONNECT_HAS_LEGACY:
        # websockets >= 17.1 wants ``with connect(...)``; our connection outlives this call, so
        # ask for the direct form explicitly.
        keywords["legacy"] = True
    url = options.url
    with handshake_errors(url):
        ws = connect(
            url,
            open_timeout=_open_timeout(client, timeout),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            **keywords,
        )
    conn = WebsocketConnection(ws, url)
    client.track_websocket(conn)
    _log.debug("websocket connected to %s (subprotocol %s)", url, ws.subprotocol)
    return conn


def _find_cause(
    exc: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first exception of one of *kinds* in *exc*'s cause/context chain (websockets wraps
    TLS failures during its handshake in InvalidMessage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _describe(exc: BaseException) -> str:
    # Never echo a handshake response or request: the text may carry the key.
    text = str(exc)
    for marker in ("pelion_", "Bearer "):
        if marker in text:
            return type(exc).__name__
    return text or type(exc).__name__


class WebsocketConnection:
    """An open notification websocket: iterate it for `NotificationMessage` objects (one per
    text frame) until it closes; then ``close_code`` / ``close_reason`` say why.

    ``recv(timeout=None)`` returns the next message, raising `ApiTimeoutError` when *timeout*
    passes, `WebsocketClosedError` once closed and `ApiResponseError` for a frame that is not a
    NotificationMessage. A context manager; ``close()`` is idempotent and sends close 1000.
    """

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self._ws = ws
        self.url = url
        self.response_headers: dict[str, str] = {}
        response = ws.response
        if response is not None:
            self.response_headers = {k: v for k, v in response.headers.raw_items()}
        self.subprotocol: str | None = ws.subprotocol
        self._close_lock = threading.Lock()

    def __enter__(self) -> WebsocketConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[NotificationMessage]:
        while True:
            try:
                yield self.recv()
            except WebsocketClosedError:
                return

    def recv(self, timeout: float | None = None) -> NotificationMessage:
        """The next message. See the class docstring for what it raises."""
        return parse_frame(self.recv_raw(timeout))

    def recv_raw(self, timeout: float | None = None) -> str | bytes:
        """The next frame as received, not parsed: ``str`` for a text frame, ``bytes`` for a
        binary one (`parse_frame` turns either into a `NotificationMessage`). For consumers that
        parse frames themselves. Raises as `recv` does, except `ApiResponseError`."""
        try:
            return self._ws.recv(timeout)
        except TimeoutError:
            raise ApiTimeoutError(f"no websocket message within {timeout} s") from None
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        except (OSError, RuntimeError) as exc:  # RuntimeError: concurrent recv() calls
            raise ApiConnectionError(f"websocket {self.url}: {exc}") from exc

    def _closed_error(self, exc: ConnectionClosed | None = None) -> WebsocketClosedError:
        if exc is not None and exc.rcvd is not None:
            return WebsocketClosedError(int(exc.rcvd.code), exc.rcvd.reason)
        return WebsocketClosedError(self.close_code or 1006, self.close_reason or "")

    @property
    def closed(self) -> bool:
        from websockets.protocol import State

        return bool(self._ws.protocol.state is State.CLOSED)

    @property
    def close_code(self) -> int | None:
        """The close code the server sent (1000 when we closed first and it echoed; 1006 when the
        connection was lost without a close frame); None while open."""
        code = self._ws.protocol.close_code
        return None if code is None else int(code)

    @property
    def close_reason(self) -> str | None:
        return self._ws.protocol.close_reason

    @property
    def closed_by_server(self) -> bool:
        """True when the server sent the close frame first (its code is in ``close_code``)."""
        protocol = self._ws.protocol
        return protocol.close_rcvd is not None and protocol.close_rcvd_then_sent is not False

    def ping(self, timeout: float = 10.0) -> float:
        """Send a ping and wait for the pong; returns the round trip in seconds."""
        try:
            waiter = self._ws.ping()
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        if not waiter.wait(timeout):
            raise ApiTimeoutError(f"no pong within {timeout} s")
        return float(self._ws.latency)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket (idempotent)."""
        with self._close_lock:
            try:
                self._ws.close(code, reason)
            except Exception:  # noqa: BLE001 - closing must not raise
                _log.debug("error while closing the websocket", exc_info=True)

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closed {self.close_code}"
        return f"<WebsocketConnection {self.url} {state}>"


def parse_frame_dict(frame: str | bytes) -> dict[str, Any]:
    """The wire dict of one websocket frame (what `parse_frame` wraps in a model), for consumers
    that read batches as dicts; `ApiResponseError` (status 101) if it is not a
    NotificationMessage."""
    try:
        return parse_message(frame)
    except ModelError as exc:
        raise ApiResponseError(101, f"websocket frame: {exc}", frame) from None


def parse_frame(frame: str | bytes) -> NotificationMessage:
    """A NotificationMessage from one websocket frame; `ApiResponseError` if it is not one."""
    return NotificationMessage.from_wire(parse_frame_dict(frame))
