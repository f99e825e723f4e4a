"""mds.checkpoint: the Claim semantics of both stores (a real sqlite file, a real redis-server),
shared by threads, by processes and across a crash; the Gate's window; typed errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import mds
from mds.checkpoint import (
    CheckpointStore,
    Claim,
    Gate,
    RedisCheckpoint,
    SqliteCheckpoint,
    open_checkpoint,
)
from mds.exceptions import CheckpointError
from redis_server import RedisServer
from servers import wait_until

NEW, DONE, BUSY = Claim.NEW, Claim.DONE, Claim.BUSY
Opener = Callable[..., Any]


class Backend:
    """One shared place (a sqlite file, or a key prefix on the session's Redis) and a way to
    open another store on it: each store stands for one consumer."""

    def __init__(self, kind: str, tmp_path: Path, redis_url: str) -> None:
        self.kind = kind
        self.path = tmp_path / "checkpoint.sqlite"
        self.redis_url = redis_url
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self.stores: list[Any] = []

    def open(self, **options: Any) -> Any:
        store: Any
        if self.kind == "sqlite":
            store = SqliteCheckpoint(self.path, **options)
        else:
            store = RedisCheckpoint(self.redis_url, prefix=self.prefix, **options)
        self.stores.append(store)
        return store

    def worker_args(self) -> list[str]:
        target = str(self.path) if self.kind == "sqlite" else self.redis_url
        return [self.kind, target, self.prefix]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    place = Backend(request.param, tmp_path, url)
    yield place
    for store in place.stores:
        store.close()


def uids(n: int, tag: str = "u") -> list[str]:
    return [f"{tag}-{i}" for i in range(n)]


# -- the Claim semantics, on both stores ------------------------------------------------------

def test_a_uid_is_new_for_one_consumer_until_finished_then_done_for_all(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    assert repr(first.claim(["a", "b"])) == "[Claim.NEW, Claim.NEW]"
    assert second.claim(["a", "b", "c"]) == [BUSY, BUSY, NEW]
    assert first.claim(["a"]) == [NEW]  # our own claim, renewed
    first.finish(["a"])
    first.release(["b"])
    second.release(["a"])  # not its claim: changes nothing
    assert second.claim(["a", "b"]) == [DONE, NEW]
    assert first.claim(["a", "b", "c"]) == [DONE, BUSY, BUSY]
    assert backend.open().claim(["a"]) == [DONE]
    assert first.claim([]) == []
    first.finish([])
    first.release([])


def test_threads_each_with_a_store_never_share_a_uid(backend: Backend) -> None:
    items = uids(300)
    stores = [backend.open() for _ in range(4)]
    won: list[list[str]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def consume(index: int) -> None:
        start.wait()
        for begin in range(0, len(items), 25):
            chunk = items[begin:begin + 25]
            mine = [u for u, c in zip(chunk, stores[index].claim(chunk), strict=True) if c is NEW]
            stores[index].finish(mine)
            won[index].extend(mine)

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [u for w in won for u in w]
    assert sorted(every) == sorted(items)  # each uid handled once, by exactly one consumer


WORKER = """
import os, sys
from mds.checkpoint import Claim, RedisCheckpoint, SqliteCheckpoint
kind, target, prefix, crash = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "crash"
store = (SqliteCheckpoint(target, claim_ttl=0.5) if kind == "sqlite"
         else RedisCheckpoint(target, prefix=prefix, claim_ttl=0.5))
items = [f"u-{i}" for i in range(int(sys.argv[5]))]
print("ready", flush=True)
sys.stdin.readline()
for begin in range(0, len(items), 20):
    chunk = items[begin:begin + 20]
    mine = [u for u, c in zip(chunk, store.claim(chunk)) if c is Claim.NEW]
    if crash:
        store.finish(mine[: len(mine) // 2])
        print(" ".join(mine[: len(mine) // 2]), flush=True)
        os._exit(1)  # killed while handling the rest: no release, no close
    store.finish(mine)
    print(" ".join(mine), flush=True)
store.close()
"""


def run_workers(backend: Backend, count: int, n: int, mode: str = "run") -> list[list[str]]:
    """*count* processes claim the same *n* uids at once; what each one finished."""
    processes = [
        subprocess.Popen([sys.executable, "-c", WORKER, *backend.worker_args(), mode, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:  # all open and waiting: go
        assert process.stdin is not None
        process.stdin.write("\n")
        process.stdin.flush()
    finished = []
    for process in processes:
        out, _ = process.communicate(timeout=30)
        finished.append(out.split())
    return finished


def test_processes_sharing_a_store_never_share_a_uid(backend: Backend) -> None:
    finished = run_workers(backend, 3, 400)
    every = [u for f in finished for u in f]
    assert sorted(every) == sorted(uids(400))


def test_a_restart_after_a_crash_skips_what_was_finished_and_not_the_rest(
        backend: Backend) -> None:
    [finished] = run_workers(backend, 1, 20, mode="crash")
    assert len(finished) == 10  # the first half of its first 20, then killed
    restarted = Gate(backend.open(claim_ttl=5.0))
    claims = restarted.admit(uids(20))
    assert {u for u, c in zip(uids(20), claims, strict=True) if c is DONE} == set(finished)
    held = [u for u, c in zip(uids(20), claims, strict=True) if c is not DONE]
    assert [restarted.admit([u]) for u in held] == [[BUSY]] * 10
    # The dead worker's claims expire (0.5 s): then the rest is handled, none of it lost.
    assert wait_until(lambda: restarted.admit(held[:1]) == [NEW], 5)
    assert restarted.admit(held[1:]) == [NEW] * 9
    restarted.finish(held)
    assert restarted.admit(uids(20)) == [DONE] * 20


def test_an_expired_claim_is_new_again(backend: Backend) -> None:
    crashed, other = backend.open(claim_ttl=0.2), backend.open()
    assert crashed.claim(["x"]) == [NEW]
    assert other.claim(["x"]) == [BUSY]
    assert wait_until(lambda: other.claim(["x"]) == [NEW], 5)
    assert crashed.claim(["x"]) == [BUSY]  # now the other's


def test_a_finished_uid_is_forgotten_after_keep(backend: Backend) -> None:
    store = backend.open(keep=0.2)
    store.claim(["k"])
    store.finish(["k"])
    assert backend.open().claim(["k"]) == [DONE]
    assert wait_until(lambda: backend.open().claim(["k"]) == [NEW], 5)


def test_any_text_is_a_uid(backend: Backend) -> None:
    # A lone surrogate (JSON's "\\ud800") cannot be encoded as UTF-8: it is stored all the same.
    odd = ["\ud800", "\ud800x", "caf\u00e9", "\x00", "a" * 1000, ""]
    store = backend.open()
    assert store.claim(odd) == [NEW] * len(odd)
    store.finish(odd)
    assert backend.open().claim(odd) == [DONE] * len(odd)
    assert backend.open().claim(["\ud801"]) == [NEW]


def test_store_arguments_are_checked(backend: Backend) -> None:
    with pytest.raises(mds.ApiValueError):
        backend.open(claim_ttl=0)
    with pytest.raises(mds.ApiValueError):
        backend.open(keep=-1)
    store = backend.open()
    with pytest.raises(mds.ApiTypeError, match="not int"):
        store.claim(["a", 5])
    with pytest.raises(mds.ApiTypeError, match="single string"):
        store.finish("abc")
    assert store.claim(["a"]) == [NEW]  # nothing half-done


def test_a_closed_store_raises_checkpoint_error(backend: Backend) -> None:
    store = backend.open()
    with store:
        assert isinstance(store, CheckpointStore)
    store.close()  # idempotent
    with pytest.raises(CheckpointError, match="closed"):
        store.claim(["a"])


# -- sqlite ------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_prunes_expired_rows_and_stays_bounded(tmp_path: Path) -> None:
    import sqlite3

    clock = Clock()
    path = tmp_path / "c.sqlite"
    with SqliteCheckpoint(path, claim_ttl=10, keep=100, clock=clock) as store:
        for hour in range(5):
            batch = uids(500, f"h{hour}")
            assert store.claim(batch) == [NEW] * 500
            store.finish(batch)
            clock.now += 3600
        assert store.claim(["late"]) == [NEW]  # a claim sweeps what expired
        rows = sqlite3.connect(path).execute("SELECT count(*) FROM mds_checkpoint").fetchone()
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert rows == (1,)
    assert mode == ("wal",)


def test_sqlite_on_an_unwritable_path_raises_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="unable to open"):
        SqliteCheckpoint(tmp_path / "no" / "such" / "dir.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(CheckpointError) as info:
        open_checkpoint(tmp_path / "junk.sqlite")
    assert isinstance(info.value.__cause__, Exception)
    assert "SqliteCheckpoint" in repr(open_checkpoint(str(tmp_path / "ok.sqlite")))


# -- Redis -------------------------------------------------------------------------------------

def test_redis_down_raises_checkpoint_error_without_the_password() -> None:
    secret = "p4ss-never-shown"
    with RedisServer(password=secret) as server:
        store = RedisCheckpoint(server.url, timeout=2)
        assert store.claim(["a"]) == [NEW]
        wrong = RedisCheckpoint(server.url.replace(secret, "wrong-" + secret))
        with pytest.raises(CheckpointError) as refused:
            wrong.claim(["a"])
        wrong.close()
    with pytest.raises(CheckpointError) as down:
        store.claim(["a"])
    with pytest.raises(CheckpointError):
        store.finish(["a"])
    with pytest.raises(CheckpointError):
        store.release(["a"])
    store.close()
    for error in (refused.value, down.value):
        assert secret not in str(error)
        assert secret not in repr(error)
        assert "***" in str(error)
        assert isinstance(pickle.loads(pickle.dumps(error)), CheckpointError)
    assert "Connection" in str(down.value)
    assert secret not in repr(store)
    assert repr(store).startswith("<RedisCheckpoint 'redis://:***@127.0.0.1:")


def test_redis_urls_are_checked_and_redacted() -> None:
    with pytest.raises(CheckpointError) as info:
        RedisCheckpoint("redis://user:hunter2@127.0.0.1:notaport/0")
    assert "hunter2" not in str(info.value)
    with pytest.raises(CheckpointError, match="<unparsable URL>") as bad:
        RedisCheckpoint("redis://:hunter2@[::1/0")
    assert "hunter2" not in str(bad.value)
    with RedisCheckpoint("redis://127.0.0.1:1/0", timeout=1) as open_url:
        with pytest.raises(CheckpointError, match=r"redis://127\.0\.0\.1:1/0 failed"):
            open_url.claim(["a"])
    store = open_checkpoint("rediss://user:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(store)
    assert "user:***@" in repr(store)
    assert isinstance(store, RedisCheckpoint)
    store.close()


def test_without_redis_py_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "mds-client\[redis\]"'):
        open_checkpoint("redis://127.0.0.1:1/0")


def test_importing_mds_imports_no_storage_library() -> None:
    # Only what these imports add counts (coverage, under CI, imports sqlite3 itself).
    code = ("import sys; before = set(sys.modules); "
            "import mds, mds.checkpoint, mds.webhook_receiver; "
            "print(sorted(m for m in ('sqlite3', 'redis') if m in set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- open_checkpoint ---------------------------------------------------------------------------

def test_the_package_loads_its_stores_on_first_use() -> None:
    import mds.checkpoint

    assert mds.checkpoint.SqliteCheckpoint is SqliteCheckpoint
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = mds.checkpoint.Nothing


def test_open_checkpoint_by_kind_of_spec(tmp_path: Path, redis_url: str) -> None:
    assert open_checkpoint(None) is None
    sqlite_store = open_checkpoint(tmp_path / "a.sqlite")
    assert isinstance(sqlite_store, SqliteCheckpoint)
    assert open_checkpoint(sqlite_store) is sqlite_store
    sqlite_store.close()
    redis_store = open_checkpoint(redis_url)
    assert isinstance(redis_store, RedisCheckpoint)
    redis_store.close()
    with pytest.raises(mds.ApiTypeError, match="not int"):
        open_checkpoint(5)  # type: ignore[arg-type]


# -- the Gate ----------------------------------------------------------------------------------

def test_gate_without_a_store_drops_repeats_within_its_window() -> None:
    gate = Gate(window=100)
    first = uids(1000)
    assert gate.admit(first) == [NEW] * 1000
    gate.finish(first)
    # The window holds the last 100 uids: older repeats are admitted again.
    assert gate.admit(first[-100:]) == [DONE] * 100
    assert gate.admit(first[:1]) == [NEW]
    assert gate.duplicates_dropped == 100
    assert gate.admit([None, None, "n", "n"]) == [NEW, NEW, NEW, DONE]
    assert gate.duplicates_dropped == 101


def test_gate_held_uids_are_busy_and_released_ones_new_again() -> None:
    gate = Gate()
    assert gate.admit(["a", "b"]) == [NEW, NEW]
    assert gate.admit(["a"]) == [BUSY]  # the first delivery is still being handled
    gate.release(["a", None])
    gate.finish(["b", None])
    assert gate.admit(["a", "b"]) == [NEW, DONE]
    assert (gate.duplicates_dropped, gate.busy) == (1, 1)
    gate.finish([])
    gate.release([])
    with pytest.raises(mds.ApiTypeError):
        gate.admit([b"bytes"])  # type: ignore[list-item]


def test_gate_threads_never_admit_a_uid_twice(redis_url: str) -> None:
    with Gate(RedisCheckpoint(redis_url, prefix=f"t:{uuid.uuid4().hex}:")) as gate:
        items = uids(500)
        admitted: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def consume() -> None:
            start.wait()
            for begin in range(0, len(items), 50):
                chunk = items[begin:begin + 50]
                mine = [u for u, c in zip(chunk, gate.admit(chunk), strict=True) if c is NEW]
                gate.finish(mine)
                with lock:
                    admitted.extend(mine)

        threads = [threading.Thread(target=consume) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(admitted) == sorted(items)
        assert gate.duplicates_dropped + gate.busy == 5 * 500
        assert gate.checkpoint is not None
    gate.checkpoint.close()  # a store it was given is not the gate's to close


def test_gate_with_a_store_remembers_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    with Gate(path) as gate:
        assert gate.admit(["a", "b"]) == [NEW, NEW]
        gate.finish(["a"])
        assert "g.sqlite" in repr(gate)
    with pytest.raises(CheckpointError):
        gate.admit(["c"])  # the store it opened is closed
    gate.close()
    with Gate(str(path), window=10) as restarted:
        # "b" was never finished: its claim (60 s) is still held by the dead consumer.
        assert restarted.admit(["a", "b", "c"]) == [DONE, BUSY, NEW]
        assert restarted.admit(["a"]) == [DONE]  # from the window now
        assert (restarted.duplicates_dropped, restarted.busy) == (2, 1)


class FailingStore:
    """A store whose claims fail once (the store being down), then answer from a dict."""

    def __init__(self) -> None:
        self.failures = 1
        self.done: set[str] = set()
        self.released: list[str] = []

    def claim(self, uids: Sequence[str]) -> list[Claim]:
        if self.failures:
            self.failures -= 1
            raise CheckpointError("store down")
        return [DONE if u in self.done else NEW for u in uids]

    def finish(self, uids: Sequence[str]) -> None:
        self.done.update(uids)

    def release(self, uids: Sequence[str]) -> None:
        self.released.extend(uids)

    def close(self) -> None:
        pass


def test_a_store_failure_admits_and_records_nothing() -> None:
    store = FailingStore()
    gate = Gate(store)
    with pytest.raises(CheckpointError):
        gate.admit(["a"])
    assert gate.admit(["a"]) == [NEW]  # not left held by the failed call
    assert (gate.duplicates_dropped, gate.busy) == (0, 0)
    gate.release(["a"])
    assert store.released == ["a"]
    store.claim = lambda uids: [NEW]  # type: ignore[method-assign]
    with pytest.raises(CheckpointError, match="1 claims for 2 uids"):
        gate.admit(["b", "c"])


def test_gate_arguments_are_checked() -> None:
    for window in (0, -1, 2.5, True):
        with pytest.raises(mds.ApiValueError):
            Gate(window=window)  # type: ignore[arg-type]


def test_window_of_20000_uids_takes_a_few_megabytes() -> None:
    tracemalloc.start()
    try:
        gate = Gate()
        base = tracemalloc.get_traced_memory()[0]
        for batch in range(40):  # 40,000 uids of 36 characters; the last 20,000 are kept
            chunk = [f"{batch:08x}-0000-4000-8000-{n:012x}" for n in range(1000)]
            gate.admit(chunk)
            gate.finish(chunk)
        del chunk
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    print(f"window of 20,000 uids, the uids included: {used / 2**20:.2f} MiB")
    assert used < 6 * 2**20
