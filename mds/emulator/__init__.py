"""A local emulator of the Device Management Notifications service.

``Emulator`` serves the service's REST endpoints, the websocket channel and webhook deliveries on
one local port, with every duration of the service as an option, plus an admin API under
``/_emulator/`` to inject notifications and faults. ``ManualClock`` lets a test step the
emulator's time instead of waiting. See ``docs/Emulator.md``.

Importing this package starts nothing: no threads and no sockets until ``Emulator.start()``.
"""

from __future__ import annotations

from mds.emulator._clock import ManualClock
from mds.emulator._emulator import Emulator

__all__ = ["Emulator", "ManualClock"]
