"""The listener's private client, and how ``stop()`` reaches into it from any thread."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from mds.api.notifications_api import NotificationsApi
from mds.api_client import ApiClient

if TYPE_CHECKING:
    from mds.websocket import WebsocketConnection

__all__ = ["Session", "Stopped"]

P = ParamSpec("P")
R = TypeVar("R")

#: How long ``stop()`` keeps interrupting a request that is just connecting (local calls take ms).
_INTERRUPT_FOR = 2.0


class Stopped(Exception):
    """The listener was stopped, or the service ended the stream: the iteration ends."""


class Session:
    """The listener's private `ApiClient`, and the means for ``stop()`` to abort its work.

    Every request goes through `call`, so that `stop` can interrupt the one in flight; the open
    websocket is held here (`hold`), so that `stop` can close it; every wait goes through `wait`,
    so that `stop` cuts it short. Once stopped, `call` and `wait` raise `Stopped`. `stop` is the
    one method meant for other threads.
    """

    __slots__ = ("_connection", "_in_call", "_lock", "_owner", "_stopping", "api", "client")

    #: The private client, and `NotificationsApi` on it (from `start` on).
    client: ApiClient
    api: NotificationsApi

    def __init__(self) -> None:
        # Re-entrant: stop() may run in a signal handler on top of the iterating thread.
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._connection: WebsocketConnection | None = None
        self._in_call = False  # a request of the private client may be in flight
        self._owner: threading.Thread | None = None  # the thread that iterates

    def start(self, api_client: ApiClient) -> None:
        """Make the private client: same service, key and TLS settings as *api_client*, so that
        ``stop()`` can abort its requests without touching the caller's. Its transport retries
        are off: the listener retries itself, logging every failure."""
        configuration = copy.copy(api_client.configuration)
        configuration.retries = False
        # Only the log settings are per client; the private one logs through the shared logger.
        configuration.debug = False
        configuration.logger_file = None
        client = ApiClient(configuration, cookie=api_client.cookie)
        for name, value in api_client.default_headers.items():
            client.default_headers[name] = value
        with self._lock:
            self.client = client
            self.api = NotificationsApi(client)

    @property
    def stopping(self) -> bool:
        """``stop()`` was called (or the stream ended)."""
        return self._stopping.is_set()

    @property
    def connection(self) -> WebsocketConnection | None:
        """The websocket held for ``stop()`` (closed by it, but kept until let go, so that what
        it had already received can still be read)."""
        return self._connection

    def claim(self) -> None:
        """Note the calling thread as the iterating one (``stop()`` from it must not wait for
        its own request to end)."""
        self._owner = threading.current_thread()

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one request of the private client, marked so that ``stop()`` can abort it."""
        with self._lock:
            if self._stopping.is_set():
                raise Stopped
            self._in_call = True
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._in_call = False

    def wait(self, delay: float) -> None:
        """Sleep *delay* seconds; raises `Stopped` at once when stopped (or already)."""
        if self._stopping.is_set() or (delay > 0 and self._stopping.wait(delay)):
            raise Stopped

    def hold(self, connection: WebsocketConnection) -> None:
        """Keep *connection* for ``stop()`` to close. If ``stop()`` came first, closes it and
        raises `Stopped`."""
        with self._lock:
            self._connection = connection
            stopping = self._stopping.is_set()
        if stopping:
            connection.close()
            raise Stopped

    def let_go(self, connection: WebsocketConnection) -> None:
        """Close *connection* and stop holding it."""
        with self._lock:
            if self._connection is connection:
                self._connection = None
        connection.close()

    def stop(self) -> None:
        """From any thread: close the held websocket, abort the request in flight, cut waits
        short, and refuse further work. Idempotent."""
        with self._lock:
            self._stopping.set()
            connection = self._connection
            in_call = self._in_call  # then the client was started
        if connection is not None:
            connection.close()
        if not in_call:
            return
        # A request that was about to connect when interrupt() ran would escape it: repeat until
        # the iterating thread has left the call (bounded).
        deadline = time.monotonic() + _INTERRUPT_FOR
        while True:
            self.client.interrupt()
            with self._lock:
                if not self._in_call:
                    return
            if time.monotonic() >= deadline or threading.current_thread() is self._owner:
                return
            time.sleep(0.01)

    def close(self) -> None:
        """After `stop` (and `start`): close the held websocket and the private client."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        self.client.close()
