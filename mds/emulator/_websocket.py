"""The websocket side of the emulator: one :class:`WebsocketSession` per accepted socket.

The HTTP handler parses the upgrade request, performs the opening handshake with websockets'
sans-I/O :class:`~websockets.server.ServerProtocol` and then hands the socket to
:func:`serve_session`, which runs in the handler's own thread until the socket is closed. Frames
from the client are read by websockets' threading :class:`~websockets.sync.connection.Connection`
(which also answers pings); this module only sends.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from mds.emulator._state import KeyState, WebsocketChannel, build_message, pop_front, push_front

if TYPE_CHECKING:
    from mds.emulator._emulator import Emulator

__all__ = ["WebsocketSession", "serve_session"]

logger = logging.getLogger("mds.emulator")

#: How long a close handshake may take before the socket is simply closed.
CLOSE_TIMEOUT = 2.0


class _ServerSocket(Connection):
    """A threading websockets connection that ignores data frames and reports its end."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: ServerProtocol,
        on_closed: Callable[[], None],
    ) -> None:
        self._on_closed = on_closed
        super().__init__(sock, protocol, ping_interval=None, close_timeout=CLOSE_TIMEOUT)

    def process_event(self, event: Event) -> None:
        # Clients are not supposed to send anything; dropping data frames keeps the receive
        # buffer from filling up (which would stop websockets from answering pings).
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            return
        super().process_event(event)

    def recv_events(self) -> None:
        try:
            super().recv_events()
        finally:
            self._on_closed()


class WebsocketSession:
    """One accepted websocket: what the rest of the emulator may ask of it.

    Other threads never touch the socket; they set :attr:`close_request` or
    :attr:`drop_request` under the emulator lock and notify the key's condition, and the
    session's own thread acts on it.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.close_request: tuple[int, str] | None = None
        self.drop_request = False
        self.peer_gone = False
        self.frames_sent = 0

    def request_close(self, code: int, reason: str) -> None:
        """Ask the session to close with ``code`` (caller holds the emulator lock)."""
        if self.close_request is None and not self.drop_request:
            self.close_request = (code, reason)

    def request_drop(self) -> None:
        """Ask the session to drop its TCP connection (caller holds the emulator lock)."""
        if self.close_request is None:
            self.drop_request = True

    @property
    def ending(self) -> bool:
        """Whether the session should stop delivering."""
        return self.peer_gone or self.drop_request or self.close_request is not None


def detach_session(emulator: Emulator, attached: Attached) -> None:
    """Undo `attach_session` for a socket whose handshake could not be completed."""
    with emulator._lock:
        channel = attached.channel
        if channel is not None and channel.session is attached.session:
            channel.session = None
            channel.disconnected_since = time.monotonic()


def attach_session(emulator: Emulator, api_key: str) -> Attached:
    """Make a new session the key's websocket connection (closing the one it replaces)."""
    session = WebsocketSession(api_key)
    state, channel = emulator._attach_session(session)
    return Attached(session, state, channel)


class Attached(NamedTuple):
    session: WebsocketSession
    state: KeyState | None
    channel: WebsocketChannel | None


def serve_session(
    emulator: Emulator,
    sock: socket.socket,
    protocol: ServerProtocol,
    api_key: str,
    refusal: tuple[int, str] | None,
    attached: Attached | None = None,
) -> None:
    """Run one accepted websocket until it closes.

    ``refusal`` is the close code and reason for a socket that must be closed right after the
    handshake (1008 for a bad key, 1011 for a missing channel); otherwise the socket takes over
    the key's websocket channel and delivers its queue.
    """
    if attached is None:
        attached = Attached(WebsocketSession(api_key), None, None)
    session = attached.session
    state: KeyState | None = attached.state
    channel: WebsocketChannel | None = attached.channel

    def on_closed() -> None:
        with emulator._lock:
            session.peer_gone = True
            if state is not None:
                state.cond.notify_all()

    connection = _ServerSocket(sock, protocol, on_closed)
    try:
        if refusal is None:
            if channel is None:
                refusal = (1011, "no websocket channel is registered for this API key")
        if refusal is not None or state is None or channel is None:
            code, reason = refusal or (1011, "unexpected condition")
            connection.close(code, reason)
            return
        _deliver(emulator, connection, session, state, channel)
    finally:
        connection.wait_closed(CLOSE_TIMEOUT * 2)
        if connection.recv_events_thread.is_alive():  # pragma: no cover - a stuck peer
            connection.close_socket()


def _deliver(
    emulator: Emulator,
    connection: _ServerSocket,
    session: WebsocketSession,
    state: KeyState,
    channel: WebsocketChannel,
) -> None:
    """Send the channel's queue, one NotificationMessage per text frame, until told to stop."""
    limit = emulator.batch_limit
    while True:
        with emulator._lock:
            while not session.ending and not channel.queue:
                state.cond.wait()
            if session.ending:
                break
            message, count = build_message(channel.queue, limit)
            items = pop_front(channel.queue, count)
        try:
            connection.send(json.dumps(message, separators=(",", ":")))
        except (ConnectionClosed, OSError):
            with emulator._lock:
                # Whatever did not reach the socket goes back to the front of the queue.
                if state.channel is channel:
                    push_front(channel.queue, items)
                session.peer_gone = True
            break
        with emulator._lock:
            session.frames_sent += 1
            if emulator._should_drop_after_frame(session):
                session.request_drop()

    with emulator._lock:
        if channel.session is session:
            channel.session = None
            channel.disconnected_since = time.monotonic()
        close_request = session.close_request
        drop = session.drop_request
    if drop:
        logger.debug("websocket dropped without a close frame (fault)")
        try:
            # shutdown() sends a FIN after everything already written, so frames sent so far
            # still arrive; the client then sees the TCP connection end without a close frame.
            connection.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.close_socket()
    elif close_request is not None:
        connection.close(*close_request)
