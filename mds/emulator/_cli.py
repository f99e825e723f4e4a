"""``mds emulator``: run the emulator from the command line until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from mds.emulator._emulator import Emulator

__all__ = ["add_arguments", "main", "run"]

#: (option, Emulator argument, default, help) for every duration.
TIMINGS: tuple[tuple[str, str, float, str], ...] = (
    ("--long-poll-hold", "long_poll_hold", 30.0, "seconds a long-poll GET is held (then 204)"),
    ("--webhook-backoff-base", "webhook_backoff_base", 1.0, "first webhook retry delay"),
    ("--webhook-backoff-cap", "webhook_backoff_cap", 120.0, "longest webhook retry delay"),
    (
        "--webhook-give-up",
        "webhook_give_up",
        86400.0,
        "remove a callback after this many seconds of failed deliveries",
    ),
    ("--webhook-timeout", "webhook_timeout", 20.0, "timeout of every webhook request"),
    ("--pull-expiry", "pull_expiry", 600.0, "delete a long-poll channel not polled for this long"),
    (
        "--websocket-expiry",
        "websocket_expiry",
        86400.0,
        "delete a websocket channel without a connection for this long",
    ),
    ("--purge-window", "purge_window", 120.0, "a GET answers 410 this long after a pull DELETE"),
    ("--device-latency", "device_latency", 0.0, "how long a simulated device takes to answer"),
    (
        "--device-timeout",
        "device_timeout",
        120.0,
        "a request attempt fails with TIMEOUT when the device takes this long",
    ),
    (
        "--event-lifetime",
        "event_lifetime",
        86400.0,
        "drop an undelivered event queued this long ago",
    ),
)


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this API key (repeatable; default: any key starting with ak_)",
    )
    for option, dest, default, text in TIMINGS:
        parser.add_argument(
            option,
            dest=dest,
            type=float,
            default=default,
            metavar="SECONDS",
            help=f"{text} (default {default:g})",
        )
    parser.add_argument(
        "--batch-limit",
        type=int,
        default=10_000,
        metavar="N",
        help="most items in one delivered NotificationMessage (default 10000)",
    )
    parser.add_argument(
        "--queue-limit-bytes",
        type=int,
        default=50 * 1024 * 1024,
        metavar="BYTES",
        help="queue cap per API key; the oldest events are dropped past it (default 50 MB)",
    )
    parser.add_argument(
        "--queue-limit-items",
        type=int,
        default=None,
        metavar="N",
        help="cap the number of queued events per API key too (default: no cap)",
    )
    parser.add_argument(
        "--chaos",
        type=_probability,
        default=None,
        metavar="P",
        help="inject every kind of fault with probability P at each chance (default: none)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of --chaos, to replay the same faults (default: a random one, printed)",
    )
    parser.add_argument(
        "--record-limit",
        type=int,
        default=10_000,
        metavar="N",
        help="most entries each record keeps: requests, faults, lost events (default 10000)",
    )
    parser.add_argument(
        "--websocket-shape",
        choices=("2019", "2020"),
        default="2019",
        help="answer shapes of the websocket channel endpoints (default 2019)",
    )


def _emulator(args: argparse.Namespace) -> Emulator:
    """The emulator ``args`` describe (not started).

    Raises:
        ValueError: For a value the emulator refuses (a limit below 1, say).
    """
    timings: dict[str, Any] = {dest: getattr(args, dest) for _, dest, _, _ in TIMINGS}
    return Emulator(
        host=args.host,
        port=args.port,
        api_keys=args.api_keys,
        batch_limit=args.batch_limit,
        websocket_shape=args.websocket_shape,
        queue_limit_bytes=args.queue_limit_bytes,
        queue_limit_items=args.queue_limit_items,
        chaos=args.chaos,
        seed=args.seed,
        record_limit=args.record_limit,
        **timings,
    )


def run(args: argparse.Namespace) -> int:
    """Start the emulator described by ``args``, print its URL and a ready API key, and serve
    until Ctrl-C or SIGTERM; then stop cleanly (open websockets close with 1001).

    Returns:
        0 after a clean stop; 2 when an option's value is refused or the address cannot be
        bound.
    """
    try:
        emulator = _emulator(args)
    except ValueError as exc:
        print(f"mds emulator: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    previous: Any = None
    in_main_thread = threading.current_thread() is threading.main_thread()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        done.set()

    if in_main_thread:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        try:
            emulator.start()
        except OSError as exc:
            print(f"mds emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 2
        print(f"mds emulator listening on {emulator.url}", flush=True)
        print(f"API key: {emulator.api_key}", flush=True)
        chaos = emulator.chaos_report()["settings"]
        if chaos is not None:
            print(f"Chaos: {chaos['probability']:g} with seed {chaos['seed']}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        emulator.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print("mds emulator stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point taking its own command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="mds emulator",
        description="Run a local emulator of the Device Management Notifications service.",
    )
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
