"""The rules of the Notifications service, apart from any transport: :class:`NotificationService`.

The service holds the per-key state (one channel and its queue per API key) and decides every
answer: which channel a request may create, when a held long poll ends, when a channel expires,
which batch goes out next, when a failed webhook delivery is retried or given up, which close
code a websocket gets. It knows nothing of sockets or HTTP: the HTTP handler, the websocket
session and the webhook worker parse, call it and serialise what it returns.

Time comes from the clock the service is given (:mod:`mds.emulator._clock`). Every wait for a
deadline (a held long poll, a webhook back-off) is a wait on the key's condition that ends when
the deadline passes: in real time for an ordinary clock, or when a :class:`ManualClock` is
stepped past it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from mds._version import __version__
from mds.emulator._channels import (
    CallbackChannel,
    Channel,
    KeyState,
    PullChannel,
    SocketSession,
    Taken,
    WebsocketChannel,
)
from mds.emulator._chaos import REST_STATUSES, Chaos, ChaosSettings
from mds.emulator._clock import Clock, ManualClock
from mds.emulator._faults import EndpointFault, Fault, SocketFault
from mds.emulator._ledger import Ledger
from mds.emulator._messages import Item, build_message, split_message
from mds.emulator._serialization import Serialization, decorate

__all__ = [
    "OTHER_CHANNEL",
    "RECORD_LIMIT",
    "WEBSOCKET_SHAPES",
    "Batch",
    "Delivery",
    "NotificationService",
    "Refusal",
    "RestChaos",
    "Settings",
    "SocketEnd",
]

logger = logging.getLogger("mds.emulator")

#: How many recorded requests, webhook attempts, faults and lost items are kept by default
#: (oldest dropped first).
RECORD_LIMIT: Final = 10_000
#: The service's queue cap per API key: 50 MB, oldest events dropped first.
QUEUE_LIMIT_BYTES: Final = 50 * 1024 * 1024
#: How long the service keeps an undelivered event: 24 hours.
EVENT_LIFETIME: Final = 86400.0
#: Close frames of the websocket chaos kinds (1001's reason must not read as a takeover).
_CHAOS_CLOSES: Final = {
    "websocket.close_1001": (1001, "server shutting down"),
    "websocket.close_1011": (1011, "unexpected condition"),
    "websocket.close_1012": (1012, "service restart"),
}
#: How much of a frame ``websocket.drop_mid_frame`` writes before the connection ends.
MID_FRAME: Final = 0.5
#: Websocket chaos drawn before each frame (it is not sent) and while sending it.
_SOCKET_BETWEEN_FRAMES: Final = ("websocket.drop", *_CHAOS_CLOSES)
_SOCKET_DURING_FRAME: Final = ("websocket.drop_mid_frame", "websocket.slow")
#: Longest latency ``rest.latency`` adds, in seconds of real time.
LATENCY_MAX: Final = 0.05
#: URL + header names + header values of a webhook, at most.
WEBHOOK_MAX_CHARS: Final = 400
OTHER_CHANNEL: Final = "other type of channel already exists"
CHANNEL_DELETED: Final = "CHANNEL_DELETED"
#: The answer shapes of the websocket channel endpoints: the 2019 and the 2020 service.
WEBSOCKET_SHAPES: Final = ("2019", "2020")


@dataclass(frozen=True)
class Settings:
    """Every duration of the service (seconds), the batch size, how long simulated devices take
    to answer, and which answer shapes the websocket endpoints use; validated on creation.

    ``device_latency`` is how long a simulated device takes to answer a request,
    ``device_timeout`` how long the service waits for an answer before the attempt fails
    with ``TIMEOUT`` (a device whose latency reaches it never answers in time).
    ``websocket_shape`` is ``"2019"`` (``channelId``, ``queueSize``, true status) or
    ``"2020"`` (``queue_size: -1``, ``status: unknown``, as the 2020 service answers).
    ``queue_limit_bytes`` and ``queue_limit_items`` (``None``: no limit) cap each key's queue
    (the oldest items are dropped first); ``event_lifetime`` is how long an undelivered item
    stays queued.

    Raises:
        ValueError: For a negative duration, a ``device_timeout`` or ``event_lifetime`` of 0,
            a ``batch_limit`` or queue limit below 1, or an unknown ``websocket_shape``.
    """

    long_poll_hold: float = 30.0
    webhook_backoff_base: float = 1.0
    webhook_backoff_cap: float = 120.0
    webhook_give_up: float = 86400.0
    webhook_timeout: float = 20.0
    pull_expiry: float = 600.0
    websocket_expiry: float = 86400.0
    purge_window: float = 120.0
    batch_limit: int = 10_000
    device_latency: float = 0.0
    device_timeout: float = 120.0
    websocket_shape: str = "2019"
    queue_limit_bytes: int = QUEUE_LIMIT_BYTES
    queue_limit_items: int | None = None
    event_lifetime: float = EVENT_LIFETIME

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if field.name in _NOT_DURATIONS:
                continue
            value = float(getattr(self, field.name))
            if value < 0:
                raise ValueError(f"{field.name} must not be negative")
            object.__setattr__(self, field.name, value)
        if self.device_timeout <= 0:
            raise ValueError("device_timeout must be positive")
        if self.event_lifetime <= 0:
            raise ValueError("event_lifetime must be positive")
        for name in ("queue_limit_bytes", "queue_limit_items"):
            limit = getattr(self, name)
            if limit is None and name == "queue_limit_items":
                continue
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"{name} must be a positive integer")
        batch_limit = int(self.batch_limit)
        if batch_limit < 1:
            raise ValueError("batch_limit must be at least 1")
        object.__setattr__(self, "batch_limit", batch_limit)
        if self.websocket_shape not in WEBSOCKET_SHAPES:
            raise ValueError(f"websocket_shape must be one of {', '.join(WEBSOCKET_SHAPES)}")


_NOT_DURATIONS: Final = frozenset(
    ("batch_limit", "websocket_shape", "queue_limit_bytes", "queue_limit_items")
)


@dataclass(frozen=True)
class Refusal:
    """An error answer: HTTP status, message and, for validation errors, the fields at fault."""

    status: int
    message: str
    fields: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, eq=False)
class Batch:
    """One NotificationMessage taken from the front of a channel's queue for delivery.

    Hand it back with :meth:`NotificationService.requeue` when it could not be delivered, and
    report it with :meth:`NotificationService.delivered` once it was written whole.

    ``fault`` is the chaos fault its transport must act out: ``"drop"`` (write ``cut`` of
    the answer's bytes, then close the connection: the items are lost in flight, already
    counted so), ``"slow"`` (write it in small pieces with small pauses), or ``None``.
    """

    message: dict[str, Any]
    taken: Taken
    state: KeyState
    channel: Channel
    fault: str | None = None
    cut: float = 0.0

    @property
    def items(self) -> list[Item]:
        """The items it holds, in queued order."""
        return self.taken.items


@dataclass(frozen=True)
class RestChaos:
    """What chaos does to one REST request: hold it ``delay`` seconds (real time), then
    answer ``status`` (with ``Retry-After: retry_after`` when not ``None``) or, when
    ``status`` is ``None``, the real answer.
    """

    delay: float
    status: int | None
    retry_after: str | None


@dataclass(frozen=True, eq=False)
class Delivery:
    """One webhook delivery attempt to make: PUT ``message`` to ``url`` with ``headers``."""

    channel: CallbackChannel
    url: str
    headers: dict[str, str]
    message: dict[str, Any]
    items: int
    attempt: int
    generation: int
    started: float


@dataclass(frozen=True)
class SocketEnd:
    """How a websocket ends: with a close frame (``close``), by a dropped TCP connection
    (``drop``), or neither (the peer went away first, or closed it).
    """

    close: tuple[int, str] | None
    drop: bool


@dataclass
class _ArmedFault:
    fault: EndpointFault
    remaining: int


class NotificationService:
    """The emulated Notifications service: per-key channels, queues and every rule about them.

    Thread-safe: every method takes the service's lock; the blocking ones (:meth:`long_poll`,
    :meth:`next_frame`, :meth:`next_delivery`) wait on the key's condition, releasing it.

    Args:
        settings: Durations and batch size (:class:`Settings`); replace :attr:`settings` to
            change them later.
        api_keys: The only API keys accepted; ``None`` accepts any key starting with ``ak_``.
        clock: Returns the time in seconds; every time-based rule reads it. A
            :class:`ManualClock` moves only when stepped, and waits end when it passes their
            deadline; any other callable is taken to run in real time.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        api_keys: Iterable[str] | None = None,
        clock: Clock = time.monotonic,
        record_limit: int = RECORD_LIMIT,
    ) -> None:
        if isinstance(record_limit, bool) or not isinstance(record_limit, int) or record_limit < 1:
            raise ValueError("record_limit must be a positive integer")
        self.settings = settings if settings is not None else Settings()
        #: Most entries kept by every record (requests, deliveries, faults, lost items).
        self.record_limit = record_limit
        #: The seeded chaos and the record of the faults it injected.
        self.chaos = Chaos(record_limit)
        #: What became of every queued item.
        self.ledger = Ledger(record_limit)
        self._api_keys = frozenset(api_keys) if api_keys is not None else None
        self._clock = clock
        self._lock = threading.RLock()
        self._states: dict[str, KeyState] = {}
        self._handshakes: set[str] = set()
        self._faults: list[_ArmedFault] = []
        self._drop_every: list[SocketFault] = []
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=record_limit)
        self._deliveries: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=record_limit
        )
        self._stopping = False
        #: The endpoint name each simulated device registered with (for ``original-ep``).
        self._original_eps: dict[str, str] = {}
        # Wall-clock seconds at clock time 0: timestamps follow the clock (a manual one too).
        self._epoch = time.time() - clock()
        # A manual clock says when it moves; any other clock is waited for in real time.
        self._manual_clock = isinstance(clock, ManualClock)
        if isinstance(clock, ManualClock):
            clock.subscribe(self._clock_stepped)

    @property
    def clock(self) -> Clock:
        """The clock every time-based rule reads."""
        return self._clock

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve again after :meth:`stop`."""
        with self._lock:
            self._stopping = False

    def stop(self) -> None:
        """Stop: open websockets are asked to close with 1001, held long polls end with 204,
        webhook workers get no more deliveries.
        """
        with self._lock:
            self._stopping = True
            for state in self._states.values():
                channel = state.channel
                if isinstance(channel, WebsocketChannel) and channel.session is not None:
                    channel.session.request_close(1001, "server shutting down")
                state.cond.notify_all()

    def reset(self) -> None:
        """Forget everything: channels and queues (open websockets close with 1001), faults,
        recorded requests and webhook attempts, the chaos record and the item counts (the
        chaos settings stay, and its draws start afresh from the seed).
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
            self._original_eps.clear()
            self._faults.clear()
            self._drop_every.clear()
            self._requests.clear()
            self._deliveries.clear()
            self.chaos.reset()
            self.ledger.reset()

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version", "channels", "websockets"}``."""
        with self._lock:
            now = self._clock()
            channels = 0
            sockets = 0
            for state in self._states.values():
                self._expire(state, now)
                if state.channel is not None:
                    channels += 1
                    if isinstance(state.channel, WebsocketChannel) and state.channel.session:
                        sockets += 1
        return {"status": "ok", "version": __version__, "channels": channels, "websockets": sockets}

    # ------------------------------------------------------------------ keys and records

    def check_key(self, token: str | None) -> Refusal | None:
        """``None`` for a valid API key, else the 401 or 403 to refuse it with."""
        if not token:
            return Refusal(401, "Missing API key: send 'Authorization: Bearer <api key>'.")
        if not token.startswith("ak_"):
            return Refusal(403, "The authorization token is not an API key.")
        if self._api_keys is not None and token not in self._api_keys:
            return Refusal(401, "The API key is not valid.")
        return None

    def record_request(self, record: dict[str, Any]) -> None:
        """Keep ``record`` (already redacted) for :meth:`requests`."""
        with self._lock:
            self._requests.append(record)

    def requests(self) -> list[dict[str, Any]]:
        """Recorded requests, oldest first (copies)."""
        with self._lock:
            return [dict(record) for record in self._requests]

    def deliveries(self) -> list[dict[str, Any]]:
        """Recorded webhook requests and removals, oldest first (copies)."""
        with self._lock:
            return [dict(record) for record in self._deliveries]

    # ------------------------------------------------------------------ injection

    def queue_message(self, message: Mapping[str, Any], api_key: str | None = None) -> int:
        """Queue a NotificationMessage's items for ``api_key``'s channel, or every channel.

        Returns:
            The number of channels it was queued for.
        """
        return self.queue_items(split_message(message), api_key)

    def queue_items(self, items: list[Item], api_key: str | None = None) -> int:
        """Append ``items`` to the queue of ``api_key``'s channel (``None``: every channel).

        Returns:
            The number of channels they were queued for (0 when there is none).
        """
        if not items:
            return 0
        queued = 0
        with self._lock:
            now = self._clock()
            if api_key is not None:
                candidates = [self._states[api_key]] if api_key in self._states else []
            else:
                candidates = list(self._states.values())
            for state in candidates:
                self._expire(state, now)
                channel = state.channel
                if channel is not None:
                    serialization = channel.serialization
                    if serialization is None or not serialization.decorates:
                        count = channel.queue.extend(items, now)
                    else:
                        count = channel.queue.extend(
                            decorate(items, serialization, self._timestamp, self._original_eps),
                            now,
                        )
                    self.ledger.queued(count)
                    self._cap(channel)
                    state.cond.notify_all()
                    queued += 1
        return queued

    def note_device(self, ep: str, original_ep: str | None) -> None:
        """Remember the endpoint name device ``ep`` registered with (``None``: its id)."""
        with self._lock:
            if original_ep is None:
                self._original_eps.pop(ep, None)
            else:
                self._original_eps[ep] = original_ep

    def _timestamp(self) -> str:
        """The clock's time as the wall-clock time stamped on items (ISO 8601, UTC, ms)."""
        moment = datetime.datetime.fromtimestamp(self._epoch + self._clock(), datetime.timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # ------------------------------------------------------------------ channel metadata

    def delivery_mechanism(self, api_key: str) -> str | None:
        """``CALLBACK``, ``LONG_POLLING`` or ``WEB_SOCKET``; ``None`` without a channel."""
        with self._lock:
            channel = self._channel(api_key)
            return channel.mechanism if channel is not None else None

    # ------------------------------------------------------------------ callback channel

    def check_webhook(self, api_key: str, url: str, headers: Mapping[str, str]) -> Refusal | None:
        """The 400 a webhook registration gets before any validation request, or ``None``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Refusal(
                400,
                "Validation error.",
                ({"name": "url", "message": "Only http and https URLs are supported."},),
            )
        size = len(url) + sum(len(name) + len(value) for name, value in headers.items())
        if size > WEBHOOK_MAX_CHARS:
            return Refusal(
                400,
                "Validation error.",
                (
                    {
                        "name": "url",
                        "message": "URL, header names and values together exceed 400 characters.",
                    },
                ),
            )
        with self._lock:
            channel = self._channel(api_key)
            if channel is not None and not isinstance(channel, CallbackChannel):
                return Refusal(400, OTHER_CHANNEL)
        return None

    def validation_result(self, url: str, status: int | None, error: str | None) -> Refusal | None:
        """Record the validation request's outcome; ``None`` when it answered 200 or 204.

        Args:
            url: The webhook URL.
            status: The HTTP status it answered, ``None`` when there was no answer.
            error: Why there was no answer.
        """
        self._record_delivery(url, "validation", status, error, attempt=1, items=0)
        if status in (200, 204):
            return None
        if status is None:
            return Refusal(400, f"Callback URL is not reachable ({error}).")
        return Refusal(
            400, f"Callback URL answered the validation request with {status}, not 200 or 204."
        )

    def register_callback(
        self,
        api_key: str,
        url: str,
        headers: Mapping[str, str],
        serialization: Serialization | None = None,
    ) -> CallbackChannel | Refusal | None:
        """Make ``url`` the key's webhook, once it passed validation.

        ``serialization`` (the 2020 option) replaces the channel's; ``None`` removes it.

        Returns:
            The new :class:`CallbackChannel` when one was created (it needs a delivery worker
            calling :meth:`next_delivery`), ``None`` when an existing one now points at ``url``
            (a failing delivery is retried there at once), or the :class:`Refusal` when
            another type of channel exists.
        """
        with self._lock:
            now = self._clock()
            state = self._state(api_key)
            self._expire(state, now)
            channel = state.channel
            if isinstance(channel, CallbackChannel):
                channel.url = url
                channel.headers = dict(headers)
                channel.serialization = serialization
                channel.generation += 1
                channel.failing_since = None
                state.cond.notify_all()
                return None
            if channel is not None:
                return Refusal(400, OTHER_CHANNEL)
            channel = CallbackChannel(now, api_key, url, dict(headers))
            channel.serialization = serialization
            state.channel = channel
            return channel

    def webhook(self, api_key: str) -> dict[str, Any] | None:
        """``{"url", "headers"}`` of the key's webhook (and ``serialization`` when it was
        registered with one), ``None`` without one.
        """
        with self._lock:
            channel = self._channel(api_key)
            if not isinstance(channel, CallbackChannel):
                return None
            webhook: dict[str, Any] = {"url": channel.url, "headers": dict(channel.headers)}
            if channel.serialization is not None:
                webhook["serialization"] = channel.serialization.wire()
            return webhook

    def delete_callback(self, api_key: str) -> bool:
        """Delete the key's webhook and its queue; ``False`` when it had none."""
        with self._lock:
            channel = self._channel(api_key)
            if not isinstance(channel, CallbackChannel):
                return False
            self._drop_channel(self._state(api_key), "channel_deleted")
            return True

    def next_delivery(self, channel: CallbackChannel) -> Delivery | None:
        """Wait until ``channel`` has a batch to send and its back-off has passed.

        One batch is in flight at a time: the same batch is handed out again until
        :meth:`delivery_result` reports it delivered.

        Returns:
            The attempt to make, or ``None`` once the channel is gone or the service stopped
            (then the worker ends).
        """
        with self._lock:
            while True:
                state = self._states.get(channel.api_key)
                if state is None or state.channel is not channel or self._stopping:
                    return None
                if channel.delivering_generation != channel.generation:
                    # The URL was replaced: a failing delivery restarts there at once.
                    channel.delivering_generation = channel.generation
                    channel.failures = 0
                    channel.retry_at = None
                self._outlive(channel, self._clock())
                ready = channel.pending is not None or bool(channel.queue)
                if ready and (channel.retry_at is None or self._clock() >= channel.retry_at):
                    break
                self._wait(state, channel.retry_at if ready else None)
            if channel.pending is None:
                message, count = build_message(channel.queue, self._chunk(channel))
                channel.pending = (message, channel.queue.take(count))
                channel.attempt = 0
            channel.attempt += 1
            message, taken = channel.pending
            return Delivery(
                channel=channel,
                url=channel.url,
                headers=dict(channel.headers),
                message=message,
                items=len(taken),
                attempt=channel.attempt,
                generation=channel.generation,
                started=self._clock(),
            )

    def delivery_result(
        self, delivery: Delivery, status: int | None, error: str | None
    ) -> float | None:
        """Apply the outcome of a delivery attempt: any 2xx delivers the batch; anything else
        (another status, ``status=None`` for a timeout or connection error) is a failure.

        After a failure the same batch is retried after the back-off (``webhook_backoff_base``,
        doubling with every failure in a row, capped at ``webhook_backoff_cap``); once failures
        have gone on for ``webhook_give_up`` seconds the callback is removed with its queue.
        The chaos kind ``webhook.retry`` turns a 2xx into a time-out: the receiver processed
        the batch, and gets it again.

        Returns:
            When the retry is due (clock time), or ``None`` when no back-off applies (the batch
            was delivered, the callback was removed or replaced).
        """
        channel = delivery.channel
        with self._lock:
            if (
                status is not None
                and 200 <= status < 300
                and self.chaos.roll("webhook.retry", "webhook", channel.api_key) is not None
            ):
                self.chaos.record(
                    "webhook.retry",
                    "webhook",
                    channel.api_key,
                    self._clock(),
                    status=status,
                    items=delivery.items,
                )
                status, error = None, f"answered {status}, taken as a time-out (chaos)"
            # Recorded in the same step as its consequence (a back-off, a removal), so that a
            # reader who sees the record also sees the retry time that follows from it.
            self._record_delivery(
                delivery.url,
                "delivery",
                status,
                error,
                attempt=delivery.attempt,
                items=delivery.items,
            )
            state = self._states.get(channel.api_key)
            if state is None or state.channel is not channel:
                return None
            if status is not None and 200 <= status < 300:
                self.ledger.delivered(delivery.items)
                channel.pending = None
                channel.failures = 0
                channel.failing_since = None
                channel.retry_at = None
                return None
            if channel.generation != delivery.generation:
                return None  # the URL was replaced meanwhile: next_delivery tries it at once
            channel.failures += 1
            if channel.failing_since is None:
                channel.failing_since = delivery.started
            now = self._clock()
            settings = self.settings
            if now - channel.failing_since >= settings.webhook_give_up:
                self._record_delivery(
                    delivery.url,
                    "removed",
                    status,
                    error,
                    attempt=delivery.attempt,
                    items=len(channel.queue) + delivery.items,
                )
                self._drop_channel(state, "channel_deleted")
                logger.debug("callback removed after %.3fs of failures", now - channel.failing_since)
                return None
            delay = min(
                settings.webhook_backoff_base * 2 ** (channel.failures - 1),
                settings.webhook_backoff_cap,
            )
            channel.retry_at = now + delay
            return channel.retry_at

    # ------------------------------------------------------------------ long-poll channel

    def long_poll(self, api_key: str) -> Batch | Refusal | None:
        """A long-poll GET: create or refresh the channel, hold until something is queued.

        Returns:
            A :class:`Batch` to answer 200 with; ``None`` for 204 (the hold ran out, or the
            service stopped); a :class:`Refusal`: 400 another channel type exists, 409 another
            GET is waiting on this key, 410 the channel was deleted (before or during the
            hold) and the purge window has not passed.
        """
        with self._lock:
            now = self._clock()
            state = self._state(api_key)
            self._expire(state, now)
            channel = state.channel
            if channel is not None and not isinstance(channel, PullChannel):
                return Refusal(400, OTHER_CHANNEL)
            if state.pull_deleted_at is not None:
                return Refusal(410, CHANNEL_DELETED)
            if channel is not None and channel.waiting:
                return Refusal(409, "Conflict: a long poll request is already waiting on this key.")
            if channel is not None and self._chaos_expiry(state, "long_poll", api_key):
                channel = None
            if channel is None:
                channel = PullChannel(now)
                state.channel = channel
            fault = self._first_fault(("long_poll.410", "long_poll.early_204"), "long_poll", api_key)
            if fault is not None:
                channel.last_get = now
                self.chaos.record(fault, "long_poll", api_key, now, queued=len(channel.queue))
                return Refusal(410, CHANNEL_DELETED) if fault == "long_poll.410" else None
            channel.waiting = True
            channel.last_get = now
            deadline = now + self.settings.long_poll_hold
            try:
                while not channel.queue and state.channel is channel and not self._stopping:
                    if self._clock() >= deadline:
                        break
                    self._wait(state, deadline)
                if state.channel is not channel:
                    if state.pull_deleted_at is not None:
                        return Refusal(410, CHANNEL_DELETED)
                    return None
                self._outlive(channel, self._clock())
                if not channel.queue:
                    return None
                message, count = build_message(channel.queue, self.settings.batch_limit)
                taken = channel.queue.take(count)
                drop = self.chaos.roll("long_poll.drop", "long_poll", api_key)
                if drop is None:
                    return Batch(message, taken, state, channel)
                cut = drop.choice((0.0, drop.random()))
                self._lose_in_flight("long_poll.drop", "long_poll", api_key, taken, cut)
                return Batch(message, taken, state, channel, "drop", cut)
            finally:
                channel.waiting = False
                channel.last_get = self._clock()

    def requeue(self, batch: Batch) -> None:
        """Put an undelivered batch back at the front of its queue (if the channel still is;
        else its items are lost with the channel).
        """
        with self._lock:
            if batch.state.channel is batch.channel:
                batch.channel.queue.put_back(batch.taken)
                batch.state.cond.notify_all()
            else:
                self.ledger.lost(batch.items, "channel_deleted")

    def delivered(self, batch: Batch) -> None:
        """``batch`` was written whole to the client (a long-poll answer, a websocket frame)."""
        self.ledger.delivered(len(batch.taken))

    def delete_pull(self, api_key: str) -> str:
        """A long-poll DELETE: ``"REMOVED"``, or ``"ALREADY_DELETED"`` in the purge window.

        The channel and its queue go; a held GET ends with 410, and so does every GET until
        ``purge_window`` has passed.
        """
        with self._lock:
            now = self._clock()
            state = self._state(api_key)
            self._expire(state, now)
            if isinstance(state.channel, PullChannel):
                self._drop_channel(state, "channel_deleted")
                state.pull_deleted_at = now
                return "REMOVED"
            if state.pull_deleted_at is not None:
                return "ALREADY_DELETED"
            return "REMOVED"

    # ------------------------------------------------------------------ websocket channel

    def register_websocket(
        self, api_key: str, serialization: Serialization | None = None
    ) -> tuple[bool, dict[str, Any]] | Refusal:
        """A websocket PUT: ``(created, answer body)``, or the 400 for another type.

        A new channel answers its WebsocketChannel shape; an existing one is updated with
        ``serialization`` when one is given and answers its WebsocketChannel shape (2019) or
        RegisterWebsocketChannel ``{"serialization"}`` (2020), as ``settings.websocket_shape``
        says.
        """
        with self._lock:
            now = self._clock()
            state = self._state(api_key)
            self._expire(state, now)
            channel = state.channel
            shape = self.settings.websocket_shape
            if isinstance(channel, WebsocketChannel):
                if serialization is not None:
                    channel.serialization = serialization
                if shape == "2020":
                    answer: dict[str, Any] = {}
                    if channel.serialization is not None:
                        answer["serialization"] = channel.serialization.wire()
                    return False, answer
                return False, channel.wire(shape)
            if channel is not None:
                return Refusal(400, OTHER_CHANNEL)
            channel = WebsocketChannel(now)
            channel.serialization = serialization
            state.channel = channel
            return True, channel.wire(shape)

    def websocket_channel(self, api_key: str) -> dict[str, Any] | None:
        """The key's websocket channel (wire shape), ``None`` without one."""
        with self._lock:
            channel = self._channel(api_key)
            if not isinstance(channel, WebsocketChannel):
                return None
            return channel.wire(self.settings.websocket_shape)

    def delete_websocket(self, api_key: str) -> bool:
        """Delete the key's websocket channel and queue (its socket closes with 1000)."""
        with self._lock:
            channel = self._channel(api_key)
            if not isinstance(channel, WebsocketChannel):
                return False
            self._drop_channel(self._state(api_key), "channel_deleted", 1000, "channel deleted")
            return True

    def begin_handshake(self, api_key: str) -> bool:
        """Note a websocket handshake for ``api_key``; ``False`` (429) when one is in progress."""
        with self._lock:
            if api_key in self._handshakes:
                return False
            self._handshakes.add(api_key)
            return True

    def end_handshake(self, api_key: str) -> None:
        """The handshake begun with :meth:`begin_handshake` is over."""
        with self._lock:
            self._handshakes.discard(api_key)

    def connect_socket(self, token: str) -> SocketSession:
        """Bind a socket that completed its handshake with credentials ``token``.

        The session takes over the key's websocket channel (a socket already bound to it is
        asked to close with 1001). A session that cannot be bound comes back already asked to
        close: 1008 for invalid credentials, 1011 without a websocket channel, 1001 while the
        service is stopping.
        """
        session = SocketSession(token)
        with self._lock:
            if self.check_key(token) is not None:
                session.request_close(1008, "API key missing or invalid")
                return session
            state = self._states.get(token)
            channel = None
            if state is not None:
                self._expire(state, self._clock())
                channel = state.channel
            if isinstance(channel, WebsocketChannel) and channel.session is None:
                assert state is not None
                if self._chaos_expiry(state, "websocket", token):
                    channel = None
            if state is None or not isinstance(channel, WebsocketChannel):
                session.request_close(1011, "no websocket channel is registered for this API key")
                return session
            old = channel.session
            if old is not None:
                old.request_close(1001, "another connection took over the channel")
            channel.session = session
            session.state = state
            session.channel = channel
            if self._stopping:
                session.request_close(1001, "server shutting down")
            state.cond.notify_all()
        return session

    def next_frame(self, session: SocketSession) -> Batch | None:
        """Wait until the session's channel has something to send.

        Returns:
            The batch for the next text frame, or ``None`` when the session is to end (then
            call :meth:`disconnect`).
        """
        state, channel = session.state, session.channel
        with self._lock:
            if state is None or channel is None:
                return None
            while True:
                while not session.ending and not channel.queue:
                    state.cond.wait()
                if session.ending:
                    return None
                self._outlive(channel, self._clock())
                if channel.queue:
                    break
            key = session.api_key
            between = self._first_fault(_SOCKET_BETWEEN_FRAMES, "websocket", key)
            if between is not None:
                self.chaos.record(between, "websocket", key, self._clock())
                if between == "websocket.drop":
                    session.request_drop()
                else:
                    session.request_close(*_CHAOS_CLOSES[between])
                return None
            message, count = build_message(channel.queue, self._chunk(channel))
            taken = channel.queue.take(count)
            during = self._first_fault(_SOCKET_DURING_FRAME, "websocket", key)
            if during == "websocket.drop_mid_frame":
                self._lose_in_flight(during, "websocket", key, taken, MID_FRAME)
                session.request_drop()
                return Batch(message, taken, state, channel, "drop", MID_FRAME)
            if during == "websocket.slow":
                self.chaos.record(during, "websocket", key, self._clock(), items=len(taken))
                return Batch(message, taken, state, channel, "slow")
            return Batch(message, taken, state, channel)

    def frame_sent(self, session: SocketSession, batch: Batch | None = None) -> None:
        """A frame went out whole (``batch``: what it held, now delivered); this is where a
        ``drop every k frames`` fault strikes.
        """
        if batch is not None:
            self.delivered(batch)
        with self._lock:
            session.frames_sent += 1
            for fault in self._drop_every:
                every = fault.every or 1
                if (fault.api_key is None or fault.api_key == session.api_key) and (
                    session.frames_sent % every == 0
                ):
                    session.request_drop()
                    break

    def frame_failed(self, session: SocketSession, batch: Batch) -> None:
        """Sending ``batch`` failed: it goes back to the front of the queue; the socket is gone."""
        with self._lock:
            self.requeue(batch)
            session.peer_gone = True

    def socket_closed(self, session: SocketSession) -> None:
        """The peer closed the socket or the connection broke."""
        with self._lock:
            session.peer_gone = True
            if session.state is not None:
                session.state.cond.notify_all()

    def disconnect(self, session: SocketSession) -> SocketEnd:
        """Unbind the session from its channel (which starts its expiry); how the socket ends."""
        with self._lock:
            channel = session.channel
            if channel is not None and channel.session is session:
                channel.session = None
                channel.disconnected_since = self._clock()
            return SocketEnd(close=session.close_request, drop=session.drop_request)

    # ------------------------------------------------------------------ chaos

    def set_chaos(self, settings: ChaosSettings | None) -> None:
        """Put seeded chaos in force (``None``: off); every decision site starts afresh."""
        self.chaos.configure(settings)

    def rest_chaos(self, endpoint: str, api_key: str | None) -> RestChaos | None:
        """The chaos for one request to REST ``endpoint`` (``"GET /v2/notification/pull"``).

        Every ``rest.*`` kind is drawn once per request; the first error kind that strikes
        answers (with ``Retry-After`` or without, as its generator says), ``rest.latency``
        delays the answer by up to :data:`LATENCY_MAX`. Returns ``None`` when nothing strikes.
        """
        chaos = self.chaos
        if chaos.settings is None:
            return None
        now = self._clock()
        delay = 0.0
        latency = chaos.roll("rest.latency", endpoint, api_key)
        if latency is not None:
            delay = round(latency.uniform(0.001, LATENCY_MAX), 4)
            chaos.record("rest.latency", endpoint, api_key, now, delay=delay)
        fault = self._first_fault(tuple(REST_STATUSES), endpoint, api_key)
        if fault is None:
            return RestChaos(delay, None, None) if delay else None
        status = REST_STATUSES[fault]
        generator = chaos.site(fault, endpoint, api_key)
        retry_after = "1" if generator.random() < 0.5 else None
        chaos.record(fault, endpoint, api_key, now, status=status, retry_after=retry_after)
        return RestChaos(delay, status, retry_after)

    def chaos_report(self) -> dict[str, Any]:
        """The chaos settings, every fault injected, and what became of every queued item.

        ``{"settings", "faults", "counts", "faults_dropped", "items"}``; ``items`` is
        ``{"queued", "delivered", "lost": {reason: count}, "lost_items",
        "lost_items_dropped", "still_queued"}``.
        """
        report = self.chaos.report()
        with self._lock:
            # Under the service's lock, so that no item moves between the ledger's counts and
            # the queues (only a batch being written is in neither until its transport reports).
            items = self.ledger.report()
            still = 0
            for state in self._states.values():
                channel = state.channel
                if channel is not None:
                    still += len(channel.queue)
                    if isinstance(channel, CallbackChannel) and channel.pending is not None:
                        still += len(channel.pending[1])
        items["still_queued"] = still
        report["items"] = items
        return report

    # ------------------------------------------------------------------ faults

    def add_fault(self, fault: Fault) -> dict[str, int]:
        """Arm or apply a fault (validated by :func:`mds.emulator._faults.parse_fault`).

        Returns:
            ``{"armed": N}`` for endpoint faults and drop-every faults, ``{"sockets": N}``
            (sockets affected) for immediate websocket faults.
        """
        with self._lock:
            if isinstance(fault, EndpointFault):
                self._faults.append(_ArmedFault(fault, fault.count))
                return {"armed": fault.count}
            if fault.every is not None:
                self._drop_every.append(fault)
                return {"armed": 1}
            sessions = self._open_sessions(fault.api_key)
            for session, state in sessions:
                if fault.action == "close":
                    session.request_close(fault.code, fault.reason)
                else:
                    session.request_drop()
                state.cond.notify_all()
            return {"sockets": len(sessions)}

    def take_fault(self, endpoint: str, api_key: str | None) -> EndpointFault | None:
        """Use up one answer of the first fault armed for ``endpoint`` and ``api_key``."""
        with self._lock:
            for armed in self._faults:
                fault = armed.fault
                if fault.endpoint != endpoint:
                    continue
                if fault.api_key is not None and fault.api_key != api_key:
                    continue
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._faults.remove(armed)
                return fault
        return None

    # ------------------------------------------------------------------ internals (lock held)

    def _state(self, api_key: str) -> KeyState:
        state = self._states.get(api_key)
        if state is None:
            state = self._states[api_key] = KeyState(self._lock)
        return state

    def _chunk(self, channel: Channel) -> int:
        """Most items in one message for ``channel``: the batch limit, or its max_chunk_size."""
        serialization = channel.serialization
        if serialization is None:
            return self.settings.batch_limit
        return min(self.settings.batch_limit, serialization.max_chunk_size)

    def _channel(self, api_key: str) -> Channel | None:
        """The key's channel after the expiry rules."""
        state = self._states.get(api_key)
        if state is None:
            return None
        self._expire(state, self._clock())
        return state.channel

    def _expire(self, state: KeyState, now: float) -> None:
        """Apply the service's expiry rules to ``state`` as of ``now``."""
        channel = state.channel
        settings = self.settings
        if isinstance(channel, PullChannel):
            if not channel.waiting and now - channel.last_get >= settings.pull_expiry:
                self._drop_channel(state, "channel_expired")
        elif isinstance(channel, WebsocketChannel):
            if (
                channel.session is None
                and now - channel.disconnected_since >= settings.websocket_expiry
            ):
                self._drop_channel(state, "channel_expired")
        if state.channel is not None:
            self._outlive(state.channel, now)
        if (
            state.pull_deleted_at is not None
            and now - state.pull_deleted_at >= settings.purge_window
        ):
            state.pull_deleted_at = None

    def _drop_channel(
        self, state: KeyState, why: str, close_code: int = 1000, close_reason: str = ""
    ) -> None:
        """Delete the key's channel and queue (its items are lost for ``why``); ask its socket
        to close with ``close_code``.
        """
        channel = state.channel
        assert channel is not None, "callers drop an existing channel"
        if isinstance(channel, WebsocketChannel) and channel.session is not None:
            channel.session.request_close(close_code, close_reason)
            channel.session = None
        lost = channel.queue.clear()
        if isinstance(channel, CallbackChannel) and channel.pending is not None:
            lost[:0] = channel.pending[1].items
            channel.pending = None
        self.ledger.lost(lost, why)
        state.channel = None
        state.cond.notify_all()

    def _outlive(self, channel: Channel, now: float) -> None:
        """Drop the items older than ``event_lifetime`` from ``channel``'s queue."""
        queue = channel.queue
        oldest = queue.oldest()
        moment = now - self.settings.event_lifetime
        if oldest is not None and oldest <= moment:
            self.ledger.lost(queue.take(queue.received_before(moment)).items, "expired")

    def _cap(self, channel: Channel) -> None:
        """Drop the oldest items of ``channel``'s queue while it is over a queue limit."""
        settings = self.settings
        queue = channel.queue
        most_items = settings.queue_limit_items
        if queue.size > settings.queue_limit_bytes or (
            most_items is not None and len(queue) > most_items
        ):
            excess = queue.excess(settings.queue_limit_bytes, most_items)
            self.ledger.lost(queue.take(excess).items, "queue_cap")

    def _first_fault(self, kinds: tuple[str, ...], where: str, api_key: str | None) -> str | None:
        """Draw each of ``kinds`` once at ``where``; the first that strikes, else ``None``.

        Every kind draws even after one struck, so that each site's stream advances once per
        decision whatever the others drew.
        """
        struck = [kind for kind in kinds if self.chaos.roll(kind, where, api_key) is not None]
        return struck[0] if struck else None

    def _chaos_expiry(self, state: KeyState, where: str, api_key: str) -> bool:
        """Draw ``channel.expiry``: when it strikes, the channel is removed as if idle."""
        if self.chaos.roll("channel.expiry", where, api_key) is None:
            return False
        channel = state.channel
        queued = len(channel.queue) if channel is not None else 0
        self.chaos.record("channel.expiry", where, api_key, self._clock(), items=queued)
        self._drop_channel(state, "channel_expired")
        return True

    def _lose_in_flight(
        self, kind: str, where: str, api_key: str, taken: Taken, cut: float
    ) -> None:
        """A batch its transport will cut (``cut`` of its bytes written): lost in flight."""
        self.chaos.record(kind, where, api_key, self._clock(), items=len(taken), cut=cut)
        self.ledger.lost(taken.items, "in_flight")

    def _open_sessions(self, api_key: str | None) -> list[tuple[SocketSession, KeyState]]:
        found = []
        for key, state in self._states.items():
            if api_key is not None and key != api_key:
                continue
            channel = state.channel
            if isinstance(channel, WebsocketChannel) and channel.session is not None:
                found.append((channel.session, state))
        return found

    def _wait(self, state: KeyState, deadline: float | None) -> None:
        """Wait on the key's condition until notified or, at the latest, until ``deadline``.

        With a manual clock only a notification ends the wait: the clock's step notifies
        (:meth:`_clock_stepped`). Callers re-check their condition and the deadline after it.
        """
        if deadline is None or self._manual_clock:
            state.cond.wait()
        else:
            state.cond.wait(max(0.0, deadline - self._clock()))

    def _clock_stepped(self) -> None:
        """The manual clock moved: every waiter re-checks its deadline."""
        with self._lock:
            for state in self._states.values():
                state.cond.notify_all()

    def _record_delivery(
        self,
        url: str,
        kind: str,
        status: int | None,
        error: str | None,
        *,
        attempt: int,
        items: int,
    ) -> None:
        record = {
            "kind": kind,
            "url": url,
            "status": status,
            "error": error,
            "attempt": attempt,
            "items": items,
            "time": time.time(),
        }
        with self._lock:
            self._deliveries.append(record)
