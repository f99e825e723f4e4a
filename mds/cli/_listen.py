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
from mds.cli._exit import EXIT_OK, SigtermAsInterrupt
from mds.cli._format import event_to_json, format_event
from mds.cli._options import (
    add_connection_arguments,
    add_subscribe_argument,
    explain_failure,
)
from mds.cli._options import configuration as configuration_of
from mds.exceptions import ApiException, ApiValueError
from mds.listener import NotificationListener
from mds.models import Presubscription

__all__ = ["Forwarder", "add_arguments", "describe_rules", "listen", "listener_of", "logging_to"]


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
    listener = listener_of(args, parser, ApiClient(configuration))
    forwarder = Forwarder(args.forward_to, headers, err) if args.forward_to else None
    try:
        with SigtermAsInterrupt(), logging_to(err, args.verbose), listener.api_client:
            print(f"mds: listening on {configuration.host} ({args.channel}); Ctrl-C to stop",
                  file=err, flush=True)
            with listener:
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
        return EXIT_OK
    except KeyboardInterrupt:
        print("mds: stopped", file=err, flush=True)
        return EXIT_OK
    except ApiException as exc:
        return explain_failure(exc, err)
    finally:
        if forwarder is not None:
            forwarder.close()


def listener_of(args: argparse.Namespace, parser: argparse.ArgumentParser,
                client: ApiClient) -> NotificationListener:
    """The listener the options ask for (``--channel``, ``--replace-existing``,
    ``--subscribe``); rules beyond the service's limits exit 2 through *parser*."""
    try:
        return NotificationListener(client, args.channel, replace_existing=args.replace_existing,
                                    subscribe=args.subscribe)
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
