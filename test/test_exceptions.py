"""The exception tree: one base, typed subclasses, parsed error bodies, pickling, no secrets."""

from __future__ import annotations

import pickle
from typing import ClassVar

import pytest

import mds
from mds import exceptions


def test_every_exception_derives_from_mds_error() -> None:
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        if isinstance(obj, type):
            assert issubclass(obj, mds.MdsError), name


def test_tree_shape() -> None:
    assert issubclass(mds.ChannelConflictError, mds.BadRequestException)
    assert issubclass(mds.ChannelConflictError, mds.ConflictException)
    assert issubclass(mds.ApiTLSError, mds.ApiConnectionError)
    assert issubclass(mds.WebsocketClosedError, mds.ApiTransportError)
    assert issubclass(mds.ApiValueError, ValueError)
    assert issubclass(mds.PayloadDecodeError, ValueError)
    assert issubclass(mds.ApiTypeError, TypeError)


@pytest.mark.parametrize(("status", "cls"), [
    (400, mds.BadRequestException), (401, mds.UnauthorizedException),
    (403, mds.ForbiddenException), (404, mds.NotFoundException), (409, mds.ConflictException),
    (410, mds.GoneException), (413, mds.PayloadTooLargeException),
    (415, mds.UnsupportedMediaTypeException), (426, mds.UpgradeRequiredException),
    (429, mds.TooManyRequestsException), (500, mds.ServiceException), (503, mds.ServiceException),
    (418, mds.ApiException),
])
def test_exception_for_status(status: int, cls: type) -> None:
    exc = exceptions.exception_for_status(status, "Reason", b'{"code": %d}' % status, {})
    assert type(exc) is cls
    assert exc.status == status
    assert exc.code == status


def test_pickles_with_all_fields() -> None:
    exc = exceptions.exception_for_status(
        429, "Too Many Requests",
        b'{"code":429,"type":"too_many","message":"slow","request_id":"r1","fields":[]}',
        {"Retry-After": "7", "Authorization": "Bearer ak_secret"})
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is mds.TooManyRequestsException
    assert (clone.status, clone.message, clone.request_id, clone.retry_after) == (
        429, "slow", "r1", 7.0)
    assert str(clone) == str(exc)
    conflict = mds.ChannelConflictError(400, "Bad Request", None, None, channel="webhook")
    assert pickle.loads(pickle.dumps(conflict)).channel == "webhook"
    for transport in (mds.ApiTimeoutError("read timed out"), mds.WebsocketClosedError(1011, "x")):
        again = pickle.loads(pickle.dumps(transport))
        assert str(again) == str(transport)
        assert again.status == 0
    assert pickle.loads(pickle.dumps(mds.WebsocketClosedError(1008, "policy"))).code == 1008


def test_headers_are_redacted() -> None:
    exc = mds.ApiException(401, "Unauthorized", "", {"Authorization": "Bearer ak_secret",
                                                     "Set-Cookie": "s=1", "X-Ok": "fine"})
    assert exc.headers == {"Authorization": "[secure]", "Set-Cookie": "[secure]", "X-Ok": "fine"}
    assert "ak_secret" not in str(exc) + repr(exc)


def test_generated_constructor_form() -> None:
    class Response:
        status = 404
        reason = "Not Found"
        data = b'{"message": "no channel"}'
        headers: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

    exc = mds.ApiException(http_resp=Response())
    assert (exc.status, exc.reason, exc.message) == (404, "Not Found", "no channel")


def test_retry_after_forms() -> None:
    import time
    from email.utils import formatdate

    assert exceptions.parse_retry_after("5") == 5.0
    assert exceptions.parse_retry_after("nonsense") is None
    assert 50 < exceptions.parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 61  # type: ignore[operator]
    assert exceptions.parse_retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0


@pytest.mark.parametrize(("body", "text"), [
    ("[1, 2]", "(502) Bad Gateway: [1, 2]"),
    ('{"message": 5', '(502) Bad Gateway: {"message": 5'),
    ("", "(502) Bad Gateway"),
])
def test_a_body_that_is_not_the_json_error_is_shown_as_sent(body: str, text: str) -> None:
    exc = exceptions.exception_for_status(502, "Bad Gateway", body, {})
    assert str(exc) == text
    assert exc.message is None
    assert exc.fields == []


def test_summary_without_a_reason_and_conflicts_without_a_channel() -> None:
    assert str(mds.ApiException(404, None, '{"message": "gone"}')) == "(404): gone"
    assert str(mds.ChannelConflictError(409, "Conflict", None)) == "(409) Conflict"


def test_an_async_response_error_pickles_with_its_event() -> None:
    from mds.events import AsyncResponse

    event = AsyncResponse("req-1", 504, "TIMEOUT")
    exc = mds.AsyncResponseError(event)
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.status, clone.error, clone.response) == (504, "TIMEOUT", event)
    assert (clone.reason, clone.reached_device, clone.retryable) == ("TIMEOUT", False, True)
    assert str(clone) == (
        "async response req-1 failed with status 504 (TIMEOUT): the device did not answer in time"
    )


# (status, error sent) -> (reason, reached_device, retryable): the AsyncIDResponse status table.
ASYNC_OUTCOMES = [
    (400, None, None, True, False),
    (404, None, None, True, False),
    (412, None, None, True, False),
    (413, None, None, False, False),
    (415, None, None, True, False),
    (429, "REQUEST_EXPIRED", "REQUEST_EXPIRED", False, True),
    (429, "DEVICE_REMOVED_REGISTRATION", "DEVICE_REMOVED_REGISTRATION", False, False),
    (429, "DEVICE_BLOCKED", "DEVICE_BLOCKED", False, False),
    (429, None, None, False, False),
    (502, None, None, False, True),
    (503, None, "NOT_CONNECTED", False, True),
    (503, "NOT_CONNECTED", "NOT_CONNECTED", False, True),
    (504, None, "TIMEOUT", False, True),
    (504, "TIMEOUT", "TIMEOUT", False, True),
    # Not in the table: a device's other 4xx reached it; a 5xx did not; anything else is unknown.
    (405, None, None, True, False),
    (500, "SERVER_ERROR", "SERVER_ERROR", False, True),
    (0, None, None, None, False),
    (302, "moved elsewhere", None, None, False),
]


@pytest.mark.parametrize(("status", "error", "reason", "reached", "retryable"), ASYNC_OUTCOMES)
def test_an_async_response_error_names_the_reason(status: int, error: str | None,
                                                  reason: str | None, reached: bool | None,
                                                  retryable: bool) -> None:
    from mds.events import AsyncResponse

    exc = mds.AsyncResponseError(AsyncResponse("req-1", status, error))
    assert (exc.reason, exc.reached_device, exc.retryable) == (reason, reached, retryable)
    assert str(exc).startswith(f"async response req-1 failed with status {status}")
    if reason is not None:
        assert reason in str(exc)
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.reason, clone.reached_device, clone.retryable) == (reason, reached, retryable)


def test_the_reason_is_the_name_leading_the_error_text() -> None:
    from mds.events import AsyncResponse

    noted = AsyncResponse("a", 429, "REQUEST_EXPIRED; async-responses[0]: payload is not valid base64")
    exc = mds.AsyncResponseError(noted)
    assert (exc.reason, exc.retryable) == ("REQUEST_EXPIRED", True)
    assert "send it again" in (exc.description or "")
    assert mds.AsyncResponseError(AsyncResponse("a", 504, "")).reason == "TIMEOUT"


def test_retry_after_edge_forms() -> None:
    assert exceptions.parse_retry_after(None) is None
    assert exceptions.parse_retry_after("   ") is None
    assert exceptions.parse_retry_after("-3") == 0.0
    # An HTTP date without a zone is read as UTC, as RFC 9110 says dates are.
    assert exceptions.parse_retry_after("Sun, 06 Nov 1994 08:49:37") == 0.0


def test_an_error_body_nested_too_deeply_keeps_the_status_and_reason() -> None:
    # found by fuzzing: building the exception raised RecursionError from json.loads
    exc = mds.ApiException(502, "Bad Gateway", '{"a":' * 100_000)
    assert exc.status == 502
    assert "Bad Gateway" in str(exc)
