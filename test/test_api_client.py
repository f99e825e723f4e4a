"""ApiClient behaviour over real sockets: timeouts, retries, lifecycle, logging, bad input."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import threading
import time

import pytest
import urllib3

import mds
from conftest import API_KEY
from servers import ScriptedServer

PULL = "/v2/notification/pull"
CALLBACK = "/v2/notification/callback"


def make_client(server: ScriptedServer, **kwargs: object) -> mds.ApiClient:
    return mds.ApiClient(mds.Configuration(host=server.url, api_key=API_KEY, **kwargs))  # type: ignore[arg-type]


# -- timeouts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [0.3, (2.0, 0.3)])
def test_server_that_never_answers_fails_within_the_timeout_once(
    server: ScriptedServer, timeout: object
) -> None:
    server.reply("GET", CALLBACK, action="hang")
    with make_client(server) as client:
        started = time.monotonic()
        with pytest.raises(mds.ApiTimeoutError) as info:
            mds.NotificationsApi(client).get_webhook(_request_timeout=timeout)
        elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2.0
    assert info.value.status == 0
    assert len(server.requests) == 1, "a read timeout is never retried"


def test_long_poll_default_read_timeout_outlasts_the_hold(server: ScriptedServer) -> None:
    # The configured read timeout for long polls applies, not the general one.
    server.reply("GET", PULL, 204, delay=0.6)
    with make_client(server, timeout=(5.0, 0.2), long_poll_timeout=3.0) as client:
        assert not mds.NotificationsApi(client).long_poll_notifications()
        server.reply("GET", CALLBACK, 200, {"url": "http://x"}, delay=0.6)
        with pytest.raises(mds.ApiTimeoutError):
            mds.NotificationsApi(client).get_webhook()
    assert client.configuration.long_poll_timeout == 3.0
    assert mds.Configuration().long_poll_timeout == 90.0


def test_long_poll_read_timeout_is_not_retried(server: ScriptedServer) -> None:
    server.reply("GET", PULL, action="hang")
    with make_client(server, long_poll_timeout=0.3) as client:
        with pytest.raises(mds.ApiTimeoutError):
            mds.NotificationsApi(client).long_poll_notifications()
    assert len(server.requests) == 1


def test_explicit_none_means_no_timeout(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://x"}, delay=0.4)
    with make_client(server, timeout=0.1) as client:
        webhook = mds.NotificationsApi(client).get_webhook(_request_timeout=None)
    assert webhook.url == "http://x"


@pytest.mark.parametrize("timeout", ["soon", True, (1.0, 2.0, 3.0)])
def test_bad_timeout_type(server: ScriptedServer, timeout: object) -> None:
    with make_client(server) as client, pytest.raises(mds.ApiTypeError):
        mds.NotificationsApi(client).get_webhook(_request_timeout=timeout)
    assert server.requests == []


def test_urllib3_timeout_is_taken_as_it_is(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, action="hang")
    with make_client(server) as client, pytest.raises(mds.ApiTimeoutError):
        mds.NotificationsApi(client).get_webhook(
            _request_timeout=urllib3.Timeout(connect=2.0, read=0.2))


# -- retries ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retries_transient_statuses_honouring_retry_after(server: ScriptedServer,
                                                          status: int) -> None:
    server.reply("GET", CALLBACK, status, b"", {"Retry-After": "0.3"})
    server.reply("GET", CALLBACK, 200, {"url": "http://ok"})
    with make_client(server) as client:
        started = time.monotonic()
        assert mds.NotificationsApi(client).get_webhook().url == "http://ok"
        elapsed = time.monotonic() - started
    assert len(server.requests) == 2
    if status in (429, 503):  # urllib3 honours Retry-After on these
        assert elapsed >= 0.28


def test_retry_after_http_date(server: ScriptedServer) -> None:
    from email.utils import formatdate

    # HTTP dates have whole seconds: 2 s ahead is at least 1 s of waiting.
    server.reply("GET", CALLBACK, 503, b"", {"Retry-After": formatdate(time.time() + 2, usegmt=True)})
    server.reply("GET", CALLBACK, 200, {"url": "http://ok"})
    with make_client(server) as client:
        started = time.monotonic()
        mds.NotificationsApi(client).get_webhook()
    assert time.monotonic() - started >= 0.9
    assert len(server.requests) == 2


def test_retries_are_bounded_then_raise(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 503, b"", {"Retry-After": "0"}, times=10)
    with make_client(server, retries=2) as client:
        with pytest.raises(mds.ServiceException) as info:
            mds.NotificationsApi(client).get_webhook()
    assert info.value.status == 503
    assert len(server.requests) == 3


def test_long_retry_after_is_raised_not_slept(server: ScriptedServer) -> None:
    server.reply("GET", PULL, 429, {"code": 429, "message": "slow down"}, {"Retry-After": "3600"})
    with make_client(server) as client:
        started = time.monotonic()
        with pytest.raises(mds.TooManyRequestsException) as info:
            mds.NotificationsApi(client).long_poll_notifications()
    assert time.monotonic() - started < 2
    assert info.value.retry_after == 3600
    assert len(server.requests) == 1


def test_a_urllib3_retry_is_used_as_given(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 500, b"")
    server.reply("GET", CALLBACK, 200, {"url": "http://ok"})
    retry = urllib3.Retry(total=1, status_forcelist=[500], backoff_factor=0, raise_on_status=False)
    with make_client(server, retries=retry) as client:
        assert mds.NotificationsApi(client).get_webhook().url == "http://ok"
    assert len(server.requests) == 2, "500 is not retried by default, but this Retry says so"


def test_retries_off(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 503, b"", {"Retry-After": "0"})
    with make_client(server, retries=False) as client:
        with pytest.raises(mds.ServiceException):
            mds.NotificationsApi(client).get_webhook()
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_typed() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    cfg = mds.Configuration(host=f"http://127.0.0.1:{port}", api_key=API_KEY)
    with mds.ApiClient(cfg) as client:
        with pytest.raises(mds.ApiConnectionError) as info:
            mds.NotificationsApi(client).get_webhook()
    assert info.value.status == 0
    assert isinstance(info.value.__cause__, Exception)
    assert "urllib3" not in type(info.value).__module__


def test_dropped_connection_is_connection_error(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, action="drop")
    with make_client(server, retries=False) as client:
        with pytest.raises(mds.ApiConnectionError):
            mds.NotificationsApi(client).get_webhook()


# -- auth and headers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "prefix", "sent"),
    [
        ("ak_1", None, "Bearer ak_1"),
        ("Bearer ak_2", None, "Bearer ak_2"),
        ("ak_3", "Bearer", "Bearer ak_3"),
        ("tok", "Token", "Token tok"),
    ],
)
def test_authorization_header(server: ScriptedServer, key: str, prefix: str | None,
                              sent: str) -> None:
    cfg = mds.Configuration(host=server.url)
    cfg.api_key["Authorization"] = key
    if prefix:
        cfg.api_key_prefix["Authorization"] = prefix
    server.reply("DELETE", CALLBACK, 204)
    with mds.ApiClient(cfg) as client:
        mds.NotificationsApi(client).deregister_webhook()
    assert server.requests[0].header("Authorization") == sent


def test_no_key_sends_no_authorization(server: ScriptedServer) -> None:
    server.reply("DELETE", CALLBACK, 401, {"code": 401, "message": "no key"})
    with mds.ApiClient(mds.Configuration(host=server.url)) as client:
        with pytest.raises(mds.UnauthorizedException):
            mds.NotificationsApi(client).deregister_webhook()
    assert server.requests[0].header("Authorization") is None


@pytest.mark.parametrize("bad", ["ak_x\r\nX-Injected: 1", "ak_\n", "ak_\u2603"])
def test_invalid_key_value_is_rejected_before_sending(server: ScriptedServer, bad: str) -> None:
    with mds.ApiClient(mds.Configuration(host=server.url, api_key=bad)) as client:
        with pytest.raises(mds.ApiValueError) as info:
            mds.NotificationsApi(client).get_webhook()
    assert bad not in str(info.value)
    assert server.requests == []


def test_default_headers_and_cookie(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://x"})
    cfg = mds.Configuration(host=server.url, api_key=API_KEY)
    with mds.ApiClient(cfg, header_name="X-Tenant", header_value="t1", cookie="c=1") as client:
        client.user_agent = "my-app/2"
        mds.NotificationsApi(client).get_webhook()
        with pytest.raises(mds.ApiValueError):
            client.set_default_header("X-Bad", "a\nb")
    req = server.requests[0]
    assert req.header("X-Tenant") == "t1"
    assert req.header("Cookie") == "c=1"
    assert req.header("User-Agent") == "my-app/2"


def test_call_api_for_other_endpoints(server: ScriptedServer, client: mds.ApiClient) -> None:
    server.reply("GET", "/v2/notification/channel", 200, {"delivery_mechanism": "WEB_SOCKET"})
    data = client.call_api("/v2/notification/channel", "GET", response_type="object",
                           _return_http_data_only=True)
    assert data == {"delivery_mechanism": "WEB_SOCKET"}


def test_call_api_path_query_header_and_body(server: ScriptedServer,
                                             client: mds.ApiClient) -> None:
    server.reply("PUT", "/v2/things/a%20b", 201, {"url": "http://x"})
    hook, status, _ = client.call_api(
        "/v2/things/{id}", "put", path_params={"id": "a b"}, query_params={"q": "1&2"},
        header_params={"X-Trace": "t1", "Content-Type": "application/json"},
        body=mds.Webhook("http://x"), response_type="Webhook")
    assert (hook, status) == (mds.Webhook("http://x"), 201)
    sent = server.requests[0]
    assert sent.path == "/v2/things/a%20b?q=1%262"
    assert sent.header("X-Trace") == "t1"
    assert sent.body == b'{"url":"http://x"}'
    with pytest.raises(mds.ApiValueError):
        client.call_api("/v2/x", "POST", post_params=[("a", "b")])
    with pytest.raises(mds.ApiValueError):
        client.call_api("/v2/x", "GET", header_params={"X-Bad": "a\r\nb"})
    assert len(server.requests) == 1


def test_bodies_serialise_as_generated_clients_do(client: mds.ApiClient) -> None:
    import datetime

    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    assert client.sanitize_for_serialization(
        {"hook": mds.Webhook("u"), "items": (1, 2.5, True, None), "at": when, "raw": b"x"}
    ) == {"hook": {"url": "u"}, "items": [1, 2.5, True, None],
          "at": "2024-05-01T12:00:00+00:00", "raw": "x"}
    with pytest.raises(mds.ApiTypeError):
        client.sanitize_for_serialization(object())
    with pytest.raises(mds.ApiTypeError):
        client.set_default_header("X-Count", 5)  # type: ignore[arg-type]


# -- lifecycle --------------------------------------------------------------------------------
def test_closed_client_raises_clearly(server: ScriptedServer) -> None:
    client = make_client(server)
    assert not client.closed
    client.close()
    client.close()  # idempotent
    assert client.closed
    with pytest.raises(mds.ClientClosedError, match="closed"):
        mds.NotificationsApi(client).get_webhook()
    with pytest.raises(mds.ClientClosedError):
        mds.NotificationsApi(client).get_webhook(async_req=True)


def test_async_pool_created_on_first_use_and_shut_down(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://x"})
    before = {t.name for t in threading.enumerate()}
    client = make_client(server)
    assert {t.name for t in threading.enumerate()} == before, "no thread at construction"
    assert mds.NotificationsApi(client).get_webhook(async_req=True).get(5).url == "http://x"
    assert any(t.name.startswith("mds-async") for t in threading.enumerate())
    client.close()
    assert not any(t.name.startswith("mds-async") for t in threading.enumerate())


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_thousand_clients_leave_no_thread_or_socket(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://x"}, times=20)
    gc.collect()
    threads, fds = set(threading.enumerate()), _open_fds()
    for i in range(1000):
        with make_client(server) as client:
            if i % 50 == 0:  # some of them really connect
                mds.NotificationsApi(client).get_webhook()
    gc.collect()
    # Threads of earlier tests may still be winding down; none may have been added by these.
    started = [t for t in threading.enumerate()
               if t not in threads and "process_request_thread" not in t.name]
    assert started == [], "only the scripted server's own handler threads may be new"
    assert _open_fds() <= fds + 2  # the server's own accept backlog may hold one briefly


def test_import_starts_no_thread_and_configures_no_logging() -> None:
    code = (
        "import threading, logging, http.client\n"
        "import mds\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert logging.getLogger().handlers == []\n"
        "assert http.client.HTTPConnection.debuglevel == 0\n"
        "assert [type(h).__name__ for h in logging.getLogger('mds').handlers] == ['NullHandler']\n"
        "import sys; assert 'websockets' not in sys.modules, 'websocket stack loaded lazily'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_interrupt_aborts_a_held_poll(server: ScriptedServer) -> None:
    server.reply("GET", PULL, 204, delay=5)
    with make_client(server) as client:
        threading.Timer(0.2, client.interrupt).start()
        started = time.monotonic()
        with pytest.raises(mds.ApiConnectionError):
            mds.NotificationsApi(client).long_poll_notifications()
        assert time.monotonic() - started < 1.5
        server.reply("GET", PULL, 204)
        assert not mds.NotificationsApi(client).long_poll_notifications(), "usable afterwards"


# -- logging ----------------------------------------------------------------------------------
def test_debug_logging_never_shows_secrets(server: ScriptedServer,
                                           caplog: pytest.LogCaptureFixture) -> None:
    server.reply("PUT", CALLBACK, 204)
    server.reply("GET", CALLBACK, 401, {"code": 401, "message": "bad key"})
    caplog.set_level(logging.DEBUG)
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, debug=True)
    with mds.ApiClient(cfg) as client:
        api = mds.NotificationsApi(client)
        api.register_webhook(mds.Webhook("http://example.com/h", {"authorization": "hook-secret"}))
        with pytest.raises(mds.UnauthorizedException) as info:
            api.get_webhook()
        text = caplog.text + repr(cfg) + cfg.to_debug_report() + str(info.value) + repr(info.value)
        text += repr(mds.Webhook("http://x", {"authorization": "hook-secret"}))
    assert "PUT" in caplog.text, "request line logged"
    assert "-> 204" in caplog.text, "status logged"
    assert API_KEY not in text
    assert "hook-secret" not in text
    assert "[secure]" in caplog.text


def test_debug_touches_no_global_state(server: ScriptedServer, tmp_path: object) -> None:
    import http.client
    from pathlib import Path

    log_file = Path(str(tmp_path)) / "mds.log"
    urllib3_logger = logging.getLogger("urllib3")
    before = (logging.getLogger().handlers[:], urllib3_logger.handlers[:], urllib3_logger.level,
              logging.getLogger("mds").level, logging.getLogger("mds").handlers[:])
    server.reply("GET", CALLBACK, 200, {"url": "http://x"})
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, debug=True, logger_file=str(log_file))
    with mds.ApiClient(cfg) as client:
        mds.NotificationsApi(client).get_webhook()
        assert http.client.HTTPConnection.debuglevel == 0
    after = (logging.getLogger().handlers[:], urllib3_logger.handlers[:], urllib3_logger.level,
             logging.getLogger("mds").level, logging.getLogger("mds").handlers[:])
    assert before == after
    written = log_file.read_text()
    assert "GET" in written
    assert "200" in written
    assert API_KEY not in written


# -- async results ----------------------------------------------------------------------------
def test_async_wait_returns_when_the_time_runs_out_and_get_raises_an_mds_timeout(
    server: ScriptedServer, api: mds.NotificationsApi
) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://late"}, delay=0.8)
    result = api.get_webhook(async_req=True)
    started = time.monotonic()
    assert result.wait(0.1) is None  # returns, on every Python version
    with pytest.raises(mds.ApiTimeoutError) as info:
        result.get(timeout=0.1)
    assert time.monotonic() - started < 0.7, "neither waited for the call"
    assert isinstance(info.value, mds.MdsError)
    assert not result.ready()
    with pytest.raises(ValueError, match="not finished"):
        result.successful()
    assert result.get(timeout=5).url == "http://late", "the call went on"
    result.wait()
    assert result.ready()
    assert result.successful()


def test_closing_the_client_cancels_queued_calls(server: ScriptedServer) -> None:
    server.reply("GET", CALLBACK, 200, {"url": "http://first"}, delay=0.3)
    client = make_client(server, connection_pool_maxsize=1)  # one worker: the second call queues
    api = mds.NotificationsApi(client)
    first = api.get_webhook(async_req=True)
    second = api.get_webhook(async_req=True)
    client.close()
    assert first.get(timeout=5).url == "http://first", "a running call finishes"
    assert second.ready()
    assert not second.successful()
    with pytest.raises(mds.ClientClosedError):
        second.get(timeout=5)
    assert len(server.requests) == 1


def test_submit_runs_any_call_on_the_pool(client: mds.ApiClient) -> None:
    result = client.submit(lambda a, *, b: a + b, 1, b=2)
    assert result.get(timeout=5) == 3
    failing = client.submit(int, "not a number")
    with pytest.raises(ValueError, match="invalid literal"):
        failing.get(timeout=5)
    assert not failing.successful()


class _Closeable:
    close_code: int | None = None

    def close(self) -> None:
        self.close_code = 1000


def test_tracked_websockets_are_closed_with_the_client(server: ScriptedServer) -> None:
    client = make_client(server)
    connection = _Closeable()
    client.track_websocket(connection)
    client.close()
    assert connection.close_code == 1000
    late = _Closeable()
    with pytest.raises(mds.ClientClosedError):
        client.track_websocket(late)
    assert late.close_code == 1000, "one that comes after close() is closed at once"


# -- deserialisation --------------------------------------------------------------------------
class _Body:
    def __init__(self, data: bytes, status: int = 200) -> None:
        self.data = data
        self.status = status
        self.headers = {"Content-Type": "application/json"}


def test_deserialize_takes_a_model_class_or_its_name(client: mds.ApiClient) -> None:
    body = _Body(b'{"url": "http://x", "headers": {"a": "b"}}')
    by_name = client.deserialize(body, "Webhook")
    by_class = client.deserialize(body, mds.Webhook)
    assert type(by_name) is type(by_class) is mds.Webhook
    assert by_name == by_class == mds.Webhook("http://x", {"a": "b"})
    assert client.deserialize(_Body(b"[1, 2]"), "object") == [1, 2]
    assert client.deserialize(_Body(b"REMOVED"), "str") == "REMOVED"
    assert client.deserialize(body, None) is None
    assert client.deserialize(_Body(b"  "), "NotificationMessage") == mds.NotificationMessage()
    assert client.deserialize(_Body(b""), "object") is None


@pytest.mark.parametrize(("data", "response_type", "detail"), [
    (b"{", "Webhook", "not valid JSON"),
    (b"{", "object", "not valid JSON"),
    (b"[]", "Webhook", "expected a JSON object (a Webhook), got list"),
    (b'{"notifications": 1}', mds.NotificationMessage, "NotificationMessage.notifications"),
    (b"[" * 100_000, "object", "nested deeper than the parser goes"),  # found by fuzzing
])
def test_deserialize_turns_bad_bodies_into_response_errors(
    client: mds.ApiClient, data: bytes, response_type: object, detail: str
) -> None:
    with pytest.raises(mds.ApiResponseError, match="unexpected response body") as info:
        client.deserialize(_Body(data, 201), response_type)  # type: ignore[arg-type]
    assert detail in str(info.value)
    assert info.value.status == 201
    assert isinstance(info.value.__cause__, mds.ModelError)


def test_a_user_subclass_named_like_a_model_does_not_replace_it(
    server: ScriptedServer, api: mds.NotificationsApi
) -> None:
    class Webhook(mds.Webhook):  # the name alone used to replace the SDK's class everywhere
        pass

    server.reply("GET", CALLBACK, 200, {"url": "http://x"})
    assert type(api.get_webhook()) is mds.Webhook
    assert type(api.api_client.deserialize(_Body(b'{"url": "u"}'), "Webhook")) is mds.Webhook
    assert type(Webhook.from_dict({"url": "u"})) is Webhook


def test_unset_is_one_sentinel_that_reads_well() -> None:
    import pickle

    from mds._types import UNSET, Unset

    assert Unset() is UNSET
    assert repr(UNSET) == "UNSET"
    assert not UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
