"""The device-data rules of the service, apart from any transport: :class:`DeviceService`.

Simulated devices register, own resources, go offline and come back; applications (API keys)
set pre-subscription rules, subscribe to resources and send device requests. This object decides
every answer of ``/v2/subscriptions``, ``/v2/device-requests`` and ``/v2/endpoints`` and what
reaches a key's channel: a registration event, a notification for a *subscribed* resource that
changed, an ``async-responses`` item answering a request. It queues those on the channels of
:class:`~mds.emulator._service.NotificationService` and knows nothing of sockets or HTTP.

Time comes from the notification service's clock. A request takes ``device_latency`` seconds
on the device; requests to one device go one at a time, in order; a request waiting for an
offline device expires after ``expiry-seconds``. With a :class:`ManualClock` whatever falls due
happens inside ``clock.advance()``; with a real clock one thread (``mds-emulator-devices``)
wakes at the next deadline.
"""

from __future__ import annotations

import base64
import collections
import heapq
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mds.emulator._clock import ManualClock
from mds.emulator._devices import (
    MAX_PAYLOAD_BYTES,
    Answer,
    Device,
    DeviceRequest,
    ExecuteAnswer,
    Invalid,
    PendingRequest,
    Presubscription,
    Resource,
    Subscriptions,
    checked_b64,
    is_under,
    parse_device_request,
    parse_presubscriptions,
    resource_path,
    resource_specs,
)
from mds.emulator._messages import (
    async_response_item,
    encode_payload,
    endpoint_data,
    notification_item,
)
from mds.emulator._service import NotificationService, Refusal, Settings

__all__ = ["QUEUE_LIMIT", "DeviceService", "Reply"]

logger = logging.getLogger("mds.emulator")

#: Requests one API key may have waiting for one device.
QUEUE_LIMIT: Final = 20
#: The service's defaults for ``retry`` and ``expiry-seconds``: (normal device, queue mode).
DEFAULT_RETRIES: Final = (0, 2)
DEFAULT_EXPIRY: Final = (2 * 3600.0, 3 * 86400.0)
_ASYNC_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
#: Error names of the AsyncIDResponse status table.
_FAILURES: Final = {"TIMEOUT": 504, "NOT_CONNECTED": 503}


@dataclass(frozen=True)
class Reply:
    """A successful answer: ``status`` and a JSON body (``data``) or raw bytes (``raw``)."""

    status: int
    data: Any = None
    raw: bytes | None = None
    content_type: str | None = None


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _int_param(text: str | None, name: str, low: int, high: int) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise Invalid(name, f"{name} must be an integer from {low} to {high}")
    return int(text)


def _bool_param(query: Mapping[str, Sequence[str]], name: str) -> bool:
    values = query.get(name)
    if not values:
        return False
    if len(values) > 1 or values[0].lower() not in ("true", "false"):
        raise Invalid(name, f"{name} must be true or false")
    return values[0].lower() == "true"


def _json(body: bytes) -> Any:
    """The JSON value of ``body``; :class:`ValueError` when it is not JSON (too deep included)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


class DeviceService:
    """Simulated devices, subscriptions and device requests, on the notification service's clock.

    Thread-safe: every method takes this object's lock (and may then take the notification
    service's, never the other way round).

    Args:
        notifications: Where answers and events are queued; its clock and settings
            (``device_latency``, ``device_timeout``) are this object's.
    """

    def __init__(self, notifications: NotificationService) -> None:
        self._notifications = notifications
        self._clock = notifications.clock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._devices: dict[str, Device] = {}
        self._rules: dict[str, list[Presubscription]] = {}
        # (when, order, device, request, "attempt" | "expire", attempt number)
        self._events: list[tuple[float, int, Device, PendingRequest, str, int]] = []
        self._order = itertools.count()
        #: Requests waiting or on their way, for :meth:`_schedule` to drop answered ones' events.
        self._pending_count = 0
        self._executions: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=notifications.record_limit
        )
        self._running = False
        self._thread: threading.Thread | None = None
        self._manual_clock = isinstance(self._clock, ManualClock)
        if isinstance(self._clock, ManualClock):
            self._clock.subscribe(self._clock_stepped)

    @property
    def settings(self) -> Settings:
        """The notification service's settings (``device_latency``, ``device_timeout``)."""
        return self._notifications.settings

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Let a real clock's deadlines be kept by a thread (started when first needed)."""
        with self._lock:
            self._running = True
            if self._events:
                self._ensure_timer()

    def stop(self) -> None:
        """Stop the deadline thread (pending requests stay; a manual clock still moves them)."""
        with self._lock:
            self._running = False
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join()

    def reset(self) -> None:
        """Forget every device, rule, subscription, pending request and execution."""
        with self._lock:
            self._devices.clear()
            self._rules.clear()
            self._events.clear()
            self._pending_count = 0
            self._executions.clear()

    # ------------------------------------------------------------------ the test's side: devices

    def register(
        self,
        ep: str,
        *,
        ept: str | None,
        original_ep: str | None,
        q: bool,
        resources: Any,
        api_key: str | None,
        full: bool = True,
    ) -> int:
        """A device registers (``full``) or updates its registration.

        Either way it is online, its resources are those given (an update without resources
        keeps them; a resource given without a value keeps the value it had), the keys'
        pre-subscription rules are applied again, an event is queued (``registrations`` or
        ``reg-updates``; for ``api_key``'s channel only, or every channel) and requests waiting
        for it are delivered. A full registration removes every manual subscription; an update
        reports the changes made while it was offline.

        Returns:
            The number of channels the event was queued for.

        Raises:
            ValueError: For malformed ``resources`` (see :func:`resource_specs`).
        """
        specs = resource_specs(resources)
        kind = "registrations" if full else "reg-updates"
        item = endpoint_data(ep, ept, original_ep, q, [wire for wire, _ in specs])
        with self._lock:
            now = self._run_due()
            device = self._devices.get(ep)
            if device is None:
                device = self._devices[ep] = Device(ep)
            if full or ept is not None:
                device.ept = ept
            if full or original_ep is not None:
                device.original_ep = original_ep
            device.q = bool(q)
            if full or resources is not None:
                self._set_resources(device, [resource for _, resource in specs], specs)
            device.registered = True
            device.online = True
            if full:
                for subscriptions in device.subscriptions.values():
                    subscriptions.manual.clear()
                device.changed_offline.clear()
                device.cache.clear()
            self._apply_rules(device)
            self._notifications.note_device(ep, device.original_ep)
            queued = self._notifications.queue_items([(kind, item, True)], api_key)
            self._report_offline_changes(device, now)
            self._pump(device, now)
            return queued

    def deregister(self, ep: str, *, api_key: str | None, expired: bool = False) -> int:
        """A device de-registers (or its registration expires, ``expired``).

        Queues the event (``de-registrations`` or ``registrations-expired``); the device leaves
        the registry with its subscriptions, and every request waiting for it is answered
        ``429 DEVICE_REMOVED_REGISTRATION`` (or ``503 NOT_CONNECTED`` for an expiry).

        Returns:
            The number of channels the event was queued for.
        """
        kind = "registrations-expired" if expired else "de-registrations"
        with self._lock:
            self._run_due()
            queued = self._notifications.queue_items([(kind, ep, True)], api_key)
            device = self._devices.get(ep)
            if device is not None and device.registered:
                device.registered = False
                device.online = False
                device.subscriptions.clear()
                device.cache.clear()
                device.changed_offline.clear()
                status, error = (503, "NOT_CONNECTED") if expired else (
                    429,
                    "DEVICE_REMOVED_REGISTRATION",
                )
                for pending in list(device.queue):
                    self._finish(device, pending, (status, None, None, None), error)
            return queued

    def set_resource(
        self, ep: str, path: str, value: Any, *, ct: str | None, payload_b64: str | None
    ) -> int:
        """A device-side change of resource ``path`` (created, observable, when it is new).

        The new value is notified to every key subscribed to the resource (or to an object
        above it) when the resource is observable; nothing else is delivered. An offline
        device reports the change when it comes back.

        Returns:
            The number of channels a notification was queued for.

        Raises:
            ValueError: For an unknown device, a malformed path or ``payload_b64``.
        """
        normalized = resource_path(path)
        if normalized is None:
            raise ValueError(f"not a resource path: {path!r}")
        if ct is not None and not isinstance(ct, str):
            raise ValueError("ct must be a string")
        with self._lock:
            now = self._run_due()
            device = self._device(ep)
            resource = device.resources.get(normalized)
            if resource is None:
                resource = Resource(normalized, ct=ct or "text/plain", obs=True)
                device.resources[normalized] = resource
            elif ct is not None:
                resource.ct = ct
            if payload_b64 is not None:
                resource.payload = checked_b64(payload_b64, "payload_b64")
            else:
                resource.payload = encode_payload(value, resource.ct)
            resource.has_value = True
            return self._changed(device, normalized, now)

    def set_online(self, ep: str, online: bool) -> None:
        """Take a device offline (a request on its way fails with ``NOT_CONNECTED``, retried
        while ``retry`` allows) or back online (it reports what changed meanwhile, then gets
        the requests that waited, one at a time).

        Raises:
            ValueError: For an unknown device.
        """
        with self._lock:
            now = self._run_due()
            device = self._device(ep)
            online = bool(online)
            if device.online == online:
                return
            device.online = online
            if not online:
                if device.queue and device.queue[0].due is not None:
                    self._attempt_failed(device, device.queue[0], "NOT_CONNECTED", now)
                return
            self._report_offline_changes(device, now)
            self._pump(device, now)

    def set_latency(self, ep: str, latency: float | None) -> None:
        """How long device ``ep`` takes to answer (``None``: the emulator's ``device_latency``).

        Raises:
            ValueError: For an unknown device or a negative latency.
        """
        if latency is not None:
            latency = float(latency)
            if latency < 0:
                raise ValueError("latency must not be negative")
        with self._lock:
            self._run_due()
            self._device(ep).latency = latency

    def on_execute(self, ep: str, path: str, answer: Any, *, status: int, ct: str) -> None:
        """What device ``ep`` answers to a POST on ``path``: ``answer`` (a value, encoded by
        ``ct``) or ``answer(payload_bytes)``'s value, with ``status``. The device need not be
        registered yet.

        Raises:
            ValueError: For a malformed path or status.
        """
        normalized = resource_path(path)
        if normalized is None:
            raise ValueError(f"not a resource path: {path!r}")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        with self._lock:
            device = self._devices.get(ep)
            if device is None:
                device = self._devices[ep] = Device(ep, registered=False, online=False)
            device.answers[normalized] = ExecuteAnswer(answer, status, ct)

    def executions(self, ep: str | None = None) -> list[dict[str, Any]]:
        """POSTs devices executed, oldest first: ``{"ep", "path", "payload_b64", "ct", "time"}``."""
        with self._lock:
            self._run_due()
            return [dict(record) for record in self._executions if ep is None or record["ep"] == ep]

    def device(self, ep: str) -> dict[str, Any]:
        """What the emulator knows of device ``ep`` (see :meth:`Device.snapshot`).

        Raises:
            KeyError: For an unknown device.
        """
        with self._lock:
            self._run_due()
            return self._devices[ep].snapshot()

    def devices(self) -> list[dict[str, Any]]:
        """Every device the emulator knows, by id."""
        with self._lock:
            self._run_due()
            return [self._devices[ep].snapshot() for ep in sorted(self._devices)]

    # ------------------------------------------------------------------ REST: subscriptions

    def set_presubscriptions(self, api_key: str, body: bytes) -> Refusal | None:
        """``PUT /v2/subscriptions``: replace the key's rules (an empty array removes them).

        The rules apply from the next registration or registration update of a device.
        """
        try:
            rules = parse_presubscriptions(_json(body))
        except Invalid as exc:
            return Refusal(
                400,
                "Bad request, malformed content.",
                ({"name": exc.field, "message": exc.message},),
            )
        except ValueError:
            return Refusal(400, "Bad request, malformed content: the body is not valid JSON.")
        with self._lock:
            if rules:
                self._rules[api_key] = rules
            else:
                self._rules.pop(api_key, None)
        return None

    def presubscriptions(self, api_key: str) -> list[dict[str, Any]]:
        """``GET /v2/subscriptions``: the key's rules (an empty list without any)."""
        with self._lock:
            return [rule.wire() for rule in self._rules.get(api_key, ())]

    def delete_presubscriptions(self, api_key: str) -> None:
        """``DELETE /v2/subscriptions``: remove the key's rules (subscriptions made stay)."""
        with self._lock:
            self._rules.pop(api_key, None)

    def endpoint_subscriptions(self, api_key: str, ep: str) -> Reply | Refusal:
        """``GET /v2/subscriptions/{device-id}``: 200 ``text/uri-list`` (one path a line), 404
        for an unknown device or one the key has no subscription on.
        """
        with self._lock:
            self._run_due()
            device = self._registered(ep)
            subscriptions = device.subscriptions.get(api_key) if device is not None else None
            paths = subscriptions.paths() if subscriptions is not None else []
        if not paths:
            return Refusal(404, "Endpoint not found, or there are no subscriptions for it.")
        return Reply(200, raw="\n".join(paths).encode(), content_type="text/uri-list")

    def delete_endpoint_subscriptions(self, api_key: str, ep: str) -> None:
        """``DELETE /v2/subscriptions/{device-id}``: the key's subscriptions on it go."""
        with self._lock:
            device = self._devices.get(ep)
            if device is not None:
                device.subscriptions.pop(api_key, None)

    def subscribe(self, api_key: str, ep: str, path: str) -> Reply | Refusal:
        """``PUT /v2/subscriptions/{device-id}/{resourcePath}``.

        Answers 200 when the device (online) has an observable resource there (or below, for
        an object); 202 with an ``AsyncID`` when the device must answer first: it is offline
        in queue mode (the subscription is made when it comes back), or the resource is not
        observable (it answers ``412``); 400 for a malformed path; 404 for an unknown device
        or resource; 429 when the key's queue for the device is full; 502 when the device is
        offline and not in queue mode.
        """
        normalized = resource_path(path)
        if normalized is None:
            return Refusal(400, "Bad request, malformed content: not a resource path.")
        with self._lock:
            now = self._run_due()
            device = self._registered(ep)
            if device is None or not device.knows(normalized):
                return Refusal(404, "Endpoint or its resource not found.")
            if device.online and device.observable(normalized):
                self._subscriptions(device, api_key).manual.add(normalized)
                return Reply(200)
            if not device.online and not device.q:
                return Refusal(502, "Subscription failed: endpoint not connected.")
            if device.queued_for(api_key) >= QUEUE_LIMIT:
                return Refusal(429, "Cannot accept the request at the moment: the queue is full.")
            async_id = str(uuid.uuid4())
            request = DeviceRequest("PUT", normalized, "", None, None, None)
            pending = self._pending(device, api_key, async_id, request, kind="subscribe")
            self._enqueue(device, pending, now)
            return Reply(202, {"async-response-id": async_id})

    def is_subscribed(self, api_key: str, ep: str, path: str) -> bool:
        """``GET /v2/subscriptions/{device-id}/{resourcePath}``: 200 (True) or 404 (False)."""
        normalized = resource_path(path)
        with self._lock:
            self._run_due()
            device = self._registered(ep)
            if device is None or normalized is None:
                return False
            subscriptions = device.subscriptions.get(api_key)
            return subscriptions is not None and subscriptions.covers(normalized)

    def unsubscribe(self, api_key: str, ep: str, path: str) -> None:
        """``DELETE /v2/subscriptions/{device-id}/{resourcePath}``: that subscription goes,
        whether made by hand or by a rule.
        """
        normalized = resource_path(path)
        with self._lock:
            device = self._devices.get(ep)
            if device is None or normalized is None:
                return
            subscriptions = device.subscriptions.get(api_key)
            if subscriptions is not None:
                subscriptions.discard(normalized)

    # ------------------------------------------------------------------ REST: requests

    def device_request(
        self,
        api_key: str,
        ep: str,
        *,
        async_id: str | None,
        body: bytes,
        retry: str | None,
        expiry_seconds: str | None,
    ) -> Refusal | None:
        """``POST /v2/device-requests/{device-id}``: ``None`` for 202, else the refusal.

        400 ``MALFORMED_ASYNC_ID`` (missing, or not 1-40 letters, digits, ``_``, ``-``), 400
        ``MALFORMED_JSON_CONTENT`` (not JSON, not a DeviceRequest: unknown method, bad uri or
        base64), 400 for ``retry`` outside 0-10 or ``expiry-seconds`` outside 60-2592000,
        404 ``DEVICE_NOT_FOUND``, 404 ``URI_PATH_DOES_NOT_EXISTS`` (not in the device's
        registered resources; a POST needs only the object), 400 ``QUEUE_IS_FULL`` (20 of the
        key's requests wait for the device). The answer comes as an ``async-responses`` item
        on the key's channel (lost when the key has none by then).
        """
        if async_id is None or not _ASYNC_ID.fullmatch(async_id):
            return Refusal(
                400,
                "MALFORMED_ASYNC_ID",
                ({"name": "async-id", "message": "1-40 letters, digits, '_' or '-'"},),
            )
        try:
            request = parse_device_request(_json(body))
        except Invalid as exc:
            return Refusal(
                400, "MALFORMED_JSON_CONTENT", ({"name": exc.field, "message": exc.message},)
            )
        except ValueError:
            return Refusal(
                400,
                "MALFORMED_JSON_CONTENT",
                ({"name": "body", "message": "the body is not valid JSON"},),
            )
        try:
            retries = _int_param(retry, "retry", 0, 10)
            expiry = _int_param(expiry_seconds, "expiry-seconds", 60, 2_592_000)
        except Invalid as exc:
            return Refusal(400, "Bad request.", ({"name": exc.field, "message": exc.message},))
        with self._lock:
            now = self._run_due()
            device = self._registered(ep)
            if device is None:
                return Refusal(404, "DEVICE_NOT_FOUND")
            known = (
                device.knows_object(request.path)
                if request.method == "POST"
                else device.knows(request.path)
            )
            if not known:
                return Refusal(404, "URI_PATH_DOES_NOT_EXISTS")
            if device.queued_for(api_key) >= QUEUE_LIMIT:
                return Refusal(400, "QUEUE_IS_FULL")
            pending = self._pending(device, api_key, async_id, request, retries, expiry)
            self._enqueue(device, pending, now)
        return None

    def endpoint_resources(self, ep: str) -> list[dict[str, Any]] | None:
        """``GET /v2/endpoints/{device-id}``: the registered resources as ``Resource`` objects
        (``uri``, ``obs``, ``type``, ``rt``), ``None`` (404) for an unknown device. It does not
        reach the device: an offline device is listed too.
        """
        with self._lock:
            self._run_due()
            device = self._registered(ep)
            if device is None:
                return None
            listed = []
            for wire, path in zip(device.directory, device.directory_order, strict=True):
                resource: dict[str, Any] = {"uri": path, "obs": bool(wire.get("obs", False))}
                if isinstance(wire.get("ct"), str):
                    resource["type"] = wire["ct"]
                if isinstance(wire.get("rt"), str):
                    resource["rt"] = wire["rt"]
                listed.append(resource)
            return listed

    def resource_request(
        self,
        api_key: str,
        ep: str,
        path: str,
        method: str,
        *,
        body: bytes,
        content_type: str | None,
        query: Mapping[str, Sequence[str]],
    ) -> Reply | Refusal:
        """The deprecated ``/v2/endpoints/{device-id}/{resourcePath}`` (GET, PUT, POST, DELETE).

        400 malformed path or ``noResp``/``cacheOnly`` not true/false · 410 unknown device ·
        404 unknown resource (a POST needs only its object; a PUT is checked by the device) ·
        GET: 200 with the value from the service's cache (within the resource's max-age of
        the last value the service received), 205 ``cacheOnly=true`` and nothing cached ·
        ``noResp=true``: 409 for a queue-mode device, else 204 (the request is sent, nobody is
        answered) · 412 the key has no notification channel · 502 the device is offline and
        not in queue mode · 429 the key's queue for the device is full · 202
        ``{"async-response-id"}``, the answer following on the channel.
        """
        normalized = resource_path(path)
        if normalized is None:
            return Refusal(400, "Bad request: not a resource path.")
        try:
            no_response = _bool_param(query, "noResp")
            cache_only = _bool_param(query, "cacheOnly")
        except Invalid as exc:
            return Refusal(400, "Bad request.", ({"name": exc.field, "message": exc.message},))
        with self._lock:
            now = self._run_due()
            device = self._registered(ep)
            if device is None:
                return Refusal(410, "Gone. Endpoint not found.")
            if method == "POST":
                known = device.knows_object(normalized)
            else:
                known = method == "PUT" or device.knows(normalized)
            if not known:
                return Refusal(404, "Requested endpoint's resource is not found.")
            if method == "GET":
                cached = device.cache.get(normalized)
                if cached is not None and now < cached[3]:
                    return Reply(200, raw=base64.b64decode(cached[0]), content_type=cached[1])
                if cache_only:
                    return Reply(205)
            if no_response and device.q:
                return Refusal(
                    409, "Conflict: a queue-mode device cannot take a non-confirmable request."
                )
            if not no_response and self._notifications.delivery_mechanism(api_key) is None:
                return Refusal(412, "No notification channel found.")
            if not device.online and not device.q:
                return Refusal(502, "TCP or TLS connection to endpoint cannot be established.")
            if device.queued_for(api_key) >= QUEUE_LIMIT:
                return Refusal(429, "Cannot accept the request at the moment: the queue is full.")
            payload = body if method == "PUT" or (method == "POST" and body) else None
            request = DeviceRequest(method, normalized, "", None, content_type, payload)
            async_id = str(uuid.uuid4())
            pending = self._pending(device, api_key, async_id, request)
            pending.reply = not no_response
            self._enqueue(device, pending, now)
        if no_response:
            return Reply(204)
        return Reply(202, {"async-response-id": async_id})

    # ------------------------------------------------------------------ internals (lock held)

    def _device(self, ep: str) -> Device:
        device = self._devices.get(ep)
        if device is None:
            raise ValueError(f"unknown device {ep!r}: register it first")
        return device

    def _registered(self, ep: str) -> Device | None:
        device = self._devices.get(ep)
        return device if device is not None and device.registered else None

    @staticmethod
    def _subscriptions(device: Device, api_key: str) -> Subscriptions:
        subscriptions = device.subscriptions.get(api_key)
        if subscriptions is None:
            subscriptions = device.subscriptions[api_key] = Subscriptions()
        return subscriptions

    @staticmethod
    def _set_resources(
        device: Device, resources: list[Resource], specs: list[tuple[dict[str, Any], Resource]]
    ) -> None:
        old = device.resources
        for resource in resources:
            previous = old.get(resource.path)
            if not resource.has_value and previous is not None:
                resource.payload = previous.payload
                resource.has_value = previous.has_value
        device.resources = {resource.path: resource for resource in resources}
        device.directory = [wire for wire, _ in specs]
        device.directory_order = [resource.path for resource in resources]
        device.directory_paths = frozenset(device.directory_order)

    def _apply_rules(self, device: Device) -> None:
        """Subscribe each key to what its rules give on ``device`` (replacing what they gave)."""
        for api_key in set(self._rules) | set(device.subscriptions):
            rules = [
                rule
                for rule in self._rules.get(api_key, ())
                if rule.matches_device(device.ep, device.ept)
            ]
            pre = {
                resource.path
                for resource in device.resources.values()
                if resource.obs and any(rule.matches_resource(resource.path) for rule in rules)
            }
            if pre or api_key in device.subscriptions:
                self._subscriptions(device, api_key).pre = pre

    def _changed(self, device: Device, path: str, now: float) -> int:
        """Notify the keys subscribed to ``path`` of its value; returns channels queued for."""
        resource = device.resources.get(path)
        if resource is None or not resource.obs:
            return 0
        if not device.online or not device.registered:
            device.changed_offline[path] = None
            return 0
        keys = [key for key, subs in device.subscriptions.items() if subs.covers(path)]
        if not keys:
            return 0
        self._cache(device, resource, now)
        item = notification_item(
            device.ep, path, None, resource.ct, resource.payload, resource.max_age
        )
        queue_items = self._notifications.queue_items
        return sum(queue_items([("notifications", item, True)], key) for key in keys)

    @staticmethod
    def _cache(device: Device, resource: Resource, now: float) -> None:
        """The service keeps a value it received for the resource's max-age (0: not at all)."""
        if resource.max_age > 0:
            device.cache[resource.path] = (
                resource.payload,
                resource.ct,
                resource.max_age,
                now + resource.max_age,
            )

    def _report_offline_changes(self, device: Device, now: float) -> None:
        changed = list(device.changed_offline)
        device.changed_offline.clear()
        for path in changed:
            self._changed(device, path, now)

    def _pending(
        self,
        device: Device,
        api_key: str,
        async_id: str,
        request: DeviceRequest,
        retries: int | None = None,
        expiry: int | None = None,
        *,
        kind: str = "request",
    ) -> PendingRequest:
        now = self._clock()
        return PendingRequest(
            api_key=api_key,
            async_id=async_id,
            request=request,
            retries_left=retries if retries is not None else DEFAULT_RETRIES[device.q],
            expires_at=now + (expiry if expiry is not None else DEFAULT_EXPIRY[device.q]),
            kind=kind,
        )

    def _enqueue(self, device: Device, pending: PendingRequest, now: float) -> None:
        device.queue.append(pending)
        self._pending_count += 1
        self._pump(device, now)
        if not pending.done:
            self._schedule(pending.expires_at, device, pending, "expire", 0)

    def _pump(self, device: Device, now: float) -> None:
        """Start the next request of an online device: one at a time, in order."""
        while device.queue and device.online and device.registered:
            head = device.queue[0]
            if head.due is not None:
                return  # an attempt is on its way
            if now >= head.expires_at:
                self._finish(device, head, (429, None, None, None), "REQUEST_EXPIRED")
                continue
            latency = device.latency if device.latency is not None else self.settings.device_latency
            timeout = self.settings.device_timeout
            head.attempt += 1
            if latency >= timeout:
                head.failure, head.due = "TIMEOUT", now + timeout
            else:
                head.failure, head.due = None, now + latency
            if head.due > now:
                self._schedule(head.due, device, head, "attempt", head.attempt)
                return
            self._attempt_ended(device, head, now)

    def _attempt_ended(self, device: Device, pending: PendingRequest, now: float) -> None:
        """The device answered (or the attempt timed out) at ``now``."""
        pending.due = None
        if pending.failure is not None:
            self._attempt_failed(device, pending, pending.failure, now)
            return
        device.queue.remove(pending)
        pending.done = True
        self._pending_count -= 1
        answer, changed = self._execute(device, pending, now)
        self._answer(pending, answer, None)
        if changed is not None:
            self._changed(device, changed, now)

    def _attempt_failed(
        self, device: Device, pending: PendingRequest, reason: str, now: float
    ) -> None:
        """An attempt failed (``TIMEOUT``, ``NOT_CONNECTED``): retry while allowed."""
        pending.due = None
        if now >= pending.expires_at:
            self._finish(device, pending, (429, None, None, None), "REQUEST_EXPIRED")
        elif pending.retries_left > 0:
            pending.retries_left -= 1  # it stays first in the queue
        else:
            self._finish(device, pending, (_FAILURES[reason], None, None, None), reason)

    def _finish(
        self, device: Device, pending: PendingRequest, answer: Answer, error: str | None
    ) -> None:
        """Take ``pending`` out of the queue and answer it."""
        device.queue.remove(pending)
        pending.done = True
        self._pending_count -= 1
        pending.due = None
        self._answer(pending, answer, error)

    def _answer(self, pending: PendingRequest, answer: Answer, error: str | None) -> None:
        if not pending.reply:
            return
        status, payload, ct, max_age = answer
        item = async_response_item(
            pending.async_id,
            status=status,
            value=None,
            payload_b64=payload,
            ct=ct,
            error=error,
            max_age=max_age,
        )
        self._notifications.queue_items([("async-responses", item, True)], pending.api_key)

    def _execute(
        self, device: Device, pending: PendingRequest, now: float
    ) -> tuple[Answer, str | None]:
        """What the device does and answers; also the path whose value changed, if any."""
        request = pending.request
        path = request.path
        if pending.kind == "subscribe":
            if not device.observable(path):
                return (412, None, None, None), None
            self._subscriptions(device, pending.api_key).manual.add(path)
            return (200, None, None, None), None
        if request.payload is not None and len(request.payload) > MAX_PAYLOAD_BYTES:
            return (413, None, None, None), None
        resource = device.resources.get(path)
        if request.method == "GET":
            if resource is None:
                return (404, None, None, None), None
            self._cache(device, resource, now)
            return (200, resource.payload, resource.ct, resource.max_age), None
        if request.method == "PUT":
            if request.payload is None and request.query:
                # Write-attributes (notification rules such as pmax): accepted, not emulated.
                present = any(is_under(live, path) for live in device.resources)
                return (200 if present else 404, None, None, None), None
            if resource is None:
                return (404, None, None, None), None
            if request.content_type and _media(request.content_type) != _media(resource.ct):
                return (415, None, None, None), None
            resource.payload = base64.b64encode(request.payload or b"").decode("ascii")
            resource.has_value = True
            return (200, None, None, None), path
        if request.method == "POST":
            return self._post(device, request), None
        removed = [live for live in device.resources if is_under(live, path)]
        for live in removed:
            del device.resources[live]
            device.cache.pop(live, None)
        return ((200 if removed else 404), None, None, None), None

    def _post(self, device: Device, request: DeviceRequest) -> Answer:
        payload = request.payload or b""
        self._executions.append(
            {
                "ep": device.ep,
                "path": request.path,
                "payload_b64": base64.b64encode(payload).decode("ascii"),
                "ct": request.content_type,
                "time": time.time(),
            }
        )
        handler = device.answers.get(request.path)
        if handler is None:
            if any(is_under(known, request.path) for known in device.resources):
                return 200, None, None, None
            return 404, None, None, None
        try:
            status, value = handler.reply(payload)
        except Exception:  # a test's handler failing is the device failing (logged)
            logger.exception("the execute handler of %s %s raised", device.ep, request.path)
            return 500, None, None, None
        if value is None:
            return status, None, None, None
        return status, encode_payload(value, handler.ct), handler.ct, None

    # ------------------------------------------------------------------ time

    def _schedule(
        self, when: float, device: Device, pending: PendingRequest, kind: str, attempt: int
    ) -> None:
        events = self._events
        # An answered request's expiry stays in the heap until its time (hours); once such
        # events outnumber the live ones, they are dropped in one pass.
        if len(events) > 64 and len(events) > 4 * self._pending_count:
            events[:] = [event for event in events if not event[3].done]
            heapq.heapify(events)
        heapq.heappush(events, (when, next(self._order), device, pending, kind, attempt))
        self._ensure_timer()

    def _ensure_timer(self) -> None:
        if self._manual_clock or not self._running:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._keep_deadlines, name="mds-emulator-devices", daemon=True
            )
            self._thread.start()
        else:
            self._cond.notify_all()

    def _keep_deadlines(self) -> None:
        with self._lock:
            while self._running:
                self._run_due()
                # Until the next deadline, or until something is scheduled or it is stopped.
                deadline = self._events[0][0] if self._events else None
                self._cond.wait(None if deadline is None else max(0.0, deadline - self._clock()))

    def _clock_stepped(self) -> None:
        with self._lock:
            self._run_due()

    def _run_due(self) -> float:
        """Play every deadline up to now, each at its own time; returns now."""
        now = self._clock()
        events = self._events
        while events and events[0][0] <= now:
            when, _, device, pending, kind, attempt = heapq.heappop(events)
            if pending.done:
                continue
            if kind == "attempt":
                if pending.due == when and pending.attempt == attempt:
                    self._attempt_ended(device, pending, when)
            elif pending.due is None:
                self._finish(device, pending, (429, None, None, None), "REQUEST_EXPIRED")
            self._pump(device, when)
        return now

