"""Receiving webhook (callback) deliveries: a WSGI application, and a parser for use inside a
web framework's own view.

The service PUTs one `NotificationMessage` (JSON) per delivery, with the headers registered with
the callback (e.g. ``{"authorization": "<shared secret>"}``), and sends the next batch only after
a 2xx. Any other answer makes it retry with back-off, so a receiver that answers 204 only after
its handler has returned, and 500 when the handler raised, loses nothing.

::

    secret = register_webhook_with_secret(api, "https://example.com/notify")
    app = WebhookReceiver({"authorization": secret}, on_event=print)
    waitress.serve(app, port=8080)          # or wsgiref, gunicorn, ...

With the channel's 2020 ``cfg`` flag ``include_uid`` every item carries a ``uid``, and the
receiver hands each one to the handlers once: a batch the service delivers again (after a
receiver's timeout) is dropped by uid, within a bounded window in memory and, with a
``checkpoint`` (a sqlite file, or a Redis URL shared by every worker), across restarts and
processes. See docs/Delivery-guarantees.md.

The core (check, admit, handle, answer) is independent of WSGI: `WebhookReceiver.process` takes
headers and a body and returns a `WebhookAnswer`; an ASGI server uses `check_request` before
reading the body, then `admit` and the `Delivery` it returns.

Secrets never appear in logs, reprs or answers.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets as _secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from mds.api.notifications_api import NotificationsApi
from mds.checkpoint import DEFAULT_WINDOW, CheckpointStore, Claim, Gate
from mds.checkpoint._items import ITEM_KINDS
from mds.events import Event, event_list, events_from_message
from mds.exceptions import (
    ApiException,
    BadRequestException,
    CheckpointError,
    ModelError,
    PayloadTooLargeException,
    UnauthorizedException,
)
from mds.models.notification_message import NotificationMessage, parse_message
from mds.models.webhook import Webhook, check_webhook

__all__ = [
    "BUSY_RETRY_AFTER",
    "DEFAULT_MAX_BODY",
    "Delivery",
    "ReceiverStats",
    "WebhookAnswer",
    "WebhookReceiver",
    "parse_webhook",
    "register_webhook_with_secret",
]

logger = logging.getLogger("mds.webhook")

#: Largest body accepted by default: a full batch of 20,000 items fits with room to spare.
DEFAULT_MAX_BODY = 64 * 2**20

#: Seconds the service is asked to wait (``Retry-After``) when another consumer holds items of a
#: batch, or the checkpoint store failed.
BUSY_RETRY_AFTER = 1

_OBJECTITEM_KINDS = ("notifications", "registrations", "reg-updates", "async-responses")
_IDITEM_KINDS = ("de-registrations", "registrations-expired")

StartResponse = Callable[..., Any]


def _check_headers(expected: Mapping[str, str], received: Mapping[str, str]) -> bool:
    """True when every expected header is present with its value; constant time per header."""
    lowered = {str(k).lower(): str(v) for k, v in received.items()}
    ok = True
    for name, value in expected.items():
        got = lowered.get(name.lower(), "")
        # Always compare (even when missing) and never short-circuit: the time taken does not
        # say which header, or how much of it, was right.
        # ("surrogatepass": a lone surrogate, which some frameworks let through, is a wrong
        # value like any other, not a UnicodeEncodeError.)
        ok = hmac.compare_digest(got.encode("utf-8", "surrogatepass"),
                                 value.encode("utf-8", "surrogatepass")) & ok
    return ok


def _parse_doc(body: bytes) -> dict[str, Any]:
    """The wire dict of a delivery body; BadRequestException (400) if it is not a
    NotificationMessage, or if it breaks the receiver's item rule (see `_check_items`)."""
    try:
        doc = parse_message(body)
    except ModelError as exc:
        raise BadRequestException(400, f"the body is not a NotificationMessage: {exc}") from None
    _check_items(doc)
    return doc


def _parse_body(body: bytes) -> NotificationMessage:
    """A NotificationMessage from a delivery body (see `_parse_doc`)."""
    return NotificationMessage.from_wire(_parse_doc(body))


def _check_items(doc: dict[str, Any]) -> None:
    """The receiver's own rule, stricter than the listener's: every item is a JSON object (a
    device id or an object, for de-registrations and expired registrations). The service never
    sends anything else, so a body that does is refused whole (400) before any handler runs,
    rather than delivered as events with ``error`` set."""
    for key in _OBJECTITEM_KINDS:
        items = doc.get(key)
        if items and any(type(item) is not dict for item in items):
            raise BadRequestException(400, f"{key!r} is not a list of objects")
    for key in _IDITEM_KINDS:
        items = doc.get(key)
        if items and any(type(item) not in (str, dict) for item in items):
            raise BadRequestException(400, f"{key!r} is not a list of device ids")


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    expected_headers: Mapping[str, str] | None = None,
    max_body: int | None = DEFAULT_MAX_BODY,
) -> NotificationMessage:
    """Check and parse one webhook delivery, for use inside a Flask/Django/FastAPI view.

    *headers* is the request's headers (any mapping; names compared case-insensitively),
    *body* its raw body. With *expected_headers*, each must be present with exactly that value
    (compared in constant time).

    Returns the `mds.NotificationMessage`; the service's validation request ``{}`` gives an
    empty (falsy) one. Answer 204 once the message is handled.

    Raises (each carries the ``status`` to answer with): `mds.UnauthorizedException` (401) when
    an expected header is missing or wrong, `mds.PayloadTooLargeException` (413) when the body
    is over *max_body* bytes, `mds.BadRequestException` (400) when it is not JSON, not shaped
    like a NotificationMessage, or has an item that is not a JSON object (a device id, for
    ``de-registrations`` and ``registrations-expired``).
    """
    if expected_headers and not _check_headers(expected_headers, headers):
        raise UnauthorizedException(401, "missing or wrong webhook header")
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")  # (then not JSON: a 400, no crash)
    if max_body is not None and len(body) > max_body:
        raise PayloadTooLargeException(413, f"the body is over {max_body} bytes")
    return _parse_body(body)


@dataclass(frozen=True)
class WebhookAnswer:
    """What a receiver answers to one request: ``status``, ``headers`` (name, value pairs) and
    ``body``; ``status_line`` is the WSGI form (``"204 No Content"``)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, '')}".rstrip()


@dataclass(frozen=True)
class ReceiverStats:
    """Counts of a `WebhookReceiver` since it was made.

    ``batches``: valid, non-empty deliveries received (repeats included); ``events``: items
    handed to the handlers; ``duplicates_dropped``: items dropped as repeats of what was
    handled before; ``busy``: items another consumer held (answered 503, the service retries);
    ``failures``: deliveries answered 5xx because a handler raised or the checkpoint failed.
    """

    batches: int = 0
    events: int = 0
    duplicates_dropped: int = 0
    busy: int = 0
    failures: int = 0


class Delivery:
    """One delivery admitted by `WebhookReceiver.admit`, between its admission and its answer.

    ``message`` holds only the admitted items (repeats and items held elsewhere are left out);
    `events` are its typed events. Hand them to the application, then answer with `handled`
    (or `failed` when the application raised): exactly one of the two, once.
    """

    __slots__ = ("_busy", "_doc", "_events", "_message", "_receiver", "_size", "_uids")

    def __init__(self, receiver: WebhookReceiver, doc: dict[str, Any], uids: list[str],
                 busy: bool, size: int) -> None:
        self._receiver = receiver
        self._doc = doc
        self._uids = uids
        self._busy = busy
        self._size = size  # admitted items
        self._events: list[Event] | None = None
        self._message: NotificationMessage | None = None

    def __repr__(self) -> str:
        return f"<Delivery of {self._size} items>"

    @property
    def message(self) -> NotificationMessage:
        """The admitted items as a `mds.NotificationMessage` (made when first read: a receiver
        with only ``on_event`` never pays for the model)."""
        message = self._message
        if message is None:
            message = self._message = NotificationMessage.from_wire(self._doc)
        return message

    def events(self) -> list[Event]:
        """The admitted items as typed events (`mds.events`), in wire order."""
        if self._events is None:
            self._events = event_list(self._doc)
        return self._events

    def handled(self) -> WebhookAnswer:
        """The application handled every admitted item: record them as finished and answer
        204, or 503 with ``Retry-After`` when some items were held by another consumer (the
        service then delivers the batch again: they are then done, or free)."""
        receiver = self._receiver
        receiver._count(events=self._size)
        try:
            receiver.gate.finish(self._uids)
        except CheckpointError as exc:
            # The items were handled: answering 5xx would have them handled again now. Their
            # claims expire, so a later repeat may be handled again (at least once, never lost).
            logger.error("webhook batch handled but not recorded in the checkpoint: %s", exc)
        if self._busy:
            return _busy_answer("items of this batch are being handled by another consumer")
        return _NO_CONTENT

    def failed(self) -> WebhookAnswer:
        """The application raised: release the admitted items (a redelivery is handled again)
        and answer 500, which the service retries."""
        receiver = self._receiver
        receiver._count(failures=1)
        try:
            receiver.gate.release(self._uids)
        except CheckpointError as exc:
            logger.error("could not release the failed batch's claims (they expire): %s", exc)
        return _text_answer(500, "the handler failed")


class WebhookReceiver:
    """A WSGI application receiving the service's webhook deliveries.

    Args:
        expected_headers: headers every request must carry, with these exact values (e.g.
            ``{"authorization": secret}``, as registered with the callback). Compared in
            constant time; a mismatch answers 401. None accepts any request (not advised).
        on_event: called with each typed event (`mds.events`) of a batch, in wire order.
        on_message: called with each `mds.NotificationMessage` (before its events); with
            uids, it holds only the items admitted (repeats left out).
        max_body: largest body accepted, in bytes; a larger Content-Length answers 413 before
            anything is read.
        async_responses: an `mds.AsyncResponses` registry fed every batch.
        checkpoint: where finished uids are recorded: a sqlite file path, a ``redis://`` URL
            (shared by every worker, on any machine), a `mds.checkpoint.CheckpointStore`, or
            None (only the in-memory window). See `mds.checkpoint.open_checkpoint`.
        dedupe_window: how many uids are remembered in memory (`mds.checkpoint.Gate`).

    Answers: 204 after the handlers returned (also for the ``{}`` validation request, and for
    a batch of repeats only, handlers not called) · 405 with ``Allow: PUT`` for other methods ·
    401 wrong or missing header · 411 no Content-Length · 413 too large · 400 not JSON or not a
    NotificationMessage (handlers not called) · 500 when a handler raised (logged on
    ``mds.webhook``): the service then retries the batch · 503 with ``Retry-After`` when
    another consumer holds items of the batch (after the others were handled) or the
    checkpoint store failed: the service retries.

    ``stats`` counts what happened (`ReceiverStats`); `close` closes the checkpoint store the
    receiver opened.
    """

    def __init__(
        self,
        expected_headers: Mapping[str, str] | None = None,
        *,
        on_event: Callable[[Event], Any] | None = None,
        on_message: Callable[[NotificationMessage], Any] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        async_responses: Any = None,
        checkpoint: str | os.PathLike[str] | CheckpointStore | None = None,
        dedupe_window: int = DEFAULT_WINDOW,
    ) -> None:
        headers = dict(expected_headers or {})
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, str) or not name:
                raise TypeError("expected_headers must map header names to string values")
        self._expected = {name.lower(): value for name, value in headers.items()}
        # The WSGI environ key of each expected header.
        self._environ_keys = {
            name: "HTTP_" + name.upper().replace("-", "_") for name in self._expected
        }
        for name in ("content-type", "content-length"):
            if name in self._environ_keys:
                self._environ_keys[name] = name.upper().replace("-", "_")
        self.on_event = on_event
        self.on_message = on_message
        self.max_body = int(max_body)
        self.async_responses = async_responses
        self.gate = Gate(checkpoint, window=dedupe_window)
        self._lock = threading.Lock()
        self._batches = self._events = self._failures = 0

    def __repr__(self) -> str:
        return f"<WebhookReceiver expecting headers {sorted(self._expected)}>"

    @property
    def stats(self) -> ReceiverStats:
        """What the receiver did so far (a snapshot)."""
        gate = self.gate
        with self._lock:
            counts = self._batches, self._events, self._failures
        return ReceiverStats(counts[0], counts[1], gate.duplicates_dropped, gate.busy, counts[2])

    def _count(self, batches: int = 0, events: int = 0, failures: int = 0) -> None:
        with self._lock:
            self._batches += batches
            self._events += events
            self._failures += failures

    def close(self) -> None:
        """Close the checkpoint store this receiver opened (from a path or URL); idempotent."""
        self.gate.close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the core, independent of the server -------------------------------------------------
    def check_request(
        self, method: str, headers: Mapping[str, str], content_length: str | int | None
    ) -> WebhookAnswer | None:
        """What can be refused before the body is read: the answer (405, 401, 411, 400, 413),
        or None when the body should be read (*content_length* bytes of it). *headers* is any
        mapping of the request's headers (names compared case-insensitively)."""
        if str(method).upper() != "PUT":
            return _text_answer(405, "only PUT is accepted", (("Allow", "PUT"),))
        if self._expected and not _check_headers(self._expected, headers):
            logger.warning("webhook request refused: missing or wrong %s header(s)",
                           ", ".join(sorted(self._expected)))
            return _text_answer(401, "missing or wrong webhook header")
        length_text = str("" if content_length is None else content_length).strip()
        if not length_text:
            return _text_answer(411, "Content-Length required")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            return _text_answer(400, "invalid Content-Length")
        if length > self.max_body:
            logger.warning("webhook request refused: body of %d bytes is over %d", length,
                           self.max_body)
            return _text_answer(413, f"the body is over {self.max_body} bytes")
        return None

    def admit(self, body: bytes) -> WebhookAnswer | Delivery:
        """Parse a body that passed `check_request` and admit its items by uid.

        Returns the answer when there is nothing to hand to the application (400 bad body; 204
        for the validation request, an empty batch or a batch of repeats only; 503 when every
        new item is held by another consumer, or the checkpoint store failed), else the
        `Delivery` of the admitted items."""
        try:
            doc = _parse_doc(body)
        except ApiException as exc:
            logger.warning("webhook request refused: %s", exc.reason)
            return _text_answer(exc.status, exc.reason)
        kinds: list[tuple[str, list[Any]]] = []  # the item lists, in wire order
        uids: list[str | None] = []  # of every item, in the same order
        for key, items in doc.items():
            if key in ITEM_KINDS and items:
                kinds.append((key, items))
                uids.extend([item.get("uid") if type(item) is dict else None for item in items])
        if not uids:
            return _NO_CONTENT  # the validation request, or an empty batch
        self._count(batches=1)
        nones = uids.count(None)
        if nones == len(uids):
            return Delivery(self, doc, [], busy=False, size=len(uids))
        if not _UID_TYPES.issuperset(map(type, uids)):
            uids = list(map(_uid, uids))  # a uid that is not a string: as its event reads it
        try:
            claims = self.gate.admit(uids)
        except CheckpointError as exc:
            logger.error("webhook batch refused: the checkpoint failed: %s", exc)
            self._count(failures=1)
            return _busy_answer("the checkpoint store failed")
        new = claims.count(Claim.NEW)
        if new == len(claims):  # nothing dropped (nearly always)
            admitted = cast("list[str]", uids if not nones else [u for u in uids if u is not None])
            return Delivery(self, doc, admitted, busy=False, size=len(uids))
        if not new:
            if Claim.BUSY in claims:
                return _busy_answer("the items of this batch are being handled by another consumer")
            return _NO_CONTENT  # every item was handled before
        admitted = [u for u, c in zip(uids, claims, strict=True) if c is Claim.NEW and u is not None]
        rest = {key: items for key, items in doc.items() if key not in ITEM_KINDS or not items}
        start = 0
        for key, items in kinds:
            end = start + len(items)
            kept = [item for item, c in zip(items, claims[start:end], strict=True)
                    if c is Claim.NEW]
            if kept:
                rest[key] = kept
            start = end
        return Delivery(self, rest, admitted, busy=Claim.BUSY in claims, size=new)

    def deliver(self, body: bytes) -> WebhookAnswer:
        """Admit a body that passed `check_request`, hand what is admitted to the handlers,
        record it, and return the answer."""
        delivery = self.admit(body)
        if isinstance(delivery, WebhookAnswer):
            return delivery
        try:
            self._handle(lambda: delivery.message, delivery.events)
        except Exception:  # any handler failure must answer 500, not crash
            logger.exception("webhook handler failed; answering 500 so that the service retries")
            return delivery.failed()
        return delivery.handled()

    def process(self, headers: Mapping[str, str], body: bytes | str,
                method: str = "PUT") -> WebhookAnswer:
        """One whole request, for any server or framework: check it, admit its items, hand them
        to the handlers, and return the answer to send (`WebhookAnswer`)."""
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        refused = self.check_request(method, headers, len(body))
        return refused if refused is not None else self.deliver(body)

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        received = {name: str(environ.get(key, "")) for name, key in self._environ_keys.items()}
        length_text = environ.get("CONTENT_LENGTH")
        answer = self.check_request(method, received, length_text)
        if answer is None:
            # Checked above: a number within max_body. Nothing of a refused body is read.
            length = int(str(length_text).strip())
            body = _read(environ["wsgi.input"], length)
            if len(body) < length:
                answer = _text_answer(400, "the body is shorter than its Content-Length")
            else:
                answer = self.deliver(body)
        start_response(answer.status_line, list(answer.headers))
        return [answer.body]

    def handle(self, message: NotificationMessage) -> None:
        """Pass one batch to the registry and the handlers, as a valid delivery does after
        admission (this method itself drops no repeats and records nothing)."""
        self._handle(lambda: message, lambda: list(events_from_message(message)))

    def _handle(self, message: Callable[[], NotificationMessage],
                events: Callable[[], list[Event]]) -> None:
        """*message* and *events* make the batch's model and typed events, each only if
        needed (a receiver with only ``on_event`` never makes the model)."""
        registry = self.async_responses
        answers = registry is not None and bool(message().async_responses)
        batch = events() if self.on_event is not None or answers else []
        if answers:
            registry.feed(batch)
        if self.on_message is not None:
            self.on_message(message())
        if self.on_event is not None:
            for event in batch:
                self.on_event(event)


#: What a uid read from an item may be without being turned into a string.
_UID_TYPES = frozenset({str, type(None)})


def _uid(uid: Any) -> str | None:
    """A uid as its event reads it (a uid that is not a string is kept as its str)."""
    if uid is None or type(uid) is str:
        return uid
    return str(uid)


def _read(stream: Any, length: int) -> bytes:
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


_NO_CONTENT = WebhookAnswer(204)

_REASONS = {
    204: "No Content", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed",
    411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error",
    503: "Service Unavailable",
}


def _text_answer(status: int, text: str,
                 headers: tuple[tuple[str, str], ...] = ()) -> WebhookAnswer:
    body = (text + "\n").encode("utf-8")
    return WebhookAnswer(status, (*headers, ("Content-Type", "text/plain; charset=utf-8"),
                                  ("Content-Length", str(len(body)))), body)


def _busy_answer(text: str) -> WebhookAnswer:
    return _text_answer(503, text, (("Retry-After", str(BUSY_RETRY_AFTER)),))


def register_webhook_with_secret(
    api: NotificationsApi,
    url: str,
    secret: str | None = None,
    header: str = "authorization",
) -> str:
    """Register *url* as the callback with a shared secret header, and return the secret.

    With *secret* None, a strong one is generated (`secrets.token_urlsafe`, 256 bits). The URL
    plus header name and value must fit the service's 400 characters: that is checked before
    anything is sent (`mds.ApiValueError`). Other failures raise as `register_webhook` does
    (400 when the URL does not validate or another channel type exists).
    """
    if secret is None:
        secret = _secrets.token_urlsafe(32)
    webhook = check_webhook(Webhook(url=url, headers={header: secret}))
    api.register_webhook(webhook)
    return secret
