"""The ``mds`` command (also ``python -m mds``).

``mds demo``      see the whole loop, with no account: a local emulator and a listener.
``mds listen``    print (or forward) the notifications of an API key as they arrive.
``mds request``   send a device request and print the device's answer.
``mds emulator``  run a local emulator of the Notifications service.

Exit codes: 0 success (also on Ctrl-C or SIGTERM), 1 other failure, 2 bad usage, 3 the API key
was refused (401, 403, websocket close 1008); ``mds request`` also: 4 the answer's status is
300 or more, 5 no answer within ``--timeout``; ``mds listen`` also: 6 another consumer of the
API key kept taking the websocket channel (``--max-takeovers``).

Inside: ``_main`` parses and dispatches, ``_listen``, ``_request`` and ``_demo`` run their
commands, ``_options`` holds what the commands that talk to the service share, ``_format``
renders events, ``_exit`` holds the exit codes and the SIGTERM handling.
"""

from __future__ import annotations

from mds.cli._exit import (
    EXIT_AUTH,
    EXIT_DEVICE_ERROR,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_TAKEN_OVER,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)
from mds.cli._format import event_to_json, format_event
from mds.cli._main import main

__all__ = [
    "EXIT_AUTH",
    "EXIT_DEVICE_ERROR",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_TAKEN_OVER",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "event_to_json",
    "format_event",
    "main",
]
