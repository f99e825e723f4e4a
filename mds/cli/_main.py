"""The ``mds`` command's entry point: the parser of its four commands, and `main`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mds._version import __version__
from mds.cli._demo import run_demo
from mds.cli._exit import EXIT_OK, SigtermAsInterrupt
from mds.cli._listen import add_arguments as add_listen_arguments
from mds.cli._listen import listen
from mds.cli._request import add_arguments as add_request_arguments
from mds.cli._request import request as request_command
from mds.emulator._cli import add_arguments as add_emulator_arguments
from mds.emulator._cli import run as run_emulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mds",
        description="Device Management Notifications API: client tools.",
        epilog="Start with 'mds demo' to see the whole loop without an account.",
    )
    parser.add_argument("--version", action="version", version=f"mds-client {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo", help="see notifications flow through a local emulator (no account needed)",
        description="Start a local emulator, register a websocket channel, simulate devices and "
        "print the events a NotificationListener receives.",
    )
    demo.add_argument("--json", action="store_true", help="print events as JSON lines")

    listen = commands.add_parser(
        "listen", help="print the notifications of an API key as they arrive",
        description="Listen for notifications and print one line per event. With --subscribe, "
        "set the key's pre-subscription rules first (they replace the rules it had). The "
        "websocket channel is registered with uids: a repeated notification is printed once "
        "(and, with --checkpoint, never again after a restart). On exit a line on stderr says "
        "what was received and how many duplicates were dropped. Exit codes: 0 stopped "
        "(Ctrl-C, SIGTERM, or the channel was deleted), 1 failure, 2 bad usage, 3 key refused, "
        "6 another process (or another copy of this one) kept taking the key's websocket "
        "channel: use one consumer per API key. The API key and host may also come from "
        "MDS_API_KEY and MDS_HOST.",
    )
    add_listen_arguments(listen)
    listen.set_defaults(subparser=listen)

    request = commands.add_parser(
        "request", help="send a device request and print the device's answer",
        description="Read (GET), write (PUT), execute (POST) or delete (DELETE) a resource of a "
        "device: the request goes through the Device Management Connect API and the answer "
        "comes back on the API key's notification channel, which this command opens (it takes "
        "the websocket channel over from another consumer of the key while it runs; a long "
        "poll makes its channel with a first poll, which the service may hold for 30 s). Prints "
        "the decoded answer. Exit codes: 0 answered, 1 failure, 2 bad usage, 3 key refused, "
        "4 the device or service answered with an error status, 5 no answer within --timeout. "
        "The API key and host may also come from MDS_API_KEY and MDS_HOST.",
    )
    add_request_arguments(request)
    request.set_defaults(subparser=request)

    emulator = commands.add_parser(
        "emulator", help="run a local emulator of the Notifications service",
        description="Run a local emulator of the Device Management Notifications service.",
    )
    add_emulator_arguments(emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mds`` command with *argv* (default ``sys.argv[1:]``); returns the exit code.
    Bad usage exits 2 through argparse (`SystemExit`)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    out, err = sys.stdout, sys.stderr
    if args.command == "emulator":
        try:
            return run_emulator(args)
        except KeyboardInterrupt:
            return EXIT_OK
    if args.command == "demo":
        try:
            with SigtermAsInterrupt():
                return run_demo(out, json_lines=args.json)
        except KeyboardInterrupt:
            print("mds: stopped", file=err, flush=True)
            return EXIT_OK
    # Usage errors found after parsing are reported with the command's own usage line.
    if args.command == "request":
        return request_command(args, args.subparser, out, err)
    return listen(args, args.subparser, out, err)
