"""What the two transports of a listener share: the interface of a batch source, the counters
behind ``listener.stats``, back-off, and channels of another type in the way."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeAlias

from mds.api.channels import channel_conflict, delete_channel, existing_channel
from mds.exceptions import (
    ApiException,
    ApiResponseError,
    ApiTransportError,
    GoneException,
    MdsError,
    TooManyRequestsException,
)
from mds.listener._policy import ListenerStats, ReconnectPolicy
from mds.listener._session import Session, Stopped
from mds.models import NotificationMessage

__all__ = [
    "Backoff",
    "Batch",
    "BatchSource",
    "ChannelGuard",
    "Counters",
    "batch_size",
    "has_items",
    "retryable",
]

logger = logging.getLogger("mds.listener")

#: One batch as its transport delivers it: the wire dict of a websocket frame (never wrapped in
#: models on the way to events), or the `NotificationMessage` of a long-poll answer.
Batch: TypeAlias = "dict[str, Any] | NotificationMessage"

#: The JSON keys of the item lists of a NotificationMessage.
_KINDS = tuple(NotificationMessage.attribute_map.values())


class BatchSource(Protocol):
    """Where a `NotificationListener`'s batches come from: one class per transport. Used by one
    thread at a time (the one that reads for the listener, see ``_stream``); ``stop()`` reaches a
    source's work through its `Session`."""

    def open(self) -> None:
        """Get the channel ready: check for channels in the way, register, connect. Raises
        `Stopped` when stopped meanwhile, and what `next_batch` raises."""

    def next_batch(self, timeout: float | None = None) -> Batch | None:
        """The next non-empty batch, retrying failures as the back-off says. With a *timeout*
        (seconds), None when it passes first; a source may also return None sooner, when
        something else happened that its caller may be waiting for (``ready``), and the caller
        asks again. Without one, it waits as long as it takes. Raises `Stopped` when the stream
        ends (``stop()``, or the service's close 1000), and the error itself when retrying is
        useless (a refused key, a channel conflict, ``max_failures`` reached)."""

    def drain(self) -> Batch | None:
        """After the stream ended: a batch that had already arrived, or None."""

    @property
    def ready(self) -> bool:
        """The channel exists on the service, so that what it queues (the answer to a device
        request) has somewhere to go. Reading batches makes it so."""


def has_items(data: Mapping[str, Any]) -> bool:
    """``bool(NotificationMessage)`` of a wire dict: some kind has items."""
    return any(data.get(key) for key in _KINDS)


def batch_size(batch: Batch) -> int:
    """The items of a batch (``len(NotificationMessage)``); in a wire dict, a kind whose value is
    not a list counts as the one error event it becomes (``len()`` of it would count characters,
    or fail)."""
    if isinstance(batch, NotificationMessage):
        return len(batch)
    data = batch
    total = 0
    for key in _KINDS:
        items = data.get(key)
        if items:
            total += len(items) if type(items) is list else 1
    return total


def retryable(exc: ApiException) -> bool:
    """Failures worth retrying: no answer, 429, 5xx, 410 (long poll purge), a bad 2xx body."""
    return (
        isinstance(exc, (ApiTransportError, TooManyRequestsException, GoneException,
                         ApiResponseError))
        or exc.status >= 500
        or exc.status == 0
    )


@dataclass(slots=True)
class Counters:
    """What `ListenerStats` reports, counted by the parts of a listener as things happen (in
    the thread that reads for the listener). The same fields as `ListenerStats` but its
    ``channel``, in the same order (`snapshot` fails loudly otherwise, and a test holds them in
    step): a mutable twin, because the counting threads must not allocate a snapshot per
    update."""

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

    def snapshot(self, channel: str) -> ListenerStats:
        return ListenerStats(channel=channel, **asdict(self))


class Backoff:
    """Counts failures and chooses the wait before the next attempt, as a `ReconnectPolicy`
    says; a healthy connection (one that delivered a batch, or lasted ``healthy_after``) starts
    the count again."""

    __slots__ = ("_connected_at", "_counters", "_delay", "_healthy", "_rng", "policy")

    def __init__(self, policy: ReconnectPolicy, counters: Counters) -> None:
        self.policy = policy
        self._counters = counters
        self._rng = random.Random()
        self._delay = 0.0  # before the next attempt
        self._connected_at = 0.0
        self._healthy = False

    def take_delay(self, until: float | None = None) -> float:
        """Take the pending delay out, to be waited now (0.0 when none is pending): all of it,
        or with *until* (a `time.monotonic` deadline) no more than what is left before it, the
        rest staying pending. For a caller that waits itself (``asyncio.sleep``)."""
        return self._take(until)[0]

    def pause(self, session: Session, until: float | None = None) -> bool:
        """Wait out the pending delay, but not past *until* (a `time.monotonic` deadline): True
        when it was waited out, False when the deadline came first (the rest stays pending).
        `Stopped` if stopped meanwhile."""
        delay, whole = self._take(until)
        session.wait(delay)
        return whole

    def _take(self, until: float | None) -> tuple[float, bool]:
        """(what to wait now, whether that is the whole pending delay)."""
        delay = self._delay
        if until is not None:
            left = until - time.monotonic()
            if left < delay:
                left = max(left, 0.0)
                self._delay = delay - left
                return left, False
        self._delay = 0.0
        return delay, True

    def postpone(self, seconds: float) -> None:
        """Make the next attempt wait *seconds* (a takeover's wait)."""
        self._delay = seconds

    def failure(self, exc: BaseException, what: str) -> None:
        """Count and log a failure and choose the next delay; past ``max_failures``, raise
        *exc*."""
        counters = self._counters
        counters.failures += 1
        counters.consecutive_failures += 1
        counters.connected = False
        counters.last_error = f"{type(exc).__name__}: {exc}"
        policy = self.policy
        consecutive = counters.consecutive_failures
        if policy.max_failures is not None and consecutive >= policy.max_failures:
            logger.error("%s: %s; giving up after %d consecutive failures", what, exc,
                         consecutive)
            raise exc
        delay = policy.delay(consecutive, self._rng)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        self._delay = delay
        logger.warning("%s: %s; retrying in %.2f s (failure %d in a row)", what, exc, delay,
                       consecutive)

    def succeeded(self) -> None:
        """An attempt worked (a long poll was answered)."""
        self._counters.consecutive_failures = 0

    def connected(self) -> None:
        """A connection opened now."""
        self._connected_at = time.monotonic()
        self._healthy = False

    @property
    def connected_for(self) -> float:
        """Seconds since the last connection opened."""
        return time.monotonic() - self._connected_at

    def delivered(self) -> None:
        """The open connection delivered a batch."""
        self._healthy = True

    def disconnected(self) -> None:
        """The connection closed: if it was healthy, failures count from zero again."""
        lasted = time.monotonic() - self._connected_at
        if self._healthy or lasted >= self.policy.healthy_after:
            self._counters.consecutive_failures = 0


class ChannelGuard:
    """A channel of another type in the way of the listener's: named in a
    `mds.ChannelConflictError`, or, with ``replace_existing``, deleted; only while opening,
    never once the listener has received."""

    __slots__ = ("_may_replace", "_session")

    def __init__(self, session: Session, replace_existing: bool) -> None:
        self._session = session
        self._may_replace = replace_existing

    def identify(self, default: str | None) -> str | None:
        """Which channel a 400 on registering (or polling) complains about: the one the key has,
        *default* when the service cannot say, None when asking failed."""
        session = self._session
        try:
            found = session.call(existing_channel, session.client)
        except MdsError as exc:
            if session.stopping:
                raise Stopped from None
            logger.debug("could not ask which channel exists: %s", exc)
            return None
        return found if found is not None else default

    def settle(self, refusal: ApiException | None, existing: str) -> None:
        """Delete the *existing* channel if still allowed, else raise the conflict naming it,
        with the status and body of the service's *refusal* when there is one."""
        if not self._may_replace:
            raise channel_conflict(refusal, existing) from None
        logger.warning("deleting the existing %s channel of this API key (replace_existing)",
                       existing)
        session = self._session
        session.call(delete_channel, session.api, existing)
        self._may_replace = False

    def opened(self) -> None:
        """The listener's channel works: replacing is over."""
        self._may_replace = False
