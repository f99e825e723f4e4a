"""The SDK against the emulator: the channel stories a user goes through, end to end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

import mds
from mds.emulator import Emulator
from servers import Reply, ScriptedServer, wait_until

PULL = "/v2/notification/pull"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(port=0, long_poll_hold=0.5, purge_window=0.5) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[mds.NotificationsApi]:
    with mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key)) as client:
        yield mds.NotificationsApi(client)


@pytest.fixture
def receiver() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        srv.default = Reply(204)
        yield srv


def test_webhook_story(emu: Emulator, api: mds.NotificationsApi,
                       receiver: ScriptedServer) -> None:
    with pytest.raises(mds.NotFoundException):
        api.get_webhook()
    hook = mds.Webhook(receiver.url + "/notify", {"authorization": "hook-secret"})
    api.register_webhook(hook)
    validation = receiver.requests[0]
    assert (validation.method, validation.body) == ("PUT", b"{}")
    assert validation.header("authorization") == "hook-secret"
    assert api.get_webhook() == hook
    emu.notify("dev-7", "/3303/0/5700", 19)
    assert receiver_waits_for(receiver, 2)
    delivery = receiver.requests[1]
    assert delivery.header("authorization") == "hook-secret"
    assert delivery.header("content-type") == "application/json"
    message = mds.NotificationMessage.from_dict(json.loads(delivery.body))
    assert message.notifications[0].decode() == 19
    # another channel type is refused while the webhook exists
    with pytest.raises(mds.BadRequestException):
        api.register_websocket()
    api.deregister_webhook()
    with pytest.raises(mds.NotFoundException):
        api.deregister_webhook()


def receiver_waits_for(receiver: ScriptedServer, count: int, timeout: float = 5.0) -> bool:
    return wait_until(lambda: len(receiver.requests) >= count, timeout)


def test_unreachable_webhook_is_refused(api: mds.NotificationsApi) -> None:
    with pytest.raises(mds.BadRequestException) as info:
        api.register_webhook(mds.Webhook("http://127.0.0.1:9/nowhere"))
    assert info.value.request_id


def test_long_poll_story(emu: Emulator, api: mds.NotificationsApi) -> None:
    started = time.monotonic()
    assert not api.long_poll_notifications()  # creates the channel; 204 after the hold
    assert time.monotonic() - started >= 0.4
    emu.register_device("dev-1", ept="Light")
    emu.notify("dev-1", "/3/0/0", "Acme")
    message, status, _ = api.long_poll_notifications_with_http_info()
    assert status == 200
    assert message.registrations[0].ep == "dev-1"
    assert message.notifications[0].decode() == "Acme"
    # a second poll while one is held: 409
    held = cast(mds.AsyncResult, api.long_poll_notifications(async_req=True))
    assert wait_until(lambda: len(pulls(emu)) == 3)  # the service holds it from then on
    with pytest.raises(mds.ConflictException):
        api.long_poll_notifications()
    assert not held.get(timeout=5)
    assert api.delete_long_poll_channel() == "REMOVED"
    with pytest.raises(mds.GoneException):
        api.long_poll_notifications()


def pulls(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] == "GET" and r["path"] == PULL]


def test_websocket_channel_story(emu: Emulator, api: mds.NotificationsApi) -> None:
    with pytest.raises(mds.NotFoundException):
        api.get_websocket()
    _, status, _ = api.register_websocket_with_http_info()
    assert status == 201
    _, status, _ = api.register_websocket_with_http_info()
    assert status == 200
    emu.notify("dev-2", "/3303/0/5700", 1)
    emu.notify("dev-2", "/3303/0/5700", 2)
    channel = api.get_websocket()
    assert (channel.status, channel.queue_size) == ("disconnected", 2)
    with pytest.raises(mds.BadRequestException):
        api.long_poll_notifications()
    api.delete_websocket()
    with pytest.raises(mds.NotFoundException):
        api.delete_websocket()


@pytest.mark.parametrize(("key", "exc"), [("ak_unknown", mds.UnauthorizedException),
                                          ("not-an-api-key", mds.ForbiddenException)])
def test_bad_keys(key: str, exc: type[mds.ApiException]) -> None:
    with Emulator(port=0, api_keys=["ak_good"]) as emu:
        with mds.ApiClient(mds.Configuration(host=emu.url, api_key=key)) as client:
            with pytest.raises(exc) as info:
                mds.NotificationsApi(client).get_websocket()
    assert info.value.request_id
    assert key not in str(info.value)


def test_keys_are_isolated_and_concurrent(emu: Emulator) -> None:
    keys = [f"ak_tenant_{i}" for i in range(4)]
    results: dict[str, list[bytes]] = {}

    def tenant(key: str) -> None:
        with mds.ApiClient(mds.Configuration(host=emu.url, api_key=key)) as client:
            api = mds.NotificationsApi(client)
            api.register_websocket()
            emu.notify("dev", "/1/0/1", key, api_key=key)
            with api.connect_websocket() as ws:
                results[key] = [n.payload_bytes for n in ws.recv(timeout=5).notifications]

    threads = [threading.Thread(target=tenant, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {k: [k.encode()] for k in keys}


def test_retry_after_from_the_emulator(emu: Emulator, api: mds.NotificationsApi) -> None:
    emu.add_fault(endpoint="GET /v2/notification/websocket", status=503,
                  headers={"Retry-After": "1"}, count=1)
    api.register_websocket()
    started = time.monotonic()
    assert api.get_websocket().status == "disconnected"
    assert time.monotonic() - started >= 0.9
    emu.add_fault(endpoint="GET /v2/notification/websocket", status=503, count=5)
    with mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key,
                                         retries=False)) as client:
        with pytest.raises(mds.ServiceException):
            mds.NotificationsApi(client).get_websocket()
