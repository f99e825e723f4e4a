"""The wire side of a gate: where the uids of a batch's items are, and the batch without some of
its items. One copy for the listeners (sync and asyncio) and the webhook receivers."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["ITEM_KINDS", "item_uid", "item_uids", "without_items"]

#: The JSON keys of a NotificationMessage's item lists (``NotificationMessage.attribute_map``'s
#: values; a test keeps the two the same).
ITEM_KINDS = frozenset(("notifications", "registrations", "reg-updates", "de-registrations",
                        "registrations-expired", "async-responses"))


def item_uid(item: Any) -> str | None:
    """An item's uid as its event reads it (a uid that is not a string is kept as its str);
    None for an item without one, and for a de-registration sent as a bare device id."""
    if type(item) is not dict:
        return None
    uid = item.get("uid")
    if uid is None or type(uid) is str:
        return uid
    return str(uid)


def item_uids(data: Mapping[str, Any]) -> tuple[list[tuple[str, int]], list[str]]:
    """Where the items with a uid are in the wire dict *data* (``(kind, index)`` each) and
    their uids, in wire order."""
    places: list[tuple[str, int]] = []
    uids: list[str] = []
    for key, items in data.items():
        if key not in ITEM_KINDS or type(items) is not list:
            continue
        for index, item in enumerate(items):
            uid = item_uid(item)
            if uid is not None:
                places.append((key, index))
                uids.append(uid)
    return places, uids


def without_items(data: Mapping[str, Any],
                  dropped: Collection[tuple[str, int]]) -> dict[str, Any] | None:
    """The wire dict *data* without the items at the *dropped* places (other keys kept); None
    when no item is left."""
    rest: dict[str, Any] = {}
    left = False
    for key, items in data.items():
        if key in ITEM_KINDS and type(items) is list:
            kept = [item for index, item in enumerate(items) if (key, index) not in dropped]
            if kept:
                rest[key] = kept
                left = True
        else:
            rest[key] = items
            left = left or (key in ITEM_KINDS and bool(items))
    return rest if left else None
