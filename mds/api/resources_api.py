"""ResourcesApi: the deprecated ``/v2/endpoints/{device-id}/{resourcePath}`` operations.

The service deprecated them in favour of ``POST /v2/device-requests/{device-id}``
(`DeviceRequestsApi.create_async_request`), which lets the caller choose the async id and
returns every value through the notification channel. They are kept for users of the older
flow; each call emits a `DeprecationWarning` that names its replacement.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Literal, overload

from mds._types import UNSET, TimeoutArg
from mds.api._common import flag, is_async
from mds.api_client import ApiClient, Operation
from mds.exceptions import ApiTypeError, ApiValueError
from mds.models import AsyncID

__all__ = ["ResourcesApi"]

_PATH = "/v2/endpoints/{device-id}/{resourcePath}"
GET_RESOURCE_VALUE = Operation(
    "get_resource_value", "GET", _PATH, {200: "str", 202: AsyncID, 204: None, 205: None},
)
UPDATE_RESOURCE_VALUE = Operation(
    "update_resource_value", "PUT", _PATH, {202: AsyncID, 204: None}, content_type="text/plain",
)
EXECUTE_OR_CREATE_RESOURCE = Operation(
    "execute_or_create_resource", "POST", _PATH, {202: AsyncID, 204: None},
    content_type="text/plain",
)
DELETE_RESOURCE_PATH = Operation("delete_resource_path", "DELETE", _PATH, {202: AsyncID, 204: None})

#: The method of a device request that replaces each operation.
_REPLACED_BY = {
    "get_resource_value": "GET",
    "update_resource_value": "PUT",
    "execute_or_create_resource": "POST",
    "delete_resource_path": "DELETE",
}


class ResourcesApi:
    """Read, write, execute or delete a device's resource the deprecated way.

    These operations answer only while the device is connected and the key has a notification
    channel: the answer (202, an `AsyncID`) names the `AsyncIDResponse` that comes through the
    channel. With ``no_resp=True`` the service sends a non-confirmable request and answers 204
    (None); 409 `ConflictException` when the device cannot take one (queue mode).
    ``resource_path`` is accepted with or without its leading slash; a device id or path that
    would change the URL's meaning raises `ApiValueError` before anything is sent.

    Statuses raised: 400 `BadRequestException`, 404 `NotFoundException` (unknown resource),
    409 `ConflictException`, 410 `GoneException` (unknown device), 412 (no notification
    channel) `ApiException`, 429 `TooManyRequestsException` (the device's queue is full), 502
    `ServiceException` (the device is not connected).

    Common keyword arguments: ``async_req`` (alias ``asynchronous``) returns an `AsyncResult`;
    ``_preload_content=False`` returns the raw urllib3 response; ``_request_timeout`` is a number
    (total seconds), a ``(connect, read)`` tuple, or None for no timeout.
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    def _call(
        self, op: Operation, device_id: str, resource_path: str, query: dict[str, str | None],
        content: bytes | None, content_type: str | None, async_req: bool,
        _return_http_data_only: bool, _preload_content: bool, _request_timeout: TimeoutArg,
    ) -> Any:
        return self.api_client.call_operation(
            op, path_params={"device-id": device_id, "resourcePath": resource_path},
            query_params={k: v for k, v in query.items() if v is not None},
            header_params={"Content-Type": content_type} if content_type is not None else None,
            content=content, async_req=async_req,
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def get_resource_value(
        self, device_id: str, resource_path: str, *,
        cache_only: bool | None = None, no_resp: bool | None = None,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> str | AsyncID | None: ...
    @overload
    def get_resource_value(
        self, device_id: str, resource_path: str, *,
        cache_only: bool | None = None, no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_resource_value(
        self, device_id: str, resource_path: str, *,
        cache_only: bool | None = None, no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """(Deprecated) Read a resource (GET /v2/endpoints/{device-id}/{resourcePath}).

        Returns the value as text (200, from the service's cache), an `AsyncID` (202: the value
        comes through the channel), or None (205: ``cache_only=True`` and nothing cached; 204:
        ``no_resp=True``). Use `DeviceRequestsApi.create_async_request` with method ``GET``."""
        return self.get_resource_value_with_http_info(
            device_id, resource_path, cache_only=cache_only, no_resp=no_resp,
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_resource_value_with_http_info(
        self, device_id: str, resource_path: str, *,
        cache_only: bool | None = None, no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_resource_value`, returning ``(value, status, headers)``."""
        _deprecated(GET_RESOURCE_VALUE)
        return self._call(
            GET_RESOURCE_VALUE, device_id, resource_path,
            {"cacheOnly": flag(cache_only, "cache_only"), "noResp": flag(no_resp, "no_resp")},
            None, None,
            is_async(async_req, asynchronous), _return_http_data_only, _preload_content,
            _request_timeout,
        )

    @overload
    def update_resource_value(
        self, device_id: str, resource_path: str, resource_value: str | bytes, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> AsyncID | None: ...
    @overload
    def update_resource_value(
        self, device_id: str, resource_path: str, resource_value: str | bytes, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def update_resource_value(
        self, device_id: str, resource_path: str, resource_value: str | bytes, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """(Deprecated) Write a resource's value (PUT /v2/endpoints/{device-id}/{resourcePath}).

        *resource_value* (text, sent UTF-8 encoded, or bytes, sent as they are) goes with
        *content_type* (default ``text/plain``). Returns an `AsyncID` (202), or None with
        ``no_resp=True`` (204). Use `DeviceRequestsApi.create_async_request` with method
        ``PUT``."""
        return self.update_resource_value_with_http_info(
            device_id, resource_path, resource_value, no_resp=no_resp, content_type=content_type,
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def update_resource_value_with_http_info(
        self, device_id: str, resource_path: str, resource_value: str | bytes, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`update_resource_value`, returning ``(AsyncID or None, status, headers)``."""
        _deprecated(UPDATE_RESOURCE_VALUE)
        content = _content(resource_value, "resource_value", required=True)
        return self._call(
            UPDATE_RESOURCE_VALUE, device_id, resource_path,
            {"noResp": flag(no_resp, "no_resp")},
            content, content_type,
            is_async(async_req, asynchronous), _return_http_data_only, _preload_content,
            _request_timeout,
        )

    @overload
    def execute_or_create_resource(
        self, device_id: str, resource_path: str, resource_function: str | bytes | None = None, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> AsyncID | None: ...
    @overload
    def execute_or_create_resource(
        self, device_id: str, resource_path: str, resource_function: str | bytes | None = None, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def execute_or_create_resource(
        self, device_id: str, resource_path: str, resource_function: str | bytes | None = None, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """(Deprecated) Execute a resource, or create an object instance (POST
        /v2/endpoints/{device-id}/{resourcePath}).

        *resource_function* (optional) is sent as the body with *content_type* (default
        ``text/plain``). Returns an `AsyncID` (202), or None with ``no_resp=True`` (204). Use
        `DeviceRequestsApi.create_async_request` with method ``POST``."""
        return self.execute_or_create_resource_with_http_info(
            device_id, resource_path, resource_function, no_resp=no_resp, content_type=content_type,
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def execute_or_create_resource_with_http_info(
        self, device_id: str, resource_path: str, resource_function: str | bytes | None = None, *,
        no_resp: bool | None = None, content_type: str = "text/plain",
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`execute_or_create_resource`, returning ``(AsyncID or None, status, headers)``."""
        _deprecated(EXECUTE_OR_CREATE_RESOURCE)
        content = _content(resource_function, "resource_function", required=False)
        return self._call(
            EXECUTE_OR_CREATE_RESOURCE, device_id, resource_path,
            {"noResp": flag(no_resp, "no_resp")},
            content, content_type if content is not None else None,
            is_async(async_req, asynchronous), _return_http_data_only, _preload_content,
            _request_timeout,
        )

    @overload
    def delete_resource_path(
        self, device_id: str, resource_path: str, *,
        no_resp: bool | None = None,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> AsyncID | None: ...
    @overload
    def delete_resource_path(
        self, device_id: str, resource_path: str, *,
        no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_resource_path(
        self, device_id: str, resource_path: str, *,
        no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """(Deprecated) Delete a resource path (DELETE /v2/endpoints/{device-id}/{resourcePath}).

        Returns an `AsyncID` (202), or None with ``no_resp=True`` (204). Use
        `DeviceRequestsApi.create_async_request` with method ``DELETE``."""
        return self.delete_resource_path_with_http_info(
            device_id, resource_path, no_resp=no_resp,
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_resource_path_with_http_info(
        self, device_id: str, resource_path: str, *,
        no_resp: bool | None = None,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_resource_path`, returning ``(AsyncID or None, status, headers)``."""
        _deprecated(DELETE_RESOURCE_PATH)
        return self._call(
            DELETE_RESOURCE_PATH, device_id, resource_path,
            {"noResp": flag(no_resp, "no_resp")},
            None, None,
            is_async(async_req, asynchronous), _return_http_data_only, _preload_content,
            _request_timeout,
        )


def _deprecated(op: Operation) -> None:
    warnings.warn(
        f"ResourcesApi.{op.name} uses {op.method} {_PATH}, which the service deprecated; "
        "use DeviceRequestsApi.create_async_request (POST /v2/device-requests/{device-id}) "
        f"with method {_REPLACED_BY[op.name]} instead",
        DeprecationWarning, stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this module: the
    user's call, whether it went through ``method`` or ``method_with_http_info`` (what
    ``skip_file_prefixes`` does from Python 3.12)."""
    level = 1
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") == __name__ and frame.f_back is not None:
        frame = frame.f_back
        level += 1
    return level


def _content(value: Any, name: str, *, required: bool) -> bytes | None:
    if value is None:
        if required:
            raise ApiValueError(f"Missing the required parameter `{name}`")
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise ApiTypeError(f"{name} must be str or bytes, got {type(value).__name__}")
