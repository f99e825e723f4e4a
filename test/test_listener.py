"""NotificationListener against the emulator (and, for keepalive and bad frames, a small raw
websocket server): close codes, back-off, no loss, stop() latency, takeovers, conflicts."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import mds
from mds.async_responses import AsyncResponses
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.events import AsyncResponse, ResourceChanged, event_list
from mds.listener import (
    DEFAULT_CLOSE_CODE_POLICY,
    Action,
    ListenerStats,
    NotificationListener,
    ReconnectPolicy,
    existing_channel,
)
from mds.models._base import Model
from mds.websocket import parse_frame, parse_frame_dict
from servers import wait_until

FAST = ReconnectPolicy(initial_delay=0.02, max_delay=0.2, takeover_delay=0.2,
                       takeover_max_delay=2.0)


def client_for(emu: Emulator, key: str | None = None) -> mds.ApiClient:
    return mds.ApiClient(mds.Configuration(host=emu.url, api_key=key or emu.api_key))


@pytest.fixture
def client(mds_emulator: Emulator) -> Iterator[mds.ApiClient]:
    with client_for(mds_emulator) as api_client:
        yield api_client


def values(events: Iterable[Any]) -> list[Any]:
    return [e.value for e in events]


def take(listener: NotificationListener, count: int) -> list[Any]:
    events: list[Any] = []
    for event in listener:
        events.append(event)
        if len(events) == count:
            break
    return events


def first_event(listener: NotificationListener) -> Any:
    """Open *listener* and take one event: what raises, raises from one of the two."""
    listener.open()
    return next(listener)


def requests_to(emu: Emulator, method: str, path: str) -> int:
    return sum(1 for r in emu.requests() if r["method"] == method and r["path"] == path)


# -- websocket basics ---------------------------------------------------------------------------

def test_websocket_events_in_order_with_stats(mds_emulator: Emulator,
                                              client: mds.ApiClient) -> None:
    with NotificationListener(client, reconnect=FAST) as listener:
        assert listener.stats.connected
        for i in range(5):
            mds_emulator.notify("dev-1", "/3303/0/5700", i)
        mds_emulator.register_device("dev-2", ept="Light")
        events = take(listener, 6)
        stats = listener.stats
    assert values(events[:5]) == [0, 1, 2, 3, 4]
    assert all(isinstance(e, ResourceChanged) and e.device_id == "dev-1" for e in events[:5])
    assert type(events[5]).__name__ == "DeviceRegistered"
    assert isinstance(stats, ListenerStats)
    assert stats.events == 6
    assert stats.messages >= 1
    assert stats.reconnects == 0
    assert stats.started is not None
    assert stats.channel == "websocket"
    with pytest.raises(dataclasses.FrozenInstanceError):  # a snapshot
        stats.events = 0  # type: ignore[misc]
    assert not listener.stats.connected


def test_messages_yields_whole_batches(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with NotificationListener(client) as listener:
        mds_emulator.queue_message({"notifications": [
            {"ep": "d", "path": "/1/0/1", "ct": "text/plain",
             "payload": base64.b64encode(str(i).encode()).decode()} for i in range(3)]})
        message = next(listener.messages())
    assert isinstance(message, mds.NotificationMessage)
    assert len(message) == 3
    assert values(message.events()) == [0, 1, 2]


def test_repr_has_no_secret(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    listener = NotificationListener(client)
    assert mds_emulator.api_key not in repr(listener)
    listener.close()


# -- close codes ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "reason", "registers"),
    [
        (1001, "server shutting down", True),
        (1001, "", True),  # not said: the listener asks, and nobody else is connected
        (1011, "unexpected condition", True),
        (1012, "service restart", False),
        (1013, "try again later", False),
        (4321, "a code nobody documented", False),
    ],
)
def test_close_codes_that_reconnect(mds_emulator: Emulator, client: mds.ApiClient, code: int,
                                    reason: str, registers: bool) -> None:
    with NotificationListener(client, reconnect=FAST) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        first = take(listener, 1)
        assert mds_emulator.add_fault(websocket="close", code=code, reason=reason)["sockets"] == 1
        assert wait_until(lambda: listener.stats.last_close_code is not None or
                 mds_emulator.health()["websockets"] == 0)
        mds_emulator.notify("d", "/1/0/1", 2)
        second = take(listener, 1)
        stats = listener.stats
    assert values(first + second) == [1, 2]
    assert stats.last_close_code == code
    assert stats.last_close_reason == reason
    assert stats.reconnects == 1
    assert stats.takeovers == 0
    puts = requests_to(mds_emulator, "PUT", "/v2/notification/websocket")
    assert puts == (2 if registers else 1)


def test_close_1006_lost_connection_reconnects(mds_emulator: Emulator,
                                               client: mds.ApiClient) -> None:
    with NotificationListener(client, reconnect=FAST) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        assert values(take(listener, 1)) == [1]
        mds_emulator.add_fault(websocket="drop")
        mds_emulator.notify("d", "/1/0/1", 2)
        assert values(take(listener, 1)) == [2]
        assert listener.stats.reconnects == 1
        assert listener.stats.last_close_code == 1006


def test_close_1000_from_the_server_stops_cleanly(mds_emulator: Emulator,
                                                  client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(client)
    with NotificationListener(client, reconnect=FAST) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        got = take(listener, 1)
        api.delete_websocket()  # the service closes with 1000
        got += list(listener)  # ends without an exception
        assert listener.stopped
        assert listener.stats.last_close_code == 1000
    assert values(got) == [1]


def test_close_1008_raises_unauthorized(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with NotificationListener(client, reconnect=FAST) as listener:
        mds_emulator.add_fault(websocket="close", code=1008, reason="API key missing or invalid")
        with pytest.raises(mds.UnauthorizedException) as info:
            next(iter(listener))
    assert "1008" in str(info.value)
    assert mds_emulator.api_key not in str(info.value)


def test_bad_key_on_the_websocket_handshake_raises_unauthorized() -> None:
    with Emulator(api_keys=["ak_good"], **TEST_TIMINGS) as emu:
        with client_for(emu, "ak_good") as good:
            mds.NotificationsApi(good).register_websocket()
        with client_for(emu, "ak_wrong") as bad:
            listener = NotificationListener(bad, register=False, reconnect=FAST)
            # The service accepts the handshake, then closes with 1008.
            with pytest.raises(mds.UnauthorizedException):
                first_event(listener)
            listener.close()


def test_1011_without_a_channel_registers_it(mds_emulator: Emulator,
                                             client: mds.ApiClient) -> None:
    def produce() -> None:
        assert wait_until(lambda: mds_emulator.health()["websockets"] == 1)
        mds_emulator.notify("d", "/1/0/1", 7)

    with NotificationListener(client, register=False, reconnect=FAST) as listener:
        producer = threading.Thread(target=produce)
        producer.start()
        assert values(take(listener, 1)) == [7]
        producer.join()
        assert listener.stats.last_close_code == 1011
    assert requests_to(mds_emulator, "PUT", "/v2/notification/websocket") == 1


def test_close_code_policy_is_data_and_can_be_overridden(mds_emulator: Emulator,
                                                         client: mds.ApiClient) -> None:
    assert DEFAULT_CLOSE_CODE_POLICY[1000] is Action.STOP
    assert DEFAULT_CLOSE_CODE_POLICY[1001] is Action.REREGISTER
    assert DEFAULT_CLOSE_CODE_POLICY[1006] is Action.RECONNECT
    assert DEFAULT_CLOSE_CODE_POLICY[1008] is Action.RAISE_UNAUTHORIZED
    assert DEFAULT_CLOSE_CODE_POLICY[1011] is Action.REREGISTER
    assert DEFAULT_CLOSE_CODE_POLICY[1012] is Action.RECONNECT
    with pytest.raises(TypeError):
        DEFAULT_CLOSE_CODE_POLICY[1000] = Action.RECONNECT  # type: ignore[index]
    policy = {**DEFAULT_CLOSE_CODE_POLICY, 1012: Action.STOP, 4000: Action.RAISE}
    with NotificationListener(client, close_code_policy=policy, reconnect=FAST) as listener:
        mds_emulator.add_fault(websocket="close", code=1012)
        assert list(listener) == []
        assert listener.stats.last_close_code == 1012
    with NotificationListener(client, close_code_policy=policy, reconnect=FAST) as listener:
        mds_emulator.add_fault(websocket="close", code=4000, reason="custom")
        with pytest.raises(mds.WebsocketClosedError) as info:
            next(listener)
    assert info.value.code == 4000


# -- no loss ----------------------------------------------------------------------------------

def test_forced_drops_while_10000_notifications_flow_lose_nothing() -> None:
    total = 10_000
    with Emulator(batch_limit=40, **TEST_TIMINGS) as emu, client_for(emu) as api_client:
        emu.add_fault(websocket="drop", every=5)
        payloads = [base64.b64encode(str(i).encode()).decode() for i in range(total)]

        def produce() -> None:
            # Chunk after chunk, each once the listener has caught up with the one before the
            # last: notifications keep flowing while the connection drops.
            for start in range(0, total, 500):
                caught_up = max(0, start - 500)
                wait_until(lambda: listener.stats.events >= caught_up, timeout=30)  # noqa: B023 - called at once
                emu.queue_message({"notifications": [
                    {"ep": "dev", "path": "/1/0/1", "ct": "text/plain", "payload": p}
                    for p in payloads[start:start + 500]]})

        with NotificationListener(api_client, reconnect=FAST) as listener:
            producer = threading.Thread(target=produce)
            producer.start()
            received = take(listener, total)
            producer.join()
            stats = listener.stats
    assert values(received) == list(range(total))  # all, in order, no duplicates
    assert stats.reconnects >= 10
    assert stats.events == total


def test_events_left_in_a_batch_survive_an_exception_in_the_loop(
        mds_emulator: Emulator, client: mds.ApiClient) -> None:
    mds_emulator_batch = {"notifications": [
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain",
         "payload": base64.b64encode(str(i).encode()).decode()} for i in range(5)]}
    seen: list[Any] = []
    with NotificationListener(client) as listener:
        mds_emulator.queue_message(mds_emulator_batch)

        def consume() -> None:
            for event in listener:
                seen.append(getattr(event, "value", None))
                if seen[-1] == 1:
                    raise RuntimeError("the consumer failed")

        with pytest.raises(RuntimeError, match="the consumer failed"):
            consume()
        mds_emulator.notify("d", "/1/0/1", 5)
        seen += values(take(listener, 4))
    assert seen == [0, 1, 2, 3, 4, 5]


def test_async_responses_registry_is_fed(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    registry = AsyncResponses()
    with NotificationListener(client, async_responses=registry) as listener:
        mds_emulator.async_response("req-1", value="42")
        event = take(listener, 1)[0]
    assert isinstance(event, AsyncResponse)
    assert registry.wait("req-1", timeout=0).value == 42


# -- long poll --------------------------------------------------------------------------------

def poll_channel_ready(emu: Emulator) -> Callable[[], bool]:
    return lambda: emu.health()["channels"] > 0


def notify_once_polled(emu: Emulator, device: str, path: str, value: Any) -> threading.Thread:
    """Notify from another thread as soon as a long poll has made its channel (before, the
    notification would find no channel to be queued on). Join the thread returned."""
    def run() -> None:
        if wait_until(poll_channel_ready(emu)):
            emu.notify(device, path, value)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_long_poll_receives_in_order(mds_emulator: Emulator, client: mds.ApiClient) -> None:
    with NotificationListener(client, "long-poll", reconnect=FAST) as listener:
        def produce() -> None:
            assert wait_until(poll_channel_ready(mds_emulator))
            for i in range(20):
                mds_emulator.notify("d", "/1/0/1", i)

        producer = threading.Thread(target=produce)
        producer.start()
        got = take(listener, 20)
        producer.join()
        assert listener.stats.connected
    assert values(got) == list(range(20))


def test_long_poll_rides_out_429_and_503_bursts(mds_emulator: Emulator, client: mds.ApiClient,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mds.listener")
    pull = "GET /v2/notification/pull"
    with NotificationListener(client, "long-poll", reconnect=FAST) as listener:
        mds_emulator.add_fault(endpoint=pull, status=503, count=3)
        mds_emulator.add_fault(endpoint=pull, status=429, headers={"Retry-After": "0.05"},
                               count=3)

        def produce() -> None:
            assert wait_until(poll_channel_ready(mds_emulator))
            mds_emulator.notify("d", "/1/0/1", "after the storm")

        producer = threading.Thread(target=produce)
        producer.start()
        got = take(listener, 1)
        producer.join()
        stats = listener.stats
    assert values(got) == ["after the storm"]
    assert stats.failures == 6
    assert stats.consecutive_failures == 0
    assert stats.reconnects == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 6
    assert any("503" in r.getMessage() for r in warnings)
    assert any("429" in r.getMessage() for r in warnings)


def test_long_poll_410_backs_off_and_retries() -> None:
    timings = {**TEST_TIMINGS, "purge_window": 0.3}
    with Emulator(**timings) as emu, client_for(emu) as api_client:
        api = mds.NotificationsApi(api_client)
        assert api.delete_long_poll_channel() in ("REMOVED", "ALREADY_DELETED")
        api.long_poll_notifications(_request_timeout=5)  # creates the channel (204 after 1 s)
        api.delete_long_poll_channel()  # now GETs answer 410 for 0.3 s
        policy = ReconnectPolicy(initial_delay=0.1, max_delay=0.1, jitter=False)
        with NotificationListener(api_client, "long-poll", reconnect=policy) as listener:
            def produce() -> None:
                assert wait_until(poll_channel_ready(emu))
                emu.notify("d", "/1/0/1", 1)

            producer = threading.Thread(target=produce)
            producer.start()
            assert values(take(listener, 1)) == [1]
            producer.join()
            assert listener.stats.failures >= 1
            assert "410" in (listener.stats.last_error or "")


def test_long_poll_max_failures_raises_the_last_error(mds_emulator: Emulator,
                                                      client: mds.ApiClient) -> None:
    mds_emulator.add_fault(endpoint="GET /v2/notification/pull", status=503, count=10)
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.01, max_failures=3)
    with NotificationListener(client, "long-poll", reconnect=policy) as listener:
        with pytest.raises(mds.ServiceException):
            next(listener)
        assert listener.stats.consecutive_failures == 3


def test_network_errors_are_retried_then_raised_with_max_failures() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = mds.Configuration(host=f"http://127.0.0.1:{port}", api_key="ak_x")
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_failures=4)
    for channel in ("long-poll", "websocket"):
        with mds.ApiClient(config) as api_client:
            listener = NotificationListener(api_client, channel, reconnect=policy)
            with pytest.raises(mds.ApiConnectionError):
                first_event(listener)
            assert listener.stats.failures == 4
            listener.close()


def test_another_long_poll_raises_channel_conflict(mds_emulator: Emulator,
                                                   client: mds.ApiClient) -> None:
    other = threading.Thread(target=mds.NotificationsApi(client).long_poll_notifications)
    other.start()
    assert wait_until(poll_channel_ready(mds_emulator))  # the other poll is held from then on
    with client_for(mds_emulator) as second:
        with NotificationListener(second, "long-poll") as listener:
            with pytest.raises(mds.ChannelConflictError) as info:
                next(listener)
    other.join()
    assert info.value.channel == "long-poll"
    assert isinstance(info.value, mds.ConflictException)


# -- stop() -----------------------------------------------------------------------------------

def stop_latency(listener: NotificationListener,
                 waiting: Callable[[], bool]) -> tuple[float, list[Any]]:
    """Iterate *listener* to its end while another thread calls stop() as soon as *waiting*
    says the iteration is blocked where the test wants it. Returns the seconds from stop() to
    the end of the iteration, and the events received."""
    called: list[float] = []

    def stopper() -> None:
        if wait_until(waiting):
            called.append(time.monotonic())
        listener.stop()

    thread = threading.Thread(target=stopper)
    thread.start()
    received = list(listener)
    ended = time.monotonic()
    thread.join()
    assert called, "the iteration never got where stop() was to find it"
    return ended - called[0], received


def test_stop_ends_a_held_long_poll_at_once() -> None:
    with Emulator(**{**TEST_TIMINGS, "long_poll_hold": 30.0}) as emu, client_for(emu) as c:
        with NotificationListener(c, "long-poll") as listener:
            latency, received = stop_latency(listener, poll_channel_ready(emu))
            assert latency < 1.0
            assert received == []
        # The caller's own client was not disturbed.
        assert mds.NotificationsApi(c).delete_long_poll_channel() == "REMOVED"


def test_stop_ends_an_idle_websocket_at_once(mds_emulator: Emulator,
                                             client: mds.ApiClient) -> None:
    with NotificationListener(client) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        # Once the one event is in, the iteration waits for the next frame.
        latency, received = stop_latency(listener, lambda: listener.stats.events == 1)
        assert latency < 1.0
        assert values(received) == [1]
        assert not listener.stats.connected


def test_stop_ends_a_back_off_wait_at_once(mds_emulator: Emulator,
                                           client: mds.ApiClient) -> None:
    slow = ReconnectPolicy(initial_delay=30.0, max_delay=30.0, jitter=False)
    with NotificationListener(client, reconnect=slow) as listener:
        mds_emulator.add_fault(websocket="close", code=1012)
        latency, received = stop_latency(listener,
                                         lambda: listener.stats.last_close_code == 1012)
        assert latency < 1.0
        assert received == []
        assert listener.stats.failures == 1  # it was waiting out the 30 s back-off


def test_close_deletes_the_channel_when_asked(mds_emulator: Emulator,
                                              client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(client)
    with NotificationListener(client, delete_channel_on_close=True):
        assert wait_until(lambda: api.get_websocket().status == "connected")
    with pytest.raises(mds.NotFoundException):
        api.get_websocket()
    with NotificationListener(client):
        pass
    assert wait_until(lambda: api.get_websocket().status == "disconnected")  # kept, with its queue


# -- keepalive and bad frames (raw server) ----------------------------------------------------

class RawWebsocketServer:
    """Accepts websocket handshakes, sends the scripted text frames, then goes silent: it never
    reads again, so pings get no pong."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            key = ""
            for line in data.decode("latin-1").split("\r\n"):
                if line.lower().startswith("sec-websocket-key:"):
                    key = line.split(":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            self.connections += 1
            for frame in self.frames:
                payload = frame.replace("{n}", str(self.connections)).encode()
                conn.sendall(bytes([0x81, len(payload)]) + payload)

    def close(self) -> None:
        self.sock.close()
        for conn in self.clients:
            conn.close()
        self.thread.join(2)


def test_silent_connection_is_declared_dead_and_replaced() -> None:
    frame = json.dumps({"notifications": [
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain", "payload": "{b64}"}]})
    server = RawWebsocketServer(["not json at all", frame])
    server.frames[1] = frame.replace('"{b64}"', '"MQ=="')  # "1"
    try:
        config = mds.Configuration(host=server.url, api_key="ak_x")
        with mds.ApiClient(config) as api_client:
            with NotificationListener(api_client, register=False, reconnect=FAST,
                                      ping_interval=0.2, ping_timeout=0.2) as listener:
                started = time.monotonic()
                got = take(listener, 2)  # one from each connection
                elapsed = time.monotonic() - started
                stats = listener.stats
    finally:
        server.close()
    assert values(got) == [1, 1]
    assert stats.reconnects == 1
    assert stats.last_close_code == 1006
    assert stats.bad_frames == 2
    assert elapsed < 2.5


# Frames that parse_frame (and so messages()) rejects, each for a different reason; the
# event iteration, which reads wire dicts without building models, must reject the same ones.
REJECTED_FRAMES = [
    "not json at all",
    "[1, 2]",
    '{"notifications": {"ep": "x"}}',
    '{"async-responses": "x"}',
    '{"registrations": [{"ep": "r", "resources": 5}]}',
    '{"reg-updates": [{"ep": "r", "resources": {"path": "/a"}}]}',
    '{"de-registrations": 5}',
]
ACCEPTED_FRAMES = [
    "{}",
    '{"future-kind": [1]}',
    '{"registrations": [{"ep": "r", "resources": [1, {"path": "/a"}]}, 7, null]}',
    '{"notifications": [{"ep": "d", "path": "/1", "payload": "MQ=="}, "x"], "reg-updates": null}',
    '{"async-responses": [{"id": "a", "status": 200}], "registrations-expired": ["e"]}',
]


@pytest.mark.parametrize("as_bytes", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("frame", REJECTED_FRAMES)
def test_frames_that_are_no_notification_message_are_rejected_alike(frame: str,
                                                                  as_bytes: bool) -> None:
    sent = frame.encode() if as_bytes else frame
    with pytest.raises(mds.ApiResponseError) as as_model:
        parse_frame(sent)
    with pytest.raises(mds.ApiResponseError) as as_wire:
        parse_frame_dict(sent)
    assert as_model.value.status == 101
    assert as_wire.value.status == 101
    assert as_wire.value.reason == as_model.value.reason


@pytest.mark.parametrize("as_bytes", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("frame", ACCEPTED_FRAMES)
def test_accepted_frames_give_the_same_events_as_dicts_and_as_models(frame: str,
                                                                     as_bytes: bool) -> None:
    sent = frame.encode() if as_bytes else frame
    message = parse_frame(sent)
    wire = parse_frame_dict(sent)
    assert event_list(wire) == list(message.events())
    items = [item for value in wire.values() if type(value) is list for item in value]
    assert not any(isinstance(item, Model) for item in items)  # read as sent, not wrapped


def test_event_iteration_skips_the_frames_messages_skips(caplog: pytest.LogCaptureFixture) -> None:
    good = json.dumps({"notifications": [
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain", "payload": "MQ=="}]})
    gone = json.dumps({"de-registrations": ["gone-1"]})
    server = RawWebsocketServer([*REJECTED_FRAMES, "{}", good, gone])
    reasons = []
    for frame in REJECTED_FRAMES:
        with pytest.raises(mds.ApiResponseError) as info:
            parse_frame(frame)
        reasons.append(info.value.reason)
    caplog.set_level(logging.WARNING, logger="mds.listener")
    try:
        config = mds.Configuration(host=server.url, api_key="ak_x")
        with mds.ApiClient(config) as api_client:
            with NotificationListener(api_client, register=False, reconnect=FAST) as listener:
                events = take(listener, 2)
                stats = listener.stats
            with NotificationListener(api_client, register=False, reconnect=FAST) as listener:
                batches = list(itertools.islice(listener.messages(), 2))
                batch_stats = listener.stats
    finally:
        server.close()
    changed, deregistered = events
    assert isinstance(changed, ResourceChanged)
    assert changed.value == 1
    assert deregistered == mds.DeviceDeregistered("gone-1")
    assert all(isinstance(message, mds.NotificationMessage) for message in batches)
    assert list(batches[0].events()) == [changed]
    for seen in (stats, batch_stats):
        assert (seen.bad_frames, seen.messages, seen.events) == (len(REJECTED_FRAMES), 2, 2)
    skipped = [r.getMessage() for r in caplog.records if "skipped a websocket frame" in r.getMessage()]
    assert skipped == [f"skipped a websocket frame that is not a NotificationMessage: {reason}"
                       for reason in reasons] * 2  # the same for both ways of iterating


# -- takeover ---------------------------------------------------------------------------------

def test_two_listeners_on_one_key_do_not_fight(mds_emulator: Emulator,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mds.listener")
    policy = ReconnectPolicy(initial_delay=0.02, takeover_delay=0.1, takeover_max_delay=5.0,
                             jitter=False, max_takeovers=None)
    listeners: list[NotificationListener] = []
    threads = []
    for _ in range(2):
        api_client = client_for(mds_emulator)
        listener = NotificationListener(api_client, reconnect=policy)
        listeners.append(listener)
        listener.open()
        threads.append(threading.Thread(target=lambda lst=listener: list(lst)))
        threads[-1].start()
    # An observation window, not a wait: how often do the two take the channel from each other?
    time.sleep(2.5)
    for listener in listeners:
        listener.close()
        listener.api_client.close()
    for thread in threads:
        thread.join()
    takeovers = sum(listener.stats.takeovers for listener in listeners)
    connects = requests_to(mds_emulator, "GET", "/v2/notification/websocket-connect")
    # 0.1 s doubling per takeover: at most a handful in 2.5 s, not hundreds.
    assert 1 <= takeovers <= 8
    assert connects <= takeovers + 2
    assert any("another consumer" in r.getMessage() for r in caplog.records)


def test_two_listeners_on_one_key_one_stops_and_says_why(mds_emulator: Emulator) -> None:
    # The default max_takeovers (3 within the window), with short delays.
    policy = ReconnectPolicy(initial_delay=0.02, takeover_delay=0.05, takeover_max_delay=1.0,
                             jitter=False)
    assert policy.max_takeovers == 3
    listeners = [NotificationListener(client_for(mds_emulator), reconnect=policy)
                 for _ in range(2)]
    errors: list[BaseException] = []
    received: list[Any] = []

    def consume(listener: NotificationListener) -> None:
        try:
            received.extend(take(listener, 1))
        except mds.MdsError as exc:
            errors.append(exc)

    threads = []
    for listener in listeners:
        listener.open()
        threads.append(threading.Thread(target=consume, args=(listener,)))
        threads[-1].start()
    try:
        assert wait_until(lambda: errors, timeout=10)
        mds_emulator.notify("dev-1", "/3303/0/5700", 7)  # the one left has the channel
        assert wait_until(lambda: received, timeout=5)
    finally:
        for listener in listeners:
            listener.close()
            listener.api_client.close()
        for thread in threads:
            thread.join()
    [error] = errors
    assert isinstance(error, mds.ChannelTakenOverError)
    assert isinstance(error, mds.ChannelConflictError)
    assert "another process (or another copy of this application)" in str(error)
    assert "one consumer per API key" in str(error)
    assert mds_emulator.api_key not in str(error)
    assert (error.takeovers, error.window, error.channel) == (4, 600.0, "websocket")
    assert values(received) == [7]
    assert sorted(listener.stats.takeovers for listener in listeners) == [3, 4]


def test_max_takeovers_raises_channel_conflict(mds_emulator: Emulator,
                                               client: mds.ApiClient) -> None:
    policy = ReconnectPolicy(takeover_delay=0.01, max_takeovers=0)
    with NotificationListener(client, reconnect=policy) as listener:
        with client_for(mds_emulator) as other_client:
            other = mds.NotificationsApi(other_client).connect_websocket()
            with pytest.raises(mds.ChannelConflictError) as info:
                next(listener)
            other.close()
    assert isinstance(info.value, mds.ChannelTakenOverError)
    assert info.value.channel == "websocket"
    assert listener.stats.takeovers == 1


# -- conflicts --------------------------------------------------------------------------------

@pytest.fixture
def webhook_url(mds_emulator: Emulator) -> Iterator[str]:
    from test_webhook_receiver import serve_waitress

    from mds.webhook_receiver import WebhookReceiver

    url, stop = serve_waitress(WebhookReceiver())
    yield url
    stop()


@pytest.mark.parametrize("old_service", [False, True])
def test_webhook_in_the_way_is_named_and_can_be_replaced(
        mds_emulator: Emulator, client: mds.ApiClient, webhook_url: str,
        old_service: bool) -> None:
    api = mds.NotificationsApi(client)
    api.register_webhook(mds.Webhook(url=webhook_url))
    if old_service:  # a service without GET /v2/notification/channel
        mds_emulator.add_fault(endpoint="GET /v2/notification/channel", status=404, count=10)
    for channel in ("websocket", "long-poll"):
        with pytest.raises(mds.ChannelConflictError) as info:
            NotificationListener(client, channel).open()
        assert info.value.channel == "webhook"
    assert api.get_webhook().url == webhook_url  # nothing was deleted
    with NotificationListener(client, replace_existing=True) as listener:
        mds_emulator.notify("d", "/1/0/1", 3)
        assert values(take(listener, 1)) == [3]
    with pytest.raises(mds.NotFoundException):
        api.get_webhook()


def test_websocket_in_the_way_of_a_long_poll(mds_emulator: Emulator,
                                             client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(client)
    api.register_websocket()
    assert existing_channel(client) == "websocket"
    with pytest.raises(mds.ChannelConflictError) as info:
        NotificationListener(client, "long-poll").open()
    assert info.value.channel == "websocket"
    with NotificationListener(client, "long-poll", replace_existing=True) as listener:
        notifier = notify_once_polled(mds_emulator, "d", "/1/0/1", 4)
        assert values(take(listener, 1)) == [4]
        notifier.join()
    assert existing_channel(client) == "long-poll"


def test_long_poll_in_the_way_of_a_websocket() -> None:
    with Emulator(**{**TEST_TIMINGS, "long_poll_hold": 0.05}) as emu, client_for(emu) as c:
        mds.NotificationsApi(c).long_poll_notifications()  # creates the long-poll channel
        emu.add_fault(endpoint="GET /v2/notification/channel", status=404, count=10)
        with pytest.raises(mds.ChannelConflictError) as info:
            NotificationListener(c).open()
        assert info.value.channel == "long-poll"
        with NotificationListener(c, replace_existing=True) as listener:
            emu.notify("d", "/1/0/1", 5)
            assert values(take(listener, 1)) == [5]


# -- policy arithmetic ------------------------------------------------------------------------

def test_reconnect_policy_back_off() -> None:
    policy = ReconnectPolicy(initial_delay=1.0, max_delay=10.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    jittered = ReconnectPolicy(initial_delay=1.0, max_delay=10.0)
    samples = [jittered.delay(4) for _ in range(200)]
    assert all(0.0 <= s <= 8.0 for s in samples)
    assert max(samples) > 4.0
    assert policy.delay(10_000) == 10.0
    assert [policy.takeover_wait(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert policy.takeover_wait(10_000) == 300.0  # takeover_max_delay
    jittered_takeovers = [jittered.takeover_wait(2) for _ in range(200)]
    assert all(5.0 <= s <= 10.0 for s in jittered_takeovers)  # half to all of the bound
    with pytest.raises(ValueError, match="initial_delay"):
        ReconnectPolicy(initial_delay=-1)
    with pytest.raises(ValueError, match="multiplier"):
        ReconnectPolicy(multiplier=0.5)
    with pytest.raises(ValueError, match="max_failures"):
        ReconnectPolicy(max_failures=0)
    with pytest.raises(ValueError, match="max_takeovers"):
        ReconnectPolicy(max_takeovers=-1)
    with mds.ApiClient() as api_client, pytest.raises(ValueError, match="'webhook'"):
        NotificationListener(api_client, "webhook")


def test_subprotocol_auth_and_messages_after_partial_batch(mds_emulator: Emulator,
                                                           client: mds.ApiClient) -> None:
    with NotificationListener(client, subprotocol_auth=True) as listener:
        mds_emulator.queue_message({"de-registrations": ["a", "b", "c"]})
        assert next(listener) == mds.DeviceDeregistered("a")
        with pytest.raises(RuntimeError, match="buffered"):  # "b" and "c" still are
            next(listener.messages())
        assert [e.device_id for e in take(listener, 2)] == ["b", "c"]
        mds_emulator.deregister_device("d")
        assert next(listener.messages()).de_registrations == ["d"]
    offers = [r["headers"].get("Sec-WebSocket-Protocol", "") for r in mds_emulator.requests()
              if r["path"].endswith("/websocket-connect")]
    assert offers == ["wss, [secure]"]  # the pelion_<key> offer, redacted by the emulator
