"""SubscriptionsApi: which resource changes reach the key's notification channel.

The service sends a resource's new values only when the key has subscribed to it: by
pre-subscription rules (applied whenever a device registers or updates its registration) or by
a subscription to one resource of one device (removed when the device registers again in full).
Each operation is a declarative `Operation` handed to `ApiClient.call_operation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from mds._types import UNSET, TimeoutArg
from mds.api._common import is_async
from mds.api_client import ApiClient, Operation
from mds.models import AsyncID, Presubscription
from mds.models.presubscription import check_presubscriptions

__all__ = ["SubscriptionsApi"]

UPDATE_PRE_SUBSCRIPTIONS = Operation(
    "update_pre_subscriptions", "PUT", "/v2/subscriptions", {204: None, 200: None},
    body_type=Presubscription, content_type="application/json",
)
GET_PRE_SUBSCRIPTIONS = Operation(
    "get_pre_subscriptions", "GET", "/v2/subscriptions", {200: "list[Presubscription]"},
    accept="application/json",
)
DELETE_PRE_SUBSCRIPTIONS = Operation(
    "delete_pre_subscriptions", "DELETE", "/v2/subscriptions", {204: None, 200: None}
)
GET_ENDPOINT_SUBSCRIPTIONS = Operation(
    "get_endpoint_subscriptions", "GET", "/v2/subscriptions/{device-id}", {200: "uri-list"},
    accept="text/uri-list",
)
DELETE_ENDPOINT_SUBSCRIPTIONS = Operation(
    "delete_endpoint_subscriptions", "DELETE", "/v2/subscriptions/{device-id}",
    {204: None, 200: None},
)
ADD_RESOURCE_SUBSCRIPTION = Operation(
    "add_resource_subscription", "PUT", "/v2/subscriptions/{device-id}/{resourcePath}",
    {200: None, 202: AsyncID, 204: None}, accept="application/json",
)
CHECK_RESOURCE_SUBSCRIPTION = Operation(
    "check_resource_subscription", "GET", "/v2/subscriptions/{device-id}/{resourcePath}",
    {200: True, 204: True, 404: False},  # 404 means "not subscribed": an answer
)
DELETE_RESOURCE_SUBSCRIPTION = Operation(
    "delete_resource_subscription", "DELETE", "/v2/subscriptions/{device-id}/{resourcePath}",
    {204: None, 200: None},
)


class SubscriptionsApi:
    """Pre-subscriptions (rules) and subscriptions (one resource of one device).

    ``device_id`` is the device's id as the service gave it; ``resource_path`` a path such as
    ``"/3303/0/5700"`` (the leading slash is optional). A device id or path that would change the
    URL's meaning (``?``, ``#``, ``..``, whitespace, CR/LF, a ``/`` in a device id) raises
    `ApiValueError` before anything is sent. Every method raises an `mds.ApiException` subclass
    when the service refuses.

    Common keyword arguments: ``async_req`` (alias ``asynchronous``) returns an `AsyncResult`;
    ``_preload_content=False`` returns the raw urllib3 response; ``_request_timeout`` is a number
    (total seconds), a ``(connect, read)`` tuple, or None for no timeout.
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    # -- pre-subscriptions ---------------------------------------------------------------------
    @overload
    def update_pre_subscriptions(
        self, presubscriptions: Sequence[Presubscription | dict[str, Any]], *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def update_pre_subscriptions(
        self, presubscriptions: Sequence[Presubscription | dict[str, Any]], *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def update_pre_subscriptions(
        self, presubscriptions: Sequence[Presubscription | dict[str, Any]], *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Set the key's pre-subscription rules (PUT /v2/subscriptions), replacing the ones it
        had; an empty list removes them all. Returns None.

        *presubscriptions* is a list of `Presubscription` (or dicts of its JSON keys). The
        service's limits are checked before sending (`ApiValueError`): at most 1024 entries and
        256 separate resource paths, names and types of 1 to 64 characters, paths starting with
        ``/`` of at most 128, ``*`` only at the end. The rules apply to devices from their next
        registration or registration update. 400 raises `BadRequestException`.
        """
        return self.update_pre_subscriptions_with_http_info(
            presubscriptions, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def update_pre_subscriptions_with_http_info(
        self, presubscriptions: Sequence[Presubscription | dict[str, Any]], *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`update_pre_subscriptions`, returning ``(None, status, headers)``."""
        rules = check_presubscriptions(presubscriptions)
        return self.api_client.call_operation(
            UPDATE_PRE_SUBSCRIPTIONS, body=rules,
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def get_pre_subscriptions(
        self, *, async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> list[Presubscription]: ...
    @overload
    def get_pre_subscriptions(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_pre_subscriptions(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """The key's pre-subscription rules (GET /v2/subscriptions): a list of
        `Presubscription`, empty when there are none."""
        return self.get_pre_subscriptions_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_pre_subscriptions_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_pre_subscriptions`, returning ``(list of Presubscription, status, headers)``."""
        return self.api_client.call_operation(
            GET_PRE_SUBSCRIPTIONS,
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def delete_pre_subscriptions(
        self, *, async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def delete_pre_subscriptions(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_pre_subscriptions(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Remove the key's pre-subscription rules (DELETE /v2/subscriptions). Returns None.

        Subscriptions the rules already made stay until the device registers again."""
        return self.delete_pre_subscriptions_with_http_info(
            async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_pre_subscriptions_with_http_info(
        self, *, async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_pre_subscriptions`, returning ``(None, status, headers)``."""
        return self.api_client.call_operation(
            DELETE_PRE_SUBSCRIPTIONS,
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    # -- one device ----------------------------------------------------------------------------
    @overload
    def get_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> list[str]: ...
    @overload
    def get_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def get_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """The resource paths the key is subscribed to on a device (GET
        /v2/subscriptions/{device-id}): the service's ``text/uri-list`` answer as a list of
        paths, such as ``["/3303/0/5700"]``.

        404 raises `NotFoundException`: the service answers it both for an unknown device and
        for a device without subscriptions."""
        return self.get_endpoint_subscriptions_with_http_info(
            device_id, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def get_endpoint_subscriptions_with_http_info(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`get_endpoint_subscriptions`, returning ``(list of paths, status, headers)``."""
        return self.api_client.call_operation(
            GET_ENDPOINT_SUBSCRIPTIONS,
            path_params={"device-id": device_id},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def delete_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def delete_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_endpoint_subscriptions(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Remove every subscription of the key on a device (DELETE
        /v2/subscriptions/{device-id}). Returns None."""
        return self.delete_endpoint_subscriptions_with_http_info(
            device_id, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_endpoint_subscriptions_with_http_info(
        self, device_id: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_endpoint_subscriptions`, returning ``(None, status, headers)``."""
        return self.api_client.call_operation(
            DELETE_ENDPOINT_SUBSCRIPTIONS,
            path_params={"device-id": device_id},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def add_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> AsyncID | None: ...
    @overload
    def add_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def add_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Subscribe to one resource (or object, or object instance) of a device (PUT
        /v2/subscriptions/{device-id}/{resourcePath}).

        Returns None when the subscription is made (200), or an `AsyncID` (202) when the device
        must answer first: its ``async_response_id`` is the ``id`` of the `AsyncIDResponse`
        that will arrive on the channel. The service removes subscriptions made this way when
        the device registers again in full; pre-subscriptions survive that.
        400 `BadRequestException`, 404 `NotFoundException` (unknown device or resource), 429
        `TooManyRequestsException` (the device's queue is full), 502 `ServiceException` (the
        device is not connected)."""
        return self.add_resource_subscription_with_http_info(
            device_id, resource_path, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def add_resource_subscription_with_http_info(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`add_resource_subscription`, returning ``(AsyncID or None, status, headers)``."""
        return self.api_client.call_operation(
            ADD_RESOURCE_SUBSCRIPTION,
            path_params={"device-id": device_id, "resourcePath": resource_path},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def check_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> bool: ...
    @overload
    def check_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def check_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Whether the key is subscribed to a resource of a device (GET
        /v2/subscriptions/{device-id}/{resourcePath}): True (200) or False (404).

        The service's 404 means "not subscribed" here, an answer rather than a failure, so it
        returns False instead of raising `NotFoundException` (an unknown device is not
        subscribed either). Other statuses raise as everywhere."""
        return self.check_resource_subscription_with_http_info(
            device_id, resource_path, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def check_resource_subscription_with_http_info(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`check_resource_subscription`, returning ``(True or False, status, headers)``."""
        return self.api_client.call_operation(
            CHECK_RESOURCE_SUBSCRIPTION,
            path_params={"device-id": device_id, "resourcePath": resource_path},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )

    @overload
    def delete_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: Literal[False] = False,
        asynchronous: Literal[False] | None = None, _return_http_data_only: Literal[True] = True,
        _preload_content: Literal[True] = True, _request_timeout: TimeoutArg = UNSET,
    ) -> None: ...
    @overload
    def delete_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any: ...
    def delete_resource_subscription(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = True, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """Remove the key's subscription to a resource of a device (DELETE
        /v2/subscriptions/{device-id}/{resourcePath}), whether made by hand or by a rule.
        Returns None."""
        return self.delete_resource_subscription_with_http_info(
            device_id, resource_path, async_req=async_req, asynchronous=asynchronous,
            _return_http_data_only=_return_http_data_only,
            _preload_content=_preload_content, _request_timeout=_request_timeout,
        )

    def delete_resource_subscription_with_http_info(
        self, device_id: str, resource_path: str, *,
        async_req: bool = False, asynchronous: bool | None = None,
        _return_http_data_only: bool = False, _preload_content: bool = True,
        _request_timeout: TimeoutArg = UNSET,
    ) -> Any:
        """`delete_resource_subscription`, returning ``(None, status, headers)``."""
        return self.api_client.call_operation(
            DELETE_RESOURCE_SUBSCRIPTION,
            path_params={"device-id": device_id, "resourcePath": resource_path},
            async_req=is_async(async_req, asynchronous),
            _return_http_data_only=_return_http_data_only, _preload_content=_preload_content,
            _request_timeout=_request_timeout,
        )
