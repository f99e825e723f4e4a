"""EndpointsApi: ``GET /v2/endpoints/{device-id}``, the resources a device registered.

Each operation is a declarative `Operation` handed to `ApiClient.call_operation`.
"""

from __future__ import annotations

from typing import Any, Literal, overload

from mds._types import UNSET, TimeoutArg
from mds.api._common import is_async
from mds.api_client import ApiClient, Operation
from mds.models import Resource

__all__ = ["EndpointsApi"]

GET_ENDPOINT_RESOURCES = Operation(
    "get_endpoint_resources", "GET", "/v2/endpoints/{device-id}", {200: "list[Resource]"},
    accept="application/json",
)


class EndpointsApi:
    """A device's resource structure, as the service keeps it (the device is not asked).

    ``device_id`` that would change the URL's meaning (``/``, ``?``, ``#``, ``..``, whitespace,
    CR/LF) raises `ApiValueError` before anything is sent. Every method raises an
    `mds.ApiException` subclass when the service refuses.

    Common keyword arguments: ``async_req`` (alias ``asynchronous``) returns an `AsyncResult`;
    ``_preload_content=False`` returns the raw urllib3 response; ``_request_timeout`` is a number
    (total seconds), a ``(connect, read)`` tuple, or None for no timeout.
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    @overload
    def get_endpoint_resources(
        self, device_id: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> list[Resource]: ...
    @overload
    def get_endpoint_resources(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_endpoint_resources(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """List the resources of a device (GET /v2/endpoints/{device-id}): a list of
        `mds.models.Resource` (exported as ``mds.EndpointResource``), each with ``uri``, ``obs``,
        ``type`` and ``rt``. The call does not reach the device: an offline device's resources
        are listed too. 404 raises `NotFoundException` for an unknown device."""
        return self.get_endpoint_resources_with_http_info(
            device_id, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_endpoint_resources_with_http_info(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_endpoint_resources`, returning ``(list of Resource, status, headers)``."""
        return self.api_client.call_operation(
            GET_ENDPOINT_RESOURCES,
            path_params={"device-id": device_id},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )
