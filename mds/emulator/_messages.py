"""NotificationMessages as the emulator builds, queues and batches them; no state, no I/O.

A channel's queue holds *items*: one entry of one of a NotificationMessage's lists (a
notification, a registration, an async response...). Injection splits a message into items,
delivery merges the items at the front of a queue back into one message of at most
``batch_limit`` items.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "Item",
    "async_response_item",
    "build_message",
    "encode_payload",
    "endpoint_data",
    "item_size",
    "notification_item",
    "split_message",
]

#: One queued item: (NotificationMessage key, value, whether the key holds a list).
Item = tuple[str, Any, bool]


def split_message(message: Mapping[str, Any]) -> list[Item]:
    """Split a NotificationMessage into queue items, keeping the order of its keys.

    List values become one item per element; any other value (an unknown key holding an
    object, say) becomes a single item delivered unchanged.
    """
    items: list[Item] = []
    for key, value in message.items():
        if isinstance(value, list):
            items.extend((key, element, True) for element in value)
        else:
            items.append((key, value, False))
    return items


def build_message(queue: Iterable[Item], limit: int) -> tuple[dict[str, Any], int]:
    """Merge items from the front of ``queue`` into one NotificationMessage.

    Takes at most ``limit`` items and stops early rather than reorder: an item joins the message
    only if its key is new to the message or is the key of the item just before it, so a reader
    that walks the message's keys in order sees the items in queued order.

    Returns the message and the number of items it holds (taken from the front of the queue).
    """
    message: dict[str, Any] = {}
    last_key: str | None = None
    taken = 0
    for key, value, listed in queue:
        if taken >= limit:
            break
        if key in message:
            if key != last_key or not listed:
                break
            message[key].append(value)
        else:
            message[key] = [value] if listed else value
        last_key = key
        taken += 1
    return message, taken


#: Encodes what :func:`item_size` cannot count field by field.
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


def item_size(item: Item) -> int:
    """The bytes ``item`` takes in a queue: the length of its compact JSON text (what the
    service's queue cap counts), characters that JSON escapes counted once.

    A flat object (strings, numbers, booleans, null), as notifications and most items are, is
    counted field by field, several times faster than encoding it.
    """
    value = item[1]
    if type(value) is dict:
        size = 1  # the braces, less the comma after the last field
        for key, field in value.items():
            kind = type(field)
            if type(key) is not str:
                return len(_COMPACT.encode(value))
            if kind is str:
                size += len(key) + len(field) + 6  # "key":"field",
            elif kind is int or kind is float:
                size += len(key) + len(repr(field)) + 4
            elif field is None or kind is bool:
                size += len(key) + (5 if field is False else 4) + 4
            else:
                return len(_COMPACT.encode(value))
        return max(size, 2)
    if type(value) is str:
        return len(value) + 2
    return len(_COMPACT.encode(value))


def encode_payload(value: Any, ct: str) -> str:
    """Base64 of ``value`` encoded as the service would for content type ``ct``.

    ``bytes`` are sent as they are, whatever the type. JSON media types
    (``application/json``, ``...+json``) carry the value's JSON text; any other type its UTF-8
    text (``true``/``false`` for booleans, nothing for ``None``).
    """
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    media = ct.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        raw = json.dumps(value, separators=(",", ":")).encode()
    elif value is None:
        raw = b""
    elif isinstance(value, bool):
        raw = b"true" if value else b"false"
    else:
        raw = str(value).encode()
    return base64.b64encode(raw).decode("ascii")


def notification_item(
    ep: str,
    path: str,
    value: float | str | None,
    ct: str,
    payload_b64: str | None,
    max_age: int,
) -> dict[str, Any]:
    """A ``notifications`` entry with wire keys; ``payload_b64`` wins over ``value``.

    (Positional parameters: ``Emulator.notify`` calls it once per injected notification.)
    """
    if payload_b64 is None:
        payload_b64 = encode_payload(value, ct)
    return {"ep": ep, "path": path, "ct": ct, "payload": payload_b64, "max-age": max_age}


def endpoint_data(
    ep: str,
    ept: str | None,
    original_ep: str | None,
    q: bool,
    resources: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """An EndpointData item with wire keys (``original-ep``, ``if``; ``_if``/``if_`` accepted)."""
    item: dict[str, Any] = {"ep": ep}
    if ept is not None:
        item["ept"] = ept
    if original_ep is not None:
        item["original-ep"] = original_ep
    item["q"] = bool(q)
    wire_resources = []
    for resource in resources or ():
        wire = {}
        for key, value in resource.items():
            wire["if" if key in ("_if", "if_") else key] = value
        wire_resources.append(wire)
    item["resources"] = wire_resources
    return item


def async_response_item(
    async_id: str,
    *,
    status: int,
    value: float | str | None,
    payload_b64: str | None,
    ct: str | None,
    error: str | None,
    max_age: int | None,
) -> dict[str, Any]:
    """An ``async-responses`` entry; ``value`` is encoded by ``ct`` (default ``text/plain``)."""
    item: dict[str, Any] = {"id": async_id, "status": int(status)}
    if payload_b64 is None and value is not None:
        payload_b64 = encode_payload(value, ct or "text/plain")
    if payload_b64 is not None:
        item["payload"] = payload_b64
        item["ct"] = ct or "text/plain"
    elif ct is not None:
        item["ct"] = ct
    if error is not None:
        item["error"] = error
    if max_age is not None:
        item["max-age"] = max_age
    return item
