"""`Gate`, between the wire and the application: drops repeats by uid, within a bounded window
in memory and, with a checkpoint store, across restarts and processes; and `open_checkpoint`."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Sequence
from itertools import islice, repeat
from typing import TYPE_CHECKING, cast

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

#: What a uid may be.
_UID_TYPES = frozenset({str, type(None)})


class Gate:
    """Between the wire and the application: drops repeats by uid within a bounded window of
    the last *window* uids and, with a checkpoint store, what was finished before (by this
    consumer before a restart, or by another one sharing the store). Thread-safe.

    Args:
        checkpoint: a `CheckpointStore`, or what `open_checkpoint` opens (a sqlite file path, a
            ``redis://`` URL); None remembers only the window, in memory.
        window: how many uids are remembered in memory (the most recently admitted or
            finished; up to a sixteenth more between trims); a repeat older than that is asked
            of the store (or, without one, admitted again).

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
        self._slack = max(1, window // 16)  # see _trim
        self._owns_store = store is not None and store is not checkpoint
        self._lock = threading.Lock()
        # uid -> _HELD or _FINISHED, oldest first (a dict keeps its insertion order, and costs
        # about half what an OrderedDict does per uid recorded and dropped).
        self._seen: dict[str, bool] = {}
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
        seen.pop(uid, None)
        seen[uid] = state
        self._trim()

    def _trim(self) -> None:
        """Drop the oldest uids past the window (lock held), once some ``window / 16`` of them
        have gathered. Finding the oldest walks over the slots of those dropped before (a dict
        reuses them only when it grows), so a trim after every small batch (a webhook
        delivery) would cost more than all the rest; the window holds between ``window`` and
        ``window * 17 / 16`` uids. Always the oldest go."""
        seen = self._seen
        excess = len(seen) - self.window
        if excess >= self._slack:
            for uid in list(islice(seen, excess)):
                del seen[uid]

    def admit(self, uids: Sequence[str | None]) -> list[Claim]:
        """One `Claim` per item, in order: NEW hand it to the application (then `finish` or
        `release` it), DONE a repeat to drop, BUSY held elsewhere right now. An item without
        a uid (None) is always NEW and never recorded; a uid repeated within *uids* is NEW
        once and DONE after. Raises `mds.exceptions.CheckpointError` when the store fails
        (nothing is then admitted or recorded)."""
        # This runs for every item a listener or a receiver gets: a batch of new uids (nearly
        # every batch) is recognised and recorded by a few calls over the whole batch.
        new, done, busy = Claim.NEW, Claim.DONE, Claim.BUSY
        in_memory = self.checkpoint is None
        answers: list[Claim | None] = []
        append = answers.append
        ask: dict[str, int] = {}  # uid -> its position, for the store to decide
        repeats = held = 0
        if not _UID_TYPES.issuperset(map(type, uids)):
            bad = next(uid for uid in uids if uid is not None and type(uid) is not str)
            raise ApiTypeError(f"a uid must be a string or None, not {type(bad).__name__}")
        with self._lock:
            seen = self._seen
            fresh = dict.fromkeys(uids, _HELD)
            all_new = len(fresh) == len(uids) and None not in fresh and seen.keys().isdisjoint(
                fresh.keys())
            if all_new:
                # Every uid new, once: held (the newest in the window) while the store decides.
                seen.update(cast("dict[str, bool]", fresh))  # no None
                self._trim()
                if in_memory:
                    return [new] * len(uids)
                answers = [None] * len(uids)
                ask = dict(zip(cast("Sequence[str]", uids), range(len(uids)), strict=True))
            get = seen.get
            for index, uid in enumerate(() if all_new else uids):
                if uid is None:
                    append(new)
                    continue
                state = get(uid)
                if state is None:
                    if uid in ask:  # repeated within this batch
                        append(done)
                        repeats += 1
                    else:
                        append(new if in_memory else None)
                        ask[uid] = index
                elif state is _FINISHED:
                    append(done)
                    repeats += 1
                else:
                    append(busy)
                    held += 1
            if ask and not all_new:
                # Held while the store decides, so that another thread's repeat is BUSY. (None
                # of them is in the window: each goes in as the newest.)
                seen.update(dict.fromkeys(ask, _HELD))
                self._trim()
            if in_memory:
                self._duplicates += repeats
                self._busy += held
                return answers  # type: ignore[return-value]  # no None without a store
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
                    if claim is done:
                        self._remember(uid, _FINISHED)
                        repeats += 1
                    elif claim is busy:
                        self._forget(uid)
                        held += 1
        with self._lock:
            self._duplicates += repeats
            self._busy += held
        return answers  # type: ignore[return-value]  # every None was answered by the store

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
        finished = dict.fromkeys(uids, _FINISHED)
        finished.pop(None, None)
        if not finished:
            return
        values = cast("dict[str, bool]", finished)  # no None
        if self.checkpoint is not None:
            self.checkpoint.finish(list(values))
        with self._lock:
            seen = self._seen
            # Each becomes the newest, in order (this runs for every item: loops in C). Most
            # often they already are (the batch admitted last): then only their state changes.
            newest = list(islice(reversed(seen.keys()), len(values)))
            if newest != list(reversed(values.keys())):
                deque(map(seen.pop, values, repeat(None)), maxlen=0)
            seen.update(values)
            self._trim()

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
