"""The HTTP transport of the emulator: the service's REST endpoints, the websocket upgrade and the
admin API, all on one :class:`http.server.ThreadingHTTPServer` port.

Each route parses its request, calls the :class:`~mds.emulator._service.NotificationService`
(channels) or the :class:`~mds.emulator._device_service.DeviceService` (subscriptions, device
requests, endpoints) and serialises what it returns. :data:`ROUTES` is the one route table, by
the spec's path templates (``/v2/subscriptions/{device-id}/{resourcePath}``); :data:`ENDPOINTS`,
the endpoints a fault may name, is derived from it.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import OPEN
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from mds._version import __version__
from mds.emulator._admin import PREFIX, AdminApi, AdminError
from mds.emulator._device_service import DeviceService, Reply
from mds.emulator._faults import EndpointFault
from mds.emulator._serialization import Serialization, SerializationError, parse_serialization
from mds.emulator._service import Batch, NotificationService, Refusal
from mds.emulator._webhook import WebhookDispatcher
from mds.emulator._websocket import CLOSE_TIMEOUT, serve_session

__all__ = ["ENDPOINTS", "ROUTES", "EmulatorServer", "Handler", "error_body"]

logger = logging.getLogger("mds.emulator")

ERROR_TYPES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
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
MAX_BODY: Final = 16 * 1024 * 1024
WEBSOCKET_CONNECT: Final = "/v2/notification/websocket-connect"


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
    """The emulator's HTTP server: one daemon thread per connection, all tracked for stop().

    Args:
        address: (host, port) to bind; port 0 picks a free one.
        service: The service whose channel endpoints it serves.
        devices: The service's device-data rules (subscriptions, requests, endpoints).
        webhooks: Registers webhooks (it sends the validation request) for ``PUT callback``.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        service: NotificationService,
        devices: DeviceService,
        webhooks: WebhookDispatcher,
    ) -> None:
        self.service = service
        self.devices = devices
        self.webhooks = webhooks
        self.admin = AdminApi(service, devices, ENDPOINTS)
        #: Set when stopping: injected delays end, answers say ``Connection: close``.
        self.stopping = threading.Event()
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
        try:
            # An answer is written as headers, then body: with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers (40 ms a request).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - a socket that is already gone
            pass
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


Route = Callable[["Handler", bytes], None]


def _json_value(body: bytes) -> Any:
    """``body`` parsed as JSON; :class:`ValueError` when it is not (nested too deeply included)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection to the emulator (keep-alive; may become a websocket)."""

    protocol_version = "HTTP/1.1"
    server_version = f"mds-emulator/{__version__}"
    server: EmulatorServer
    #: The path parameters of the matched route (``device-id``, ``resourcePath``).
    params: dict[str, str]

    def version_string(self) -> str:
        return self.server_version

    # ------------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    @property
    def service(self) -> NotificationService:
        return self.server.service

    @property
    def devices(self) -> DeviceService:
        return self.server.devices

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
        if self.server.stopping.is_set():
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

    def _refuse(self, refusal: Refusal) -> None:
        self._error(refusal.status, refusal.message, refusal.fields)

    def _reply(self, answer: Reply | Refusal) -> None:
        if isinstance(answer, Refusal):
            self._refuse(answer)
        elif answer.raw is not None:
            self._send(answer.status, answer.raw, answer.content_type)
        elif answer.data is not None:
            self._json(answer.status, answer.data)
        else:
            self._send(answer.status)

    def _query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering a malformed one."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size < 0:  # "-5": read(-5) would raise, dropping the connection
                        raise ValueError(size)
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
        refusal = self.service.check_key(token)
        if refusal is None:
            assert token is not None  # check_key refuses a missing token
            return token
        status = 401 if refusal.status == 403 and not forbid else refusal.status
        self._error(status, refusal.message)
        raise _Answered

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        if path.startswith(PREFIX):
            self._admin(method, path, body)
            return
        self.service.record_request(
            {
                "method": method,
                "path": self.path,
                "headers": redact_headers(self.headers),
                "body": body.decode("utf-8", "replace"),
                "time": time.time(),
            }
        )
        template = path
        routes = ROUTES.get(path)
        self.params = {}
        if routes is None:
            matched = _match_template(path)
            if matched is None:
                self._error(404, f"No such endpoint: {path}")
                return
            template, self.params = matched
            routes = ROUTES[template]
        route = routes.get(method)
        if route is None:
            self._error(
                405, f"{method} is not allowed on {path}", headers={"Allow": ", ".join(routes)}
            )
            return
        try:
            if path != WEBSOCKET_CONNECT and self._apply_fault(
                f"{method} {template}", self._bearer()
            ):
                return
            if path != WEBSOCKET_CONNECT and self._apply_chaos(
                f"{method} {template}", self._bearer()
            ):
                return
            route(self, body)
        except _Answered:
            pass

    def _apply_chaos(self, endpoint: str, api_key: str | None) -> bool:
        """Apply seeded chaos to a request of ``endpoint``; ``True`` when it answered it
        (before the route ran, so nothing was consumed).
        """
        chaos = self.service.rest_chaos(endpoint, api_key)
        if chaos is None:
            return False
        if chaos.delay:
            self.server.stopping.wait(chaos.delay)
        if chaos.status is None:
            return False
        headers = {"Retry-After": chaos.retry_after} if chaos.retry_after is not None else None
        self._error(chaos.status, f"Injected fault (chaos): {chaos.status}.", headers=headers)
        return True

    def _apply_fault(self, endpoint: str, api_key: str | None) -> bool:
        """Apply an armed fault for ``endpoint``; ``True`` when it answered the request."""
        fault = self.service.take_fault(endpoint, api_key)
        if fault is None:
            return False
        if fault.delay:
            self.server.stopping.wait(fault.delay)
        if fault.status is None:
            return False
        self._fault_answer(fault, fault.status)
        return True

    def _fault_answer(self, fault: EndpointFault, status: int) -> None:
        headers = dict(fault.headers)
        body = fault.body
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

    def _admin(self, method: str, path: str, body: bytes) -> None:
        try:
            result = self.server.admin.handle(method, path, body)
        except AdminError as exc:
            self._error(exc.status, exc.message, headers=exc.headers)
        else:
            self._json(200, result)

    # ------------------------------------------------------------------ callback

    def _put_callback(self, body: bytes) -> None:
        key = self._authenticate()
        media = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            self._error(415, "Unsupported Media Type: send the webhook as application/json.")
            return
        try:
            data = _json_value(body)
        except ValueError:
            self._error(400, "The body is not valid JSON.")
            return
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            self._error(
                400, "Validation error.", [{"name": "url", "message": "url must be a string."}]
            )
            return
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
        serialization = self._serialization(data)
        refusal = self.server.webhooks.register(key, data["url"], headers, serialization)
        if refusal is not None:
            self._refuse(refusal)
        else:
            self._send(204)

    def _serialization(self, data: dict[str, Any]) -> Serialization | None:
        """The body's ``serialization``, ``None`` without one; answers 400 if it is malformed."""
        if data.get("serialization") is None:
            return None
        try:
            return parse_serialization(data["serialization"])
        except SerializationError as exc:
            self._error(400, "Validation error.", [{"name": exc.field, "message": exc.message}])
            raise _Answered from None

    def _get_callback(self, body: bytes) -> None:
        webhook = self.service.webhook(self._authenticate())
        if webhook is None:
            self._error(404, "Callback URL does not exist.")
        else:
            self._json(200, webhook)

    def _delete_callback(self, body: bytes) -> None:
        if self.service.delete_callback(self._authenticate()):
            self._send(204)
        else:
            self._error(404, "Callback URL does not exist.")

    # ------------------------------------------------------------------ long poll

    def _get_pull(self, body: bytes) -> None:
        answer = self.service.long_poll(self._authenticate(forbid=False))
        if answer is None:
            self._send(204)
        elif isinstance(answer, Refusal):
            self._refuse(answer)
        else:
            self._deliver(answer)

    def _deliver(self, batch: Batch) -> None:
        if batch.fault == "drop":
            self._cut(batch)
            return
        try:
            self._json(200, batch.message)
        except OSError:
            self.service.requeue(batch)
            raise
        self.service.delivered(batch)

    def _cut(self, batch: Batch) -> None:
        """Chaos ``long_poll.drop``: write the first ``batch.cut`` of the answer's body (nothing
        at all for 0), then end the connection; the service counted the items lost in flight.
        """
        self.close_connection = True
        try:
            if batch.cut > 0:
                body = json.dumps(batch.message, separators=(",", ":")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: int(len(body) * batch.cut)])
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client went first: the batch is lost all the same

    def _delete_pull(self, body: bytes) -> None:
        answer = self.service.delete_pull(self._authenticate(forbid=False))
        self._send(200, answer.encode(), "text/plain")

    # ------------------------------------------------------------------ websocket channel

    def _put_websocket(self, body: bytes) -> None:
        key = self._authenticate()
        serialization = None
        if body.strip():
            # The 2020 body, RegisterWebsocketChannel: {"serialization": {...}}.
            try:
                data = _json_value(body)
            except ValueError:
                self._error(400, "The body is not valid JSON.")
                return
            if not isinstance(data, dict):
                self._error(400, "The body must be a RegisterWebsocketChannel object.")
                return
            serialization = self._serialization(data)
        answer = self.service.register_websocket(key, serialization)
        if isinstance(answer, Refusal):
            self._refuse(answer)
        else:
            created, channel = answer
            self._json(201 if created else 200, channel)

    def _get_websocket(self, body: bytes) -> None:
        channel = self.service.websocket_channel(self._authenticate())
        if channel is None:
            self._error(404, "No channel has been registered.")
        else:
            self._json(200, channel)

    def _delete_websocket(self, body: bytes) -> None:
        if self.service.delete_websocket(self._authenticate()):
            self._send(204)
        else:
            self._error(404, "Websocket channel doesn't exist.")

    def _get_channel(self, body: bytes) -> None:
        mechanism = self.service.delivery_mechanism(self._authenticate())
        if mechanism is None:
            self._error(404, "Channel was not found.")
        else:
            self._json(200, {"delivery_mechanism": mechanism})

    def _connect_websocket(self, body: bytes) -> None:
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
            token = next(
                (part[len("pelion_") :] for part in offered if part.startswith("pelion_")), None
            )
        if token is None:
            self._error(401, "Missing API key: send 'Authorization: Bearer <api key>'.")
            return
        service = self.service
        if not service.begin_handshake(token):
            self._error(429, "A websocket handshake is already in progress for this API key.")
            return
        ended = False
        try:
            if self._apply_fault(f"GET {WEBSOCKET_CONNECT}", token):
                return
            if self._apply_chaos(f"GET {WEBSOCKET_CONNECT}", token):
                return
            handshake = ServerProtocol(select_subprotocol=_select_subprotocol)
            # (websockets < 17 has no ``protocol`` field; a websocket handshake is HTTP/1.1.)
            request = Request(self.path, Headers(list(headers.items())))
            response = handshake.accept(request)
            handshake.send_response(response)
            # Bind the socket before the client hears 101, so that whatever the client does
            # once connect() returns (ask for the status, inject a fault) already sees this
            # socket as the channel's connection.
            session = service.connect_socket(token) if response.status_code == 101 else None
            # Over for the client once it reads the answer: a client that connects again at
            # once must not get a 429 because this thread has not reached `finally` yet.
            service.end_handshake(token)
            ended = True
            try:
                self.connection.sendall(b"".join(handshake.data_to_send()))
            except OSError:
                if session is not None:
                    service.disconnect(session)
                raise
            self.close_connection = True
            if session is None:
                return
            # The handshake protocol's parser still expects an HTTP request (http.server read
            # it, not websockets), so the open connection gets a protocol that starts OPEN.
            protocol = ServerProtocol(state=OPEN)
            protocol.subprotocol = handshake.subprotocol
            protocol.extensions = handshake.extensions
            self.server.mark_websocket(self.connection)
        finally:
            if not ended:
                service.end_handshake(token)
        serve_session(service, self.connection, protocol, session)

    # ------------------------------------------------------------------ subscriptions

    def _put_presubscriptions(self, body: bytes) -> None:
        refusal = self.devices.set_presubscriptions(self._authenticate(), body)
        if refusal is not None:
            self._refuse(refusal)
        else:
            self._send(204)

    def _get_presubscriptions(self, body: bytes) -> None:
        self._json(200, self.devices.presubscriptions(self._authenticate()))

    def _delete_presubscriptions(self, body: bytes) -> None:
        self.devices.delete_presubscriptions(self._authenticate())
        self._send(204)

    def _get_endpoint_subscriptions(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        self._reply(self.devices.endpoint_subscriptions(key, self.params["device-id"]))

    def _delete_endpoint_subscriptions(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        self.devices.delete_endpoint_subscriptions(key, self.params["device-id"])
        self._send(204)

    def _put_subscription(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        params = self.params
        self._reply(self.devices.subscribe(key, params["device-id"], params["resourcePath"]))

    def _get_subscription(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        params = self.params
        if self.devices.is_subscribed(key, params["device-id"], params["resourcePath"]):
            self._send(200)
        else:
            self._error(404, "Resource is not subscribed.")

    def _delete_subscription(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        params = self.params
        self.devices.unsubscribe(key, params["device-id"], params["resourcePath"])
        self._send(204)

    # ------------------------------------------------------------------ requests and endpoints

    def _post_device_request(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        query = self._query()

        def one(name: str) -> str | None:
            values = query.get(name)
            if not values:
                return None
            # A parameter given twice is malformed: the empty value (never valid) stands for it.
            return values[0] if len(values) == 1 else ""

        refusal = self.devices.device_request(
            key,
            self.params["device-id"],
            async_id=one("async-id"),
            body=body,
            retry=one("retry"),
            expiry_seconds=one("expiry-seconds"),
        )
        if refusal is not None:
            self._refuse(refusal)
        else:
            self._send(202)

    def _get_endpoint(self, body: bytes) -> None:
        self._authenticate(forbid=False)
        resources = self.devices.endpoint_resources(self.params["device-id"])
        if resources is None:
            self._error(404, "Endpoint not found.")
        else:
            self._json(200, resources)

    def _resource(self, body: bytes) -> None:
        key = self._authenticate(forbid=False)
        params = self.params
        content_type = self.headers.get("Content-Type")
        self._reply(
            self.devices.resource_request(
                key,
                params["device-id"],
                params["resourcePath"],
                self.command,
                body=body,
                content_type=content_type.strip() if content_type else None,
                query=self._query(),
            )
        )


_PARAMETER = re.compile(r"\{([^}]+)\}")


def _template_pattern(template: str) -> re.Pattern[str]:
    """A route template as a regex: ``{resourcePath}`` spans one or more segments (never an
    empty one, so ``//`` matches nothing), any other parameter one segment.
    """
    parts = []
    position = 0
    for number, parameter in enumerate(_PARAMETER.finditer(template), start=1):
        parts.append(re.escape(template[position : parameter.start()]))
        group = f"p{number}"
        if parameter.group(1) == "resourcePath":
            parts.append(f"(?P<{group}>[^/]+(?:/[^/]+)*)")
        else:
            parts.append(f"(?P<{group}>[^/]+)")
        position = parameter.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


def _match_template(path: str) -> tuple[str, dict[str, str]] | None:
    """The template of :data:`ROUTES` that ``path`` matches and its decoded parameters.

    Parameters are percent-decoded segment by segment; a segment that decodes to a ``/``
    (an encoded slash) or to ``.``/``..`` matches nothing. A ``resourcePath`` comes back with
    a leading slash (``/3303/0/5700``).
    """
    for template, pattern, names in _TEMPLATES:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        params: dict[str, str] = {}
        for index, name in enumerate(names, start=1):
            segments = [unquote(segment) for segment in found.group(f"p{index}").split("/")]
            if any("/" in segment or segment in (".", "..") for segment in segments):
                return None
            joined = "/".join(segments)
            params[name] = "/" + joined if name == "resourcePath" else joined
        return template, params
    return None


ROUTES: Final[dict[str, dict[str, Route]]] = {
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
    "/v2/subscriptions": {
        "PUT": Handler._put_presubscriptions,
        "GET": Handler._get_presubscriptions,
        "DELETE": Handler._delete_presubscriptions,
    },
    "/v2/subscriptions/{device-id}": {
        "GET": Handler._get_endpoint_subscriptions,
        "DELETE": Handler._delete_endpoint_subscriptions,
    },
    "/v2/subscriptions/{device-id}/{resourcePath}": {
        "PUT": Handler._put_subscription,
        "GET": Handler._get_subscription,
        "DELETE": Handler._delete_subscription,
    },
    "/v2/device-requests/{device-id}": {"POST": Handler._post_device_request},
    "/v2/endpoints/{device-id}": {"GET": Handler._get_endpoint},
    "/v2/endpoints/{device-id}/{resourcePath}": {
        "GET": Handler._resource,
        "PUT": Handler._resource,
        "POST": Handler._resource,
        "DELETE": Handler._resource,
    },
}

#: The templated routes, most specific first: (template, regex, parameter names).
_TEMPLATES: Final = sorted(
    (
        (template, _template_pattern(template), _PARAMETER.findall(template))
        for template in ROUTES
        if "{" in template
    ),
    key=lambda entry: -len(entry[0]),
)

#: Every endpoint of the route table as ``"METHOD /path"``: what a fault may name.
ENDPOINTS: Final = frozenset(
    f"{method} {path}" for path, methods in ROUTES.items() for method in methods
)
