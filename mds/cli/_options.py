"""What the commands that talk to the service share: where and with which key (``--host``,
``--api-key``, the ``MDS_*`` variables), the channel options, ``--subscribe`` patterns, and the
words for a failure."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from mds.cli._exit import EXIT_AUTH, EXIT_FAILURE, EXIT_TAKEN_OVER
from mds.configuration import Configuration
from mds.exceptions import (
    ApiException,
    ChannelConflictError,
    ChannelTakenOverError,
    ForbiddenException,
    UnauthorizedException,
)

__all__ = [
    "add_connection_arguments",
    "add_subscribe_argument",
    "configuration",
    "explain_failure",
    "subscription_rule",
]

SUBSCRIBE_HELP = (
    "set a pre-subscription rule first (repeatable; together they replace the key's rules): "
    "a resource path ('/3303/*'), 'ep=NAME' (endpoint name, 'node*' for a prefix), "
    "'type=TYPE' (endpoint type), or several joined by commas: 'type=Sensor,/3303/*,/3/0/9'"
)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--api-key``, ``--channel``, ``--replace-existing`` and ``--verbose``."""
    parser.add_argument("--host", default=None,
                        help="service URL (default: $MDS_HOST, else the public service)")
    parser.add_argument("--api-key", default=None, help="API key (default: $MDS_API_KEY)")
    parser.add_argument("--channel", choices=("websocket", "long-poll"), default="websocket",
                        help="how to receive (default: websocket)")
    parser.add_argument("--replace-existing", action="store_true",
                        help="delete a channel of another type that is in the way")
    parser.add_argument("-v", "--verbose", action="store_true", help="log connection details")


def add_subscribe_argument(parser: argparse.ArgumentParser) -> None:
    """``--subscribe PATTERN`` (repeatable), parsed into pre-subscription dicts."""
    parser.add_argument("--subscribe", metavar="PATTERN", action="append", default=None,
                        type=subscription_rule, help=SUBSCRIBE_HELP)


def configuration(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Configuration:
    """The `Configuration` of ``--host``/``--api-key``, else ``MDS_HOST``/``MDS_API_KEY``;
    exits 2 through *parser* without a key."""
    key = args.api_key or os.environ.get("MDS_API_KEY")
    if not key:
        parser.error("an API key is needed: pass --api-key or set MDS_API_KEY")
    host = args.host or os.environ.get("MDS_HOST") or None
    return Configuration(host=host, api_key=key)


def subscription_rule(text: str) -> dict[str, Any]:
    """One ``--subscribe`` PATTERN as a `mds.Presubscription` dict (JSON keys): parts joined by
    commas, each a resource path (starting with ``/``), ``ep=NAME`` or ``type=TYPE``. Raises
    ``argparse.ArgumentTypeError`` for anything else (argparse then exits 2)."""
    rule: dict[str, Any] = {}
    paths: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        if part.startswith("/"):
            paths.append(part)
        elif sep and name.strip() in ("ep", "type") and value.strip():
            key = "endpoint-name" if name.strip() == "ep" else "endpoint-type"
            if key in rule:
                raise argparse.ArgumentTypeError(f"{name.strip()}= given twice in {text!r}")
            rule[key] = value.strip()
        else:
            raise argparse.ArgumentTypeError(
                f"{part!r} in {text!r} is not a resource path (/3303/*), ep=NAME or type=TYPE")
    if paths:
        rule["resource-path"] = paths
    return rule


def explain_failure(exc: ApiException, err: TextIO, *, requests: bool = False) -> int:
    """Say why the command failed, without the key; returns the exit code. *requests*: the
    command sends device requests (a conflicting channel is then where their answers go)."""
    if isinstance(exc, (UnauthorizedException, ForbiddenException)):
        print(f"mds: the API key was refused ({exc.status or 'websocket 1008'}): {exc.reason}. "
              "Check --api-key / MDS_API_KEY and --host / MDS_HOST.", file=err, flush=True)
        return EXIT_AUTH
    if isinstance(exc, ChannelTakenOverError):
        print(f"mds: {exc}", file=err, flush=True)
        return EXIT_TAKEN_OVER
    if isinstance(exc, ChannelConflictError):
        channel = exc.channel or "different"
        if requests:
            print(f"mds: this API key has a {channel} channel, where the answer would go. Use "
                  "a key without a channel, or pass --replace-existing to delete it (its "
                  "queued notifications are lost).", file=err, flush=True)
        else:
            print(f"mds: this API key already has a {channel} channel. Pass "
                  "--replace-existing to delete it (its queued notifications are lost), or "
                  "stop the other consumer.", file=err, flush=True)
        return EXIT_FAILURE
    print(f"mds: {type(exc).__name__}: {exc}", file=err, flush=True)
    return EXIT_FAILURE
