"""The :class:`Emulator`: a local stand-in for the Notifications service.

It serves the REST endpoints, the websocket upgrade and the admin API on one port with
:class:`http.server.ThreadingHTTPServer`, delivers webhooks with urllib3 and speaks the websocket
protocol with websockets. It shares no code with the SDK client on purpose, so that the two
cannot agree on a mistake.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import urllib3

from mds.emulator._state import (
    CallbackChannel,
    Item,
    KeyState,
    PullChannel,
    WebsocketChannel,
    build_message,
    split_message,
)
from mds.emulator._websocket import WebsocketSession

__all__ = ["Emulator"]

logger = logging.getLogger("mds.emulator")

#: How many recorded requests and webhook attempts are kept (oldest dropped first).
RECORD_LIMIT = 10_000

#: Admin fault endpoints must name one of these.
ENDPOINTS = frozenset(
    {
        "PUT /v2/notification/callback",
        "GET /v2/notification/callback",
        "DELETE /v2/notification/callback",
        "GET /v2/notification/pull",
        "DELETE /v2/notification/pull",
        "PUT /v2/notification/websocket",
        "GET /v2/notification/websocket",
        "DELETE /v2/notification/websocket",
        "GET /v2/notification/websocket-connect",
        "GET /v2/notification/channel",
    }
)


class Emulator:
    """A local, in-memory emulator of the Device Management Notifications service.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`)::

        with Emulator() as emu:
            print(emu.url, emu.api_key)

    Every duration of the service is an option, in seconds, so a test can play a 24-hour story
    in milliseconds.

    Args:
        host: Interface to listen on.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        api_keys: The only API keys the emulator accepts. When ``None``, any key starting with
            ``ak_`` is accepted and :attr:`api_key` is a generated one.
        long_poll_hold: How long a long-poll GET is held when nothing is queued (then 204).
        webhook_backoff_base: First retry delay after a failed webhook delivery; it doubles on
            every further failure.
        webhook_backoff_cap: Longest retry delay.
        webhook_give_up: A callback whose deliveries have failed continuously for this long is
            removed together with its queue.
        webhook_timeout: Timeout of every webhook request (validation and deliveries).
        pull_expiry: A long-poll channel not polled for this long is deleted with its queue.
        websocket_expiry: A websocket channel without a connection for this long is deleted with
            its queue.
        purge_window: After a long-poll DELETE, a GET answers 410 for this long.
        batch_limit: Most items in one delivered NotificationMessage.
        webhook_ca_certs: CA bundle used to verify https webhook targets (default: the system's).

    Raises:
        ValueError: For an empty ``api_keys`` or a negative duration.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        *,
        long_poll_hold: float = 30.0,
        webhook_backoff_base: float = 1.0,
        webhook_backoff_cap: float = 120.0,
        webhook_give_up: float = 86400.0,
        webhook_timeout: float = 20.0,
        pull_expiry: float = 600.0,
        websocket_expiry: float = 86400.0,
        purge_window: float = 120.0,
        batch_limit: int = 10_000,
        webhook_ca_certs: str | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._api_keys: frozenset[str] | None = None
        if isinstance(api_keys, str):
            api_keys = [api_keys]
        if api_keys is not None:
            keys = [str(key) for key in api_keys]
            if not keys or not all(keys):
                raise ValueError("api_keys must hold at least one non-empty key")
            self._api_keys = frozenset(keys)
            self._api_key = keys[0]
        else:
            self._api_key = "ak_" + secrets.token_hex(16)
        durations = {
            "long_poll_hold": long_poll_hold,
            "webhook_backoff_base": webhook_backoff_base,
            "webhook_backoff_cap": webhook_backoff_cap,
            "webhook_give_up": webhook_give_up,
            "webhook_timeout": webhook_timeout,
            "pull_expiry": pull_expiry,
            "websocket_expiry": websocket_expiry,
            "purge_window": purge_window,
        }
        for name, value in durations.items():
            if float(value) < 0:
                raise ValueError(f"{name} must not be negative")
        if int(batch_limit) < 1:
            raise ValueError("batch_limit must be at least 1")
        self.long_poll_hold = float(long_poll_hold)
        self.webhook_backoff_base = float(webhook_backoff_base)
        self.webhook_backoff_cap = float(webhook_backoff_cap)
        self.webhook_give_up = float(webhook_give_up)
        self.webhook_timeout = float(webhook_timeout)
        self.pull_expiry = float(pull_expiry)
        self.websocket_expiry = float(websocket_expiry)
        self.purge_window = float(purge_window)
        self.batch_limit = int(batch_limit)
        self.webhook_ca_certs = webhook_ca_certs

        self._lock = threading.RLock()
        self._states: dict[str, KeyState] = {}
        self._handshakes: set[str] = set()
        self._faults: list[dict[str, Any]] = []
        self._drop_every: list[tuple[str | None, int]] = []
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECORD_LIMIT)
        self._deliveries: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECORD_LIMIT)
        self._workers: set[threading.Thread] = set()
        self._stopping = False
        self._stop_event = threading.Event()
        self._server: Any = None
        self._serve_thread: threading.Thread | None = None
        self._pool: urllib3.PoolManager | None = None

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Emulator {where}>"

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port it listens on.

        Raises:
            RuntimeError: When the emulator is not running.
        """
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the service, e.g. ``http://127.0.0.1:8080`` (use it as the SDK host).

        Raises:
            RuntimeError: When the emulator is not running.
        """
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        """An API key the emulator accepts: the first of ``api_keys``, or a generated one."""
        return self._api_key

    def start(self) -> Emulator:
        """Bind the port and start serving; returns ``self``. It is ready when this returns.

        Raises:
            RuntimeError: When it is already running.
            OSError: When the port cannot be bound.
        """
        from mds.emulator._http import EmulatorServer

        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping = False
        self._stop_event.clear()
        # Binding and listening happen in the constructor: connections made from now on wait in
        # the backlog until serve_forever() accepts them, so the emulator is ready right away.
        server = EmulatorServer((self.host, self._requested_port), self)
        self._pool = urllib3.PoolManager(
            num_pools=32, maxsize=4, retries=False, ca_certs=self.webhook_ca_certs
        )
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mds-emulator-{self.port}",
            daemon=True,
        )
        self._serve_thread.start()
        logger.debug("emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving: open websockets are closed with 1001, held long polls answer 204,
        webhook workers end, and every server thread is joined. Idempotent.
        """
        server = self._server
        if server is None:
            return
        with self._lock:
            self._stopping = True
            for state in self._states.values():
                channel = state.channel
                if isinstance(channel, WebsocketChannel) and channel.session is not None:
                    channel.session.request_close(1001, "server shutting down")
                state.cond.notify_all()
        self._stop_event.set()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join()
        # A worker blocked on a slow webhook target finishes its request on its own (it is a
        # daemon thread and sees _stopping afterwards); stop() does not wait out the timeout.
        deadline = time.monotonic() + 1.0
        for worker in list(self._workers):
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.clear()
        self._server = None
        self._serve_thread = None
        self._pool = None
        logger.debug("emulator stopped")

    # ------------------------------------------------------------------ admin: injection

    def queue_message(self, message: Mapping[str, Any], api_key: str | None = None) -> int:
        """Queue a NotificationMessage (wire JSON) as the service would deliver it.

        Its items are appended to the queue of ``api_key``'s channel, or of every existing
        channel when ``api_key`` is ``None``; consecutive items are merged into delivered
        messages of up to ``batch_limit`` items.

        Args:
            message: A NotificationMessage with wire keys (``notifications``,
                ``registrations``, ``reg-updates``, ``de-registrations``,
                ``registrations-expired``, ``async-responses``; unknown keys are passed on).
            api_key: The key whose channel receives it; ``None`` for every channel.

        Returns:
            The number of channels it was queued for (0 when there is no channel).

        Raises:
            TypeError: When ``message`` is not a mapping.
        """
        if not isinstance(message, Mapping):
            raise TypeError("message must be a NotificationMessage dict")
        return self._queue_items(split_message(dict(message)), api_key)

    def _queue_items(self, items: list[Item], api_key: str | None) -> int:
        if not items:
            return 0
        now = time.monotonic()
        queued = 0
        with self._lock:
            if api_key is not None:
                candidates = [self._states[api_key]] if api_key in self._states else []
            else:
                candidates = list(self._states.values())
            for state in candidates:
                self._expire(state, now)
                if state.channel is not None:
                    state.channel.queue.extend(items)
                    state.cond.notify_all()
                    queued += 1
        return queued

    def notify(
        self,
        ep: str,
        path: str,
        value: float | str | None = None,
        *,
        ct: str = "text/plain",
        payload_b64: str | None = None,
        max_age: int = 0,
        api_key: str | None = None,
    ) -> int:
        """Queue a resource value change (one ``notifications`` item).

        The value is encoded as the service would: for ``text/plain`` (and other text types)
        the UTF-8 text of the value, for JSON types its JSON text, base64'd; ``payload_b64``
        gives the payload directly instead.

        Returns:
            The number of channels it was queued for.
        """
        if payload_b64 is None:
            payload_b64 = encode_payload(value, ct)
        item = {"ep": ep, "path": path, "ct": ct, "payload": payload_b64, "max-age": max_age}
        return self._queue_items([("notifications", item, True)], api_key)

    def register_device(
        self,
        ep: str,
        *,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool = False,
        resources: Sequence[Mapping[str, Any]] | None = None,
        api_key: str | None = None,
    ) -> int:
        """Queue a ``registrations`` item for a simulated device.

        ``resources`` are ResourcesData dicts (``path``, ``ct``, ``obs``, ``rt``, ``if``; ``_if``
        is accepted for ``if``). Returns the number of channels it was queued for.
        """
        item = endpoint_data(ep, ept, original_ep, q, resources)
        return self.queue_message({"registrations": [item]}, api_key)

    def update_registration(
        self,
        ep: str,
        *,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool = False,
        resources: Sequence[Mapping[str, Any]] | None = None,
        api_key: str | None = None,
    ) -> int:
        """Queue a ``reg-updates`` item; arguments as :meth:`register_device`."""
        item = endpoint_data(ep, ept, original_ep, q, resources)
        return self.queue_message({"reg-updates": [item]}, api_key)

    def deregister_device(self, ep: str, *, api_key: str | None = None) -> int:
        """Queue a ``de-registrations`` item (the device id). Returns channels queued for."""
        return self.queue_message({"de-registrations": [ep]}, api_key)

    def expire_registration(self, ep: str, *, api_key: str | None = None) -> int:
        """Queue a ``registrations-expired`` item (the device id). Returns channels queued for."""
        return self.queue_message({"registrations-expired": [ep]}, api_key)

    def async_response(
        self,
        async_id: str,
        *,
        status: int = 200,
        value: float | str | None = None,
        payload_b64: str | None = None,
        ct: str | None = None,
        error: str | None = None,
        max_age: int | None = None,
        api_key: str | None = None,
    ) -> int:
        """Queue an ``async-responses`` item answering an earlier device request.

        ``value`` is encoded by ``ct`` (default ``text/plain``) like :meth:`notify`; with
        neither ``value`` nor ``payload_b64`` the item has no payload (an error answer, say
        ``status=504, error="TIMEOUT"``). Returns the number of channels it was queued for.
        """
        item: dict[str, Any] = {"id": async_id, "status": int(status)}
        if payload_b64 is None and value is not None:
            payload_b64 = encode_payload(value, ct or "text/plain")
        if payload_b64 is not None:
            item["payload"] = payload_b64
            item["ct"] = ct or "text/plain"
        elif ct is not None:
            item["ct"] = ct
        if error is not None:
            item["error"] = error
        if max_age is not None:
            item["max-age"] = max_age
        return self.queue_message({"async-responses": [item]}, api_key)

    # ------------------------------------------------------------------ admin: faults & records

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Inject a fault.

        Forms (``api_key`` optionally limits any of them to one key):

        * ``endpoint="GET /v2/notification/pull", status=503, headers={...}, body=..., count=N``:
          the next N answers of that endpoint have that status (``body`` defaults to the
          service's JSON error body for it).
        * ``endpoint=..., delay=seconds, count=N``: the next N answers are delayed.
        * ``websocket="close", code=1012, reason="..."``: open sockets close with that code.
        * ``websocket="drop"``: open sockets lose their TCP connection without a close frame.
        * ``websocket="drop", every=k``: every socket is dropped after each k-th frame it
          delivers, until :meth:`reset`.

        Returns:
            ``{"armed": N}`` for endpoint faults and ``drop`` with ``every``, ``{"sockets": N}``
            (sockets affected) for immediate websocket faults.

        Raises:
            ValueError: For an unknown or malformed fault.
        """
        api_key = spec.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            raise ValueError("api_key must be a string")
        action = spec.get("websocket")
        if action is not None:
            return self._websocket_fault(str(action), spec, api_key)
        endpoint = spec.get("endpoint")
        if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(ENDPOINTS)}")
        status = spec.get("status")
        delay = spec.get("delay")
        if status is None and delay is None:
            raise ValueError("a fault needs a status or a delay")
        if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
            raise ValueError("status must be an HTTP status code")
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ValueError("delay must be a non-negative number of seconds")
        headers = spec.get("headers") or {}
        if not isinstance(headers, Mapping):
            raise ValueError("headers must be an object")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        body = spec.get("body")
        fault = {
            "endpoint": endpoint,
            "status": status,
            "delay": float(delay) if delay is not None else None,
            "headers": {str(k): str(v) for k, v in headers.items()},
            "body": body,
            "count": count,
            "api_key": api_key,
        }
        with self._lock:
            self._faults.append(fault)
        return {"armed": count}

    def _websocket_fault(
        self, action: str, spec: Mapping[str, Any], api_key: str | None
    ) -> dict[str, Any]:
        if action == "close":
            code = spec.get("code", 1012)
            if not isinstance(code, int) or not (1000 <= code <= 4999) or code in (1005, 1006):
                raise ValueError("code must be a websocket close code that can be sent")
            reason = str(spec.get("reason", ""))
            with self._lock:
                sessions = self._open_sessions(api_key)
                for session, state in sessions:
                    session.request_close(code, reason)
                    state.cond.notify_all()
            return {"sockets": len(sessions)}
        if action == "drop":
            every = spec.get("every")
            if every is not None:
                if not isinstance(every, int) or every < 1:
                    raise ValueError("every must be a positive integer")
                with self._lock:
                    self._drop_every.append((api_key, every))
                return {"armed": 1}
            with self._lock:
                sessions = self._open_sessions(api_key)
                for session, state in sessions:
                    session.request_drop()
                    state.cond.notify_all()
            return {"sockets": len(sessions)}
        raise ValueError('websocket must be "close" or "drop"')

    def reset(self) -> None:
        """Forget everything: channels and queues (open websockets close with 1001), faults,
        recorded requests and webhook attempts.
        """
        with self._lock:
            for state in self._states.values():
                channel = state.channel
                if isinstance(channel, WebsocketChannel) and channel.session is not None:
                    channel.session.request_close(1001, "emulator reset")
                state.channel = None
                state.pull_deleted_at = None
                state.cond.notify_all()
            self._states.clear()
            self._faults.clear()
            self._drop_every.clear()
            self._requests.clear()
            self._deliveries.clear()

    def requests(self) -> list[dict[str, Any]]:
        """Requests received on the service endpoints, oldest first.

        Each is ``{"method", "path", "headers", "body", "time"}``; the Authorization header and
        ``pelion_`` subprotocol offers are replaced by ``[secure]``.
        """
        with self._lock:
            return [dict(record) for record in self._requests]

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook requests made, oldest first.

        Each is ``{"kind": "validation"|"delivery", "url", "status", "error", "attempt",
        "items", "time"}``: ``status`` is ``None`` when there was no HTTP answer (then
        ``error`` says why), ``attempt`` counts tries of the same batch from 1, ``time`` is
        :func:`time.time`. A removed callback adds ``{"kind": "removed", ...}``.
        """
        with self._lock:
            return [dict(record) for record in self._deliveries]

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version", "channels", "websockets"}``."""
        from mds._version import __version__

        now = time.monotonic()
        with self._lock:
            channels = 0
            sockets = 0
            for state in self._states.values():
                self._expire(state, now)
                if state.channel is not None:
                    channels += 1
                    if isinstance(state.channel, WebsocketChannel) and state.channel.session:
                        sockets += 1
        return {"status": "ok", "version": __version__, "channels": channels, "websockets": sockets}

    # ------------------------------------------------------------------ internals (locked)

    def _check_key(self, token: str | None) -> tuple[int, str] | None:
        """``None`` for a valid API key, else the (status, message) to refuse it with."""
        if not token:
            return 401, "Missing API key: send 'Authorization: Bearer <api key>'."
        if not token.startswith("ak_"):
            return 403, "The authorization token is not an API key."
        if self._api_keys is not None and token not in self._api_keys:
            return 401, "The API key is not valid."
        return None

    def _state(self, api_key: str) -> KeyState:
        state = self._states.get(api_key)
        if state is None:
            state = self._states[api_key] = KeyState(self._lock)
        return state

    def _expire(self, state: KeyState, now: float) -> None:
        """Apply the service's expiry rules to ``state`` as of ``now`` (lock held)."""
        channel = state.channel
        if isinstance(channel, PullChannel):
            if not channel.waiting and now - channel.last_get >= self.pull_expiry:
                state.channel = None
        elif isinstance(channel, WebsocketChannel):
            if (
                channel.session is None
                and now - channel.disconnected_since >= self.websocket_expiry
            ):
                state.channel = None
        if state.pull_deleted_at is not None and now - state.pull_deleted_at >= self.purge_window:
            state.pull_deleted_at = None

    def _drop_channel(self, state: KeyState, close_code: int = 1000, reason: str = "") -> None:
        """Delete the key's channel and queue; close its socket with ``close_code``."""
        channel = state.channel
        if isinstance(channel, WebsocketChannel) and channel.session is not None:
            channel.session.request_close(close_code, reason)
            channel.session = None
        state.channel = None
        state.cond.notify_all()

    def _open_sessions(self, api_key: str | None) -> list[tuple[WebsocketSession, KeyState]]:
        found = []
        for key, state in self._states.items():
            if api_key is not None and key != api_key:
                continue
            channel = state.channel
            if isinstance(channel, WebsocketChannel) and channel.session is not None:
                found.append((channel.session, state))
        return found

    def _attach_session(
        self, session: WebsocketSession
    ) -> tuple[KeyState | None, WebsocketChannel | None]:
        """Bind a freshly accepted socket to its key's websocket channel, if there is one."""
        now = time.monotonic()
        with self._lock:
            state = self._states.get(session.api_key)
            if state is None:
                return None, None
            self._expire(state, now)
            channel = state.channel
            if not isinstance(channel, WebsocketChannel):
                return state, None
            old = channel.session
            if old is not None:
                old.request_close(1001, "another connection took over the channel")
            channel.session = session
            if self._stopping:
                session.request_close(1001, "server shutting down")
            state.cond.notify_all()
            return state, channel

    def _should_drop_after_frame(self, session: WebsocketSession) -> bool:
        for api_key, every in self._drop_every:
            if (api_key is None or api_key == session.api_key) and session.frames_sent % every == 0:
                return True
        return False

    def _take_fault(self, endpoint: str, api_key: str | None) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._faults:
                if fault["endpoint"] != endpoint:
                    continue
                if fault["api_key"] is not None and fault["api_key"] != api_key:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self._faults.remove(fault)
                return dict(fault)
        return None

    def _record_request(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(record)

    def _record_delivery(self, record: dict[str, Any]) -> None:
        record["time"] = time.time()
        with self._lock:
            self._deliveries.append(record)

    # ------------------------------------------------------------------ webhooks

    def _webhook_request(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int | None, str | None]:
        """PUT ``body`` to ``url``; returns (status, None) or (None, error text)."""
        pool = self._pool
        if pool is None:
            return None, "emulator stopped"
        send_headers = dict(headers)
        for name in list(send_headers):
            if name.lower() == "content-type":
                del send_headers[name]
        send_headers["Content-Type"] = "application/json"
        timeout = urllib3.Timeout(connect=self.webhook_timeout, read=self.webhook_timeout)
        try:
            response = pool.request(
                "PUT",
                url,
                body=body,
                headers=send_headers,
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status, None

    def _validate_webhook(self, url: str, headers: Mapping[str, str]) -> str | None:
        """Send the registration check; ``None`` when the target answered 200 or 204."""
        status, error = self._webhook_request(url, headers, b"{}")
        self._record_delivery(
            {
                "kind": "validation",
                "url": url,
                "status": status,
                "error": error,
                "attempt": 1,
                "items": 0,
            }
        )
        if status in (200, 204):
            return None
        if status is None:
            return f"Callback URL is not reachable ({error})."
        return f"Callback URL answered the validation request with {status}, not 200 or 204."

    def _start_webhook_worker(self, state: KeyState, channel: CallbackChannel) -> None:
        worker = threading.Thread(
            target=self._webhook_worker,
            args=(state, channel),
            name="mds-emulator-webhook",
            daemon=True,
        )
        channel.worker = worker
        self._workers.add(worker)
        worker.start()

    def _webhook_worker(self, state: KeyState, channel: CallbackChannel) -> None:
        """Deliver one callback channel's queue: one batch in flight, back-off on failure."""
        try:
            self._webhook_loop(state, channel)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _webhook_loop(self, state: KeyState, channel: CallbackChannel) -> None:
        pending: tuple[bytes, int] | None = None
        attempt = 0
        failures = 0
        generation = -1
        while True:
            with self._lock:
                while state.channel is channel and not self._stopping and not channel.queue:
                    state.cond.wait()
                if state.channel is not channel or self._stopping:
                    return
                if channel.generation != generation:
                    generation = channel.generation
                    failures = 0
                if pending is None:
                    message, count = build_message(channel.queue, self.batch_limit)
                    pending = (json.dumps(message, separators=(",", ":")).encode(), count)
                    attempt = 0
                url, headers = channel.url, dict(channel.headers)
            attempt += 1
            started = time.monotonic()
            status, error = self._webhook_request(url, headers, pending[0])
            self._record_delivery(
                {
                    "kind": "delivery",
                    "url": url,
                    "status": status,
                    "error": error,
                    "attempt": attempt,
                    "items": pending[1],
                }
            )
            with self._lock:
                if state.channel is not channel:
                    return
                if status is not None and 200 <= status < 300:
                    for _ in range(pending[1]):
                        channel.queue.popleft()
                    pending = None
                    failures = 0
                    channel.failing_since = None
                    continue
                if channel.generation != generation:
                    continue  # the URL was replaced meanwhile: try the new one at once
                failures += 1
                if channel.failing_since is None:
                    channel.failing_since = started
                now = time.monotonic()
                if now - channel.failing_since >= self.webhook_give_up:
                    state.channel = None
                    state.cond.notify_all()
                    self._deliveries.append(
                        {
                            "kind": "removed",
                            "url": url,
                            "status": status,
                            "error": error,
                            "attempt": attempt,
                            "items": len(channel.queue),
                            "time": time.time(),
                        }
                    )
                    logger.debug("callback removed after %.3fs of failures", now - started)
                    return
                delay = min(
                    self.webhook_backoff_base * 2 ** (failures - 1), self.webhook_backoff_cap
                )
                deadline = now + delay
                while (
                    state.channel is channel
                    and not self._stopping
                    and channel.generation == generation
                ):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    state.cond.wait(remaining)


def encode_payload(value: float | str | None, ct: str) -> str:
    """Base64 of ``value`` encoded as the service would for content type ``ct``."""
    media = ct.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        raw = json.dumps(value, separators=(",", ":")).encode()
    elif value is None:
        raw = b""
    elif isinstance(value, bool):
        raw = b"true" if value else b"false"
    else:
        raw = str(value).encode()
    return base64.b64encode(raw).decode("ascii")


def endpoint_data(
    ep: str,
    ept: str | None,
    original_ep: str | None,
    q: bool,
    resources: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """An EndpointData item with wire keys (``original-ep``, ``if``)."""
    item: dict[str, Any] = {"ep": ep}
    if ept is not None:
        item["ept"] = ept
    if original_ep is not None:
        item["original-ep"] = original_ep
    item["q"] = bool(q)
    wire_resources = []
    for resource in resources or ():
        wire = {}
        for key, value in resource.items():
            wire["if" if key in ("_if", "if_") else key] = value
        wire_resources.append(wire)
    item["resources"] = wire_resources
    return item
