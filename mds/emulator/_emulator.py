"""The :class:`Emulator`: a local stand-in for the Notifications service and its devices.

It composes the service's rules (:class:`~mds.emulator._service.NotificationService` for the
channels, :class:`~mds.emulator._device_service.DeviceService` for simulated devices,
subscriptions and device requests) with its transports: the REST endpoints, the websocket
upgrade and the admin API on one port (:mod:`mds.emulator._http`, :mod:`mds.emulator._websocket`,
:mod:`mds.emulator._admin`) and the webhook deliveries (:mod:`mds.emulator._webhook`). It
shares no code with the SDK client on purpose, so that the two cannot agree on a mistake.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, NamedTuple, TypeVar, overload

from mds.emulator._chaos import parse_chaos
from mds.emulator._clock import Clock
from mds.emulator._device_service import DeviceService
from mds.emulator._faults import parse_fault
from mds.emulator._http import ENDPOINTS, EmulatorServer
from mds.emulator._messages import async_response_item, notification_item
from mds.emulator._service import (
    EVENT_LIFETIME,
    QUEUE_LIMIT_BYTES,
    RECORD_LIMIT,
    NotificationService,
    Settings,
)
from mds.emulator._webhook import WebhookDispatcher

__all__ = ["Emulator"]

logger = logging.getLogger("mds.emulator")

_T = TypeVar("_T")


class _Setting(Generic[_T]):
    """An :class:`Emulator` attribute that reads and replaces one field of its settings."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> _Setting[_T]: ...

    @overload
    def __get__(self, instance: Emulator, owner: type[Any]) -> _T: ...

    def __get__(self, instance: Emulator | None, owner: type[Any]) -> _Setting[_T] | _T:
        if instance is None:
            return self
        value: _T = getattr(instance.settings, self.name)
        return value

    def __set__(self, instance: Emulator, value: _T) -> None:
        changes: dict[str, Any] = {self.name: value}
        instance.settings = dataclasses.replace(instance.settings, **changes)


class _Running(NamedTuple):
    """What a started emulator runs: the HTTP server, its thread, the webhook sender."""

    server: EmulatorServer
    thread: threading.Thread
    webhooks: WebhookDispatcher


class Emulator:
    """A local, in-memory emulator of the Device Management Notifications service, with
    simulated devices, subscriptions and device requests.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`)::

        with Emulator() as emu:
            print(emu.url, emu.api_key)

    Every duration of the service is an option, in seconds, so a test can play a 24-hour story
    in milliseconds; with ``clock=ManualClock()`` it plays it without waiting at all.

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
        webhook_timeout: Timeout of every webhook request (validation and deliveries), in real
            time whatever the clock.
        pull_expiry: A long-poll channel not polled for this long is deleted with its queue.
        websocket_expiry: A websocket channel without a connection for this long is deleted with
            its queue.
        purge_window: After a long-poll DELETE, a GET answers 410 for this long.
        batch_limit: Most items in one delivered NotificationMessage.
        device_latency: How long a simulated device takes to answer a request (on the clock).
        device_timeout: How long the service waits for a device's answer; an attempt that
            takes longer fails with ``TIMEOUT`` (retried while the request's ``retry`` allows).
        websocket_shape: ``"2019"`` (default) answers the websocket channel endpoints with
            ``channelId``, ``queueSize`` and the true status; ``"2020"`` as the 2020 service
            does (``queue_size: -1``, ``status: unknown``; a repeated PUT answers
            ``{"serialization"}``).
        webhook_ca_certs: CA bundle used to verify https webhook targets (default: the system's).
        clock: What every time-based rule reads (hold, expiry, purge window, back-off,
            give-up): a callable returning seconds, :func:`time.monotonic` by default. Pass a
            :class:`~mds.emulator.ManualClock` and step it to let time pass in tests.
        queue_limit_bytes: The service's queue cap per API key (50 MB): past it, the oldest
            items are dropped (lost, reason ``queue_cap``).
        queue_limit_items: A cap on the number of queued items per key too (``None``: none).
        event_lifetime: How long an undelivered item stays queued (24 h); then it is dropped
            (lost, reason ``expired``).
        chaos: Seeded chaos: the probability of every kind of fault at each of its decisions
            (``None``: no chaos); see :meth:`set_chaos`.
        seed: The seed of the chaos (``None``: a random one, shown in :meth:`chaos_report`).
        record_limit: Most entries every record keeps (requests, webhook attempts, device
            executions, chaos faults, lost items); oldest dropped first.

    Raises:
        ValueError: For an empty ``api_keys``, a negative duration, an unknown
            ``websocket_shape``, a limit below 1 or a probability outside [0, 1].
    """

    long_poll_hold = _Setting[float]()
    webhook_backoff_base = _Setting[float]()
    webhook_backoff_cap = _Setting[float]()
    webhook_give_up = _Setting[float]()
    webhook_timeout = _Setting[float]()
    pull_expiry = _Setting[float]()
    websocket_expiry = _Setting[float]()
    purge_window = _Setting[float]()
    batch_limit = _Setting[int]()
    device_latency = _Setting[float]()
    device_timeout = _Setting[float]()
    websocket_shape = _Setting[str]()
    queue_limit_bytes = _Setting[int]()
    queue_limit_items = _Setting["int | None"]()
    event_lifetime = _Setting[float]()

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
        device_latency: float = 0.0,
        device_timeout: float = 120.0,
        websocket_shape: str = "2019",
        webhook_ca_certs: str | None = None,
        clock: Clock = time.monotonic,
        queue_limit_bytes: int = QUEUE_LIMIT_BYTES,
        queue_limit_items: int | None = None,
        event_lifetime: float = EVENT_LIFETIME,
        chaos: float | None = None,
        seed: int | None = None,
        record_limit: int = RECORD_LIMIT,
    ) -> None:
        self.host = host
        self._requested_port = port
        accepted: frozenset[str] | None = None
        if isinstance(api_keys, str):
            api_keys = [api_keys]
        if api_keys is not None:
            keys = [str(key) for key in api_keys]
            if not keys or not all(keys):
                raise ValueError("api_keys must hold at least one non-empty key")
            accepted = frozenset(keys)
            self._api_key = keys[0]
        else:
            self._api_key = "ak_" + secrets.token_hex(16)
        settings = Settings(
            long_poll_hold=long_poll_hold,
            webhook_backoff_base=webhook_backoff_base,
            webhook_backoff_cap=webhook_backoff_cap,
            webhook_give_up=webhook_give_up,
            webhook_timeout=webhook_timeout,
            pull_expiry=pull_expiry,
            websocket_expiry=websocket_expiry,
            purge_window=purge_window,
            batch_limit=batch_limit,
            device_latency=device_latency,
            device_timeout=device_timeout,
            websocket_shape=websocket_shape,
            queue_limit_bytes=queue_limit_bytes,
            queue_limit_items=queue_limit_items,
            event_lifetime=event_lifetime,
        )
        self.webhook_ca_certs = webhook_ca_certs
        self._service = NotificationService(
            settings, api_keys=accepted, clock=clock, record_limit=record_limit
        )
        self._devices = DeviceService(self._service)
        self._running: _Running | None = None
        self.set_chaos(chaos, seed=seed)

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        where = self.url if self._running is not None else "stopped"
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
    def settings(self) -> Settings:
        """Every duration and the batch limit, as one validated value.

        Assigning a new one (or one of the attributes named like the options) takes effect
        for everything that starts afterwards.
        """
        return self._service.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._service.settings = value

    @property
    def clock(self) -> Clock:
        """The clock every time-based rule reads."""
        return self._service.clock

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._running is not None

    @property
    def port(self) -> int:
        """The TCP port it listens on.

        Raises:
            RuntimeError: When the emulator is not running.
        """
        if self._running is None:
            raise RuntimeError("the emulator is not running")
        return int(self._running.server.server_address[1])

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
        if self._running is not None:
            raise RuntimeError("the emulator is already running")
        webhooks = WebhookDispatcher(self._service, self.webhook_ca_certs)
        try:
            # Binding and listening happen in the constructor: connections made from now on
            # wait in the backlog until serve_forever() accepts them, so it is ready right away.
            server = EmulatorServer(
                (self.host, self._requested_port), self._service, self._devices, webhooks
            )
        except BaseException:
            webhooks.stop()
            raise
        self._service.start()
        self._devices.start()
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mds-emulator-{server.server_address[1]}",
            daemon=True,
        )
        self._running = _Running(server, thread, webhooks)
        thread.start()
        logger.debug("emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving: open websockets are closed with 1001, held long polls answer 204,
        webhook workers end, and every server thread is joined. Idempotent.
        """
        running = self._running
        if running is None:
            return
        self._service.stop()
        self._devices.stop()
        server = running.server
        server.stopping.set()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        running.thread.join()
        running.webhooks.stop()
        self._running = None
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
        return self._service.queue_message(message, api_key)

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
        """Queue a resource value change (one ``notifications`` item) directly.

        This injects what the service would deliver, whatever the subscriptions: it does not
        touch the simulated devices (use :meth:`set_resource` for a device-side change, which
        reaches only the keys subscribed to it). The value is encoded as the service would: for
        ``text/plain`` (and other text types) the UTF-8 text of the value, for JSON types its
        JSON text, base64'd; ``payload_b64`` gives the payload directly instead.

        Returns:
            The number of channels it was queued for.
        """
        item = notification_item(ep, path, value, ct, payload_b64, max_age)
        return self._service.queue_items([("notifications", item, True)], api_key)

    def register_device(
        self,
        ep: str,
        *,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool = False,
        resources: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        api_key: str | None = None,
    ) -> int:
        """A simulated device registers (a full registration): it exists, is online and owns
        ``resources``, and a ``registrations`` item is queued.

        ``resources`` is a list of ResourcesData dicts (``path``, ``ct``, ``obs``, ``rt``,
        ``if``; ``_if`` is accepted for ``if``), each optionally with the device's ``value``
        (or ``payload_b64``) and ``max_age`` (default 60); or a mapping ``path -> value`` or
        ``path -> dict`` (that dict without ``path``). In the list form a resource is
        observable only when it says ``"obs": True``; in the mapping form unless it says
        ``"obs": False``. ``ct`` defaults to ``text/plain``.

        A registration applies every key's pre-subscription rules to the device and removes
        the manual subscriptions it had; requests waiting for it are delivered. Registering an
        already known device again is a full re-registration (a resource given without a value
        keeps the one it had).

        Args:
            api_key: Queue the event for this key's channel only (``None``: every channel).

        Returns:
            The number of channels the event was queued for.

        Raises:
            ValueError: For malformed ``resources``.
        """
        return self._devices.register(
            ep, ept=ept, original_ep=original_ep, q=q, resources=resources, api_key=api_key
        )

    def update_registration(
        self,
        ep: str,
        *,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool = False,
        resources: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        api_key: str | None = None,
    ) -> int:
        """A device updates its registration: a ``reg-updates`` item; arguments as
        :meth:`register_device`.

        The device is online; ``resources`` replace its resources when given (``None`` keeps
        them), as ``ept`` and ``original_ep`` do. Pre-subscription rules are applied again;
        manual subscriptions stay. Changes made while it was offline are reported.
        """
        return self._devices.register(
            ep,
            ept=ept,
            original_ep=original_ep,
            q=q,
            resources=resources,
            api_key=api_key,
            full=False,
        )

    def deregister_device(self, ep: str, *, api_key: str | None = None) -> int:
        """A device de-registers: a ``de-registrations`` item (the device id).

        The device leaves the registry (requests to it answer 404 ``DEVICE_NOT_FOUND``) with its
        subscriptions; requests waiting for it are answered ``429 DEVICE_REMOVED_REGISTRATION``.
        Returns the number of channels the event was queued for.
        """
        return self._devices.deregister(ep, api_key=api_key)

    def expire_registration(self, ep: str, *, api_key: str | None = None) -> int:
        """A device's registration expires: a ``registrations-expired`` item (the device id).

        As :meth:`deregister_device`, but waiting requests are answered ``503 NOT_CONNECTED``.
        Returns the number of channels the event was queued for.
        """
        return self._devices.deregister(ep, api_key=api_key, expired=True)

    def set_resource(
        self,
        ep: str,
        path: str,
        value: Any = None,
        *,
        ct: str | None = None,
        payload_b64: str | None = None,
    ) -> int:
        """A device-side change: resource ``path`` of device ``ep`` takes ``value``.

        ``value`` is encoded by the resource's content type (``ct`` replaces it) as
        :meth:`notify` encodes; ``bytes`` are taken as they are, ``payload_b64`` gives the
        payload directly. A new path becomes a new observable resource. The change is
        notified only to keys subscribed to the resource (or to an object above it), and only
        if it is observable; an offline device reports it when it comes back.

        Returns:
            The number of channels a notification was queued for (0: nobody subscribed).

        Raises:
            ValueError: For an unknown device or a malformed path.
        """
        return self._devices.set_resource(ep, path, value, ct=ct, payload_b64=payload_b64)

    def set_online(self, ep: str, online: bool = True) -> None:
        """Take device ``ep`` offline (``False``) or bring it back (``True``).

        Offline, requests to it wait in its queue (20 per API key) until it comes back or
        their ``expiry-seconds`` pass (then ``429 REQUEST_EXPIRED``); a request on its way
        fails with ``503 NOT_CONNECTED`` unless ``retry`` allows another attempt. Back online,
        it reports the changes of subscribed resources made meanwhile, then answers the
        waiting requests one at a time. No registration event is sent either way.

        Raises:
            ValueError: For an unknown device.
        """
        self._devices.set_online(ep, online)

    def set_latency(self, ep: str, seconds: float | None) -> None:
        """How long device ``ep`` takes to answer a request (``None``: ``device_latency``).

        A latency of ``device_timeout`` or more makes every attempt fail with ``TIMEOUT``
        (``504`` once ``retry`` is used up).

        Raises:
            ValueError: For an unknown device or a negative latency.
        """
        self._devices.set_latency(ep, seconds)

    def on_execute(
        self,
        ep: str,
        path: str,
        answer: Any = None,
        *,
        status: int = 200,
        ct: str = "text/plain",
    ) -> None:
        """What device ``ep`` answers to a POST (execute) on ``path``.

        ``answer`` is the value to answer (encoded by ``ct``; ``None``: no payload) or a
        function called with the POST's payload (``bytes``) returning that value; ``status``
        is the status the device answers. A function that raises makes the device answer
        500. Without an answer for the path, a POST on a resource answers 200 without a
        payload, elsewhere 404. Every POST is recorded (:meth:`executions`).

        Raises:
            ValueError: For a malformed path or status.
        """
        self._devices.on_execute(ep, path, answer, status=status, ct=ct)

    def executions(self, ep: str | None = None) -> list[dict[str, Any]]:
        """POSTs the devices executed, oldest first (of device ``ep`` only, if given): each
        ``{"ep", "path", "payload_b64", "ct", "time"}``.
        """
        return self._devices.executions(ep)

    def device(self, ep: str) -> dict[str, Any]:
        """What the emulator knows of device ``ep``: ``{"ep", "ept", "original_ep", "q",
        "registered", "online", "latency", "queued", "resources"}``, each resource as
        ``{"path", "ct", "obs", "rt", "payload_b64", "value"}`` (``value`` decoded for text and
        JSON types).

        Raises:
            KeyError: For an unknown device.
        """
        return self._devices.device(ep)

    def devices(self) -> list[dict[str, Any]]:
        """Every device the emulator knows (as :meth:`device` shows it), by id."""
        return self._devices.devices()

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
        item = async_response_item(
            async_id,
            status=status,
            value=value,
            payload_b64=payload_b64,
            ct=ct,
            error=error,
            max_age=max_age,
        )
        return self._service.queue_message({"async-responses": [item]}, api_key)

    # ------------------------------------------------------------------ admin: faults & records

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Inject a fault.

        Forms (``api_key`` optionally limits any of them to one key):

        * ``endpoint="GET /v2/notification/pull", status=503, headers={...}, body=..., count=N``:
          the next N answers of that endpoint have that status (``body`` defaults to the
          service's JSON error body for it).
        * ``endpoint=..., delay=seconds, count=N``: the next N answers are delayed (in real
          time, whatever the clock).
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
        return dict(self._service.add_fault(parse_fault(spec, ENDPOINTS)))

    def set_chaos(
        self,
        probability: float | None = None,
        *,
        seed: int | None = None,
        faults: Mapping[str, float] | None = None,
        endpoints: Iterable[str] | None = None,
    ) -> None:
        """Inject faults at random, replayably: the same seed and the same client requests
        give the same faults in the same order (see ``docs/Emulator.md``, "Chaos").

        Args:
            probability: The probability of every kind of fault at each of its decisions
                (each request, long poll, frame, webhook acknowledgement, reconnection);
                ``None`` turns chaos off.
            seed: The seed; ``None`` picks a random one (:meth:`chaos_report` shows it).
            faults: ``{kind: probability}`` for kinds that differ from ``probability``
                (``{"websocket.drop": 0.1, "rest.latency": 0}``); the kinds are
                ``rest.429``, ``rest.500``, ``rest.502``, ``rest.503``, ``rest.504``,
                ``rest.latency``, ``long_poll.410``, ``long_poll.early_204``,
                ``long_poll.drop``, ``websocket.drop``, ``websocket.drop_mid_frame``,
                ``websocket.close_1001``, ``websocket.close_1011``,
                ``websocket.close_1012``, ``websocket.slow``, ``webhook.retry``,
                ``channel.expiry``.
            endpoints: The REST endpoints the ``rest.*`` kinds may hit
                (``"GET /v2/notification/pull"``, ...); ``None`` for all of them. The admin
                API is never hit.

        Raises:
            ValueError: For an unknown kind or endpoint, or a probability outside [0, 1].
        """
        spec: dict[str, Any] = {"probability": probability, "seed": seed, "faults": faults}
        spec["endpoints"] = list(endpoints) if endpoints is not None else None
        self._service.set_chaos(parse_chaos(spec, ENDPOINTS, secrets.randbelow(2**32)))

    def chaos_report(self) -> dict[str, Any]:
        """The chaos in force, every fault it injected, and what became of every queued item.

        A JSON-able dict (``GET /_emulator/chaos`` answers the same):

        * ``settings``: ``{"probability", "seed", "faults": {kind: probability},
          "endpoints"}``, or ``None`` without chaos;
        * ``faults``: the last ``record_limit`` faults injected, oldest first, each
          ``{"sequence", "kind", "where", "key", "time", ...details}`` (``key`` names the API
          key without revealing it, ``time`` is the emulator's clock);
        * ``counts``: faults injected per kind, all of them; ``faults_dropped``: how many
          records fell out of the list;
        * ``items``: ``{"queued", "delivered", "lost": {reason: count}, "lost_items",
          "lost_items_dropped", "still_queued"}``, the service's view of every item queued for
          a channel: what should have reached the application is ``queued - lost -
          still_queued``.
        """
        return self._service.chaos_report()

    def reset(self) -> None:
        """Forget everything: channels and queues (open websockets close with 1001), devices,
        pre-subscriptions and subscriptions, waiting requests, faults, recorded requests,
        executions and webhook attempts, the chaos record and the item counts (the chaos
        settings stay; its draws start afresh from the seed).
        """
        self._devices.reset()
        self._service.reset()

    def requests(self) -> list[dict[str, Any]]:
        """Requests received on the service endpoints, oldest first.

        Each is ``{"method", "path", "headers", "body", "time"}``; the Authorization header and
        ``pelion_`` subprotocol offers are replaced by ``[secure]``.
        """
        return self._service.requests()

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook requests made, oldest first.

        Each is ``{"kind": "validation"|"delivery", "url", "status", "error", "attempt",
        "items", "time"}``: ``status`` is ``None`` when there was no HTTP answer (then
        ``error`` says why), ``attempt`` counts tries of the same batch from 1, ``time`` is
        :func:`time.time`. A removed callback adds ``{"kind": "removed", ...}``.
        """
        return self._service.deliveries()

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version", "channels", "websockets"}``."""
        return self._service.health()
