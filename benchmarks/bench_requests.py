"""Device-request round trips per second: `NotificationListener.read()` side by side with a raw
client, against the same emulator and the same simulated device.

One round trip is one read of a resource: the request goes out as ``POST
/v2/device-requests/{device-id}?async-id=...``, the service answers 202, and the device's answer
comes back on the key's websocket as an ``async-responses`` item. The raw baseline does by hand
what a user without the SDK would: a urllib3 POST with a JSON body, then ``recv()`` on a
`websockets` connection and ``json.loads`` until the item with its async id is there, then the
payload base64-decoded and turned into a number. The listener's read does the same and returns
the decoded value (``listener.read(device, path)``).

The emulator runs in a subprocess (``python -m mds emulator``) so that it does not share the
client's GIL. Each consumer has its own API key (one channel per key; devices are shared), its
connection is made before the clock starts, and rounds are interleaved so that drift hits both
alike. Besides the rate, each line shows the client process's CPU time per round trip, which a
shared machine disturbs less than the rate.

    python benchmarks/bench_requests.py [--reads 2000] [--rounds 5] [--warmup 1]
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

import urllib3

RAW_KEY = "ak_benchmark_raw_000000000000000000"
SDK_KEY = "ak_benchmark_sdk_000000000000000000"
DEVICE = "016f0a9c0c3d00000000000100100ffd"
PATH = "/3303/0/5700"
VALUE = 21.5
RAW = "raw urllib3 POST + websockets + json"
READ = "NotificationListener.read()"


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mds", "emulator", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return proc, url


def raw_round(url: str, reads: int, round_number: int) -> float:
    """*reads* round trips by hand; returns the seconds they took."""
    from websockets.sync.client import connect

    auth = {"Authorization": f"Bearer {RAW_KEY}"}
    http = urllib3.PoolManager(retries=False)
    response = http.request("PUT", f"{url}/v2/notification/websocket", headers=auth)
    assert response.status in (200, 201), response.status
    ws_url = url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    body = json.dumps({"method": "GET", "uri": PATH}).encode()
    headers = {**auth, "Content-Type": "application/json"}
    post_url = f"{url}/v2/device-requests/{DEVICE}"
    with connect(ws_url, additional_headers=auth, compression=None) as ws:
        started = time.perf_counter()
        for n in range(reads):
            async_id = f"raw-{round_number}-{n}"
            response = http.request("POST", f"{post_url}?async-id={async_id}", body=body,
                                    headers=headers)
            assert response.status == 202, response.status
            value = None
            while value is None:
                for item in json.loads(ws.recv(timeout=10)).get("async-responses", ()):
                    if item["id"] == async_id:
                        value = float(base64.b64decode(item["payload"]).decode())
            assert value == VALUE, value
        elapsed = time.perf_counter() - started
    http.clear()
    return elapsed


def listener_round(url: str, reads: int, round_number: int) -> float:
    """*reads* round trips with ``listener.read()``; returns the seconds they took."""
    import mds
    from mds.listener import NotificationListener

    with mds.ApiClient(mds.Configuration(host=url, api_key=SDK_KEY)) as client:
        with NotificationListener(client) as listener:
            assert listener.read(DEVICE, PATH) == VALUE  # the pools warm, as the raw side's
            started = time.perf_counter()
            for _ in range(reads):
                assert listener.read(DEVICE, PATH) == VALUE
            return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=2000, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed rounds first (imports, connection pools, caches)")
    args = parser.parse_args(argv)

    proc, url = start_emulator()
    runners = [(RAW, raw_round), (READ, listener_round)]
    rates: dict[str, list[float]] = {name: [] for name, _ in runners}
    cpu: dict[str, list[float]] = {name: [] for name, _ in runners}
    http = urllib3.PoolManager(retries=False)
    try:
        device = {"ep": DEVICE, "ept": "Thermostat", "resources": {PATH: VALUE}}
        response = http.request("POST", f"{url}/_emulator/register", body=json.dumps(device))
        assert response.status == 200, response.data
        for round_number in range(args.warmup + args.rounds):
            for name, runner in runners:  # interleaved, so drift hits both alike
                cpu_started = time.process_time()
                elapsed = runner(url, args.reads, round_number)
                cpu_used = time.process_time() - cpu_started
                if round_number >= args.warmup:
                    rates[name].append(args.reads / elapsed)
                    cpu[name].append(cpu_used / args.reads * 1e6)
    finally:
        http.clear()
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

    print(f"{args.reads} reads per round, {args.rounds} rounds after {args.warmup} untimed "
          "(medians):")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        print(f"  {name:<38} {rate:>8,.0f} round trips/s  "
              f"{statistics.median(cpu[name]):7.1f} us client CPU/round trip")
    per_round = sorted(r / w for r, w in zip(rates[READ], rates[RAW], strict=True))
    print(f"  ratio listener.read() / raw by hand: {medians[READ] / medians[RAW]:.2f}x"
          f"  (per round: {', '.join(f'{x:.2f}' for x in per_round)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
