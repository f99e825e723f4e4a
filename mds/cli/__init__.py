"""The ``mds`` command (also ``python -m mds``).

``mds demo``      see notifications flow, with no account: a local emulator and a listener.
``mds listen``    print (or forward) the notifications of an API key as they arrive.
``mds emulator``  run a local emulator of the Notifications service.

Exit codes: 0 success (also on Ctrl-C or SIGTERM), 1 other failure, 2 bad usage, 3 the API key
was refused (401, 403, websocket close 1008).

Inside: ``_main`` parses and dispatches, ``_listen`` and ``_demo`` run their commands,
``_format`` renders events, ``_exit`` holds the exit codes and the SIGTERM handling.
"""

from __future__ import annotations

from mds.cli._exit import EXIT_AUTH, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from mds.cli._format import event_to_json, format_event
from mds.cli._main import main

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "event_to_json",
    "format_event",
    "main",
]
