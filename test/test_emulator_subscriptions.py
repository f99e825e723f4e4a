"""Subscriptions in the emulator: pre-subscription rules, per-device and per-resource subscriptions.

Every status the 2020 spec documents for ``/v2/subscriptions``, ``/v2/subscriptions/{device-id}``
and ``/v2/subscriptions/{device-id}/{resourcePath}``, over a real socket with plain urllib3; and
the rules that make them matter: a device-side change reaches a key only when subscribed, rules
apply on registration and registration update, a full registration drops manual subscriptions.
"""

from __future__ import annotations

import base64
import http.client as http_client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from test_emulator import assert_error, call

from mds.emulator import Emulator, ManualClock

SUBSCRIPTIONS = "/v2/subscriptions"
DEVICE = "015f3850a657000000000001001002ab"
SENSOR = {"/3303/0/5700": 21.5, "/3303/0/5701": {"value": "Cel", "obs": False}, "/3/0/0": "Acme"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(long_poll_hold=0, clock=clock) as emulator:
        yield emulator


def pull(http: urllib3.PoolManager, emu: Emulator, key: str = "default") -> dict[str, Any]:
    """What the key's long-poll channel holds now ({} when nothing)."""
    response = call(http, emu, "GET", "/v2/notification/pull", key=key)
    assert response.status in (200, 204), response.status
    return response.json() if response.status == 200 else {}


def drain(http: urllib3.PoolManager, emu: Emulator, key: str = "default") -> dict[str, Any]:
    """Every item the key's channel holds, merged by kind (messages keep queued order)."""
    merged: dict[str, list[Any]] = {}
    while message := pull(http, emu, key):
        for kind, items in message.items():
            merged.setdefault(kind, []).extend(items)
    return merged


def values(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (item["ep"], item["path"], base64.b64decode(item["payload"]).decode())
        for item in message.get("notifications", [])
    ]


def put_rules(http: urllib3.PoolManager, emu: Emulator, rules: Any, key: str = "default") -> Any:
    return call(http, emu, "PUT", SUBSCRIPTIONS, key=key, body=rules)


# ---------------------------------------------------------------------- pre-subscriptions


def test_presubscriptions_put_get_delete(http: urllib3.PoolManager, emu: Emulator) -> None:
    response = call(http, emu, "GET", SUBSCRIPTIONS)
    assert (response.status, response.json()) == (200, [])
    rules = [
        {"endpoint-name": "node-001", "resource-path": ["/dev"]},
        {"endpoint-type": "Light", "resource-path": ["/sen/*"]},
        {"endpoint-name": "node*"},
        {"endpoint-type": "Sensor"},
        {"resource-path": ["/dev/temp", "/dev/hum"]},
    ]  # the spec's own example
    response = put_rules(http, emu, rules)
    assert (response.status, response.data) == (204, b"")
    assert call(http, emu, "GET", SUBSCRIPTIONS).json() == rules
    assert call(http, emu, "GET", SUBSCRIPTIONS, key="ak_other").json() == []  # per key
    assert put_rules(http, emu, []).status == 204  # an empty array removes the rules
    assert call(http, emu, "GET", SUBSCRIPTIONS).json() == []
    assert put_rules(http, emu, rules).status == 204
    assert call(http, emu, "DELETE", SUBSCRIPTIONS).status == 204
    assert call(http, emu, "GET", SUBSCRIPTIONS).json() == []
    assert call(http, emu, "DELETE", SUBSCRIPTIONS).status == 204  # nothing to delete: 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint-name": "x"}, "presubscriptions"),  # not an array
        (["x"], "[0]"),
        ([{"endpoint_name": "x"}], "[0].endpoint_name"),  # unknown key (a typo)
        ([{"endpoint-name": ""}], "[0].endpoint-name"),
        ([{"endpoint-name": 7}], "[0].endpoint-name"),
        ([{"endpoint-name": "n" * 65}], "[0].endpoint-name"),
        ([{"endpoint-type": "t" * 65}], "[0].endpoint-type"),
        ([{"endpoint-name": "no*de"}], "[0].endpoint-name"),
        ([{}, {"resource-path": []}], "[1].resource-path"),  # minItems 1
        ([{"resource-path": "/3/0/0"}], "[0].resource-path"),
        ([{"resource-path": ["3/0/0"]}], "[0].resource-path"),
        ([{"resource-path": ["/3/*/0"]}], "[0].resource-path"),
        ([{"resource-path": ["/" + "p" * 128]}], "[0].resource-path"),
        ([{"resource-path": [f"/{n}" for n in range(257)]}], "presubscriptions"),
        ([{}] * 1025, "presubscriptions"),
    ],
)
def test_presubscription_limits_are_400(
    http: urllib3.PoolManager, emu: Emulator, body: Any, field: str
) -> None:
    assert put_rules(http, emu, [{"endpoint-type": "Kept"}]).status == 204
    error = assert_error(put_rules(http, emu, body), 400, "bad_request")
    assert error["fields"][0]["name"] == field
    # A refused PUT leaves the rules as they were.
    assert call(http, emu, "GET", SUBSCRIPTIONS).json() == [{"endpoint-type": "Kept"}]


def test_presubscription_limits_are_inclusive(http: urllib3.PoolManager, emu: Emulator) -> None:
    rules = [
        {"endpoint-name": "n" * 64, "endpoint-type": "t" * 64, "resource-path": ["/" + "p" * 127]},
        {"resource-path": [f"/{n}" for n in range(255)]},  # 256 separate paths in all
    ] + [{}] * 1022  # 1024 entries
    assert put_rules(http, emu, rules).status == 204
    assert len(call(http, emu, "GET", SUBSCRIPTIONS).json()) == 1024


def test_presubscriptions_malformed_json_and_auth(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert_error(put_rules(http, emu, b"[{"), 400, "bad_request")
    assert_error(put_rules(http, emu, b"[" * 100_000), 400, "bad_request")  # too deep: still 400
    for method in ("PUT", "GET", "DELETE"):
        assert_error(call(http, emu, method, SUBSCRIPTIONS, key=None, body=[]), 401, "unauthorized")
        assert_error(call(http, emu, method, SUBSCRIPTIONS, key="token", body=[]), 403, "forbidden")


def test_rules_subscribe_on_registration(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)  # the long-poll channel
    rules = [
        {"endpoint-type": "Sensor", "resource-path": ["/3303/*"]},
        {"endpoint-name": "lamp-*"},
        {"endpoint-name": "other", "endpoint-type": "Other"},  # the name fits, the type does not
        {"resource-path": ["/3/0"]},  # an object instance: every resource below it
    ]
    assert put_rules(http, emu, rules).status == 204
    emu.register_device(DEVICE, ept="Sensor", resources=SENSOR)
    emu.register_device("lamp-1", ept="Light", resources={"/3311/0/5850": True, "/3/0/0": "L"})
    emu.register_device("other", ept="Light", resources={"/3311/0/5850": True})
    assert [item["ep"] for item in pull(http, emu)["registrations"]] == [DEVICE, "lamp-1", "other"]
    subscribed = call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}")
    assert subscribed.status == 200
    assert subscribed.headers["Content-Type"] == "text/uri-list"
    # /3303/0/5701 matches the rule but is not observable.
    assert subscribed.data.decode().splitlines() == ["/3/0/0", "/3303/0/5700"]
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/lamp-1").data == b"/3/0/0\n/3311/0/5850"
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/other"), 404, "not_found")
    assert emu.set_resource(DEVICE, "/3303/0/5700", 22.5) == 1
    assert emu.set_resource(DEVICE, "/3303/0/5701", "K") == 0  # not observable
    assert emu.set_resource("lamp-1", "/3311/0/5850", False) == 1
    assert emu.set_resource("other", "/3311/0/5850", False) == 0  # no rule, no subscription
    assert values(pull(http, emu)) == [
        (DEVICE, "/3303/0/5700", "22.5"),
        ("lamp-1", "/3311/0/5850", "false"),
    ]


def test_rules_apply_on_registration_update_not_on_put(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, ept="Sensor", resources=SENSOR)
    assert put_rules(http, emu, [{"endpoint-type": "Sensor"}]).status == 204
    assert emu.set_resource(DEVICE, "/3303/0/5700", 1) == 0  # rules wait for a registration
    emu.update_registration(DEVICE, ept="Sensor")
    assert emu.set_resource(DEVICE, "/3303/0/5700", 2) == 1
    # Deleting the rules keeps what they subscribed, until the next registration update.
    assert call(http, emu, "DELETE", SUBSCRIPTIONS).status == 204
    assert emu.set_resource(DEVICE, "/3303/0/5700", 3) == 1
    emu.update_registration(DEVICE)
    assert emu.set_resource(DEVICE, "/3303/0/5700", 4) == 0
    message = drain(http, emu)
    assert [item["ep"] for item in message["reg-updates"]] == [DEVICE, DEVICE]
    assert [value for _, _, value in values(message)] == ["2", "3"]


def test_full_registration_drops_manual_subscriptions_not_presubscriptions(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    pull(http, emu)
    assert put_rules(http, emu, [{"resource-path": ["/3303/0/5700"]}]).status == 204
    emu.register_device(DEVICE, ept="Sensor", resources=SENSOR)
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0").status == 200
    emu.update_registration(DEVICE)  # an update keeps manual subscriptions
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0").status == 200
    emu.register_device(DEVICE, ept="Sensor", resources=SENSOR)  # a full registration
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0"), 404, "not_found")
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3303/0/5700").status == 200
    assert emu.set_resource(DEVICE, "/3/0/0", "gone") == 0
    assert emu.set_resource(DEVICE, "/3303/0/5700", 30) == 1
    assert values(drain(http, emu)) == [(DEVICE, "/3303/0/5700", "30")]


def test_subscriptions_belong_to_their_key(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    pull(http, emu, key="ak_second")
    emu.register_device(DEVICE, resources=SENSOR)
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0", key="ak_second").status == 200
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0"), 404, "not_found")
    assert emu.set_resource(DEVICE, "/3/0/0", "v") == 1
    assert "notifications" not in pull(http, emu)
    assert values(pull(http, emu, key="ak_second")) == [(DEVICE, "/3/0/0", "v")]


# ---------------------------------------------------------------------- per device


def test_endpoint_subscriptions_get_and_delete(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}"), 404, "not_found")  # unknown
    emu.register_device(DEVICE, resources=SENSOR)
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}"), 404, "not_found")  # none
    assert put_rules(http, emu, [{"resource-path": ["/3303/0/5700"]}]).status == 204
    emu.update_registration(DEVICE)
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0").status == 200
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}").data == b"/3/0/0\n/3303/0/5700"
    response = call(http, emu, "DELETE", f"{SUBSCRIPTIONS}/{DEVICE}")
    assert (response.status, response.data) == (204, b"")
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}"), 404, "not_found")
    assert emu.set_resource(DEVICE, "/3303/0/5700", 1) == 0  # the rule's subscription went too
    assert call(http, emu, "DELETE", f"{SUBSCRIPTIONS}/nobody").status == 204  # documented: 204
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}", key=None), 401, "unauthorized")


# ---------------------------------------------------------------------- per resource


def test_resource_subscription_statuses(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    path = f"{SUBSCRIPTIONS}/{DEVICE}/3303/0/5700"
    assert_error(call(http, emu, "PUT", path), 404, "not_found")  # unknown device
    assert_error(call(http, emu, "GET", path), 404, "not_found")
    emu.register_device(DEVICE, ept="Sensor", resources=SENSOR)
    assert_error(call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/9/9/9"), 404, "not_found")
    assert_error(call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3303/*"), 400, "bad_request")
    assert_error(call(http, emu, "GET", path), 404, "not_found")  # not subscribed
    response = call(http, emu, "PUT", path)
    assert (response.status, response.data) == (200, b"")
    assert call(http, emu, "PUT", path).status == 200  # again: still 200
    assert (call(http, emu, "GET", path).status, call(http, emu, "GET", path).data) == (200, b"")
    assert emu.set_resource(DEVICE, "/3303/0/5700", 23) == 1
    response = call(http, emu, "DELETE", path)
    assert (response.status, response.data) == (204, b"")
    assert_error(call(http, emu, "GET", path), 404, "not_found")
    assert emu.set_resource(DEVICE, "/3303/0/5700", 24) == 0
    assert call(http, emu, "DELETE", path).status == 204  # not subscribed: still 204
    assert call(http, emu, "DELETE", path, key="ak_other").status == 204  # nothing for this key
    assert call(http, emu, "DELETE", f"{SUBSCRIPTIONS}/nobody/3/0/0").status == 204
    assert values(pull(http, emu)) == [(DEVICE, "/3303/0/5700", "23")]


def test_subscribing_to_an_object_covers_its_resources(http: urllib3.PoolManager, emu: Emulator) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources=SENSOR)
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3303").status == 200
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3303/0/5700").status == 200
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}").data == b"/3303"
    assert emu.set_resource(DEVICE, "/3303/0/5700", 1) == 1
    assert emu.set_resource(DEVICE, "/3303/0/5701", "K") == 0  # below, but not observable
    assert values(pull(http, emu)) == [(DEVICE, "/3303/0/5700", "1")]


def test_subscribing_to_a_resource_that_is_not_observable_is_refused_by_the_device(
    http: urllib3.PoolManager, emu: Emulator
) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources=SENSOR)
    response = call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3303/0/5701")
    assert response.status == 202
    async_id = response.json()["async-response-id"]
    assert pull(http, emu)["async-responses"] == [{"id": async_id, "status": 412}]
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3303/0/5701"), 404, "not_found")


def test_offline_devices_502_or_queued_in_queue_mode(
    http: urllib3.PoolManager, emu: Emulator, clock: ManualClock
) -> None:
    pull(http, emu)
    emu.register_device(DEVICE, resources=SENSOR)
    emu.register_device("sleepy", q=True, resources=SENSOR)
    emu.set_online(DEVICE, False)
    emu.set_online("sleepy", False)
    body = assert_error(call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0"), 502, "bad_gateway")
    assert "not connected" in body["message"]
    response = call(http, emu, "PUT", f"{SUBSCRIPTIONS}/sleepy/3/0/0")
    assert response.status == 202
    async_id = response.json()["async-response-id"]
    assert_error(call(http, emu, "GET", f"{SUBSCRIPTIONS}/sleepy/3/0/0"), 404, "not_found")
    for _ in range(19):
        assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/sleepy/3303/0/5700").status == 202
    body = assert_error(call(http, emu, "PUT", f"{SUBSCRIPTIONS}/sleepy/3/0/0"), 429, "too_many_requests")
    assert "queue is full" in body["message"]
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/sleepy/3/0/0", key="ak_other").status == 202
    emu.set_online("sleepy", True)  # the device takes its queue: the subscriptions are made
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/sleepy/3/0/0").status == 200
    answers = pull(http, emu)["async-responses"]
    assert len(answers) == 20
    assert answers[0] == {"id": async_id, "status": 200}


def test_a_resource_path_is_joined_and_decoded_strictly(http: urllib3.PoolManager, emu: Emulator) -> None:
    emu.register_device(DEVICE, resources=SENSOR)
    # Percent-encoded characters of a segment are decoded.
    assert call(http, emu, "PUT", f"{SUBSCRIPTIONS}/{DEVICE}/%33/0/0").status == 200
    assert call(http, emu, "GET", f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0").status == 200
    # An encoded slash, '//', '.' or '..' is no resource path: no such endpoint. (Sent with
    # http.client: urllib3 would remove the dot segments itself.)
    for path in ("3%2F0%2F0", "/3/0/0", "3/./0", "3/../3/0/0", "3/%2E%2E/3/0/0"):
        connection = http_client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
        try:
            connection.request(
                "PUT",
                f"{SUBSCRIPTIONS}/{DEVICE}/{path}",
                headers={"Authorization": f"Bearer {emu.api_key}"},
            )
            response = connection.getresponse()
            assert response.status == 404, path
            assert json.loads(response.read())["message"].startswith("No such endpoint")
        finally:
            connection.close()
    assert emu.requests()[-1]["path"] == f"{SUBSCRIPTIONS}/{DEVICE}/3/%2E%2E/3/0/0"


def test_subscription_endpoints_refuse_bad_credentials(http: urllib3.PoolManager, emu: Emulator) -> None:
    path = f"{SUBSCRIPTIONS}/{DEVICE}/3/0/0"
    for method in ("PUT", "GET", "DELETE"):
        assert_error(call(http, emu, method, path, key=None), 401, "unauthorized")
        # No 403 is documented here: a token that is not an API key is 401.
        assert_error(call(http, emu, method, path, key="token"), 401, "unauthorized")


def test_unknown_method_on_a_templated_route_is_405(http: urllib3.PoolManager, emu: Emulator) -> None:
    response = call(http, emu, "POST", f"{SUBSCRIPTIONS}/{DEVICE}")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, DELETE"


def test_admin_api_drives_devices_and_subscriptions(http: urllib3.PoolManager, emu: Emulator) -> None:
    def admin(name: str, body: dict[str, Any]) -> Any:
        response = http.request("POST", emu.url + "/_emulator/" + name, body=json.dumps(body))
        assert response.status == 200, response.data
        return response.json()

    pull(http, emu)
    assert put_rules(http, emu, [{"endpoint-type": "Sensor"}]).status == 204
    resources = [{"path": "/3303/0/5700", "obs": True, "value": 20}]
    assert admin("register", {"ep": DEVICE, "ept": "Sensor", "resources": resources}) == {"queued": 1}
    assert admin("set-resource", {"ep": DEVICE, "path": "/3303/0/5700", "value": 21}) == {"queued": 1}
    message = pull(http, emu)
    # The registration shows the ResourcesData without the device's value.
    assert message["registrations"][0]["resources"] == [{"path": "/3303/0/5700", "obs": True}]
    assert values(message) == [(DEVICE, "/3303/0/5700", "21")]
    assert admin("reg-update", {"ep": DEVICE, "ept": "Sensor"}) == {"queued": 1}
    assert admin("set-online", {"ep": DEVICE, "online": False}) == {"online": False}
    assert admin("set-resource", {"ep": DEVICE, "path": "/3303/0/5700", "value": 22}) == {"queued": 0}
    assert admin("set-online", {"ep": DEVICE}) == {"online": True}  # reports the change
    assert values(pull(http, emu)) == [(DEVICE, "/3303/0/5700", "22")]
    devices = http.request("GET", emu.url + "/_emulator/devices").json()
    assert devices[0]["resources"]["/3303/0/5700"]["value"] == "22"
    for name, body in [
        ("set-resource", {"ep": "nobody", "path": "/1/0/0", "value": 1}),
        ("set-resource", {"ep": DEVICE, "path": "/1//0", "value": 1}),
        ("set-online", {"ep": DEVICE, "online": "yes"}),
        ("register", {"ep": DEVICE, "resources": [{"path": ""}]}),
        ("register", {"ep": DEVICE, "ept": 5}),
    ]:
        response = http.request("POST", emu.url + "/_emulator/" + name, body=json.dumps(body))
        assert_error(response, 400, "bad_request")
