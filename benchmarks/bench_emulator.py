"""Throughput of the emulator per channel type: notifications injected to notifications received.

Run::

    python benchmarks/bench_emulator.py [--count N] [--batch-limit N] [--one-core]

For each channel (websocket, long poll, webhook) a fresh emulator is started, a raw client is
attached (websockets' threading client, a urllib3 long-poll loop, a local ``http.server``
receiver), ``N`` notifications are injected in-process with ``Emulator.notify`` and the clock
stops when the client has received the last one. Every run checks that all ``N`` arrived, in
order, exactly once; a table of notifications/second per channel is printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from mds.emulator import Emulator

EP = "0172b9ba5409000000000001001117f5"
PATH = "/3303/0/5700"


class Collector:
    """Collects received values and signals when ``count`` have arrived."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.values: list[int] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.finished_at = 0.0

    def add_message(self, message: dict[str, Any]) -> None:
        got = [int(base64.b64decode(item["payload"])) for item in message.get("notifications", ())]
        with self.lock:
            self.values.extend(got)
            if len(self.values) >= self.count and not self.done.is_set():
                self.finished_at = time.perf_counter()
                self.done.set()

    def lost(self) -> int:
        """Items missing, duplicated or out of order (0 when the run was perfect)."""
        expected = list(range(self.count))
        if self.values == expected:
            return 0
        return max(1, abs(len(self.values) - self.count), len(set(expected) - set(self.values)))


def inject(emulator: Emulator, count: int) -> float:
    """Queue ``count`` notifications; returns the start time."""
    started = time.perf_counter()
    notify = emulator.notify
    for value in range(count):
        notify(EP, PATH, value)
    return started


def auth(emulator: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.api_key}"}


def run_websocket(count: int, batch_limit: int) -> tuple[float, int]:
    with Emulator(batch_limit=batch_limit) as emulator:
        http = urllib3.PoolManager(retries=False)
        assert (
            http.request("PUT", emulator.url + "/v2/notification/websocket", headers=auth(emulator))
        ).status == 201
        http.clear()
        collector = Collector(count)
        url = "ws" + emulator.url[len("http") :] + "/v2/notification/websocket-connect"
        with connect(
            url,
            subprotocols=[Subprotocol("wss"), Subprotocol(f"pelion_{emulator.api_key}")],
            max_size=None,
        ) as websocket:

            def receive() -> None:
                while not collector.done.is_set():
                    collector.add_message(json.loads(websocket.recv(timeout=60)))

            reader = threading.Thread(target=receive, daemon=True)
            reader.start()
            started = inject(emulator, count)
            collector.done.wait(120)
            reader.join(5)
    return collector.finished_at - started, collector.lost()


def run_long_poll(count: int, batch_limit: int) -> tuple[float, int]:
    with Emulator(batch_limit=batch_limit, long_poll_hold=1.0) as emulator:
        http = urllib3.PoolManager(retries=False, maxsize=2)
        url = emulator.url + "/v2/notification/pull"
        assert http.request("GET", url, headers=auth(emulator)).status == 204  # creates it
        collector = Collector(count)

        def poll() -> None:
            while not collector.done.is_set():
                response = http.request("GET", url, headers=auth(emulator))
                if response.status == 200:
                    collector.add_message(response.json())

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        started = inject(emulator, count)
        collector.done.wait(120)
        poller.join(5)
        http.clear()
    return collector.finished_at - started, collector.lost()


def run_webhook(count: int, batch_limit: int) -> tuple[float, int]:
    collector = Collector(count)

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()
            collector.add_message(json.loads(body))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        with Emulator(batch_limit=batch_limit) as emulator:
            http = urllib3.PoolManager(retries=False)
            response = http.request(
                "PUT",
                emulator.url + "/v2/notification/callback",
                body=json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}/hook"}),
                headers={**auth(emulator), "Content-Type": "application/json"},
            )
            assert response.status == 204, response.data
            http.clear()
            started = inject(emulator, count)
            collector.done.wait(120)
    finally:
        server.shutdown()
        server.server_close()
        serving.join()
    return collector.finished_at - started, collector.lost()


CHANNELS: dict[str, Callable[[int, int], tuple[float, int]]] = {
    "websocket": run_websocket,
    "long poll": run_long_poll,
    "webhook": run_webhook,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="notifications per channel")
    parser.add_argument("--batch-limit", type=int, default=10_000, help="items per message")
    parser.add_argument("--one-core", action="store_true", help="pin the process to one CPU")
    args = parser.parse_args(argv)
    if args.one_core and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    started = time.perf_counter()
    inject_rate = 0.0
    with Emulator() as emulator:  # injection alone, with no channel to queue for
        begin = inject(emulator, args.count)
        inject_rate = args.count / (time.perf_counter() - begin)

    rows = []
    failed = False
    for name, run in CHANNELS.items():
        seconds, lost = run(args.count, args.batch_limit)
        failed = failed or lost != 0
        rows.append((name, args.count, seconds, args.count / seconds if seconds > 0 else 0.0, lost))

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"mds emulator throughput: {args.count:,} notifications per channel, "
        f"batch limit {args.batch_limit:,}, {cpus} CPU(s), Python {sys.version.split()[0]}"
    )
    print(f"(in-process injection alone: {inject_rate:,.0f} notifications/s)")
    print()
    print(
        f"{'channel':<10} {'notifications':>13} {'seconds':>8} {'notifications/s':>16} {'lost':>5}"
    )
    for name, count, seconds, rate, lost in rows:
        print(f"{name:<10} {count:>13,} {seconds:>8.2f} {rate:>16,.0f} {lost:>5}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
