"""EndpointsApi over a real socket: the request, the statuses the service documents, and the
emulator listing a device's resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import mds
from conftest import API_KEY
from mds.emulator import Emulator
from servers import ScriptedServer

DEVICE = "015f3850a657000000000001001002ab"
PATH = f"/v2/endpoints/{DEVICE}"
LISTED: list[dict[str, Any]] = [
    {"uri": "/3303/0/5700", "obs": True, "type": "text/plain", "rt": "temperature"},
    {"uri": "/3/0/0", "obs": "false"},
]


@pytest.fixture
def endpoints(server: ScriptedServer) -> Iterator[mds.EndpointsApi]:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, retries=False)
    with mds.ApiClient(cfg) as client:
        yield mds.EndpointsApi(client)


def test_get_endpoint_resources(server: ScriptedServer, endpoints: mds.EndpointsApi) -> None:
    server.reply("GET", PATH, 200, LISTED, {"X-Request-Id": "rid"}, times=2)
    resources = endpoints.get_endpoint_resources(DEVICE)
    assert resources == [
        mds.EndpointResource("/3303/0/5700", True, "text/plain", "temperature"),
        mds.EndpointResource("/3/0/0", obs=False),
    ]
    assert all(isinstance(r, mds.models.Resource) for r in resources)
    assert resources[1].obs is False  # the service's "false" reads as a bool
    [req] = server.requests
    assert (req.method, req.path) == ("GET", PATH)
    assert req.header("Accept") == "application/json"
    assert req.header("Authorization") == f"Bearer {API_KEY}"
    assert req.body == b""
    data, status, headers = endpoints.get_endpoint_resources_with_http_info(DEVICE)
    assert (data, status, headers["x-request-id"]) == (resources, 200, "rid")


def test_an_empty_answer_is_an_empty_list(server: ScriptedServer,
                                          endpoints: mds.EndpointsApi) -> None:
    server.reply("GET", PATH, 200, [])
    server.reply("GET", PATH, 200, b"")
    assert endpoints.get_endpoint_resources(DEVICE) == []
    assert endpoints.get_endpoint_resources(DEVICE) == []


def test_call_api_reads_json_arrays_too(server: ScriptedServer,
                                        endpoints: mds.EndpointsApi) -> None:
    server.reply("GET", PATH, 200, LISTED, times=2)
    client = endpoints.api_client
    as_json = client.call_api(PATH, "GET", response_type="list[object]",
                              _return_http_data_only=True)
    assert as_json == LISTED
    as_models = client.call_api(PATH, "GET", response_type="list[Resource]",
                                _return_http_data_only=True)
    assert as_models == [mds.EndpointResource.from_dict(r) for r in LISTED]


def test_unknown_device_is_not_found(server: ScriptedServer,
                                     endpoints: mds.EndpointsApi) -> None:
    server.reply("GET", PATH, 404, {"code": 404, "message": "Endpoint not found."})
    with pytest.raises(mds.NotFoundException) as info:
        endpoints.get_endpoint_resources(DEVICE)
    assert info.value.message == "Endpoint not found."


@pytest.mark.parametrize("body", [{"uri": "/1"}, [1, 2], "not json", [{"uri": "/1"}, "x"]])
def test_a_body_of_the_wrong_shape_is_a_response_error(server: ScriptedServer,
                                                       endpoints: mds.EndpointsApi,
                                                       body: object) -> None:
    headers = {"Content-Type": "application/json"}
    server.reply("GET", PATH, 200, body if not isinstance(body, str) else body.encode(), headers)
    with pytest.raises(mds.ApiResponseError) as info:
        endpoints.get_endpoint_resources(DEVICE)
    assert info.value.status == 200


@pytest.mark.parametrize("device", ["", "a/b", "a?b", "..", "a b", "a\r\n"])
def test_bad_device_ids_are_refused(server: ScriptedServer, endpoints: mds.EndpointsApi,
                                    device: str) -> None:
    with pytest.raises(mds.ApiValueError):
        endpoints.get_endpoint_resources(device)
    assert server.requests == []


def test_async_req(server: ScriptedServer, endpoints: mds.EndpointsApi) -> None:
    server.reply("GET", PATH, 200, LISTED)
    result = endpoints.get_endpoint_resources(DEVICE, asynchronous=True)
    assert [r.uri for r in result.get(timeout=5)] == ["/3303/0/5700", "/3/0/0"]


def test_emulator_lists_the_registered_resources(mds_emulator: Emulator,
                                                 mds_client: mds.ApiClient) -> None:
    mds_emulator.register_device("dev-1", resources=[
        {"path": "/3303/0/5700", "ct": "text/plain", "obs": True, "rt": "temperature"},
        {"path": "/3/0/0", "obs": False},
    ])
    mds_emulator.set_online("dev-1", False)  # the call does not reach the device
    endpoints = mds.EndpointsApi(mds_client)
    listed = endpoints.get_endpoint_resources("dev-1")
    assert [(r.uri, r.obs, r.rt) for r in listed] == [
        ("/3303/0/5700", True, "temperature"), ("/3/0/0", False, None)]
    with pytest.raises(mds.NotFoundException):
        endpoints.get_endpoint_resources("nobody")
