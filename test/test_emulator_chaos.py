"""The emulator's seeded chaos: every kind of fault as a real client sees it, the record of what
was injected and of what became of every item, and the same faults again from the same seed.

Each kind is switched on alone (probability 1, every other kind 0) and observed with plain
urllib3 or websockets' own client; the determinism and accounting tests use small probabilities
with fixed seeds. Time-based rules run on a ManualClock.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

import mds
import mds.emulator
from mds.emulator import Emulator, ManualClock, _cli
from mds.emulator._chaos import KINDS, key_id
from servers import Reply, ScriptedServer, wait_until

PULL = "/v2/notification/pull"
WEBSOCKET = "/v2/notification/websocket"
CLI = "import sys; from mds.emulator._cli import main; sys.exit(main())"
TAKEOVER_WORDS = ("another", "took over", "takeover", "new connection")


def only(kind: str, probability: float = 1.0) -> dict[str, float]:
    """``faults=`` that switches on ``kind`` alone."""
    faults = dict.fromkeys(KINDS, 0.0)
    faults[kind] = probability
    return faults


def rest(
    http: urllib3.PoolManager, emu: Emulator, method: str, path: str, **kwargs: Any
) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": f"Bearer {emu.api_key}", **kwargs.pop("headers", {})}
    return http.request(method, emu.url + path, headers=headers, **kwargs)


def notify(emu: Emulator, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        assert emu.notify("dev-1", f"/3303/0/{n}", n) == 1


def paths(body: bytes | str) -> list[str]:
    return [item["path"] for item in json.loads(body)["notifications"]]


def open_socket(emu: Emulator) -> ClientConnection:
    kwargs: dict[str, Any] = {
        "subprotocols": ["wss", f"pelion_{emu.api_key}"],
        "open_timeout": 5,
        "close_timeout": 2,
    }
    if "legacy" in inspect.signature(connect).parameters:
        kwargs["legacy"] = True  # websockets >= 17.1 warns on direct use otherwise
    connection: ClientConnection = connect(
        "ws" + emu.url[len("http") :] + "/v2/notification/websocket-connect", **kwargs
    )
    return connection


def read_until_closed(ws: ClientConnection, timeout: float = 5.0) -> list[str]:
    """Every frame until the socket ends (the test fails if it does not within ``timeout``)."""
    frames: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            frame = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            frames.append(frame if isinstance(frame, str) else frame.decode())
    except ConnectionClosed:
        return frames


def items(emu: Emulator) -> dict[str, Any]:
    report: dict[str, Any] = emu.chaos_report()["items"]
    return report


def balanced(emu: Emulator) -> bool:
    """Every queued item is delivered, lost or still queued: the ledger adds up."""
    ledger = items(emu)
    accounted = ledger["delivered"] + sum(ledger["lost"].values()) + ledger["still_queued"]
    return bool(ledger["queued"] == accounted)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(long_poll_hold=0.1, webhook_backoff_base=0.01) as emulator:
        yield emulator


# ---------------------------------------------------------------------- REST


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rest_errors_with_and_without_retry_after(
    emu: Emulator, http: urllib3.PoolManager, status: int
) -> None:
    emu.set_chaos(0, seed=3, faults={f"rest.{status}": 1.0})
    seen = []
    for _ in range(12):
        response = rest(http, emu, "GET", "/v2/notification/channel")
        assert response.status == status
        assert response.json()["code"] == status
        seen.append(response.headers.get("Retry-After"))
    assert set(seen) == {"1", None}  # the seed chose both forms
    report = emu.chaos_report()
    assert report["counts"] == {f"rest.{status}": 12}
    assert [fault["retry_after"] for fault in report["faults"]] == seen
    assert {fault["where"] for fault in report["faults"]} == {"GET /v2/notification/channel"}
    assert {fault["key"] for fault in report["faults"]} == {key_id(emu.api_key)}
    assert emu.api_key not in json.dumps(report)


def test_the_sdk_sees_the_injected_errors(emu: Emulator) -> None:
    emu.set_chaos(0, seed=4, faults={"rest.503": 1.0}, endpoints=["PUT " + WEBSOCKET])
    config = mds.Configuration(host=emu.url, api_key=emu.api_key, retries=False)
    with mds.ApiClient(config) as client:
        api = mds.NotificationsApi(client)
        seen = []
        for _ in range(6):
            with pytest.raises(mds.ApiException) as refused:
                api.register_websocket()
            assert refused.value.status == 503
            seen.append((refused.value.headers or {}).get("Retry-After"))
        emu.set_chaos(None)
        assert api.register_websocket().status == "disconnected"
    report = emu.chaos_report()
    assert report["counts"] == {"rest.503": 6}
    assert [fault["retry_after"] for fault in report["faults"]] == seen


def test_a_request_without_a_key_is_recorded_without_one(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    emu.set_chaos(0, seed=1, faults={"rest.504": 1.0})
    assert http.request("GET", emu.url + "/v2/subscriptions").status == 504
    (fault,) = emu.chaos_report()["faults"]
    assert fault["key"] == "-"


def test_rest_latency_delays_the_real_answer(emu: Emulator, http: urllib3.PoolManager) -> None:
    emu.set_chaos(0, seed=1, faults={"rest.latency": 1.0})
    started = time.monotonic()
    response = rest(http, emu, "GET", "/v2/subscriptions")
    elapsed = time.monotonic() - started
    assert response.status == 200
    (fault,) = emu.chaos_report()["faults"]
    assert fault["kind"] == "rest.latency"
    assert 0.001 <= fault["delay"] <= 0.05
    assert elapsed >= fault["delay"]


def test_admin_routes_are_never_hit(emu: Emulator, http: urllib3.PoolManager) -> None:
    emu.set_chaos(1.0, seed=1)
    for _ in range(20):
        assert http.request("GET", emu.url + "/_emulator/health").status == 200
        assert http.request("GET", emu.url + "/_emulator/chaos").status == 200
    assert emu.chaos_report()["counts"] == {}


def test_endpoints_limit_the_rest_faults(emu: Emulator, http: urllib3.PoolManager) -> None:
    emu.set_chaos(0, seed=1, faults={"rest.503": 1.0}, endpoints=["GET /v2/subscriptions"])
    assert rest(http, emu, "GET", "/v2/subscriptions").status == 503
    assert rest(http, emu, "PUT", WEBSOCKET).status == 201
    assert emu.chaos_report()["counts"] == {"rest.503": 1}
    with pytest.raises(ValueError, match="unknown endpoint"):
        emu.set_chaos(0.1, endpoints=["GET /nowhere"])
    with pytest.raises(ValueError, match="unknown kind"):
        emu.set_chaos(0.1, faults={"websocket.close_1006": 0.5})


def test_a_rest_error_on_a_long_poll_takes_nothing(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    assert rest(http, emu, "GET", PULL).status == 204  # creates the channel
    notify(emu, 3)
    emu.set_chaos(0, seed=5, faults={"rest.500": 1.0})
    for _ in range(3):
        assert rest(http, emu, "GET", PULL).status == 500
    emu.set_chaos(None)
    response = rest(http, emu, "GET", PULL)
    assert paths(response.data) == ["/3303/0/0", "/3303/0/1", "/3303/0/2"]
    # Counted once written whole, which the server notes just after the client has read it.
    assert wait_until(lambda: items(emu)["delivered"] == 3)
    ledger = items(emu)
    assert (ledger["queued"], ledger["delivered"], ledger["still_queued"]) == (3, 3, 0)
    assert sum(ledger["lost"].values()) == 0


# ---------------------------------------------------------------------- long poll


def test_long_poll_410_keeps_the_queue(emu: Emulator, http: urllib3.PoolManager) -> None:
    assert rest(http, emu, "GET", PULL).status == 204
    notify(emu, 2)
    emu.set_chaos(0, seed=1, faults={"long_poll.410": 1.0})
    response = rest(http, emu, "GET", PULL)
    assert response.status == 410
    assert response.json()["message"] == "CHANNEL_DELETED"
    emu.set_chaos(None)
    assert paths(rest(http, emu, "GET", PULL).data) == ["/3303/0/0", "/3303/0/1"]
    (fault,) = emu.chaos_report()["faults"]
    assert (fault["kind"], fault["where"], fault["queued"]) == ("long_poll.410", "long_poll", 2)


def test_long_poll_early_204_answers_at_once_and_keeps_the_queue(
    http: urllib3.PoolManager,
) -> None:
    with Emulator(long_poll_hold=30.0) as emu:
        emu.set_chaos(0, seed=1, faults={"long_poll.early_204": 1.0})
        started = time.monotonic()
        assert rest(http, emu, "GET", PULL).status == 204  # creates the channel
        notify(emu, 1)
        assert rest(http, emu, "GET", PULL).status == 204  # though something is queued
        assert time.monotonic() - started < 5  # not the 30 s hold
        emu.set_chaos(None)
        assert paths(rest(http, emu, "GET", PULL).data) == ["/3303/0/0"]
        assert emu.chaos_report()["counts"] == {"long_poll.early_204": 2}


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_long_poll_drop_loses_the_batch_in_flight(
    emu: Emulator, http: urllib3.PoolManager, seed: int
) -> None:
    assert rest(http, emu, "GET", PULL).status == 204
    notify(emu, 2)
    emu.set_chaos(0, seed=seed, faults={"long_poll.drop": 1.0})
    with pytest.raises(urllib3.exceptions.ProtocolError):
        rest(http, emu, "GET", PULL)
    emu.set_chaos(None)
    assert rest(http, emu, "GET", PULL).status == 204  # the batch is gone at the service
    report = emu.chaos_report()
    (fault,) = report["faults"]
    assert (fault["kind"], fault["items"]) == ("long_poll.drop", 2)
    assert 0 <= fault["cut"] < 1
    ledger = report["items"]
    assert ledger["lost"]["in_flight"] == 2
    assert ledger["delivered"] == 0
    assert [(lost["ep"], lost["path"], lost["reason"]) for lost in ledger["lost_items"]] == [
        ("dev-1", "/3303/0/0", "in_flight"),
        ("dev-1", "/3303/0/1", "in_flight"),
    ]
    assert all(lost["payload"] for lost in ledger["lost_items"])


def test_channel_expiry_on_a_long_poll_loses_the_queue(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    assert rest(http, emu, "GET", PULL).status == 204
    notify(emu, 2)
    emu.set_chaos(0, seed=1, faults={"channel.expiry": 1.0})
    assert rest(http, emu, "GET", PULL).status == 204  # a new, empty channel
    emu.set_chaos(None)
    notify(emu, 1, start=2)  # the new channel queues again
    assert paths(rest(http, emu, "GET", PULL).data) == ["/3303/0/2"]
    ledger = items(emu)
    assert ledger["lost"]["channel_expired"] == 2
    assert [lost["path"] for lost in ledger["lost_items"]] == ["/3303/0/0", "/3303/0/1"]
    assert emu.chaos_report()["counts"] == {"channel.expiry": 1}


# ---------------------------------------------------------------------- websocket


def registered(http: urllib3.PoolManager, emu: Emulator) -> None:
    assert rest(http, emu, "PUT", WEBSOCKET).status in (200, 201)


def test_websocket_drop_between_frames(emu: Emulator, http: urllib3.PoolManager) -> None:
    registered(http, emu)
    notify(emu, 1)
    emu.set_chaos(0, seed=1, faults={"websocket.drop": 1.0})
    with open_socket(emu) as ws:
        assert read_until_closed(ws) == []
        assert ws.close_code == 1006  # no close frame
    emu.set_chaos(None)
    assert items(emu)["still_queued"] == 1  # not taken: the next connection gets it
    with open_socket(emu) as ws:
        assert paths(ws.recv(timeout=5)) == ["/3303/0/0"]
    assert emu.chaos_report()["counts"] == {"websocket.drop": 1}
    assert wait_until(lambda: items(emu)["delivered"] == 1)


def test_websocket_drop_mid_frame_loses_the_frame(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    registered(http, emu)
    notify(emu, 2)
    emu.set_chaos(0, seed=1, faults={"websocket.drop_mid_frame": 1.0})
    with open_socket(emu) as ws:
        assert read_until_closed(ws) == []  # half a frame, then the connection ended
        assert ws.close_code == 1006
    report = emu.chaos_report()
    (fault,) = report["faults"]
    assert (fault["kind"], fault["items"], fault["cut"]) == ("websocket.drop_mid_frame", 2, 0.5)
    assert report["items"]["lost"]["in_flight"] == 2
    assert report["items"]["still_queued"] == 0
    assert [lost["path"] for lost in report["items"]["lost_items"]] == ["/3303/0/0", "/3303/0/1"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1001, "server shutting down"), (1011, "unexpected condition"), (1012, "service restart")],
)
def test_websocket_close_codes(
    emu: Emulator, http: urllib3.PoolManager, code: int, reason: str
) -> None:
    registered(http, emu)
    notify(emu, 1)
    emu.set_chaos(0, seed=1, faults={f"websocket.close_{code}": 1.0})
    with open_socket(emu) as ws:
        assert read_until_closed(ws) == []
        assert (ws.close_code, ws.close_reason) == (code, reason)
    assert not any(word in reason for word in TAKEOVER_WORDS)
    assert items(emu)["still_queued"] == 1
    assert emu.chaos_report()["counts"] == {f"websocket.close_{code}": 1}


def test_websocket_slow_frame_arrives_whole(emu: Emulator, http: urllib3.PoolManager) -> None:
    registered(http, emu)
    emu.set_chaos(0, seed=1, faults={"websocket.slow": 1.0})
    with open_socket(emu) as ws:
        notify(emu, 3)
        received: list[str] = []
        while len(received) < 3:
            received.extend(paths(ws.recv(timeout=5)))
    assert received == ["/3303/0/0", "/3303/0/1", "/3303/0/2"]
    assert wait_until(lambda: items(emu)["delivered"] == 3)
    report = emu.chaos_report()
    assert report["counts"]["websocket.slow"] >= 1
    assert sum(fault["items"] for fault in report["faults"]) == 3


def test_channel_expiry_on_a_websocket_loses_the_queue(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    registered(http, emu)
    notify(emu, 2)
    emu.set_chaos(0, seed=1, faults={"channel.expiry": 1.0})
    with open_socket(emu) as ws:
        assert read_until_closed(ws) == []
        assert ws.close_code == 1011  # as for a channel that was never registered
    assert rest(http, emu, "GET", WEBSOCKET).status == 404
    ledger = items(emu)
    assert ledger["lost"]["channel_expired"] == 2
    assert ledger["still_queued"] == 0


def test_a_handshake_can_be_refused(emu: Emulator, http: urllib3.PoolManager) -> None:
    registered(http, emu)
    emu.set_chaos(0, seed=1, faults={"rest.503": 1.0}, endpoints=["GET " + WEBSOCKET + "-connect"])
    with pytest.raises(InvalidStatus) as refused:
        open_socket(emu)
    assert refused.value.response.status_code == 503


# ---------------------------------------------------------------------- webhook


def test_webhook_retry_sends_an_acknowledged_batch_again(
    emu: Emulator, http: urllib3.PoolManager
) -> None:
    with ScriptedServer() as receiver:
        receiver.default = Reply(204)
        response = rest(
            http,
            emu,
            "PUT",
            "/v2/notification/callback",
            body=json.dumps({"url": receiver.url + "/hook"}),
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 204
        emu.set_chaos(0, seed=1, faults={"webhook.retry": 1.0})
        notify(emu, 1)

        def batches() -> list[bytes]:
            return [request.body for request in receiver.requests if request.body != b"{}"]

        assert wait_until(lambda: len(batches()) >= 2)
        emu.set_chaos(None)
        assert wait_until(lambda: items(emu)["delivered"] == 1)
        sent = batches()
        assert len(set(sent)) == 1  # the same batch, again and again
        assert paths(sent[0]) == ["/3303/0/0"]
        report = emu.chaos_report()
        assert report["counts"]["webhook.retry"] == len(sent) - 1
        assert report["items"]["still_queued"] == 0
        timeouts = [d for d in emu.deliveries() if d["kind"] == "delivery" and d["status"] is None]
        assert len(timeouts) == len(sent) - 1


# ---------------------------------------------------------------------- record and replay


def scripted_long_polls(seed: int) -> list[dict[str, Any]]:
    """The same client requests against a fresh emulator with chaos 0.1 and ``seed``."""
    clock = ManualClock()
    with (
        Emulator(
            api_keys=["ak_replay"],
            clock=clock,
            long_poll_hold=0,
            chaos=0.1,
            seed=seed,
        ) as emu,
        urllib3.PoolManager(retries=False, timeout=10) as http,
    ):
        for n in range(40):
            emu.notify("dev-1", f"/3303/0/{n}", n)
            try:
                rest(http, emu, "GET", PULL)
                rest(http, emu, "GET", "/v2/subscriptions")
            except urllib3.exceptions.ProtocolError:
                pass  # a long_poll.drop
            clock.advance(1)
        faults: list[dict[str, Any]] = emu.chaos_report()["faults"]
        assert wait_until(lambda: balanced(emu))
        return faults


def test_the_same_seed_gives_the_same_faults_in_the_same_order() -> None:
    first = scripted_long_polls(7)
    assert len({fault["kind"] for fault in first}) >= 5
    assert scripted_long_polls(7) == first
    assert scripted_long_polls(8) != first


def scripted_websocket(seed: int) -> list[dict[str, Any]]:
    """Reconnect until 30 queued items are read or lost (one item per frame)."""
    faults = dict.fromkeys(KINDS, 0.0)
    for kind in KINDS:
        if kind.startswith("websocket."):
            faults[kind] = 0.1
    clock = ManualClock()
    with (
        Emulator(api_keys=["ak_replay"], clock=clock, batch_limit=1, chaos=0, seed=seed) as emu,
        urllib3.PoolManager(retries=False, timeout=10) as http,
    ):
        registered(http, emu)
        notify(emu, 30)
        emu.set_chaos(0, seed=seed, faults=faults)
        received: list[str] = []
        for _ in range(100):
            ledger = items(emu)
            if ledger["still_queued"] == 0:
                break
            with open_socket(emu) as ws:
                try:
                    while len(received) + ledger["lost"]["in_flight"] < 30:
                        received.extend(paths(ws.recv(timeout=5)))
                        ledger = items(emu)
                except ConnectionClosed:
                    pass
        lost = items(emu)["lost"]["in_flight"]
        assert len(received) == 30 - lost
        assert wait_until(lambda: items(emu)["delivered"] == len(received))
        assert balanced(emu)
        report: list[dict[str, Any]] = emu.chaos_report()["faults"]
        return report


def test_the_same_seed_gives_the_same_websocket_faults() -> None:
    first = scripted_websocket(11)
    assert len(first) >= 3
    assert scripted_websocket(11) == first


def test_the_report_adds_up_under_chaos(http: urllib3.PoolManager) -> None:
    with Emulator(long_poll_hold=0, chaos=0.05, seed=2, batch_limit=3) as emu:
        received: list[str] = []
        for n in range(60):
            emu.notify("dev-1", f"/3303/0/{n}", n)
            try:
                response = rest(http, emu, "GET", PULL)
            except urllib3.exceptions.ProtocolError:
                continue
            if response.status == 200:
                received.extend(paths(response.data))
        assert wait_until(lambda: balanced(emu))
        report = emu.chaos_report()
        ledger = report["items"]
        assert ledger["delivered"] == len(received)
        lost = {item["path"] for item in ledger["lost_items"]}
        assert not lost & set(received)  # nothing counted lost reached the client
        assert ledger["lost_items_dropped"] == 0
        assert report["settings"]["seed"] == 2


def test_faults_and_lost_items_are_bounded(http: urllib3.PoolManager) -> None:
    with Emulator(record_limit=5, queue_limit_items=2, long_poll_hold=0) as emu:
        emu.set_chaos(0, seed=1, faults={"rest.503": 1.0})
        assert rest(http, emu, "GET", PULL).status == 503
        for _ in range(9):
            assert rest(http, emu, "GET", "/v2/subscriptions").status == 503
        emu.set_chaos(None)
        assert rest(http, emu, "GET", PULL).status == 204  # creates the channel
        emu.queue_message(
            {"notifications": [{"ep": "d", "path": f"/1/0/{n}"} for n in range(100)]}
        )
        report = emu.chaos_report()
        assert len(report["faults"]) == 5
        assert report["counts"] == {"rest.503": 10}
        assert report["faults_dropped"] == 5
        assert [fault["sequence"] for fault in report["faults"]] == [6, 7, 8, 9, 10]
        ledger = report["items"]
        assert ledger["lost"]["queue_cap"] == 98
        assert [item["path"] for item in ledger["lost_items"]] == [
            f"/1/0/{n}" for n in range(93, 98)
        ]
        assert ledger["lost_items_dropped"] == 93
        assert len(emu.requests()) == 5


# ---------------------------------------------------------------------- the controls


def test_admin_api_sets_and_reports_chaos(emu: Emulator, http: urllib3.PoolManager) -> None:
    body = {"probability": 0, "seed": 9, "faults": {"rest.502": 1}, "endpoints": None}
    response = http.request("PUT", emu.url + "/_emulator/chaos", body=json.dumps(body))
    assert response.status == 200
    assert response.json()["settings"]["seed"] == 9
    assert rest(http, emu, "GET", "/v2/subscriptions").status == 502
    report = http.request("GET", emu.url + "/_emulator/chaos").json()
    assert report == emu.chaos_report()
    assert report["settings"]["faults"]["rest.502"] == 1
    assert report["settings"]["faults"]["rest.500"] == 0
    assert report["counts"] == {"rest.502": 1}
    off = http.request("PUT", emu.url + "/_emulator/chaos", body=b'{"probability": null}')
    assert off.json()["settings"] is None
    assert rest(http, emu, "GET", "/v2/subscriptions").status == 200
    for bad in (
        {"probability": 2},
        {"probability": 0.1, "faults": {"rest.999": 0.5}},
        {"probability": 0.1, "seed": "x"},
        {"probability": 0.1, "colour": "red"},
        {"probability": True},
        {"probability": 0.1, "faults": ["rest.500"]},
        {"probability": 0.1, "endpoints": "GET /v2/subscriptions"},
    ):
        refused = http.request("PUT", emu.url + "/_emulator/chaos", body=json.dumps(bad))
        assert refused.status == 400
    assert http.request("POST", emu.url + "/_emulator/chaos", body=b"{}").status == 405
    assert http.request("PUT", emu.url + "/_emulator/notify", body=b"{}").status == 405


def test_constructor_and_reset() -> None:
    with pytest.raises(ValueError, match="probability"):
        Emulator(chaos=1.5)
    with pytest.raises(ValueError, match="record_limit"):
        Emulator(record_limit=0)
    emu = Emulator(chaos=0.02)
    settings = emu.chaos_report()["settings"]
    assert settings["probability"] == 0.02
    assert isinstance(settings["seed"], int)  # a random seed, shown to replay it
    assert set(settings["faults"]) == set(KINDS)
    emu.reset()
    assert emu.chaos_report()["settings"] == settings  # reset keeps the chaos settings


def test_command_line_runs_with_chaos() -> None:
    root = Path(mds.emulator.__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", CLI, "--port", "0", "--chaos", "0.02", "--seed", "7"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            banner = [process.stdout.readline() for _ in range(3)]
            assert banner[2] == "Chaos: 0.02 with seed 7\n"
            url = banner[0].split()[-1]
            with urllib3.PoolManager(retries=False, timeout=5) as http:
                settings = http.request("GET", url + "/_emulator/chaos").json()["settings"]
            assert (settings["probability"], settings["seed"]) == (0.02, 7)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0


def test_command_line_flags() -> None:
    parser = argparse.ArgumentParser()
    _cli.add_arguments(parser)
    args = parser.parse_args(["--chaos", "0.02", "--seed", "7", "--queue-limit-items", "5"])
    assert (args.chaos, args.seed, args.queue_limit_items) == (0.02, 7, 5)
    assert parser.parse_args([]).chaos is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--chaos", "1.5"])


def test_command_line_refuses_a_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    _cli.add_arguments(parser)
    assert _cli.run(parser.parse_args(["--port", "0", "--record-limit", "0"])) == 2
    assert capsys.readouterr().err == "mds emulator: record_limit must be a positive integer\n"
