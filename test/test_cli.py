"""The ``mds`` command, run as a subprocess against the emulator: output, exit codes, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest

import mds
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.timeout(60)


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MDS_")}
    clean["PYTHONUNBUFFERED"] = "1"
    clean.update(extra)
    return clean


def run_mds(*args: str, timeout: float = 30, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mds", *args], capture_output=True, text=True,
                          timeout=timeout, env=env(**extra))


class Lines:
    """Collects a pipe's lines in a thread, so a test can wait for one without blocking."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait(self, condition: Callable[[list[str]], bool], timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while not condition(self.lines):
            assert time.monotonic() < deadline, f"not seen in time; got {self.lines}"
            time.sleep(0.02)
        return self.lines

    def join(self) -> list[str]:
        self._thread.join(10)
        return self.lines


@pytest.fixture
def listen() -> Iterator[Callable[..., tuple[subprocess.Popen[str], Lines, Lines]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, **extra: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
        proc = subprocess.Popen([sys.executable, "-m", "mds", "listen", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env(**extra))
        procs.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        return proc, Lines(proc.stdout), Lines(proc.stderr)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def wait_connected(emu: Emulator, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while emu.health()["websockets"] < 1:
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_listen_json_lines_then_signal_exits_0(
        mds_emulator: Emulator, listen: Callable[..., Any], sig: signal.Signals) -> None:
    proc, out, err = listen("--json", "--host", mds_emulator.url,
                            MDS_API_KEY=mds_emulator.api_key)
    wait_connected(mds_emulator)
    mds_emulator.register_device("dev-1", ept="Thermostat",
                                 resources=[{"path": "/3303/0/5700", "obs": True}])
    mds_emulator.notify("dev-1", "/3303/0/5700", 21.5)
    mds_emulator.notify("dev-1", "/3303/0/5701", "Cel")
    mds_emulator.async_response("req-1", status=504, error="TIMEOUT")
    lines = out.wait(lambda lines: len(lines) >= 4)
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == [
        "DeviceRegistered", "ResourceChanged", "ResourceChanged", "AsyncResponse"]
    assert events[0]["device_id"] == "dev-1"
    assert events[0]["resources"][0]["path"] == "/3303/0/5700"
    assert events[1]["value"] == 21.5 and events[1]["payload"] == "MjEuNQ=="
    assert events[2]["value"] == "Cel"
    assert events[3]["status"] == 504 and events[3]["error"] == "TIMEOUT"
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    text = "\n".join(err.join() + out.join())
    assert mds_emulator.api_key not in text


def test_listen_human_output_over_long_poll(mds_emulator: Emulator,
                                            listen: Callable[..., Any]) -> None:
    proc, out, err = listen("--channel", "long-poll", "--api-key", mds_emulator.api_key,
                            MDS_HOST=mds_emulator.url)
    deadline = time.monotonic() + 15
    while mds_emulator.health()["channels"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    mds_emulator.notify("dev-9", "/3200/0/5501", 57)
    mds_emulator.deregister_device("dev-9")
    lines = out.wait(lambda lines: len(lines) >= 2)
    assert "dev-9" in lines[0] and "/3200/0/5501" in lines[0] and "57" in lines[0]
    assert "deregistered" in lines[1] and "dev-9" in lines[1]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


def test_listen_forwards_batches_to_a_local_webhook_handler(
        mds_emulator: Emulator, listen: Callable[..., Any]) -> None:
    from test_webhook_receiver import serve_wsgiref

    received: list[Any] = []
    receiver = WebhookReceiver({"authorization": "local-secret"}, on_event=received.append)
    url, stop = serve_wsgiref(receiver)
    try:
        proc, out, err = listen("--host", mds_emulator.url, "--api-key", mds_emulator.api_key,
                                "--forward-to", url,
                                "--forward-header", "authorization: local-secret")
        wait_connected(mds_emulator)
        mds_emulator.notify("dev-1", "/1/0/1", 5)
        err.wait(lambda lines: any("204" in line for line in lines))
        assert [e.value for e in received] == [5]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        stop()
    report = [line for line in err.join() if "forwarded" in line]
    assert report and "1 item" in report[0] and "204" in report[0]


def test_bad_usage_exits_2() -> None:
    no_key = run_mds("listen", "--host", "http://127.0.0.1:9")
    assert no_key.returncode == 2 and "MDS_API_KEY" in no_key.stderr
    assert run_mds("listen", "--channel", "webhook", MDS_API_KEY="ak_x").returncode == 2
    assert run_mds("frobnicate").returncode == 2
    assert run_mds().returncode == 2


def test_refused_key_exits_3_without_printing_it() -> None:
    with Emulator(api_keys=["ak_the_right_one"], **TEST_TIMINGS) as emu:
        for channel in ("websocket", "long-poll"):
            result = run_mds("listen", "--host", emu.url, "--channel", channel,
                             MDS_API_KEY="ak_wrong_key_1234")
            assert result.returncode == 3, result.stderr
            assert "refused" in result.stderr
            assert "ak_wrong_key_1234" not in result.stderr + result.stdout


def test_conflicting_channel_exits_1_with_advice(mds_emulator: Emulator,
                                                 mds_client: mds.ApiClient) -> None:
    mds.NotificationsApi(mds_client).long_poll_notifications()  # a long-poll channel now exists
    result = run_mds("listen", "--host", mds_emulator.url, MDS_API_KEY=mds_emulator.api_key)
    assert result.returncode == 1
    assert "long-poll" in result.stderr and "--replace-existing" in result.stderr


def test_demo_exits_0_and_prints_events() -> None:
    started = time.monotonic()
    result = run_mds("demo")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15
    for text in ("DeviceRegistered", "ResourceChanged", "21.5", "'open'", "TLV",
                 "AsyncResponse", "DeviceDeregistered", "Received 9 events"):
        assert text in result.stdout
    assert result.stderr == ""


def test_demo_json_lines() -> None:
    result = run_mds("demo", "--json")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 9 and events[-1]["type"] == "DeviceDeregistered"


def test_emulator_subcommand_and_version() -> None:
    version = run_mds("--version")
    assert version.returncode == 0 and mds.__version__ in version.stdout
    proc = subprocess.Popen([sys.executable, "-m", "mds", "emulator", "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env())
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("mds emulator listening on http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_main_in_process_formats() -> None:
    from mds.cli import event_to_json, format_event
    from mds.events import AsyncResponse, ResourceChanged

    event = ResourceChanged("dev", "/1/0/1", "text/plain", 0, b"5", 5)
    assert json.loads(json.dumps(event_to_json(event)))["payload"] == "NQ=="
    assert "dev" in format_event(event) and "= 5" in format_event(event)
    failed = AsyncResponse("id-1", 504, "TIMEOUT")
    assert "504" in format_event(failed) and "TIMEOUT" in format_event(failed)
