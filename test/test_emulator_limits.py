"""The service's documented limits in the emulator, on its clock: the queue cap per key (oldest
dropped first), the lifetime of an undelivered event, idle channel removal; every item they
drop is counted lost with its reason, and every record the emulator keeps is bounded.

Driven with plain urllib3 and websockets' client; time passes only when a ManualClock is
stepped.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from mds.emulator import Emulator, ManualClock
from mds.emulator._messages import item_size
from mds.emulator._service import EVENT_LIFETIME, QUEUE_LIMIT_BYTES, Settings
from servers import wait_until

PULL = "/v2/notification/pull"
WEBSOCKET = "/v2/notification/websocket"


def rest(
    http: urllib3.PoolManager, emu: Emulator, method: str, path: str
) -> urllib3.BaseHTTPResponse:
    return http.request(method, emu.url + path, headers={"Authorization": f"Bearer {emu.api_key}"})


def item(n: int) -> dict[str, Any]:
    return {"ep": "dev-1", "path": f"/3303/0/{n}", "ct": "text/plain", "payload": "MA=="}


def queue(emu: Emulator, numbers: range) -> None:
    assert emu.queue_message({"notifications": [item(n) for n in numbers]}) == 1


def polled(http: urllib3.PoolManager, emu: Emulator) -> list[str]:
    response = rest(http, emu, "GET", PULL)
    if response.status == 204:
        return []
    assert response.status == 200
    return [entry["path"] for entry in response.json()["notifications"]]


def ledger(emu: Emulator) -> dict[str, Any]:
    items: dict[str, Any] = emu.chaos_report()["items"]
    return items


def lost_paths(emu: Emulator, reason: str) -> list[str]:
    return [lost["path"] for lost in ledger(emu)["lost_items"] if lost["reason"] == reason]


def open_socket(emu: Emulator) -> ClientConnection:
    kwargs: dict[str, Any] = {"subprotocols": ["wss", f"pelion_{emu.api_key}"], "open_timeout": 5}
    if "legacy" in inspect.signature(connect).parameters:
        kwargs["legacy"] = True  # websockets >= 17.1 warns on direct use otherwise
    connection: ClientConnection = connect(
        "ws" + emu.url[len("http") :] + "/v2/notification/websocket-connect", **kwargs
    )
    return connection


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


def test_the_documented_defaults() -> None:
    settings = Settings()
    assert settings.queue_limit_bytes == QUEUE_LIMIT_BYTES == 50 * 1024 * 1024
    assert settings.queue_limit_items is None
    assert settings.event_lifetime == EVENT_LIFETIME == 24 * 3600
    assert settings.pull_expiry == 600
    assert settings.websocket_expiry == 24 * 3600
    assert settings.batch_limit == 10_000
    for bad in (
        {"queue_limit_bytes": 0},
        {"queue_limit_items": 0},
        {"queue_limit_items": 1.5},
        {"event_lifetime": 0},
    ):
        with pytest.raises(ValueError, match=r"queue_limit|event_lifetime"):
            Settings(**bad)


_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'))
_FLAT = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                  allow_infinity=False), _TEXT)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(
    st.dictionaries(_TEXT, _FLAT, max_size=8),
    _TEXT,
    st.dictionaries(_TEXT, st.lists(_FLAT, max_size=3), max_size=3),
    st.lists(_FLAT, max_size=3),
))
def test_an_item_counts_its_compact_json_text(value: Any) -> None:
    assert item_size(("notifications", value, True)) == len(
        json.dumps(value, separators=(",", ":"))
    )


def test_the_queue_cap_in_bytes_drops_the_oldest(http: urllib3.PoolManager) -> None:
    size = item_size(("notifications", item(0), True))
    with Emulator(long_poll_hold=0, queue_limit_bytes=size * 3 + size // 2) as emu:
        assert polled(http, emu) == []  # creates the channel
        queue(emu, range(10))
        assert polled(http, emu) == ["/3303/0/7", "/3303/0/8", "/3303/0/9"]
        assert lost_paths(emu, "queue_cap") == [f"/3303/0/{n}" for n in range(7)]
        assert wait_until(lambda: ledger(emu)["delivered"] == 3)
        counts = ledger(emu)
        assert (counts["queued"], counts["lost"]["queue_cap"], counts["still_queued"]) == (10, 7, 0)


def test_the_queue_cap_in_items(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0, queue_limit_items=2) as emu:
        emu.queue_limit_items = 4  # a setting, changed on a running emulator
        assert polled(http, emu) == []
        for n in range(6):
            queue(emu, range(n, n + 1))
        assert polled(http, emu) == [f"/3303/0/{n}" for n in range(2, 6)]
        assert ledger(emu)["lost"]["queue_cap"] == 2


def test_a_lost_device_event_is_listed_by_its_device(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0, queue_limit_items=1) as emu:
        assert polled(http, emu) == []
        emu.queue_message({"de-registrations": ["dev-1", "dev-2"]})
        (lost,) = ledger(emu)["lost_items"]
        assert lost == {
            "ep": "dev-1",
            "path": None,
            "uid": None,
            "payload": None,
            "reason": "queue_cap",
        }


def test_an_undelivered_event_lives_event_lifetime(
    http: urllib3.PoolManager, clock: ManualClock
) -> None:
    with Emulator(clock=clock, event_lifetime=100, websocket_expiry=1000) as emu:
        assert rest(http, emu, "PUT", WEBSOCKET).status == 201
        queue(emu, range(0, 2))
        clock.advance(60)
        queue(emu, range(2, 3))
        clock.advance(40)  # the first two are 100 s old: gone
        assert rest(http, emu, "GET", WEBSOCKET).json()["queueSize"] == 1
        with open_socket(emu) as ws:
            frame = json.loads(ws.recv(timeout=5))
        assert [entry["path"] for entry in frame["notifications"]] == ["/3303/0/2"]
        assert lost_paths(emu, "expired") == ["/3303/0/0", "/3303/0/1"]
        assert emu.event_lifetime == 100


def test_an_idle_long_poll_channel_is_removed_with_its_queue(
    http: urllib3.PoolManager, clock: ManualClock
) -> None:
    with Emulator(clock=clock, long_poll_hold=0, pull_expiry=600) as emu:
        assert polled(http, emu) == []
        queue(emu, range(3))
        clock.advance(599)
        assert emu.health()["channels"] == 1
        clock.advance(1)
        assert emu.health()["channels"] == 0
        assert ledger(emu)["lost"]["channel_expired"] == 3
        assert polled(http, emu) == []  # a new, empty channel


def test_a_websocket_channel_without_a_connection_is_removed_with_its_queue(
    http: urllib3.PoolManager, clock: ManualClock
) -> None:
    with Emulator(clock=clock, websocket_expiry=3600) as emu:
        assert rest(http, emu, "PUT", WEBSOCKET).status == 201
        queue(emu, range(2))
        clock.advance(3600)
        assert rest(http, emu, "GET", WEBSOCKET).status == 404
        assert lost_paths(emu, "channel_expired") == ["/3303/0/0", "/3303/0/1"]


def test_a_deleted_channel_loses_its_queue(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0) as emu:
        assert rest(http, emu, "PUT", WEBSOCKET).status == 201
        queue(emu, range(2))
        assert rest(http, emu, "DELETE", WEBSOCKET).status == 204
        assert polled(http, emu) == []
        queue(emu, range(2, 3))
        assert rest(http, emu, "DELETE", PULL).status == 200
        assert lost_paths(emu, "channel_deleted") == ["/3303/0/0", "/3303/0/1", "/3303/0/2"]
        assert ledger(emu)["still_queued"] == 0


def test_a_hundred_thousand_notifications_keep_every_record_bounded(
    http: urllib3.PoolManager,
) -> None:
    with Emulator(long_poll_hold=0, queue_limit_items=1000, record_limit=50) as emu:
        assert polled(http, emu) == []
        for start in range(0, 100_000, 20_000):
            queue(emu, range(start, start + 20_000))
        for _ in range(60):
            rest(http, emu, "GET", "/v2/subscriptions")
        counts = ledger(emu)
        assert counts["queued"] == 100_000
        assert counts["lost"]["queue_cap"] == 99_000
        assert counts["still_queued"] == 1000
        assert len(counts["lost_items"]) == 50
        assert counts["lost_items_dropped"] == 99_000 - 50
        assert len(emu.requests()) == 50
        assert len(polled(http, emu)) == 1000
