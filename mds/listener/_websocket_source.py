"""Batches from the notification websocket: register, connect, apply the close-code policy to
every close, recognise takeovers, reconnect."""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mds.api.channels import LONG_POLL, WEBSOCKET
from mds.exceptions import (
    ApiException,
    ApiResponseError,
    ApiTimeoutError,
    ApiTransportError,
    BadRequestException,
    ChannelConflictError,
    ChannelTakenOverError,
    ForbiddenException,
    MdsError,
    UnauthorizedException,
    WebsocketClosedError,
)
from mds.listener._policy import Action, ReconnectPolicy
from mds.listener._session import Session, Stopped
from mds.listener._source import Backoff, Batch, ChannelGuard, Counters, has_items, retryable
from mds.models import SerializationConfigData
from mds.websocket import open_websocket, parse_frame_dict

if TYPE_CHECKING:
    from mds.websocket import WebsocketConnection

__all__ = ["Takeovers", "WebsocketOptions", "WebsocketSource", "close_action", "takeover_said"]

logger = logging.getLogger("mds.listener")

# Words of a 1001 close reason that say another connection took the channel, and words that
# say it is something else.
_TAKEOVER_WORDS = ("another", "took over", "taken over", "takeover", "new connection")
_NOT_TAKEOVER_WORDS = ("shut", "delet")


@dataclass(frozen=True)
class WebsocketOptions:
    """How a listener opens and keeps its websocket (the `NotificationListener` keywords of the
    same names)."""

    register: bool
    close_code_policy: Mapping[int, Action]
    ping_interval: float | None
    ping_timeout: float | None
    subprotocol_auth: bool
    connect_timeout: float
    close_timeout: float
    #: sent when registering (the 2020 ``cfg`` flags: uid, timestamp); None sends no body
    serialization: SerializationConfigData | None = None


def takeover_said(reason: str) -> bool | None:
    """What the reason of a 1001 close says: True, that another connection took the channel;
    False, something else (the service shutting down, the channel deleted); None, nothing
    conclusive (ask the service whether someone else is connected)."""
    text = (reason or "").lower()
    if any(word in text for word in _TAKEOVER_WORDS):
        return True
    if any(word in text for word in _NOT_TAKEOVER_WORDS):
        return False
    return None


def close_action(options: WebsocketOptions, backoff: Backoff, counters: Counters, code: int,
                 reason: str) -> Action:
    """Count the close of a listener's websocket by the service with *code* and *reason*, and
    apply the options' close-code policy: raises the policy's exception (`mds.UnauthorizedException`,
    `mds.WebsocketClosedError`), or returns STOP (the caller ends the stream), RECONNECT or
    REREGISTER."""
    counters.connected = False
    counters.last_close_code, counters.last_close_reason = code, reason
    backoff.disconnected()
    action = options.close_code_policy.get(code, Action.RECONNECT)
    if action is Action.STOP:
        logger.info("websocket closed by the service with %d (%s): stopping", code, reason)
    elif action is Action.RAISE_UNAUTHORIZED:
        raise UnauthorizedException(
            401, f"websocket closed with {code} (API key missing or invalid)"
            + (f": {reason}" if reason else ""))
    elif action is Action.RAISE:
        raise WebsocketClosedError(code, reason)
    return action


class Takeovers:
    """The takeovers of the websocket channel within the policy's window, and how long to stay
    away after each: doubling, so that two consumers of one key settle down."""

    __slots__ = ("_policy", "_rng", "_times")

    def __init__(self, policy: ReconnectPolicy) -> None:
        self._policy = policy
        self._rng = random.Random()
        self._times: deque[float] = deque()

    def record(self, held: float = 0.0) -> float:
        """Count a takeover now, of a connection that was ours for *held* seconds; returns the
        seconds to wait before taking the channel back. Raises `mds.ChannelTakenOverError` past
        ``max_takeovers`` within the window.

        A connection held for the policy's ``healthy_after`` starts the count again: two
        consumers fighting over the channel take it from each other within the takeover waits
        (5, 10, 20 s...), while a short-lived one (``mds request`` on the same key now and
        then) leaves the listener the channel for longer in between."""
        policy = self._policy
        now = time.monotonic()
        times = self._times
        if held >= policy.healthy_after:
            times.clear()
        times.append(now)
        while now - times[0] > policy.takeover_window:
            times.popleft()
        if policy.max_takeovers is not None and len(times) > policy.max_takeovers:
            raise ChannelTakenOverError(len(times), policy.takeover_window)
        return policy.takeover_wait(len(times), self._rng)

    @property
    def recent(self) -> int:
        """Takeovers within the window, as of the last one."""
        return len(self._times)

    def taken_over(self, backoff: Backoff, counters: Counters) -> None:
        """Another consumer took the channel from the connection *backoff* saw open: not a
        failure; count it and make *backoff* stay away for a while, longer each time (`record`;
        `mds.ChannelTakenOverError` past the policy's limit)."""
        counters.takeovers += 1
        wait = self.record(backoff.connected_for)
        backoff.postpone(wait)
        logger.warning(
            "another consumer took over the websocket channel of this API key (%d time(s) "
            "recently, %d in all); reconnecting in %.1f s. Only one connection per key receives "
            "notifications.", self.recent, counters.takeovers, wait)


class WebsocketSource:
    """The `BatchSource` of the websocket channel. Frames become wire dicts, never models."""

    __slots__ = ("_backoff", "_connected_before", "_counters", "_guard", "_options",
                 "_register_next", "_session", "_takeovers")

    def __init__(self, session: Session, backoff: Backoff, counters: Counters,
                 guard: ChannelGuard, options: WebsocketOptions) -> None:
        self._session = session
        self._backoff = backoff
        self._counters = counters
        self._guard = guard
        self._options = options
        self._takeovers = Takeovers(backoff.policy)
        self._register_next = options.register  # register (PUT) before the next connect
        self._connected_before = False

    def open(self) -> None:
        self._connect(None)

    @property
    def ready(self) -> bool:
        """Registered and connected once: from then on the service queues for the channel, also
        while a reconnection is under way."""
        return self._connected_before

    def next_batch(self, timeout: float | None = None) -> Batch | None:
        session = self._session
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            conn = session.connection or self._connect(deadline)
            if conn is None:
                return None
            # Past the deadline, still take a frame that is already there.
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                batch = parse_frame_dict(conn.recv_raw(wait))
            except ApiTimeoutError:  # *wait* passed (the frame, if one is coming, stays queued)
                return None
            except ApiResponseError as exc:
                self._counters.bad_frames += 1
                logger.warning("skipped a websocket frame that is not a NotificationMessage: %s",
                               exc.reason)
                continue
            except WebsocketClosedError as exc:
                self._closed(conn, int(exc.code or 1006), exc.close_reason)
                continue
            except ApiTransportError as exc:
                self._closed(conn, 1006, str(exc))
                continue
            if has_items(batch):
                self._backoff.delivered()
                return batch

    def drain(self) -> Batch | None:
        conn = self._session.connection
        if conn is None:
            return None
        while True:
            try:
                batch = parse_frame_dict(conn.recv_raw(timeout=0))
            except ApiResponseError:
                self._counters.bad_frames += 1
                continue
            except MdsError:
                self._forget(conn)
                return None
            if has_items(batch):
                return batch

    def _connect(self, deadline: float | None) -> WebsocketConnection | None:
        """Register if needed, wait out the pending delay, open the websocket; retries failures
        with back-off. None when the *deadline* (`time.monotonic`) comes during a delay."""
        session, options = self._session, self._options
        while True:
            if not self._backoff.pause(session, deadline):
                return None
            try:
                if self._register_next:
                    self._register()
                    self._register_next = False
                conn = open_websocket(
                    session.client, subprotocol_auth=options.subprotocol_auth,
                    timeout=options.connect_timeout, ping_interval=options.ping_interval,
                    ping_timeout=options.ping_timeout, close_timeout=options.close_timeout,
                )
            except (UnauthorizedException, ForbiddenException, ChannelConflictError):
                raise
            except ApiException as exc:
                if session.stopping:
                    raise Stopped from None
                if not retryable(exc):
                    raise
                self._backoff.failure(exc, "could not open the websocket")
                continue
            session.hold(conn)
            if self._connected_before:
                self._counters.reconnects += 1
            self._connected_before = True
            self._counters.connected = True
            self._backoff.connected()
            self._guard.opened()
            logger.info("websocket connected to %s", conn.url)
            return conn

    def _register(self) -> None:
        """Register the websocket channel (PUT, with the options' serialization: registering a
        channel that exists applies it); a channel of another type in the way is named, or
        replaced once when opening with ``replace_existing``."""
        session = self._session
        serialization = self._options.serialization
        try:
            session.call(session.api.register_websocket, serialization)
            return
        except BadRequestException as exc:
            existing = self._guard.identify(default=LONG_POLL)
            if existing is None or existing == WEBSOCKET:
                raise
            self._guard.settle(exc, existing)
        session.call(session.api.register_websocket, serialization)

    def _forget(self, conn: WebsocketConnection) -> None:
        self._session.let_go(conn)
        self._counters.connected = False

    def _closed(self, conn: WebsocketConnection, code: int, reason: str) -> None:
        """Apply the close-code policy to a closed websocket: returns to reconnect, raises
        `Stopped` to end, or raises the policy's exception."""
        self._forget(conn)
        if self._session.stopping:
            raise Stopped
        action = close_action(self._options, self._backoff, self._counters, code, reason)
        if action is Action.STOP:
            raise Stopped
        self._register_next = action is Action.REREGISTER
        if code == 1001 and self._is_takeover(reason):
            self._register_next = False
            self._takeovers.taken_over(self._backoff, self._counters)
            return
        self._backoff.failure(WebsocketClosedError(code, reason), "websocket closed")

    def _is_takeover(self, reason: str) -> bool:
        said = takeover_said(reason)
        if said is not None:
            return said
        # The reason is not conclusive: ask whether someone else is connected to the channel.
        session = self._session
        try:
            channel = session.call(session.api.get_websocket, _request_timeout=5.0)
        except MdsError:
            return False
        return str(getattr(channel, "status", "")).lower() == "connected"
