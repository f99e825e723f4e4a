"""NotificationListener's life: opening once, stopping before or while it iterates, what arrived
before a stop, closing (and deleting the channel), and the async-response registry."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time

import pytest
from test_listener import (
    FAST,
    RawWebsocketServer,
    client_for,
    poll_channel_ready,
    requests_to,
    take,
    values,
)

import mds
from mds.async_responses import AsyncResponses
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.listener import Action, NotificationListener
from servers import wait_until

WS_CONNECT = "/v2/notification/websocket-connect"


def test_open_is_idempotent_and_a_closed_listener_stays_closed(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    listener = NotificationListener(mds_client)
    assert repr(listener).endswith(" new>")
    assert listener.open() is listener
    assert listener.open() is listener
    assert repr(listener).endswith(" open>")
    assert requests_to(mds_emulator, "GET", WS_CONNECT) == 1
    listener.stop()
    assert repr(listener).endswith(" stopped>")
    listener.close()
    listener.close()
    assert repr(listener).endswith(" closed>")
    assert listener.open() is listener  # opened once: nothing to do
    never_opened = NotificationListener(mds_client)
    never_opened.close()
    with pytest.raises(RuntimeError, match="closed"):
        never_opened.open()
    with pytest.raises(RuntimeError, match="closed"):
        next(never_opened)
    assert requests_to(mds_emulator, "GET", WS_CONNECT) == 1


@pytest.mark.parametrize("channel", ["websocket", "long-poll"])
def test_stop_before_opening_or_iterating_ends_at_once(
        mds_emulator: Emulator, mds_client: mds.ApiClient, channel: str) -> None:
    listener = NotificationListener(mds_client, channel)
    listener.stop()
    with listener:
        assert list(listener) == []
        assert list(listener.messages()) == []
        assert listener.stopped
    assert requests_to(mds_emulator, "GET", WS_CONNECT) == 0
    assert requests_to(mds_emulator, "GET", "/v2/notification/pull") == 0
    with NotificationListener(mds_client, channel, reconnect=FAST) as listener:
        listener.stop()
        assert list(listener) == []


@pytest.mark.parametrize("whole_batches", [False, True], ids=["events", "messages"])
def test_what_reached_the_client_before_stop_is_still_yielded(
        mds_emulator: Emulator, mds_client: mds.ApiClient, whole_batches: bool) -> None:
    with NotificationListener(mds_client) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        mds_emulator.notify("d", "/1/0/1", 2)
        # Written whole to our socket (the service's ledger counts an item delivered then; an
        # empty queue alone may still mean a frame on its way out).
        assert wait_until(lambda: mds_emulator.chaos_report()["items"]["delivered"] == 2)
        listener.stop()
        if whole_batches:
            got = [event for message in listener.messages() for event in message.events()]
        else:
            got = list(listener)
        assert values(got) == [1, 2]
        assert listener.stats.events == 2
        assert list(listener) == []  # and then it has ended


def test_close_deleting_the_channel_logs_a_failure_instead_of_raising(
        mds_emulator: Emulator, mds_client: mds.ApiClient,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mds.listener")
    api = mds.NotificationsApi(mds_client)
    listener = NotificationListener(mds_client, delete_channel_on_close=True)
    with listener:
        mds_emulator.add_fault(endpoint="DELETE /v2/notification/websocket", status=503)
    assert api.get_websocket().status == "disconnected"  # still there, queue and all
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not delete the websocket channel" in m and "503" in m for m in messages)
    # A channel someone else deleted first is no failure, and nothing is said to be deleted.
    caplog.clear()
    with NotificationListener(mds_client, delete_channel_on_close=True):
        api.delete_websocket()
    assert not [r for r in caplog.records if "delete" in r.getMessage()]


def test_messages_feed_the_registry_and_end_with_the_stream(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    registry = AsyncResponses()
    with NotificationListener(mds_client, async_responses=registry) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        mds_emulator.async_response("req-1", value="42")
        batches = []
        for message in listener.messages():
            batches.append(message)
            if sum(len(batch) for batch in batches) == 2:
                mds.NotificationsApi(mds_client).delete_websocket()  # the service closes: 1000
    assert registry.wait("req-1", timeout=0).value == 42
    assert [type(e).__name__ for b in batches for e in b.events()] == [
        "ResourceChanged", "AsyncResponse"]


def test_the_registry_gets_the_answers_only(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    registry = AsyncResponses()
    with NotificationListener(mds_client, async_responses=registry) as listener:
        mds_emulator.notify("d", "/1/0/1", 1)
        assert values(take(listener, 1)) == [1]
        assert registry.pending() == 0
        mds_emulator.async_response("req-2", status=504, error="TIMEOUT")
        assert [type(e).__name__ for e in take(listener, 1)] == ["AsyncResponse"]
    assert registry.pending() == 1
    with pytest.raises(mds.AsyncResponseError):
        registry.wait("req-2", timeout=0)


def test_the_constructor_settings_read_back(mds_client: mds.ApiClient) -> None:
    policy = {1000: Action.RECONNECT}
    listener = NotificationListener(
        mds_client, "long-poll", register=False, replace_existing=True, reconnect=FAST,
        close_code_policy=policy, delete_channel_on_close=True, ping_interval=1.0,
        ping_timeout=2.0, subprotocol_auth=True, connect_timeout=3.0, close_timeout=4.0)
    assert (listener.api_client, listener.channel) == (mds_client, "long-poll")
    assert (listener.register, listener.replace_existing) == (False, True)
    assert listener.reconnect_policy is FAST
    assert dict(listener.close_code_policy) == policy
    assert listener.delete_channel_on_close
    assert (listener.ping_interval, listener.ping_timeout) == (1.0, 2.0)
    assert listener.subprotocol_auth
    assert (listener.connect_timeout, listener.close_timeout) == (3.0, 4.0)
    assert listener.async_responses is None
    listener.close()


def test_stop_during_the_handshake_closes_the_new_connection(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    mds.NotificationsApi(mds_client).register_websocket()
    mds_emulator.add_fault(endpoint=f"GET {WS_CONNECT}", delay=0.5)
    listener = NotificationListener(mds_client, register=False)

    def stop_once_asked() -> None:
        wait_until(lambda: requests_to(mds_emulator, "GET", WS_CONNECT) == 1)
        listener.stop()

    stopper = threading.Thread(target=stop_once_asked)
    stopper.start()
    with listener:  # the handshake takes 0.5 s; stop() comes during it
        assert list(listener) == []
    stopper.join()
    assert wait_until(lambda: mds_emulator.health()["websockets"] == 0)
    assert not listener.stats.connected


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_stop_from_a_signal_handler_ends_a_held_poll_at_once() -> None:
    # The handler runs in the iterating thread, on top of the held request: stop() must abort
    # it without waiting for that thread to leave the request.
    assert threading.current_thread() is threading.main_thread()
    with Emulator(**{**TEST_TIMINGS, "long_poll_hold": 30.0}) as emu, client_for(emu) as client:
        with NotificationListener(client, "long-poll") as listener:
            previous = signal.signal(signal.SIGUSR1, lambda signum, frame: listener.stop())
            main = threading.main_thread().ident
            assert main is not None

            def signal_once_held() -> None:
                wait_until(poll_channel_ready(emu))
                signal.pthread_kill(main, signal.SIGUSR1)

            sender = threading.Thread(target=signal_once_held)
            try:
                sender.start()
                started = time.monotonic()
                assert list(listener) == []
                assert time.monotonic() - started < 1.5
            finally:
                sender.join()
                signal.signal(signal.SIGUSR1, previous)


def test_frames_buffered_at_stop_are_read_as_ever() -> None:
    good = json.dumps({"notifications": [
        {"ep": "d", "path": "/1/0/1", "ct": "text/plain", "payload": "MQ=="}]})
    server = RawWebsocketServer(["not json", "{}", good])
    try:
        config = mds.Configuration(host=server.url, api_key="ak_x")
        with mds.ApiClient(config) as api_client:
            with NotificationListener(api_client, register=False, reconnect=FAST) as listener:
                listener.stop()  # the frames were sent with the handshake's answer
                got = list(listener)
                stats = listener.stats
    finally:
        server.close()
    assert values(got) == [1]  # the good one; "{}" has no items
    assert (stats.bad_frames, stats.messages, stats.events) == (1, 1, 1)
