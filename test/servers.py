"""Small purpose-built servers on 127.0.0.1 for byte-level tests: a scripted HTTP server that
records every request and answers exactly what a test tells it (status, headers, body bytes,
delays, dropped connections), an HTTP proxy (absolute-URI forwarding and CONNECT tunnels), and
`wait_until`, the one way a test polls for a condition."""

from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    request_line: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: "drop": close the socket without answering; "hang": never answer (until shutdown)
    action: str | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path
        self.server.record(
            Recorded(self.command, path, dict(self.headers.items()), body, self.requestline)
        )
        reply = self.server.next_reply(self.command, path.split("?", 1)[0])
        if reply.delay:
            self.server.stopping.wait(reply.delay)
        if reply.action == "hang":
            self.server.stopping.wait()
            self.close_connection = True
            return
        if reply.action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        data = reply.body
        headers = dict(reply.headers)
        if isinstance(data, (dict, list)):
            data = json.dumps(data).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(data, str):
            data = data.encode()
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.status not in (204, 304) and not 100 <= reply.status < 200:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and reply.status not in (204, 304):
            self.wfile.write(data)

    # http.server dispatches on these names.
    do_GET = do_PUT = do_DELETE = do_POST = _handle  # noqa: N815 - the stdlib's names


class ScriptedServer(ThreadingHTTPServer):
    """An HTTP(S) server answering from a script. ``reply(method, path, ...)`` queues one answer
    for that route (FIFO); ``default`` answers everything else. ``requests`` records all."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.requests: list[Recorded] = []
        self.default = Reply(404, {"object": "error", "code": 404, "type": "not_found",
                                   "message": "no script", "request_id": "0" * 32})
        self._routes: dict[tuple[str, str], deque[Reply]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections = 0
        self._thread: threading.Thread | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.connections += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS failures and dropped clients are expected in these tests

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def reply(self, method: str, path: str, status: int = 200, body: Any = b"",
              headers: dict[str, str] | None = None, *, delay: float = 0.0,
              action: str | None = None, times: int = 1) -> None:
        with self._lock:
            queue = self._routes.setdefault((method, path), deque())
            for _ in range(times):
                queue.append(Reply(status, body, dict(headers or {}), delay, action))

    def next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            queue = self._routes.get((method, path))
            if queue:
                return queue.popleft()
        return self.default

    def record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def __enter__(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def do_CONNECT(self) -> None:
        self.server.seen.append(f"CONNECT {self.path}")
        host, port = self.path.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        client = self.connection
        sockets = [client, upstream]
        try:
            while not self.server.stopping.is_set():
                ready, _, _ = select.select(sockets, [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()
            self.close_connection = True

    def _forward(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = self.path.split("://", 1)[1]
        hostport, _, rest = target.partition("/")
        host, port = hostport.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection",)}
        self.server.seen_headers.append(headers)
        conn.request(self.command, "/" + rest, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    # http.server dispatches on these names.
    do_GET = do_PUT = do_DELETE = do_POST = _forward  # noqa: N815 - the stdlib's names


class ProxyServer(ThreadingHTTPServer):
    """A forwarding HTTP proxy; ``seen`` lists the request lines it handled."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[str] = []
        self.seen_headers: list[dict[str, str]] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> ProxyServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Call *predicate* every *interval* seconds until it returns a true value or *timeout*
    seconds have passed; return whether it did.

    The one way a test waits for something another thread or process does: assert on the
    result (``assert wait_until(lambda: len(server.requests) == 2)``) instead of sleeping.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
