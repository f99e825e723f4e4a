"""Every exception `mds` raises, in one tree.

Callers catch only these: errors from urllib3 and websockets are translated at one boundary
(`mds.rest` for HTTP, `mds.websocket` for the websocket) with ``raise ... from exc``.

::

    MdsError
    ├── ApiException                    an answer (or no answer) from the service
    │   ├── BadRequestException         400
    │   │   └── ChannelConflictError    400 "other type of channel exists" (also 409, see below)
    │   │       └── ChannelTakenOverError  another consumer keeps taking the websocket channel
    │   ├── UnauthorizedException       401, websocket close 1008
    │   ├── ForbiddenException          403
    │   ├── NotFoundException           404
    │   ├── ConflictException           409
    │   ├── GoneException               410
    │   ├── PayloadTooLargeException    413
    │   ├── UnsupportedMediaTypeException 415
    │   ├── UpgradeRequiredException    426
    │   ├── TooManyRequestsException    429 (``retry_after`` in seconds, or None)
    │   ├── ServiceException            5xx
    │   ├── ApiResponseError            a 2xx whose body is not what the operation returns
    │   └── ApiTransportError           status 0: no HTTP answer
    │       ├── ApiConnectionError      refused, reset, DNS, proxy failure
    │       │   └── ApiTLSError         certificate or handshake failure
    │       ├── ApiTimeoutError         connect or read timeout
    │       └── WebsocketClosedError    the websocket closed (``code``, ``reason``)
    ├── ApiValueError (ValueError)      a missing or invalid argument, found before sending
    ├── ApiTypeError (TypeError)        an argument of the wrong type
    │   └── ModelError (also ValueError)  a wire value without the shape its model needs
    ├── ClientClosedError (RuntimeError)  the ApiClient was closed
    ├── PayloadDecodeError (ValueError) a device payload that does not decode as its content type
    ├── AsyncResponseError              a device answered an async request with a non-2xx status
    └── CheckpointError                 a checkpoint store (sqlite, Redis) failed or is closed

`ChannelConflictError` is raised for both ways the service reports that a channel is in the way:
400 on registration when a channel of another type exists, and 409 when another long poll is
already waiting. It derives from `BadRequestException` and `ConflictException` so that code written
against either status keeps working.

Every exception pickles, and none carries a secret: headers are stored redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiConnectionError",
    "ApiException",
    "ApiResponseError",
    "ApiTLSError",
    "ApiTimeoutError",
    "ApiTransportError",
    "ApiTypeError",
    "ApiValueError",
    "AsyncResponseError",
    "BadRequestException",
    "ChannelConflictError",
    "ChannelTakenOverError",
    "CheckpointError",
    "ClientClosedError",
    "ConflictException",
    "ForbiddenException",
    "GoneException",
    "MdsError",
    "ModelError",
    "NotFoundException",
    "PayloadDecodeError",
    "PayloadTooLargeException",
    "ServiceException",
    "TooManyRequestsException",
    "UnauthorizedException",
    "UnsupportedMediaTypeException",
    "UpgradeRequiredException",
    "WebsocketClosedError",
    "exception_for_status",
    "redact_headers",
]

#: Header names whose values are secrets; compared lower-case.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "sec-websocket-protocol"}
)
REDACTED = "[secure]"


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Return a plain copy of *headers* with every secret value replaced by ``[secure]``."""
    if not headers:
        return {}
    return {
        str(k): (REDACTED if str(k).lower() in SENSITIVE_HEADERS else str(v))
        for k, v in headers.items()
    }


class MdsError(Exception):
    """Base class of every exception raised by `mds`."""


class ApiException(MdsError):
    """The service answered with an error status, or could not be reached (``status`` 0).

    Attributes: ``status`` (int), ``reason`` (str), ``body`` (str or None), ``headers``
    (dict, secrets redacted) and, where the body is the service's JSON error, ``code``, ``type``,
    ``message``, ``request_id`` and ``fields`` (list of ``{"name", "message"}``).
    """

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        body: str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        *,
        http_resp: Any = None,
    ) -> None:
        if http_resp is not None:  # the generated signature: ApiException(http_resp=resp)
            status = http_resp.status
            reason = http_resp.reason
            body = http_resp.data
            headers = http_resp.headers
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body).decode("utf-8", "replace")
        self.status: int = int(status or 0)
        self.reason: str = reason or ""
        self.body: str | None = body
        self.headers: dict[str, str] = redact_headers(headers)
        self.code: int | None = None
        self.type: str | None = None
        self.message: str | None = None
        self.request_id: str | None = None
        self.fields: list[dict[str, Any]] = []
        self._parse_error_body()
        super().__init__(self._summary())

    def _parse_error_body(self) -> None:
        if not self.body or not self.body.lstrip().startswith("{"):
            return
        try:
            doc = json.loads(self.body)  # an object: the body starts with "{"
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return
        code = doc.get("code")
        self.code = code if isinstance(code, int) else None
        for name in ("type", "message", "request_id"):
            value = doc.get(name)
            if isinstance(value, str):
                setattr(self, name, value)
        fields = doc.get("fields")
        if isinstance(fields, list):
            self.fields = [f for f in fields if isinstance(f, dict)]

    def _summary(self) -> str:
        text = f"({self.status})" if self.status else "(no response)"
        if self.reason:
            text += f" {self.reason}"
        if self.message:
            text += f": {self.message}"
        elif self.body and self.status:
            text += f": {self.body[:200]}"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, reason={self.reason!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type[MdsError], args: tuple[Any, ...], state: dict[str, Any]) -> MdsError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class BadRequestException(ApiException):
    """400: the request was malformed, the URL did not validate, or another channel type exists."""


class UnauthorizedException(ApiException):
    """401 (or websocket close 1008): the API key is missing, unknown or revoked. Do not retry."""


class ForbiddenException(ApiException):
    """403: the bearer token is not an API key, or the key may not use this endpoint."""


class NotFoundException(ApiException):
    """404: no such channel."""


class ConflictException(ApiException):
    """409: another long poll is already waiting on this API key."""


class GoneException(ApiException):
    """410: the long-poll channel was deleted and is not yet purged."""


class PayloadTooLargeException(ApiException):
    """413: the request body was too large."""


class UnsupportedMediaTypeException(ApiException):
    """415: the body was not JSON."""


class UpgradeRequiredException(ApiException):
    """426: the websocket handshake lacked the Connection/Upgrade headers."""


class TooManyRequestsException(ApiException):
    """429: rate limited, or a websocket handshake already in progress for this key.

    ``retry_after`` is the server's ``Retry-After`` in seconds (int or float), or None.
    """

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        body: str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        *,
        http_resp: Any = None,
    ) -> None:
        super().__init__(status, reason, body, headers, http_resp=http_resp)
        lowered = {k.lower(): v for k, v in self.headers.items()}
        self.retry_after: float | None = parse_retry_after(lowered.get("retry-after"))


class ServiceException(ApiException):
    """5xx: the service failed; idempotent calls were already retried."""


class ChannelConflictError(BadRequestException, ConflictException):
    """A notification channel is in the way.

    ``channel`` names the channel that exists (``"webhook"``, ``"long-poll"``, ``"websocket"``) when
    known, else None. Raised for 400 "other type of channel already exists" and for 409 "another long
    poll is waiting".
    """

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        body: str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        *,
        http_resp: Any = None,
        channel: str | None = None,
    ) -> None:
        self.channel = channel
        super().__init__(status, reason, body, headers, http_resp=http_resp)

    def _summary(self) -> str:
        text = super()._summary()
        if self.channel:
            text += f" (existing channel: {self.channel})"
        return text


class ChannelTakenOverError(ChannelConflictError):
    """Another consumer keeps taking the websocket channel of the same API key from a
    `NotificationListener`: the service gives the channel to the newest connection and closes the
    other (1001), so two consumers of one key take it from each other and both miss notifications.
    Raised by the listener after ``ReconnectPolicy.max_takeovers`` takeovers within
    ``takeover_window`` seconds, instead of fighting on.

    ``takeovers``: how many within ``window`` seconds. ``status`` 409, ``channel`` ``"websocket"``;
    ``str()`` is the explanation (it names no key).
    """

    def __init__(self, takeovers: int = 0, window: float = 0.0, **_: Any) -> None:
        self.takeovers = takeovers
        self.window = window
        super().__init__(409, (
            "another process (or another copy of this application) is using the same API key's "
            "websocket channel: the service gave the channel to the other connection "
            f"{takeovers} time{'' if takeovers == 1 else 's'} within {window:g} s; each consumer "
            "takes it from the other and "
            "both miss notifications. Use one consumer per API key (or a separate API key for "
            "each consumer)."), channel="websocket")

    def _summary(self) -> str:
        return self.reason


class ApiResponseError(ApiException):
    """The service answered 2xx, but the body is not what the operation returns (bad JSON, wrong
    types). ``status`` is the HTTP status; ``body`` the text received; ``__cause__`` the detail."""


class ApiTransportError(ApiException):
    """No HTTP answer was received. ``status`` is 0; ``reason`` says what happened."""

    def __init__(self, reason: str, **_: Any) -> None:
        super().__init__(0, reason)


class ApiConnectionError(ApiTransportError):
    """The connection could not be made or was lost (refused, reset, DNS, proxy)."""


class ApiTLSError(ApiConnectionError):
    """TLS failed: the certificate did not verify, or the handshake broke."""


class ApiTimeoutError(ApiTransportError):
    """The connect or read timeout passed with no answer."""


class WebsocketClosedError(ApiTransportError):
    """The websocket is closed. ``code`` and ``close_reason`` are the close frame's (1006 when the
    connection was lost without one)."""

    def __init__(self, code: int = 1006, close_reason: str = "", **_: Any) -> None:
        super().__init__(f"websocket closed with code {code}" + (f": {close_reason}" if close_reason else ""))
        self.code = code
        self.close_reason = close_reason


class ApiValueError(MdsError, ValueError):
    """An argument is missing or invalid; nothing was sent."""


class ApiTypeError(MdsError, TypeError):
    """An argument has the wrong type; nothing was sent."""


class ModelError(ApiTypeError, ValueError):
    """A wire value does not have the shape its model needs: a body or frame that is not a JSON
    object, or a field of the wrong JSON type (raised by ``from_dict`` and by the parsers of
    delivered messages). A ``TypeError`` for the generated clients' sake and a ``ValueError``
    since it is bad data rather than a bad argument."""


class ClientClosedError(MdsError, RuntimeError):
    """The ApiClient (or a connection) was used after ``close()``."""


class PayloadDecodeError(MdsError, ValueError):
    """A payload does not decode as its content type says (bad base64, truncated TLV, bad JSON)."""


class AsyncResponseError(MdsError):
    """A device answered an asynchronous request with a non-2xx status.

    ``response`` is the `mds.AsyncResponse` event; ``status`` and ``error`` are copied from it.
    From the status table of the service's ``AsyncIDResponse``:

    - ``reason``: the error's name: the one the service sent (``REQUEST_EXPIRED``,
      ``DEVICE_REMOVED_REGISTRATION``, ``DEVICE_BLOCKED``...) or the one its status stands for
      (503 ``NOT_CONNECTED``, 504 ``TIMEOUT``); None when neither names one.
    - ``reached_device``: True when the device received the request and answered it (a 4xx
      from the device), False when the service could not deliver it (413, 429, 5xx; after a
      ``TIMEOUT`` the device may have received it without answering), None for a status the
      table does not list.
    - ``retryable``: whether sending the same request again can succeed: True when the device
      was unreachable (``NOT_CONNECTED``, ``TIMEOUT``, 502, ``REQUEST_EXPIRED``: it may be back
      later), False when the device refused it or is gone or blocked.
    - ``description``: what happened, in words (None for an unlisted status).
    """

    def __init__(self, response: Any) -> None:
        self.response = response
        self.status = getattr(response, "status", None)
        self.error = getattr(response, "error", None)
        self.reason, self.reached_device, self.retryable, self.description = _async_outcome(
            self.status, self.error
        )
        super().__init__(
            f"async response {getattr(response, 'id', '?')} failed with status {self.status}"
            + (f" ({self.error or self.reason})" if self.error or self.reason else "")
            + (f": {self.description}" if self.description else "")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.response,))


class CheckpointError(MdsError):
    """A checkpoint store failed: the sqlite file or the Redis server could not be read or
    written, or the store was closed. ``__cause__`` is the storage library's error; the message
    never shows a password from the store's URL. Nothing was recorded by the failed call."""


#: The error names of ``AsyncIDResponse``: reached the device, retrying can help, what happened.
_ASYNC_REASONS: dict[str, tuple[bool, bool, str]] = {
    "REQUEST_EXPIRED": (
        False, True, "the request expired before the device could be reached; send it again "
        "(with a longer expiry_seconds) when the device is back",
    ),
    "DEVICE_REMOVED_REGISTRATION": (False, False, "the device de-registered"),
    "DEVICE_BLOCKED": (False, False, "the device is blocked (suspended)"),
    "NOT_CONNECTED": (False, True, "the device is not connected; it may be later"),
    "TIMEOUT": (False, True, "the device did not answer in time"),
}

#: The status table of ``AsyncIDResponse``: the reason a status stands for (when the service
#: sends none), reached the device, retrying can help, what happened.
_ASYNC_STATUSES: dict[int, tuple[str | None, bool, bool, str]] = {
    400: (None, True, False, "the device rejected the request (it may not support the method)"),
    404: (None, True, False, "the device does not have the resource"),
    412: (None, True, False, "the device refused the request: precondition failed"),
    413: (None, False, False, "the request is too large to be delivered to the device"),
    415: (None, True, False, "the device does not support the request's content type"),
    429: (None, False, False, "the request was never delivered to the device"),
    502: (None, False, True, "the service could not open a TCP or TLS connection to the device"),
    503: ("NOT_CONNECTED", False, True, "the device is not connected; it may be later"),
    504: ("TIMEOUT", False, True, "the device did not answer in time"),
}


def _async_outcome(status: Any, error: Any) -> tuple[str | None, bool | None, bool, str | None]:
    """(reason, reached_device, retryable, description) of a failed async response."""
    name = None
    if isinstance(error, str):
        # The service's name leads the text (the event layer may append its own notes).
        head = error.split(";", 1)[0].split(None, 1)
        if head and head[0].replace("_", "").isalnum() and head[0].isupper():
            name = head[0]
    known = _ASYNC_REASONS.get(name) if name is not None else None
    if known is not None:
        return (name, *known)
    listed = _ASYNC_STATUSES.get(status) if isinstance(status, int) else None
    if listed is not None:
        default, reached, retryable, description = listed
        return name or default, reached, retryable, description
    if isinstance(status, int) and 400 <= status < 500:
        return name, True, False, None
    if isinstance(status, int) and status >= 500:
        return name, False, True, None
    return name, None, False, None


_STATUS_CLASSES: dict[int, type[ApiException]] = {
    400: BadRequestException,
    401: UnauthorizedException,
    403: ForbiddenException,
    404: NotFoundException,
    409: ConflictException,
    410: GoneException,
    413: PayloadTooLargeException,
    415: UnsupportedMediaTypeException,
    426: UpgradeRequiredException,
    429: TooManyRequestsException,
}


def exception_for_status(
    status: int, reason: str | None, body: str | bytes | None, headers: Mapping[str, Any] | None
) -> ApiException:
    """Build the `ApiException` subclass that stands for an HTTP error *status*."""
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = ServiceException if status >= 500 else ApiException
    return cls(status, reason, body, headers)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    return max(0.0, seconds)
