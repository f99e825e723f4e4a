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

Secrets never appear in logs, reprs or answers.
"""

from __future__ import annotations

import hmac
import logging
import secrets as _secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mds.api.notifications_api import NotificationsApi
from mds.events import Event, events_from_message
from mds.exceptions import (
    ApiException,
    BadRequestException,
    ModelError,
    PayloadTooLargeException,
    UnauthorizedException,
)
from mds.models.notification_message import NotificationMessage, parse_message
from mds.models.webhook import Webhook, check_webhook

__all__ = [
    "DEFAULT_MAX_BODY",
    "WebhookReceiver",
    "parse_webhook",
    "register_webhook_with_secret",
]

logger = logging.getLogger("mds.webhook")

#: Largest body accepted by default: a full batch of 20,000 items fits with room to spare.
DEFAULT_MAX_BODY = 64 * 2**20

_OBJECT_KINDS = ("notifications", "registrations", "reg-updates", "async-responses")
_ID_KINDS = ("de-registrations", "registrations-expired")

StartResponse = Callable[..., Any]


def _check_headers(expected: Mapping[str, str], received: Mapping[str, str]) -> bool:
    """True when every expected header is present with its value; constant time per header."""
    lowered = {str(k).lower(): str(v) for k, v in received.items()}
    ok = True
    for name, value in expected.items():
        got = lowered.get(name.lower(), "")
        # Always compare (even when missing) and never short-circuit: the time taken does not
        # say which header, or how much of it, was right.
        ok = hmac.compare_digest(got.encode("utf-8"), value.encode("utf-8")) & ok
    return ok


def _parse_body(body: bytes) -> NotificationMessage:
    """A NotificationMessage from a delivery body; BadRequestException (400) if it is not one,
    or if it breaks the receiver's item rule (see `_check_items`)."""
    try:
        doc = parse_message(body)
    except ModelError as exc:
        raise BadRequestException(400, f"the body is not a NotificationMessage: {exc}") from None
    _check_items(doc)
    return NotificationMessage.from_wire(doc)


def _check_items(doc: dict[str, Any]) -> None:
    """The receiver's own rule, stricter than the listener's: every item is a JSON object (a
    device id or an object, for de-registrations and expired registrations). The service never
    sends anything else, so a body that does is refused whole (400) before any handler runs,
    rather than delivered as events with ``error`` set."""
    for key in _OBJECT_KINDS:
        items = doc.get(key)
        if items and any(type(item) is not dict for item in items):
            raise BadRequestException(400, f"{key!r} is not a list of objects")
    for key in _ID_KINDS:
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
        body = body.encode("utf-8")
    if max_body is not None and len(body) > max_body:
        raise PayloadTooLargeException(413, f"the body is over {max_body} bytes")
    return _parse_body(body)


class WebhookReceiver:
    """A WSGI application receiving the service's webhook deliveries.

    Args:
        expected_headers: headers every request must carry, with these exact values (e.g.
            ``{"authorization": secret}``, as registered with the callback). Compared in
            constant time; a mismatch answers 401. None accepts any request (not advised).
        on_event: called with each typed event (`mds.events`) of a batch, in wire order.
        on_message: called with each `mds.NotificationMessage` (before its events).
        max_body: largest body accepted, in bytes; a larger Content-Length answers 413 before
            anything is read.
        async_responses: an `mds.AsyncResponses` registry fed every batch.

    Answers: 204 after the handlers returned (also for the ``{}`` validation request) · 405 with
    ``Allow: PUT`` for other methods · 401 wrong or missing header · 411 no Content-Length ·
    413 too large · 400 not JSON or not a NotificationMessage (handlers not called) · 500 when a
    handler raised (logged on ``mds.webhook``): the service then retries the batch.
    """

    def __init__(
        self,
        expected_headers: Mapping[str, str] | None = None,
        *,
        on_event: Callable[[Event], Any] | None = None,
        on_message: Callable[[NotificationMessage], Any] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        async_responses: Any = None,
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

    def __repr__(self) -> str:
        return f"<WebhookReceiver expecting headers {sorted(self._expected)}>"

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method != "PUT":
            return _answer(start_response, 405, "only PUT is accepted", [("Allow", "PUT")])
        received = {name: str(environ.get(key, "")) for name, key in self._environ_keys.items()}
        if self._expected and not _check_headers(self._expected, received):
            logger.warning("webhook request refused: missing or wrong %s header(s)",
                           ", ".join(sorted(self._expected)))
            return _answer(start_response, 401, "missing or wrong webhook header")
        length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not length_text:
            return _answer(start_response, 411, "Content-Length required")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            return _answer(start_response, 400, "invalid Content-Length")
        if length > self.max_body:
            logger.warning("webhook request refused: body of %d bytes is over %d", length,
                           self.max_body)
            # Nothing of the body is read: the server closes or drains the connection.
            return _answer(start_response, 413, f"the body is over {self.max_body} bytes")
        body = _read(environ["wsgi.input"], length)
        if len(body) < length:
            return _answer(start_response, 400, "the body is shorter than its Content-Length")
        try:
            message = _parse_body(body)
        except ApiException as exc:
            logger.warning("webhook request refused: %s", exc.reason)
            return _answer(start_response, exc.status, exc.reason)
        if not message:
            return _answer(start_response, 204)  # the validation request, or an empty batch
        try:
            self.handle(message)
        except Exception:  # any handler failure must answer 500, not crash
            logger.exception("webhook handler failed; answering 500 so that the service retries")
            return _answer(start_response, 500, "the handler failed")
        return _answer(start_response, 204)

    def handle(self, message: NotificationMessage) -> None:
        """Pass one batch to the registry and the handlers (what a valid delivery does)."""
        need_events = self.on_event is not None or (
            self.async_responses is not None and message.async_responses
        )
        events = list(events_from_message(message)) if need_events else []
        if self.async_responses is not None and message.async_responses:
            self.async_responses.feed(events)
        if self.on_message is not None:
            self.on_message(message)
        if self.on_event is not None:
            for event in events:
                self.on_event(event)


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


_REASONS = {
    204: "No Content", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed",
    411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error",
}


def _answer(
    start_response: StartResponse, status: int, text: str = "",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = b"" if status == 204 else (text + "\n").encode("utf-8")
    response_headers = list(headers or [])
    if status != 204:
        response_headers += [("Content-Type", "text/plain; charset=utf-8"),
                             ("Content-Length", str(len(body)))]
    start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), response_headers)
    return [body]


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
