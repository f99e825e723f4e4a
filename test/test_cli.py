"""The ``mds`` command, run as a subprocess against the emulator: output, exit codes, signals."""

from __future__ import annotations

import datetime
import io
import json
import logging
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
from mds.cli import (
    EXIT_AUTH,
    EXIT_DEVICE_ERROR,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_TAKEN_OVER,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    event_to_json,
    format_event,
    main,
)
from mds.cli._listen import Forwarder, describe_rules, summary
from mds.cli._options import subscription_rule
from mds.emulator import Emulator
from mds.emulator.pytest_plugin import TEST_TIMINGS
from mds.events import (
    AsyncResponse,
    DeviceDeregistered,
    DeviceRegistered,
    DeviceRegistrationExpired,
    DeviceRegistrationUpdated,
    Resource,
    ResourceChanged,
)
from mds.listener import ListenerStats
from mds.webhook_receiver import WebhookReceiver
from servers import ScriptedServer, wait_until

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
        assert wait_until(lambda: condition(self.lines), timeout), f"not seen; got {self.lines}"
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
        assert proc.stdout is not None
        assert proc.stderr is not None
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
    assert wait_until(lambda: emu.health()["websockets"] >= 1, timeout), "it did not connect"


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
    assert events[1]["value"] == 21.5
    assert events[1]["payload"] == "MjEuNQ=="
    assert events[2]["value"] == "Cel"
    assert events[3]["status"] == 504
    assert events[3]["error"] == "TIMEOUT"
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    text = "\n".join(err.join() + out.join())
    assert mds_emulator.api_key not in text


def test_listen_human_output_over_long_poll(mds_emulator: Emulator,
                                            listen: Callable[..., Any]) -> None:
    proc, out, _ = listen("--channel", "long-poll", "--api-key", mds_emulator.api_key,
                          MDS_HOST=mds_emulator.url)
    assert wait_until(lambda: mds_emulator.health()["channels"] >= 1, 15), "no poll came"
    mds_emulator.notify("dev-9", "/3200/0/5501", 57)
    mds_emulator.deregister_device("dev-9")
    lines = out.wait(lambda lines: len(lines) >= 2)
    assert "dev-9" in lines[0]
    assert "/3200/0/5501" in lines[0]
    assert "57" in lines[0]
    assert "deregistered" in lines[1]
    assert "dev-9" in lines[1]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


def test_listen_forwards_batches_to_a_local_webhook_handler(
        mds_emulator: Emulator, listen: Callable[..., Any]) -> None:
    from test_webhook_receiver import serve_wsgiref

    received: list[Any] = []
    receiver = WebhookReceiver({"authorization": "local-secret"}, on_event=received.append)
    url, stop = serve_wsgiref(receiver)
    try:
        proc, _, err = listen("--host", mds_emulator.url, "--api-key", mds_emulator.api_key,
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
    assert report
    assert "1 item" in report[0]
    assert "204" in report[0]


def notifications_with_uids(*uids: str) -> dict[str, Any]:
    return {"notifications": [
        {"ep": "dev-1", "path": "/1/0/1", "ct": "text/plain", "payload": "MQ==", "uid": uid}
        for uid in uids]}


def test_listen_checkpoint_skips_what_a_previous_run_printed(
        mds_emulator: Emulator, listen: Callable[..., Any], tmp_path: Any) -> None:
    # Over the long poll, whose items the emulator leaves as queued: the test sets the uids.
    checkpoint = str(tmp_path / "listen.sqlite")
    printed: list[str] = []
    runs: list[list[tuple[str, ...]]] = [[("a", "b"), ("a", "b", "c")], [("a", "b", "c", "d")]]
    for run, batches in enumerate(runs):
        proc, out, err = listen("--json", "--channel", "long-poll", "--checkpoint", checkpoint,
                                "--host", mds_emulator.url, MDS_API_KEY=mds_emulator.api_key)
        assert wait_until(lambda: mds_emulator.health()["channels"] >= 1, 15), "no poll came"
        for uids in batches:
            mds_emulator.queue_message(notifications_with_uids(*uids))
        lines = out.wait(lambda lines, run=run: len(lines) >= (3 if run == 0 else 1))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == EXIT_OK
        printed += [json.loads(line)["uid"] for line in lines]
        closing = err.join()[-1]
        assert closing.startswith("mds: ")
        assert "duplicate(s) dropped" in closing
    assert printed == ["a", "b", "c", "d"]
    assert "3 duplicate(s) dropped" in closing  # a, b and c, handled by the first run


def test_listen_exits_6_when_another_consumer_keeps_taking_the_channel(
        mds_emulator: Emulator, mds_client: mds.ApiClient, listen: Callable[..., Any]) -> None:
    proc, _, err = listen("--max-takeovers", "0", "--host", mds_emulator.url,
                          MDS_API_KEY=mds_emulator.api_key)
    wait_connected(mds_emulator)
    other = mds.NotificationsApi(mds_client).connect_websocket()  # another consumer of the key
    try:
        assert proc.wait(15) == EXIT_TAKEN_OVER
    finally:
        other.close()
    text = "\n".join(err.join())
    assert "another process (or another copy of this application) is using the same API key's " \
        "websocket channel" in text
    assert "one consumer per API key" in text
    assert "taken over 1 time(s)" in text
    assert mds_emulator.api_key not in text


def test_listen_checkpoint_failures_and_options(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Any) -> None:
    missing = str(tmp_path / "no-such-directory" / "checkpoint.sqlite")
    code = main(["listen", "--host", "http://127.0.0.1:9", "--api-key", "ak_x",
                 "--checkpoint", missing])
    assert code == EXIT_FAILURE
    assert "mds: the checkpoint failed" in capsys.readouterr().err
    for option, value in (("--dedupe-window", "0"), ("--dedupe-window", "many"),
                          ("--max-takeovers", "-1")):
        with pytest.raises(SystemExit) as info:
            main(["listen", "--api-key", "ak_x", option, value])
        assert info.value.code == EXIT_USAGE
        assert option in capsys.readouterr().err


def test_summary_names_what_was_dropped() -> None:
    assert summary(ListenerStats("websocket", messages=3, events=7, duplicates_dropped=2)) == (
        "7 item(s) received in 3 batch(es); 2 duplicate(s) dropped")
    assert summary(ListenerStats("websocket", messages=1, events=1, busy=1, reconnects=2,
                                 takeovers=1)) == (
        "1 item(s) received in 1 batch(es); 0 duplicate(s) dropped, 1 held by another "
        "consumer; 2 reconnection(s); the channel was taken over 1 time(s)")


def test_bad_usage_exits_2() -> None:
    no_key = run_mds("listen", "--host", "http://127.0.0.1:9")
    assert no_key.returncode == 2
    assert "MDS_API_KEY" in no_key.stderr
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
    assert "long-poll" in result.stderr
    assert "--replace-existing" in result.stderr


def test_demo_exits_0_and_prints_events() -> None:
    started = time.monotonic()
    result = run_mds("demo")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15
    for text in ("DeviceRegistered", "ResourceChanged", "21.5", "'open'", "TLV",
                 "AsyncResponse", "DeviceDeregistered", "Received 9 events",
                 "pre-subscriptions set: type=Thermostat,/3303/*; type=Light; ep=door-*",
                 "AsyncResponse       ", "status 200 = 'Cel'",
                 "Not sent: thermostat-01 changed /3/0/9 (battery)"):
        assert text in result.stdout
    assert "/3/0/9 =" not in result.stdout  # the unsubscribed change never arrived
    assert result.stderr == ""


def test_demo_json_lines() -> None:
    result = run_mds("demo", "--json")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 9
    assert events[-1]["type"] == "DeviceDeregistered"


def test_emulator_subcommand_and_version() -> None:
    version = run_mds("--version")
    assert version.returncode == 0
    assert mds.__version__ in version.stdout
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
    event = ResourceChanged("dev", "/1/0/1", "text/plain", 0, b"5", 5)
    assert json.loads(json.dumps(event_to_json(event)))["payload"] == "NQ=="
    assert "dev" in format_event(event)
    assert "= 5" in format_event(event)
    failed = AsyncResponse("id-1", 504, "TIMEOUT")
    assert "504" in format_event(failed)
    assert "TIMEOUT" in format_event(failed)


def test_format_event_for_every_kind() -> None:
    resources = tuple(Resource(f"/3/0/{i}") for i in range(6))
    lines = [format_event(event) for event in (
        DeviceRegistered("dev", "Light", resources=resources),
        DeviceRegistrationUpdated("dev", resources=resources[:1]),
        DeviceDeregistered("dev"),
        DeviceRegistrationExpired("dev"),
        AsyncResponse("id-2", 200, payload=b"42", value=42),
        ResourceChanged("dev", "/1/0/1", None, None, b"", None, error="bad base64"),
    )]
    assert lines[0].startswith("registered")
    assert "(Light)" in lines[0]
    assert "/3/0/3, +2 more" in lines[0]
    assert lines[1].startswith("reg. updated")
    assert "/3/0/0" in lines[1]
    assert lines[2].startswith("deregistered")
    assert lines[3].startswith("reg. expired")
    assert lines[4] == "async response  id-2 status 200 = 42"
    assert lines[5].endswith("[malformed: bad base64]")
    assert "no content type" in lines[5]
    assert format_event("something else") == "str 'something else'"


def test_event_to_json_turns_any_value_into_json() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)

    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    for value, expected in [(when, "2024-05-01T12:00:00+00:00"), (Opaque(), "opaque"),
                            ({"a": (1, b"\x00")}, {"a": [1, "AA=="]}),
                            (mds.Webhook("https://example.com/hook"),
                             {"url": "https://example.com/hook"})]:
        event = ResourceChanged("dev", "/1/0/1", "x", None, b"", value)
        data = event_to_json(event)
        assert data["value"] == expected
        assert json.loads(json.dumps(data)) == data


def test_main_in_process_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["listen", "--api-key", "ak_x", "--forward-header", "no-colon"],
                 ["listen", "--api-key", "ak_x", "--forward-to", "ftp://example.com"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == EXIT_USAGE
    assert "--forward-header" in capsys.readouterr().err


def test_main_in_process_listen_refusals(server: ScriptedServer,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    level, handlers = logging.getLogger("mds").level, logging.getLogger("mds").handlers[:]
    # A service that knows no such endpoint: nothing to retry, exit 1 with the error.
    code = main(["listen", "--host", server.url, "--api-key", "ak_secret_value"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILURE
    assert "NotFoundException" in err
    assert "ak_secret_value" not in err
    server.reply("PUT", "/v2/notification/websocket", 401, {"code": 401})
    assert main(["listen", "--host", server.url, "--api-key", "ak_secret_value"]) == EXIT_AUTH
    # In-process, the command leaves the logging as it found it.
    assert logging.getLogger("mds").level == level
    assert logging.getLogger("mds").handlers == handlers
    # From another thread than the main one, where no signal handler can be set: the same.
    server.reply("PUT", "/v2/notification/websocket", 401, {"code": 401})
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(
        main(["listen", "--host", server.url, "--api-key", "ak_secret_value"])))
    worker.start()
    worker.join(30)
    assert codes == [EXIT_AUTH]


def test_main_in_process_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Received 9 events" in out
    assert "TLV {5700=22.5, 5701='Cel'}" in out


def test_forwarder_retries_until_the_handler_says_2xx(server: ScriptedServer) -> None:
    server.reply("PUT", "/hook", 503)
    server.reply("PUT", "/hook", 204)
    err = io.StringIO()
    forwarder = Forwarder(server.url + "/hook", {"authorization": "local"}, err)
    try:
        forwarder.send({"de-registrations": ["d"]}, 1)
    finally:
        forwarder.close()
    report = err.getvalue().splitlines()
    assert "503" in report[0]
    assert "retrying in 1 s" in report[0]
    assert "204" in report[1]
    assert "(attempt 2)" in report[1]
    assert [r.body for r in server.requests] == [b'{"de-registrations":["d"]}'] * 2
    assert server.requests[0].header("authorization") == "local"


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_demo_in_process_stopped_by_sigterm_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    before = signal.getsignal(signal.SIGTERM)
    # Any moment of the demo will do: it must wind down cleanly and exit 0.
    timer = threading.Timer(0.5, signal.pthread_kill, (main_thread, signal.SIGTERM))
    timer.start()
    try:
        assert main(["demo"]) == EXIT_OK
    finally:
        timer.join()
    assert "mds: stopped" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # put back as it was


# -- mds request ----------------------------------------------------------------------------------

@pytest.fixture
def device(mds_emulator: Emulator) -> Emulator:
    """The emulator with one thermostat on it."""
    mds_emulator.register_device("thermostat-01", ept="Thermostat", resources={
        "/3303/0/5700": 21.5, "/3303/0/5701": "Cel", "/3/0/4": None,
        "/3311/0": {"ct": "application/json", "value": {"on": True}},
        "/3/0/6": {"ct": "application/octet-stream", "payload_b64": "AAE="}})
    return mds_emulator


def run_request(emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    """``mds request ARGS`` with the emulator's URL and key in the environment."""
    return run_mds("request", *args, MDS_API_KEY=emu.api_key, MDS_HOST=emu.url)


def test_request_prints_the_decoded_answer(device: Emulator) -> None:
    read = run_request(device, "thermostat-01", "/3303/0/5700")
    assert (read.returncode, read.stdout, read.stderr) == (0, "21.5\n", "")
    written = run_request(device, "thermostat-01", "3303/0/5701", "--method", "put",
                      "--payload", "Fahrenheit")
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert "status 200, no payload" in written.stderr
    assert device.device("thermostat-01")["resources"]["/3303/0/5701"]["value"] == "Fahrenheit"
    # Another key (devices are shared), whose channel is a long poll.
    as_json = run_mds("request", "thermostat-01", "/3311/0", "--json", "--channel", "long-poll",
                      MDS_API_KEY="ak_another_key", MDS_HOST=device.url)
    answer = json.loads(as_json.stdout)
    assert (answer["type"], answer["status"], answer["value"]) == ("AsyncResponse", 200,
                                                                    {"on": True})
    json_value = run_request(device, "thermostat-01", "/3311/0")
    assert json.loads(json_value.stdout) == {"on": True}
    binary = run_request(device, "thermostat-01", "/3/0/6")
    assert binary.stdout == '"AAE="\n'  # bytes, as base64 JSON text
    device.on_execute("thermostat-01", "/3/0/4", lambda payload: b"rebooting in " + payload)
    executed = run_mds("request", "thermostat-01", "/3/0/4", "--method", "POST", "--payload", "5",
                       "--api-key", device.api_key, "--host", device.url)
    assert executed.stdout == "rebooting in 5\n"
    assert device.executions("thermostat-01")[0]["payload_b64"] == "NQ=="


def test_request_failures_have_their_exit_codes(device: Emulator) -> None:
    device.on_execute("thermostat-01", "/3/0/4", "not now", status=503)
    refused = run_request(device, "thermostat-01", "/3/0/4", "--method", "POST")
    assert refused.returncode == EXIT_DEVICE_ERROR
    assert "POST /3/0/4 on thermostat-01 failed: status 503 NOT_CONNECTED" in refused.stderr
    assert "not now" in refused.stderr
    refused_json = run_request(device, "thermostat-01", "/3/0/4", "--method", "POST", "--json")
    assert json.loads(refused_json.stdout)["status"] == 503
    unknown = run_request(device, "no-such-device", "/3303/0/5700")
    assert unknown.returncode == EXIT_FAILURE
    assert "DEVICE_NOT_FOUND" in unknown.stderr
    device.set_online("thermostat-01", False)
    silent = run_request(device, "thermostat-01", "/3303/0/5700", "--timeout", "0.3")
    assert silent.returncode == EXIT_TIMEOUT
    assert "no answer to GET /3303/0/5700 on thermostat-01 within 0.3 s" in silent.stderr
    assert device.api_key not in refused.stderr + unknown.stderr + silent.stderr


def test_request_usage_and_refusals(capsys: pytest.CaptureFixture[str],
                                    device: Emulator) -> None:
    for argv, complaint in [
            (["request", "d", "/1/0/1", "--api-key", "ak_x", "--method", "PATCH"], "--method"),
            (["request", "d", "/1/0/1", "--api-key", "ak_x", "--timeout", "0"], "more than 0"),
            (["request", "d", "/1/0/1", "--api-key", "ak_x", "--timeout", "soon"], "seconds"),
            (["request", "d", "/1/0/1#x", "--api-key", "ak_x"], "'#'"),
            (["request", "d", "/1/0/1"], "MDS_API_KEY")]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == EXIT_USAGE
        err = capsys.readouterr().err
        assert complaint in err
        assert err.startswith("usage: mds request")
    assert device.requests() == []
    assert main(["request", "thermostat-01", "/3303/0/5700", "--host", device.url,
                 "--api-key", "not-an-api-key"]) == EXIT_AUTH
    assert "refused" in capsys.readouterr().err
    mds.NotificationsApi(mds.ApiClient(mds.Configuration(
        host=device.url, api_key=device.api_key))).long_poll_notifications()
    assert main(["request", "thermostat-01", "/3303/0/5700", "--host", device.url,
                 "--api-key", device.api_key]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "long-poll channel, where the answer would go" in err


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_request_interrupted_exits_0(capsys: pytest.CaptureFixture[str], device: Emulator) -> None:
    device.set_online("thermostat-01", False)
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    timer = threading.Timer(0.5, signal.pthread_kill, (main_thread, signal.SIGTERM))
    timer.start()
    try:
        assert main(["request", "thermostat-01", "/3303/0/5700", "--host", device.url,
                     "--api-key", device.api_key]) == EXIT_OK
    finally:
        timer.join()
    assert "mds: stopped" in capsys.readouterr().err


# -- mds listen --subscribe ----------------------------------------------------------------------

def test_listen_subscribe_sets_the_rules_first(mds_emulator: Emulator, listen: Callable[..., Any],
                                               mds_client: mds.ApiClient) -> None:
    proc, out, err = listen("--host", mds_emulator.url, "--api-key", mds_emulator.api_key,
                            "--subscribe", "type=Thermostat,/3303/*",
                            "--subscribe", "ep=door-*")
    err.wait(lambda lines: any("pre-subscriptions set" in line for line in lines))
    assert mds.SubscriptionsApi(mds_client).get_pre_subscriptions() == [
        mds.Presubscription(endpoint_type="Thermostat", resource_path=["/3303/*"]),
        mds.Presubscription(endpoint_name="door-*")]
    wait_connected(mds_emulator)
    mds_emulator.register_device("thermostat-01", ept="Thermostat",
                                 resources={"/3303/0/5700": 20, "/3/0/9": 90})
    mds_emulator.set_resource("thermostat-01", "/3/0/9", 87)  # no rule: not sent
    mds_emulator.set_resource("thermostat-01", "/3303/0/5700", 21.5)
    lines = out.wait(lambda lines: len(lines) >= 2)
    assert lines[0].startswith("registered")
    assert "/3303/0/5700 = 21.5" in lines[1]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert len(out.join()) == 2
    assert "type=Thermostat,/3303/*; ep=door-*" in "\n".join(err.join())


def test_subscribe_patterns_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for pattern, complaint in [("bad", "'bad' in 'bad' is not a resource path"),
                               ("ep=a,ep=b", "ep= given twice"),
                               ("type=", "is not a resource path"),
                               ("ep=a*b", "'*' is allowed only at the end")]:
        with pytest.raises(SystemExit) as info:
            main(["listen", "--api-key", "ak_x", "--subscribe", pattern])
        assert info.value.code == EXIT_USAGE
        err = capsys.readouterr().err
        assert complaint in err
        assert err.startswith("usage: mds listen")


def test_subscription_rules_read_as_patterns() -> None:
    assert subscription_rule("/3303/*") == {"resource-path": ["/3303/*"]}
    assert subscription_rule(" ep=node* , type=Sensor ,/3/0/9,/1/*") == {
        "endpoint-name": "node*", "endpoint-type": "Sensor", "resource-path": ["/3/0/9", "/1/*"]}
    assert describe_rules([]) == "none (every rule removed)"
    assert describe_rules([mds.Presubscription()]) == "everything"
