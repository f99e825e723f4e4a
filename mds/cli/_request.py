"""``mds request``: send one device request and print the device's answer."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from mds.api_client import ApiClient
from mds.cli._exit import (
    EXIT_DEVICE_ERROR,
    EXIT_OK,
    EXIT_TIMEOUT,
    SigtermAsInterrupt,
)
from mds.cli._format import event_to_json, jsonable
from mds.cli._listen import listener_of, logging_to
from mds.cli._options import add_connection_arguments, configuration, explain_failure
from mds.events import AsyncResponse
from mds.exceptions import (
    ApiException,
    ApiTimeoutError,
    ApiTypeError,
    ApiValueError,
    AsyncResponseError,
)

__all__ = ["add_arguments", "request"]

METHODS = ("GET", "PUT", "POST", "DELETE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments and options of ``mds request``."""
    parser.add_argument("device", metavar="DEVICE", help="the device (endpoint) id")
    parser.add_argument("path", metavar="PATH", help="the resource path, e.g. /3303/0/5700")
    parser.add_argument("--method", type=str.upper, choices=METHODS, default="GET",
                        help="GET reads, PUT writes, POST executes, DELETE deletes "
                        "(default: GET)")
    parser.add_argument("--payload", metavar="TEXT", default=None,
                        help="the payload to send (as UTF-8 text)")
    parser.add_argument("--content-type", metavar="CT", default=None,
                        help="the payload's content type (default with a payload: text/plain)")
    parser.add_argument("--timeout", metavar="S", type=_seconds, default=60.0,
                        help="seconds to wait for the device's answer (default: 60)")
    parser.add_argument("--json", action="store_true",
                        help="print the whole answer as one JSON object")
    add_connection_arguments(parser)
    parser.set_defaults(subscribe=None)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def value_text(answer: AsyncResponse) -> str | None:
    """The answer's decoded value as a line: text as it is, anything else as JSON (bytes as
    base64); None without a payload."""
    if not answer.payload:
        return None
    value = answer.value
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value), ensure_ascii=False)


def request(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO,
            err: TextIO) -> int:
    """Run ``mds request`` with the parsed *args*; returns the exit code (bad usage exits 2
    through *parser*)."""
    config = configuration(args, parser)
    content_type = args.content_type
    if content_type is None and args.payload is not None:
        content_type = "text/plain"
    listener = listener_of(args, parser, ApiClient(config))
    what = f"{args.method} {args.path} on {args.device}"
    try:
        with SigtermAsInterrupt(), logging_to(err, args.verbose), listener.api_client:
            try:  # the request checks its arguments, then opens the listener
                answer = listener.request(args.device, args.path, args.method, args.payload,
                                          content_type=content_type, timeout=args.timeout)
            finally:
                listener.close()
    except KeyboardInterrupt:
        print("mds: stopped", file=err, flush=True)
        return EXIT_OK
    except AsyncResponseError as exc:
        print(f"mds: {what} failed: {_failure(exc)}", file=err, flush=True)
        if args.json:
            out.write(json.dumps(event_to_json(exc.response), ensure_ascii=False) + "\n")
        return EXIT_DEVICE_ERROR
    except ApiTimeoutError as exc:
        print(f"mds: {exc.reason}", file=err, flush=True)
        return EXIT_TIMEOUT
    except ApiException as exc:
        return explain_failure(exc, err, requests=True)
    except (ApiValueError, ApiTypeError) as exc:
        parser.error(str(exc))  # a bad path or content type, found before sending
    if args.json:
        out.write(json.dumps(event_to_json(answer), ensure_ascii=False) + "\n")
    else:
        text = value_text(answer)
        if text is None:
            print(f"mds: {what}: status {answer.status}, no payload", file=err, flush=True)
        else:
            out.write(text + "\n")
    out.flush()
    return EXIT_OK


def _failure(exc: AsyncResponseError) -> str:
    """Status, reason, what it means and the payload of a failed answer, in words."""
    text = f"status {exc.status}"
    name = exc.error or exc.reason
    if name:
        text += f" {name}"
    if exc.description:
        text += f" ({exc.description})"
    response = exc.response
    if getattr(response, "payload", b""):
        text += f": {value_text(response)}"
    return text
