"""Configuration: where the service is, how to authenticate, and how to talk to it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import certifi

from mds._version import __version__

DEFAULT_HOST = "https://api.us-east-1.mbedcloud.com"

#: Default (connect, read) timeout in seconds for every call but the long poll.
DEFAULT_TIMEOUT = (10.0, 30.0)
#: Default read timeout for a long poll: it must outlast the server's hold (tens of seconds).
DEFAULT_LONG_POLL_TIMEOUT = 90.0


class Configuration:
    """Settings for an `mds.ApiClient`. Every instance owns its own values; nothing is global.

    Keyword arguments set the attributes of the same names, so both forms work::

        configuration = mds.Configuration()
        configuration.api_key['Authorization'] = 'ak_...'

        configuration = mds.Configuration(host="http://127.0.0.1:8080", api_key="ak_...")

    Attributes:
        host: base URL of the service (default ``https://api.us-east-1.mbedcloud.com``).
        api_key: dict keyed ``'Authorization'`` holding the API key (a plain string passed to the
            constructor is taken as that key).
        api_key_prefix: dict keyed ``'Authorization'``; when no prefix is set and the key does not
            already start with ``Bearer ``, ``Bearer`` is used, as the service requires.
        verify_ssl, ssl_ca_cert (default: certifi's bundle), cert_file, key_file, assert_hostname:
            TLS settings, used for HTTPS and WSS alike.
        proxy, proxy_headers: an HTTP(S) proxy URL and headers for it, for HTTP and websocket.
        connection_pool_maxsize: connections kept per host (default 4).
        retries: None for the default policy (3 tries on connection errors and 429/502/503/504,
            exponential back-off with jitter, honouring Retry-After), 0 or False to switch retrying
            off, an int for that many tries, or a ``urllib3.util.Retry``.
        timeout: default request timeout: seconds (float) or a ``(connect, read)`` tuple.
        long_poll_timeout: read timeout of a long poll (default 90 s, above the server's hold).
        retry_after_max: the longest ``Retry-After`` honoured by automatic retries (default 60 s);
            a longer one is raised to the caller as `TooManyRequestsException`.
        debug: log request and response details (headers redacted) at DEBUG on this client's
            logger. It changes no process-wide state.
        logger_file: also write this client's log records to this file.
        safe_chars_for_path_param: characters not percent-encoded in path parameters.
    """

    def __init__(
        self,
        host: str | None = None,
        api_key: str | Mapping[str, str] | None = None,
        api_key_prefix: Mapping[str, str] | None = None,
        *,
        verify_ssl: bool = True,
        ssl_ca_cert: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        assert_hostname: str | bool | None = None,
        proxy: str | None = None,
        proxy_headers: Mapping[str, str] | None = None,
        connection_pool_maxsize: int = 4,
        retries: Any = None,
        timeout: float | tuple[float, float] | None = DEFAULT_TIMEOUT,
        long_poll_timeout: float = DEFAULT_LONG_POLL_TIMEOUT,
        retry_after_max: float = 60.0,
        debug: bool = False,
        logger_file: str | None = None,
        safe_chars_for_path_param: str = "",
    ) -> None:
        self.host = (host or DEFAULT_HOST).rstrip("/")
        self.api_key: dict[str, str] = {}
        if isinstance(api_key, str):
            self.api_key["Authorization"] = api_key
        elif api_key:
            self.api_key.update(api_key)
        self.api_key_prefix: dict[str, str] = dict(api_key_prefix or {})
        self.verify_ssl = verify_ssl
        self.ssl_ca_cert = ssl_ca_cert or certifi.where()
        self.cert_file = cert_file
        self.key_file = key_file
        self.assert_hostname = assert_hostname
        self.proxy = proxy
        self.proxy_headers: dict[str, str] = dict(proxy_headers or {})
        self.connection_pool_maxsize = connection_pool_maxsize
        self.retries = retries
        self.timeout = timeout
        self.long_poll_timeout = long_poll_timeout
        self.retry_after_max = retry_after_max
        self.debug = debug
        self.logger_file = logger_file
        self.safe_chars_for_path_param = safe_chars_for_path_param

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Configuration:
        """A configuration from ``MDS_HOST`` and ``MDS_API_KEY`` (keyword arguments win)."""
        env = os.environ if environ is None else environ
        kwargs.setdefault("host", env.get("MDS_HOST") or None)
        if "api_key" not in kwargs and env.get("MDS_API_KEY"):
            kwargs["api_key"] = env["MDS_API_KEY"]
        return cls(**kwargs)

    def get_api_key_with_prefix(self, identifier: str = "Authorization") -> str | None:
        """The header value for *identifier*: prefix + key, ``Bearer <key>`` by default."""
        key = self.api_key.get(identifier)
        if not key:
            return None
        prefix = self.api_key_prefix.get(identifier)
        if prefix:
            return f"{prefix} {key}"
        if key.startswith("Bearer "):
            return key
        return f"Bearer {key}"

    def raw_api_key(self, identifier: str = "Authorization") -> str | None:
        """The key itself, without any prefix (for the ``pelion_<key>`` websocket subprotocol)."""
        key = self.api_key.get(identifier)
        if key and key.startswith("Bearer "):
            key = key[len("Bearer "):]
        return key or None

    def auth_settings(self) -> dict[str, dict[str, Any]]:
        """The auth schemes of the API, as generated clients describe them."""
        return {
            "Bearer": {
                "type": "api_key",
                "in": "header",
                "key": "Authorization",
                "value": self.get_api_key_with_prefix("Authorization"),
            }
        }

    def to_debug_report(self) -> str:
        """Versions and settings for a bug report. Never includes the API key."""
        import platform  # here, not at module level: only a bug report needs it

        import urllib3
        import websockets

        return (
            "Python SDK Debug Report:\n"
            f"OS: {platform.platform()}\n"
            f"Python Version: {sys.version.split()[0]}\n"
            "Version of the API: 2\n"
            f"SDK Package Version: {__version__}\n"
            f"urllib3: {urllib3.__version__}, "  # type: ignore[attr-defined]  # not in its __all__
            f"websockets: {websockets.version.version}\n"
            f"Host: {self.host}\n"
            f"API key set: {'yes' if self.api_key.get('Authorization') else 'no'}"
        )

    def __repr__(self) -> str:
        key = "[secure]" if self.api_key.get("Authorization") else None
        return (
            f"Configuration(host={self.host!r}, api_key={key!r}, verify_ssl={self.verify_ssl!r}, "
            f"proxy={self.proxy!r}, timeout={self.timeout!r}, debug={self.debug!r})"
        )
