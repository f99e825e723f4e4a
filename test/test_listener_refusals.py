"""NotificationListener when the service refuses: keys refused mid-stream, 400s that do and do not
name a channel in the way, refusals that retrying cannot fix, and takeovers outside the window."""

from __future__ import annotations

import json
import threading
from functools import partial
from typing import Any

import pytest
from test_listener import FAST, client_for, notify_once_polled, requests_to, take, values

import mds
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.listener import NotificationListener, ReconnectPolicy
from mds.listener._websocket_source import Takeovers
from servers import ScriptedServer, wait_until

PULL = "GET /v2/notification/pull"
CHANNEL = "GET /v2/notification/channel"
OTHER_CHANNEL = {"code": 400, "message": "other type of channel already exists",
                 "type": "validation_error", "request_id": "r1"}
WEBHOOK_EXISTS = {"delivery_mechanism": "CALLBACK"}


@pytest.fixture
def emu() -> Any:
    """Long polls held briefly, so that each fault meets a fresh poll soon."""
    with Emulator(**{**TEST_TIMINGS, "long_poll_hold": 0.05}) as emulator:
        yield emulator


@pytest.mark.parametrize(("status", "exc"), [(401, mds.UnauthorizedException),
                                             (403, mds.ForbiddenException),
                                             (404, mds.NotFoundException)])
def test_a_refusal_while_polling_that_retrying_cannot_fix_is_raised(
        emu: Emulator, status: int, exc: type[mds.ApiException]) -> None:
    with client_for(emu) as client, NotificationListener(client, "long-poll") as listener:
        emu.add_fault(endpoint=PULL, status=status)
        with pytest.raises(exc):
            next(listener)
        assert listener.stats.failures == 0


def test_empty_answers_poll_again_at_once(emu: Emulator) -> None:
    with client_for(emu) as client, NotificationListener(client, "long-poll") as listener:
        # Each poll is held 0.05 s: let three end with 204 before the notification comes.
        def notify_after_three_polls() -> None:
            if wait_until(lambda: requests_to(emu, "GET", "/v2/notification/pull") > 3):
                emu.notify("d", "/1/0/1", 1)

        notifier = threading.Thread(target=notify_after_three_polls)
        notifier.start()
        assert values(take(listener, 1)) == [1]
        notifier.join()
        stats = listener.stats
    assert (stats.failures, stats.reconnects, stats.connected) == (0, 0, True)


def test_a_400_on_the_poll_naming_no_channel_is_retried(emu: Emulator) -> None:
    with client_for(emu) as client:
        with NotificationListener(client, "long-poll", reconnect=FAST) as listener:
            emu.add_fault(endpoint=PULL, status=400)
            notifier = notify_once_polled(emu, "d", "/1/0/1", 1)
            assert values(take(listener, 1)) == [1]
            notifier.join()
            assert listener.stats.failures == 1


@pytest.mark.parametrize("replace_existing", [False, True])
def test_a_webhook_appearing_mid_stream_is_named_never_replaced(
        emu: Emulator, replace_existing: bool) -> None:
    with client_for(emu) as client:
        with NotificationListener(client, "long-poll", reconnect=FAST,
                                  replace_existing=replace_existing) as listener:
            notifier = notify_once_polled(emu, "d", "/1/0/1", 1)
            assert values(take(listener, 1)) == [1]
            notifier.join()
            emu.add_fault(endpoint=PULL, status=400, body=json.dumps(OTHER_CHANNEL))
            emu.add_fault(endpoint=CHANNEL, status=200, body=json.dumps(WEBHOOK_EXISTS))
            with pytest.raises(mds.ChannelConflictError) as info:
                next(listener)
    assert info.value.channel == "webhook"
    assert info.value.status == 400
    assert info.value.request_id == "r1"
    assert requests_to(emu, "DELETE", "/v2/notification/callback") == 0


def test_a_webhook_in_the_way_of_the_first_poll_is_replaced(emu: Emulator) -> None:
    with client_for(emu) as client:
        with NotificationListener(client, "long-poll", reconnect=FAST,
                                  replace_existing=True) as listener:
            emu.add_fault(endpoint=PULL, status=400, body=json.dumps(OTHER_CHANNEL))
            emu.add_fault(endpoint=CHANNEL, status=200, body=json.dumps(WEBHOOK_EXISTS))
            notifier = notify_once_polled(emu, "d", "/1/0/1", 1)
            assert values(take(listener, 1)) == [1]
            notifier.join()
    assert requests_to(emu, "DELETE", "/v2/notification/callback") == 1


def test_a_registration_400_that_names_no_other_channel_is_raised_as_it_came(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    # The key has the websocket channel itself: the 400 is about something else.
    mds.NotificationsApi(mds_client).register_websocket()
    mds_emulator.add_fault(endpoint="PUT /v2/notification/websocket", status=400)
    with pytest.raises(mds.BadRequestException) as info:
        NotificationListener(mds_client).open()
    assert not isinstance(info.value, mds.ChannelConflictError)
    # The service cannot say which channel it is: the same.
    mds_emulator.add_fault(endpoint="PUT /v2/notification/websocket", status=400)
    mds_emulator.add_fault(endpoint=CHANNEL, status=503)
    with pytest.raises(mds.BadRequestException) as info:
        NotificationListener(mds_client).open()
    assert not isinstance(info.value, mds.ChannelConflictError)


def test_a_handshake_refusal_that_retrying_cannot_fix_is_raised(server: ScriptedServer) -> None:
    server.reply("GET", "/v2/notification/websocket-connect", 404, {"code": 404})
    with mds.ApiClient(mds.Configuration(host=server.url, api_key="ak_x")) as client:
        listener = NotificationListener(client, register=False, reconnect=FAST)
        with pytest.raises(mds.NotFoundException):
            listener.open()
        assert listener.stats.failures == 0
        assert listener.stopped


def test_a_1001_the_service_cannot_explain_is_no_takeover(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    with NotificationListener(mds_client, reconnect=FAST) as listener:
        # The reason does not say, and asking whether someone else is connected fails.
        mds_emulator.add_fault(endpoint="GET /v2/notification/websocket", status=503)
        mds_emulator.add_fault(websocket="close", code=1001, reason="")
        assert wait_until(lambda: mds_emulator.health()["websockets"] == 0)
        mds_emulator.notify("d", "/1/0/1", 1)
        assert values(take(listener, 1)) == [1]
        stats = listener.stats
    assert (stats.takeovers, stats.reconnects, stats.last_close_code) == (0, 1, 1001)
    assert requests_to(mds_emulator, "PUT", "/v2/notification/websocket") == 2  # registered again


def taken_back(listener: NotificationListener, takeovers: int) -> bool:
    """The listener has counted *takeovers* and is connected again."""
    stats = listener.stats
    return stats.takeovers == takeovers and stats.connected


def test_takeovers_older_than_the_window_no_longer_count(
        mds_emulator: Emulator, mds_client: mds.ApiClient) -> None:
    policy = ReconnectPolicy(takeover_delay=0.01, takeover_window=0.0, max_takeovers=1)
    failures: list[BaseException] = []
    with NotificationListener(mds_client, reconnect=policy) as listener:
        def consume() -> None:
            try:
                for _ in listener:
                    pass
            except mds.MdsError as exc:
                failures.append(exc)

        consumer = threading.Thread(target=consume)
        consumer.start()
        with client_for(mds_emulator) as other_client:
            other = mds.NotificationsApi(other_client)
            for count in (1, 2):
                taker = other.connect_websocket()
                assert wait_until(partial(taken_back, listener, count))
                assert list(taker) == []  # the listener took the channel back
        listener.stop()
        consumer.join()
    assert failures == []  # two takeovers, but never more than max_takeovers=1 in the window


def test_a_channel_held_for_healthy_after_starts_the_takeover_count_again() -> None:
    # `mds request` on the key of a running `mds listen` now and then takes the channel briefly;
    # the listener, which then holds it for minutes, must not stop as if two consumers fought.
    takeovers = Takeovers(ReconnectPolicy(max_takeovers=1, healthy_after=30.0, jitter=False))
    takeovers.record(held=0.5)
    for _ in range(5):
        takeovers.record(held=31.0)  # each after the channel stayed ours for 31 s
        assert takeovers.recent == 1
    with pytest.raises(mds.ChannelTakenOverError):
        takeovers.record(held=5.0)  # taken again 5 s after we took it back: a fight
