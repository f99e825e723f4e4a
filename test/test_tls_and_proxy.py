"""TLS with a throw-away CA (trustme, the ``ca`` and ``ca_bundle`` fixtures), and HTTP proxies,
for REST calls."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import urllib3

import mds
from conftest import API_KEY
from servers import ProxyServer, ScriptedServer


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ScriptedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with ScriptedServer(tls=context) as srv:
        yield srv


def test_accepted_with_the_right_ca(tls_server: ScriptedServer, ca_bundle: str) -> None:
    tls_server.reply("GET", "/v2/notification/callback", 200, {"url": "https://x"})
    cfg = mds.Configuration(host=tls_server.url, api_key=API_KEY, ssl_ca_cert=ca_bundle)
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


def test_hostname_is_checked(ca: trustme.CA, ca_bundle: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("device.example").configure_cert(context)
    with ScriptedServer(tls=context) as srv:
        srv.reply("GET", "/v2/notification/callback", 200, {"url": "https://x"})
        cfg = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=ca_bundle)
        with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiTLSError):
            mds.NotificationsApi(client).get_webhook()
        cfg = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=ca_bundle,
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


def test_client_certificate_for_servers_that_ask_for_one(ca: trustme.CA, ca_bundle: str,
                                                         tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    client_cert = ca.issue_cert("sdk-client@example.com")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    client_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    client_cert.private_key_pem.write_to_path(str(key_file))
    with ScriptedServer(tls=context) as srv:
        srv.reply("GET", "/v2/notification/callback", 200, {"url": "https://mtls"})
        cfg = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=ca_bundle,
                                cert_file=str(cert_file), key_file=str(key_file))
        with mds.ApiClient(cfg) as client:
            assert mds.NotificationsApi(client).get_webhook().url == "https://mtls"
        without = mds.Configuration(host=srv.url, api_key=API_KEY, ssl_ca_cert=ca_bundle,
                                    retries=False)
        with mds.ApiClient(without) as client, pytest.raises(mds.ApiConnectionError):
            mds.NotificationsApi(client).get_webhook()


def test_verification_can_be_switched_off_and_urllib3_says_so(tls_server: ScriptedServer) -> None:
    tls_server.reply("GET", "/v2/notification/callback", 200, {"url": "https://unverified"})
    cfg = mds.Configuration(host=tls_server.url, api_key=API_KEY, verify_ssl=False)
    with mds.ApiClient(cfg) as client, pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert mds.NotificationsApi(client).get_webhook().url == "https://unverified"


def test_a_proxy_that_cannot_reach_the_host_is_a_connection_error(ca_bundle: str) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the proxy answers CONNECT with 502
    with ProxyServer() as proxy:
        cfg = mds.Configuration(host=f"https://127.0.0.1:{port}", api_key=API_KEY,
                                proxy=proxy.url, ssl_ca_cert=ca_bundle, retries=False)
        with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiConnectionError) as info:
            mds.NotificationsApi(client).get_webhook()
    assert "502" in str(info.value)
    assert proxy.seen == [f"CONNECT 127.0.0.1:{port}"]


def test_a_proxy_header_http_cannot_carry_is_refused_without_repeating_it(
    server: ScriptedServer,
) -> None:
    secret = "Basic c2VjcmV0\r\nX-Injected: 1"
    with ProxyServer() as proxy:
        cfg = mds.Configuration(host=server.url, api_key=API_KEY, proxy=proxy.url,
                                proxy_headers={"Proxy-Authorization": secret})
        with mds.ApiClient(cfg) as client, pytest.raises(mds.ApiValueError) as info:
            mds.NotificationsApi(client).get_webhook()
    assert "c2VjcmV0" not in str(info.value)
    assert proxy.seen == []
