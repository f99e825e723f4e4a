"""HTTP on urllib3: the one place where urllib3's exceptions become `mds` exceptions.

The exception classes are re-exported here because generated clients import them from
``mds.rest`` (``from mds.rest import ApiException``); they live in `mds.exceptions`.
"""

from __future__ import annotations

import socket
import ssl
import weakref
from collections.abc import Mapping
from typing import Any

import urllib3
import urllib3.connection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.retry import Retry

from mds.configuration import Configuration
from mds.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiTimeoutError,
    ApiTLSError,
    ApiTransportError,
    ApiValueError,
)
from mds.exceptions import parse_retry_after as _parse_retry_after

__all__ = ["ApiException", "RESTClientObject", "build_retry"]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
# backoff_jitter and backoff_max arrived with urllib3 2.0 (1.26 is supported too); the version
# is read rather than the signature, since `inspect` is slow to import.
_JITTER: dict[str, Any] = (
    {} if urllib3.__version__.startswith("1.")  # type: ignore[attr-defined]  # not in its __all__
    else {"backoff_jitter": 0.25, "backoff_max": 10.0}
)


class _Retry(Retry):
    """urllib3's Retry, which gives up (returning the response, so the caller gets a
    `TooManyRequestsException` with ``retry_after``) on a Retry-After longer than
    ``give_up_after`` instead of sleeping through it."""

    give_up_after: float = 60.0

    def new(self, **kw: Any) -> _Retry:
        fresh: _Retry = super().new(**kw)
        fresh.give_up_after = self.give_up_after
        return fresh

    def parse_retry_after(self, retry_after: str) -> float:
        # Tolerant where urllib3 is strict: fractional seconds are honoured, and a malformed
        # value falls back to the exponential back-off instead of failing the call.
        seconds = _parse_retry_after(retry_after)
        return 0.0 if seconds is None else seconds

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None,
                  _stacktrace: Any = None) -> Any:
        if response is not None and self.respect_retry_after_header:
            after = _parse_retry_after(response.headers.get("Retry-After"))
            if after is not None and after > self.give_up_after:
                raise MaxRetryError(_pool, url or "", None)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def build_retry(setting: Any, retry_after_max: float = 60.0) -> Retry | bool:
    """The Retry policy for a Configuration's ``retries`` setting (see `mds.Configuration`).

    Only idempotent methods are retried; read timeouts and reads cut short are never retried
    (a long poll that timed out must not be silently re-sent, and one timeout is one failure).
    """
    if isinstance(setting, Retry):
        return setting
    if setting is False or setting == 0:
        return Retry(total=0, redirect=0, raise_on_redirect=False, raise_on_status=False)
    tries = 3 if setting is None or setting is True else int(setting)
    kwargs: dict[str, Any] = dict(
        total=tries,
        connect=tries,
        read=0,
        status=tries,
        other=0,
        redirect=0,
        allowed_methods=_IDEMPOTENT,
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=0.5,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry = _Retry(**kwargs, **_JITTER)
    retry.give_up_after = retry_after_max
    return retry


def translate_transport_error(exc: BaseException, what: str) -> ApiTransportError:
    """The `mds` exception for a urllib3 (or socket/ssl) failure while doing *what*."""
    reason: Any = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
    # urllib3 wraps the real cause a level deeper behind a proxy: ProxyError("Unable to connect
    # to proxy", NewConnectionError(...)), or OSError("Tunnel connection failed: 502 ...").
    if isinstance(reason, ProxyError) and reason.args and isinstance(reason.args[-1], Exception):
        reason = reason.args[-1]
    # NewConnectionError derives from ConnectTimeoutError: only its message tells the two apart.
    if isinstance(reason, NewConnectionError) and "timed out" not in str(reason).lower():
        return ApiConnectionError(f"{what}: could not connect ({_describe(reason)})")
    if isinstance(reason, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        kind = "connect" if isinstance(reason, ConnectTimeoutError) else "read"
        return ApiTimeoutError(f"{what}: {kind} timed out ({_describe(reason)})")
    if isinstance(reason, (SSLError, ssl.SSLError)):
        return ApiTLSError(f"{what}: TLS failed ({_describe(reason)})")
    if isinstance(reason, ProtocolError):
        return ApiConnectionError(f"{what}: connection lost ({_describe(reason)})")
    return ApiConnectionError(f"{what}: {_describe(reason)}")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 puts the pool's repr first ("HTTPConnectionPool(host=..., port=...): ...")
    if text.startswith(("HTTPConnectionPool(", "HTTPSConnectionPool(")) and "): " in text:
        text = text.split("): ", 1)[1]
    return text or type(exc).__name__


class RESTClientObject:
    """A urllib3 pool for one Configuration. Thread-safe; ``clear()`` closes its sockets."""

    def __init__(self, configuration: Configuration, maxsize: int | None = None) -> None:
        kwargs: dict[str, Any] = {
            "num_pools": 4,
            "maxsize": maxsize or configuration.connection_pool_maxsize,
            "retries": False,
            "block": False,
        }
        if configuration.verify_ssl:
            kwargs["cert_reqs"] = ssl.CERT_REQUIRED
            kwargs["ca_certs"] = configuration.ssl_ca_cert
        else:
            kwargs["cert_reqs"] = ssl.CERT_NONE
        if configuration.cert_file:
            kwargs["cert_file"] = configuration.cert_file
        if configuration.key_file:
            kwargs["key_file"] = configuration.key_file
        if configuration.assert_hostname is not None:
            kwargs["assert_hostname"] = configuration.assert_hostname
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()
        self.pool_manager: urllib3.PoolManager
        if configuration.proxy:
            self.pool_manager = urllib3.ProxyManager(
                proxy_url=configuration.proxy,
                proxy_headers=configuration.proxy_headers or None,
                **kwargs,
            )
        else:
            self.pool_manager = urllib3.PoolManager(**kwargs)
        self.pool_manager.pool_classes_by_scheme = _tracking_pool_classes(self._live)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: urllib3.Timeout | None,
        retries: Retry | bool,
        preload_content: bool = True,
    ) -> Any:
        """Send one request (with retries); the urllib3 response, or an `mds` transport error."""
        try:
            return self.pool_manager.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout,
                retries=retries,
                redirect=False,
                preload_content=preload_content,
            )
        except (HTTPError, OSError) as exc:
            raise translate_transport_error(exc, f"{method} {_strip_query(url)}") from exc
        except ValueError:
            # http.client rejects bad header values and URLs; its message quotes the value, which
            # may be a secret, so it is not repeated.
            raise ApiValueError(
                f"{method} {_strip_query(url)}: a header value or the URL is not valid HTTP"
            ) from None

    def clear(self) -> None:
        self.pool_manager.clear()

    def interrupt(self) -> None:
        """Abort every request in flight (they fail with `ApiConnectionError`) by shutting their
        sockets down. Idle pooled connections are dropped too."""
        for conn in list(self._live):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pool_manager.clear()


def _tracking_pool_classes(live: weakref.WeakSet[Any]) -> dict[str, type]:
    """Pool classes whose connections register in *live* when they connect, so that
    `RESTClientObject.interrupt` can reach sockets that are in use."""

    # Same names as urllib3's, since they appear in its error messages.
    class HTTPConnection(urllib3.connection.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            live.add(self)

    class HTTPSConnection(urllib3.connection.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            live.add(self)

    class HTTPConnectionPool(urllib3.HTTPConnectionPool):
        ConnectionCls = HTTPConnection

    class HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = HTTPSConnection

    return {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]
