"""The listener's policies as data: what each websocket close code makes it do (`Action`,
`DEFAULT_CLOSE_CODE_POLICY`), how it paces its attempts (`ReconnectPolicy`), and the snapshot of
its health it reports (`ListenerStats`)."""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["DEFAULT_CLOSE_CODE_POLICY", "Action", "ListenerStats", "ReconnectPolicy"]


class Action(str, enum.Enum):
    """What a `NotificationListener` does when the websocket closes with a given code."""

    #: End the iteration cleanly (no exception).
    STOP = "stop"
    #: Open a new connection after a back-off delay (`ReconnectPolicy`).
    RECONNECT = "reconnect"
    #: Register the websocket channel again (PUT), then reconnect after a back-off delay.
    REREGISTER = "reregister"
    #: Raise `mds.UnauthorizedException`: the API key is missing or invalid; retrying is useless.
    RAISE_UNAUTHORIZED = "raise_unauthorized"
    #: Raise `mds.WebsocketClosedError` (with ``code`` and ``close_reason``).
    RAISE = "raise"


#: The close-code policy of the service (see SERVICE.md); codes not listed get ``RECONNECT``.
#: Read-only: pass ``{**DEFAULT_CLOSE_CODE_POLICY, 1000: Action.RECONNECT}`` to change it.
DEFAULT_CLOSE_CODE_POLICY: Mapping[int, Action] = MappingProxyType(
    {
        1000: Action.STOP,  # normal: the channel was deleted over REST (or we closed)
        1001: Action.REREGISTER,  # going away: taken over, channel deleted, server shutting down
        1006: Action.RECONNECT,  # connection lost without a close frame (incl. keepalive timeout)
        1008: Action.RAISE_UNAUTHORIZED,  # policy violation: the API key is missing or invalid
        1011: Action.REREGISTER,  # unexpected condition, e.g. no channel registered
        1012: Action.RECONNECT,  # service restart
        1013: Action.RECONNECT,  # try again later
    }
)


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a `NotificationListener` waits between attempts.

    Back-off after a failure (a lost connection, a 429/5xx, a network error): the n-th
    consecutive failure waits a random time between 0 and ``min(max_delay, initial_delay *
    multiplier ** (n - 1))`` ("full jitter"; ``jitter=False`` waits the upper bound). The count
    starts again after a healthy connection: one that delivered a message or stayed open for
    ``healthy_after`` seconds. A 429 with ``Retry-After`` waits at least that long.

    ``max_failures``: after this many consecutive failures the listener raises the last error;
    None (the default) never gives up (every failure is logged at WARNING on ``mds.listener``).

    Takeovers (another consumer opened the websocket of the same API key, so the service closed
    ours with 1001) are not failures: the listener waits ``takeover_delay``, doubled for each
    further takeover within ``takeover_window`` seconds, capped at ``takeover_max_delay``, so
    two consumers never fight over the channel in a tight loop. More than ``max_takeovers``
    takeovers within the window (by default 3 within 600 s) raise `mds.ChannelTakenOverError`
    (a `mds.ChannelConflictError`): two consumers of one key both miss notifications, so the
    listener stops and says so instead of fighting on (the other consumer keeps the channel).
    Takeovers count as one fight only while the channel never stays ours for ``healthy_after``
    seconds in between: a short-lived consumer now and then (``mds request`` on the same key)
    does not stop a listener. ``max_takeovers=None`` never gives up; 0 gives up at the first
    takeover.
    """

    # Not urllib3's Retry: that one bounds a single request's attempts; this one paces an
    # unbounded stream (reset after healthy connections, close codes, takeovers) and is also
    # used for the websocket, which urllib3 never sees.

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: bool = True
    healthy_after: float = 30.0
    max_failures: int | None = None
    takeover_delay: float = 5.0
    takeover_max_delay: float = 300.0
    takeover_window: float = 600.0
    max_takeovers: int | None = 3

    def __post_init__(self) -> None:
        for name in ("initial_delay", "max_delay", "healthy_after", "takeover_delay",
                     "takeover_max_delay", "takeover_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"ReconnectPolicy.{name} must not be negative")
        if self.multiplier < 1:
            raise ValueError("ReconnectPolicy.multiplier must be at least 1")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError("ReconnectPolicy.max_failures must be None or at least 1")
        if self.max_takeovers is not None and self.max_takeovers < 0:
            raise ValueError("ReconnectPolicy.max_takeovers must be None or at least 0")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1 for the first)."""
        exponent = max(0, failures - 1)
        try:
            cap = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        except OverflowError:
            cap = self.max_delay
        if not self.jitter:
            return cap
        return (rng or random).uniform(0.0, cap)

    def takeover_wait(self, recent: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``recent``-th takeover within the window (1 for the first).
        Between half and all of the doubled delay, so that two consumers drift apart."""
        try:
            cap = min(self.takeover_max_delay, self.takeover_delay * 2.0 ** max(0, recent - 1))
        except OverflowError:
            cap = self.takeover_max_delay
        if not self.jitter:
            return cap
        return (rng or random).uniform(cap / 2.0, cap)


@dataclass(frozen=True)
class ListenerStats:
    """A snapshot of a listener's health (``listener.stats``; each read makes a new one).

    ``messages``: batches received; ``events``: items in them; ``reconnects``: times delivery
    was re-established after a close or a failure; ``takeovers``: times another consumer took
    the websocket channel; ``failures``: failures seen in all, ``consecutive_failures`` since the
    last success; ``bad_frames``: frames that were not a NotificationMessage (logged, skipped);
    ``duplicates_dropped``: items not handed to the application because their ``uid`` was
    handed on (and finished) before, by this listener or, through a shared checkpoint, another
    consumer; ``busy``: items not handed on because another consumer sharing the checkpoint (or
    this listener, for a repeat of an item it has not finished yet) holds their ``uid``;
    ``last_close_code`` / ``last_close_reason``: of the last websocket close; ``last_error``: the
    text of the last failure; ``connected``: a websocket is open (long poll: the last poll
    succeeded); ``started``: `time.time` when the listener opened (None before);
    ``last_message_at``: `time.time` of the last batch.
    """

    channel: str
    connected: bool = False
    started: float | None = None
    messages: int = 0
    events: int = 0
    reconnects: int = 0
    takeovers: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    bad_frames: int = 0
    duplicates_dropped: int = 0
    busy: int = 0
    last_close_code: int | None = None
    last_close_reason: str | None = None
    last_error: str | None = None
    last_message_at: float | None = None
