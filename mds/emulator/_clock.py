"""The emulator's sense of time: any callable returning seconds, and :class:`ManualClock` for tests.

Every time-based rule of the emulated service (the long-poll hold, channel expiry, the purge
window, webhook back-off and give-up) reads the clock the emulator was given. The default,
:func:`time.monotonic`, runs in real time: a wait for a deadline then sleeps until the deadline.
A :class:`ManualClock` stands still until :meth:`ManualClock.advance` steps it, and every wait
for a deadline that the step reaches ends at once, so a test plays a 24-hour story without
sleeping.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

#: A clock: called with no argument, it returns the current time in seconds.
Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told to, for tests and simulations.

    Pass it to the emulator (``Emulator(clock=clock)``) and call :meth:`advance` to let time
    pass: a held long poll whose hold has run out answers 204, a channel past its expiry is gone,
    a webhook retry whose back-off has passed is sent. Waits the step does not reach go on
    waiting.

    Args:
        start: The time it shows at first, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[weakref.WeakMethod[Callable[[], None]]] = []

    def __call__(self) -> float:
        """The current time, in seconds."""
        return self._now

    def __repr__(self) -> str:
        return f"<ManualClock {self._now:g}>"

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` and wake whatever waits on it.

        Raises:
            ValueError: When ``seconds`` is negative (a clock does not run backwards).
        """
        if seconds < 0:
            raise ValueError("a clock cannot go back in time")
        with self._lock:
            self._now += float(seconds)
            listeners = list(self._listeners)
        for reference in listeners:
            listener = reference()
            if listener is not None:
                listener()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call the bound method ``listener`` after every :meth:`advance`.

        The clock holds it weakly, so subscribing does not keep the listener's object alive;
        the emulator's service subscribes to learn that its deadlines may have passed.
        """
        with self._lock:
            self._listeners = [ref for ref in self._listeners if ref() is not None]
            self._listeners.append(weakref.WeakMethod(listener))
