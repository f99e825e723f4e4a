"""The asyncio face against bare asyncio code doing the same work, side by side:

1. events per second through `mds.aio.NotificationListener` (each event's ``.value`` read)
   against a raw `websockets` asyncio client that ``json.loads`` each frame, base64-decodes each
   payload and turns the text into a number (and the same raw client decoding with
   `mds.events`), on the same emulator stream;
2. webhook deliveries per second into `mds.aio.WebhookReceiver` (an ``on_event`` handler reading
   each ``.value``) against a bare ASGI app that reads the body, ``json.loads`` it and does the
   same decoding (and the same bare app decoding with `mds.events`, to tell what typed events
   cost from what the receiver adds), all under uvicorn (its own process), with the same
   client load (threads with a keep-alive connection each PUTting the same batches); with the
   server's CPU time per delivery (steadier than the rate on a shared machine).

What users get is measured: the channel is registered as `mds.aio.NotificationListener`
registers it (the 2020 ``cfg`` flags ``include_uid`` and ``include_timestamp``: every item
carries a ``uid``, which the listener's dedupe admits, and a ``timestamp``), and the webhook
items carry the same keys (a callback channel with those flags, as docs/Delivery-guarantees.md
advises); ``--plain`` leaves them out (a channel registered without a ``cfg``).

The emulator runs in a subprocess (``python -m mds emulator``) so that it does not share the
consumer's GIL. Rounds are interleaved (each round runs every consumer once), medians of
``--rounds`` after ``--warmup`` untimed ones; each line also shows the ratio per round.

    python benchmarks/bench_aio.py [--items 100000] [--batch 1000] [--rounds 5] [--warmup 1]
                                   [--deliveries 2000] [--delivery-items 50] [--clients 8]
                                   [--plain] [--only listener|receiver]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import urllib3
from bench_listener import API_KEY, queue, start_emulator

HERE = Path(__file__).resolve().parent


# -- the two ASGI applications (imported by uvicorn from this file) ----------------------------

def _number(payload: str) -> float:
    text = base64.b64decode(payload).decode()
    return float(text) if "." in text else int(text)


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What a service without the SDK would write: read the body, parse it, decode the values,
    answer 204."""
    if scope["type"] != "http":
        return
    if scope["method"] != "PUT":
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    total = 0.0
    for item in json.loads(b"".join(chunks)).get("notifications", ()):
        total += _number(item["payload"])
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def events_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare app, decoding with `mds.events` as the receiver does: what typed events cost,
    apart from what the receiver adds."""
    from mds.events import event_list

    if scope["type"] != "http":
        return
    if scope["method"] != "PUT":
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    for event in event_list(json.loads(b"".join(chunks))):
        event.value  # type: ignore[attr-defined]  # noqa: B018 - the read is the work measured
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _make_receiver() -> Any:
    import mds.aio

    def on_event(event: Any) -> None:
        event.value  # noqa: B018 - the read is the work measured

    return mds.aio.WebhookReceiver({"authorization": "bench-secret"}, on_event=on_event)


receiver_app = _make_receiver() if os.environ.get("MDS_BENCH_RECEIVER") else None


# -- the listener ------------------------------------------------------------------------------

async def raw_round(url: str, items: int) -> float:
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    started = time.perf_counter()
    seen = 0
    total = 0.0
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {API_KEY}"},
                       max_size=2**26, compression=None) as ws:
        while seen < items:
            for item in json.loads(await ws.recv()).get("notifications", ()):
                total += _number(item["payload"])
                seen += 1
    assert total == items * (items - 1) // 2, total
    return time.perf_counter() - started


async def raw_events_round(url: str, items: int) -> float:
    """The raw client decoding with `mds.events`, as the listener does: what typed events cost,
    apart from what the listener adds."""
    from websockets.asyncio.client import connect

    from mds.events import event_list

    ws_url = url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    started = time.perf_counter()
    seen = 0
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {API_KEY}"},
                       max_size=2**26, compression=None) as ws:
        while seen < items:
            for event in event_list(json.loads(await ws.recv())):
                event.value  # type: ignore[attr-defined]  # noqa: B018 - the work measured
                seen += 1
    return time.perf_counter() - started


async def listener_round(url: str, items: int) -> float:
    import mds
    import mds.aio

    started = time.perf_counter()
    seen = 0
    total = 0
    with mds.ApiClient(mds.Configuration(host=url, api_key=API_KEY)) as client:
        async with mds.aio.NotificationListener(client, register=False) as listener:
            async for event in listener:
                total += event.value  # type: ignore[attr-defined]
                seen += 1
                if seen >= items:
                    break
    assert total == items * (items - 1) // 2, total
    return time.perf_counter() - started


async def messages_round(url: str, items: int) -> float:
    import mds
    import mds.aio

    started = time.perf_counter()
    seen = 0
    with mds.ApiClient(mds.Configuration(host=url, api_key=API_KEY)) as client:
        async with mds.aio.NotificationListener(client, register=False) as listener:
            async for message in listener.messages():
                for item in message.notifications:
                    item.decode()
                    seen += 1
                if seen >= items:
                    break
    return time.perf_counter() - started


def register_channel(url: str, plain: bool) -> None:
    """Register the websocket channel as the listener does by default (the 2020 ``cfg`` with
    ``include_uid`` and ``include_timestamp``), or, *plain*, without a body."""
    import mds

    serialization = None if plain else mds.SerializationConfigData(
        type="v2", cfg=mds.SerializationConfigObjectV2(include_uid=True, include_timestamp=True))
    with mds.ApiClient(mds.Configuration(host=url, api_key=API_KEY)) as client:
        mds.NotificationsApi(client).register_websocket(serialization)


def bench_listener(args: argparse.Namespace) -> dict[str, list[float]]:
    proc, url = start_emulator(args.batch)
    http = urllib3.PoolManager(retries=False)
    runners = [("raw websockets asyncio + json", raw_round),
               ("raw websockets asyncio + mds.events", raw_events_round),
               ("mds.aio.NotificationListener events", listener_round),
               ("mds.aio.NotificationListener.messages()", messages_round)]
    results: dict[str, list[float]] = {name: [] for name, _ in runners}
    # CPU time of this process (the loop and the listener's threads; the emulator is another
    # process) per event: steadier than the rate on a shared machine.
    cpu: dict[str, list[float]] = {name: [] for name, _ in runners}
    try:
        register_channel(url, plain=args.plain)
        for round_number in range(args.warmup + args.rounds):
            for name, runner in runners:
                queue(http, url, args.items)
                cpu_started = time.process_time()
                elapsed = asyncio.run(runner(url, args.items))
                cpu_used = time.process_time() - cpu_started
                if round_number >= args.warmup:
                    results[name].append(args.items / elapsed)
                    cpu[name].append(cpu_used / args.items * 1e6)
    finally:
        http.clear()
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    for name, _ in runners:
        print(f"  {name}: {statistics.median(cpu[name]):.2f} us consumer CPU per event "
              f"(per round: {', '.join(f'{x:.2f}' for x in cpu[name])})")
    return results


# -- the receivers -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_uvicorn(app: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MDS_BENCH_RECEIVER": "1" if app == "receiver_app" else ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench_aio:{app}", "--app-dir", str(HERE),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--lifespan", "off"], env=env)
    url = f"http://127.0.0.1:{port}/"
    http = urllib3.PoolManager(retries=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            http.request("GET", url)
            break
        except urllib3.exceptions.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"uvicorn did not start {app}") from None
            time.sleep(0.05)
    http.clear()
    return proc, url


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deliveries_round(url: str, bodies: list[bytes], clients: int) -> float:
    """PUT every body once, from *clients* threads with a keep-alive connection each
    (urllib3: the lightest client at hand, so that the servers are what is measured)."""
    headers = {"authorization": "bench-secret", "content-type": "application/json"}
    share = [bodies[i::clients] for i in range(clients)]
    failures: list[int] = []

    def work(mine: list[bytes]) -> None:
        http = urllib3.PoolManager(retries=False, maxsize=1)
        for body in mine:
            status = http.request("PUT", url, body=body, headers=headers).status
            if status != 204:
                failures.append(status)
        http.clear()

    threads = [threading.Thread(target=work, args=(mine,)) for mine in share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not failures, failures[:5]
    return elapsed


def bench_receivers(args: argparse.Namespace) -> dict[str, list[float]]:
    def item(n: int, i: int) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "ep": f"dev-{n}", "path": "/3303/0/5700", "ct": "text/plain",
            "payload": base64.b64encode(str(n * 100 + i).encode()).decode(), "max-age": 0}
        if not args.plain:
            fields["uid"] = str(uuid.uuid4())
            fields["timestamp"] = "2026-11-27T12:00:00.000Z"
        return fields

    # Every delivery's uids are new to the receiver in every round, as the service's are.
    rounds = [[json.dumps({"notifications": [item(n, i) for i in range(args.delivery_items)]})
               .encode() for n in range(args.deliveries)]
              for _ in range(args.warmup + args.rounds)]
    servers = {"bare ASGI app + json": start_uvicorn("bare_app"),
               "bare ASGI app + mds.events": start_uvicorn("events_app"),
               "mds.aio.WebhookReceiver": start_uvicorn("receiver_app")}
    results: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for round_number in range(args.warmup + args.rounds):
            for name, (proc, url) in servers.items():
                cpu_started = cpu_seconds(proc.pid)
                bodies = rounds[round_number]
                elapsed = deliveries_round(url, bodies, args.clients)
                cpu_used = cpu_seconds(proc.pid) - cpu_started
                if round_number >= args.warmup:
                    results[name].append(len(bodies) / elapsed)
                    cpu[name].append(cpu_used / len(bodies) * 1e6)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    for name in servers:
        print(f"  {name}: {statistics.median(cpu[name]):,.0f} us server CPU per delivery "
              f"(per round: {', '.join(f'{x:,.0f}' for x in cpu[name])})")
    return results


def report(title: str, unit: str, results: dict[str, list[float]]) -> None:
    names = list(results)
    base = names[0]
    print(title)
    for name in names:
        print(f"  {name:<42} {statistics.median(results[name]):>10,.0f} {unit}")
    for name in names[1:]:
        per_round = sorted(a / b for a, b in zip(results[name], results[base], strict=True))
        print(f"  ratio {name} / {base}: "
              f"{statistics.median(results[name]) / statistics.median(results[base]):.2f}x"
              f"  (per round: {', '.join(f'{x:.2f}' for x in per_round)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="emulator batch limit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--delivery-items", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", choices=["listener", "receiver"])
    parser.add_argument("--plain", action="store_true",
                        help="items without the cfg keys uid and timestamp")
    args = parser.parse_args(argv)
    if args.only != "receiver":
        report(f"{args.items} notifications per round, batches of {args.batch}, {args.rounds} "
               f"rounds after {args.warmup} untimed (medians):", "events/s",
               bench_listener(args))
    if args.only != "listener":
        report(f"{args.deliveries} deliveries of {args.delivery_items} items per round from "
               f"{args.clients} keep-alive clients, uvicorn, {args.rounds} rounds after "
               f"{args.warmup} untimed (medians):", "deliveries/s", bench_receivers(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
