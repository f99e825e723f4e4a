"""The soak: many notifications from simulated devices through a (chaotic) emulator to an
application behind the SDK, then a check of what arrived against what the service says it
delivered. Shared by ``benchmarks/soak.py`` (100,000 notifications, with figures) and
``test/test_soak.py`` (10,000, asserted).

What runs, per channel:

* an `mds.emulator.Emulator` with ``devices`` simulated devices (``soak-0000``, ...), each
  pre-subscribed to one resource whose values are that device's sequence numbers 0, 1, 2, ...
  (so the pair device + value names a notification, and per-device order is checkable on every
  channel, the long poll too, which has no ``uid``);
* the producer: rounds of one change per device, in a seeded random device order, never more
  than ``window`` notifications ahead of what the application has (or the service declared
  lost), so the queues stay bounded and RSS measures the consumer, not a backlog. The emulator
  and the producer run in threads of this process (`ServiceSide`), or in a child process
  (`ServiceProcess`) so that they neither share the consumer's GIL nor count in its RSS;
* the consumer: `mds.NotificationListener` (websocket, long poll) iterated by a thread, or
  `mds.WebhookReceiver` behind a real WSGI server registered as the callback (wsgiref in a
  thread, or gunicorn's workers sharing a checkpoint: `GunicornConsumer`). Websocket and
  webhook channels are registered with the 2020 ``cfg`` asking for ``uid`` and ``timestamp``;
* the application (`Application`): appends one line ``device seq uid time`` per notification it
  is handed to a history file (memory stays flat however long the run).

Chaos is switched on after the setup (pre-subscriptions, channel registration), with the seed,
so that the run's faults are reproducible as far as the requests are. Afterwards the history is
checked against the emulator's ledger (`verify`): every notification the service delivered (it
queued, minus what it lost in flight or with an expired channel) reached the application
exactly once, in per-device order; nothing else reached it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import IO, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import mds
from mds.emulator import Emulator
from mds.events import Event, ResourceChanged
from mds.listener import NotificationListener, ReconnectPolicy
from servers import wait_until

CHANNELS = ("websocket", "long-poll", "webhook")
API_KEY = "ak_soak000000000000000000000000000000"
RESOURCE = "/3303/0/5700"
#: The 2020 serialization the webhook is registered with (the listener asks for the same).
UID_SERIALIZATION: Mapping[str, Any] = {
    "type": "v2", "cfg": {"include_uid": True, "include_timestamp": True},
}
#: Reconnect quickly: chaos drops connections often, and waiting seconds each time measures
#: the back-off, not the SDK.
FAST_RECONNECT = ReconnectPolicy(initial_delay=0.01, max_delay=0.2, healthy_after=1.0,
                                 takeover_delay=0.05, takeover_max_delay=0.5)


def device_name(index: int) -> str:
    return f"soak-{index:04d}"


# ------------------------------------------------------------------------------------------------
# configuration and results
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SoakConfig:
    """One soak run on one channel.

    ``notifications`` is rounded down to a multiple of ``devices`` (each device sends
    ``notifications // devices`` values). ``window``: most notifications produced ahead of the
    application (and of what the service declared lost). ``warmup``: the share of the run after
    which the "warm" RSS is read (after the dedupe windows of 20,000 uids have filled); RSS is
    also sampled after every tenth of the run. ``drain_timeout``: seconds allowed, after the
    last change, for everything to arrive. ``chaos_faults``: per kind of fault its probability, handed to the
    emulator's ``set_chaos`` (None: ``chaos`` for every kind). ``batch_limit``: most items in
    one delivered message (small batches mean more frames, polls and deliveries, so more
    decisions for the chaos). ``emulator_process``: run the emulator and the producer in a
    child process (`ServiceProcess`) instead of threads of this one. ``checkpoint``: the
    consumer's ``checkpoint=`` (a sqlite file or a ``redis://`` URL; None: the in-memory
    dedupe window alone). ``gunicorn_workers``: serve the webhook receiver with that many
    gunicorn workers (`GunicornConsumer`; give them a shared ``redis://`` checkpoint) instead
    of wsgiref in a thread. ``log_dir``: where the history directory goes.
    """

    channel: str
    notifications: int = 100_000
    devices: int = 1000
    chaos: float = 0.02
    seed: int = 7
    window: int = 2000
    warmup: float = 0.3
    drain_timeout: float = 120.0
    chaos_faults: Mapping[str, float] | None = None
    log_dir: str | None = None
    emulator_process: bool = False
    batch_limit: int = 100
    checkpoint: str | None = None
    gunicorn_workers: int = 0

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
        if self.devices < 1 or self.notifications < self.devices:
            raise ValueError("need at least one device and one notification per device")

    @property
    def per_device(self) -> int:
        return self.notifications // self.devices


@dataclass
class SoakResult:
    """What one run measured and what its check found (`verify` fills the check)."""

    config: SoakConfig
    sent: int = 0
    delivered: int = 0  # by the service, from its record
    still_queued: int = 0  # at the service when the run ended
    record_complete: bool = True  # the service's record adds up and lists every lost item
    lost: dict[str, int] = field(default_factory=dict)  # in flight at the service, by reason
    lost_listed: int = 0  # lost items the record names (device, value)
    received: int = 0  # notifications handed to the application, repeats included
    unique: int = 0
    duplicates: int = 0
    order_violations: int = 0
    missing: int = 0  # delivered by the service, never reached the application
    unexpected: int = 0  # reached the application, but the service never sent it
    lost_but_received: int = 0  # the service says lost, the application got it
    not_queued: int = 0  # changes made while the key had no channel: sent nowhere
    without_uid: int = 0  # received without a uid (expected on the long poll only)
    other_events: int = 0
    reconnects: int | None = None
    consumer_stats: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    chaos: str = "off"
    wall: float = 0.0
    rss_before: int = 0
    rss_warm: int = 0
    rss_samples: list[int] = field(default_factory=list)  # after each tenth of the rounds
    rss_end: int = 0
    emulator_rss: int | None = None  # the child process's, with ``emulator_process``
    drained: bool = False
    consumer_error: str | None = None
    examples: list[str] = field(default_factory=list)  # a few failures, for the report
    history_dir: str = ""  # the history files of the run

    @property
    def ok(self) -> bool:
        """Every notification the service delivered reached the application exactly once and
        in per-device order, nothing else did, the run drained, and the service's record adds
        up; on the channels with uids, every item carried one (without, repeats cannot be
        told apart)."""
        return (self.drained and self.record_complete and self.missing == 0
                and self.lost_but_received == 0 and self.duplicates == 0
                and self.order_violations == 0 and self.unexpected == 0
                and self.consumer_error is None
                and (self.config.channel == "long-poll" or self.without_uid == 0))

    def rows(self) -> list[tuple[str, str]]:
        mb = 2**20
        lost = ", ".join(f"{reason} {n}" for reason, n in sorted(self.lost.items())) or "0"
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())) or "none"
        return [
            ("channel", self.config.channel),
            ("seed / chaos", f"{self.config.seed} / {self.chaos}"),
            ("devices x values", f"{self.config.devices} x {self.config.per_device}"),
            ("batch limit / window", f"{self.config.batch_limit} / {self.config.window}"),
            ("checkpoint", _redacted(self.config.checkpoint)),
            ("consumer", _consumer_name(self.config)),
            ("emulator", "child process" if self.config.emulator_process else "this process"),
            ("sent", f"{self.sent} (+{self.not_queued} made while there was no channel)"),
            ("delivered by the service", f"{self.delivered} ({self.still_queued} still queued)"),
            ("lost at the service", f"{sum(self.lost.values())} ({lost})"),
            ("received by the application", f"{self.received} ({self.unique} distinct)"),
            ("received without a uid", str(self.without_uid)),
            ("duplicates reaching the application", str(self.duplicates)),
            ("delivered but never received", str(self.missing)),
            ("received but declared lost", str(self.lost_but_received)),
            ("per-device order violations", str(self.order_violations)),
            ("reconnects", "n/a" if self.reconnects is None else str(self.reconnects)),
            ("consumer stats", ", ".join(f"{k} {v}" for k, v in self.consumer_stats.items())),
            ("faults injected", faults),
            ("wall time", f"{self.wall:.1f} s"),
            ("RSS before / warm / end", f"{self.rss_before / mb:.1f} / {self.rss_warm / mb:.1f} / "
                                        f"{self.rss_end / mb:.1f} MB"),
            ("RSS growth after warm-up", f"{(self.rss_end - self.rss_warm) / mb:+.1f} MB"),
            ("RSS after each tenth", " ".join(f"{rss / mb:.1f}" for rss in self.rss_samples)),
            ("emulator process RSS at the end",
             "-" if self.emulator_rss is None else f"{self.emulator_rss / mb:.1f} MB"),
            ("drained", str(self.drained)),
            ("verdict", "exactly once, in order" if self.ok else "FAILED"),
        ]

    def table(self) -> str:
        rows = self.rows()
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        if self.consumer_error:
            lines.append(f"{'consumer error'.ljust(width)}  {self.consumer_error}")
        lines += [f"{'example'.ljust(width)}  {example}" for example in self.examples]
        return "\n".join(lines)


def _consumer_name(config: SoakConfig) -> str:
    if config.channel != "webhook":
        return f"NotificationListener ({config.channel})"
    if config.gunicorn_workers:
        return f"WebhookReceiver in {config.gunicorn_workers} gunicorn workers (RSS: theirs, summed)"
    return "WebhookReceiver on wsgiref, threaded"


def _redacted(checkpoint: str | None) -> str:
    """The checkpoint without a password a Redis URL may carry."""
    if checkpoint is None:
        return "none (in-memory dedupe window)"
    if "://" in checkpoint:
        scheme, _, rest = checkpoint.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
    return "sqlite " + Path(checkpoint).name


def rss_bytes(pid: int | str = "self") -> int:
    """A process's resident set size (this one's by default), from /proc/<pid>/statm."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_settled() -> int:
    gc.collect()
    return rss_bytes()


# ------------------------------------------------------------------------------------------------
# the application: what reached it, as a history on disk
# ------------------------------------------------------------------------------------------------

class Application:
    """The consumer's application: logs ``device seq uid time`` for every notification it is
    handed (``time``: `time.monotonic_ns`, one clock for every process of the machine, so the
    histories of several workers merge in order), thread-safe, and counts distinct ones for the
    producer's flow control."""

    def __init__(self, log: IO[str], devices: int, per_device: int) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._per_device = per_device
        self._seen = bytearray(devices * per_device)
        self.received = 0
        self.unique = 0
        self.other = 0

    def take(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            with self._lock:
                self.other += 1
            return
        device = event.device_id
        value = event.value
        with self._lock:
            self._log.write(f"{device} {value} {event.uid} {time.monotonic_ns()}\n")
            self.received += 1
            index = _index(device, value, self._per_device)
            if index is not None and index < len(self._seen) and not self._seen[index]:
                self._seen[index] = 1
                self.unique += 1


def _index(device: str, value: Any, per_device: int) -> int | None:
    try:
        return int(device.rsplit("-", 1)[1]) * per_device + int(value)
    except (IndexError, ValueError, TypeError):
        return None


# ------------------------------------------------------------------------------------------------
# consumers: one per kind of channel, behind one small interface
# ------------------------------------------------------------------------------------------------

class ListenerConsumer:
    """`NotificationListener` on the websocket or the long poll, iterated by its own thread."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.listener: NotificationListener | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    def open(self, client: mds.ApiClient, app: Application, channels: Callable[[], int],
             checkpoint: str | None) -> None:
        # The listener registers the websocket channel asking for uids itself (the check counts
        # items that arrive without one).
        self.listener = listener = NotificationListener(
            client, self.channel, reconnect=FAST_RECONNECT, ping_interval=5.0,
            ping_timeout=5.0, close_timeout=0.2, checkpoint=checkpoint)
        listener.open()
        self._thread = threading.Thread(target=self._run, args=(listener, app),
                                        name=f"mds-soak-{self.channel}")
        self._thread.start()
        # A long poll creates its channel with its first GET: nothing may be produced before.
        wait_until(lambda: channels() > 0, 10.0)

    def _run(self, listener: NotificationListener, app: Application) -> None:
        try:
            for event in listener:
                app.take(event)
        except Exception as exc:  # noqa: BLE001 - any failure is reported: the run fails
            self.error = f"{type(exc).__name__}: {exc}"
            return
        if not self._closing:  # a consumer that stops listening loses everything after
            stats = listener.stats
            self.error = (f"the iteration ended by itself (last close code "
                          f"{stats.last_close_code} {stats.last_close_reason!r})")

    def stats(self) -> dict[str, Any]:
        if self.listener is None:
            return {}
        stats = self.listener.stats
        return {name: getattr(stats, name) for name in
                ("reconnects", "failures", "takeovers", "bad_frames", "duplicates_dropped")}

    def close(self) -> None:
        self._closing = True
        if self.listener is not None:
            self.listener.stop()
        if self._thread is not None:
            self._thread.join(10)
        if self.listener is not None:
            self.listener.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


class _ThreadedWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class WebhookConsumer:
    """`WebhookReceiver` behind wsgiref (a thread per request), registered as the callback."""

    channel = "webhook"

    def __init__(self) -> None:
        self.receiver: mds.WebhookReceiver | None = None
        self.error: str | None = None
        self._server: _ThreadedWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def open(self, client: mds.ApiClient, app: Application, channels: Callable[[], int],
             checkpoint: str | None) -> None:
        secret = secrets.token_urlsafe(16)
        self.receiver = receiver = mds.WebhookReceiver(
            {"authorization": secret}, on_event=app.take, checkpoint=checkpoint)
        server = make_server("127.0.0.1", 0, receiver, server_class=_ThreadedWSGIServer,
                             handler_class=_QuietHandler)
        assert isinstance(server, _ThreadedWSGIServer)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="mds-soak-webhook")
        self._thread.start()
        url = f"http://127.0.0.1:{server.server_port}/hook"
        mds.NotificationsApi(client).register_webhook(
            mds.Webhook(url=url, headers={"authorization": secret},
                        serialization=dict(UID_SERIALIZATION)))

    def stats(self) -> dict[str, Any]:
        return {} if self.receiver is None else asdict(self.receiver.stats)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)


class GunicornConsumer:
    """`WebhookReceiver` in the workers of a gunicorn server (``gunicorn_app``), sharing the
    checkpoint (a ``redis://`` URL, the scale-out deployment of docs/Delivery-guarantees.md).
    Each worker writes its own history file; the application's progress is read from the
    service's ledger instead (a batch counts as delivered once answered 2xx, after its
    handler ran)."""

    channel = "webhook"

    def __init__(self, workers: int, history_dir: str, config: SoakConfig) -> None:
        self.workers = workers
        self.history_dir = history_dir
        self.config = config
        self.error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def open(self, client: mds.ApiClient, app: Application, channels: Callable[[], int],
             checkpoint: str | None) -> None:
        secret = secrets.token_urlsafe(16)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "MDS_SOAK_SECRET": secret, "MDS_SOAK_CHECKPOINT": checkpoint or "",
               "MDS_SOAK_HISTORY": self.history_dir,
               "MDS_SOAK_SHAPE": f"{self.config.devices} {self.config.per_device}"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{port}",
             "--pythonpath", str(Path(__file__).resolve().parent), "--graceful-timeout", "5",
             "--log-level", "warning", "soak_harness:gunicorn_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}/hook"
        if not wait_until(lambda: _answers_validation(url, secret), 20.0):
            raise RuntimeError("gunicorn did not start")
        mds.NotificationsApi(client).register_webhook(
            mds.Webhook(url=url, headers={"authorization": secret},
                        serialization=dict(UID_SERIALIZATION)))

    def rss(self) -> int:
        """The workers' RSS, together."""
        if self._process is None:
            return 0
        total = 0
        for task in Path(f"/proc/{self._process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    total += rss_bytes(int(pid))
        return total

    def stats(self) -> dict[str, Any]:
        handled = [path for path in Path(self.history_dir).glob("history-*.log")
                   if path.stat().st_size]
        return {"workers": self.workers, "workers that handled items": len(handled)}

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            _, errors = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        if b"Traceback" in errors:
            self.error = "a gunicorn worker failed: " + errors.decode(errors="replace")[-2000:]


def _answers_validation(url: str, secret: str) -> bool:
    """Whether the receiver at *url* answers the service's validation request with 204."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=b"{}", method="PUT",
                                     headers={"Authorization": secret,
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status) == 204
    except (OSError, urllib.error.URLError):
        return False


def gunicorn_app() -> mds.WebhookReceiver:
    """The WSGI application of each gunicorn worker of `GunicornConsumer` (configured by its
    environment): a receiver on the shared checkpoint, writing this worker's history."""
    devices, per_device = (int(n) for n in os.environ["MDS_SOAK_SHAPE"].split())
    path = Path(os.environ["MDS_SOAK_HISTORY"]) / f"history-{os.getpid()}.log"
    log = open(path, "w", buffering=1)  # line by line: a worker may be stopped at any time
    app = Application(log, devices, per_device)
    return mds.WebhookReceiver({"authorization": os.environ["MDS_SOAK_SECRET"]},
                               on_event=app.take,
                               checkpoint=os.environ["MDS_SOAK_CHECKPOINT"] or None)


Consumer = ListenerConsumer | WebhookConsumer | GunicornConsumer


def make_consumer(config: SoakConfig, history_dir: str) -> Consumer:
    if config.channel != "webhook":
        return ListenerConsumer(config.channel)
    if config.gunicorn_workers:
        return GunicornConsumer(config.gunicorn_workers, history_dir, config)
    return WebhookConsumer()


# ------------------------------------------------------------------------------------------------
# the service side: the emulator, its devices and the producer, in this process or a child
# ------------------------------------------------------------------------------------------------

class ServiceSide:
    """The emulator with the soak's devices, and the producer of their changes.

    The producer changes each device's resource to 0, 1, 2, ... in rounds (one change per device
    a round, devices in a seeded random order), and stays at most ``window`` notifications ahead
    of ``progress()`` (the distinct notifications the application has) plus what the service
    declared lost. ``queued`` marks each (device, value) the service queued for the channel (a
    change made while there is no channel goes nowhere, and is not expected anywhere).
    """

    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        # Every lost item must stay listed (the check names them); the other records are
        # bounded by the same limit.
        self.emulator = Emulator(api_keys=[API_KEY], long_poll_hold=1.0,
                                 webhook_backoff_base=0.01, webhook_backoff_cap=0.1,
                                 webhook_timeout=5.0, batch_limit=config.batch_limit,
                                 record_limit=max(10_000, config.notifications))
        self.devices = [device_name(i) for i in range(config.devices)]
        self.queued = bytearray(config.devices * config.per_device)
        self._ledger = (0, 0)
        self._ledger_read = 0.0

    def start(self) -> str:
        self.emulator.start()
        return self.emulator.url

    def register_devices(self) -> None:
        for ep in self.devices:
            self.emulator.register_device(ep, ept="soak", resources={RESOURCE: -1})

    def channels(self) -> int:
        return int(self.emulator.health()["channels"])

    def arm_chaos(self) -> str:
        """Switch chaos on as configured; says how it went ("off" or the probability)."""
        config = self.config
        if config.chaos <= 0:
            return "off"
        self.emulator.set_chaos(config.chaos, seed=config.seed, faults=config.chaos_faults)
        return f"{config.chaos:g}"

    def report(self) -> dict[str, Any]:
        return self.emulator.chaos_report()

    def ledger(self) -> tuple[int, int]:
        """How many items the service has delivered, and declared lost (its record read at
        most every 50 ms: it is a copy of every fault and lost item)."""
        now = time.monotonic()
        if now - self._ledger_read > 0.05:
            self._ledger_read = now
            items = self.report()["items"]
            self._ledger = (items["delivered"], sum(items["lost"].values()))
        return self._ledger

    def produce(self, progress: Callable[[], int] | None, tick: Callable[[], None]) -> int:
        """Make every change; returns how many notifications the service queued. Calls *tick*
        after every tenth of the rounds (10 times). Without *progress*, the application's is
        what the service counts as delivered."""
        if progress is None:
            progress = self._delivered
        config = self.config
        rng = random.Random(config.seed)
        set_resource = self.emulator.set_resource
        devices, queued, per_device = self.devices, self.queued, config.per_device
        window = config.window
        ticks = {max(1, per_device * tenth // 10) for tenth in range(1, 10)}
        sent = 0
        seen = 0
        for seq in range(per_device):
            if seq in ticks:
                tick()
            order = list(range(config.devices))
            rng.shuffle(order)
            for index in order:
                if set_resource(devices[index], RESOURCE, seq):
                    sent += 1
                    queued[index * per_device + seq] = 1
                else:  # no channel (it expired): wait for the consumer to make a new one
                    wait_until(lambda: self.channels() > 0, 10.0, interval=0.002)
                if sent - seen > window:
                    seen = self._catch_up(sent, progress)
        tick()
        return sent

    def _delivered(self) -> int:
        return self.ledger()[0]

    def _catch_up(self, sent: int, progress: Callable[[], int]) -> int:
        """Wait until the application (with what the service lost) is within half the window
        of *sent*, for at most 30 s (a stall then shows in the check); returns where it is."""
        seen = 0

        def caught_up() -> bool:
            nonlocal seen
            seen = progress() + self.ledger()[1]
            return sent - seen <= self.config.window // 2

        wait_until(caught_up, 30.0, interval=0.002)
        return seen

    def take_queued(self) -> bytes:
        return bytes(self.queued)

    def stop(self) -> None:
        self.emulator.stop()


class ServiceProcess:
    """`ServiceSide` in a child process (``multiprocessing``, spawned), driven through a pipe,
    so that the emulator and the producer neither share the consumer's GIL nor count in its
    RSS. Same methods as `ServiceSide`."""

    def __init__(self, config: SoakConfig) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, config),
                                        name="soak-emulator", daemon=True)
        self._process.start()
        child.close()

    def _call(self, name: str, *args: Any, **callbacks: Callable[[], Any]) -> Any:
        self._conn.send((name, args))
        while True:
            kind, value = self._conn.recv()
            if kind == "result":
                return value
            if kind == "error":
                raise RuntimeError(f"the emulator process failed in {name}: {value}")
            self._conn.send(callbacks[kind]())

    def start(self) -> str:
        return str(self._call("start"))

    def register_devices(self) -> None:
        self._call("register_devices")

    def channels(self) -> int:
        return int(self._call("channels"))

    def arm_chaos(self) -> str:
        return str(self._call("arm_chaos"))

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = self._call("report")
        return report

    def ledger(self) -> tuple[int, int]:
        delivered, lost = self._call("ledger")
        return int(delivered), int(lost)

    def produce(self, progress: Callable[[], int] | None, tick: Callable[[], None]) -> int:
        if progress is None:
            return int(self._call("produce", False, tick=tick))
        return int(self._call("produce", True, progress=progress, tick=tick))

    def take_queued(self) -> bytes:
        return bytes(self._call("take_queued"))

    def rss(self) -> int:
        return int(self._call("rss"))

    def stop(self) -> None:
        try:
            self._call("stop")
        finally:
            self._conn.close()
            self._process.join(10)


def _serve(conn: Any, config: SoakConfig) -> None:
    """The child process of `ServiceProcess`: runs one `ServiceSide`, one call at a time."""
    side = ServiceSide(config)

    def ask(kind: str) -> Any:
        conn.send((kind, None))
        return conn.recv()

    while True:
        name, args = conn.recv()
        try:
            if name == "produce":
                progress = (lambda: int(ask("progress"))) if args[0] else None
                value: Any = side.produce(progress, lambda: ask("tick"))
            elif name == "rss":
                value = rss_bytes()
            else:
                value = getattr(side, name)(*args)
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("result", value))
        if name == "stop":
            return


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _history(config: SoakConfig) -> Iterator[tuple[IO[str], str]]:
    """A new directory for the run's history files, and this process's history file in it."""
    directory = tempfile.mkdtemp(prefix=f"soak-{config.channel}-", dir=config.log_dir)
    with open(Path(directory) / "history.log", "w", buffering=1 << 16) as log:
        yield log, directory


def run_soak(config: SoakConfig) -> SoakResult:
    """Run one soak and check it (see the module docstring); the result says how it went."""
    result = SoakResult(config)
    service: ServiceSide | ServiceProcess = (
        ServiceProcess(config) if config.emulator_process else ServiceSide(config))
    try:
        url = service.start()
        with _history(config) as (log, history_dir):
            result.history_dir = history_dir
            app = Application(log, config.devices, config.per_device)
            consumer = make_consumer(config, history_dir)
            in_process = not isinstance(consumer, GunicornConsumer)
            consumer_rss = consumer.rss if isinstance(consumer, GunicornConsumer) else _rss_settled
            cfg = mds.Configuration(host=url, api_key=API_KEY)
            with mds.ApiClient(cfg) as client:
                mds.SubscriptionsApi(client).update_pre_subscriptions(
                    [{"endpoint-name": "soak-*", "resource-path": [RESOURCE]}])
                service.register_devices()  # before the channel: registrations go nowhere
                try:
                    consumer.open(client, app, service.channels, config.checkpoint)
                    result.chaos = service.arm_chaos()
                    result.rss_before = consumer_rss()
                    started = time.perf_counter()

                    def tick() -> None:
                        result.rss_samples.append(consumer_rss())

                    result.sent = service.produce(
                        (lambda: app.unique) if in_process else None, tick)

                    def drained() -> bool:
                        # Settled at the service (a webhook batch is delivered when answered
                        # 2xx, after its handler ran; a repeat comes before that) and at the
                        # application.
                        delivered, lost = service.ledger()
                        return (delivered + lost >= result.sent
                                and (not in_process or app.unique + lost >= result.sent))

                    result.drained = wait_until(
                        lambda: consumer.error is not None or drained(), config.drain_timeout,
                        interval=0.01) and consumer.error is None
                    result.wall = time.perf_counter() - started
                    result.rss_end = consumer_rss()
                    # The sample nearest after the warm-up share (the tenths are 1-based).
                    warm = min(len(result.rss_samples), max(1, round(config.warmup * 10)))
                    result.rss_warm = result.rss_samples[warm - 1]
                    if isinstance(service, ServiceProcess):
                        result.emulator_rss = service.rss()
                finally:
                    consumer.close()
                result.consumer_stats = consumer.stats()
                result.reconnects = result.consumer_stats.get("reconnects")
                result.consumer_error = consumer.error
                result.other_events = app.other
                report = service.report()
                queued = service.take_queued()
    finally:
        service.stop()
    verify(result, report, queued)
    return result


def _history_lines(directory: str) -> Iterator[str]:
    """The lines of every history file of a run, in the order the application took them."""
    paths = sorted(Path(directory).glob("history*.log"))
    if len(paths) == 1:  # one process: its file is in order
        with open(paths[0]) as history:
            yield from history
        return
    lines: list[str] = []
    for path in paths:
        lines.extend(path.read_text().splitlines(keepends=True))
    lines.sort(key=lambda line: int(line.rsplit(" ", 1)[1]))
    yield from lines


def _seq_of(item: Mapping[str, Any]) -> tuple[str, int] | None:
    try:
        return str(item["ep"]), int(base64.b64decode(item["payload"]).decode())
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def verify(result: SoakResult, report: Mapping[str, Any], queued: bytes) -> None:
    """Check the history (the log) against the service's record (*report*, the emulator's
    ``chaos_report()``) and what it queued (*queued*: 1 at ``device * per_device + value`` for
    each change the service queued for the channel)."""
    config = result.config
    items = report["items"]
    result.delivered = items["delivered"]
    result.lost = {reason: n for reason, n in items["lost"].items() if n}
    result.still_queued = items.get("still_queued", 0)
    result.faults = dict(report["counts"])
    lost: set[tuple[str, int]] = set()
    for item in items["lost_items"]:
        if item.get("path") == RESOURCE and (key := _seq_of(item)) is not None:
            lost.add(key)
    result.lost_listed = len(lost)
    examples = result.examples
    if items.get("lost_items_dropped"):
        result.record_complete = False
        examples.append(f"{items['lost_items_dropped']} lost items fell out of the record: "
                        "raise the emulator's record_limit")
    if items["queued"] != result.sent:
        result.record_complete = False
        examples.append(f"the service counted {items['queued']} items queued, the producer "
                        f"{result.sent}")
    per_device = config.per_device
    counts = bytearray(config.devices * per_device)
    last = array("l", [-1]) * config.devices
    for line in _history_lines(result.history_dir):
        device, value, uid, _time = line.split(" ")
        result.received += 1
        if uid == "None":
            result.without_uid += 1
        index = _index(device, value, per_device)
        if index is None or index >= len(counts):
            result.unexpected += 1
            if len(examples) < 5:
                examples.append(f"unexpected: {line.strip()}")
            continue
        number = index // per_device
        seq = index % per_device
        if counts[index]:
            result.duplicates += 1
            if len(examples) < 5:
                examples.append(f"duplicate: {line.strip()}")
        else:
            result.unique += 1
        counts[index] = min(255, counts[index] + 1)
        if seq <= last[number]:
            result.order_violations += 1
            if len(examples) < 5:
                examples.append(f"out of order: {device} {seq} after {last[number]}")
        last[number] = max(last[number], seq)
    for number in range(config.devices):
        device = device_name(number)
        for seq in range(per_device):
            index = number * per_device + seq
            if not queued[index]:
                result.not_queued += 1
                if counts[index]:
                    result.unexpected += 1
                    if len(examples) < 5:
                        examples.append(f"received, never queued: {device} {seq}")
            elif counts[index]:
                if (device, seq) in lost:
                    result.lost_but_received += 1
            elif (device, seq) not in lost:
                result.missing += 1
                if len(examples) < 5:
                    examples.append(f"delivered, never received: {device} {seq}")
    if result.delivered != result.sent - sum(result.lost.values()) - result.still_queued:
        result.record_complete = False
        examples.append(f"the record does not add up: sent {result.sent}, delivered "
                        f"{result.delivered}, lost {sum(result.lost.values())}, still queued "
                        f"{result.still_queued}")


def as_json(result: SoakResult) -> str:
    data = {name: value for name, value in vars(result).items() if name != "config"}
    data["config"] = {k: v for k, v in vars(result.config).items() if k != "chaos_faults"}
    data["config"]["checkpoint"] = _redacted(result.config.checkpoint)
    data["ok"] = result.ok
    return json.dumps(data, indent=2, default=str)


__all__ = ["CHANNELS", "RESOURCE", "SoakConfig", "SoakResult", "as_json", "gunicorn_app", "run_soak",
           "verify"]
