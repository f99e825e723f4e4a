"""The wire side of the gate (`mds.checkpoint._items`), shared by the listeners and receivers."""

from __future__ import annotations

import mds
from mds.checkpoint._items import ITEM_KINDS, item_uid, item_uids, without_items


def test_the_item_kinds_are_those_of_a_notification_message() -> None:
    assert frozenset(mds.NotificationMessage.attribute_map.values()) == ITEM_KINDS


def test_uids_are_read_as_events_read_them() -> None:
    assert item_uid({"uid": "u1"}) == "u1"
    assert item_uid({"uid": 7}) == "7"  # a uid that is not a string: its str, as the event's
    assert item_uid({"ep": "d"}) is None
    assert item_uid("015f-device-id") is None  # a de-registration as a bare id has no uid


def test_dropping_items_keeps_the_rest_in_order_and_the_other_keys() -> None:
    data = {
        "notifications": [{"uid": "a"}, {"uid": "b"}, {"ep": "no-uid"}],
        "de-registrations": ["d1"],
        "async-responses": [{"uid": "c", "id": "x"}],
        "extra": 1,
    }
    places, uids = item_uids(data)
    assert uids == ["a", "b", "c"]
    assert places == [("notifications", 0), ("notifications", 1), ("async-responses", 0)]
    assert without_items(data, {("notifications", 0), ("async-responses", 0)}) == {
        "notifications": [{"uid": "b"}, {"ep": "no-uid"}],
        "de-registrations": ["d1"],
        "extra": 1,
    }


def test_a_batch_left_without_items_is_none() -> None:
    data = {"notifications": [{"uid": "a"}], "async-responses": [], "extra": 1}
    assert without_items(data, {("notifications", 0)}) is None
    assert without_items(data, set()) == {"notifications": [{"uid": "a"}], "extra": 1}
