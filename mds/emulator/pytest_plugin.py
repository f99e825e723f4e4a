"""pytest fixtures for testing against the emulator (registered as the ``mds`` pytest plugin).

* ``mds_emulator``: a started :class:`~mds.emulator.Emulator` with short timings, one per test.
* ``mds_client``: an ``mds.ApiClient`` configured for that emulator, closed after the test.

This plugin is not part of the emulated service: it joins the emulator to the SDK for the
users' tests. It is the one module under ``mds/emulator/`` that uses the SDK client, and it
imports ``mds`` only inside the ``mds_client`` fixture, so that loading the plugin (and the
emulator itself) never depends on the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mds.emulator import Emulator

__all__ = ["TEST_TIMINGS", "mds_client", "mds_emulator"]

#: Timings of the ``mds_emulator`` fixture: short enough for tests, long enough to be stable.
TEST_TIMINGS: dict[str, Any] = {
    "long_poll_hold": 1.0,
    "webhook_backoff_base": 0.01,
    "webhook_backoff_cap": 0.1,
    "webhook_give_up": 2.0,
    "webhook_timeout": 2.0,
    "pull_expiry": 30.0,
    "websocket_expiry": 30.0,
    "purge_window": 0.5,
}


@pytest.fixture
def mds_emulator() -> Iterator[Emulator]:
    """A running emulator on 127.0.0.1 (free port) with :data:`TEST_TIMINGS`."""
    with Emulator(host="127.0.0.1", port=0, **TEST_TIMINGS) as emulator:
        yield emulator


@pytest.fixture
def mds_client(mds_emulator: Emulator) -> Iterator[Any]:
    """An ``mds.ApiClient`` pointed at ``mds_emulator`` with its API key; closed afterwards."""
    import mds  # imported here: the plugin must load even where the SDK core is not importable

    configuration = mds.Configuration(host=mds_emulator.url)
    configuration.api_key["Authorization"] = mds_emulator.api_key
    client = mds.ApiClient(configuration)
    try:
        yield client
    finally:
        client.close()
