"""TLS with a throw-away CA (trustme), and HTTP proxies, for REST calls."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import mds
from conftest import API_KEY
from servers import ProxyServer, ScriptedServer


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ScriptedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with ScriptedServer(tls=context) as srv:
        yield srv


def test_accepted_with_the_right_ca(tls_server: ScriptedServer, ca: trustme.CA,
                                    tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    tls_server.reply("GET", "/v2/notification/callback", 200, {"url": "https://x"})
    cfg = mds.Configuration(host=tls_server.url, api_key=API_KEY, ssl_ca_cert=str(bundle))
    with mds.ApiClient(cfg) as client:
        assert mds.NotificationsApi(client).get_webhook().url == "https://x"
    assert tls_server.requests[0].header("Authorization") == f"Bearer {API_KEY}"


def test_refused_with_the_default_bundle(tls_server: ScriptedServer) -> None:
    cfg = mds.Configuration(host=tls_server.url, api_key=API_KEY)  # certifi: does not know our CA
    with mds.ApiClient(cfg) as client:
        with pytest.raises(mds.ApiTLSError) as info:
            mds.NotificationsApi(client).get_webhook()
    assert info.value.status == 0
    assert isinstance(info.value, mds.ApiConnectionError)
    assert tls_server.requests == [], "nothing was sent over an unverified connection"


def test_refused_with_another_ca(tls_server: ScriptedServer, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    cfg = mds.Configuration(host=tls_server.url, api_key=API_KEY, ssl_ca_cert=str(other))
    with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiTLSError):
        mds.NotificationsApi(client).get_webhook()


def test_hostname_is_checked(ca: trustme.CA, tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("device.example").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with ScriptedServer(tls=context) as srv:
        srv.reply("GET", "/v2/notification/callback", 200, {"url": "https://x"})
        cfg = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=str(bundle))
        with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiTLSError):
            mds.NotificationsApi(client).get_webhook()
        cfg = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=str(bundle),
                                assert_hostname="device.example")
        with mds.ApiClient(cfg) as client:
            assert mds.NotificationsApi(client).get_webhook().url == "https://x"


def test_rest_through_a_proxy(server: ScriptedServer) -> None:
    server.reply("GET", "/v2/notification/callback", 200, {"url": "http://via-proxy"})
    with ProxyServer() as proxy:
        cfg = mds.Configuration(host=server.url, api_key=API_KEY, proxy=proxy.url,
                                proxy_headers={"Proxy-Authorization": "Basic dTpw"})
        with mds.ApiClient(cfg) as client:
            assert mds.NotificationsApi(client).get_webhook().url == "http://via-proxy"
    assert proxy.seen == [f"GET {server.url}/v2/notification/callback"]
    assert proxy.seen_headers[0]["Proxy-Authorization"] == "Basic dTpw"
    assert server.requests[0].header("Authorization") == f"Bearer {API_KEY}"


def test_unreachable_proxy_is_a_connection_error(server: ScriptedServer) -> None:
    cfg = mds.Configuration(host=server.url, api_key=API_KEY, proxy="http://127.0.0.1:9",
                            retries=False)
    with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiConnectionError):
        mds.NotificationsApi(client).get_webhook()
