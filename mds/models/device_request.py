"""DeviceRequest: the body of ``POST /v2/device-requests/{device-id}``, and its check."""

from __future__ import annotations

import base64
from typing import Any

from mds.exceptions import ApiTypeError, ApiValueError
from mds.models._base import Model, field

__all__ = ["DEVICE_REQUEST_METHODS", "DeviceRequest", "check_device_request"]

#: The CoAP methods a device request can use.
DEVICE_REQUEST_METHODS = ("GET", "PUT", "POST", "DELETE")


class DeviceRequest(Model):
    """A request for a device: ``method`` (GET, PUT, POST or DELETE) on ``uri`` (a resource
    path, which may carry a query: ``/5/0/1?pmax=120``), with ``accept`` (the content type
    wanted back), ``content_type`` (JSON ``content-type``, of the payload) and ``payload_b64``
    (JSON ``payload-b64``, the payload base64 encoded). ``method`` and ``uri`` are required.
    """

    method: str | None = field("method", "str")  # GET, PUT, POST or DELETE
    uri: str | None = field("uri", "str")  # resource path, optionally with a query
    accept: str | None = field("accept", "str")  # content type of an accepted answer
    content_type: str | None = field("content-type", "str")  # content type of the payload
    payload_b64: str | None = field("payload-b64", "str")  # the payload, base64 encoded

    def __init__(
        self,
        method: str | None = None,
        uri: str | None = None,
        accept: str | None = None,
        content_type: str | None = None,
        payload_b64: str | None = None,
    ) -> None:
        self._data = {}
        self.method = method
        self.uri = uri
        self.accept = accept
        self.content_type = content_type
        self.payload_b64 = payload_b64


def check_device_request(body: DeviceRequest | dict[str, Any] | None) -> DeviceRequest:
    """Check a device request as the service would, before anything is sent, and return it as
    a `DeviceRequest` (a dict of JSON keys or attribute names is accepted too).

    A ``uri`` without its leading slash (``3303/0/5700``) is sent with one (the given model is
    not changed). Raises `ApiValueError` when the body is missing, ``method`` is not one of
    GET, PUT, POST, DELETE, ``uri`` is missing or contains ``#``, whitespace or a control
    character, ``accept``/``content_type`` contain CR or LF, or ``payload_b64`` is not base64;
    `ApiTypeError` when the body or a field has the wrong type.
    """
    if body is None:
        raise ApiValueError("Missing the required parameter `body` when calling `create_async_request`")
    if isinstance(body, dict):
        body = DeviceRequest.from_dict(body)
    if not isinstance(body, DeviceRequest):
        raise ApiTypeError(f"body must be a mds.DeviceRequest or a dict, got {type(body).__name__}")
    if body.method not in DEVICE_REQUEST_METHODS:
        raise ApiValueError(
            f"Invalid value for `method` ({body.method!r}), must be one of "
            + ", ".join(DEVICE_REQUEST_METHODS)
        )
    uri = body.uri
    if not uri:
        raise ApiValueError("Invalid value for `uri`, must not be `None`")
    if not isinstance(uri, str):
        raise ApiTypeError(f"DeviceRequest.uri must be a string, got {type(uri).__name__}")
    if any(c == "#" or c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in uri):
        raise ApiValueError(f"DeviceRequest.uri {uri!r} contains '#', whitespace or a control character")
    for name in ("accept", "content_type", "payload_b64"):
        value = getattr(body, name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiTypeError(f"DeviceRequest.{name} must be a string, got {type(value).__name__}")
        if "\r" in value or "\n" in value:
            raise ApiValueError(f"DeviceRequest.{name} must not contain CR or LF")
    if body.payload_b64 is not None:
        try:
            base64.b64decode(body.payload_b64, validate=True)
        except ValueError:  # binascii.Error, and non-ASCII text
            raise ApiValueError("DeviceRequest.payload_b64 is not valid base64") from None
    if not uri.startswith("/"):
        fixed = DeviceRequest.from_dict(body.to_dict())
        fixed.uri = "/" + uri
        return fixed
    return body
