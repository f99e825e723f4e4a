"""mds.async_responses: waiting for device answers across threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mds.async_responses import AsyncResponses
from mds.events import AsyncResponse, DeviceDeregistered, ResourceChanged
from mds.exceptions import AsyncResponseError
from mds.models import NotificationMessage
from servers import wait_until


class FakeClock:
    """A monotonic clock the test moves by hand (for ttl expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def run_in_thread() -> Iterator[Callable[..., threading.Thread]]:
    threads: list[threading.Thread] = []

    def start(target: Callable[..., Any], *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name="test-async-waiter")
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def test_wait_returns_an_answer_fed_from_another_thread(
    run_in_thread: Callable[..., threading.Thread],
) -> None:
    responses = AsyncResponses()
    results: list[AsyncResponse] = []
    run_in_thread(lambda: results.append(responses.wait("abc", timeout=5)))
    assert wait_until(lambda: responses.waiting() == 1)
    fed = responses.feed_message(
        {"async-responses": [{"id": "abc", "status": 200, "ct": "text/plain", "payload": "NTc="}]}
    )
    assert fed == 1
    assert wait_until(lambda: bool(results))
    assert results[0].value == 57
    assert results[0].ok
    assert responses.pending() == 0
    assert responses.waiting() == 0


def test_early_arrival_is_kept_until_claimed() -> None:
    responses = AsyncResponses()
    responses.feed(AsyncResponse("early", 200, payload=b"x", value=b"x"))
    assert responses.pending() == 1
    assert "early" in responses
    answer = responses.wait("early", timeout=0)
    assert answer.value == b"x"
    assert responses.pending() == 0
    assert "early" not in responses
    with pytest.raises(TimeoutError):
        responses.wait("early", timeout=0)  # each answer is delivered once


def test_non_2xx_status_raises_with_the_response() -> None:
    responses = AsyncResponses()
    responses.feed_message(
        NotificationMessage.from_dict(
            {"async-responses": [{"id": "t", "status": 504, "error": "TIMEOUT"}]}
        )
    )
    with pytest.raises(AsyncResponseError) as caught:
        responses.wait("t", timeout=1)
    assert caught.value.status == 504
    assert caught.value.error == "TIMEOUT"
    assert caught.value.response.id == "t"
    assert responses.pending() == 0


def test_timeout_raises_builtin_timeout_error_promptly() -> None:
    responses = AsyncResponses()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="never"):
        responses.wait("never", timeout=0.05)
    elapsed = time.monotonic() - started
    assert 0.04 <= elapsed < 2
    assert responses.waiting() == 0


def test_only_async_responses_are_taken() -> None:
    responses = AsyncResponses()
    taken = responses.feed(
        [
            ResourceChanged("dev", "/1", "text/plain", None, b"1", 1),
            DeviceDeregistered("dev"),
            AsyncResponse("a", 200),
            AsyncResponse("", 200),  # no id: nobody can claim it
        ]
    )
    assert taken == 1
    assert responses.pending() == 1


def test_unclaimed_answers_expire_after_ttl() -> None:
    clock = FakeClock()
    responses = AsyncResponses(ttl=10, clock=clock)
    responses.feed(AsyncResponse("old", 200))
    clock.now += 5
    responses.feed(AsyncResponse("new", 200))
    clock.now += 6  # "old" is 11 s old, "new" 6 s
    assert responses.pending() == 1
    assert "old" not in responses
    with pytest.raises(TimeoutError):
        responses.wait("old", timeout=0)
    assert responses.wait("new", timeout=0).id == "new"
    assert responses.dropped == 1


def test_max_pending_evicts_the_oldest_first() -> None:
    responses = AsyncResponses(max_pending=3)
    responses.feed([AsyncResponse(f"r{i}", 200) for i in range(5)])
    assert responses.pending() == 3
    assert responses.dropped == 2
    for gone in ("r0", "r1"):
        with pytest.raises(TimeoutError):
            responses.wait(gone, timeout=0)
    assert [responses.wait(f"r{i}", timeout=0).id for i in (2, 3, 4)] == ["r2", "r3", "r4"]


def test_answers_someone_waits_for_are_not_evicted(
    run_in_thread: Callable[..., threading.Thread],
) -> None:
    responses = AsyncResponses(max_pending=1)
    results: list[AsyncResponse] = []
    run_in_thread(lambda: results.append(responses.wait("wanted", timeout=5)))
    assert wait_until(lambda: responses.waiting() == 1)
    responses.feed([AsyncResponse("wanted", 200)] + [AsyncResponse(f"x{i}", 200) for i in range(5)])
    assert wait_until(lambda: bool(results))
    assert results[0].id == "wanted"


def test_a_repeated_answer_replaces_the_unclaimed_one() -> None:
    responses = AsyncResponses()
    responses.feed(AsyncResponse("a", 200, payload=b"1"))
    responses.feed(AsyncResponse("a", 200, payload=b"2"))
    assert responses.pending() == 1
    assert responses.wait("a", timeout=0).payload == b"2"


def test_discard() -> None:
    responses = AsyncResponses()
    responses.feed(AsyncResponse("a", 200))
    assert responses.discard("a") is True
    assert responses.discard("a") is False
    assert responses.pending() == 0


def test_many_threads_each_get_their_own_answer(
    run_in_thread: Callable[..., threading.Thread],
) -> None:
    responses = AsyncResponses()
    results: dict[str, int] = {}
    lock = threading.Lock()

    def waiter(async_id: str) -> None:
        answer = responses.wait(async_id, timeout=5)
        with lock:
            results[async_id] = answer.status

    ids = [f"id-{i}" for i in range(20)]
    for async_id in ids[:10]:  # half wait before the answers come, half after
        run_in_thread(waiter, async_id)
    assert wait_until(lambda: responses.waiting() == 10)
    responses.feed_message(
        {"async-responses": [{"id": a, "status": 200 + i} for i, a in enumerate(reversed(ids))]}
    )
    for async_id in ids[10:]:
        run_in_thread(waiter, async_id)
    assert wait_until(lambda: len(results) == 20)
    assert results == {a: 200 + 19 - i for i, a in enumerate(ids)}
    assert responses.pending() == 0
    assert responses.waiting() == 0


def test_two_waiters_for_one_id_share_one_answer(
    run_in_thread: Callable[..., threading.Thread],
) -> None:
    responses = AsyncResponses()
    outcomes: list[str] = []
    lock = threading.Lock()

    def waiter() -> None:
        try:
            responses.wait("same", timeout=0.3)
            outcome = "answer"
        except TimeoutError:
            outcome = "timeout"
        with lock:
            outcomes.append(outcome)

    run_in_thread(waiter)
    run_in_thread(waiter)
    assert wait_until(lambda: responses.waiting() == 2)
    responses.feed(AsyncResponse("same", 200))
    assert wait_until(lambda: len(outcomes) == 2)
    assert sorted(outcomes) == ["answer", "timeout"]
    assert responses.waiting() == 0
    assert responses.pending() == 0


def test_constructor_checks_and_repr() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        AsyncResponses(max_pending=-1)
    with pytest.raises(ValueError, match="ttl"):
        AsyncResponses(ttl=0)
    responses = AsyncResponses(max_pending=0, ttl=None)
    responses.feed(AsyncResponse("a", 200))
    assert responses.pending() == 0
    assert responses.dropped == 1
    assert repr(responses) == "AsyncResponses(pending=0, waiting=0, max_pending=0, ttl=None)"


def test_feed_message_takes_only_the_async_responses_of_a_mixed_batch() -> None:
    responses = AsyncResponses()
    message = {
        "notifications": [{"ep": "d", "path": "/1", "ct": "text/plain", "payload": "@@"}],
        "async-responses": [{"id": "a", "status": 200, "ct": "text/plain", "payload": "MQ=="}],
        "de-registrations": ["d"],
    }
    assert responses.feed_message(message) == 1
    assert responses.feed_message({"notifications": []}) == 0
    assert responses.wait("a", timeout=0).value == 1
    # a batch handed to feed() by mistake is read as a batch, not iterated as keys
    assert responses.feed(message) == 1
    assert responses.feed(NotificationMessage.from_dict(message)) == 1
    assert responses.pending() == 1


def test_a_wait_without_timeout_waits_as_long_as_it_takes(
    run_in_thread: Callable[..., threading.Thread],
) -> None:
    responses = AsyncResponses()
    results: list[AsyncResponse] = []
    run_in_thread(lambda: results.append(responses.wait("slow")))
    assert wait_until(lambda: responses.waiting() == 1)
    assert responses.feed([DeviceDeregistered("d")]) == 0  # no answer among them
    assert responses.feed(AsyncResponse("slow", 200)) == 1
    assert wait_until(lambda: bool(results))
    assert results[0].id == "slow"
