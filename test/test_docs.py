"""Every ```python block in README.md and docs/*.md runs, so the docs cannot rot.

Blocks written for the real service (they say ``mds.Configuration()`` and ``'YOUR_API_KEY'``, as
generated docs do) run against a fresh emulator: the harness points ``host`` at it, puts in its
key, points the example webhook URL at a local receiver, and prepares the channel the example
expects. Their ``except ApiException`` branch must not be taken. Other blocks run as they are.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

import mds
from mds.emulator import Emulator
from servers import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXAMPLE_WEBHOOK = "https://www.example.com/my-webhook"


def blocks() -> list[Any]:
    found = []
    for path in DOCS:
        for number, match in enumerate(BLOCK.finditer(path.read_text(encoding="utf-8")), 1):
            found.append(pytest.param(match.group(1), id=f"{path.name}-{number}"))
    return found


def test_docs_have_examples() -> None:
    names = {p.id.rsplit("-", 1)[0] for p in blocks()}
    assert {"README.md", "NotificationsApi.md", "Webhook.md", "Emulator.md"} <= names
    assert sum(1 for p in blocks() if p.id.startswith("NotificationsApi.md")) == 10


def _prepare(code: str, emu: Emulator, receiver: ScriptedServer) -> None:
    called = re.search(r"api_instance\.(\w+)\(", code)
    method = called.group(1) if called else ""
    cfg = mds.Configuration(host=emu.url, api_key=emu.api_key)
    with mds.ApiClient(cfg) as client:
        api = mds.NotificationsApi(client)
        if method in ("get_webhook", "deregister_webhook"):
            api.register_webhook(mds.Webhook(receiver.url + "/hook", {"authorization": "x"}))
        elif method in ("get_websocket", "delete_websocket", "connect_websocket",
                        "get_channel_metadata"):
            api.register_websocket()


def _close_clients(namespace: dict[str, Any]) -> None:
    for value in namespace.values():
        if isinstance(value, mds.NotificationsApi):
            value.api_client.close()
        elif isinstance(value, mds.ApiClient):
            value.close()


@pytest.mark.parametrize("code", blocks())
def test_doc_example_runs(code: str) -> None:
    out = io.StringIO()
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    if "YOUR_API_KEY" not in code:
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, "<doc example>", "exec"), namespace)
            finally:
                _close_clients(namespace)
        return
    with Emulator(port=0, long_poll_hold=0.3) as emu, ScriptedServer() as receiver:
        receiver.default = Reply(204)
        _prepare(code, emu, receiver)
        code = (
            code.replace("mds.Configuration()", f"mds.Configuration(host={emu.url!r})")
            .replace("'YOUR_API_KEY'", repr(emu.api_key))
            .replace(EXAMPLE_WEBHOOK, receiver.url + "/my-webhook")
        )
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, "<doc example>", "exec"), namespace)
            finally:
                _close_clients(namespace)
    assert "Exception when calling" not in out.getvalue(), out.getvalue()
