"""ApiClient: authentication, serialisation and the one call path every operation goes through."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias
from urllib.parse import quote

import urllib3

from mds import models
from mds._types import UNSET, TimeoutArg
from mds._version import __version__
from mds.configuration import Configuration
from mds.exceptions import (
    ApiResponseError,
    ApiTimeoutError,
    ApiTypeError,
    ApiValueError,
    ClientClosedError,
    ModelError,
    exception_for_status,
    redact_headers,
)
from mds.models._base import Model, parse_object
from mds.rest import RESTClientObject, build_retry

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = [
    "UNSET",
    "ApiClient",
    "AsyncResult",
    "Operation",
    "ResponseType",
    "path_segment",
    "resource_path_segments",
]

#: What an operation returns for a status: a model class, a model's name (``"Webhook"``), ``"str"``
#: (the body as text), ``"list[Name]"`` (a JSON array of that model), ``"uri-list"`` (a
#: ``text/uri-list`` body as a list of its lines), another name such as ``"object"`` (plain
#: JSON), None (no body), or True/False (that value, whatever the body: an answer such as "not
#: subscribed"). A status listed is an answer even outside 2xx; any other non-2xx raises.
ResponseType: TypeAlias = "type[Model] | str | bool | None"

#: Characters that are never part of a path parameter: they would end the path (``?``, ``#``),
#: split it, or be read by the server as something else than the value.
_NOT_IN_PATH = re.compile(r"[?#\s\x00-\x1f\x7f]")


class Operation(NamedTuple):
    """A declarative record of one endpoint: everything the call path needs to know about it.

    (A NamedTuple rather than a dataclass: `import mds` should not pay for ``dataclasses``.)
    """

    name: str
    method: str
    path: str
    #: response type per status (see `ResponseType`): a model class, "str" for text,
    #: "object" for plain JSON (or a model class name, as generated clients have it), or None
    #: for no body; a non-2xx status listed here is an answer, not an exception
    responses: Mapping[int, ResponseType] = {}
    accept: str | None = None
    #: model class of the request body, if the operation sends one
    body_type: type[Model] | None = None
    content_type: str | None = None
    #: a long poll: its read timeout is the configuration's long_poll_timeout
    long_poll: bool = False
    auth: tuple[str, ...] = ("Bearer",)


class AsyncResult:
    """What ``async_req=True`` returns: ``get(timeout=None)`` waits for the result (or raises the
    call's exception); ``ready()``, ``wait()`` and ``successful()`` as `multiprocessing`'s."""

    __slots__ = ("_future",)

    def __init__(self, future: Future[Any]) -> None:
        self._future = future

    def get(self, timeout: float | None = None) -> Any:
        """The call's result, waiting at most *timeout* seconds (None: as long as it takes).

        Raises what the call raised; `mds.ApiTimeoutError` when *timeout* runs out first (the
        call goes on); `mds.ClientClosedError` when the client was closed before the call ran.
        """
        if not self._finished(timeout):
            raise ApiTimeoutError(f"the call did not finish within {timeout} s")
        if self._future.cancelled():
            raise ClientClosedError("the ApiClient was closed before the call ran")
        return self._future.result()

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the call has finished, or at most *timeout* seconds; never raises."""
        self._finished(timeout)

    def _finished(self, timeout: float | None) -> bool:
        # Imported here, not at module level: `import mds` stays lean, and a pool (which
        # imported it) made this future.
        from concurrent.futures import CancelledError
        from concurrent.futures import TimeoutError as FutureTimeoutError

        try:
            # exception(), not result(): it returns the call's exception instead of raising it,
            # so a TimeoutError raised by the call itself is not taken for running out of time.
            self._future.exception(timeout)
        except FutureTimeoutError:  # not the builtin TimeoutError before Python 3.11
            return False
        except CancelledError:  # close() cancelled the call before it ran
            pass
        return True

    def ready(self) -> bool:
        """Whether the call has finished (or was cancelled by ``close()``)."""
        return self._future.done()

    def successful(self) -> bool:
        """Whether the call finished without raising; ValueError if it has not finished."""
        if not self._future.done():
            raise ValueError("the call has not finished")
        return not self._future.cancelled() and self._future.exception() is None


class _ClientLogger(logging.Logger):
    """A logger owned by one ApiClient (``debug=True`` or ``logger_file``), child of ``mds``.

    It is not registered with the logging manager, so configuring it changes no process-wide
    state; its level check is not cached, so later changes to the ``mds`` logger still apply.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()


_shared_logger = logging.getLogger("mds.api_client")


class ApiClient:
    """Talks to the service for the API classes: auth, serialisation, HTTP, errors.

    A context manager; ``close()`` (idempotent) closes its sockets, its async pool and every
    websocket it opened. Creating one starts no thread: the pool behind ``async_req=True`` is
    created on first use.
    """

    def __init__(
        self,
        configuration: Configuration | None = None,
        header_name: str | None = None,
        header_value: str | None = None,
        cookie: str | None = None,
    ) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        self.rest_client = RESTClientObject(self.configuration)
        self.default_headers: dict[str, str] = {}
        if header_name is not None:
            self.set_default_header(header_name, header_value or "")
        self.cookie = cookie
        self.user_agent = f"mds-client/{__version__}/python"
        self._retry = build_retry(self.configuration.retries, self.configuration.retry_after_max)
        self._timeouts: dict[Any, urllib3.Timeout] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        # Strong references: a websocket opened the way the doc example does (return value
        # ignored) must still be closed by close().
        self._websockets: set[Any] = set()
        self._log_handler: logging.Handler | None = None
        self.logger = self._make_logger()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close sockets, the async pool and open websockets. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        for connection in list(self._websockets):
            connection.close()
        self._websockets.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.rest_client.clear()
        if self._log_handler is not None:
            self.logger.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def interrupt(self) -> None:
        """Abort every request this client has in flight (each fails with
        `ApiConnectionError`). Used to stop a long poll from another thread at once."""
        self.rest_client.interrupt()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this ApiClient is closed; create a new one")

    def _make_logger(self) -> logging.Logger:
        cfg = self.configuration
        if not cfg.debug and not cfg.logger_file:
            return _shared_logger
        logger = _ClientLogger("mds.api_client")
        logger.parent = logging.getLogger("mds")
        if cfg.debug:
            logger.setLevel(logging.DEBUG)
        if cfg.logger_file:
            handler = logging.FileHandler(cfg.logger_file)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            logger.addHandler(handler)
            self._log_handler = handler
        return logger

    # -- headers and auth -------------------------------------------------------------------
    @property
    def user_agent(self) -> str:
        return self.default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        """Send this header with every request. CR/LF in a name or value raises ApiValueError."""
        _check_header(header_name, header_value)
        self.default_headers[header_name] = header_value

    def auth_header(self) -> str | None:
        """The Authorization header value, checked for characters HTTP cannot carry."""
        value = self.configuration.get_api_key_with_prefix("Authorization")
        if value is not None:
            _check_header("Authorization", value)
        return value

    def _headers(self, op: Operation, has_body: bool) -> dict[str, str]:
        headers = dict(self.default_headers)
        if op.accept:
            headers["Accept"] = op.accept
        if has_body:
            headers["Content-Type"] = op.content_type or "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if "Bearer" in op.auth:
            auth = self.auth_header()
            if auth:
                headers["Authorization"] = auth
        return headers

    # -- the call path ----------------------------------------------------------------------
    def call_operation(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, Any] | None = None,
        query_params: Mapping[str, Any] | None = None,
        header_params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        async_req: bool = False,
        _return_http_data_only: bool = False,
        _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Validate, serialise, send, map errors, deserialise: the path of every operation.

        ``body`` is sent as JSON; ``content`` (bytes) is sent as it is, for operations whose
        body is not JSON. Path parameters are checked before anything is sent: a ``device-id``
        or ``resourcePath`` that would change the URL's meaning raises `ApiValueError` (see
        `path_segment` and `resource_path_segments`).

        Returns ``(data, status, headers)``, or just ``data`` with ``_return_http_data_only``,
        or the raw urllib3 response with ``_preload_content=False`` (not checked or read), or an
        `AsyncResult` with ``async_req=True``.
        """
        self._check_open()
        if async_req:
            self._path(op.path, path_params)  # refuse a bad path now, not from the pool
            return self.submit(
                self.call_operation, op, path_params=path_params, query_params=query_params,
                header_params=header_params, body=body, content=content,
                _return_http_data_only=_return_http_data_only,
                _preload_content=_preload_content, _request_timeout=_request_timeout,
            )
        url = self.configuration.host + self._path(op.path, path_params)
        if query_params:
            url += "?" + "&".join(
                f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in query_params.items()
            )
        payload = content
        if body is not None:
            payload = json.dumps(
                self.sanitize_for_serialization(body), separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        headers = self._headers(op, payload is not None)
        if header_params:
            for name, value in header_params.items():
                _check_header(name, value)
                headers[name] = value
        timeout = self._timeout(_request_timeout, op.long_poll)
        logger = self.logger
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        if debug and self.configuration.debug:
            logger.debug("%s %s headers=%s body=%d bytes", op.method, url,
                         redact_headers(headers), len(payload or b""))
        resp = self.rest_client.request(
            op.method, url, headers=headers, body=payload, timeout=timeout, retries=self._retry,
            preload_content=_preload_content,
        )
        if debug:
            logger.debug("%s %s -> %d in %.1f ms", op.method, op.path, resp.status,
                         (time.perf_counter() - started) * 1000.0)
            if self.configuration.debug:
                logger.debug("response headers=%s", redact_headers(resp.headers))
        if not _preload_content:
            return resp
        status = resp.status
        if not 200 <= status < 300 and status not in op.responses:
            raise exception_for_status(status, resp.reason, resp.data, resp.headers)
        data = self.deserialize(resp, op.responses.get(status))
        if _return_http_data_only:
            return data
        return data, status, resp.headers

    def call_api(
        self,
        resource_path: str,
        method: str,
        path_params: Mapping[str, Any] | None = None,
        query_params: Any = None,
        header_params: Mapping[str, str] | None = None,
        body: Any = None,
        post_params: Any = None,
        files: Any = None,
        response_type: str | None = None,
        auth_settings: list[str] | None = None,
        async_req: bool | None = None,
        _return_http_data_only: bool | None = None,
        collection_formats: Any = None,
        _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """The generated clients' entry point, for endpoints this SDK does not wrap."""
        if post_params or files:
            raise ApiValueError("form and file parameters are not used by this API")
        header_params = dict(header_params or {})
        accept = header_params.pop("Accept", "application/json")
        op = Operation(
            name=f"{method} {resource_path}",
            method=method.upper(),
            path=resource_path,
            responses={200: response_type, 201: response_type},
            accept=accept,
            content_type=header_params.pop("Content-Type", None),
            auth=tuple(auth_settings if auth_settings is not None else ["Bearer"]),
        )
        return self.call_operation(
            op, path_params=path_params, query_params=dict(query_params or {}),
            header_params=header_params, body=body, async_req=bool(async_req),
            _return_http_data_only=bool(_return_http_data_only),
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def _path(self, template: str, path_params: Mapping[str, Any] | None) -> str:
        if not path_params:
            return template
        safe = self.configuration.safe_chars_for_path_param
        for name, value in path_params.items():
            if name == "resourcePath":
                text = "/".join(quote(s, safe=safe) for s in resource_path_segments(value))
            elif name == "device-id":
                text = quote(path_segment(value, "device_id"), safe=safe)
            else:
                text = quote(str(value), safe=safe)
            template = template.replace("{" + name + "}", text)
        return template

    def _timeout(self, value: TimeoutArg, long_poll: bool) -> urllib3.Timeout:
        key = (value, long_poll) if value is UNSET else None
        if key is not None:
            cached = self._timeouts.get(key)
            if cached is not None:
                return cached
            default = self.configuration.timeout
            if long_poll:
                connect = default[0] if isinstance(default, tuple) else default
                timeout = urllib3.Timeout(connect=connect, read=self.configuration.long_poll_timeout)
            else:
                timeout = self._timeout(default, False)
            self._timeouts[key] = timeout
            return timeout
        if value is None:
            return urllib3.Timeout(connect=None, read=None)
        if isinstance(value, urllib3.Timeout):
            return value
        if isinstance(value, bool):
            raise ApiTypeError("_request_timeout must be a number, a (connect, read) tuple or None")
        if isinstance(value, (int, float)):
            return urllib3.Timeout(total=float(value))
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return urllib3.Timeout(connect=value[0], read=value[1])
        raise ApiTypeError("_request_timeout must be a number, a (connect, read) tuple or None")

    def track_websocket(self, connection: Any) -> None:
        """Close *connection* (an open `mds.WebsocketConnection`) when this client closes.
        Raises `ClientClosedError`, after closing it, if the client is closed already."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._websockets = {c for c in self._websockets if c.close_code is None}
                self._websockets.add(connection)
        if closed:
            connection.close()
            raise ClientClosedError("this ApiClient is closed; create a new one")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> AsyncResult:
        """Run ``fn(*args, **kwargs)`` on this client's pool of threads (what ``async_req=True``
        does), created on first use. Raises `ClientClosedError` if the client is closed."""
        with self._lock:
            self._check_open()
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(
                    max_workers=self.configuration.connection_pool_maxsize,
                    thread_name_prefix="mds-async",
                )
            return AsyncResult(self._pool.submit(fn, *args, **kwargs))

    # -- serialisation ----------------------------------------------------------------------
    def sanitize_for_serialization(self, obj: Any) -> Any:
        """A JSON-ready form of *obj*: models become their wire dicts, dates ISO 8601 strings."""
        if obj is None or isinstance(obj, (str, int, float, bool)):
            return obj
        if isinstance(obj, Model):
            return obj.to_dict()
        if isinstance(obj, (list, tuple)):
            return [self.sanitize_for_serialization(v) for v in obj]
        if isinstance(obj, dict):
            return {str(k): self.sanitize_for_serialization(v) for k, v in obj.items()}
        if hasattr(obj, "isoformat"):
            return obj.isoformat()
        if isinstance(obj, bytes):
            return obj.decode("utf-8")
        raise ApiTypeError(f"cannot serialise a {type(obj).__name__} to JSON")

    def deserialize(self, response: Any, response_type: ResponseType) -> Any:
        """The body of *response* (anything with ``.data`` and ``.status``) as *response_type*:
        a model class or its name (``"Webhook"``), ``"str"`` for the text, any other name
        (``"object"``) for plain JSON, or None for no body. An empty body of a model type is
        an empty model.

        Raises `mds.ApiResponseError` when the body is not valid JSON of the right shape.
        """
        if response_type is None or isinstance(response_type, bool):
            return response_type
        raw = response.data
        if response_type == "str":
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if response_type == "uri-list":
            return _uri_list(raw)
        if isinstance(response_type, str) and response_type.startswith("list["):
            return self._deserialize_list(response, response_type[5:-1])
        model = _model_class(response_type)
        if not raw or raw.isspace():
            return model() if model is not None else None
        try:
            if model is None:
                return _parse_json(raw)
            return model.from_wire(parse_object(raw, model.__name__))
        except ModelError as exc:
            raise _response_error(response, str(exc)) from exc

    @staticmethod
    def _deserialize_list(response: Any, item_type: str) -> list[Any]:
        raw = response.data
        if not raw or raw.isspace():
            return []
        model = _model_class(item_type)
        try:
            doc = _parse_json(raw)
            if type(doc) is not list:
                raise ModelError(f"expected a JSON array, got {type(doc).__name__}")
            if model is None:
                return doc
            return [model.from_wire(item) for item in doc]
        except ModelError as exc:
            raise _response_error(response, str(exc)) from exc


def path_segment(value: Any, name: str) -> str:
    """*value* (a device id) checked to be one path segment that means what it says.

    Raises `ApiValueError` when it is missing or empty, is ``.`` or ``..``, or contains ``/``,
    ``?``, ``#``, whitespace or a control character (CR, LF...): sent, any of those would change
    which URL is asked for. `ApiTypeError` when it is not a string.
    """
    if value is None or value == "":
        raise ApiValueError(f"Missing the required parameter `{name}`")
    if not isinstance(value, str):
        raise ApiTypeError(f"{name} must be a string, got {type(value).__name__}")
    if "/" in value or value in (".", "..") or _NOT_IN_PATH.search(value):
        raise ApiValueError(
            f"{name} {value!r} cannot be sent: it contains '/', '?', '#', whitespace or a "
            "control character, or is '.' or '..'"
        )
    return value


def resource_path_segments(value: Any) -> list[str]:
    """The segments of a resource path (``"/3303/0/5700"`` or ``"3303/0/5700"``), checked.

    The leading slash is optional. Raises `ApiValueError` when the path is missing or empty,
    has an empty segment (``//`` or a trailing ``/``), a ``.`` or ``..`` segment, or contains
    ``?``, ``#``, whitespace or a control character; `ApiTypeError` when it is not a string.
    Each segment is percent-encoded on its own, so the slashes between them stay slashes.
    """
    if value is None or value in ("", "/"):
        raise ApiValueError("Missing the required parameter `resource_path`")
    if not isinstance(value, str):
        raise ApiTypeError(f"resource_path must be a string, got {type(value).__name__}")
    segments = (value[1:] if value.startswith("/") else value).split("/")
    if "" in segments:
        raise ApiValueError(
            f"resource_path {value!r} cannot be sent: it has an empty segment ('//' or a "
            "trailing '/')"
        )
    if "." in segments or ".." in segments or _NOT_IN_PATH.search(value):
        raise ApiValueError(
            f"resource_path {value!r} cannot be sent: it contains '?', '#', whitespace or a "
            "control character, or a '.' or '..' segment"
        )
    return segments


def _uri_list(raw: str | bytes | None) -> list[str]:
    """The URIs of a ``text/uri-list`` body (RFC 2483): one a line, ``#`` lines are comments."""
    if not raw:
        return []
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return [
        line for line in (line.strip() for line in text.splitlines())
        if line and not line.startswith("#")
    ]


def _model_class(response_type: ResponseType) -> type[Model] | None:
    """The model class a response type names: the SDK's own classes only, so that a user's
    subclass of the same name never replaces one."""
    if isinstance(response_type, type):
        return response_type
    if response_type in models.__all__:
        return getattr(models, response_type)  # type: ignore[no-any-return]
    return None


def _parse_json(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ModelError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelError("JSON nested deeper than the parser goes") from None


def _response_error(response: Any, detail: str) -> ApiResponseError:
    return ApiResponseError(
        getattr(response, "status", 0),
        f"unexpected response body: {detail}",
        getattr(response, "data", None),
        getattr(response, "headers", None),
    )


def _check_header(name: str, value: Any) -> None:
    if not isinstance(name, str) or not isinstance(value, str):
        raise ApiTypeError(f"header {name!r}: names and values must be strings")
    for text, what in ((name, "name"), (value, "value")):
        if "\r" in text or "\n" in text or "\0" in text:
            raise ApiValueError(f"header {name!r}: the {what} contains a line break or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ApiValueError(f"header {name!r}: the value has characters HTTP cannot carry") from None

