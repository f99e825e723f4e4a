"""The soak in the suite: 10,000 notifications from 100 simulated devices through the emulator's
seeded chaos, on each channel; every notification the service delivered reaches the application
exactly once and in per-device order, with the in-memory dedupe window alone, with a sqlite
checkpoint, and through 4 gunicorn workers sharing a Redis checkpoint (`soak_harness` runs and
checks it; ``benchmarks/soak.py`` is the 100,000-notification version with figures)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from redis_server import RedisServer
from soak_harness import CHANNELS, RESOURCE, SoakConfig, SoakResult, run_soak, verify

#: Per channel, the kinds of fault that lose or repeat what it carries: 0.1 each (every other
#: kind 0.02), so that with about a hundred batches each of them strikes in every run.
CHANNEL_FAULTS = {
    "websocket": {"websocket.drop_mid_frame": 0.1, "websocket.drop": 0.1},
    "long-poll": {"long_poll.drop": 0.1, "rest.503": 0.1},
    "webhook": {"webhook.retry": 0.1},
}


@pytest.mark.slow
@pytest.mark.parametrize(("channel", "checkpoint"), [
    *(pytest.param(channel, False, id=channel) for channel in CHANNELS),
    # The listener's sqlite checkpoint through reconnections (the webhook's checkpoint: Redis,
    # in the gunicorn test below).
    pytest.param("websocket", True, id="websocket-sqlite"),
])
def test_every_delivered_notification_reaches_the_application_once_in_order(
    channel: str, checkpoint: bool, tmp_path: Path
) -> None:
    faults = CHANNEL_FAULTS[channel]
    store = str(tmp_path / "checkpoint.sqlite") if checkpoint else None
    result = run_soak(SoakConfig(channel, notifications=10_000, devices=100, chaos=0.02, seed=7,
                                 chaos_faults=faults, batch_limit=100, drain_timeout=30.0,
                                 checkpoint=store, log_dir=str(tmp_path)))

    assert result.ok, "\n" + result.table()
    assert result.sent + result.not_queued == 10_000
    assert result.unique == result.delivered == result.sent - sum(result.lost.values())
    assert result.duplicates == result.order_violations == 0
    assert_faults_struck(result, faults)
    if channel == "webhook":  # each repeated batch was dropped by the receiver, not handled
        assert result.consumer_stats["duplicates_dropped"] > 0
    else:
        assert result.reconnects


@pytest.mark.slow
def test_gunicorn_workers_sharing_a_redis_checkpoint_handle_each_notification_once(
    tmp_path: Path
) -> None:
    """The scale-out deployment: 4 gunicorn workers, one Redis checkpoint, the emulator
    delivering retried batches to whichever worker accepts the connection."""
    faults = {"webhook.retry": 0.2}
    with RedisServer() as redis_server:
        result = run_soak(SoakConfig("webhook", notifications=10_000, devices=100, chaos=0.02,
                                     seed=7, chaos_faults=faults, batch_limit=100,
                                     drain_timeout=30.0, checkpoint=redis_server.url,
                                     gunicorn_workers=4, log_dir=str(tmp_path)))

    assert result.ok, "\n" + result.table()
    assert result.unique == result.delivered == result.sent == 10_000
    assert result.duplicates == result.order_violations == 0
    assert_faults_struck(result, faults)
    assert result.consumer_stats["workers that handled items"] > 1


def assert_faults_struck(result: SoakResult, faults: dict[str, float]) -> None:
    missing_kinds = [kind for kind in faults if not result.faults.get(kind)]
    assert not missing_kinds, f"never injected: {missing_kinds}\n{result.table()}"


def test_the_check_counts_every_kind_of_failure(tmp_path: Path) -> None:
    """The checker itself, on a made-up history: a notification repeated, two out of order, one
    the service called lost arriving anyway, one never queued arriving, two never arriving."""
    config = SoakConfig("websocket", notifications=6, devices=2, chaos=0)  # 2 devices x 3 values
    (tmp_path / "history.log").write_text("".join(
        f"{device} {seq} uid-{n} {n}\n" for n, (device, seq) in enumerate([
            ("soak-0000", 1), ("soak-0000", 0), ("soak-0000", 1), ("soak-0000", 2),
            ("soak-0001", 2)])))
    lost = {"ep": "soak-0000", "path": RESOURCE, "uid": None, "reason": "in_flight",
            "payload": base64.b64encode(b"2").decode()}
    report = {"counts": {"websocket.drop_mid_frame": 1}, "items": {
        "queued": 5, "delivered": 4, "lost": {"in_flight": 1}, "lost_items": [lost],
        "lost_items_dropped": 0, "still_queued": 0}}
    queued = bytes([1, 1, 1, 1, 1, 0])  # soak-0001's value 2 was made while there was no channel
    result = SoakResult(config, sent=5, drained=True, history_dir=str(tmp_path))

    verify(result, report, queued)

    assert (result.received, result.unique, result.duplicates) == (5, 4, 1)
    assert result.order_violations == 2
    assert (result.missing, result.lost_but_received, result.unexpected) == (2, 1, 1)
    assert result.not_queued == 1
    assert result.record_complete
    assert not result.ok
    assert "FAILED" in result.table()
