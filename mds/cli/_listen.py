"""``mds listen``: print (or forward) the notifications of an API key as they arrive."""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import urllib3

from mds.api_client import ApiClient
from mds.checkpoint import DEFAULT_WINDOW
from mds.cli._exit import EXIT_FAILURE, EXIT_OK, SigtermAsInterrupt
from mds.cli._format import event_to_json, format_event
from mds.cli._options import (
    add_connection_arguments,
    add_subscribe_argument,
    explain_failure,
)
from mds.cli._options import configuration as configuration_of
from mds.exceptions import ApiException, ApiValueError, CheckpointError
from mds.listener import ListenerStats, NotificationListener, ReconnectPolicy
from mds.models import Presubscription

__all__ = [
    "Forwarder",
    "add_arguments",
    "describe_rules",
    "listen",
    "listener_of",
    "logging_to",
    "summary",
]


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("it must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mds listen``."""
    add_connection_arguments(parser)
    add_subscribe_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per event and line")
    parser.add_argument("--forward-to", metavar="URL", default=None,
                        help="also PUT every batch (wire JSON) to this local webhook handler, as "
                        "the service would; its answers are reported on stderr")
    parser.add_argument("--forward-header", metavar="NAME:VALUE", action="append", default=[],
                        help="header sent with every forwarded batch (repeatable)")
    parser.add_argument("--checkpoint", metavar="PATH|URL", default=None,
                        help="record the uid of every notification printed (or forwarded), so "
                        "that a restarted 'mds listen' skips what it handled before: a sqlite "
                        "file path, or a redis://host:6379/0 URL (needs mds-client[redis]); "
                        "long-poll notifications carry no uid, so it records nothing there")
    parser.add_argument("--dedupe-window", metavar="N", type=_positive, default=DEFAULT_WINDOW,
                        help="how many of the latest uids to remember in memory for dropping "
                        f"repeats (default: {DEFAULT_WINDOW})")
    parser.add_argument("--max-takeovers", metavar="N", type=_count, default=3,
                        help="exit (code 6) when another consumer of the API key took the "
                        "websocket channel more than N times within 10 minutes (default: 3)")


@contextmanager
def logging_to(stream: TextIO, verbose: bool) -> Iterator[None]:
    """While active, the ``mds`` loggers write to *stream*: warnings, and with *verbose* the
    connection details too. Afterwards the logger is as it was (``main()`` may run in-process)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("mds: %(levelname)s: %(message)s"))
    root = logging.getLogger("mds")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


class Forwarder:
    """PUTs batches to a local webhook handler the way the service does: one at a time, retried
    with back-off (1 s, 2 s, ... capped at 30 s) until it answers 2xx."""

    def __init__(self, url: str, headers: Mapping[str, str], err: TextIO) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **headers}
        self.err = err
        self.pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(20.0))
        self.batches = 0

    def send(self, wire: dict[str, Any], items: int) -> None:
        body = json.dumps(wire, separators=(",", ":")).encode("utf-8")
        self.batches += 1
        delay = 1.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.pool.request("PUT", self.url, body=body, headers=self.headers,
                                             redirect=False)
                status: int | None = response.status
                detail = f"{status} {response.reason or ''}".strip()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                status = None
                detail = f"no answer ({type(exc).__name__})"
            ok = status is not None and 200 <= status < 300
            print(f"mds: forwarded batch {self.batches} ({items} item(s)) to {self.url}: "
                  f"{detail}" + ("" if ok else f"; retrying in {delay:g} s")
                  + (f" (attempt {attempt})" if attempt > 1 else ""),
                  file=self.err, flush=True)
            if ok:
                return
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def close(self) -> None:
        self.pool.clear()


def _parse_headers(values: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            parser.error(f"--forward-header must look like NAME:VALUE, got {name.strip()!r}...")
        headers[name.strip()] = text.strip()
    return headers


def listen(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO,
           err: TextIO) -> int:
    """Run ``mds listen`` with the parsed *args*; returns the exit code (bad usage exits 2
    through *parser*)."""
    configuration = configuration_of(args, parser)
    headers = _parse_headers(args.forward_header, parser)
    if args.forward_to and not args.forward_to.lower().startswith(("http://", "https://")):
        parser.error("--forward-to must be an http:// or https:// URL")
    listener = listener_of(args, parser, ApiClient(configuration), checkpoint=args.checkpoint,
                           dedupe_window=args.dedupe_window,
                           reconnect=ReconnectPolicy(max_takeovers=args.max_takeovers))
    forwarder = Forwarder(args.forward_to, headers, err) if args.forward_to else None
    opened = False
    try:
        with SigtermAsInterrupt(), logging_to(err, args.verbose), listener.api_client:
            print(f"mds: listening on {configuration.host} ({args.channel}); Ctrl-C to stop",
                  file=err, flush=True)
            with listener:
                opened = True
                if listener.subscribe is not None:
                    print(f"mds: pre-subscriptions set: {describe_rules(listener.subscribe)}",
                          file=err, flush=True)
                for message in listener.messages():
                    for event in message.events():
                        if args.json:
                            line = json.dumps(event_to_json(event), ensure_ascii=False)
                        else:
                            line = format_event(event)
                        out.write(line + "\n")
                        out.flush()
                    if forwarder is not None:
                        forwarder.send(message.to_dict(), len(message))
        code = EXIT_OK
    except KeyboardInterrupt:
        print("mds: stopped", file=err, flush=True)
        code = EXIT_OK
    except ApiException as exc:
        code = explain_failure(exc, err)
    except (CheckpointError, ImportError) as exc:  # ImportError: redis-py is not installed
        print(f"mds: the checkpoint failed: {exc}", file=err, flush=True)
        code = EXIT_FAILURE
    finally:
        if forwarder is not None:
            forwarder.close()
    if opened:
        print(f"mds: {summary(listener.stats)}", file=err, flush=True)
    return code


def summary(stats: ListenerStats) -> str:
    """The closing line of ``mds listen``: what was received and what was dropped."""
    text = (f"{stats.events} item(s) received in {stats.messages} batch(es); "
            f"{stats.duplicates_dropped} duplicate(s) dropped")
    if stats.busy:
        text += f", {stats.busy} held by another consumer"
    if stats.reconnects:
        text += f"; {stats.reconnects} reconnection(s)"
    if stats.takeovers:
        text += f"; the channel was taken over {stats.takeovers} time(s)"
    return text


def listener_of(args: argparse.Namespace, parser: argparse.ArgumentParser, client: ApiClient,
                *, checkpoint: str | None = None, dedupe_window: int = DEFAULT_WINDOW,
                reconnect: ReconnectPolicy | None = None) -> NotificationListener:
    """The listener the options ask for (``--channel``, ``--replace-existing``,
    ``--subscribe``, and those of ``mds listen`` given as keywords); rules beyond the service's
    limits exit 2 through *parser*."""
    try:
        return NotificationListener(client, args.channel, replace_existing=args.replace_existing,
                                    subscribe=args.subscribe, checkpoint=checkpoint,
                                    dedupe_window=dedupe_window, reconnect=reconnect)
    except ApiValueError as exc:
        client.close()
        parser.error(f"--subscribe: {exc}")


def describe_rules(rules: list[Presubscription]) -> str:
    """Pre-subscription rules as the ``--subscribe`` patterns that make them."""
    if not rules:
        return "none (every rule removed)"
    patterns = []
    for rule in rules:
        parts = ([f"ep={rule.endpoint_name}"] if rule.endpoint_name else []) + (
            [f"type={rule.endpoint_type}"] if rule.endpoint_type else []) + rule.resource_path
        patterns.append(",".join(parts) or "everything")
    return "; ".join(patterns)
