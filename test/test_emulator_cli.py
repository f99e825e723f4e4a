"""``mds emulator`` on the command line: run as a real subprocess, stopped with SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

import mds.emulator
from mds.emulator import _cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM semantics")

ENTRY = "import sys; from mds.emulator._cli import main; sys.exit(main())"


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    root = Path(mds.emulator.__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ENTRY,
            "--port",
            "0",
            "--api-key",
            "ak_cli_test",
            "--long-poll-hold",
            "0.2",
            "--websocket-shape",
            "2020",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def read_banner(proc: subprocess.Popen[str]) -> tuple[str, str]:
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout.readline() for _ in range(2)))  # type: ignore[union-attr]
    reader.start()
    reader.join(10)
    assert len(lines) == 2, "the emulator did not print its URL and key"
    url_line, key_line = lines
    assert url_line.startswith("mds emulator listening on http://127.0.0.1:")
    assert key_line.strip() == "API key: ak_cli_test"
    return url_line.split()[-1], key_line.split()[-1]


def test_cli_serves_and_sigterm_closes_websockets_with_1001(process: subprocess.Popen[str]) -> None:
    url, key = read_banner(process)
    http = urllib3.PoolManager(retries=False, timeout=5.0)
    try:
        auth = {"Authorization": f"Bearer {key}"}
        assert http.request("GET", url + "/v2/notification/pull", headers=auth).status == 204
        assert (
            http.request("DELETE", url + "/v2/notification/pull", headers=auth).data == b"REMOVED"
        )
        unknown = http.request(
            "GET", url + "/v2/notification/channel", headers={"Authorization": "Bearer ak_other"}
        )
        assert unknown.status == 401  # only --api-key keys are accepted
        # The purge window of a deleted pull channel does not block a websocket channel.
        created = http.request("PUT", url + "/v2/notification/websocket", headers=auth)
        assert created.status == 201
        assert created.json() == {"queue_size": -1, "status": "unknown"}  # --websocket-shape 2020
    finally:
        http.clear()
    ws_url = "ws" + url[len("http") :] + "/v2/notification/websocket-connect"
    with connect(
        ws_url, subprotocols=[Subprotocol("wss"), Subprotocol(f"pelion_{key}")], open_timeout=5
    ) as ws:
        process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1001
    assert process.wait(timeout=10) == 0
    assert process.stdout is not None
    assert "stopped" in process.stdout.read()


def test_add_arguments_has_every_option() -> None:
    parser = argparse.ArgumentParser()
    _cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
            "--api-key",
            "ak_1",
            "--api-key",
            "ak_2",
            "--long-poll-hold",
            "1",
            "--webhook-backoff-base",
            "0.5",
            "--webhook-backoff-cap",
            "3",
            "--webhook-give-up",
            "60",
            "--webhook-timeout",
            "2",
            "--pull-expiry",
            "5",
            "--websocket-expiry",
            "6",
            "--purge-window",
            "7",
            "--batch-limit",
            "50",
            "--device-latency",
            "0.5",
            "--device-timeout",
            "30",
            "--websocket-shape",
            "2020",
        ]
    )
    assert (args.host, args.port, args.api_keys) == ("0.0.0.0", 9000, ["ak_1", "ak_2"])
    assert (args.long_poll_hold, args.webhook_backoff_base, args.webhook_backoff_cap) == (
        1.0,
        0.5,
        3.0,
    )
    assert (args.webhook_give_up, args.webhook_timeout, args.pull_expiry) == (60.0, 2.0, 5.0)
    assert (args.websocket_expiry, args.purge_window, args.batch_limit) == (6.0, 7.0, 50)
    assert (args.device_latency, args.device_timeout, args.websocket_shape) == (0.5, 30.0, "2020")
    defaults = parser.parse_args([])
    assert (defaults.host, defaults.port, defaults.api_keys) == ("127.0.0.1", 8080, None)
    assert defaults.long_poll_hold == 30.0
    assert defaults.webhook_give_up == 86400.0
    assert (defaults.device_latency, defaults.device_timeout) == (0.0, 120.0)
    assert defaults.websocket_shape == "2019"


def test_port_in_use_is_reported_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _cli.main(["--port", str(port)]) == 2
    assert "cannot listen" in capsys.readouterr().err
