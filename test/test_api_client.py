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
        with pytest.raises(mds.ApiTimeoutError):
            server.reply("GET", CALLBACK, 200, {"url": "http://x"}, delay=0.6)
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


def test_bad_timeout_type(server: ScriptedServer) -> None:
    with make_client(server) as client, pytest.raises(mds.ApiTypeError):
        mds.NotificationsApi(client).get_webhook(_request_timeout="soon")


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


# -- lifecycle --------------------------------------------------------------------------------
def test_closed_client_raises_clearly(server: ScriptedServer) -> None:
    client = make_client(server)
    client.close()
    client.close()  # idempotent
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
    assert "PUT" in caplog.text and "-> 204" in caplog.text, "request line and status logged"
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
    assert "GET" in written and "200" in written
    assert API_KEY not in written
