"""The ``mds`` command (also ``python -m mds``).

``mds demo``      see notifications flow, with no account: a local emulator and a listener.
``mds listen``    print (or forward) the notifications of an API key as they arrive.
``mds emulator``  run a local emulator of the Notifications service.

Exit codes: 0 success (also on Ctrl-C or SIGTERM), 1 other failure, 2 bad usage, 3 the API key
was refused (401, 403, websocket close 1008).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

from mds._version import __version__
from mds.exceptions import (
    ApiException,
    ChannelConflictError,
    ForbiddenException,
    MdsError,
    UnauthorizedException,
)

__all__ = ["EXIT_AUTH", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "format_event", "event_to_json",
           "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3

logger = logging.getLogger("mds.cli")


# --------------------------------------------------------------------------------------------
# rendering events
# --------------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    """*value* as plain JSON data: bytes become base64, mappings dicts, dataclasses dicts."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _jsonable(to_dict())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)


def event_to_json(event: Any) -> dict[str, Any]:
    """One event as a JSON object: ``{"type": "ResourceChanged", <fields>}``; ``payload`` is
    base64, ``value`` the decoded value as JSON data."""
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        data[f.name] = _jsonable(getattr(event, f.name))
    return data


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_event(event: Any) -> str:
    """One event as a line for people to read."""
    name = type(event).__name__
    if name == "ResourceChanged":
        text = (f"value changed   {event.device_id} {event.path} = {_short(event.value)}"
                f"  ({event.content_type or 'no content type'})")
    elif name in ("DeviceRegistered", "DeviceRegistrationUpdated"):
        what = "registered     " if name == "DeviceRegistered" else "reg. updated   "
        paths = ", ".join(r.path for r in event.resources[:4])
        if len(event.resources) > 4:
            paths += f", +{len(event.resources) - 4} more"
        text = (f"{what} {event.device_id}"
                + (f" ({event.endpoint_type})" if event.endpoint_type else "")
                + (f"  resources: {paths}" if paths else ""))
    elif name == "DeviceDeregistered":
        text = f"deregistered    {event.device_id}"
    elif name == "DeviceRegistrationExpired":
        text = f"reg. expired    {event.device_id}"
    elif name == "AsyncResponse":
        text = f"async response  {event.id} status {event.status}"
        if event.payload:
            text += f" = {_short(event.value)}"
        if event.error and not (200 <= event.status < 300):
            text += f" ({event.error})"
            return text
    else:
        text = f"{name} {event!r}"
    if getattr(event, "error", None):
        text += f"  [malformed: {event.error}]"
    return text


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mds",
        description="Device Management Notifications API: client tools.",
        epilog="Start with 'mds demo' to see notifications flow without an account.",
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
        description="Listen for notifications and print one line per event. The API key and "
        "host may also come from MDS_API_KEY and MDS_HOST.",
    )
    listen.add_argument("--host", default=None,
                        help="service URL (default: $MDS_HOST, else the public service)")
    listen.add_argument("--api-key", default=None, help="API key (default: $MDS_API_KEY)")
    listen.add_argument("--channel", choices=("websocket", "long-poll"), default="websocket",
                        help="how to receive (default: websocket)")
    listen.add_argument("--json", action="store_true",
                        help="print one JSON object per event and line")
    listen.add_argument("--forward-to", metavar="URL", default=None,
                        help="also PUT every batch (wire JSON) to this local webhook handler, as "
                        "the service would; its answers are reported on stderr")
    listen.add_argument("--forward-header", metavar="NAME:VALUE", action="append", default=[],
                        help="header sent with every forwarded batch (repeatable)")
    listen.add_argument("--replace-existing", action="store_true",
                        help="delete a channel of another type that is in the way")
    listen.add_argument("-v", "--verbose", action="store_true", help="log connection details")

    emulator = commands.add_parser(
        "emulator", help="run a local emulator of the Notifications service",
        description="Run a local emulator of the Device Management Notifications service.",
    )
    from mds.emulator import _cli as emulator_cli

    emulator_cli.add_arguments(emulator)
    return parser


# --------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------

class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: unwind, close the connection, exit 0."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


class _SigtermAsInterrupt:
    """While active (main thread only), SIGTERM raises `_Terminated` in the main thread."""

    def __enter__(self) -> None:
        self._previous: Any = None
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, _on_sigterm)

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)


def _setup_logging(verbose: bool, stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("mds: %(levelname)s: %(message)s"))
    root = logging.getLogger("mds")
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler


# --------------------------------------------------------------------------------------------
# mds listen
# --------------------------------------------------------------------------------------------

class _Forwarder:
    """PUTs batches to a local webhook handler the way the service does: one at a time, retried
    with back-off (1 s, 2 s, ... capped at 30 s) until it answers 2xx."""

    def __init__(self, url: str, headers: Mapping[str, str], err: TextIO) -> None:
        import urllib3

        self.url = url
        self.headers = {"Content-Type": "application/json", **headers}
        self.err = err
        self.pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(20.0))
        self.batches = 0

    def send(self, wire: dict[str, Any], items: int) -> None:
        import urllib3

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


def _listen(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO,
            err: TextIO) -> int:
    import mds
    from mds.listener import NotificationListener

    key = args.api_key or os.environ.get("MDS_API_KEY")
    if not key:
        parser.error("an API key is needed: pass --api-key or set MDS_API_KEY")
    host = args.host or os.environ.get("MDS_HOST") or None
    headers = _parse_headers(args.forward_header, parser)
    if args.forward_to and not args.forward_to.lower().startswith(("http://", "https://")):
        parser.error("--forward-to must be an http:// or https:// URL")
    try:
        configuration = mds.Configuration(host=host, api_key=key)
    except MdsError as exc:
        parser.error(str(exc))
    handler = _setup_logging(args.verbose, err)
    forwarder = _Forwarder(args.forward_to, headers, err) if args.forward_to else None
    try:
        with _SigtermAsInterrupt(), mds.ApiClient(configuration) as client:
            print(f"mds: listening on {configuration.host} ({args.channel}); Ctrl-C to stop",
                  file=err, flush=True)
            with NotificationListener(client, args.channel,
                                      replace_existing=args.replace_existing) as listener:
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
    except (UnauthorizedException, ForbiddenException) as exc:
        print(f"mds: the API key was refused ({exc.status or 'websocket 1008'}): {exc.reason}. "
              "Check --api-key / MDS_API_KEY and --host / MDS_HOST.", file=err, flush=True)
        return EXIT_AUTH
    except ChannelConflictError as exc:
        print(f"mds: this API key already has a {exc.channel or 'different'} channel. "
              "Pass --replace-existing to delete it (its queued notifications are lost), or "
              "stop the other consumer.", file=err, flush=True)
        return EXIT_FAILURE
    except ApiException as exc:
        print(f"mds: {type(exc).__name__}: {exc}", file=err, flush=True)
        return EXIT_FAILURE
    finally:
        if forwarder is not None:
            forwarder.close()
        logging.getLogger("mds").removeHandler(handler)


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mds`` command with *argv* (default ``sys.argv[1:]``); returns the exit code.
    Bad usage exits 2 through argparse (`SystemExit`)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    out, err = sys.stdout, sys.stderr
    if args.command == "emulator":
        from mds.emulator import _cli as emulator_cli

        try:
            return emulator_cli.run(args)
        except KeyboardInterrupt:
            return EXIT_OK
    if args.command == "demo":
        from mds._demo import run_demo

        try:
            with _SigtermAsInterrupt():
                return run_demo(out, json_lines=args.json)
        except KeyboardInterrupt:
            print("mds: stopped", file=err, flush=True)
            return EXIT_OK
    return _listen(args, parser, out, err)
