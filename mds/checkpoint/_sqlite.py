"""`SqliteCheckpoint`: the embedded checkpoint store, one sqlite file (stdlib `sqlite3`, WAL
mode) that the threads and processes of one machine share."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from mds.checkpoint._store import Claim, OwnerToken, check_uids
from mds.exceptions import ApiValueError, CheckpointError

__all__ = ["SqliteCheckpoint"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mds_checkpoint ("
    " uid TEXT PRIMARY KEY,"
    " done INTEGER NOT NULL,"  # 1 finished, 0 claimed by `owner`
    " owner TEXT NOT NULL,"
    " expires REAL NOT NULL"  # wall-clock seconds: the claim, or the record, ends then
    ") WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS mds_checkpoint_expires ON mds_checkpoint (expires)",
)
#: Seconds between two sweeps of the expired rows, at most.
_PRUNE_EVERY = 60.0


class SqliteCheckpoint:
    """A checkpoint store in one sqlite file, for consumers on one machine.

    Args:
        path: the database file (created with its table if missing).
        claim_ttl: seconds a claim holds; a consumer that crashed while handling a uid leaves a
            claim that expires then, and the uid is NEW again.
        keep: seconds a finished uid is remembered (then forgotten: a repeat that late is NEW).
        timeout: seconds to wait for another process's write lock before failing.
        clock: wall-clock seconds (`time.time`); shared by every process using the file.

    Every call of ``claim``, ``finish`` or ``release`` is one transaction (``BEGIN
    IMMEDIATE``), whatever the number of uids. Expired rows are deleted now and then, so the
    file holds about ``keep`` seconds of finished uids. One connection per process, used under
    a lock; a forked child opens its own. Errors raise `mds.exceptions.CheckpointError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        claim_ttl: float = 60.0,
        keep: float = 7 * 86400.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not claim_ttl > 0 or not keep > 0 or not timeout >= 0:
            raise ApiValueError("claim_ttl and keep must be positive, timeout not negative")
        self.path = os.fspath(path)
        self.claim_ttl = float(claim_ttl)
        self.keep = float(keep)
        self.timeout = float(timeout)
        self._clock = clock
        self._owner = OwnerToken()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._closed = False
        self._next_prune = 0.0
        with self._transaction():
            pass  # open the file and create the table now: a bad path fails here

    def __repr__(self) -> str:
        return f"<SqliteCheckpoint {self.path!r}>"

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise CheckpointError(f"{self!r} is closed")
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # A connection made before a fork belongs to the parent: never use it in the child.
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL survives a crash of the application; a power cut may lose the
            # last records, and those uids are then handled again (never lost).
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise CheckpointError(
                    f"checkpoint {self.path!r} failed: {type(exc).__name__}: {exc}"
                ) from exc

    def claim(self, uids: Sequence[str]) -> list[Claim]:
        """One `Claim` per uid, in order (see `CheckpointStore`)."""
        values = check_uids(uids)
        owner = self._owner.value
        now = self._clock()
        answers: list[Claim] = []
        with self._transaction() as conn:
            if now >= self._next_prune:
                conn.execute("DELETE FROM mds_checkpoint WHERE expires <= ?", (now,))
                self._next_prune = now + min(_PRUNE_EVERY, self.claim_ttl)
            for uid in values:
                row = conn.execute(
                    "SELECT done, owner, expires FROM mds_checkpoint WHERE uid = ?", (uid,)
                ).fetchone()
                if row is not None and row[2] > now and (row[0] or row[1] != owner):
                    answers.append(Claim.DONE if row[0] else Claim.BUSY)
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO mds_checkpoint VALUES (?, 0, ?, ?)",
                    (uid, owner, now + self.claim_ttl),
                )
                answers.append(Claim.NEW)
        return answers

    def finish(self, uids: Sequence[str]) -> None:
        """Record *uids* as done, for ``keep`` seconds."""
        values = check_uids(uids)
        if not values:
            return
        expires = self._clock() + self.keep
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO mds_checkpoint VALUES (?, 1, '', ?)",
                [(uid, expires) for uid in values],
            )

    def release(self, uids: Sequence[str]) -> None:
        """Drop this store's claims on *uids* (claims of others, and finished uids, stay)."""
        values = check_uids(uids)
        if not values:
            return
        owner = self._owner.value
        with self._transaction() as conn:
            conn.executemany(
                "DELETE FROM mds_checkpoint WHERE uid = ? AND done = 0 AND owner = ?",
                [(uid, owner) for uid in values],
            )

    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise `CheckpointError`."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()

    def __enter__(self) -> SqliteCheckpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
