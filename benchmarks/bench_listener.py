"""Events per second through `NotificationListener`, side by side with a raw `websockets` client,
on the same emulator stream; every consumer reads each notification's value.

The raw baseline does by hand what a user without the SDK would: ``json.loads`` on each frame,
then for every notification base64-decodes the payload and turns the text into a number. The
listener's consumer reads each event's ``.value`` (which does the same decoding).

The emulator runs in a subprocess (``python -m mds emulator``) so that it does not share the
consumer's GIL. For each round, the same N notifications are queued on a registered websocket
channel, then the consumer connects and the clock runs until it has all N. Besides the rate,
each line shows the CPU time of the consuming process per event, which a shared machine
disturbs less than the rate.

    python benchmarks/bench_listener.py [--items 100000] [--batch 1000] [--rounds 3] [--warmup 1]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import urllib3

API_KEY = "ak_benchmark0000000000000000000000"
RAW = "raw websockets + json/b64/number"
EVENTS = "NotificationListener events"


def start_emulator(batch: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mds", "emulator", "--port", "0", "--api-key", API_KEY,
         "--batch-limit", str(batch)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return proc, url


def queue(http: urllib3.PoolManager, url: str, items: int) -> None:
    """Queue *items* text/plain notifications, in chunks, through the admin API."""
    payloads = [base64.b64encode(str(i).encode()).decode() for i in range(items)]
    for start in range(0, items, 20_000):
        message = {"notifications": [
            {"ep": "016f0a9c0c3d00000000000100100ffd", "path": "/3303/0/5700",
             "ct": "text/plain", "payload": p, "max-age": 0}
            for p in payloads[start:start + 20_000]]}
        response = http.request("POST", f"{url}/_emulator/messages",
                                body=json.dumps({"message": message, "api_key": API_KEY}),
                                headers={"Content-Type": "application/json"})
        assert response.status == 200, response.data


def raw_round(url: str, items: int) -> float:
    from websockets.sync.client import connect

    ws_url = url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    started = time.perf_counter()
    seen = 0
    b64decode = base64.b64decode
    total = 0
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {API_KEY}"},
                 max_size=2**26, compression=None) as ws:
        while seen < items:
            message = json.loads(ws.recv())
            for item in message.get("notifications", ()):
                text = b64decode(item["payload"]).decode()
                total += float(text) if "." in text else int(text)
                seen += 1
    assert total == items * (items - 1) // 2, total
    return time.perf_counter() - started


def raw_events_round(url: str, items: int) -> float:
    """The raw client doing the listener's decoding too: typed events from each frame."""
    from websockets.sync.client import connect

    from mds.events import events_from_message

    ws_url = url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    started = time.perf_counter()
    seen = 0
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {API_KEY}"},
                 max_size=2**26, compression=None) as ws:
        while seen < items:
            for event in events_from_message(json.loads(ws.recv())):
                event.value  # noqa: B018 - the read is the work measured
                seen += 1
    return time.perf_counter() - started


def listener_messages_round(url: str, items: int) -> float:
    import mds
    from mds.listener import NotificationListener

    started = time.perf_counter()
    seen = 0
    with mds.ApiClient(mds.Configuration(host=url, api_key=API_KEY)) as client:
        with NotificationListener(client, register=False) as listener:
            for message in listener.messages():
                for item in message.notifications:
                    item.decode()
                    seen += 1
                if seen >= items:
                    break
    return time.perf_counter() - started


def listener_round(url: str, items: int) -> float:
    import mds
    from mds.listener import NotificationListener

    started = time.perf_counter()
    seen = 0
    with mds.ApiClient(mds.Configuration(host=url, api_key=API_KEY)) as client:
        with NotificationListener(client, register=False) as listener:
            total = 0
            for event in listener:
                total += event.value
                seen += 1
                if seen >= items:
                    break
    assert total == items * (items - 1) // 2, total
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="emulator batch limit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed rounds first (imports, connection pools, caches)")
    args = parser.parse_args(argv)

    proc, url = start_emulator(args.batch)
    http = urllib3.PoolManager(retries=False)
    runners: list[tuple[str, Any]] = [
        (RAW, raw_round),
        ("NotificationListener.messages()", listener_messages_round),
        ("raw + mds.events", raw_events_round),
        (EVENTS, listener_round),
    ]
    results: dict[str, list[float]] = {name: [] for name, _ in runners}
    # CPU time of this process (the consumer and its websocket reader thread; the emulator is
    # another process) per event: steadier than the rate on a shared machine.
    cpu: dict[str, list[float]] = {name: [] for name, _ in runners}
    try:
        response = http.request("PUT", f"{url}/v2/notification/websocket",
                                headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status in (200, 201), response.status
        for round_number in range(args.warmup + args.rounds):
            for name, runner in runners:  # interleaved, so drift hits both alike
                queue(http, url, args.items)
                cpu_started = time.process_time()
                elapsed = runner(url, args.items)
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

    print(f"{args.items} notifications per round, batches of {args.batch}, "
          f"{args.rounds} rounds after {args.warmup} untimed (medians):")
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    for name, rate in medians.items():
        print(f"  {name:<34} {rate:>10,.0f} events/s  "
              f"{statistics.median(cpu[name]):6.2f} us consumer CPU/event")
    raw = medians[RAW]
    # Each round runs every consumer once on the same stream, so a round's own ratio is free of
    # the drift between rounds; their spread shows how far a single run can be trusted.
    per_round = sorted(e / r for e, r in zip(results[EVENTS], results[RAW], strict=True))
    print(f"  ratio NotificationListener events / raw by hand:  {medians[EVENTS] / raw:.2f}x"
          f"  (per round: {', '.join(f'{x:.2f}' for x in per_round)})")
    print("  ratio NotificationListener.messages() / raw by hand: "
          f"{medians['NotificationListener.messages()'] / raw:.2f}x")
    print("  ratio NotificationListener events / raw + mds.events: "
          f"{medians[EVENTS] / medians['raw + mds.events']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
