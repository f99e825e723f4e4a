"""Effectively-once consumption by the NotificationListener, against the emulator: the channel is
registered with uids, repeats are dropped (and counted), what the application finished is
skipped by a listener restarted on the same checkpoint (sqlite file, Redis), what it failed on
is handed on again, and a failing store loses nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import mds
from mds.checkpoint import Claim, Gate, RedisCheckpoint, SqliteCheckpoint
from mds.emulator import Emulator
from mds.exceptions import CheckpointError
from mds.listener import NotificationListener, ReconnectPolicy
from mds.listener._dedupe import Handover
from mds.listener._source import Counters
from servers import wait_until

pytestmark = pytest.mark.timeout(60)

FAST = ReconnectPolicy(initial_delay=0.02, max_delay=0.2)


@pytest.fixture
def client(mds_emulator: Emulator) -> Iterator[mds.ApiClient]:
    with mds.ApiClient(mds.Configuration(host=mds_emulator.url,
                                         api_key=mds_emulator.api_key)) as api_client:
        yield api_client


def item(uid: str, value: int) -> dict[str, Any]:
    """A notification item carrying its own *uid* (as the service sends with ``include_uid``)."""
    return {"ep": "dev-1", "path": "/3303/0/5700", "ct": "text/plain",
            "payload": base64.b64encode(str(value).encode()).decode(), "uid": uid}


def send(emu: Emulator, *items: dict[str, Any]) -> None:
    """Queue *items* as the service would (re)send them: one batch."""
    assert emu.queue_message({"notifications": list(items)}) == 1


def replaying(client: mds.ApiClient, channel: str = "websocket",
              **options: Any) -> NotificationListener:
    """A listener whose channel is registered without a serialization, so that the emulator
    delivers the uids the test queues (with ``include_uid`` it stamps fresh ones)."""
    return NotificationListener(client, channel, serialization=None, reconnect=FAST, **options)


def uids(events: Iterable[Any]) -> list[Any]:
    return [e.uid for e in events]


def values(events: Iterable[Any]) -> list[Any]:
    return [e.value for e in events]


def devices(events: Iterable[Any]) -> list[Any]:
    return [e.device_id for e in events]


def next_event(listener: NotificationListener) -> Any:
    return next(listener)


def take(listener: NotificationListener, count: int) -> list[Any]:
    events: list[Any] = []
    for event in listener:
        events.append(event)
        if len(events) == count:
            break
    return events


# -- registration ---------------------------------------------------------------------------------

def test_the_channel_is_registered_with_uid_and_timestamp(mds_emulator: Emulator,
                                                          client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(client)
    api.register_websocket()  # registered before, without a serialization: registering applies it
    with NotificationListener(client) as listener:
        serialization = api.get_websocket().serialization
        assert serialization is not None
        assert serialization.to_dict()["cfg"] == {
            "deregistrations_as_object": False, "include_original_ep": False,
            "include_timestamp": True, "include_uid": True}
        mds_emulator.notify("dev-1", "/3303/0/5700", 1)
        mds_emulator.notify("dev-1", "/3303/0/5700", 2)
        first, second = take(listener, 2)
    assert first.uid
    assert second.uid
    assert first.uid != second.uid
    assert first.timestamp is not None


def test_serialization_none_registers_as_before(mds_emulator: Emulator,
                                                client: mds.ApiClient) -> None:
    with NotificationListener(client, serialization=None) as listener:
        mds_emulator.notify("dev-1", "/3303/0/5700", 1)
        event = next_event(listener)
    assert event.uid is None
    puts = [r for r in mds_emulator.requests() if r["method"] == "PUT"]
    assert [r["body"] for r in puts] == [""]


def test_a_serialization_of_ones_own(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    config = {"type": "v2", "max_chunk_size": 100, "cfg": {"include_uid": True}}
    with NotificationListener(client, serialization=config) as listener:
        channel = mds.NotificationsApi(client).get_websocket()
        mds_emulator.queue_message({"notifications": [item("x", i) for i in range(150)]})
        batch = next(listener.messages())
    assert channel.serialization is not None
    assert channel.serialization.max_chunk_size == 100
    assert len(batch) == 100  # the service's chunks
    assert all(n.to_dict()["uid"] != "x" for n in batch.notifications)  # stamped by the service


@pytest.mark.parametrize(("options", "error"), [
    ({"serialization": {"type": "v2", "max_chunk_size": 5}}, mds.ApiValueError),
    ({"serialization": "uid"}, mds.ApiTypeError),
    ({"dedupe_window": 0}, mds.ApiValueError),
    ({"dedupe_window": 1.5}, mds.ApiTypeError),
    ({"max_buffered": 0}, mds.ApiValueError),
    ({"checkpoint": 42}, mds.ApiTypeError),
])
def test_bad_options_raise_at_once(client: mds.ApiClient, options: dict[str, Any],
                                   error: type[Exception]) -> None:
    with pytest.raises(error):
        NotificationListener(client, **options)


# -- repeats --------------------------------------------------------------------------------------

def test_repeats_are_dropped_and_counted(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with replaying(client) as listener:
        send(mds_emulator, item("a", 1), item("b", 2), item("c", 3))
        first = take(listener, 3)
        send(mds_emulator, item("b", 2), item("a", 1), item("d", 4), item("d", 4))
        second = take(listener, 1)
        stats = listener.stats
    assert values(first + second) == [1, 2, 3, 4]
    assert stats.duplicates_dropped == 3  # b, a, and d repeated within its batch
    assert stats.busy == 0
    assert stats.events == 7  # received, repeats included


def test_messages_leave_out_repeats_and_skip_a_batch_of_repeats(
        mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with replaying(client) as listener:
        batches = listener.messages()
        send(mds_emulator, item("a", 1), item("b", 2))
        first = next(batches)
        send(mds_emulator, item("a", 1), item("b", 2))  # all repeats: never yielded
        api = mds.NotificationsApi(client)
        assert wait_until(lambda: api.get_websocket().queue_size == 0)  # sent on its own
        send(mds_emulator, item("b", 2), item("c", 3))
        second = next(batches)
        mds_emulator.queue_message({"registrations": [{"ep": "dev-2", "uid": "r"}]})
        mds_emulator.queue_message({"registrations": [{"ep": "dev-2", "uid": "r"}]})
        mds_emulator.register_device("dev-3")
        registered = devices(next(batches).events())
        if len(registered) == 1:  # when the emulator sent them in two frames
            registered += devices(next(batches).events())
        stats = listener.stats
    assert values(first.events()) == [1, 2]
    assert values(second.events()) == [3]
    assert isinstance(second, mds.NotificationMessage)
    assert registered == ["dev-2", "dev-3"]  # dev-3 has no uid: handed on
    assert stats.duplicates_dropped == 4


def test_items_without_uid_always_pass(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with replaying(client) as listener:
        for _ in range(2):
            mds_emulator.queue_message({"de-registrations": ["dev-1"]})  # strings: no uid
        events = take(listener, 2)
    assert [type(e).__name__ for e in events] == ["DeviceDeregistered"] * 2
    assert listener.stats.duplicates_dropped == 0


def test_long_poll_items_pass_through_the_same_gate(mds_emulator: Emulator,
                                                    client: mds.ApiClient) -> None:
    # The service gives long-poll items no uid; with one, the gate works the same.
    mds.NotificationsApi(client).long_poll_notifications()  # makes the channel (one hold)
    with replaying(client, "long-poll") as listener:
        send(mds_emulator, item("a", 1), item("a", 1), item("b", 2))
        events = take(listener, 2)
        send(mds_emulator, item("b", 2), item("c", 3))
        batch = next(listener.messages())
    assert values(events) == [1, 2]
    assert values(batch.events()) == [3]
    assert listener.stats.duplicates_dropped == 2


# -- checkpoints ----------------------------------------------------------------------------------

def test_a_restarted_listener_skips_what_was_finished(mds_emulator: Emulator,
                                                      client: mds.ApiClient,
                                                      tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    batch = [item(uid, i) for i, uid in enumerate("abc")]
    with replaying(client, checkpoint=checkpoint) as listener:
        send(mds_emulator, *batch)
        handled = values(take(listener, 2))  # a, then b: leaving `with` finishes b
    # c was received but never handed out: not finished, so it comes again.
    with replaying(client, checkpoint=str(checkpoint)) as listener:
        send(mds_emulator, *batch, item("d", 3))
        handled += values(take(listener, 2))
        stats = listener.stats
    assert handled == [0, 1, 2, 3]
    assert stats.duplicates_dropped == 2


def test_an_exception_releases_the_event_in_hand(mds_emulator: Emulator,
                                                 client: mds.ApiClient, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    batch = [item(uid, i) for i, uid in enumerate("abc")]
    handled: list[int] = []

    def handle(event: Any) -> None:
        if event.value == 1:
            raise ZeroDivisionError  # the handler of b failed
        handled.append(event.value)

    def consume(listener: NotificationListener) -> None:
        with listener:
            for event in listener:
                handle(event)

    listener = replaying(client, checkpoint=checkpoint).open()
    send(mds_emulator, *batch)
    with pytest.raises(ZeroDivisionError):
        consume(listener)
    with replaying(client, checkpoint=checkpoint) as listener:
        send(mds_emulator, *batch)
        handled += values(take(listener, 2))
    assert handled == [0, 1, 2]  # a once; b and c handed on again


def test_close_in_an_except_block_releases_and_a_plain_close_finishes(
        mds_emulator: Emulator, client: mds.ApiClient, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    listener = replaying(client, checkpoint=checkpoint).open()
    send(mds_emulator, item("a", 0))
    next(listener)
    try:
        raise RuntimeError("the handler failed")
    except RuntimeError:
        listener.close()  # while handling the failure: a is released
    listener = replaying(client, checkpoint=checkpoint).open()
    send(mds_emulator, item("a", 0))
    assert next_event(listener).uid == "a"
    listener.close()  # a plain close: a is finished
    with replaying(client, checkpoint=checkpoint) as listener:
        send(mds_emulator, item("a", 0), item("b", 1))
        assert next_event(listener).uid == "b"


def test_what_is_iterated_after_close_passes_unrecorded(mds_emulator: Emulator,
                                                        client: mds.ApiClient,
                                                        tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    listener = replaying(client, checkpoint=checkpoint).open()
    send(mds_emulator, item("a", 0), item("b", 1))
    assert next_event(listener).uid == "a"
    listener.close()  # e.g. from a shutdown handler: a is finished, b was never handed out
    assert uids(listener) == ["b"]  # still yielded, as after stop(); the store is closed
    with SqliteCheckpoint(checkpoint) as other:
        assert other.claim(["a", "b"]) == [Claim.DONE, Claim.NEW]


def test_messages_finish_a_batch_when_the_next_is_asked_for(mds_emulator: Emulator,
                                                            client: mds.ApiClient,
                                                            tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    with replaying(client, checkpoint=checkpoint) as listener:
        batches = listener.messages()
        send(mds_emulator, item("a", 0), item("b", 1))
        next(batches)
        send(mds_emulator, item("c", 2))
        next(batches)  # a and b finished now; c is in hand
        with SqliteCheckpoint(checkpoint) as other:  # another consumer sharing the file
            assert other.claim(["a", "b", "c"]) == [Claim.DONE, Claim.DONE, Claim.BUSY]
    # Leaving `with` finished c.
    with SqliteCheckpoint(checkpoint) as other:
        assert other.claim(["c"]) == [Claim.DONE]


def test_what_another_consumer_holds_is_skipped_as_busy(mds_emulator: Emulator,
                                                        client: mds.ApiClient,
                                                        tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.sqlite"
    with SqliteCheckpoint(checkpoint) as other:
        assert other.claim(["b"]) == [Claim.NEW]  # another consumer is handling b
        with replaying(client, checkpoint=checkpoint) as listener:
            send(mds_emulator, item("a", 0), item("b", 1), item("c", 2))
            events = take(listener, 2)
            stats = listener.stats
    assert uids(events) == ["a", "c"]
    assert (stats.busy, stats.duplicates_dropped) == (1, 0)


def test_a_redis_checkpoint_is_shared_across_restarts(mds_emulator: Emulator,
                                                      client: mds.ApiClient,
                                                      redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    batch = [item(uid, i) for i, uid in enumerate("ab")]
    with RedisCheckpoint(redis_url, prefix=prefix) as store:
        with replaying(client, checkpoint=store) as listener:
            send(mds_emulator, *batch)
            take(listener, 2)
        with replaying(client, checkpoint=store) as listener:  # the store stays open: ours
            send(mds_emulator, *batch, item("c", 2))
            assert next_event(listener).uid == "c"
            assert listener.stats.duplicates_dropped == 2
        assert store.claim(["a"]) == [Claim.DONE]


class FailingOnce:
    """A checkpoint store (sqlite underneath) whose next ``claim`` or ``finish`` fails, as a
    store whose disk or server is gone for a moment."""

    def __init__(self, path: Path) -> None:
        self.store = SqliteCheckpoint(path)
        self.fail_next: str | None = None

    def _maybe_fail(self, call: str) -> None:
        if self.fail_next == call:
            self.fail_next = None
            raise CheckpointError(f"the store is unreachable ({call})")

    def claim(self, uids: Sequence[str]) -> list[Claim]:
        self._maybe_fail("claim")
        return self.store.claim(uids)

    def finish(self, uids: Sequence[str]) -> None:
        self._maybe_fail("finish")
        self.store.finish(uids)

    def release(self, uids: Sequence[str]) -> None:
        self.store.release(uids)

    def close(self) -> None:
        self.store.close()


def test_a_failing_store_raises_and_loses_nothing(mds_emulator: Emulator, client: mds.ApiClient,
                                                  tmp_path: Path) -> None:
    store = FailingOnce(tmp_path / "checkpoint.sqlite")
    with replaying(client, checkpoint=store) as listener:
        send(mds_emulator, item("a", 0), item("b", 1))
        store.fail_next = "claim"
        with pytest.raises(CheckpointError):
            next(listener)
        assert next_event(listener).uid == "a"  # the batch was kept, and admitted now
        store.fail_next = "finish"
        with pytest.raises(CheckpointError):
            next(listener)  # a could not be recorded: still in hand
        assert next_event(listener).uid == "b"  # recorded now
        assert store.store.claim(["a"]) == [Claim.DONE]
        store.fail_next = "claim"
        send(mds_emulator, item("c", 2))
        batches = listener.messages()
        with pytest.raises(CheckpointError):
            next(batches)
        assert uids(next(listener.messages()).events()) == ["c"]
    store.close()


def test_a_store_failing_at_close_is_logged(mds_emulator: Emulator, client: mds.ApiClient,
                                            tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                            ) -> None:
    store = FailingOnce(tmp_path / "checkpoint.sqlite")
    with replaying(client, checkpoint=store) as listener:
        send(mds_emulator, item("a", 0))
        next(listener)
        store.fail_next = "finish"
    assert "could not record what the application finished" in caplog.text
    store.close()


def test_a_batch_keeps_what_is_not_an_item_list_and_drops_emptied_kinds() -> None:
    counters = Counters()
    handover = Handover(Gate(), counters)
    first = {"notifications": [item("a", 0)], "registrations": [{"ep": "d", "uid": 7}]}
    assert handover.batch(first) is first  # nothing dropped: the batch itself
    handover.finish_in_hand()
    again = {"notifications": [item("a", 0), item("b", 1)],
             "registrations": [{"ep": "d", "uid": 7}],  # a uid that is no string, as its str
             "reg-updates": "not a list", "x-unknown": [1]}
    assert handover.batch(again) == {"notifications": [item("b", 1)],
                                     "reg-updates": "not a list", "x-unknown": [1]}
    handover.finish_in_hand()
    assert handover.batch({"notifications": [item("b", 1)]}) is None  # all repeats
    assert counters.duplicates_dropped == 3
    handover.end(failed=False, unhanded=[])


def test_stats_and_counters_list_the_same_fields() -> None:
    import dataclasses

    from mds.listener import ListenerStats
    from mds.listener._source import Counters

    stats = [(f.name, f.default) for f in dataclasses.fields(ListenerStats)]
    counters = [(f.name, f.default) for f in dataclasses.fields(Counters)]
    assert stats == [("channel", dataclasses.MISSING), *counters]
    assert json.dumps(dataclasses.asdict(Counters()))  # plain values only
