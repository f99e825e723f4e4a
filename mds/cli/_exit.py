"""How the ``mds`` command ends: its exit codes, and SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["EXIT_AUTH", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "SigtermAsInterrupt"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3


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
