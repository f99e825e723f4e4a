"""mds.aio.WebhookReceiver served by uvicorn (in-process, on a free port) and reached with a real
HTTP client (httpx), alone and mounted in FastAPI; with the emulator's webhook channel delivering
to it; dedupe, a shared checkpoint (503 while another consumer holds an item) and handler
failures retried."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import mds
import mds.aio
from mds.emulator import Emulator
from mds.events import Event
from mds.webhook_receiver import BUSY_RETRY_AFTER, register_webhook_with_secret
from servers import wait_until

SECRET = "s3cret-webhook-value"
HEADERS = {"authorization": SECRET}
PATH = "/3303/0/5700"


@contextmanager
def serve(app: Any, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """*app* under uvicorn in a thread of its own, on a free port; its base URL. Stopped (and
    the thread joined) on leaving."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test")
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive(), 10)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()


def batch(*numbers: int, uids: bool = True) -> bytes:
    return json.dumps({"notifications": [
        {"ep": "d", "path": PATH, "ct": "text/plain",
         "payload": base64.b64encode(str(n).encode()).decode(),
         **({"uid": f"u{n}"} if uids else {})} for n in numbers]}).encode()


class Recorder:
    """Handlers that record what they were given; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.messages: list[mds.NotificationMessage] = []
        self.fail = 0

    async def on_event(self, event: Event) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the application failed")
        self.events.append(event)

    def on_message(self, message: mds.NotificationMessage) -> None:
        self.messages.append(message)

    @property
    def values(self) -> list[Any]:
        return [event.value for event in self.events]  # type: ignore[attr-defined]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def receiver(recorder: Recorder) -> Iterator[mds.aio.WebhookReceiver]:
    receiver = mds.aio.WebhookReceiver(HEADERS, on_event=recorder.on_event,
                                       on_message=recorder.on_message, max_body=10_000)
    yield receiver
    receiver.close()


def test_the_answers_of_the_wsgi_receiver(receiver: mds.aio.WebhookReceiver,
                                          recorder: Recorder) -> None:
    with serve(receiver) as url, httpx.Client(base_url=url) as http:
        got = http.get("/")
        assert (got.status_code, got.headers["allow"]) == (405, "PUT")
        assert http.put("/", content=batch(1), headers={"authorization": "wrong"}).status_code == 401
        assert http.put("/", content=batch(1)).status_code == 401
        assert http.put("/", content=iter([batch(1)]), headers=HEADERS).status_code == 411
        assert http.put("/", content=b"x" * 10_001, headers=HEADERS).status_code == 413
        refused = http.put("/", content=b"not json", headers=HEADERS)
        assert refused.status_code == 400
        assert SECRET not in refused.text
        assert http.put("/", content=b'{"notifications": [1]}', headers=HEADERS).status_code == 400
        assert http.put("/", content=b"{}", headers=HEADERS).status_code == 204
        assert recorder.events == []
        assert http.put("/", content=batch(1, 2), headers=HEADERS).status_code == 204
    assert recorder.values == [1, 2]
    assert [len(m) for m in recorder.messages] == [2]
    assert SECRET not in repr(receiver)


def test_repeats_are_dropped_and_a_failed_batch_is_handled_when_retried(
        receiver: mds.aio.WebhookReceiver, recorder: Recorder) -> None:
    with serve(receiver) as url, httpx.Client(base_url=url) as http:
        assert http.put("/", content=batch(1, 2), headers=HEADERS).status_code == 204
        assert http.put("/", content=batch(1, 2, 3), headers=HEADERS).status_code == 204
        assert http.put("/", content=batch(1, 2), headers=HEADERS).status_code == 204
        recorder.fail = 1
        assert http.put("/", content=batch(4), headers=HEADERS).status_code == 500
        assert http.put("/", content=batch(4), headers=HEADERS).status_code == 204
    assert recorder.values == [1, 2, 3, 4]
    assert [len(m) for m in recorder.messages] == [2, 1, 1, 1]  # only the admitted items
    assert receiver.stats.duplicates_dropped == 4
    assert (receiver.stats.batches, receiver.stats.events, receiver.stats.failures) == (5, 4, 1)


def test_an_item_another_consumer_holds_answers_503_with_retry_after(tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite")
    entered, release = threading.Event(), threading.Event()
    handled: list[Any] = []

    async def slow(event: Event) -> None:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        handled.append(event.value)  # type: ignore[attr-defined]

    first = mds.aio.WebhookReceiver(on_event=slow, checkpoint=checkpoint)
    second = mds.aio.WebhookReceiver(on_event=lambda e: handled.append(e.value),  # type: ignore[attr-defined]
                                     checkpoint=checkpoint)
    try:
        with serve(first) as url1, serve(second) as url2, httpx.Client() as http:
            held = threading.Thread(target=http.put, args=(url1,), kwargs={"content": batch(1)})
            held.start()
            assert wait_until(entered.is_set)  # the first one holds u1
            busy = http.put(url2, content=batch(1, 2))
            assert (busy.status_code, busy.headers["retry-after"]) == (503, str(BUSY_RETRY_AFTER))
            release.set()
            held.join(10)
            retried = http.put(url2, content=batch(1, 2))
            assert retried.status_code == 204
    finally:
        release.set()
        first.close()
        second.close()
    assert sorted(handled) == [1, 2]
    assert second.stats.busy == 1
    assert second.stats.duplicates_dropped == 2  # u1 finished by the first, u2 by itself


def test_mounted_in_fastapi_with_a_sync_handler(recorder: Recorder) -> None:
    got: list[Event] = []
    app = FastAPI()
    receiver = mds.aio.WebhookReceiver(HEADERS, on_event=got.append)
    app.mount("/notify", receiver)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    with serve(app, lifespan="on") as url, httpx.Client(base_url=url) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.put("/notify/", content=batch(5), headers=HEADERS).status_code == 204
        assert http.put("/notify/", content=batch(6)).status_code == 401
    assert [e.value for e in got] == [5]  # type: ignore[attr-defined]


def test_with_a_lifespan_of_its_own_and_a_checkpoint_that_outlives_it(tmp_path: Path,
                                                                      recorder: Recorder) -> None:
    checkpoint = str(tmp_path / "checkpoint.sqlite")
    for _ in range(2):  # the second receiver finds u1 finished
        receiver = mds.aio.WebhookReceiver(on_event=recorder.on_event, checkpoint=checkpoint)
        with serve(receiver, lifespan="on") as url, httpx.Client(base_url=url) as http:
            assert http.put("/", content=batch(1)).status_code == 204
    assert recorder.values == [1]
    assert receiver.stats.duplicates_dropped == 1


def test_the_emulator_delivers_to_it(mds_emulator: Emulator, recorder: Recorder) -> None:
    receiver = mds.aio.WebhookReceiver(HEADERS, on_event=recorder.on_event)
    with mds.ApiClient(mds.Configuration(host=mds_emulator.url,
                                         api_key=mds_emulator.api_key)) as client:
        with serve(receiver) as url:
            register_webhook_with_secret(mds.NotificationsApi(client), url + "/hook", SECRET)
            recorder.fail = 1  # the first delivery fails (500): the service retries it
            mds_emulator.notify("d", PATH, 1)
            mds_emulator.notify("d", PATH, 2)
            assert wait_until(lambda: len(recorder.events) >= 2, 10)
    assert recorder.values == [1, 2]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        mds.aio.WebhookReceiver({"authorization": 1})  # type: ignore[dict-item]
    with pytest.raises(mds.ApiTypeError):
        mds.aio.WebhookReceiver(checkpoint=3.5)  # type: ignore[arg-type]


def test_the_registry_is_fed_and_handle_takes_a_message() -> None:
    registry = mds.AsyncResponses()
    got: list[Event] = []
    receiver = mds.aio.WebhookReceiver(on_event=got.append, async_responses=registry)
    answer = {"async-responses": [{"id": "req-1", "status": 200, "ct": "text/plain",
                                   "payload": base64.b64encode(b"7").decode()}]}
    with serve(receiver) as url, httpx.Client(base_url=url) as http:
        assert http.put("/", content=json.dumps(answer)).status_code == 204
        assert http.put("/", content=b'{"de-registrations": [1]}').status_code == 400
    assert registry.wait("req-1", 1).value == 7
    asyncio.run(receiver.handle(mds.NotificationMessage.from_dict(json.loads(batch(3)))))
    assert [e.value for e in got] == [7, 3]  # type: ignore[attr-defined]


def test_a_coroutine_on_message_and_a_handler_returning_an_awaitable_are_awaited() -> None:
    got: list[Any] = []

    async def on_message(message: mds.NotificationMessage) -> None:
        got.append(len(message))

    class OnEvent:  # a callable object whose call is a coroutine: awaited as well
        async def __call__(self, event: Event) -> None:
            got.append(event.value)  # type: ignore[attr-defined]

    receiver = mds.aio.WebhookReceiver(on_event=OnEvent(), on_message=on_message)
    asyncio.run(receiver.handle(mds.NotificationMessage.from_dict(json.loads(batch(2, 3)))))
    assert got == [2, 2, 3]  # the message's length, then each event's value


def test_a_websocket_scope_is_refused() -> None:
    receiver = mds.aio.WebhookReceiver()

    async def never() -> dict[str, Any]:
        raise AssertionError("nothing is read")

    async def unsent(message: Any) -> None:
        raise AssertionError("nothing is sent")

    with pytest.raises(ValueError, match="HTTP"):
        asyncio.run(receiver({"type": "websocket"}, never, unsent))
