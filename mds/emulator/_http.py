"""HTTP side of the emulator: the service's REST endpoints, the websocket upgrade and the admin API,
all on one :class:`http.server.ThreadingHTTPServer` port.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import OPEN
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from mds._version import __version__
from mds.emulator._emulator import Emulator
from mds.emulator._state import (
    CallbackChannel,
    KeyState,
    PullChannel,
    WebsocketChannel,
    build_message,
    pop_front,
    push_front,
)
from mds.emulator._websocket import CLOSE_TIMEOUT, attach_session, detach_session, serve_session

__all__ = ["EmulatorServer"]

logger = logging.getLogger("mds.emulator")

ERROR_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    426: "upgrade_required",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

#: Largest request body accepted (the service's own limits are far below this).
MAX_BODY = 16 * 1024 * 1024
#: URL + header names + header values of a webhook, at most.
WEBHOOK_MAX_CHARS = 400
OTHER_CHANNEL = "other type of channel already exists"
WEBSOCKET_CONNECT = "/v2/notification/websocket-connect"


def error_body(
    status: int, message: str, fields: Sequence[Mapping[str, str]] | None = None
) -> dict[str, Any]:
    """The service's JSON error body."""
    body: dict[str, Any] = {
        "object": "error",
        "code": status,
        "type": ERROR_TYPES.get(status, "error"),
        "message": message,
        "request_id": uuid.uuid4().hex,
    }
    if fields:
        body["fields"] = [dict(field) for field in fields]
    return body


def redact_headers(headers: Any) -> dict[str, str]:
    """Request headers with the API key replaced by ``[secure]`` wherever it can appear."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "authorization":
            value = "[secure]"
        elif lower == "sec-websocket-protocol":
            value = ", ".join(
                "[secure]" if part.strip().startswith("pelion_") else part.strip()
                for part in value.split(",")
            )
        redacted[name] = f"{redacted[name]}, {value}" if name in redacted else value
    return redacted


def _select_subprotocol(
    protocol: ServerProtocol, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    # The service answers "wss" when offered; the pelion_<key> entry only carries credentials.
    return Subprotocol("wss") if "wss" in offered else None


class _Answered(Exception):
    """Raised inside a handler once the response has been sent."""


class EmulatorServer(ThreadingHTTPServer):
    """The emulator's HTTP server: one daemon thread per connection, all tracked for stop()."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._websockets: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host name (socket.getfqdn), which can stall
        # on a machine without DNS; the emulator does not need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="mds-emulator-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - same as socketserver: one connection's failure is logged
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                self._connections.pop(request, None)
                self._websockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing mid-request are normal here; keep them out of stderr.
        logger.debug("error while serving a connection", exc_info=True)

    def mark_websocket(self, sock: socket.socket) -> None:
        """Note that ``sock`` now carries a websocket (closed first, and gently, on stop)."""
        with self._connections_lock:
            self._websockets.add(sock)

    def close_all_connections(self) -> None:
        """Let websockets finish their close handshakes, then end every other connection."""
        deadline = time.monotonic() + CLOSE_TIMEOUT * 2
        with self._connections_lock:
            websocket_threads = [
                thread for sock, thread in self._connections.items() if sock in self._websockets
            ]
        for thread in websocket_threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._connections_lock:
            remaining = list(self._connections.items())
        for sock, _thread in remaining:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _sock, thread in remaining:
            thread.join(2.0)


Route = Callable[["Handler", str, bytes], None]


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection to the emulator (keep-alive; may become a websocket)."""

    protocol_version = "HTTP/1.1"
    server_version = f"mds-emulator/{__version__}"

    def version_string(self) -> str:
        return self.server_version

    server: EmulatorServer

    # ------------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.emulator._stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self._send(status, body, "application/json", headers)

    def _error(
        self,
        status: int,
        message: str,
        fields: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._json(status, error_body(status, message, fields), headers)

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering a malformed one."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    self._error(400, "Malformed chunked body.")
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    self._error(413, "Request body too large.")
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            self._error(400, "Invalid Content-Length.")
            return None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._error(413, "Request body too large.")
            return None
        return self.rfile.read(length)

    def _bearer(self) -> str | None:
        """The Authorization credentials: ``None`` when absent, ``""`` when not a bearer token."""
        header = self.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return ""
        return token.strip()

    def _authenticate(self, forbid: bool = True) -> str:
        """Check the API key and return it; answer 401/403 and raise :class:`_Answered` if not.

        ``forbid=False`` answers 401 instead of 403 for a token that is not an API key, on the
        endpoints whose documented answers do not include 403.
        """
        token = self._bearer()
        problem = self.emulator._check_key(token)
        if problem is not None:
            status, message = problem
            if status == 403 and not forbid:
                status = 401
            self._error(status, message)
            raise _Answered
        assert token is not None
        return token

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        try:
            if path.startswith("/_emulator/"):
                self._admin(method, path, body)
                return
            self.emulator._record_request(
                {
                    "method": method,
                    "path": self.path,
                    "headers": redact_headers(self.headers),
                    "body": body.decode("utf-8", "replace"),
                    "time": time.time(),
                }
            )
            routes = ROUTES.get(path)
            if routes is None:
                self._error(404, f"No such endpoint: {path}")
                return
            route = routes.get(method)
            if route is None:
                self._error(
                    405, f"{method} is not allowed on {path}", headers={"Allow": ", ".join(routes)}
                )
                return
            if path != WEBSOCKET_CONNECT and self._apply_fault(f"{method} {path}", self._bearer()):
                return
            route(self, path, body)
        except _Answered:
            pass

    def _apply_fault(self, endpoint: str, api_key: str | None) -> bool:
        """Apply an armed fault for ``endpoint``; ``True`` when it answered the request."""
        fault = self.emulator._take_fault(endpoint, api_key)
        if fault is None:
            return False
        if fault["delay"]:
            self.emulator._stop_event.wait(fault["delay"])
        status = fault["status"]
        if status is None:
            return False
        body = fault["body"]
        headers = dict(fault["headers"])
        if body is None:
            if status == 204:
                self._send(204, headers=headers)
            else:
                self._error(status, f"Injected fault: {status}.", headers=headers)
        elif isinstance(body, str):
            content_type = headers.pop("Content-Type", "text/plain")
            self._send(status, body.encode(), content_type, headers)
        else:
            content_type = headers.pop("Content-Type", "application/json")
            self._send(status, json.dumps(body).encode(), content_type, headers)
        return True

    # ------------------------------------------------------------------ callback

    def _put_callback(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        media = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            self._error(415, "Unsupported Media Type: send the webhook as application/json.")
            return
        try:
            data = json.loads(body)
        except ValueError:
            self._error(400, "The body is not valid JSON.")
            return
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            self._error(
                400, "Validation error.", [{"name": "url", "message": "url must be a string."}]
            )
            return
        url: str = data["url"]
        headers = data.get("headers")
        if headers is None:
            headers = {}
        if not isinstance(headers, dict) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in headers.items()
        ):
            self._error(
                400,
                "Validation error.",
                [{"name": "headers", "message": "headers must map strings to strings."}],
            )
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._error(
                400,
                "Validation error.",
                [{"name": "url", "message": "Only http and https URLs are supported."}],
            )
            return
        size = len(url) + sum(len(name) + len(value) for name, value in headers.items())
        if size > WEBHOOK_MAX_CHARS:
            self._error(
                400,
                "Validation error.",
                [
                    {
                        "name": "url",
                        "message": "URL, header names and values together exceed 400 characters.",
                    }
                ],
            )
            return
        emulator = self.emulator
        with emulator._lock:
            state = emulator._state(key)
            emulator._expire(state, time.monotonic())
            other = state.channel is not None and not isinstance(state.channel, CallbackChannel)
        if other:
            self._error(400, OTHER_CHANNEL)
            return
        # The validation request runs without the lock: the target may take its time.
        problem = emulator._validate_webhook(url, headers)
        if problem is not None:
            self._error(400, problem)
            return
        with emulator._lock:
            state = emulator._state(key)  # again: a reset() may have happened meanwhile
            channel = state.channel
            other = channel is not None and not isinstance(channel, CallbackChannel)
            if isinstance(channel, CallbackChannel):
                channel.url = url
                channel.headers = dict(headers)
                channel.generation += 1
                channel.failing_since = None
                state.cond.notify_all()
            elif channel is None:
                channel = CallbackChannel(time.monotonic(), url, dict(headers))
                state.channel = channel
                emulator._start_webhook_worker(state, channel)
        if other:
            self._error(400, OTHER_CHANNEL)
        else:
            self._send(204)

    def _get_callback(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        with self.emulator._lock:
            channel = self._locked_channel(key)
            if not isinstance(channel, CallbackChannel):
                answer = None
            else:
                answer = {"url": channel.url, "headers": dict(channel.headers)}
        if answer is None:
            self._error(404, "Callback URL does not exist.")
        else:
            self._json(200, answer)

    def _delete_callback(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        with self.emulator._lock:
            channel = self._locked_channel(key)
            found = isinstance(channel, CallbackChannel)
            if found:
                self.emulator._drop_channel(self.emulator._state(key))
        if found:
            self._send(204)
        else:
            self._error(404, "Callback URL does not exist.")

    def _locked_channel(self, key: str) -> Any:
        """The key's channel after expiry rules (caller holds the lock)."""
        state = self.emulator._states.get(key)
        if state is None:
            return None
        self.emulator._expire(state, time.monotonic())
        return state.channel

    # ------------------------------------------------------------------ long poll

    def _get_pull(self, path: str, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        emulator = self.emulator
        items: list[Any] | None = None
        message: dict[str, Any] = {}
        deleted = False
        with emulator._lock:
            now = time.monotonic()
            state = emulator._state(key)
            emulator._expire(state, now)
            channel = state.channel
            refusal: tuple[int, str] | None = None
            if channel is not None and not isinstance(channel, PullChannel):
                refusal = (400, OTHER_CHANNEL)
            elif state.pull_deleted_at is not None:
                refusal = (410, "CHANNEL_DELETED")
            elif isinstance(channel, PullChannel) and channel.waiting:
                refusal = (409, "Conflict: a long poll request is already waiting on this key.")
            if refusal is None:
                if channel is None:
                    channel = PullChannel(now)
                    state.channel = channel
                assert isinstance(channel, PullChannel)
                channel.waiting = True
        if refusal is not None:
            self._error(*refusal)
            return
        assert isinstance(channel, PullChannel)
        with emulator._lock:
            channel.last_get = now
            deadline = now + emulator.long_poll_hold
            try:
                while not channel.queue and state.channel is channel and not emulator._stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    state.cond.wait(remaining)
                deleted = state.channel is not channel and state.pull_deleted_at is not None
                if channel.queue and state.channel is channel:
                    message, count = build_message(channel.queue, emulator.batch_limit)
                    items = pop_front(channel.queue, count)
            finally:
                channel.waiting = False
                channel.last_get = time.monotonic()
        if items is None:
            if deleted:
                self._error(410, "CHANNEL_DELETED")
            else:
                self._send(204)
            return
        try:
            self._json(200, message)
        except OSError:
            self._requeue(state, channel, items)
            raise

    def _requeue(self, state: KeyState, channel: PullChannel, items: list[Any]) -> None:
        with self.emulator._lock:
            if state.channel is channel:
                push_front(channel.queue, items)

    def _delete_pull(self, path: str, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        emulator = self.emulator
        with emulator._lock:
            now = time.monotonic()
            state = emulator._state(key)
            emulator._expire(state, now)
            if isinstance(state.channel, PullChannel):
                emulator._drop_channel(state)
                state.pull_deleted_at = now
                answer = "REMOVED"
            elif state.pull_deleted_at is not None:
                answer = "ALREADY_DELETED"
            else:
                answer = "REMOVED"
        self._send(200, answer.encode(), "text/plain")

    # ------------------------------------------------------------------ websocket channel

    def _put_websocket(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        emulator = self.emulator
        with emulator._lock:
            now = time.monotonic()
            state = emulator._state(key)
            emulator._expire(state, now)
            channel = state.channel
            if isinstance(channel, WebsocketChannel):
                status, answer = 200, channel.wire()
            elif channel is not None:
                status, answer = 400, None
            else:
                channel = WebsocketChannel(now)
                state.channel = channel
                status, answer = 201, channel.wire()
        if answer is None:
            self._error(400, OTHER_CHANNEL)
        else:
            self._json(status, answer)

    def _get_websocket(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        with self.emulator._lock:
            channel = self._locked_channel(key)
            answer = channel.wire() if isinstance(channel, WebsocketChannel) else None
        if answer is None:
            self._error(404, "No channel has been registered.")
        else:
            self._json(200, answer)

    def _delete_websocket(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        with self.emulator._lock:
            channel = self._locked_channel(key)
            found = isinstance(channel, WebsocketChannel)
            if found:
                self.emulator._drop_channel(self.emulator._state(key), 1000, "channel deleted")
        if found:
            self._send(204)
        else:
            self._error(404, "Websocket channel doesn't exist.")

    def _get_channel(self, path: str, body: bytes) -> None:
        key = self._authenticate()
        with self.emulator._lock:
            channel = self._locked_channel(key)
            mechanism = channel.mechanism if channel is not None else None
        if mechanism is None:
            self._error(404, "Channel was not found.")
        else:
            self._json(200, {"delivery_mechanism": mechanism})

    def _connect_websocket(self, path: str, body: bytes) -> None:
        emulator = self.emulator
        headers = self.headers

        def tokens(name: str) -> set[str]:
            values = headers.get_all(name) or []
            return {part.strip().lower() for value in values for part in value.split(",")}

        if "upgrade" not in tokens("Connection") or "websocket" not in tokens("Upgrade"):
            self._error(
                426,
                "Upgrade required: send 'Connection: Upgrade' and 'Upgrade: websocket'.",
                headers={"Upgrade": "websocket"},
            )
            return
        missing = [
            name for name in ("Sec-WebSocket-Key", "Sec-WebSocket-Version") if not headers.get(name)
        ]
        if missing:
            self._error(400, f"Required header(s) missing: {', '.join(missing)}.")
            return
        token = self._bearer()
        if token is None:
            offered = [
                part.strip()
                for value in headers.get_all("Sec-WebSocket-Protocol") or []
                for part in value.split(",")
            ]
            for part in offered:
                if part.startswith("pelion_"):
                    token = part[len("pelion_") :]
                    break
        if token is None:
            self._error(401, "Missing API key: send 'Authorization: Bearer <api key>'.")
            return
        with emulator._lock:
            busy = token in emulator._handshakes
            if not busy:
                emulator._handshakes.add(token)
        if busy:
            self._error(429, "A websocket handshake is already in progress for this API key.")
            return
        try:
            if self._apply_fault(f"GET {WEBSOCKET_CONNECT}", token):
                return
            handshake = ServerProtocol(select_subprotocol=_select_subprotocol)
            # (websockets < 17 has no ``protocol`` field; a websocket handshake is HTTP/1.1.)
            request = Request(self.path, Headers(list(headers.items())))
            response = handshake.accept(request)
            handshake.send_response(response)
            refusal = None
            session = None
            if response.status_code == 101:
                if emulator._check_key(token) is not None:
                    refusal = (1008, "API key missing or invalid")
                else:
                    # Take the channel before the client hears 101, so that whatever the client
                    # does once connect() returns (ask for the status, inject a fault) already
                    # sees this socket as the channel's connection.
                    session = attach_session(emulator, token)
            try:
                self.connection.sendall(b"".join(handshake.data_to_send()))
            except OSError:
                if session is not None:
                    detach_session(emulator, session)
                raise
            self.close_connection = True
            if response.status_code != 101:
                return
            # The handshake protocol's parser still expects an HTTP request (http.server read
            # it, not websockets), so the open connection gets a protocol that starts OPEN.
            protocol = ServerProtocol(state=OPEN)
            protocol.subprotocol = handshake.subprotocol
            protocol.extensions = handshake.extensions
            self.server.mark_websocket(self.connection)
        finally:
            with emulator._lock:
                emulator._handshakes.discard(token)
        serve_session(emulator, self.connection, protocol, token, refusal, session)

    # ------------------------------------------------------------------ admin

    def _admin(self, method: str, path: str, body: bytes) -> None:
        emulator = self.emulator
        name = path[len("/_emulator/") :]
        if method == "GET":
            if name == "health":
                self._json(200, emulator.health())
            elif name == "requests":
                self._json(200, emulator.requests())
            elif name == "deliveries":
                self._json(200, emulator.deliveries())
            else:
                self._error(404, f"No such admin endpoint: {path}")
            return
        if method != "POST":
            self._error(405, f"{method} is not allowed on {path}", headers={"Allow": "GET, POST"})
            return
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            result = self._admin_post(name, data)
        except LookupError:
            self._error(404, f"No such admin endpoint: {path}")
        except (ValueError, TypeError) as exc:
            self._error(400, f"Invalid request: {exc}")
        else:
            self._json(200, result)

    def _admin_post(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        emulator = self.emulator
        api_key = data.get("api_key")
        if name == "messages":
            message = data.get("message")
            if not isinstance(message, dict):
                raise ValueError("message must be a NotificationMessage object")
            return {"queued": emulator.queue_message(message, api_key)}
        if name == "notify":
            return {
                "queued": emulator.notify(
                    _required(data, "ep"),
                    _required(data, "path"),
                    data.get("value"),
                    ct=data.get("ct", "text/plain"),
                    payload_b64=data.get("payload_b64"),
                    max_age=data.get("max_age", data.get("max-age", 0)),
                    api_key=api_key,
                )
            }
        if name in ("register", "reg-update"):
            action = (
                emulator.register_device if name == "register" else emulator.update_registration
            )
            return {
                "queued": action(
                    _required(data, "ep"),
                    ept=data.get("ept"),
                    original_ep=data.get("original_ep", data.get("original-ep")),
                    q=bool(data.get("q", False)),
                    resources=data.get("resources"),
                    api_key=api_key,
                )
            }
        if name == "deregister":
            return {"queued": emulator.deregister_device(_required(data, "ep"), api_key=api_key)}
        if name == "expire":
            return {"queued": emulator.expire_registration(_required(data, "ep"), api_key=api_key)}
        if name == "async-response":
            return {
                "queued": emulator.async_response(
                    _required(data, "id"),
                    status=int(data.get("status", 200)),
                    value=data.get("value"),
                    payload_b64=data.get("payload_b64"),
                    ct=data.get("ct"),
                    error=data.get("error"),
                    max_age=data.get("max_age", data.get("max-age")),
                    api_key=api_key,
                )
            }
        if name == "faults":
            return emulator.add_fault(**data)
        if name == "reset":
            emulator.reset()
            return {"reset": True}
        raise LookupError(name)


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


ROUTES: dict[str, dict[str, Route]] = {
    "/v2/notification/callback": {
        "PUT": Handler._put_callback,
        "GET": Handler._get_callback,
        "DELETE": Handler._delete_callback,
    },
    "/v2/notification/pull": {"GET": Handler._get_pull, "DELETE": Handler._delete_pull},
    "/v2/notification/websocket": {
        "PUT": Handler._put_websocket,
        "GET": Handler._get_websocket,
        "DELETE": Handler._delete_websocket,
    },
    WEBSOCKET_CONNECT: {"GET": Handler._connect_websocket},
    "/v2/notification/channel": {"GET": Handler._get_channel},
}
