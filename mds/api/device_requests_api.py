"""DeviceRequestsApi: ``POST /v2/device-requests/{device-id}``, a request for a device whose
answer comes later through the notification channel as an ``AsyncIDResponse``."""

from __future__ import annotations

import re
from typing import Any, Literal, overload

from mds._types import UNSET, TimeoutArg
from mds.api._common import bounded_int, is_async
from mds.api_client import ApiClient, Operation
from mds.exceptions import ApiTypeError, ApiValueError
from mds.models import DeviceRequest
from mds.models.device_request import check_device_request

__all__ = ["ASYNC_ID_PATTERN", "DeviceRequestsApi"]

#: What the service accepts as an ``async-id``: 1 to 40 letters, digits, ``_`` or ``-``.
ASYNC_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")

CREATE_ASYNC_REQUEST = Operation(
    "create_async_request", "POST", "/v2/device-requests/{device-id}", {202: None, 200: None},
    body_type=DeviceRequest, content_type="application/json",
)


class DeviceRequestsApi:
    """Device requests: read, write, execute or delete a device's resource.

    The service answers 202 at once; the device's answer arrives later through the key's
    notification channel, as an ``async-responses`` item whose ``id`` is the ``async_id`` you
    chose (an `mds.AsyncResponse` event). Open the channel first: without one, answers are
    lost. Every method raises an `mds.ApiException` subclass on failure.

    Common keyword arguments: ``async_req`` (alias ``asynchronous``) returns an `AsyncResult`;
    ``_preload_content=False`` returns the raw urllib3 response; ``_request_timeout`` is a number
    (total seconds), a ``(connect, read)`` tuple, or None for no timeout.
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    @overload
    def create_async_request(
        self, device_id: str, async_id: str, body: DeviceRequest | dict[str, Any],
        retry: int | None = None, expiry_seconds: int | None = None, *,
        async_req: Literal[False] = False, asynchronous: Literal[False] | None = None,
        _return_http_data_only: Literal[True] = True, _preload_content: Literal[True] = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def create_async_request(
        self, device_id: str, async_id: str, body: DeviceRequest | dict[str, Any],
        retry: int | None = None, expiry_seconds: int | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def create_async_request(
        self, device_id: str, async_id: str, body: DeviceRequest | dict[str, Any],
        retry: int | None = None, expiry_seconds: int | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Send a request to a device (POST /v2/device-requests/{device-id}). Returns None
        (202 Accepted); the answer comes through the notification channel with id *async_id*.

        *body* is a `DeviceRequest` or a dict (``method``, ``uri``, ``accept``,
        ``content-type``, ``payload-b64``). *async_id* is 1 to 40 letters, digits, ``_`` or
        ``-``; *retry* (0 to 10) and *expiry_seconds* (60 to 2592000) bound how long the
        service keeps trying. All of it is checked before sending (`ApiValueError`).
        The service answers 400 (`BadRequestException`, e.g. ``QUEUE_IS_FULL``,
        ``MALFORMED_JSON_CONTENT``) and 404 (`NotFoundException`, ``DEVICE_NOT_FOUND`` or
        ``URI_PATH_DOES_NOT_EXISTS``); the exception's ``message`` names the error.
        """
        return self.create_async_request_with_http_info(
            device_id, async_id, body, retry, expiry_seconds, async_req=async_req,
            asynchronous=asynchronous, _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def create_async_request_with_http_info(
        self, device_id: str, async_id: str, body: DeviceRequest | dict[str, Any],
        retry: int | None = None, expiry_seconds: int | None = None, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`create_async_request`, returning ``(None, status, headers)``."""
        request = check_device_request(body)
        query: dict[str, Any] = {"async-id": _check_async_id(async_id)}
        if retry is not None:
            query["retry"] = bounded_int(retry, "retry", 0, 10)
        if expiry_seconds is not None:
            query["expiry-seconds"] = bounded_int(expiry_seconds, "expiry_seconds", 60, 2_592_000)
        return self.api_client.call_operation(
            CREATE_ASYNC_REQUEST, path_params={"device-id": device_id}, query_params=query,
            body=request, async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )


def _check_async_id(async_id: Any) -> str:
    if async_id is None or async_id == "":
        raise ApiValueError("Missing the required parameter `async_id` when calling "
                            "`create_async_request`")
    if not isinstance(async_id, str):
        raise ApiTypeError(f"async_id must be a string, got {type(async_id).__name__}")
    if not ASYNC_ID_PATTERN.fullmatch(async_id):
        raise ApiValueError(
            f"Invalid value for `async_id` ({async_id!r}): 1 to 40 letters, digits, '_' or '-'"
        )
    return async_id
