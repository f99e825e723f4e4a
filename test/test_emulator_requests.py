"""Device requests in the emulator: ``POST /v2/device-requests/{device-id}`` and what devices answer.

Every status the 2020 spec documents for the endpoint over a real socket (plain urllib3), the
answers of each method through the key's channel, and the time rules on a ManualClock: device
latency, one request at a time, offline queueing, expiry, retries, time-outs.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from test_emulator import assert_error, call

from mds.emulator import Emulator, ManualClock
from mds.emulator._device_service import DeviceService
from mds.emulator._service import Batch, NotificationService, Settings
from servers import wait_until

DEVICE = "015f3850a657000000000001001002ab"
RESOURCES = {
    "/3303/0/5700": 21.5,
    "/3303/0/5701": {"value": "Cel", "obs": False},
    "/3311/0/5850": {"value": {"on": True}, "ct": "application/json", "max_age": 0},
    "/3/0/4": {"obs": False},  # Reboot: executable
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    # The long-poll channel must outlive the days a test lets pass without polling.
    with Emulator(long_poll_hold=0, pull_expiry=30 * 86400, clock=clock) as emulator:
        emulator.register_device(DEVICE, ept="Sensor", resources=RESOURCES)
        yield emulator


def request(
    http: urllib3.PoolManager,
    emu: Emulator,
    body: Any,
    query: str = "async-id=req-1",
    device: str = DEVICE,
    key: str | None = "default",
) -> urllib3.BaseHTTPResponse:
    return call(http, emu, "POST", f"/v2/device-requests/{device}?{query}", key=key, body=body)


def pull(http: urllib3.PoolManager, emu: Emulator, key: str = "default") -> dict[str, Any]:
    response = call(http, emu, "GET", "/v2/notification/pull", key=key)
    assert response.status in (200, 204), response.status
    return response.json() if response.status == 200 else {}


def answers(http: urllib3.PoolManager, emu: Emulator, key: str = "default") -> list[Any]:
    """The async responses the key's channel holds now (registrations etc. skipped)."""
    found: list[Any] = []
    while message := pull(http, emu, key):
        found.extend(message.get("async-responses", []))
    return found


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------- statuses


def test_accepted_with_202_and_answered_on_the_channel(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    response = request(http, emu, {"method": "GET", "uri": "/3303/0/5700"})
    assert (response.status, response.data) == (202, b"")
    assert answers(http, emu) == [
        {"id": "req-1", "status": 200, "payload": "MjEuNQ==", "ct": "text/plain", "max-age": 60}
    ]
    (recorded,) = [record for record in emu.requests() if record["method"] == "POST"]
    assert recorded["path"] == f"/v2/device-requests/{DEVICE}?async-id=req-1"
    assert json.loads(recorded["body"]) == {"method": "GET", "uri": "/3303/0/5700"}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "async-id=",
        "async-id=" + "a" * 41,
        "async-id=has%20space",
        "async-id=dot.ted",
        "async-id=%C3%A9t%C3%A9",  # letters, but not ASCII
        "async-id=one&async-id=two",
    ],
)
def test_malformed_async_id(http: urllib3.PoolManager, emu: Emulator, query: str) -> None:
    body = assert_error(request(http, emu, {"method": "GET", "uri": "/3/0/0"}, query), 400, "bad_request")
    assert body["message"] == "MALFORMED_ASYNC_ID"
    assert body["fields"][0]["name"] == "async-id"


def test_longest_async_id_is_accepted(http: urllib3.PoolManager, emu: Emulator) -> None:
    query = "async-id=" + "A_-9" * 10
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, query).status == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "body"),
        (b"\xff\xfe", "body"),
        (b"[" * 100_000, "body"),
        ([], "body"),
        ({"uri": "/3/0/0"}, "method"),
        ({"method": "PATCH", "uri": "/3303/0/5700"}, "method"),
        ({"method": "get", "uri": "/3303/0/5700"}, "method"),
        ({"method": "GET"}, "uri"),
        ({"method": "GET", "uri": 3303}, "uri"),
        ({"method": "GET", "uri": "/3303//5700"}, "uri"),
        ({"method": "GET", "uri": "/3303/0/57 00"}, "uri"),
        ({"method": "GET", "uri": "/3303/../3303/0/5700"}, "uri"),
        ({"method": "GET", "uri": "/3303/0/5700#x"}, "uri"),
        ({"method": "GET", "uri": "/" + "1" * 255}, "uri"),
        ({"method": "GET", "uri": "/3303/0/5700", "accept": 1}, "accept"),
        ({"method": "PUT", "uri": "/3303/0/5700", "content-type": ["a"]}, "content-type"),
        ({"method": "PUT", "uri": "/3303/0/5700", "payload-b64": "not base64!"}, "payload-b64"),
        ({"method": "PUT", "uri": "/3303/0/5700", "payload-b64": 12}, "payload-b64"),
    ],
)
def test_malformed_json_content(http: urllib3.PoolManager, emu: Emulator, body: Any, field: str) -> None:
    error = assert_error(request(http, emu, body), 400, "bad_request")
    assert error["message"] == "MALFORMED_JSON_CONTENT"
    assert error["fields"][0]["name"] == field


@pytest.mark.parametrize(
    "query",
    ["retry=11", "retry=-1", "retry=x", "retry=", "expiry-seconds=59", "expiry-seconds=2592001"],
)
def test_retry_and_expiry_out_of_range(http: urllib3.PoolManager, emu: Emulator, query: str) -> None:
    response = request(http, emu, {"method": "GET", "uri": "/3/0/4"}, f"async-id=a&{query}")
    body = assert_error(response, 400, "bad_request")
    assert body["fields"][0]["name"] == query.split("=")[0]


def test_retry_and_expiry_limits_are_accepted(http: urllib3.PoolManager, emu: Emulator) -> None:
    for query in ("retry=0&expiry-seconds=60", "retry=10&expiry-seconds=2592000"):
        response = request(http, emu, {"method": "GET", "uri": "/3/0/4"}, f"async-id=a&{query}")
        assert response.status == 202


def test_unknown_device_and_path_are_404(http: urllib3.PoolManager, emu: Emulator) -> None:
    body = assert_error(
        request(http, emu, {"method": "GET", "uri": "/3/0/4"}, device="nobody"), 404, "not_found"
    )
    assert body["message"] == "DEVICE_NOT_FOUND"
    body = assert_error(request(http, emu, {"method": "GET", "uri": "/9/0/0"}), 404, "not_found")
    assert body["message"] == "URI_PATH_DOES_NOT_EXISTS"
    # An object or instance the device has is a path it knows; a POST needs only the object.
    assert request(http, emu, {"method": "GET", "uri": "/3303/0"}).status == 202
    assert request(http, emu, {"method": "POST", "uri": "/3303/7"}).status == 202
    assert request(http, emu, {"method": "POST", "uri": "/9999/0"}).status == 404
    emu.deregister_device(DEVICE)
    body = assert_error(request(http, emu, {"method": "GET", "uri": "/3/0/4"}), 404, "not_found")
    assert body["message"] == "DEVICE_NOT_FOUND"


def test_credentials(http: urllib3.PoolManager, emu: Emulator) -> None:
    body = {"method": "GET", "uri": "/3/0/4"}
    assert_error(request(http, emu, body, key=None), 401, "unauthorized")
    assert_error(request(http, emu, body, key="user-token"), 401, "unauthorized")


def test_queue_is_full_after_20_waiting_requests_per_key(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    pull(http, emu, key="ak_other")
    emu.set_online(DEVICE, False)
    for n in range(20):
        assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, f"async-id=r{n}").status == 202
    body = assert_error(request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}), 400, "bad_request")
    assert body["message"] == "QUEUE_IS_FULL"
    # Another key's requests are not refused because of this key's queue.
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, key="ak_other").status == 202
    emu.set_online(DEVICE, True)
    assert [answer["id"] for answer in answers(http, emu)] == [f"r{n}" for n in range(20)]
    assert [answer["id"] for answer in answers(http, emu, "ak_other")] == ["req-1"]
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}).status == 202  # room again


# ---------------------------------------------------------------------- what devices answer


def test_get_put_post_delete(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    assert call(http, emu, "PUT", f"/v2/subscriptions/{DEVICE}/3303/0/5700").status == 200
    sent = [
        {"method": "GET", "uri": "/3311/0/5850"},
        {"method": "PUT", "uri": "/3303/0/5700", "content-type": "text/plain", "payload-b64": b64("19")},
        {"method": "GET", "uri": "/3303/0/5700", "accept": "text/plain"},
        {"method": "POST", "uri": "/3/0/4", "payload-b64": b64("now")},
        {"method": "DELETE", "uri": "/3303/0/5701"},
        {"method": "GET", "uri": "/3303/0/5701"},
        {"method": "PUT", "uri": "/3303/0/5700?pmax=120&lt=10"},  # notification rules
        {"method": "PUT", "uri": "/3303/0/5700", "content-type": "application/json", "payload-b64": b64("1")},
    ]
    for n, body in enumerate(sent):
        assert request(http, emu, body, f"async-id=r{n}").status == 202
    message = pull(http, emu)
    assert message["async-responses"][:2] == [
        {"id": "r0", "status": 200, "payload": b64('{"on":true}'), "ct": "application/json", "max-age": 0},
        {"id": "r1", "status": 200},
    ]
    # The PUT changed a subscribed, observable resource: its notification follows the answer.
    assert message["notifications"] == [
        {"ep": DEVICE, "path": "/3303/0/5700", "ct": "text/plain", "payload": b64("19"), "max-age": 60}
    ]
    rest = answers(http, emu)
    assert rest == [
        {"id": "r2", "status": 200, "payload": b64("19"), "ct": "text/plain", "max-age": 60},
        {"id": "r3", "status": 200},  # executed
        {"id": "r4", "status": 200},  # deleted
        {"id": "r5", "status": 404},  # the device no longer has it
        {"id": "r6", "status": 200},  # write-attributes accepted
        {"id": "r7", "status": 415},  # the device does not take that media type
    ]
    assert emu.device(DEVICE)["resources"]["/3303/0/5700"]["value"] == "19"
    assert "/3303/0/5701" not in emu.device(DEVICE)["resources"]
    (execution,) = emu.executions(DEVICE)
    assert (execution["path"], base64.b64decode(execution["payload_b64"])) == ("/3/0/4", b"now")
    assert emu.executions("somebody-else") == []


def test_execute_answers_set_by_the_test(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.on_execute(DEVICE, "/3/0/4", "rebooting", status=201)
    emu.on_execute(DEVICE, "/3303/0/5605", lambda payload: {"reset": payload.decode()}, ct="application/json")

    def broken(payload: bytes) -> Any:
        raise RuntimeError("the test's device crashed")

    emu.on_execute(DEVICE, "/3303/0/5606", broken)
    emu.on_execute(DEVICE, "/3303/0/5607", None, status=400)
    sent = [
        {"method": "POST", "uri": "/3/0/4"},
        {"method": "POST", "uri": "/3303/0/5605", "payload-b64": b64("min")},
        {"method": "POST", "uri": "/3303/0/5606"},
        {"method": "POST", "uri": "/3303/0/5607"},
        {"method": "POST", "uri": "/3303/9"},  # the object exists; nothing answers there
    ]
    for n, body in enumerate(sent):
        assert request(http, emu, body, f"async-id=x{n}").status == 202
    assert answers(http, emu) == [
        {"id": "x0", "status": 201, "payload": b64("rebooting"), "ct": "text/plain"},
        {"id": "x1", "status": 200, "payload": b64('{"reset":"min"}'), "ct": "application/json"},
        {"id": "x2", "status": 500},
        {"id": "x3", "status": 400},
        {"id": "x4", "status": 404},
    ]
    assert [record["path"] for record in emu.executions()] == [
        "/3/0/4",
        "/3303/0/5605",
        "/3303/0/5606",
        "/3303/0/5607",
        "/3303/9",
    ]


def test_too_large_payload_is_413(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    big = base64.b64encode(b"x" * 1_048_577).decode()
    assert request(http, emu, {"method": "PUT", "uri": "/3303/0/5700", "payload-b64": big}).status == 202
    assert answers(http, emu) == [{"id": "req-1", "status": 413}]


def test_without_a_channel_the_answer_is_lost(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}).status == 202
    pull(http, emu)  # the channel is opened only now
    assert answers(http, emu) == []
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=req-2").status == 202
    assert [answer["id"] for answer in answers(http, emu)] == ["req-2"]


def test_answers_go_to_the_requesting_key_only(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    pull(http, emu, key="ak_other")
    assert request(http, emu, {"method": "GET", "uri": "/3/0/4"}, key="ak_other").status == 202
    assert answers(http, emu) == []
    assert answers(http, emu, "ak_other") == [
        {"id": "req-1", "status": 200, "payload": "", "ct": "text/plain", "max-age": 60}
    ]


def test_faults_can_target_the_new_endpoints(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.add_fault(endpoint="POST /v2/device-requests/{device-id}", status=503, count=1)
    assert_error(request(http, emu, {"method": "GET", "uri": "/3/0/4"}), 503, "service_unavailable")
    assert request(http, emu, {"method": "GET", "uri": "/3/0/4"}).status == 202
    emu.add_fault(endpoint="GET /v2/subscriptions/{device-id}/{resourcePath}", status=500)
    assert_error(call(http, emu, "GET", f"/v2/subscriptions/{DEVICE}/3/0/4"), 500, "internal_server_error")


# ---------------------------------------------------------------------- time


def test_device_latency_and_one_request_at_a_time(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.device_latency = 2.0
    for n in range(3):
        assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, f"async-id=r{n}").status == 202
    assert answers(http, emu) == []
    clock.advance(1.999)
    assert answers(http, emu) == []
    clock.advance(0.001)
    assert [answer["id"] for answer in answers(http, emu)] == ["r0"]
    clock.advance(4)  # the next two, one after the other
    assert [answer["id"] for answer in answers(http, emu)] == ["r1", "r2"]
    emu.set_latency(DEVICE, 0.5)  # a device of its own pace
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=r3").status == 202
    clock.advance(0.5)
    assert [answer["id"] for answer in answers(http, emu)] == ["r3"]
    assert emu.device(DEVICE)["latency"] == 0.5


def test_offline_device_queues_and_expires(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.set_online(DEVICE, False)
    assert (
        request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=soon&expiry-seconds=60").status
        == 202
    )
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=later").status == 202
    assert emu.device(DEVICE)["queued"] == 2
    clock.advance(59)
    assert answers(http, emu) == []
    clock.advance(1)
    assert answers(http, emu) == [{"id": "soon", "status": 429, "error": "REQUEST_EXPIRED"}]
    emu.set_online(DEVICE, True)  # the rest is delivered when the device comes back
    assert [answer["id"] for answer in answers(http, emu)] == ["later"]
    emu.set_online(DEVICE, False)
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=default").status == 202
    clock.advance(2 * 3600)  # the default expiry of a device not in queue mode
    assert answers(http, emu) == [{"id": "default", "status": 429, "error": "REQUEST_EXPIRED"}]


def test_queue_mode_device_keeps_requests_three_days(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.register_device("sleepy", q=True, resources={"/1/0/1": 300})
    emu.set_online("sleepy", False)
    assert request(http, emu, {"method": "GET", "uri": "/1/0/1"}, device="sleepy").status == 202
    clock.advance(3 * 86400 - 1)
    assert answers(http, emu) == []
    clock.advance(1)
    assert answers(http, emu) == [{"id": "req-1", "status": 429, "error": "REQUEST_EXPIRED"}]


def test_a_device_too_slow_times_out_after_its_retries(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.set_latency(DEVICE, 120)  # never within the 120 s the service waits
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=t&retry=2").status == 202
    clock.advance(3 * 120 - 1)
    assert answers(http, emu) == []
    clock.advance(1)
    assert answers(http, emu) == [{"id": "t", "status": 504, "error": "TIMEOUT"}]
    # A request whose expiry comes first expires instead.
    assert (
        request(
            http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=e&retry=5&expiry-seconds=200"
        ).status
        == 202
    )
    clock.advance(240)
    assert answers(http, emu) == [{"id": "e", "status": 429, "error": "REQUEST_EXPIRED"}]


def test_going_offline_during_a_request(http: urllib3.PoolManager, emu: Emulator, clock: ManualClock) -> None:
    pull(http, emu)
    emu.device_latency = 5
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=lost").status == 202
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=kept&retry=1").status == 202
    clock.advance(1)
    emu.set_online(DEVICE, False)
    assert answers(http, emu) == [{"id": "lost", "status": 503, "error": "NOT_CONNECTED"}]
    emu.set_online(DEVICE, True)  # "kept" is next: its first attempt starts now
    clock.advance(1)
    emu.set_online(DEVICE, False)  # it fails, with one retry left
    emu.set_online(DEVICE, True)
    clock.advance(5)
    assert [(answer["id"], answer["status"]) for answer in answers(http, emu)] == [("kept", 200)]


def test_deregistration_and_expiry_answer_what_waits(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.register_device("other", resources={"/1/0/1": 1})
    for ep in (DEVICE, "other"):
        emu.set_online(ep, False)
        assert (
            request(
                http, emu, {"method": "GET", "uri": "/3303/0/5700" if ep == DEVICE else "/1/0/1"}, device=ep
            ).status
            == 202
        )
    emu.deregister_device(DEVICE)
    emu.expire_registration("other")
    message = pull(http, emu)
    assert message["de-registrations"] == [DEVICE]
    assert message["async-responses"] + answers(http, emu) == [
        {"id": "req-1", "status": 429, "error": "DEVICE_REMOVED_REGISTRATION"},
        {"id": "req-1", "status": 503, "error": "NOT_CONNECTED"},
    ]


def test_latency_in_real_time_needs_no_clock_steps(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0, device_latency=0.05) as emu:
        emu.register_device(DEVICE, resources=RESOURCES)
        pull(http, emu)  # the channel
        emu.long_poll_hold = 5
        started = time.monotonic()
        assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}).status == 202
        message = pull(http, emu)  # held until the device's answer arrives
        assert message["async-responses"][0]["id"] == "req-1"
        assert time.monotonic() - started >= 0.05
        emu.set_online(DEVICE, False)
        assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=w").status == 202
    # stop() ended the thread keeping the deadlines (the leak check of conftest.py)


# ---------------------------------------------------------------------- service level


@pytest.fixture
def service(clock: ManualClock) -> Iterator[tuple[NotificationService, DeviceService]]:
    notifications = NotificationService(Settings(long_poll_hold=0, device_latency=1), clock=clock)
    devices = DeviceService(notifications)
    yield notifications, devices
    notifications.stop()


def drain(notifications: NotificationService, key: str) -> list[Any]:
    found: list[Any] = []
    while isinstance(batch := notifications.long_poll(key), Batch):
        found.extend(batch.message.get("async-responses", []))
    return found


def test_service_rules_without_sockets(
    service: tuple[NotificationService, DeviceService], clock: ManualClock
) -> None:
    notifications, devices = service
    key = "ak_service"
    notifications.long_poll(key)
    devices.register(DEVICE, ept=None, original_ep=None, q=False, resources=RESOURCES, api_key=None)
    body = json.dumps({"method": "GET", "uri": "/3303/0/5700"}).encode()
    assert (
        devices.device_request(key, DEVICE, async_id="a", body=body, retry=None, expiry_seconds=None) is None
    )
    assert drain(notifications, key) == []
    clock.advance(1)
    assert [answer["id"] for answer in drain(notifications, key)] == ["a"]
    devices.set_online(DEVICE, False)
    devices.set_online(DEVICE, False)  # no change
    assert (
        devices.device_request(key, DEVICE, async_id="b", body=body, retry="0", expiry_seconds="60") is None
    )
    devices.reset()  # forgets the device and what waits for it
    clock.advance(60)
    assert drain(notifications, key) == []
    with pytest.raises(KeyError):
        devices.device(DEVICE)
    with pytest.raises(ValueError, match="unknown device"):
        devices.set_online(DEVICE, True)
    with pytest.raises(ValueError, match="negative"):
        devices.set_latency(DEVICE, -1)


def test_service_timer_thread_follows_start_and_stop(clock: ManualClock) -> None:
    notifications = NotificationService(Settings(device_latency=60))
    devices = DeviceService(notifications)
    devices.register(DEVICE, ept=None, original_ep=None, q=False, resources=RESOURCES, api_key=None)
    body = json.dumps({"method": "GET", "uri": "/3303/0/5700"}).encode()
    assert (
        devices.device_request("ak_k", DEVICE, async_id="a", body=body, retry=None, expiry_seconds=None)
        is None
    )
    devices.start()  # a deadline is pending: the thread starts at once
    assert wait_until(lambda: any(thread.name == "mds-emulator-devices" for thread in threading.enumerate()))
    assert (
        devices.device_request("ak_k", DEVICE, async_id="b", body=body, retry=None, expiry_seconds=None)
        is None
    )
    devices.stop()
    devices.stop()  # idempotent
    assert devices.device(DEVICE)["queued"] == 2


def test_a_request_expiring_while_the_one_before_it_is_answered(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.device_latency = 60
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, "async-id=first").status == 202
    query = "async-id=second&expiry-seconds=60"
    assert request(http, emu, {"method": "GET", "uri": "/3303/0/5700"}, query).status == 202
    clock.advance(60)  # the first is answered when the second's time is up: it never starts
    assert [(answer["id"], answer["status"]) for answer in answers(http, emu)] == [
        ("first", 200),
        ("second", 429),
    ]


def test_answered_requests_leave_no_deadlines_behind(
    service: tuple[NotificationService, DeviceService], clock: ManualClock
) -> None:
    _, devices = service
    devices.register(DEVICE, ept=None, original_ep=None, q=False, resources=RESOURCES, api_key=None)
    body = json.dumps({"method": "GET", "uri": "/3303/0/5700"}).encode()
    for n in range(300):
        assert (
            devices.device_request(
                "ak_k", DEVICE, async_id=f"r{n}", body=body, retry=None, expiry_seconds=None
            )
            is None
        )
        clock.advance(1)  # answered; its expiry (two hours away) is all that is left of it
    assert len(devices._events) <= 2 * 64
