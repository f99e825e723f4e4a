"""How the ``mds`` command ends: its exit codes, and SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = [
    "EXIT_AUTH",
    "EXIT_DEVICE_ERROR",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_TAKEN_OVER",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "SigtermAsInterrupt",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: The API key was refused (401, 403, websocket close 1008).
EXIT_AUTH = 3
#: ``mds request``: the answer's status is 300 or more (the device refused, or the service could
#: not deliver the request: ``REQUEST_EXPIRED``, ``NOT_CONNECTED``, ...).
EXIT_DEVICE_ERROR = 4
#: ``mds request``: no answer within ``--timeout``.
EXIT_TIMEOUT = 5
#: ``mds listen``: another consumer (another process, or another copy of this one) kept taking
#: the API key's websocket channel (`mds.ChannelTakenOverError`, ``--max-takeovers``).
EXIT_TAKEN_OVER = 6


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: unwind, close the connection, exit 0."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class SigtermAsInterrupt:
    """While active (main thread only), SIGTERM raises `Terminated` in the main thread."""

    def __enter__(self) -> None:
        self._previous: Any = None
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, _on_sigterm)

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
