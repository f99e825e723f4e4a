"""Simulated devices in the emulator: registration forms, resources, online state, the resource
directory (``GET /v2/endpoints/{device-id}``) and the deprecated resource API
(``/v2/endpoints/{device-id}/{resourcePath}``) with every status the 2020 spec lists for it.

Driven by plain urllib3 over a real socket and the Emulator's own methods; time is a ManualClock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from test_emulator import assert_error, call

from mds.emulator import Emulator, ManualClock
from mds.emulator._devices import resource_path, resource_specs

DEVICE = "015f3850a657000000000001001002ab"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(long_poll_hold=0, pull_expiry=86400, clock=clock) as emulator:
        yield emulator


def pull(http: urllib3.PoolManager, emu: Emulator) -> dict[str, Any]:
    response = call(http, emu, "GET", "/v2/notification/pull")
    assert response.status in (200, 204), response.status
    return response.json() if response.status == 200 else {}


def answers(http: urllib3.PoolManager, emu: Emulator) -> list[Any]:
    found: list[Any] = []
    while message := pull(http, emu):
        found.extend(message.get("async-responses", []))
    return found


# ---------------------------------------------------------------------- registering devices


def test_register_device_keeps_its_list_form(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    resources = [
        {"path": "/3303/0/5700", "ct": "text/plain", "obs": True, "rt": "temperature", "_if": "s"},
        {"path": "/3303/0/5701", "value": "Cel", "max_age": 0},
    ]
    assert emu.register_device(DEVICE, ept="Thermostat", original_ep="my-dev", resources=resources) == 1
    (registration,) = pull(http, emu)["registrations"]
    assert registration == {
        "ep": DEVICE,
        "ept": "Thermostat",
        "original-ep": "my-dev",
        "q": False,
        "resources": [
            {"path": "/3303/0/5700", "ct": "text/plain", "obs": True, "rt": "temperature", "if": "s"},
            {"path": "/3303/0/5701"},
        ],
    }
    device = emu.device(DEVICE)
    assert device["online"]
    assert device["registered"]
    assert (device["ept"], device["original_ep"], device["q"], device["queued"]) == (
        "Thermostat",
        "my-dev",
        False,
        0,
    )
    assert device["resources"]["/3303/0/5701"] == {
        "path": "/3303/0/5701",
        "ct": "text/plain",
        "obs": False,  # the list form: observable only when it says so
        "payload_b64": "Q2Vs",
        "value": "Cel",
    }
    assert device["resources"]["/3303/0/5700"]["value"] == ""  # no value yet
    assert device["resources"]["/3303/0/5700"]["rt"] == "temperature"


def test_register_device_mapping_form(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.register_device(
        DEVICE,
        resources={
            "/3303/0/5700": 21.5,
            "3311/0/5850": {"value": {"on": True}, "ct": "application/json", "rt": "light"},
            "/10/0/1": {"payload_b64": "AAE=", "ct": "application/octet-stream", "obs": False},
            "/3/0/0": b"raw",
            "/3/0/1": {"payload_b64": "e30g", "ct": "application/json"},
            "/3/0/2": {"payload_b64": "e3g=", "ct": "application/json"},
        },
    )
    (registration,) = pull(http, emu)["registrations"]
    assert registration["resources"] == [
        {"path": "/3303/0/5700", "ct": "text/plain", "obs": True},
        {"path": "3311/0/5850", "ct": "application/json", "obs": True, "rt": "light"},
        {"path": "/10/0/1", "ct": "application/octet-stream", "obs": False},
        {"path": "/3/0/0", "ct": "text/plain", "obs": True},
        {"path": "/3/0/1", "ct": "application/json", "obs": True},
        {"path": "/3/0/2", "ct": "application/json", "obs": True},
    ]
    shown = emu.device(DEVICE)["resources"]
    assert shown["/3303/0/5700"]["value"] == "21.5"
    assert shown["/3311/0/5850"]["value"] == {"on": True}
    assert shown["/10/0/1"]["value"] is None  # not text: read payload_b64
    assert shown["/10/0/1"]["payload_b64"] == "AAE="
    assert base64.b64decode(shown["/3/0/0"]["payload_b64"]) == b"raw"
    assert shown["/3/0/1"]["value"] == {}
    assert shown["/3/0/2"]["value"] is None  # not valid JSON: read payload_b64


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ("nope", "list of ResourcesData"),
        (["nope"], "ResourcesData dict"),
        ([{"ct": "text/plain"}], "not a resource path"),
        ({"": 1}, "not a resource path"),
        ({"/a//b": 1}, "not a resource path"),
        ([{"path": "/1/0/1"}, {"path": "1/0/1"}], "listed twice"),
        ({"/1/0/1": {"ct": 5}}, "ct must be a string"),
        ({"/1/0/1": {"max_age": -1}}, "max_age"),
        ({"/1/0/1": {"max_age": True}}, "max_age"),
        ({"/1/0/1": {"payload_b64": "%%"}}, "not valid base64"),
        ({"/1/0/1": {"payload_b64": 5}}, "base64 string"),
    ],
)
def test_malformed_resources_are_refused(emu: Emulator, resources: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        emu.register_device(DEVICE, resources=resources)
    with pytest.raises(KeyError):
        emu.device(DEVICE)  # nothing was registered


def test_resource_paths() -> None:
    assert resource_path("3303/0/5700") == "/3303/0/5700"
    assert resource_path("/3303") == "/3303"
    for bad in ("", "/", "//3", "/3/", "/3/./0", "/3/../0", "/3 0", "/3?x", "/3#x", "/3*", "/3%2F", 3):
        assert resource_path(bad) is None, bad
    assert resource_path("/" + "1" * 254) is not None
    assert resource_path("/" + "1" * 255) is None
    assert resource_specs(None) == []


def test_re_registration_keeps_values_not_given(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.register_device(DEVICE, resources={"/1/0/1": 5, "/1/0/2": 6})
    emu.set_resource(DEVICE, "/1/0/1", 7)
    emu.register_device(DEVICE, resources=[{"path": "/1/0/1"}, {"path": "/1/0/3", "value": 8}])
    shown = emu.device(DEVICE)["resources"]
    assert {path: resource["value"] for path, resource in shown.items()} == {"/1/0/1": "7", "/1/0/3": "8"}
    emu.update_registration(DEVICE)  # no resources given: they stay
    assert set(emu.device(DEVICE)["resources"]) == {"/1/0/1", "/1/0/3"}
    emu.update_registration(DEVICE, resources={"/1/0/9": 9}, ept="Kind", original_ep="orig")
    device = emu.device(DEVICE)
    assert (set(device["resources"]), device["ept"], device["original_ep"]) == ({"/1/0/9"}, "Kind", "orig")
    emu.update_registration(DEVICE)  # ept and original_ep stay too
    assert (emu.device(DEVICE)["ept"], emu.device(DEVICE)["original_ep"]) == ("Kind", "orig")
    assert [device["ep"] for device in emu.devices()] == [DEVICE]


def test_update_registration_of_an_unknown_device_registers_it(emu: Emulator) -> None:
    emu.update_registration("new-device", resources={"/1/0/1": 1})
    assert emu.device("new-device")["registered"]


def test_set_resource_and_set_online(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources={"/3303/0/5700": 20})
    assert call(http, emu, "PUT", f"/v2/subscriptions/{DEVICE}/3303").status == 200
    assert emu.set_resource(DEVICE, "/3303/0/5700", 21) == 1
    assert emu.set_resource(DEVICE, "/3303/0/5701", "new") == 1  # a new, observable resource
    assert emu.set_resource(DEVICE, "/3303/0/5700", payload_b64="MjI=") == 1
    assert emu.set_resource(DEVICE, "/3303/0/5702", {"a": 1}, ct="application/json") == 1
    assert emu.set_resource(DEVICE, "/3303/0/5702", ct="text/plain") == 1  # a new type, no value
    emu.set_online(DEVICE, False)
    assert not emu.device(DEVICE)["online"]
    assert emu.set_resource(DEVICE, "/3303/0/5700", 23) == 0
    assert emu.set_resource(DEVICE, "/3303/0/5700", 24) == 0
    emu.set_online(DEVICE, True)  # reports the latest value once
    items = []
    while message := pull(http, emu):
        items.extend(message.get("notifications", []))
    payloads = [(item["path"], base64.b64decode(item["payload"]).decode()) for item in items]
    assert payloads == [
        ("/3303/0/5700", "21"),
        ("/3303/0/5701", "new"),
        ("/3303/0/5700", "22"),
        ("/3303/0/5702", '{"a":1}'),
        ("/3303/0/5702", ""),
        ("/3303/0/5700", "24"),
    ]
    with pytest.raises(ValueError, match="unknown device"):
        emu.set_resource("nobody", "/1/0/1", 1)
    with pytest.raises(ValueError, match="not a resource path"):
        emu.set_resource(DEVICE, "/1//1", 1)
    with pytest.raises(ValueError, match="ct must be a string"):
        emu.set_resource(DEVICE, "/1/0/1", 1, ct=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="base64"):
        emu.set_resource(DEVICE, "/1/0/1", payload_b64="%%")
    with pytest.raises(ValueError, match="unknown device"):
        emu.set_online("nobody", False)
    with pytest.raises(ValueError, match="not a resource path"):
        emu.on_execute(DEVICE, "", "x")
    with pytest.raises(ValueError, match="status"):
        emu.on_execute(DEVICE, "/1/0/1", "x", status=99)


def test_changes_of_a_deregistered_device_wait_for_its_registration(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources={"/1/0/1": 1})
    emu.deregister_device(DEVICE)
    assert emu.set_resource(DEVICE, "/1/0/1", 2) == 0
    assert not emu.device(DEVICE)["registered"]
    emu.on_execute("not-yet", "/1/0/1", "x")  # a device may get answers before it registers
    assert not emu.device("not-yet")["registered"]
    assert emu.deregister_device("never-registered") == 1  # injected as before
    assert pull(http, emu)["de-registrations"] == [DEVICE, "never-registered"]


def test_reset_forgets_devices(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.register_device(DEVICE, resources={"/1/0/1": 1})
    assert call(http, emu, "PUT", "/v2/subscriptions", body=[{}]).status == 204
    emu.reset()
    assert emu.devices() == []
    assert call(http, emu, "GET", "/v2/subscriptions").json() == []
    admin = http.request("POST", emu.url + "/_emulator/reset")
    assert admin.status == 200


def test_admin_latency_execute_and_records(http: urllib3.PoolManager, emu: Emulator) -> None:
    def admin(name: str, body: dict[str, Any]) -> urllib3.BaseHTTPResponse:
        return http.request("POST", emu.url + "/_emulator/" + name, body=json.dumps(body))

    pull(http, emu)
    emu.register_device(DEVICE, resources=[{"path": "/3/0/4"}])
    assert admin("set-latency", {"ep": DEVICE, "latency": 1.5}).json() == {"latency": 1.5}
    assert emu.device(DEVICE)["latency"] == 1.5
    assert admin("set-latency", {"ep": DEVICE}).json() == {"latency": None}
    assert admin("on-execute", {"ep": DEVICE, "path": "/3/0/4", "value": "ok", "status": 202}).json() == {
        "status": 202
    }
    body = {"method": "POST", "uri": "/3/0/4", "content-type": "text/plain", "payload-b64": "Z28="}
    assert call(http, emu, "POST", f"/v2/device-requests/{DEVICE}?async-id=x", body=body).status == 202
    assert answers(http, emu) == [{"id": "x", "status": 202, "payload": "b2s=", "ct": "text/plain"}]
    (record,) = http.request("GET", emu.url + "/_emulator/executions").json()
    assert (record["ep"], record["path"], record["payload_b64"], record["ct"]) == (
        DEVICE,
        "/3/0/4",
        "Z28=",
        "text/plain",
    )
    refused: list[tuple[str, dict[str, Any]]] = [
        ("set-latency", {"ep": DEVICE, "latency": "1"}),
        ("set-latency", {"ep": DEVICE, "latency": True}),
        ("set-latency", {"ep": DEVICE, "latency": -1}),
        ("on-execute", {"ep": DEVICE, "path": "/3/0/4", "status": "200"}),
        ("on-execute", {"ep": DEVICE, "path": "/3/0/4", "ct": 1}),
    ]
    for name, bad in refused:
        assert_error(admin(name, bad), 400, "bad_request")


# ---------------------------------------------------------------------- the resource directory


def test_get_endpoint_resources(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(call(http, emu, "GET", f"/v2/endpoints/{DEVICE}"), 404, "not_found")
    emu.register_device(
        DEVICE,
        resources=[
            {"path": "/3303/0/5700", "ct": "text/plain", "obs": True, "rt": "temperature"},
            {"path": "3/0/0"},
        ],
    )
    emu.set_online(DEVICE, False)  # the directory does not reach the device
    response = call(http, emu, "GET", f"/v2/endpoints/{DEVICE}")
    assert response.status == 200
    assert response.json() == [
        {"uri": "/3303/0/5700", "obs": True, "type": "text/plain", "rt": "temperature"},
        {"uri": "/3/0/0", "obs": False},
    ]
    emu.deregister_device(DEVICE)
    assert_error(call(http, emu, "GET", f"/v2/endpoints/{DEVICE}"), 404, "not_found")
    assert_error(call(http, emu, "GET", f"/v2/endpoints/{DEVICE}", key=None), 401, "unauthorized")


# ---------------------------------------------------------------------- the deprecated resource API


def resource(
    http: urllib3.PoolManager,
    emu: Emulator,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    device: str = DEVICE,
    key: str | None = "default",
) -> urllib3.BaseHTTPResponse:
    return call(http, emu, method, f"/v2/endpoints/{device}{path}", key=key, body=body, headers=headers)


def test_deprecated_resource_api_flow(http: urllib3.PoolManager, emu: Emulator, clock: ManualClock) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources={"/3303/0/5700": {"value": 21, "max_age": 30}, "/3/0/4": 0})
    emu.on_execute(DEVICE, "/3/0/4", lambda payload: payload.decode().upper())
    # A GET with nothing cached goes to the device; 205 when only the cache may answer.
    assert resource(http, emu, "GET", "/3303/0/5700?cacheOnly=true").status == 205
    response = resource(http, emu, "GET", "/3303/0/5700")
    assert response.status == 202
    read_id = response.json()["async-response-id"]
    assert answers(http, emu) == [
        {"id": read_id, "status": 200, "payload": "MjE=", "ct": "text/plain", "max-age": 30}
    ]
    # The value the service received is answered from its cache for max-age seconds.
    cached = resource(http, emu, "GET", "/3303/0/5700?cacheOnly=true")
    assert (cached.status, cached.data, cached.headers["Content-Type"]) == (200, b"21", "text/plain")
    clock.advance(30)
    assert resource(http, emu, "GET", "/3303/0/5700?cacheOnly=TRUE").status == 205
    write = resource(http, emu, "PUT", "/3303/0/5700", b"25", {"Content-Type": "text/plain"})
    execute = resource(http, emu, "POST", "/3/0/4", b"reboot", {"Content-Type": "text/plain"})
    delete = resource(http, emu, "DELETE", "/3303/0/5700")
    ids = [r.json()["async-response-id"] for r in (write, execute, delete)]
    assert [r.status for r in (write, execute, delete)] == [202, 202, 202]
    assert answers(http, emu) == [
        {"id": ids[0], "status": 200},
        {"id": ids[1], "status": 200, "payload": "UkVCT09U", "ct": "text/plain"},
        {"id": ids[2], "status": 200},
    ]
    assert emu.executions()[-1]["payload_b64"] == "cmVib290"
    # No body and no content type: a POST without payload, a PUT of an empty text.
    assert resource(http, emu, "POST", "/3/0/4").status == 202
    assert emu.executions()[-1]["payload_b64"] == ""


def test_deprecated_resource_api_statuses(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.register_device(DEVICE, resources={"/3303/0/5700": 1})
    emu.register_device("sleepy", q=True, resources={"/3303/0/5700": 1})
    # 412 before any channel: "these APIs respond only if there is a notification channel".
    body = assert_error(resource(http, emu, "GET", "/3303/0/5700"), 412, "precondition_failed")
    assert body["message"] == "No notification channel found."
    pull(http, emu)
    assert_error(resource(http, emu, "GET", "/3303/0/5700", device="nobody"), 410, "gone")
    assert_error(resource(http, emu, "GET", "/9/0/0"), 404, "not_found")
    assert_error(resource(http, emu, "DELETE", "/9/0/0"), 404, "not_found")
    assert_error(resource(http, emu, "POST", "/9/0/0"), 404, "not_found")
    assert resource(http, emu, "PUT", "/9/0/0", b"1").status == 202  # the device says 404
    assert answers(http, emu)[0]["status"] == 404
    assert_error(resource(http, emu, "GET", "/3303/0/5700?noResp=maybe"), 400, "bad_request")
    assert_error(resource(http, emu, "GET", "/3303/0/5700?noResp=true&noResp=true"), 400, "bad_request")
    # noResp: 204 and nobody is answered; 409 for a queue-mode device.
    text = {"Content-Type": "text/plain"}
    response = resource(http, emu, "PUT", "/3303/0/5700?noResp=true", b"5", text)
    assert (response.status, response.data) == (204, b"")
    assert answers(http, emu) == []
    assert emu.device(DEVICE)["resources"]["/3303/0/5700"]["value"] == "5"
    assert_error(
        resource(http, emu, "PUT", "/3303/0/5700?noResp=true", b"5", device="sleepy"), 409, "conflict"
    )
    # Offline: 502 for a device not in queue mode; queued for one in queue mode, 429 when full.
    emu.set_online(DEVICE, False)
    emu.set_online("sleepy", False)
    assert_error(resource(http, emu, "GET", "/3303/0/5700"), 502, "bad_gateway")
    for _ in range(20):
        assert resource(http, emu, "GET", "/3303/0/5700", device="sleepy").status == 202
    assert_error(resource(http, emu, "GET", "/3303/0/5700", device="sleepy"), 429, "too_many_requests")
    assert_error(resource(http, emu, "GET", "/3303/0/5700", key=None), 401, "unauthorized")


def test_deprecated_path_is_checked(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.register_device(DEVICE, resources={"/3303/0/5700": 1})
    pull(http, emu)
    # A path the router takes but no resource path: a '%' left after decoding.
    assert_error(resource(http, emu, "GET", "/3303/%2525"), 400, "bad_request")
