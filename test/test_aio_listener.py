"""mds.aio.NotificationListener against the emulator: events and batches on both channels, the
close codes, takeovers, stop(), cancellation at every await point (connecting, receiving, backing
off, a request waiting, a long poll held) with nothing lost and nothing left behind (no task,
thread or socket), awaitable device requests from many tasks, dedupe and checkpoint, TLS,
proxy and redaction, and that ``import mds`` loads none of it."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from test_websocket import ws_server
from websockets.sync.server import ServerConnection

import mds
import mds.aio
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.events import AsyncResponse, Event, ResourceChanged
from mds.listener import ReconnectPolicy
from servers import ProxyServer, wait_until

T = TypeVar("T")

FAST = ReconnectPolicy(initial_delay=0.02, max_delay=0.2, takeover_delay=0.2,
                       takeover_max_delay=2.0)
PATH = "/3303/0/5700"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The emulator with the test timings, and a long poll held 0.3 s (a poll under way when
    a listener closes ends on the emulator's side only when its hold ends)."""
    with Emulator(host="127.0.0.1", port=0, **{**TEST_TIMINGS, "long_poll_hold": 0.3}) as emulator:
        yield emulator


def client_for(emu: Emulator, **options: Any) -> mds.ApiClient:
    return mds.ApiClient(mds.Configuration(host=emu.url, api_key=emu.api_key, **options))


def sockets() -> int:
    """Sockets this process has open (both ends, the emulator's included), once garbage is
    collected: an exception kept in a reference cycle holds the connection of the request
    that failed (urllib3 closes a pool's connections when it is collected), which is garbage,
    not a leak."""
    gc.collect()
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass  # closed meanwhile
    return count


def aio_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mds-aio")]


def run(emu: Emulator, test: Callable[[mds.ApiClient], Awaitable[T]], timeout: float = 20.0,
        **options: Any) -> T:
    """Run *test* with a client of *emu* in a fresh event loop; afterwards nothing of the
    listener may be left: no task but the test's own, no worker thread, no socket more than
    before the client was made."""
    before = sockets()

    async def main() -> T:
        with client_for(emu, **options) as client:
            result = await asyncio.wait_for(test(client), timeout)
        assert asyncio.all_tasks() == {asyncio.current_task()}, asyncio.all_tasks()
        return result

    result = asyncio.run(main())
    assert wait_until(lambda: not aio_threads()), aio_threads()
    assert wait_until(lambda: sockets() <= before), (sockets(), before)
    return result


async def take(listener: mds.aio.NotificationListener, count: int) -> list[Event]:
    events: list[Event] = []
    async for event in listener:
        events.append(event)
        if len(events) == count:
            break
    return events


def values(events: Iterable[Any]) -> list[Any]:
    return [event.value for event in events]


def queue(emu: Emulator, *numbers: int, ep: str = "d", uids: bool = False) -> None:
    """One batch of notifications with these values (and uids ``u<value>``)."""
    emu.queue_message({"notifications": [
        {"ep": ep, "path": PATH, "ct": "text/plain",
         "payload": base64.b64encode(str(n).encode()).decode(),
         **({"uid": f"u{n}"} if uids else {})} for n in numbers]})


# -- events, batches, stats ------------------------------------------------------------------

def test_events_in_wire_order_with_stats(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=FAST) as listener:
            queue(emu, 1, 2, 3)
            queue(emu, 4)
            events = await take(listener, 4)
            assert all(isinstance(e, ResourceChanged) for e in events)
            assert "open" in repr(listener)
            assert emu.api_key not in repr(listener)
            return values(events), listener.stats, repr(listener)

    got, stats, _ = run(emu, test)
    assert got == [1, 2, 3, 4]
    assert (stats.channel, stats.events, stats.connected) == ("websocket", 4, True)
    assert stats.messages in (1, 2)  # the emulator may merge the two batches


def test_messages_yields_whole_batches(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> list[int]:
        async with mds.aio.NotificationListener(client) as listener:
            queue(emu, 1, 2, 3)
            async for message in listener.messages():
                assert isinstance(message, mds.NotificationMessage)
                return values(message.events())
        raise AssertionError("no batch")

    assert run(emu, test) == [1, 2, 3]


def test_long_poll_events_and_requests(emu: Emulator) -> None:
    emu.register_device("dev", resources={PATH: 21.5})

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, "long-poll") as listener:
            value = await listener.read("dev", PATH, timeout=10)  # waits for the channel
            queue(emu, 1, 2)
            return value, values(await take(listener, 2)), listener.stats.channel

    assert run(emu, test) == (21.5, [1, 2], "long-poll")


def test_the_channel_is_registered_with_uid_and_timestamp(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> Event:
        async with mds.aio.NotificationListener(client) as listener:
            emu.notify("d", PATH, 5)
            (event,) = await take(listener, 1)
            return event

    event = run(emu, test)
    assert event.uid  # type: ignore[attr-defined]
    assert event.timestamp  # type: ignore[attr-defined]


# -- close codes and takeovers -----------------------------------------------------------------

@pytest.mark.parametrize(("fault", "registers"), [
    ({"websocket": "close", "code": 1001, "reason": "server shutting down"}, True),
    ({"websocket": "close", "code": 1012, "reason": "service restart"}, False),
    ({"websocket": "drop"}, False),
])
def test_the_close_codes_that_reconnect(emu: Emulator, fault: dict[str, Any],
                                        registers: bool) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=FAST) as listener:
            emu.notify("d", PATH, 1)
            first = await take(listener, 1)
            emu.add_fault(**fault)
            emu.notify("d", PATH, 2)
            second = await take(listener, 1)
            return values(first + second), listener.stats

    got, stats = run(emu, test)
    assert got == [1, 2]
    assert stats.reconnects == 1
    assert stats.last_close_code == fault.get("code", 1006)
    puts = [r for r in emu.requests()
            if r["method"] == "PUT" and r["path"] == "/v2/notification/websocket"]
    assert len(puts) == (2 if registers else 1)


def test_close_1000_ends_iteration_cleanly(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client) as listener:
            emu.notify("d", PATH, 1)
            got = await take(listener, 1)
            await asyncio.to_thread(mds.NotificationsApi(client).delete_websocket)
            got += [event async for event in listener]
            return values(got), listener.stopped, listener.stats.last_close_code

    assert run(emu, test) == ([1], True, 1000)


def test_close_1008_raises_unauthorized_without_the_key(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> str:
        async with mds.aio.NotificationListener(client, reconnect=FAST) as listener:
            emu.add_fault(websocket="close", code=1008, reason="API key invalid")
            with pytest.raises(mds.UnauthorizedException) as info:
                await take(listener, 1)
            return str(info.value)

    text = run(emu, test)
    assert "1008" in text
    assert emu.api_key not in text


def test_a_refused_key_raises_when_entering() -> None:
    with Emulator(api_keys=["ak_good"], port=0) as emu:
        async def test(client: mds.ApiClient) -> None:
            listener = mds.aio.NotificationListener(client)
            with pytest.raises(mds.UnauthorizedException):
                async with listener:
                    pass
            assert "closed" in repr(listener)
            with pytest.raises(mds.ClientClosedError):
                await listener.open()

        before = sockets()
        with mds.ApiClient(mds.Configuration(host=emu.url, api_key="ak_wrong")) as bad:
            asyncio.run(test(bad))
        assert wait_until(lambda: sockets() <= before and not aio_threads())


def test_takeovers_past_the_limit_raise_channel_taken_over(emu: Emulator) -> None:
    policy = ReconnectPolicy(takeover_delay=0.01, max_takeovers=0)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=policy) as listener:
            other = await asyncio.to_thread(mds.NotificationsApi(client).connect_websocket)
            try:
                with pytest.raises(mds.ChannelTakenOverError) as info:
                    await take(listener, 1)
            finally:
                other.close()
            return info.value, listener.stats.takeovers

    error, takeovers = run(emu, test)
    assert (error.channel, takeovers) == ("websocket", 1)
    assert emu.api_key not in str(error)


def test_two_listeners_on_one_key_take_turns_then_give_up(emu: Emulator) -> None:
    policy = ReconnectPolicy(takeover_delay=0.05, takeover_max_delay=0.1, max_takeovers=2)

    async def test(client: mds.ApiClient) -> Any:
        listeners = [mds.aio.NotificationListener(client, reconnect=policy) for _ in range(2)]

        async def consume(listener: mds.aio.NotificationListener) -> list[Event]:
            async with listener:
                return await take(listener, 1000)

        tasks = [asyncio.ensure_future(consume(listener)) for listener in listeners]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for listener in listeners:
            await listener.stop()  # the one left holding the channel ends its iteration
        await asyncio.wait(pending)
        return [task.exception() for task in tasks], [x.stats.takeovers for x in listeners]

    errors, takeovers = run(emu, test)
    assert any(isinstance(error, mds.ChannelTakenOverError) for error in errors)
    assert max(takeovers) == 3


# -- stop ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", ["websocket", "long-poll"])
def test_stop_from_another_task_ends_iteration_at_once(emu: Emulator,
                                                       channel: str) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, channel) as listener:
            emu.register_device("dev", resources={PATH: 1})
            await listener.read("dev", PATH, timeout=10)  # the long poll's channel exists
            queue(emu, 1, 2)
            got = await take(listener, 1)  # the second stays buffered
            iterating = asyncio.ensure_future(take(listener, 100))
            await asyncio.sleep(0.05)  # held in a poll / waiting on the socket
            started = time.monotonic()
            await listener.stop()
            got += await iterating
            took = time.monotonic() - started
            with pytest.raises(mds.ClientClosedError):
                await listener.read("dev", PATH)
            return [e.value for e in got if isinstance(e, ResourceChanged)], took

    got, took = run(emu, test)
    assert got == [1, 2]
    assert took < 0.5


# -- cancellation at every await point -----------------------------------------------------------

def test_cancelled_while_connecting_leaves_nothing(emu: Emulator) -> None:
    emu.add_fault(endpoint="PUT /v2/notification/websocket", delay=1.0, count=1)

    async def test(client: mds.ApiClient) -> mds.aio.NotificationListener:
        listener = mds.aio.NotificationListener(client)

        async def enter() -> None:
            async with listener:
                raise AssertionError("opened")

        task = asyncio.ensure_future(enter())
        await asyncio.sleep(0.2)  # registering
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1.0
        return listener

    assert "closed" in repr(run(emu, test))


def test_a_lazy_open_cancelled_goes_on_for_the_next_async_for(emu: Emulator) -> None:
    emu.add_fault(endpoint="PUT /v2/notification/websocket", delay=0.5, count=1)

    async def test(client: mds.ApiClient) -> list[Any]:
        listener = mds.aio.NotificationListener(client)
        try:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(take(listener, 1), 0.1)  # cancelled while opening
            assert "new" in repr(listener)
            await listener.open()  # the same opening, still under way
            emu.notify("d", PATH, 7)
            return values(await take(listener, 1))
        finally:
            await listener.close()

    assert run(emu, test) == [7]


@pytest.mark.parametrize("channel", ["websocket", "long-poll"])
def test_cancelled_while_receiving_loses_nothing(emu: Emulator, channel: str) -> None:
    """A consumer whose every wait is cut short (wait_for with a tiny timeout cancels it at
    whatever await it is) still gets every event, in order, exactly once."""
    total = 300

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, channel, reconnect=FAST) as listener:
            emu.register_device("dev", resources={PATH: 0})
            await listener.read("dev", PATH, timeout=10)

            async def produce() -> None:
                for start in range(0, total, 10):
                    queue(emu, *range(start, start + 10))
                    await asyncio.sleep(0.002)

            producer = asyncio.ensure_future(produce())
            got: list[int] = []
            cancelled = 0
            while len(got) < total:
                try:
                    event = await asyncio.wait_for(listener.__anext__(), 0.001)
                except asyncio.TimeoutError:
                    cancelled += 1
                    continue
                if isinstance(event, ResourceChanged):
                    got.append(event.value)
            await producer
            return got, cancelled

    got, cancelled = run(emu, test, timeout=30)
    assert got == list(range(total))
    assert cancelled > 0


def test_cancelled_while_backing_off_loses_nothing(emu: Emulator) -> None:
    policy = ReconnectPolicy(initial_delay=0.3, max_delay=0.3, jitter=False)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=policy) as listener:
            emu.notify("d", PATH, 1)
            got = await take(listener, 1)
            emu.add_fault(websocket="close", code=1012, reason="service restart")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(take(listener, 1), 0.1)  # cancelled in the back-off
            assert listener.stats.last_close_code == 1012
            assert not listener.stats.connected
            emu.notify("d", PATH, 2)  # queued while nobody is connected
            got += await take(listener, 1)
            return values(got), listener.stats.reconnects

    assert run(emu, test) == ([1, 2], 1)


def test_cancelled_request_leaves_its_late_answer_to_iteration(emu: Emulator) -> None:
    emu.register_device("slow", resources={PATH: 3.5})
    emu.set_latency("slow", 0.3)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client) as listener:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(listener.read("slow", PATH), 0.1)
            late = (await take(listener, 1))[0]
            fresh = await listener.read("slow", PATH, timeout=5)
            return late, fresh

    late, fresh = run(emu, test)
    assert isinstance(late, AsyncResponse)
    assert late.value == 3.5
    assert fresh == 3.5


def test_cancelled_during_a_held_long_poll_loses_nothing(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> list[Any]:
        async with mds.aio.NotificationListener(client, "long-poll") as listener:
            emu.register_device("dev", resources={PATH: 0})
            await listener.read("dev", PATH, timeout=10)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(take(listener, 1), 0.2)  # the poll is held
            queue(emu, 1, 2)
            return values(await take(listener, 2))

    assert run(emu, test) == [1, 2]


# -- awaitable requests --------------------------------------------------------------------------

def test_1000_reads_from_100_tasks_while_another_task_iterates(emu: Emulator) -> None:
    for device in range(100):
        emu.register_device(f"dev{device}", resources={PATH: device})

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client) as listener:
            seen: list[Event] = []

            async def iterate() -> None:
                async for event in listener:
                    seen.append(event)

            async def reader(device: int) -> list[Any]:
                return [await listener.read(f"dev{device}", PATH, timeout=30)
                        for _ in range(10)]

            iterating = asyncio.ensure_future(iterate())
            results = await asyncio.gather(*(reader(d) for d in range(100)))
            emu.notify("after", PATH, 1)
            while not any(getattr(e, "device_id", "") == "after" for e in seen):
                await asyncio.sleep(0.01)
            await listener.stop()
            await iterating
            return results, seen

    results, seen = run(emu, test, timeout=60)
    assert results == [[device] * 10 for device in range(100)]
    assert not [e for e in seen if isinstance(e, AsyncResponse)]  # answers go to requests


def test_request_errors_are_typed(emu: Emulator) -> None:
    emu.register_device("dev", resources={PATH: 1})
    emu.register_device("slow", resources={PATH: 1})
    emu.set_latency("slow", 0.5)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client) as listener:
            with pytest.raises(mds.NotFoundException, match="URI_PATH_DOES_NOT_EXISTS"):
                await listener.read("dev", "/9/9/9", timeout=5)
            emu.on_execute("dev", PATH, "busy", status=503)
            with pytest.raises(mds.AsyncResponseError) as refused:
                await listener.execute("dev", PATH, timeout=5)
            with pytest.raises(mds.ApiTimeoutError):
                await listener.read("slow", PATH, timeout=0.2)
            with pytest.raises(mds.ApiValueError):
                await listener.request("dev", PATH, "PATCH")
            written = await listener.write("dev", PATH, 22.5)
            return refused.value.status, refused.value.response.value, written.status

    assert run(emu, test) == (503, "busy", 200)


# -- dedupe and checkpoint -----------------------------------------------------------------------

def test_repeats_are_dropped_and_a_restart_skips_what_was_finished(emu: Emulator,
                                                                    tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite")

    async def first(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                serialization=None) as listener:
            queue(emu, 1, 2, uids=True)
            queue(emu, 1, 2, 3, uids=True)  # 1 and 2 again
            got = await take(listener, 3)
            assert listener.stats.duplicates_dropped == listener.duplicates_dropped
            return values(got), listener.duplicates_dropped

    async def second(client: mds.ApiClient) -> list[Any]:
        async with mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                serialization=None) as listener:
            queue(emu, 2, 3, 4, uids=True)  # finished before: 2, 3
            return values(await take(listener, 1))

    assert run(emu, first) == ([1, 2, 3], 2)
    assert run(emu, second) == [4]


def test_a_batch_being_admitted_survives_cancellation(emu: Emulator,
                                                      tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite")

    async def test(client: mds.ApiClient) -> list[Any]:
        async with mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                serialization=None) as listener:
            got: list[int] = []
            for start in range(0, 100, 5):
                queue(emu, *range(start, start + 5), uids=True)
            while len(got) < 100:
                try:
                    event = await asyncio.wait_for(listener.__anext__(), 0.0005)
                except asyncio.TimeoutError:
                    continue
                got.append(event.value)  # type: ignore[attr-defined]
            return got

    assert run(emu, test) == list(range(100))


def test_bad_gate_options_are_refused(emu: Emulator) -> None:
    with client_for(emu) as client:
        with pytest.raises(mds.ApiValueError):
            mds.aio.NotificationListener(client, dedupe_window=0)
        with pytest.raises(mds.ApiTypeError):
            mds.aio.NotificationListener(client, checkpoint=42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="long-poll"):
            mds.aio.NotificationListener(client, "carrier-pigeon")


# -- TLS, proxy, redaction -----------------------------------------------------------------------

def test_wss_with_the_right_ca_and_refused_without(ca: trustme.CA, ca_bundle: str) -> None:
    from mds.aio._websocket import open_websocket

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"registrations": [{"ep": "tls-dev"}]}))
        conn.close(1000)

    async def connect(client: mds.ApiClient) -> str:
        ws = await open_websocket(client)
        try:
            return json.loads(await ws.recv())["registrations"][0]["ep"]  # type: ignore[no-any-return]
        finally:
            await ws.close()

    with ws_server(handler, tls=context) as url:
        with mds.ApiClient(mds.Configuration(host=url, api_key="ak_x",
                                             ssl_ca_cert=ca_bundle)) as client:
            assert asyncio.run(connect(client)) == "tls-dev"
        with mds.ApiClient(mds.Configuration(host=url, api_key="ak_x")) as client:
            with pytest.raises(mds.ApiTLSError):
                asyncio.run(connect(client))


def test_websocket_through_a_proxy(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> list[Any]:
        async with mds.aio.NotificationListener(client) as listener:
            emu.notify("proxied", PATH, 1)
            return values(await take(listener, 1))

    with ProxyServer() as proxy:
        assert run(emu, test, proxy=proxy.url) == [1]
    port = emu.url.rsplit(":", 1)[1]
    assert f"CONNECT 127.0.0.1:{port}" in proxy.seen


def test_logs_carry_no_secret(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def test(client: mds.ApiClient) -> None:
        async with mds.aio.NotificationListener(client, subprotocol_auth=True) as listener:
            emu.notify("d", PATH, 1)
            await take(listener, 1)

    run(emu, test)
    assert "> GET" in caplog.text, "websockets' handshake log is passed on"
    assert emu.api_key not in caplog.text
    assert "[secure]" in caplog.text


def test_connection_failures_are_typed() -> None:
    from mds.aio._websocket import open_websocket

    async def connect(host: str, **options: Any) -> None:
        with mds.ApiClient(mds.Configuration(host=host, api_key="ak_x")) as client:
            await open_websocket(client, **options)

    with pytest.raises(mds.ApiConnectionError):
        asyncio.run(connect("http://127.0.0.1:9"))
    with pytest.raises(mds.ApiValueError):
        asyncio.run(connect("ftp://127.0.0.1:9"))


# -- import ------------------------------------------------------------------------------------

def test_import_mds_loads_nothing_of_the_asyncio_face() -> None:
    code = ("import sys, mds; mds.NotificationListener; mds.WebhookReceiver; "
            "print(sorted(m for m in sys.modules if m.startswith(('mds.aio', "
            "'websockets.asyncio'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"
    assert mds.aio.__all__ == ["NotificationListener", "WebhookReceiver"]


# -- the rest of the surface -------------------------------------------------------------------

def test_keywords_read_back_and_stop_or_close_before_opening(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> None:
        listener = mds.aio.NotificationListener(
            client, register=False, ping_interval=5.0, ping_timeout=6.0, subprotocol_auth=True,
            connect_timeout=7.0, close_timeout=0.25)
        assert (listener.register, listener.ping_interval, listener.ping_timeout,
                listener.subprotocol_auth, listener.connect_timeout, listener.close_timeout) == (
            False, 5.0, 6.0, True, 7.0, 0.25)
        assert listener.close_code_policy[1000] is mds.listener.Action.STOP
        assert "new" in repr(listener)
        assert (listener.stopped, listener.duplicates_dropped) == (False, 0)
        await listener.stop()
        assert listener.stopped
        assert "stopped" in repr(listener)
        await listener.close()
        await listener.close()
        assert "closed" in repr(listener)
        with pytest.raises(mds.ClientClosedError):
            await listener.read("d", PATH)

    run(emu, test)


def test_subscribe_rules_are_set_and_the_channel_deleted_on_close(emu: Emulator) -> None:
    rules = [{"endpoint-name": "dev*", "resource-path": ["/3303/*"]}]

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, subscribe=rules,
                                                delete_channel_on_close=True):
            pass
        api = mds.NotificationsApi(client)
        with pytest.raises(mds.NotFoundException):
            await asyncio.to_thread(api.get_websocket)
        return await asyncio.to_thread(mds.SubscriptionsApi(client).get_pre_subscriptions)

    got = run(emu, test)
    assert [r.endpoint_name for r in got] == ["dev*"]


def test_messages_leave_out_repeats_and_refuse_while_events_are_buffered(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, serialization=None) as listener:
            queue(emu, 1, 2, uids=True)
            queue(emu, 2, 3, uids=True)
            batches = []
            async for message in listener.messages():
                batches.append(values(message.events()))
                if sum(map(len, batches)) == 3:
                    break
            queue(emu, 3, 4, 5, uids=True)
            first = await take(listener, 1)
            with pytest.raises(RuntimeError, match="buffered"):
                async for _ in listener.messages():
                    pass
            return batches, values(first), listener.duplicates_dropped

    batches, first, dropped = run(emu, test)
    assert [v for b in batches for v in b] == [1, 2, 3]
    assert first == [4]
    assert dropped == 2


def test_a_request_before_the_long_poll_channel_exists_times_out_unsent(emu: Emulator) -> None:
    emu.register_device("dev", resources={PATH: 1})

    async def test(client: mds.ApiClient) -> str:
        async with mds.aio.NotificationListener(client, "long-poll") as listener:
            with pytest.raises(mds.ApiTimeoutError) as info:
                await listener.read("dev", PATH, timeout=0.05)
            return str(info.value)

    assert "nothing was sent" in run(emu, test)


@pytest.mark.parametrize("channel", ["websocket", "long-poll"])
def test_a_channel_of_another_type_is_named_or_replaced(emu: Emulator, channel: str) -> None:
    other = "long-poll" if channel == "websocket" else "websocket"

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, other, reconnect=FAST) as first:
            if other == "long-poll":
                emu.register_device("dev", resources={PATH: 1})
                await first.read("dev", PATH, timeout=10)  # the long poll's channel exists
        with pytest.raises(mds.ChannelConflictError) as info:
            async with mds.aio.NotificationListener(client, channel):
                pass
        async with mds.aio.NotificationListener(client, channel, replace_existing=True) as it:
            if channel == "long-poll":
                emu.register_device("dev", resources={PATH: 1})
                await it.read("dev", PATH, timeout=10)  # the long poll's channel exists
            emu.notify("d", PATH, 9)
            got = await take(it, 1)
        return info.value.channel, values(got)

    assert run(emu, test) == (other, [9])


def test_failed_connections_back_off_then_give_up(emu: Emulator) -> None:
    emu.add_fault(endpoint="GET /v2/notification/websocket-connect", status=503, count=2)
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_failures=3)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=policy) as listener:
            emu.notify("d", PATH, 1)
            got = values(await take(listener, 1))
            emu.add_fault(endpoint="GET /v2/notification/websocket-connect", status=401,
                          count=1)
            emu.add_fault(websocket="drop")
            with pytest.raises(mds.UnauthorizedException):
                await take(listener, 1)
            return got, listener.stats.failures

    got, failures = run(emu, test)
    assert got == [1]
    assert failures >= 2


def test_bad_frames_are_skipped_and_a_close_code_can_raise() -> None:
    def handler(conn: ServerConnection) -> None:
        conn.send("not json")
        conn.send(json.dumps({"notifications": [{"ep": "ok", "path": PATH,
                                                 "payload": "MQ=="}]}))
        conn.recv()  # until the client has read the frames
        conn.close(4001, "go away")

    policy = {**mds.listener.DEFAULT_CLOSE_CODE_POLICY, 4001: mds.listener.Action.RAISE}

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, register=False,
                                                close_code_policy=policy) as listener:
            (event,) = await take(listener, 1)
            ws = listener._source._conn  # type: ignore[union-attr]
            await ws.send("read")
            with pytest.raises(mds.WebsocketClosedError) as info:
                await take(listener, 1)
            return event.device_id, listener.stats.bad_frames, info.value.code  # type: ignore[attr-defined]

    with ws_server(handler) as url:
        with mds.ApiClient(mds.Configuration(host=url, api_key="ak_x")) as client:
            assert asyncio.run(test(client)) == ("ok", 1, 4001)


def test_a_1001_the_service_cannot_explain_asks_who_holds_the_channel(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, reconnect=FAST) as listener:
            emu.add_fault(websocket="close", code=1001, reason="")
            emu.notify("d", PATH, 1)
            got = await take(listener, 1)
            return values(got), listener.stats.takeovers, listener.stats.reconnects

    assert run(emu, test) == ([1], 0, 1)


def test_open_websocket_refuses_what_it_cannot_use(emu: Emulator) -> None:
    from mds.aio._websocket import open_websocket

    async def test() -> None:
        client = mds.ApiClient(mds.Configuration(host=emu.url))
        with pytest.raises(mds.ApiValueError, match="subprotocol_auth"):
            await open_websocket(client, subprotocol_auth=True)
        client.close()
        with pytest.raises(mds.ClientClosedError):
            await open_websocket(client)

    asyncio.run(test())


def test_stop_gives_up_a_handshake_that_hangs() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers a handshake

    async def test(client: mds.ApiClient) -> Any:
        listener = mds.aio.NotificationListener(client, register=False, connect_timeout=30)
        opening = asyncio.ensure_future(listener.open())
        await asyncio.sleep(0.2)  # the handshake is under way
        started = time.monotonic()
        await listener.stop()
        await opening
        events = [event async for event in listener]
        await listener.close()
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return events, time.monotonic() - started

    host = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        with mds.ApiClient(mds.Configuration(host=host, api_key="ak_x")) as client:
            events, took = asyncio.run(test(client))
    finally:
        silent.close()
    assert events == []
    assert took < 1.0


def test_the_registry_is_fed_and_stop_ends_a_waiting_request(emu: Emulator) -> None:
    registry = mds.AsyncResponses()
    emu.register_device("slow", resources={PATH: 1})
    emu.set_latency("slow", 0.5)

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, async_responses=registry) as listener:
            emu.async_response("sent-by-hand", value=5)
            iterating = asyncio.ensure_future(take(listener, 1))
            answer = await asyncio.to_thread(registry.wait, "sent-by-hand", 5)
            waiting = asyncio.ensure_future(listener.read("slow", PATH, timeout=10))
            await asyncio.sleep(0.1)  # sent; the device answers in 0.5 s
            await listener.stop()
            with pytest.raises(mds.ClientClosedError, match="stopped before the answer"):
                await waiting
            return answer.value, [type(e).__name__ for e in await iterating]

    assert run(emu, test) == (5, ["AsyncResponse"])


def test_messages_end_when_the_service_closes_with_1000(emu: Emulator) -> None:
    async def test(client: mds.ApiClient) -> list[list[Any]]:
        async with mds.aio.NotificationListener(client) as listener:
            queue(emu, 1, 2)
            batches = []
            async for message in listener.messages():
                batches.append(values(message.events()))
                await asyncio.to_thread(mds.NotificationsApi(client).delete_websocket)
            return batches

    assert run(emu, test) == [[1, 2]]


def test_events_received_before_close_are_still_yielded_unrecorded(emu: Emulator,
                                                                     tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite")

    async def test(client: mds.ApiClient) -> list[Any]:
        listener = mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                serialization=None)
        async with listener:
            queue(emu, 1, 2, 3, uids=True)
            got = await take(listener, 1)
        got += [event async for event in listener]  # received before the close
        return values(got)

    assert run(emu, test) == [1, 2, 3]


@pytest.mark.parametrize("store", [True, False])
def test_leaving_with_an_exception_releases_what_the_application_held(emu: Emulator,
                                                                       tmp_path: Path,
                                                                       store: bool) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite") if store else None

    class Crash(Exception):
        pass

    async def test(client: mds.ApiClient) -> Any:
        async def crash() -> None:
            async with mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                    serialization=None) as listener:
                queue(emu, 1, 2, uids=True)
                await take(listener, 1)  # 1 is handed out, 2 waits in the buffer
                raise Crash

        with pytest.raises(Crash):
            await crash()
        async with mds.aio.NotificationListener(client, checkpoint=checkpoint,
                                                serialization=None) as again:
            queue(emu, 1, 2, 3, uids=True)  # the service sends them again
            return values(await take(again, 3))

    assert run(emu, test) == [1, 2, 3]  # nothing was recorded as finished


def test_hostname_checks_follow_assert_hostname_and_verify_ssl(ca: trustme.CA,
                                                               ca_bundle: str) -> None:
    from mds.aio._websocket import open_websocket

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("example.test").configure_cert(context)  # not for 127.0.0.1

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"registrations": [{"ep": "tls-dev"}]}))
        conn.close(1000)

    async def connect(url: str, **options: Any) -> str:
        cfg = mds.Configuration(host=url, api_key="ak_x", **options)
        with mds.ApiClient(cfg) as client:
            ws = await open_websocket(client)
            try:
                return json.loads(await ws.recv())["registrations"][0]["ep"]  # type: ignore[no-any-return]
            finally:
                await ws.close()

    with ws_server(handler, tls=context) as url:
        with pytest.raises(mds.ApiTLSError):
            asyncio.run(connect(url, ssl_ca_cert=ca_bundle))
        assert asyncio.run(connect(url, ssl_ca_cert=ca_bundle,
                                   assert_hostname="example.test")) == "tls-dev"
        assert asyncio.run(connect(url, verify_ssl=False)) == "tls-dev"


def test_a_refused_handshake_raises_the_status_exception() -> None:
    from websockets.sync.server import serve

    from mds.aio._websocket import open_websocket

    def refuse(conn: ServerConnection, request: Any) -> Any:
        return conn.respond(403, "no websocket for you\n")

    server = serve(lambda conn: None, "127.0.0.1", 0, process_request=refuse)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()

    async def connect() -> None:
        host = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
        with mds.ApiClient(mds.Configuration(host=host, api_key="ak_x")) as client:
            await open_websocket(client, subprotocol_auth=True)

    try:
        with pytest.raises(mds.ForbiddenException) as info:
            asyncio.run(connect())
    finally:
        server.shutdown()
        thread.join(5)
    assert info.value.status == 403
    assert "ak_x" not in str(info.value)


def test_requests_stop_reading_past_max_buffered_and_lose_nothing(emu: Emulator) -> None:
    emu.register_device("dev", resources={PATH: 4.5})
    emu.set_latency("dev", 0.2)  # its answers come after the batch below has gone out

    async def test(client: mds.ApiClient) -> Any:
        async with mds.aio.NotificationListener(client, max_buffered=5) as listener:
            queue(emu, *range(30))  # one batch of 30 items that nobody iterates yet
            with pytest.raises(mds.ApiTimeoutError):
                await listener.read("dev", PATH, timeout=0.6)  # its answer is behind them
            kept = listener.stats.events, listener.stats.messages
            reading = asyncio.ensure_future(listener.read("dev", PATH, timeout=10))
            got = await take(listener, 30)  # iterating makes room: the read is answered
            return kept, values(got), await reading

    kept, got, value = run(emu, test)
    assert kept == (30, 1)  # the batch read whole, then nothing more while 5 or more were kept
    assert got == list(range(30))
    assert value == 4.5


def test_a_request_racing_close_is_refused_as_closed(emu: Emulator) -> None:
    emu.register_device("dev", resources={PATH: 1})

    async def test(client: mds.ApiClient) -> None:
        listener = mds.aio.NotificationListener(client)
        await listener.open()
        racing = asyncio.ensure_future(listener.read("dev", PATH))  # not yet sent
        await listener.close()
        with pytest.raises(mds.ClientClosedError):
            await racing

    run(emu, test)
