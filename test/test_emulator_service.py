"""The emulated service's rules, driven through NotificationService with a ManualClock.

No sockets and no waiting: time passes only when a test steps the clock, so every deadline (a
long-poll hold, an expiry, the purge window, a webhook back-off, the give-up) is checked to the
exact second. The transports that put these rules on the wire are tested with real sockets in
the other ``test_emulator*`` files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mds.emulator import Emulator, ManualClock
from mds.emulator._channels import CallbackChannel, SocketSession
from mds.emulator._faults import EndpointFault, SocketFault, parse_fault
from mds.emulator._http import ENDPOINTS, ROUTES
from mds.emulator._messages import build_message, split_message
from mds.emulator._service import (
    Batch,
    Delivery,
    NotificationService,
    Refusal,
    Settings,
    SocketEnd,
)
from mds.emulator._webhook import WebhookDispatcher
from servers import wait_until

KEY = "ak_service_test"
HOLD = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def service(clock: ManualClock) -> Iterator[NotificationService]:
    service = NotificationService(Settings(long_poll_hold=HOLD), clock=clock)
    yield service
    service.stop()  # ends anything a failed test left waiting


class Background:
    """Run one blocking service call in a thread; ``result()`` joins it."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.value: Any = None
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        self.value = call()

    def result(self, timeout: float = 5.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the call did not return"
        return self.value


def held_poll(service: NotificationService, key: str = KEY) -> Background:
    """A long poll that is waiting: the channel appears only once the GET is held."""
    channels = service.health()["channels"]
    poll = Background(lambda: service.long_poll(key))
    assert wait_until(lambda: service.health()["channels"] > channels)
    return poll


def notification(n: int) -> dict[str, Any]:
    return {"notifications": [{"ep": "dev", "path": f"/1/0/{n}"}]}


# ---------------------------------------------------------------------- clock and settings


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(5)
    assert clock() == 5.0
    clock.advance(2.5)
    assert clock() == 7.5
    assert repr(clock) == "<ManualClock 7.5>"
    with pytest.raises(ValueError, match="back in time"):
        clock.advance(-1)
    assert clock() == 7.5


def test_manual_clock_does_not_keep_a_dropped_emulator_alive() -> None:
    clock = ManualClock()
    stepped: list[float] = []

    class Listener:
        def on_step(self) -> None:
            stepped.append(clock())

    listener = Listener()
    clock.subscribe(listener.on_step)
    clock.advance(1)
    del listener
    clock.subscribe(Listener().on_step)  # gone at once; subscribing prunes dead listeners
    clock.advance(1)
    assert stepped == [1.0]


def test_settings_are_validated_once() -> None:
    settings = Settings(long_poll_hold=1, batch_limit="7")  # type: ignore[arg-type]
    assert (settings.long_poll_hold, settings.batch_limit) == (1.0, 7)
    assert isinstance(settings.long_poll_hold, float)
    with pytest.raises(ValueError, match="purge_window must not be negative"):
        Settings(purge_window=-0.1)
    with pytest.raises(ValueError, match="batch_limit must be at least 1"):
        Settings(batch_limit=0)


def test_emulator_options_are_its_settings() -> None:
    clock = ManualClock()
    emu = Emulator(long_poll_hold=2, batch_limit=5, clock=clock)
    assert emu.clock is clock
    assert emu.settings == Settings(long_poll_hold=2.0, batch_limit=5)
    emu.long_poll_hold = 3
    assert emu.long_poll_hold == 3.0
    assert emu.settings.long_poll_hold == 3.0
    with pytest.raises(ValueError, match="must not be negative"):
        emu.pull_expiry = -1
    assert emu.pull_expiry == 600.0
    assert repr(emu) == "<Emulator stopped>"


# ---------------------------------------------------------------------- long poll


def test_hold_ends_exactly_at_the_deadline(
    service: NotificationService, clock: ManualClock
) -> None:
    poll = held_poll(service)
    clock.advance(HOLD - 1)  # not yet: what arrives now is still delivered by this GET
    assert service.queue_message(notification(1), KEY) == 1
    answer = poll.result()
    assert isinstance(answer, Batch)
    assert answer.message == notification(1)

    # A fresh key, to know that its GET is the one waiting.
    poll = held_poll(service, "ak_other")
    clock.advance(HOLD)
    assert poll.result() is None  # 204: exactly at the deadline


def test_hold_of_zero_answers_at_once(clock: ManualClock) -> None:
    service = NotificationService(Settings(long_poll_hold=0), clock=clock)
    assert service.long_poll(KEY) is None
    service.queue_message(notification(1), KEY)
    assert isinstance(service.long_poll(KEY), Batch)


def test_second_poll_while_one_is_held_is_409(
    service: NotificationService, clock: ManualClock
) -> None:
    poll = held_poll(service)
    refusal = service.long_poll(KEY)
    assert isinstance(refusal, Refusal)
    assert refusal.status == 409
    clock.advance(HOLD)
    assert poll.result() is None
    # Once answered, the next GET may wait again.
    poll = Background(lambda: service.long_poll(KEY))
    service.queue_message(notification(2), KEY)
    assert isinstance(poll.result(), Batch)


def test_delete_ends_a_held_poll_with_410_until_the_purge_window_ends(clock: ManualClock) -> None:
    service = NotificationService(Settings(long_poll_hold=HOLD, purge_window=120), clock=clock)
    poll = held_poll(service)
    assert service.delete_pull(KEY) == "REMOVED"
    assert poll.result() == Refusal(410, "CHANNEL_DELETED")
    assert service.delete_pull(KEY) == "ALREADY_DELETED"
    assert service.queue_message(notification(1)) == 0  # no channel in the purge window
    clock.advance(119)
    assert service.long_poll(KEY) == Refusal(410, "CHANNEL_DELETED")
    clock.advance(1)
    assert service.delete_pull(KEY) == "REMOVED"  # nothing left to delete, nothing purged
    poll = held_poll(service)  # a new channel
    clock.advance(HOLD)
    assert poll.result() is None


def test_pull_channel_expires_with_its_queue(clock: ManualClock) -> None:
    service = NotificationService(Settings(long_poll_hold=0, pull_expiry=600), clock=clock)
    assert service.long_poll(KEY) is None  # creates the channel
    assert service.queue_message(notification(1), KEY) == 1
    clock.advance(599)
    assert service.delivery_mechanism(KEY) == "LONG_POLLING"
    clock.advance(1)
    assert service.delivery_mechanism(KEY) is None
    assert service.queue_message(notification(2), KEY) == 0
    assert service.long_poll(KEY) is None  # a new, empty channel: the queue went with the old


def test_a_held_poll_keeps_its_channel_past_the_expiry(clock: ManualClock) -> None:
    service = NotificationService(Settings(long_poll_hold=100, pull_expiry=10), clock=clock)
    poll = held_poll(service)
    clock.advance(50)
    assert service.delivery_mechanism(KEY) == "LONG_POLLING"
    clock.advance(50)
    assert poll.result() is None
    clock.advance(9)  # the expiry counts from the end of the last GET
    assert service.delivery_mechanism(KEY) == "LONG_POLLING"


def test_stop_ends_a_held_poll_with_204(service: NotificationService) -> None:
    poll = held_poll(service)
    service.stop()
    assert poll.result() is None


def test_reset_ends_a_held_poll_with_204(service: NotificationService) -> None:
    poll = held_poll(service)
    service.reset()
    assert poll.result() is None


def test_a_batch_is_not_requeued_once_its_channel_is_gone(clock: ManualClock) -> None:
    service = NotificationService(Settings(long_poll_hold=0), clock=clock)
    assert service.long_poll(KEY) is None
    service.queue_message(notification(0), KEY)
    batch = service.long_poll(KEY)
    assert isinstance(batch, Batch)
    assert service.delete_pull(KEY) == "REMOVED"
    service.requeue(batch)
    clock.advance(120)  # after the purge window, a new channel starts empty
    assert service.long_poll(KEY) is None


def test_an_undelivered_batch_goes_back_to_the_front(service: NotificationService) -> None:
    service.settings = Settings(long_poll_hold=0, batch_limit=2)
    assert service.long_poll(KEY) is None
    for n in range(3):
        service.queue_message(notification(n), KEY)
    first = service.long_poll(KEY)
    assert isinstance(first, Batch)
    service.requeue(first)  # the answer could not be written
    again = service.long_poll(KEY)
    assert isinstance(again, Batch)
    assert again.message == first.message
    assert service.long_poll(KEY).message == notification(2)  # type: ignore[union-attr]


def test_channels_of_another_type_are_refused(service: NotificationService) -> None:
    assert service.register_websocket(KEY) == (True, service.websocket_channel(KEY))
    other = Refusal(400, "other type of channel already exists")
    assert service.long_poll(KEY) == other
    assert service.check_webhook(KEY, "http://127.0.0.1/hook", {}) == other
    assert service.register_callback(KEY, "http://127.0.0.1/hook", {}) == other
    assert service.register_websocket(KEY)[0] is False  # type: ignore[index]


# ---------------------------------------------------------------------- websocket channel


def bound(service: NotificationService, key: str = KEY) -> SocketSession:
    session = service.connect_socket(key)
    assert session.close_request is None
    return session


def test_websocket_channel_expires_only_while_disconnected(clock: ManualClock) -> None:
    service = NotificationService(Settings(websocket_expiry=100), clock=clock)
    service.register_websocket(KEY)
    session = bound(service)
    clock.advance(1000)  # connected: no expiry
    assert service.websocket_channel(KEY) == {
        "channelId": service.websocket_channel(KEY)["channelId"],  # type: ignore[index]
        "queueSize": 0,
        "status": "connected",
    }
    service.socket_closed(session)
    assert service.disconnect(session) == SocketEnd(close=None, drop=False)
    clock.advance(99)
    assert service.queue_message(notification(1), KEY) == 1
    clock.advance(1)
    assert service.websocket_channel(KEY) is None
    assert service.queue_message(notification(2), KEY) == 0


def test_socket_close_codes(service: NotificationService) -> None:
    bad = service.connect_socket("not-an-api-key")
    assert service.next_frame(bad) is None
    assert service.disconnect(bad).close == (1008, "API key missing or invalid")
    assert service.connect_socket(KEY).close_request == (
        1011,
        "no websocket channel is registered for this API key",
    )

    service.register_websocket(KEY)
    first = bound(service)
    second = bound(service)  # takes the channel over
    assert service.next_frame(first) is None
    assert service.disconnect(first) == SocketEnd(
        close=(1001, "another connection took over the channel"), drop=False
    )
    assert service.websocket_channel(KEY)["status"] == "connected"  # type: ignore[index]
    assert service.delete_websocket(KEY)
    assert not service.delete_websocket(KEY)
    assert service.disconnect(second).close == (1000, "channel deleted")

    service.register_websocket(KEY)
    third = bound(service)
    service.reset()
    assert service.disconnect(third).close == (1001, "emulator reset")

    service.register_websocket(KEY)
    fourth = bound(service)
    service.stop()
    assert service.disconnect(fourth).close == (1001, "server shutting down")
    service.register_websocket("ak_late")
    assert service.connect_socket("ak_late").close_request == (1001, "server shutting down")


def test_frames_in_order_and_a_failed_send_is_requeued(service: NotificationService) -> None:
    service.settings = Settings(batch_limit=1)
    service.register_websocket(KEY)
    for n in range(2):
        service.queue_message(notification(n), KEY)
    session = bound(service)
    batch = service.next_frame(session)
    assert batch is not None
    assert batch.message == notification(0)
    service.frame_failed(session, batch)  # the socket broke while sending
    assert service.next_frame(session) is None
    assert service.disconnect(session) == SocketEnd(close=None, drop=False)
    session = bound(service)
    frames = []
    for _ in range(2):
        batch = service.next_frame(session)
        assert batch is not None
        frames.append(batch.message)
        service.frame_sent(session)
    assert frames == [notification(0), notification(1)]
    waiting = Background(lambda: service.next_frame(session))
    service.queue_message(notification(2), KEY)
    assert waiting.result().message == notification(2)


def test_socket_faults(service: NotificationService) -> None:
    service.register_websocket(KEY)
    service.register_websocket("ak_other")
    session = bound(service)
    other = bound(service, "ak_other")
    close = parse_fault({"websocket": "close", "code": 4000, "api_key": KEY}, ENDPOINTS)
    assert service.add_fault(close) == {"sockets": 1}
    assert service.disconnect(session).close == (4000, "")
    assert other.close_request is None
    assert service.add_fault(parse_fault({"websocket": "drop"}, ENDPOINTS)) == {"sockets": 1}
    assert service.disconnect(other) == SocketEnd(close=None, drop=True)
    session.request_drop()  # asked to close first: the close frame wins
    assert service.disconnect(session) == SocketEnd(close=(4000, ""), drop=False)

    every = parse_fault({"websocket": "drop", "every": 2, "api_key": KEY}, ENDPOINTS)
    assert service.add_fault(every) == {"armed": 1}
    session = bound(service)
    other = bound(service, "ak_other")
    for _ in range(2):
        service.frame_sent(other)
    assert not other.ending  # the fault is for KEY only
    service.frame_sent(session)
    assert not session.ending
    service.frame_sent(session)
    assert session.drop_request


def test_one_handshake_at_a_time_per_key(service: NotificationService) -> None:
    assert service.begin_handshake(KEY)
    assert not service.begin_handshake(KEY)
    assert service.begin_handshake("ak_other")
    service.end_handshake(KEY)
    assert service.begin_handshake(KEY)


# ---------------------------------------------------------------------- webhook


@pytest.fixture
def webhook_service(clock: ManualClock) -> Iterator[NotificationService]:
    settings = Settings(webhook_backoff_base=1, webhook_backoff_cap=8, webhook_give_up=60)
    service = NotificationService(settings, clock=clock)
    yield service
    service.stop()


def callback(service: NotificationService, url: str = "http://127.0.0.1/hook") -> CallbackChannel:
    channel = service.register_callback(KEY, url, {"authorization": "secret"})
    assert isinstance(channel, CallbackChannel)
    return channel


def due(service: NotificationService, channel: CallbackChannel) -> Delivery:
    delivery = service.next_delivery(channel)
    assert delivery is not None
    return delivery


def test_webhook_backoff_doubles_and_caps_on_the_same_batch(
    webhook_service: NotificationService, clock: ManualClock
) -> None:
    service = webhook_service
    channel = callback(service)
    service.queue_message(notification(0), KEY)
    delays = []
    for attempt in range(1, 7):
        delivery = due(service, channel)
        assert (delivery.attempt, delivery.message) == (attempt, notification(0))
        if attempt == 2:
            service.queue_message(notification(1), KEY)  # waits for the next batch
        retry_at = service.delivery_result(delivery, 500, None)
        assert retry_at is not None
        delays.append(retry_at - clock())
        clock.advance(retry_at - clock())
    assert delays == [1, 2, 4, 8, 8, 8]
    delivery = due(service, channel)
    assert delivery.attempt == 7
    assert service.delivery_result(delivery, 204, None) is None
    delivery = due(service, channel)
    assert (delivery.attempt, delivery.message) == (1, notification(1))
    records = service.deliveries()
    assert [(r["kind"], r["attempt"], r["status"]) for r in records] == [
        *[("delivery", n, 500) for n in range(1, 7)],
        ("delivery", 7, 204),
    ]


def test_a_retry_waits_for_the_clock(
    webhook_service: NotificationService, clock: ManualClock
) -> None:
    service = webhook_service
    channel = callback(service)
    service.queue_message(notification(0), KEY)
    first = due(service, channel)
    assert service.delivery_result(first, None, "ConnectTimeoutError: timed out") == clock() + 1
    retry = Background(lambda: service.next_delivery(channel))
    clock.advance(0.5)
    assert service.delete_callback(KEY)  # half-way through the back-off: no retry came out
    assert retry.result() is None

    channel = callback(service)
    service.queue_message(notification(1), KEY)
    first = due(service, channel)
    service.delivery_result(first, 503, None)
    retry = Background(lambda: service.next_delivery(channel))
    clock.advance(1)
    assert retry.result().attempt == 2


def test_give_up_removes_the_callback_and_its_queue(
    webhook_service: NotificationService, clock: ManualClock
) -> None:
    service = webhook_service
    channel = callback(service)
    service.queue_message(notification(0), KEY)
    started = clock()
    while (retry_at := service.delivery_result(due(service, channel), 500, None)) is not None:
        clock.advance(retry_at - clock())
    # Failures at 0, 1, 3, 7, 15, ... 55 s are retried; the one at 63 s, 60 s or more after the
    # first, is the last.
    assert clock() - started == 1 + 2 + 4 + 8 * 7
    assert service.webhook(KEY) is None
    assert service.next_delivery(channel) is None  # the worker ends
    assert service.queue_message(notification(1), KEY) == 0
    removed = service.deliveries()[-1]
    assert (removed["kind"], removed["status"], removed["items"]) == ("removed", 500, 1)


def test_a_new_url_restarts_a_failing_delivery_at_once(
    webhook_service: NotificationService, clock: ManualClock
) -> None:
    service = webhook_service
    channel = callback(service)
    service.queue_message(notification(0), KEY)
    failed = due(service, channel)
    assert service.delivery_result(failed, 500, None) is not None
    assert service.register_callback(KEY, "http://127.0.0.1/new", {}) is None  # replaced
    delivery = due(service, channel)  # no back-off to sit out
    assert (delivery.url, delivery.attempt, delivery.message) == (
        "http://127.0.0.1/new",
        2,
        notification(0),
    )
    # An answer from the old URL that arrives after the change does not start a back-off.
    assert service.delivery_result(failed, 500, None) is None
    assert service.delivery_result(delivery, 200, None) is None
    assert service.webhook(KEY) == {"url": "http://127.0.0.1/new", "headers": {}}


def test_an_answer_for_a_deleted_callback_is_only_recorded(
    webhook_service: NotificationService,
) -> None:
    service = webhook_service
    channel = callback(service)
    service.queue_message(notification(0), KEY)
    delivery = due(service, channel)
    assert service.delete_callback(KEY)
    assert not service.delete_callback(KEY)
    assert service.delivery_result(delivery, 200, None) is None
    assert service.deliveries()[-1]["kind"] == "delivery"


def test_a_stopped_dispatcher_sends_nothing(webhook_service: NotificationService) -> None:
    dispatcher = WebhookDispatcher(webhook_service)
    dispatcher.stop()
    dispatcher.stop()  # idempotent
    refusal = dispatcher.register(KEY, "http://127.0.0.1:9/hook", {})
    assert refusal == Refusal(400, "Callback URL is not reachable (emulator stopped).")


@pytest.mark.parametrize(
    ("url", "headers", "message"),
    [
        ("ftp://127.0.0.1/x", {}, "Only http and https URLs are supported."),
        ("http:///x", {}, "Only http and https URLs are supported."),
        ("http://h/" + "x" * 392, {}, "URL, header names and values together exceed 400 characters."),
        ("http://h/", {"x": "v" * 391}, "URL, header names and values together exceed 400 characters."),
    ],
)
def test_webhook_checks_before_validation(
    service: NotificationService, url: str, headers: dict[str, str], message: str
) -> None:
    refusal = service.check_webhook(KEY, url, headers)
    assert refusal is not None
    assert (refusal.status, refusal.message) == (400, "Validation error.")
    assert refusal.fields[0]["message"] == message


def test_webhook_validation_answers(service: NotificationService) -> None:
    assert service.check_webhook(KEY, "http://h/" + "x" * 390, {}) is None  # 399 characters
    assert service.validation_result("http://h/", 204, None) is None
    refusal = service.validation_result("http://h/", 302, None)
    assert refusal is not None
    assert "302, not 200 or 204" in refusal.message
    refusal = service.validation_result("http://h/", None, "NewConnectionError: refused")
    assert refusal is not None
    assert "not reachable (NewConnectionError: refused)" in refusal.message
    assert [r["kind"] for r in service.deliveries()] == ["validation"] * 3


# ---------------------------------------------------------------------- keys, faults, records


def test_keys(clock: ManualClock) -> None:
    service = NotificationService(api_keys=["ak_one"], clock=clock)
    assert service.check_key("ak_one") is None
    assert service.check_key(None) == Refusal(
        401, "Missing API key: send 'Authorization: Bearer <api key>'."
    )
    assert service.check_key("user-token") == Refusal(
        403, "The authorization token is not an API key."
    )
    assert service.check_key("ak_two") == Refusal(401, "The API key is not valid.")


def test_fault_endpoints_are_the_route_table() -> None:
    assert {f"{method} {path}" for path, methods in ROUTES.items() for method in methods} == ENDPOINTS
    assert "GET /v2/notification/websocket-connect" in ENDPOINTS
    with Emulator() as emu:  # every endpoint can be faulted
        for endpoint in sorted(ENDPOINTS):
            assert emu.add_fault(endpoint=endpoint, status=500) == {"armed": 1}


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"endpoint": "GET /nowhere", "status": 500}, "endpoint must be one of"),
        ({"endpoint": "GET /v2/notification/pull"}, "needs a status or a delay"),
        ({"endpoint": "GET /v2/notification/pull", "status": 99}, "final HTTP status"),
        ({"endpoint": "GET /v2/notification/pull", "status": "500"}, "final HTTP status"),
        ({"endpoint": "GET /v2/notification/pull", "delay": -1}, "number of seconds from 0"),
        ({"endpoint": "GET /v2/notification/pull", "delay": "1"}, "number of seconds from 0"),
        ({"endpoint": "GET /v2/notification/pull", "status": 500, "headers": ["x"]}, "object"),
        ({"endpoint": "GET /v2/notification/pull", "status": 500, "count": 0}, "positive"),
        ({"endpoint": "GET /v2/notification/pull", "status": 500, "api_key": 1}, "string"),
        ({"websocket": "explode"}, '"close" or "drop"'),
        ({"websocket": "close", "code": 1006}, "close code that can be sent"),
        ({"websocket": "close", "code": 999}, "close code that can be sent"),
        ({"websocket": "drop", "every": 0}, "positive integer"),
    ],
)
def test_malformed_faults_are_refused(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_fault(spec, ENDPOINTS)


def test_faults_are_typed_values() -> None:
    fault = parse_fault(
        {"endpoint": "GET /v2/notification/pull", "status": 503, "headers": {"Retry-After": 1}},
        ENDPOINTS,
    )
    assert fault == EndpointFault(
        endpoint="GET /v2/notification/pull",
        status=503,
        delay=None,
        headers=(("Retry-After", "1"),),
        body=None,
        count=1,
        api_key=None,
    )
    assert parse_fault({"websocket": "close"}, ENDPOINTS) == SocketFault(
        "close", 1012, "", None, None
    )
    with pytest.raises(AttributeError):
        fault.count = 2  # type: ignore[misc]


def test_endpoint_faults_are_used_up_per_key(service: NotificationService) -> None:
    pull = "GET /v2/notification/pull"
    spec = {"endpoint": pull, "status": 503, "count": 2, "api_key": KEY}
    assert service.add_fault(parse_fault(spec, ENDPOINTS)) == {"armed": 2}
    assert service.take_fault(pull, "ak_other") is None
    assert service.take_fault("GET /v2/notification/channel", KEY) is None
    assert service.take_fault(pull, KEY) is not None
    assert service.take_fault(pull, KEY) is not None
    assert service.take_fault(pull, KEY) is None


def test_reset_forgets_everything(service: NotificationService) -> None:
    service.register_websocket(KEY)
    service.record_request({"method": "GET"})
    service.validation_result("http://h/", 200, None)
    service.add_fault(parse_fault({"endpoint": "GET /v2/notification/pull", "status": 500}, ENDPOINTS))
    assert service.health()["channels"] == 1
    service.reset()
    assert service.health()["channels"] == 0
    assert service.requests() == service.deliveries() == []
    assert service.take_fault("GET /v2/notification/pull", KEY) is None


def test_batches_never_reorder() -> None:
    items = split_message({"notifications": [1, 2], "registrations": [3], "custom": {"x": 1}})
    items += split_message({"notifications": [4]})
    message, count = build_message(items, 10)
    assert message == {"notifications": [1, 2], "registrations": [3], "custom": {"x": 1}}
    assert count == 4
    assert build_message(items[count:], 10) == ({"notifications": [4]}, 1)
    assert build_message(items, 1) == ({"notifications": [1]}, 1)
    assert build_message(split_message({"custom": 1}) * 2, 10) == ({"custom": 1}, 1)


def test_a_connected_socket_skips_what_outlived_the_event_lifetime(clock: ManualClock) -> None:
    service = NotificationService(Settings(event_lifetime=60), clock=clock)
    service.register_websocket(KEY)
    session = bound(service)
    service.queue_message(notification(0), KEY)
    clock.advance(60)  # the socket was not served meanwhile: the item is too old to send
    frame = Background(lambda: service.next_frame(session))
    service.queue_message(notification(1), KEY)
    batch = frame.result()
    assert batch.message == notification(1)
    service.frame_sent(session, batch)
    items = service.chaos_report()["items"]
    assert (items["queued"], items["delivered"], items["lost"]["expired"]) == (2, 1, 1)
    service.stop()
