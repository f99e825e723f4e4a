"""`mds.aio.WebhookReceiver`: the service's webhook deliveries, received by an ASGI application
(uvicorn, hypercorn; mountable in FastAPI and Starlette)."""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from mds.aio._gate import admitted_part, item_uids
from mds.checkpoint import DEFAULT_WINDOW, CheckpointStore, Claim, Gate
from mds.events import Event, event_list, message_dict
from mds.exceptions import ApiTypeError, ApiValueError, BadRequestException, ModelError
from mds.listener._source import Batch, has_items
from mds.models import NotificationMessage
from mds.models.notification_message import parse_message
from mds.webhook_receiver import DEFAULT_MAX_BODY

__all__ = ["WebhookReceiver"]

logger = logging.getLogger("mds.webhook")

# The item rule of `mds.webhook_receiver` (kept private there): these kinds hold objects only,
# these hold device ids (or objects).
_OBJECT_KINDS = ("notifications", "registrations", "reg-updates", "async-responses")
_ID_KINDS = ("de-registrations", "registrations-expired")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

def _headers_match(expected: Mapping[str, str], received: Mapping[str, str]) -> bool:
    """Every expected header is there with its value; constant time per header, and every
    header compared even after a mismatch (the time taken says nothing of which one)."""
    ok = True
    for name, value in expected.items():
        got = received.get(name, "")
        ok = hmac.compare_digest(got.encode("utf-8"), value.encode("utf-8")) & ok
    return ok


class WebhookReceiver:
    """An ASGI application receiving the service's webhook deliveries: the checks and answers
    of `mds.WebhookReceiver` (the WSGI one), with handlers that may be coroutine functions.

    ::

        receiver = mds.aio.WebhookReceiver({"authorization": secret}, on_event=handle)
        app.mount("/notify", receiver)              # FastAPI / Starlette
        # or: uvicorn.run(receiver, port=8080)

    Args:
        expected_headers: headers every request must carry with these exact values (e.g.
            ``{"authorization": secret}``); compared in constant time; a mismatch answers 401.
        on_event: called with each typed event (`mds.events`) of a batch, in wire order; a
            coroutine function is awaited. A plain function runs on the event loop: keep it
            short, or make it a coroutine function.
        on_message: called (or awaited) with each `mds.NotificationMessage` (before its events),
            holding only the admitted items.
        max_body: largest body accepted, in bytes (a larger Content-Length answers 413 before
            anything is read).
        async_responses: an `mds.AsyncResponses` registry fed the async responses of each batch.
        checkpoint: a checkpoint store (or a sqlite path, or a ``redis://`` URL) recording the
            finished uids, shared by every worker process that uses the same one.
        dedupe_window: how many of the latest uids are remembered in memory.
        retry_after: seconds the ``Retry-After`` of a 503 asks the service to wait.

    Answers: 204 after the handlers returned (also for the ``{}`` validation request and a batch
    of repeats only) · 405 with ``Allow: PUT`` for other methods · 401 wrong or missing header ·
    411 no Content-Length · 413 too large · 400 not JSON or not a NotificationMessage (handlers
    not called) · 500 when a handler raised (logged on ``mds.webhook``; its items are released,
    so the retried batch is handled again) · 503 with ``Retry-After`` when some items are held
    by another consumer right now (after the others were handled: the service retries, and
    they come back finished or free).

    The store calls of a checkpoint run in a worker thread (``asyncio.to_thread``), never on
    the loop. ``close()`` closes a store opened from a path or URL.
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
        retry_after: int = 5,
    ) -> None:
        headers = dict(expected_headers or {})
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, str) or not name:
                raise TypeError("expected_headers must map header names to string values")
        if type(retry_after) is not int or retry_after < 0:
            raise ApiValueError(f"retry_after must be a non-negative int, not {retry_after!r}")
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike,
                                                                  CheckpointStore)):
            raise ApiTypeError("checkpoint must be a file path, a redis:// URL or a "
                               f"CheckpointStore, not {type(checkpoint).__name__}")
        self._expected = {name.lower(): value for name, value in headers.items()}
        self.on_event = on_event
        self.on_message = on_message
        self.max_body = int(max_body)
        self.async_responses = async_responses
        self.retry_after = retry_after
        self._gate = Gate(checkpoint, window=dedupe_window)
        # A store does I/O: its calls go to a thread. The window alone is a dict: on the loop.
        self._blocking = self._gate.checkpoint is not None

    def __repr__(self) -> str:
        return f"<mds.aio.WebhookReceiver expecting headers {sorted(self._expected)}>"

    @property
    def duplicates_dropped(self) -> int:
        """Items not handed to the handlers because they were repeats."""
        return self._gate.duplicates_dropped

    @property
    def busy(self) -> int:
        """Items answered 503 because another consumer held them."""
        return self._gate.busy

    def close(self) -> None:
        """Close the checkpoint store if the receiver opened it (from a path or URL)."""
        self._gate.close()

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            raise ValueError(f"WebhookReceiver serves HTTP, not {kind!r}")
        status, text, headers = await self._serve(scope, receive)
        await _answer(send, status, text, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: Scope,
                     receive: Receive) -> tuple[int, str, list[tuple[str, str]]]:
        if str(scope.get("method", "")).upper() != "PUT":
            return 405, "only PUT is accepted", [("Allow", "PUT")]
        received = {name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in scope.get("headers", ())}
        if self._expected and not _headers_match(self._expected, received):
            logger.warning("webhook request refused: missing or wrong %s header(s)",
                           ", ".join(sorted(self._expected)))
            return 401, "missing or wrong webhook header", []
        length_text = received.get("content-length", "").strip()
        if not length_text:
            return 411, "Content-Length required", []
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            return 400, "invalid Content-Length", []
        if length > self.max_body:
            logger.warning("webhook request refused: body of %d bytes is over %d", length,
                           self.max_body)
            return 413, f"the body is over {self.max_body} bytes", []
        body = await _read(receive, length)
        if body is None:
            return 400, "the body is shorter than its Content-Length", []
        try:
            data = _parse(body)
        except BadRequestException as exc:
            logger.warning("webhook request refused: %s", exc.reason)
            return exc.status, exc.reason or "", []
        if not has_items(data):
            return 204, "", []  # the validation request, or an empty batch
        return await self._deliver(data)

    async def _deliver(self, data: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]]]:
        """Admit the items of one delivery (its wire dict), hand the new ones to the handlers,
        record the outcome; the answer."""
        places, uids = item_uids(data)
        claims: list[Claim] = []
        admitted: Batch | None = data
        if uids:
            claims = await self._call(self._gate.admit, uids)
            admitted = admitted_part(data, places, claims)
        taken = [uid for uid, claim in zip(uids, claims, strict=True) if claim is Claim.NEW]
        if admitted is not None:
            try:
                await self._handle(admitted, None)
            except Exception:  # any handler failure must answer 500, not crash
                logger.exception("webhook handler failed; answering 500 so that the service "
                                 "retries")
                await self._call(self._gate.release, taken)
                return 500, "the handler failed", []
            if taken:
                await self._call(self._gate.finish, taken)
        if Claim.BUSY in claims:
            return (503, "some items are being handled by another consumer",
                    [("Retry-After", str(self.retry_after))])
        return 204, "", []

    async def handle(self, message: NotificationMessage) -> None:
        """Pass one batch to the registry and the handlers (what a valid delivery does, without
        the dedupe); coroutine handlers are awaited."""
        await self._handle(message, message)

    async def _handle(self, batch: Batch, message: NotificationMessage | None) -> None:
        """*batch* (a wire dict or a model) to the handlers; *message* is its model when one
        exists already."""
        async_responses = self.async_responses
        answers = async_responses is not None and bool(message_dict(batch).get("async-responses"))
        events = event_list(batch) if self.on_event is not None or answers else []
        if answers:
            async_responses.feed(events)
        if self.on_message is not None:
            if message is None:
                message = batch if isinstance(batch, NotificationMessage) else \
                    NotificationMessage.from_wire(batch)
            await _maybe_await(self.on_message(message))
        on_event = self.on_event
        if on_event is not None:
            for event in events:
                await _maybe_await(on_event(event))

    async def _call(self, fn: Callable[[list[str]], Any], uids: list[str]) -> Any:
        if self._blocking:
            return await asyncio.to_thread(fn, uids)
        return fn(uids)


def _parse(body: bytes) -> dict[str, Any]:
    """The wire dict of a delivery body, checked as `mds.webhook_receiver.parse_webhook` checks
    it (BadRequestException, 400): a NotificationMessage whose items are JSON objects (device
    ids, for de-registrations and expired registrations). The wire dict, not the model: the
    uids and the events are read from it (a model's ``to_dict()`` would cost more than all
    the rest); the model is made only for an ``on_message`` handler."""
    try:
        data = parse_message(body)
    except ModelError as exc:
        raise BadRequestException(400, f"the body is not a NotificationMessage: {exc}") from None
    for key in _OBJECT_KINDS:
        items = data.get(key)
        if items and any(type(item) is not dict for item in items):
            raise BadRequestException(400, f"{key!r} is not a list of objects")
    for key in _ID_KINDS:
        items = data.get(key)
        if items and any(type(item) not in (str, dict) for item in items):
            raise BadRequestException(400, f"{key!r} is not a list of device ids")
    return data


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


async def _read(receive: Receive, length: int) -> bytes | None:
    """The body, up to *length* bytes; None when the client sent less (or disconnected)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
        if size >= length or not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body[:length] if len(body) >= length else None


async def _answer(send: Send, status: int, text: str, headers: list[tuple[str, str]]) -> None:
    body = b"" if status == 204 else (text + "\n").encode("utf-8")
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if status != 204:
        raw += [(b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
