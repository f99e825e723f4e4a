"""`mds.aio.WebhookReceiver`: the service's webhook deliveries, received by an ASGI application
(uvicorn, hypercorn; mountable in FastAPI and Starlette), on the core of the WSGI receiver."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeVar

from mds.checkpoint import DEFAULT_WINDOW, CheckpointStore
from mds.events import Event, events_from_message
from mds.models import NotificationMessage
from mds.webhook_receiver import (
    DEFAULT_MAX_BODY,
    ReceiverStats,
    WebhookAnswer,
)
from mds.webhook_receiver import WebhookReceiver as Core

__all__ = ["WebhookReceiver"]

logger = logging.getLogger("mds.webhook")

T = TypeVar("T")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SHORT = WebhookAnswer(400, (("Content-Type", "text/plain; charset=utf-8"),),
                       b"the body is shorter than its Content-Length\n")


class WebhookReceiver:
    """An ASGI application receiving the service's webhook deliveries: the checks, dedupe,
    checkpoint and answers of `mds.WebhookReceiver` (the WSGI one, whose core it uses), with
    handlers that may be coroutine functions.

    ::

        receiver = mds.aio.WebhookReceiver({"authorization": secret}, on_event=handle)
        app.mount("/notify", receiver)              # FastAPI / Starlette
        # or: uvicorn.run(receiver, port=8080)

    Args: as `mds.WebhookReceiver` (``expected_headers``, ``on_event``, ``on_message``,
    ``max_body``, ``async_responses``, ``checkpoint``, ``dedupe_window``). A handler that is a
    coroutine function is awaited; a plain function runs on the event loop (keep it short, or
    make it a coroutine function).

    Answers: 204 after the handlers returned (also for the ``{}`` validation request and a batch
    of repeats only) · 405 with ``Allow: PUT`` for other methods · 401 wrong or missing header ·
    411 no Content-Length · 413 too large · 400 not JSON or not a NotificationMessage (handlers
    not called) · 500 when a handler raised (logged on ``mds.webhook``; its items are released,
    so the retried batch is handled again) · 503 with ``Retry-After`` when some items are held
    by another consumer right now (after the others were handled; the service retries, and
    they come back finished or free), or the checkpoint store failed.

    With a checkpoint store, its calls (admitting, finishing, releasing) run in a worker thread
    (``asyncio.to_thread``), never on the loop. ``stats`` is a `mds.webhook_receiver
    .ReceiverStats`; ``close()`` (or the ASGI lifespan's shutdown, when the receiver is the
    application itself) closes a store opened from a path or URL.
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
        # The synchronous receiver checks, admits and answers; the handlers are called here.
        self._core = Core(expected_headers, max_body=max_body, checkpoint=checkpoint,
                          dedupe_window=dedupe_window)
        self.on_event = on_event
        self.on_message = on_message
        self.async_responses = async_responses
        # A store does I/O: its calls go to a thread. The window alone is a dict: on the loop.
        self._blocking = self._core.gate.checkpoint is not None

    def __repr__(self) -> str:
        return repr(self._core).replace("<WebhookReceiver", "<mds.aio.WebhookReceiver", 1)

    @property
    def max_body(self) -> int:
        return self._core.max_body

    @property
    def stats(self) -> ReceiverStats:
        """What the receiver did so far (a snapshot): batches, events, duplicates_dropped,
        busy, failures."""
        return self._core.stats

    def close(self) -> None:
        """Close the checkpoint store the receiver opened (from a path or URL); idempotent."""
        self._core.close()

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            raise ValueError(f"WebhookReceiver serves HTTP, not {kind!r}")
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope.get("headers", ())}
        answer = self._core.check_request(str(scope.get("method", "")), headers,
                                          headers.get("content-length"))
        if answer is None:
            # Checked: a number within max_body. Nothing of a refused body is read.
            length = int(headers["content-length"].strip())
            body = await _read(receive, length)
            answer = _SHORT if body is None else await self._deliver(body)
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(name.lower().encode("latin-1"), value.encode("latin-1"))
                                for name, value in answer.headers]})
        await send({"type": "http.response.body", "body": answer.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _deliver(self, body: bytes) -> WebhookAnswer:
        """Admit the items of one delivery, hand the new ones to the handlers, record the
        outcome; the answer."""
        delivery = await self._call(self._core.admit, body)
        if isinstance(delivery, WebhookAnswer):
            return delivery
        try:
            await self._handle(lambda: delivery.message, delivery.events)
        except Exception:  # any handler failure must answer 500, not crash
            logger.exception("webhook handler failed; answering 500 so that the service retries")
            return await self._call(delivery.failed)
        return await self._call(delivery.handled)

    async def handle(self, message: NotificationMessage) -> None:
        """Pass one batch to the registry and the handlers, as a valid delivery does after
        admission (this method itself drops no repeats and records nothing); coroutine
        handlers are awaited."""
        await self._handle(lambda: message, lambda: list(events_from_message(message)))

    async def _handle(self, message: Callable[[], NotificationMessage],
                      events: Callable[[], list[Event]]) -> None:
        """*message* and *events* make the batch's model and typed events, each only if
        needed (a receiver with only ``on_event`` never makes the model)."""
        registry = self.async_responses
        answers = registry is not None and bool(message().async_responses)
        batch = events() if self.on_event is not None or answers else []
        if answers:
            registry.feed(batch)
        if self.on_message is not None:
            await _maybe_await(self.on_message(message()))
        on_event = self.on_event
        if on_event is not None:
            if inspect.iscoroutinefunction(on_event):
                for event in batch:
                    await on_event(event)
            else:
                for event in batch:
                    result = on_event(event)
                    if result is not None and inspect.isawaitable(result):
                        await result

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._blocking:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


async def _read(receive: Receive, length: int) -> bytes | None:
    """The body, up to *length* bytes; None when the client sent less (or disconnected)."""
    chunks: list[bytes] = []
    size = 0
    while size < length:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    if size < length:
        return None
    return b"".join(chunks)[:length]
