"""Fixtures shared by every test module; each lives here once.

* ``server``, ``client``, ``api``: a scripted HTTP server on 127.0.0.1 (`servers.ScriptedServer`)
  and an SDK client / API pointed at it, for byte-level tests.
* ``ca``, ``ca_bundle``: a throw-away certificate authority (trustme) for TLS tests.
* ``http``: a plain urllib3 client, the emulator tests' independent view of the wire.
* an autouse check that no test leaves a thread of the SDK or the emulator running.

The emulator fixtures (``mds_emulator``, ``mds_client``) come from the package's own pytest
plugin (``mds.emulator.pytest_plugin``, registered through the ``pytest11`` entry point), so
users get the same ones. Polling for a condition: `servers.wait_until`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import trustme
import urllib3

import mds
from servers import ScriptedServer

#: The API key ``client`` sends; tests look for it (and for its absence from logs) by this name.
API_KEY = "ak_1MDE1testkey0000000000000000000000000000000000000000"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A started `ScriptedServer` on a free port; it answers 404 until a test scripts a reply."""
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[mds.ApiClient]:
    """An ``mds.ApiClient`` for ``server`` with :data:`API_KEY`; closed after the test."""
    cfg = mds.Configuration(host=server.url)
    cfg.api_key["Authorization"] = API_KEY
    with mds.ApiClient(cfg) as api_client:
        yield api_client


@pytest.fixture
def api(client: mds.ApiClient) -> mds.NotificationsApi:
    """``mds.NotificationsApi`` on ``client``."""
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
    """Every test leaves no thread of the SDK or the emulator running (their names start with
    ``mds``), daemon or not: a daemon thread left behind still holds its sockets and keeps
    working. Each gets two seconds to finish before the test fails with their names. Threads
    of fixtures wider than a test (module, session) start before the snapshot and do not count.
    """
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and t.name.startswith("mds")
    ]
    for t in leaked:
        t.join(2)
    assert not [t for t in leaked if t.is_alive()], f"threads left running: {leaked}"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a real redis-server started for the session (`redis_server.RedisServer`);
    tests keep apart by key prefix."""
    from redis_server import RedisServer

    with RedisServer() as redis_server:
        yield redis_server.url
