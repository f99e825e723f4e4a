"""Batches from the long poll: poll in the iterating thread, again at once after a 204, with
back-off after a failure."""

from __future__ import annotations

import logging

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


class LongPollSource:
    """The `BatchSource` of the long-poll channel. Batches are the `NotificationMessage` models
    the API client returns (their items are read in place)."""

    __slots__ = ("_backoff", "_counters", "_guard", "_session")

    def __init__(self, session: Session, backoff: Backoff, counters: Counters,
                 guard: ChannelGuard) -> None:
        self._session = session
        self._backoff = backoff
        self._counters = counters
        self._guard = guard

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
        if existing is not None and existing != LONG_POLL:
            self._guard.settle(None, existing)

    def next_batch(self) -> Batch:
        session, backoff, guard = self._session, self._backoff, self._guard
        while True:
            backoff.pause(session)
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
            if message:
                return message

    def drain(self) -> Batch | None:
        """Nothing arrives after a stop: the held poll was aborted."""
        return None
