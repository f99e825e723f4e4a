"""The device requests a listener sends: their bodies, and values turned into payloads."""

from __future__ import annotations

import base64
import json
from typing import Any

from mds.exceptions import ApiTypeError
from mds.models import DeviceRequest
from mds.models.device_request import check_device_request

__all__ = ["device_request", "encode_value"]


def device_request(method: str, path: str, payload: bytes | str | None,
                   content_type: str | None, accept: str | None) -> DeviceRequest:
    """The `DeviceRequest` for *method* on *path*, checked as the service would check it.

    *payload* is sent as it is (``bytes``) or as UTF-8 (``str``). Raises `mds.ApiValueError`
    (a method other than GET, PUT, POST, DELETE; a path with ``#``, whitespace or control
    characters; CR or LF in a content type) or `mds.ApiTypeError` before anything is sent.
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    elif payload is not None and not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ApiTypeError(
            f"payload must be bytes, str or None, not {type(payload).__name__} (write() "
            "encodes values)")
    return check_device_request(DeviceRequest(
        method=method.upper() if isinstance(method, str) else method,
        uri=path,
        accept=accept,
        content_type=content_type,
        payload_b64=None if payload is None else base64.b64encode(payload).decode("ascii"),
    ))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def encode_value(value: Any, content_type: str) -> bytes:
    """*value* as the payload of a write in *content_type*: ``bytes`` as they are; for JSON
    types (``application/json``, ``...+json``) any other value as its JSON text; for other
    types a ``str`` as UTF-8, a number or bool as JSON writes it (``21.5``, ``true``), which is
    how `mds.payload` reads text back. Raises `mds.ApiTypeError` for anything else."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if _is_json(content_type):
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ApiTypeError(f"the value cannot be written as {content_type}: {exc}") from None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bool, int, float)):
        return json.dumps(value).encode("ascii")
    raise ApiTypeError(
        f"a {type(value).__name__} cannot be written as {content_type}: pass bytes, a str or a "
        "number")
