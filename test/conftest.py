"""Shared fixtures: a scripted HTTP server on 127.0.0.1 and an SDK client pointed at it.

The emulator fixtures (``mds_emulator``, ``mds_client``) come from the package's own pytest
plugin (``mds.emulator.pytest_plugin``, registered through the ``pytest11`` entry point).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import trustme
import urllib3

import mds
from servers import ScriptedServer

API_KEY = "ak_1MDE1testkey0000000000000000000000000000000000000000"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[mds.ApiClient]:
    cfg = mds.Configuration(host=server.url)
    cfg.api_key["Authorization"] = API_KEY
    with mds.ApiClient(cfg) as api_client:
        yield api_client


@pytest.fixture
def api(client: mds.ApiClient) -> mds.NotificationsApi:
    return mds.NotificationsApi(client)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throw-away certificate authority for TLS tests (never turn verification off)."""
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The path of a PEM file holding `ca`'s certificate, for ``ssl_ca_cert``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    """A plain urllib3 client with no retries: the emulator tests' independent client."""
    pool = urllib3.PoolManager(retries=False, timeout=10.0)
    yield pool
    pool.clear()


@pytest.fixture(autouse=True)
def _no_thread_leak() -> Iterator[None]:
    """Every test must leave no non-daemon thread of ours running."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon and t.name.startswith("mds")
    ]
    for t in leaked:
        t.join(2)
    assert not [t for t in leaked if t.is_alive()], f"threads left running: {leaked}"
