"""Effectively-once consumption: a `Gate` that drops repeated notifications by ``uid``, and
checkpoint stores that remember what the application finished, across restarts (`SqliteCheckpoint`,
one file) and across processes and machines (`RedisCheckpoint`).

::

    gate = Gate("checkpoint.sqlite")            # or "redis://host:6379/0", or None
    claims = gate.admit([event.uid for event in batch])
    todo = [e for e, c in zip(batch, claims) if c is Claim.NEW]
    try:
        handle(todo)
    except Exception:
        gate.release([e.uid for e in todo])      # a redelivery is admitted again
        raise
    gate.finish([e.uid for e in todo])

The uids come from the service only when the channel's 2020 ``cfg`` asks for ``include_uid``;
an item without one is always admitted. Neither sqlite3 nor redis-py is imported until a store
of that kind is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mds.checkpoint._gate import DEFAULT_WINDOW, Gate, open_checkpoint
from mds.checkpoint._store import CheckpointStore, Claim

if TYPE_CHECKING:
    from mds.checkpoint._redis import RedisCheckpoint
    from mds.checkpoint._sqlite import SqliteCheckpoint

__all__ = [
    "DEFAULT_WINDOW",
    "CheckpointStore",
    "Claim",
    "Gate",
    "RedisCheckpoint",
    "SqliteCheckpoint",
    "open_checkpoint",
]


def __getattr__(name: str) -> Any:
    # The stores are loaded on first use: `import mds.checkpoint` imports neither sqlite3 nor
    # redis-py.
    if name == "SqliteCheckpoint":
        from mds.checkpoint._sqlite import SqliteCheckpoint

        return SqliteCheckpoint
    if name == "RedisCheckpoint":
        from mds.checkpoint._redis import RedisCheckpoint

        return RedisCheckpoint
    raise AttributeError(f"module 'mds.checkpoint' has no attribute {name!r}")
