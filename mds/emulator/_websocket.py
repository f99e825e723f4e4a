"""The websocket transport of the emulator: serve one accepted socket for the service.

The HTTP handler parses the upgrade request, performs the opening handshake with websockets'
sans-I/O :class:`~websockets.server.ServerProtocol`, binds the socket with
:meth:`NotificationService.connect_socket` and hands it to :func:`serve_session`, which runs in
the handler's own thread until the socket is closed. Frames from the client are read by
websockets' threading :class:`~websockets.sync.connection.Connection` (which also answers pings);
this module only sends what the service hands out and ends the socket the way the service says.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import OPEN, Event
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from mds.emulator._channels import SocketSession
from mds.emulator._service import Batch, NotificationService

__all__ = ["CLOSE_TIMEOUT", "SLOW_PAUSE", "SLOW_PIECES", "serve_session"]

logger = logging.getLogger("mds.emulator")

#: How long a close handshake may take before the socket is simply closed.
CLOSE_TIMEOUT = 2.0
#: A ``websocket.slow`` frame is written in this many pieces, with this pause (s) between.
SLOW_PIECES = 8
SLOW_PAUSE = 0.005


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


def _send_faulty(connection: Connection, text: str, batch: Batch) -> None:
    """Write ``text`` as one text frame the way ``batch.fault`` says: only the first
    ``batch.cut`` of its bytes (``"drop"``: the connection ends right after), or in
    :data:`SLOW_PIECES` pieces with :data:`SLOW_PAUSE` between them (``"slow"``).

    The frame is built by the connection's own protocol under its lock, so that nothing
    (a pong) is written in the middle of it.

    Raises:
        ConnectionClosed: When the connection is no longer open.
        OSError: When the socket fails.
    """
    with connection.protocol_mutex:
        protocol = connection.protocol
        if protocol.state is not OPEN:
            raise ConnectionClosed(None, None)
        protocol.send_text(text.encode())
        raw = b"".join(protocol.data_to_send())
        if batch.fault == "drop":
            connection.socket.sendall(raw[: int(len(raw) * batch.cut)])
            return
        piece = max(1, math.ceil(len(raw) / SLOW_PIECES))
        for start in range(0, len(raw), piece):
            if start:
                time.sleep(SLOW_PAUSE)  # the fault itself: a frame trickling out
            connection.socket.sendall(raw[start : start + piece])


def serve_session(
    service: NotificationService,
    sock: socket.socket,
    protocol: ServerProtocol,
    session: SocketSession,
) -> None:
    """Run one accepted websocket until it closes.

    Sends one NotificationMessage per text frame while the service hands out batches, then
    closes with the code the service asked for, drops the TCP connection (a fault), or just
    waits for the peer's close.
    """
    connection = _ServerSocket(sock, protocol, lambda: service.socket_closed(session))
    try:
        while (batch := service.next_frame(session)) is not None:
            text = json.dumps(batch.message, separators=(",", ":"))
            try:
                if batch.fault is None:
                    connection.send(text)
                else:
                    _send_faulty(connection, text, batch)
            except (ConnectionClosed, OSError):
                if batch.fault != "drop":  # a dropped frame's items are already lost
                    service.frame_failed(session, batch)
            else:
                if batch.fault != "drop":
                    service.frame_sent(session, batch)
        end = service.disconnect(session)
        if end.drop:
            logger.debug("websocket dropped without a close frame (fault)")
            try:
                # shutdown() sends a FIN after everything already written, so frames sent so
                # far still arrive; the client sees the TCP connection end without a close frame.
                connection.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close_socket()
        elif end.close is not None:
            connection.close(*end.close)
    finally:
        connection.wait_closed(CLOSE_TIMEOUT * 2)
        if connection.recv_events_thread.is_alive():  # pragma: no cover - a stuck peer
            connection.close_socket()
