"""The scale-out deployment: gunicorn with 4 workers serving a WebhookReceiver that shares a
Redis checkpoint (test/apps/webhook_app.py). The same batches PUT many times at once from
several threads, as a service retrying after time-outs would, reach the handler once per uid."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redis_server import RedisServer, free_port
from servers import wait_until

APPS = Path(__file__).resolve().parent / "apps"
SECRET = "gunicorn-test-secret"
WORKERS = 4


def batch(number: int, size: int = 20) -> bytes:
    return json.dumps({"notifications": [
        {"ep": f"dev-{i}", "path": "/3303/0/5700", "ct": "text/plain", "max-age": 0,
         "uid": f"batch{number}-item{i}", "payload": base64.b64encode(b"21.5").decode()}
        for i in range(size)]}).encode()


def put(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("PUT", "/notify", body=body,
                     headers={"Authorization": SECRET, "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def answers(port: int) -> bool:
    try:
        return put(port, b"{}") == 204
    except OSError:
        return False


@pytest.fixture
def gunicorn() -> Iterator[tuple[int, redis.Redis]]:
    """gunicorn -w 4 on a free port serving the app, with its own redis-server."""
    with RedisServer() as server:
        port = free_port()
        env = {**os.environ, "MDS_TEST_REDIS_URL": server.url, "MDS_TEST_LIST": "handled",
               "MDS_TEST_SECRET": SECRET}
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
             "--chdir", str(APPS), "--graceful-timeout", "3", "--log-level", "warning",
             "webhook_app:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = redis.Redis.from_url(server.url)
        try:
            assert wait_until(lambda: answers(port), 10), "gunicorn did not start"
            yield port, client
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=10)
            client.close()
        assert b"Traceback" not in errors, errors.decode()


def test_four_workers_sharing_redis_handle_each_uid_once(
        gunicorn: tuple[int, redis.Redis]) -> None:
    port, client = gunicorn
    bodies = [batch(n) for n in range(10)]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(8)

    def service() -> None:
        """Deliver every batch 3 times, retrying each until it is acknowledged (2xx)."""
        start.wait()
        for _ in range(3):
            for body in bodies:
                while True:
                    status = put(port, body)
                    with lock:
                        statuses[status] += 1
                    if status == 204:
                        break
                    assert status == 503  # held by another worker: the service retries

    threads = [threading.Thread(target=service) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines: list[bytes] = client.lrange("handled", 0, -1)  # type: ignore[assignment]
    handled = [line.decode().split() for line in lines]
    uids = Counter(uid for uid, _ in handled)
    assert len(uids) == 200
    assert set(uids.values()) == {1}  # every uid reached the handler exactly once
    assert len({pid for _, pid in handled}) > 1  # and the work was spread over workers
    print(f"answers: {dict(statuses)}, workers that handled items: {len({p for _, p in handled})}")
    assert statuses[204] == 8 * 3 * 10
