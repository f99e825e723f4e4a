"""Batches from the long poll: poll in the iterating thread, again at once after a 204, with
back-off after a failure."""

from __future__ import annotations

import logging
import time

from mds.api.channels import LONG_POLL, channel_conflict, existing_channel
from mds.exceptions import (
    ApiException,
    BadRequestException,
    ConflictException,
    ForbiddenException,
    MdsError,
    UnauthorizedException,
)
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, ChannelGuard, Counters, retryable

__all__ = ["LongPollSource"]

logger = logging.getLogger("mds.listener")

#: How long after a poll the channel counts as there: half the ten minutes the service keeps a
#: long-poll channel without a poll.
_FRESH_FOR = 300.0


class LongPollSource:
    """The `BatchSource` of the long-poll channel. Batches are the `NotificationMessage` models
    the API client returns (their items are read in place)."""

    __slots__ = ("_answered_at", "_backoff", "_counters", "_guard", "_session")

    def __init__(self, session: Session, backoff: Backoff, counters: Counters,
                 guard: ChannelGuard) -> None:
        self._session = session
        self._backoff = backoff
        self._counters = counters
        self._guard = guard
        self._answered_at: float | None = None  # when a poll was last answered (monotonic)

    @property
    def ready(self) -> bool:
        """A poll was answered (or the channel was found) recently: the channel exists. The
        first poll makes it, and it lives until ten minutes pass without one."""
        answered = self._answered_at
        return answered is not None and time.monotonic() - answered < _FRESH_FOR

    def open(self) -> None:
        """Refuse (or replace) a channel of another type before the first poll; the poll itself
        creates the long-poll channel."""
        session = self._session
        try:
            existing = session.call(existing_channel, session.client)
        except (UnauthorizedException, ForbiddenException):
            raise
        except MdsError as exc:
            if session.stopping:
                raise Stopped from None
            logger.debug("could not ask which channel exists: %s", exc)
            return
        if existing == LONG_POLL:
            self._answered_at = time.monotonic()
        elif existing is not None:
            self._guard.settle(None, existing)

    def next_batch(self, timeout: float | None = None) -> Batch | None:
        """The next batch; with a *timeout*, None after a poll that brought nothing (which
        made the channel, if it was not there), or once *timeout* has passed. A poll is never
        cut short (the batch it may bring would be lost), so a poll under way when *timeout*
        passes is waited for: the service answers it within its hold (30 s)."""
        session, backoff, guard = self._session, self._backoff, self._guard
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not backoff.pause(session, deadline):
                return None
            try:
                message = session.call(session.api.long_poll_notifications)
            except (UnauthorizedException, ForbiddenException):
                raise
            except ConflictException as exc:
                raise channel_conflict(exc, LONG_POLL,
                                       "another long poll is waiting on this API key") from None
            except BadRequestException as exc:
                if session.stopping:
                    raise Stopped from None
                existing = guard.identify(default=None)
                if existing is None or existing == LONG_POLL:
                    backoff.failure(exc, "long poll failed")
                else:
                    guard.settle(exc, existing)
                continue
            except MdsError as exc:
                if session.stopping:
                    raise Stopped from None
                if isinstance(exc, ApiException) and not retryable(exc):
                    raise
                backoff.failure(exc, "long poll failed")
                continue
            guard.opened()
            counters = self._counters
            if not counters.connected:
                counters.connected = True
                if counters.failures:
                    counters.reconnects += 1
            backoff.succeeded()
            self._answered_at = time.monotonic()
            if message:
                return message
            if deadline is not None:
                return None  # the caller may be waiting for the channel, or may ask again

    def drain(self) -> Batch | None:
        """Nothing arrives after a stop: the held poll was aborted."""
        return None
