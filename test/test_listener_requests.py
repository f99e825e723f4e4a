"""NotificationListener.request() and its short forms against the emulator, on both channels the
listener reads: answers, errors, time-outs, stop(), and the stream shared with iteration (nothing
lost or reordered, whichever thread reads)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import mds
from mds.async_responses import AsyncResponses
from mds.emulator import Emulator, ManualClock
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.events import AsyncResponse, DeviceRegistered, ResourceChanged
from mds.listener import NotificationListener, ReconnectPolicy
from servers import wait_until

pytestmark = pytest.mark.timeout(60)

DEVICE = "thermostat-01"
TEMPERATURE = "/3303/0/5700"
UNITS = "/3303/0/5701"
REBOOT = "/3/0/4"
CHANNELS = ["websocket", "long-poll"]
#: A short hold, so that a long poll that nothing answers comes back soon.
TIMINGS = {**TEST_TIMINGS, "long_poll_hold": 0.2}


def device_requests(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["path"].startswith("/v2/device-requests/")]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(**TIMINGS) as emulator:
        emulator.register_device(DEVICE, ept="Thermostat",
                                 resources={TEMPERATURE: 21.5, UNITS: "Cel", REBOOT: None})
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[mds.ApiClient]:
    with mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key)) as api_client:
        yield api_client


@pytest.fixture(params=CHANNELS)
def listener(request: pytest.FixtureRequest,
             client: mds.ApiClient) -> Iterator[NotificationListener]:
    with NotificationListener(client, request.param) as opened:
        yield opened


def notifications(listener: NotificationListener, count: int) -> list[Any]:
    """The next *count* events of *listener* (iterated in this thread)."""
    events: list[Any] = []
    for event in listener:
        events.append(event)
        if len(events) == count:
            break
    return events


# -- answers ------------------------------------------------------------------------------------

def test_read_write_execute_and_delete(emu: Emulator, listener: NotificationListener) -> None:
    assert listener.read(DEVICE, TEMPERATURE) == 21.5
    assert listener.read(DEVICE, UNITS.lstrip("/")) == "Cel"  # the leading slash is optional
    written = listener.write(DEVICE, TEMPERATURE, 23)
    assert (written.status, written.value) == (200, None)
    assert emu.device(DEVICE)["resources"][TEMPERATURE]["payload_b64"] == "MjM="  # "23"
    assert listener.read(DEVICE, TEMPERATURE) == 23
    emu.on_execute(DEVICE, REBOOT, lambda payload: "rebooting in " + payload.decode())
    executed = listener.execute(DEVICE, REBOOT, "5 s")
    assert (executed.status, executed.value) == (200, "rebooting in 5 s")
    assert emu.executions(DEVICE)[0]["path"] == REBOOT
    deleted = listener.request(DEVICE, UNITS, "delete")
    assert deleted.status == 200
    assert UNITS not in emu.device(DEVICE)["resources"]


def test_the_request_sent_has_a_fresh_async_id_and_its_arguments(
        emu: Emulator, listener: NotificationListener) -> None:
    answer = listener.request(DEVICE, TEMPERATURE, "PUT", b"24", content_type="text/plain",
                              accept="text/plain", retry=2, expiry_seconds=120)
    assert answer.ok
    sent = device_requests(emu)[-1]
    path, _, query = sent["path"].partition("?")
    assert path == f"/v2/device-requests/{DEVICE}"
    assert dict(urllib.parse.parse_qsl(query)) == {
        "async-id": answer.id, "retry": "2", "expiry-seconds": "120"}
    assert str(uuid.UUID(answer.id)) == answer.id
    assert json.loads(sent["body"]) == {"method": "PUT", "uri": TEMPERATURE,
                                        "accept": "text/plain", "content-type": "text/plain",
                                        "payload-b64": "MjQ="}
    assert listener.request(DEVICE, TEMPERATURE).id != answer.id


def test_write_encodes_values_by_content_type(emu: Emulator,
                                              listener: NotificationListener) -> None:
    emu.register_device("lamp-03", ept="Light", resources=[
        {"path": "/3311/0/5850", "ct": "text/plain", "value": False},
        {"path": "/3311/0/5706", "ct": "application/json", "value": {"on": False}},
        {"path": "/3311/0/5750", "ct": "application/octet-stream", "payload_b64": "AA=="}])
    listener.write("lamp-03", "/3311/0/5850", True)
    listener.write("lamp-03", "/3311/0/5706", {"on": True, "dimmer": 80}, "application/json")
    listener.write("lamp-03", "/3311/0/5750", b"\x01\x02", "application/octet-stream")
    assert listener.read("lamp-03", "/3311/0/5850") == "true"
    assert listener.read("lamp-03", "/3311/0/5706") == {"on": True, "dimmer": 80}
    assert listener.read("lamp-03", "/3311/0/5750") == b"\x01\x02"


def test_bad_arguments_are_refused_before_anything_is_sent(
        emu: Emulator, client: mds.ApiClient) -> None:
    listener = NotificationListener(client)
    try:
        with pytest.raises(mds.ApiValueError, match="method"):
            listener.request(DEVICE, TEMPERATURE, "PATCH")
        with pytest.raises(mds.ApiValueError, match="uri"):
            listener.request(DEVICE, "/3303/0/5700#x")
        with pytest.raises(mds.ApiTypeError, match="payload"):
            listener.request(DEVICE, TEMPERATURE, "PUT", 21.5)  # type: ignore[arg-type]
        with pytest.raises(mds.ApiTypeError, match="list cannot be written as text/plain"):
            listener.write(DEVICE, TEMPERATURE, [1, 2])
        with pytest.raises(mds.ApiTypeError, match="cannot be written as application/json"):
            listener.write(DEVICE, TEMPERATURE, object(), "application/json")
        assert repr(listener).endswith(" new>")  # not even opened
    finally:
        listener.close()
    assert emu.requests() == []


def test_a_refused_request_raises_the_service_error(listener: NotificationListener) -> None:
    with pytest.raises(mds.NotFoundException, match="DEVICE_NOT_FOUND"):
        listener.read("no-such-device", TEMPERATURE)
    with pytest.raises(mds.NotFoundException, match="URI_PATH_DOES_NOT_EXISTS"):
        listener.read(DEVICE, "/3303/0/9999")
    with pytest.raises(mds.ApiValueError, match="expiry_seconds"):
        listener.read(DEVICE, TEMPERATURE, expiry_seconds=5)


def test_a_device_error_raises_async_response_error(emu: Emulator,
                                                    listener: NotificationListener) -> None:
    emu.on_execute(DEVICE, REBOOT, "busy", status=503)
    with pytest.raises(mds.AsyncResponseError) as info:
        listener.execute(DEVICE, REBOOT)
    assert info.value.status == 503
    assert info.value.response.value == "busy"
    with pytest.raises(mds.AsyncResponseError) as info:  # the device cannot take this type
        listener.write(DEVICE, TEMPERATURE, b"{}", "application/json")
    assert info.value.status == 415


def test_an_offline_devices_request_expires_with_its_reason() -> None:
    clock = ManualClock()
    with Emulator(clock=clock) as emu, \
            mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key)) as client, \
            NotificationListener(client) as listener:
        emu.register_device(DEVICE, resources={TEMPERATURE: 21.5})
        emu.set_online(DEVICE, False)
        errors: list[BaseException] = []

        def read() -> None:
            try:
                listener.read(DEVICE, TEMPERATURE, expiry_seconds=60, timeout=30)
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                errors.append(exc)

        worker = threading.Thread(target=read)
        worker.start()
        assert wait_until(lambda: len(device_requests(emu)) == 1, 10)
        clock.advance(59)
        assert worker.is_alive()
        clock.advance(1)
        worker.join(10)
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, mds.AsyncResponseError)
    assert (error.status, error.error) == (429, "REQUEST_EXPIRED")


# -- time-outs and stop() -----------------------------------------------------------------------

def test_no_answer_within_the_timeout_raises_api_timeout_error(
        emu: Emulator, listener: NotificationListener) -> None:
    emu.set_online(DEVICE, False)  # the request waits in the device's queue
    started = time.monotonic()
    with pytest.raises(mds.ApiTimeoutError, match=f"GET {TEMPERATURE} on {DEVICE} within 0.3 s"):
        listener.read(DEVICE, TEMPERATURE, timeout=0.3)
    # A long poll under way is not cut short: it may end up to one hold later.
    assert 0.3 <= time.monotonic() - started < 0.3 + TIMINGS["long_poll_hold"] + 1.0
    # The answer that comes later is not lost: iteration yields it.
    emu.set_online(DEVICE, True)
    late = notifications(listener, 1)[0]
    assert isinstance(late, AsyncResponse)
    assert late.value == 21.5


@pytest.mark.parametrize("channel", CHANNELS)
def test_stop_ends_a_waiting_request_at_once(emu: Emulator, client: mds.ApiClient,
                                             channel: str) -> None:
    emu.set_online(DEVICE, False)
    errors: list[BaseException] = []
    with NotificationListener(client, channel) as listener:
        def read() -> None:
            try:
                listener.read(DEVICE, TEMPERATURE, timeout=30)
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                errors.append(exc)

        worker = threading.Thread(target=read)
        worker.start()
        assert wait_until(lambda: len(device_requests(emu)) == 1, 10)
        started = time.monotonic()
        listener.stop()
        worker.join(5)
        assert time.monotonic() - started < 2.0
        assert not worker.is_alive()
        with pytest.raises(mds.ClientClosedError, match="stopped"):
            listener.read(DEVICE, TEMPERATURE)
    assert len(errors) == 1
    assert isinstance(errors[0], mds.ClientClosedError)
    assert "stopped before the answer" in str(errors[0])
    assert len(device_requests(emu)) == 1  # nothing sent once stopped


def test_a_closed_listener_refuses_requests(client: mds.ApiClient) -> None:
    listener = NotificationListener(client)
    listener.close()
    with pytest.raises(mds.ClientClosedError, match="closed"):
        listener.read(DEVICE, TEMPERATURE)
    with pytest.raises(RuntimeError, match="closed"):
        listener.open()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_request_opens_the_listener_first(emu: Emulator, client: mds.ApiClient,
                                            channel: str) -> None:
    listener = NotificationListener(client, channel)
    try:
        assert listener.read(DEVICE, TEMPERATURE) == 21.5
        assert repr(listener).endswith(" open>")
        # The channel was there before the request was sent.
        paths = [r["path"].split("?")[0] for r in emu.requests()]
        made = "/v2/notification/websocket" if channel == "websocket" else "/v2/notification/pull"
        assert paths.index(made) < paths.index(f"/v2/device-requests/{DEVICE}")
    finally:
        listener.close()


def test_with_no_channel_in_time_the_request_is_not_sent() -> None:
    with Emulator(long_poll_hold=1.0) as slow, \
            mds.ApiClient(mds.Configuration(host=slow.url, api_key=slow.api_key)) as client, \
            NotificationListener(client, "long-poll") as listener:
        # The first poll makes the channel, and nothing answers it before its hold ends.
        with pytest.raises(mds.ApiTimeoutError, match="not open in time"):
            listener.read(DEVICE, TEMPERATURE, timeout=0.2)
        assert device_requests(slow) == []


def waiting_request(listener: NotificationListener, errors: list[BaseException],
                    answers: list[Any], **kwargs: Any) -> threading.Thread:
    """A started thread that reads the temperature through *listener*."""
    def read() -> None:
        try:
            answers.append(listener.read(DEVICE, TEMPERATURE, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def test_an_answer_comes_through_a_websocket_reconnection(emu: Emulator,
                                                          client: mds.ApiClient) -> None:
    emu.set_online(DEVICE, False)
    errors: list[BaseException] = []
    answers: list[Any] = []
    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
    with NotificationListener(client, reconnect=fast) as listener:
        worker = waiting_request(listener, errors, answers, timeout=20)
        assert wait_until(lambda: len(device_requests(emu)) == 1, 10)
        emu.add_fault(websocket="drop")
        assert wait_until(lambda: listener.stats.reconnects == 1, 10)
        emu.set_online(DEVICE, True)  # the device answers; the socket is a new one
        worker.join(10)
    assert (errors, answers) == ([], [21.5])


def test_a_timeout_is_kept_during_a_reconnection_delay(emu: Emulator,
                                                       client: mds.ApiClient) -> None:
    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
    with NotificationListener(client, reconnect=fast) as listener:
        emu.set_online(DEVICE, False)
        # The socket drops, and the service asks for a second's rest before the next one.
        emu.add_fault(endpoint="GET /v2/notification/websocket-connect", status=429,
                      headers={"Retry-After": "1"}, count=1)
        emu.add_fault(websocket="drop")
        started = time.monotonic()
        with pytest.raises(mds.ApiTimeoutError):
            listener.read(DEVICE, TEMPERATURE, timeout=0.3)
        assert time.monotonic() - started < 0.9
        emu.set_online(DEVICE, True)
        late = next(listener)  # after the rest, the socket is back, with the answer
    assert isinstance(late, AsyncResponse)
    assert late.value == 21.5
    assert listener.stats.reconnects == 1


def test_a_timeout_is_kept_during_a_long_poll_back_off(emu: Emulator,
                                                       client: mds.ApiClient) -> None:
    emu.add_fault(endpoint="GET /v2/notification/pull", status=429,
                  headers={"Retry-After": "1"}, count=1)
    with NotificationListener(client, "long-poll") as listener:
        started = time.monotonic()
        with pytest.raises(mds.ApiTimeoutError, match="not open in time"):
            listener.read(DEVICE, TEMPERATURE, timeout=0.3)
        assert time.monotonic() - started < 0.9
        assert listener.read(DEVICE, TEMPERATURE) == 21.5  # once the rest is over
    assert len(device_requests(emu)) == 1


def test_a_repeated_answer_is_left_for_iteration(emu: Emulator,
                                                 listener: NotificationListener) -> None:
    emu.set_online(DEVICE, False)
    errors: list[BaseException] = []
    answers: list[Any] = []
    worker = waiting_request(listener, errors, answers, timeout=20)
    assert wait_until(lambda: len(device_requests(emu)) == 1, 10)
    query = device_requests(emu)[0]["path"].partition("?")[2]
    async_id = dict(urllib.parse.parse_qsl(query))["async-id"]
    emu.async_response(async_id, value="first")
    emu.async_response(async_id, value="again")
    worker.join(10)
    assert (errors, answers) == ([], ["first"])
    again = next(listener)
    assert isinstance(again, AsyncResponse)
    assert (again.id, again.value) == (async_id, "again")


# -- the stream shared with iteration -----------------------------------------------------------

def subscribe_temperature(emu: Emulator, listener: NotificationListener) -> None:
    """Subscribe to the temperature, once the listener's channel is there (a long poll makes
    its channel with its first poll: what the service queues before that is lost)."""
    assert listener.read(DEVICE, TEMPERATURE) == 21.5  # a request waits for the channel
    mds.SubscriptionsApi(listener.api_client).add_resource_subscription(DEVICE, TEMPERATURE)


@pytest.mark.parametrize("channel", CHANNELS)
def test_requests_while_nobody_iterates_keep_every_other_event_in_order(
        emu: Emulator, client: mds.ApiClient, channel: str) -> None:
    registry = AsyncResponses()
    with NotificationListener(client, channel, async_responses=registry) as listener:
        subscribe_temperature(emu, listener)
        for value in range(6):
            # Changes arrive between and during the requests; nobody iterates meanwhile.
            emu.set_resource(DEVICE, TEMPERATURE, value)
            emu.async_response(f"someone-else-{value}", value=str(value))
            assert listener.read(DEVICE, UNITS) == "Cel"
        events = notifications(listener, 12)
    changes = [e.value for e in events if isinstance(e, ResourceChanged)]
    others = [e.id for e in events if isinstance(e, AsyncResponse)]
    assert changes == list(range(6))
    assert others == [f"someone-else-{value}" for value in range(6)]  # not the listener's own
    # The registry got the answers nobody in the listener waited for, and only those.
    assert registry.pending() == 6
    assert registry.wait("someone-else-5", timeout=0).value == 5


@pytest.mark.parametrize("channel", CHANNELS)
def test_requests_while_another_thread_iterates(emu: Emulator, client: mds.ApiClient,
                                                channel: str) -> None:
    seen: list[Any] = []
    with NotificationListener(client, channel) as listener:
        subscribe_temperature(emu, listener)

        def iterate() -> None:
            for event in listener:
                seen.append(event)

        iterator = threading.Thread(target=iterate)
        iterator.start()
        try:
            for value in range(5):
                emu.set_resource(DEVICE, TEMPERATURE, value)
                listener.write(DEVICE, UNITS, f"unit-{value}")
                assert listener.read(DEVICE, UNITS) == f"unit-{value}"
            assert wait_until(lambda: len(seen) == 5, 10)
        finally:
            listener.stop()
            iterator.join(5)
    assert [e.value for e in seen] == list(range(5))
    assert all(isinstance(e, ResourceChanged) for e in seen)  # the answers were not yielded


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_iterating_thread_requests_from_its_own_loop(emu: Emulator, client: mds.ApiClient,
                                                         channel: str) -> None:
    answers: list[Any] = []
    with NotificationListener(client, channel) as listener:
        assert listener.read(DEVICE, UNITS) == "Cel"  # the channel is there
        emu.register_device("lamp-03", ept="Light", resources={"/3311/0/5850": "on"})
        emu.register_device("lamp-04", ept="Light", resources={"/3311/0/5850": "off"})
        for event in listener:
            assert isinstance(event, DeviceRegistered)
            answers.append(listener.read(event.device_id, "/3311/0/5850"))
            if len(answers) == 2:
                break
    assert answers == ["on", "off"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_concurrent_requests_from_several_threads(emu: Emulator, client: mds.ApiClient,
                                                  channel: str) -> None:
    threads, rounds = 6, 5
    emu.register_device("bank", resources={f"/1/{n}/0": n for n in range(threads)})
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []
    with NotificationListener(client, channel) as listener:
        def worker(n: int) -> None:
            got = results.setdefault(n, [])
            try:
                for round_ in range(rounds):
                    listener.write("bank", f"/1/{n}/0", n * 100 + round_)
                    got.append(listener.read("bank", f"/1/{n}/0"))
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                errors.append(exc)

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(30)
        listener.stop()
        assert list(listener) == []  # no answer was left behind for iteration
    assert errors == []
    assert results == {n: [n * 100 + r for r in range(rounds)] for n in range(threads)}


def test_messages_iteration_gets_batches_read_by_a_request(
        emu: Emulator, client: mds.ApiClient) -> None:
    with NotificationListener(client) as listener:
        subscribe_temperature(emu, listener)
        emu.set_resource(DEVICE, TEMPERATURE, 30)
        assert listener.read(DEVICE, UNITS) == "Cel"
        message = next(iter(listener.messages()))
    assert [n.decode() for n in message.notifications] == [30]
    assert not message.async_responses


def test_a_backlog_for_iteration_stops_requests_from_reading_and_loses_nothing(
        emu: Emulator, client: mds.ApiClient) -> None:
    backlog = [{"ep": DEVICE, "path": TEMPERATURE, "ct": "text/plain",
                "payload": base64.b64encode(str(n).encode()).decode()} for n in range(50)]
    with NotificationListener(client, max_buffered=10) as listener:
        api = mds.NotificationsApi(client)
        emu.queue_message({"notifications": backlog})
        assert wait_until(lambda: api.get_websocket().queue_size == 0)  # sent to the listener
        # Nobody iterates: the request reads the backlog, keeps it, then may read no further.
        with pytest.raises(mds.ApiTimeoutError) as info:
            listener.read(DEVICE, UNITS, timeout=1.0)
        answers: list[Any] = []
        requester = threading.Thread(target=lambda: answers.append(listener.read(DEVICE, UNITS)))
        requester.start()  # waits for room
        try:
            events = notifications(listener, 51)  # iterating makes room: the request reads on
        finally:
            requester.join(10)
    assert "50 notifications that no thread has iterated yet (max_buffered=10)" in str(info.value)
    assert [e.value for e in events[:50]] == list(range(50))  # none lost, in order
    assert isinstance(events[50], AsyncResponse)  # the late answer to the first request
    assert events[50].value == "Cel"
    assert answers == ["Cel"]


def test_the_iterating_thread_requests_past_the_backlog_limit(emu: Emulator,
                                                              client: mds.ApiClient) -> None:
    backlog = [{"ep": DEVICE, "path": TEMPERATURE, "ct": "text/plain",
                "payload": base64.b64encode(str(n).encode()).decode()} for n in range(50)]
    answers: list[Any] = []
    with NotificationListener(client, max_buffered=10) as listener:
        emu.queue_message({"notifications": backlog[:1]})
        for event in listener:
            if not answers:
                emu.queue_message({"notifications": backlog[1:]})
                # It reads the 49 items to reach its answer: waiting for the iteration would be
                # waiting for itself.
                answers.append(listener.read(DEVICE, UNITS, timeout=10))
            if isinstance(event, ResourceChanged) and event.value == 49:
                break
    assert answers == ["Cel"]


# -- pre-subscriptions --------------------------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
def test_subscribe_sets_the_rules_when_opening(emu: Emulator, client: mds.ApiClient,
                                               channel: str) -> None:
    subscriptions = mds.SubscriptionsApi(client)
    subscriptions.update_pre_subscriptions([{"endpoint-name": "old-rule"}])
    rules: list[mds.Presubscription | dict[str, Any]] = [
        mds.Presubscription(endpoint_type="Thermostat", resource_path=["/3303/*"]),
        {"endpoint-name": "lamp-*"}]
    listener = NotificationListener(client, channel, subscribe=rules)
    assert [r.endpoint_name for r in subscriptions.get_pre_subscriptions()] == ["old-rule"]
    with listener:
        assert listener.read(DEVICE, UNITS) == "Cel"  # the channel is there
        # Replaced, not added to.
        assert subscriptions.get_pre_subscriptions() == [
            mds.Presubscription(endpoint_type="Thermostat", resource_path=["/3303/*"]),
            mds.Presubscription(endpoint_name="lamp-*")]
        emu.update_registration(DEVICE)  # rules apply on a registration (update)
        emu.set_resource(DEVICE, TEMPERATURE, 30)
        emu.set_resource(DEVICE, REBOOT, "not subscribed")
        emu.register_device("lamp-03", ept="Light", resources={"/3311/0/5850": "on"})
        emu.set_resource("lamp-03", "/3311/0/5850", "off")
        events = notifications(listener, 4)
    assert [type(e).__name__ for e in events] == [
        "DeviceRegistrationUpdated", "ResourceChanged", "DeviceRegistered", "ResourceChanged"]
    assert [(e.device_id, e.value) for e in events if isinstance(e, ResourceChanged)] == [
        (DEVICE, 30), ("lamp-03", "off")]


def test_subscribe_is_checked_at_once_and_an_empty_list_removes_every_rule(
        emu: Emulator, client: mds.ApiClient) -> None:
    with pytest.raises(mds.ApiValueError):
        NotificationListener(client, subscribe=[{"endpoint-name": "a*b"}])
    subscriptions = mds.SubscriptionsApi(client)
    subscriptions.update_pre_subscriptions([{"endpoint-name": "old-rule"}])
    with NotificationListener(client, subscribe=[]) as listener:
        assert listener.subscribe == []
        assert subscriptions.get_pre_subscriptions() == []
    with NotificationListener(client) as listener:  # None: the rules are left alone
        assert listener.subscribe is None
    assert not [r for r in emu.requests() if r["path"] == "/v2/subscriptions"
                and r["method"] == "PUT"][2:]


def test_refused_rules_fail_the_opening_and_release_everything(
        emu: Emulator, client: mds.ApiClient) -> None:
    emu.add_fault(endpoint="PUT /v2/subscriptions", status=400, count=1)
    listener = NotificationListener(client, subscribe=[{"endpoint-type": "Sensor"}])
    with pytest.raises(mds.BadRequestException):
        listener.open()
    assert repr(listener).endswith(" closed>")
    assert emu.health()["channels"] == 0  # the channel was never opened
