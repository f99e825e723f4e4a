"""`Gate`, between the wire and the application: drops repeats by uid, within a bounded window
in memory and, with a checkpoint store, across restarts and processes; and `open_checkpoint`."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mds.checkpoint._store import CheckpointStore, Claim
from mds.exceptions import ApiTypeError, ApiValueError, CheckpointError

if TYPE_CHECKING:
    from mds.checkpoint._redis import RedisCheckpoint
    from mds.checkpoint._sqlite import SqliteCheckpoint

__all__ = ["DEFAULT_WINDOW", "Gate", "open_checkpoint"]

#: uids a `Gate` remembers by default: a full batch of the service, about 4 MB.
DEFAULT_WINDOW = 20_000



def open_checkpoint(
    spec: str | os.PathLike[str] | CheckpointStore | None,
) -> CheckpointStore | None:
    """The checkpoint store *spec* names: ``"redis://..."`` or ``"rediss://..."`` opens a
    `RedisCheckpoint` (default options), any other string or path a `SqliteCheckpoint` file; a
    store is returned as it is, None as None.

    Raises `mds.ApiTypeError` for anything else, `mds.exceptions.CheckpointError` when the
    store cannot be opened, ImportError when redis-py is missing for a Redis URL.
    """
    if spec is None or isinstance(spec, CheckpointStore):
        return spec
    if isinstance(spec, str) and spec.lower().startswith(("redis://", "rediss://")):
        return _redis_store(spec)
    if isinstance(spec, (str, os.PathLike)):
        return _sqlite_store(spec)
    raise ApiTypeError(
        "checkpoint must be a file path, a redis:// URL or a CheckpointStore, "
        f"not {type(spec).__name__}"
    )


def _redis_store(url: str) -> RedisCheckpoint:
    from mds.checkpoint._redis import RedisCheckpoint

    return RedisCheckpoint(url)


def _sqlite_store(path: str | os.PathLike[str]) -> SqliteCheckpoint:
    from mds.checkpoint._sqlite import SqliteCheckpoint

    return SqliteCheckpoint(path)


#: States of a uid in the window.
_HELD = False  # admitted, not finished yet
_FINISHED = True


class Gate:
    """Between the wire and the application: drops repeats by uid within a bounded window of
    the last *window* uids and, with a checkpoint store, what was finished before (by this
    consumer before a restart, or by another one sharing the store). Thread-safe.

    Args:
        checkpoint: a `CheckpointStore`, or what `open_checkpoint` opens (a sqlite file path, a
            ``redis://`` URL); None remembers only the window, in memory.
        window: how many uids are remembered in memory (the most recently admitted or
            finished); a repeat older than that is asked of the store (or, without one,
            admitted again).

    A uid admitted and not yet finished is BUSY for a repeat that comes meanwhile (another
    thread, a redelivery while the first delivery is being handled): the repeat is neither
    dropped (the first may still fail) nor handled twice.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | CheckpointStore | None = None,
        *,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if type(window) is not int or window < 1:
            raise ApiValueError(f"window must be a positive int, not {window!r}")
        store = open_checkpoint(checkpoint)
        self.checkpoint: CheckpointStore | None = store
        self.window = window
        self._owns_store = store is not None and store is not checkpoint
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, bool] = OrderedDict()
        self._duplicates = 0
        self._busy = 0

    def __repr__(self) -> str:
        return f"<Gate window={self.window} checkpoint={self.checkpoint!r}>"

    @property
    def duplicates_dropped(self) -> int:
        """Items answered DONE so far: repeats the application never saw."""
        return self._duplicates

    @property
    def busy(self) -> int:
        """Items answered BUSY so far: held by another consumer (or another delivery)."""
        return self._busy

    def _remember(self, uid: str, state: bool) -> None:
        """Record *uid* as the newest in the window (lock held)."""
        seen = self._seen
        seen[uid] = state
        seen.move_to_end(uid)
        if len(seen) > self.window:
            seen.popitem(last=False)

    def admit(self, uids: Sequence[str | None]) -> list[Claim]:
        """One `Claim` per item, in order: NEW hand it to the application (then `finish` or
        `release` it), DONE a repeat to drop, BUSY held elsewhere right now. An item without
        a uid (None) is always NEW and never recorded; a uid repeated within *uids* is NEW
        once and DONE after. Raises `mds.exceptions.CheckpointError` when the store fails
        (nothing is then admitted or recorded)."""
        answers: list[Claim | None] = []
        ask: dict[str, int] = {}  # uid -> its position, for the store to decide
        with self._lock:
            for index, uid in enumerate(uids):
                if uid is None:
                    answers.append(Claim.NEW)
                    continue
                if type(uid) is not str:
                    raise ApiTypeError(f"a uid must be a string or None, not {type(uid).__name__}")
                state = self._seen.get(uid)
                if uid in ask:  # repeated within this batch
                    answers.append(Claim.DONE)
                elif state is None:
                    answers.append(None)
                    ask[uid] = index
                else:
                    answers.append(Claim.DONE if state is _FINISHED else Claim.BUSY)
            # Held while the store decides, so that another thread's repeat is BUSY.
            for uid in ask:
                self._remember(uid, _HELD)
        if ask:
            try:
                claims = self._claim(list(ask))
            except BaseException:
                with self._lock:
                    for uid in ask:
                        self._forget(uid)
                raise
            with self._lock:
                for (uid, index), claim in zip(ask.items(), claims, strict=True):
                    answers[index] = claim
                    if claim is Claim.DONE:
                        self._remember(uid, _FINISHED)
                    elif claim is Claim.BUSY:
                        self._forget(uid)
        result = [a if a is not None else Claim.NEW for a in answers]
        with self._lock:
            self._duplicates += result.count(Claim.DONE)
            self._busy += result.count(Claim.BUSY)
        return result

    def _claim(self, uids: list[str]) -> list[Claim]:
        if self.checkpoint is None:
            return [Claim.NEW] * len(uids)
        claims = list(self.checkpoint.claim(uids))
        if len(claims) != len(uids):
            raise CheckpointError(
                f"{self.checkpoint!r} answered {len(claims)} claims for {len(uids)} uids"
            )
        return claims

    def _forget(self, uid: str) -> None:
        self._seen.pop(uid, None)

    def finish(self, uids: Sequence[str | None]) -> None:
        """The application finished these items: record them (in the store first, then in the
        window). Items without a uid are skipped."""
        values = list(dict.fromkeys(uid for uid in uids if uid is not None))
        if not values:
            return
        if self.checkpoint is not None:
            self.checkpoint.finish(values)
        with self._lock:
            for uid in values:
                self._remember(uid, _FINISHED)

    def release(self, uids: Sequence[str | None]) -> None:
        """The application failed on these items: forget them, so that a redelivery is
        admitted again (and drop their claims in the store)."""
        values = list(dict.fromkeys(uid for uid in uids if uid is not None))
        if not values:
            return
        with self._lock:
            for uid in values:
                self._forget(uid)
        if self.checkpoint is not None:
            self.checkpoint.release(values)

    def close(self) -> None:
        """Close the store if this gate opened it (from a path or URL); idempotent."""
        if self._owns_store and self.checkpoint is not None:
            self._owns_store = False
            self.checkpoint.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
