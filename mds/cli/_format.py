"""Events as text: one line for people (`format_event`), or one JSON object (`event_to_json`)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["event_to_json", "format_event", "jsonable"]


def jsonable(value: Any) -> Any:
    """*value* as plain JSON data: bytes become base64, mappings dicts, dataclasses dicts."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)


def event_to_json(event: Any) -> dict[str, Any]:
    """One event as a JSON object: ``{"type": "ResourceChanged", <fields>}``; ``payload`` is
    base64, ``value`` the decoded value as JSON data."""
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        data[f.name] = jsonable(getattr(event, f.name))
    return data


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_event(event: Any) -> str:
    """One event as a line for people to read."""
    name = type(event).__name__
    if name == "ResourceChanged":
        text = (f"value changed   {event.device_id} {event.path} = {_short(event.value)}"
                f"  ({event.content_type or 'no content type'})")
    elif name in ("DeviceRegistered", "DeviceRegistrationUpdated"):
        what = "registered     " if name == "DeviceRegistered" else "reg. updated   "
        paths = ", ".join(r.path for r in event.resources[:4])
        if len(event.resources) > 4:
            paths += f", +{len(event.resources) - 4} more"
        text = (f"{what} {event.device_id}"
                + (f" ({event.endpoint_type})" if event.endpoint_type else "")
                + (f"  resources: {paths}" if paths else ""))
    elif name == "DeviceDeregistered":
        text = f"deregistered    {event.device_id}"
    elif name == "DeviceRegistrationExpired":
        text = f"reg. expired    {event.device_id}"
    elif name == "AsyncResponse":
        text = f"async response  {event.id} status {event.status}"
        if event.payload:
            text += f" = {_short(event.value)}"
        if event.error and not (200 <= event.status < 300):
            text += f" ({event.error})"
            return text
    else:
        text = f"{name} {event!r}"
    if getattr(event, "error", None):
        text += f"  [malformed: {event.error}]"
    return text
