"""Dedupe and checkpoint for an asyncio listener: `mds.checkpoint.Gate` between the stream and
the application, its blocking store calls in the listener's worker threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from mds.checkpoint import Claim
from mds.checkpoint._items import item_uids as wire_item_uids
from mds.checkpoint._items import without_items
from mds.events import Event, event_list, message_dict
from mds.exceptions import MdsError
from mds.listener._source import Batch, Counters

if TYPE_CHECKING:
    from mds.aio._worker import Worker
    from mds.checkpoint import Claim
    from mds.checkpoint import Gate as SyncGate

__all__ = ["Gate", "admitted_part", "item_uids"]

logger = logging.getLogger("mds.listener")

Fetch = Callable[[], Awaitable["Batch | None"]]

#: An event's uid (every kind of event has one, None unless the channel's cfg asked for it).
_event_uid = attrgetter("uid")


def item_uids(batch: Batch) -> tuple[list[tuple[str, int]], list[str]]:
    """Where in *batch* the items with a uid are (kind, index), and their uids, in wire
    order."""
    return wire_item_uids(message_dict(batch))


def admitted_part(batch: Batch, places: list[tuple[str, int]],
                  claims: list[Claim]) -> Batch | None:
    """*batch* without the items at *places* whose claim is not NEW: *batch* itself when none
    is dropped, else a wire dict; None when no item is left."""
    dropped = {place for place, claim in zip(places, claims, strict=True) if claim != "new"}
    if not dropped:
        return batch
    return without_items(message_dict(batch), dropped)


class Gate:
    """Admits what the stream reads through an `mds.checkpoint.Gate` (repeats, and what another
    consumer holds, are dropped); what the application was handed is finished when it asks for
    more, released when it failed.

    Without a store the gate lives in memory and is called on the loop; with one
    (``blocking``), every call runs in a worker thread, and a batch is fetched and admitted by a
    task of its own, so that a cancelled ``async for`` neither loses the batch nor admits it
    twice (a second admission would call its items repeats): the next call takes the task's
    result."""

    __slots__ = ("_admitting", "_closed", "_counters", "_gate", "_in_hand", "_worker",
                 "blocking")

    def __init__(self, gate: SyncGate, worker: Worker, counters: Counters) -> None:
        self._gate = gate
        self._worker = worker
        self._counters = counters  # duplicates_dropped and busy, for ListenerStats
        self._in_hand: list[str] = []  # uids handed to the application, not finished yet
        self._admitting: asyncio.Task[Any] | None = None
        # Once the listener is closed, what was received before is still handed out, through
        # the closed gate: unrecorded (as the synchronous listener does).
        self._closed = False
        self.blocking = gate.checkpoint is not None

    @classmethod
    async def make(cls, checkpoint: Any, window: int, worker: Worker,
                   counters: Counters) -> Gate:
        """A gate on *checkpoint* (None, a store, a sqlite path, a ``redis://`` URL), opened
        in a worker thread (opening a store is I/O)."""
        from mds.checkpoint import Gate as SyncGate

        return cls(await worker.run(SyncGate, checkpoint, window=window), worker, counters)

    @property
    def duplicates_dropped(self) -> int:
        return self._gate.duplicates_dropped

    # -- admitting -------------------------------------------------------------------------------
    async def events(self, fetch: Fetch) -> list[Event] | None:
        """The admitted events of the next batch *fetch* brings (maybe none); None at the end."""
        return await self._admitted(fetch, self._events)  # type: ignore[no-any-return]

    async def batch(self, fetch: Fetch) -> Batch | bool | None:
        """The admitted part of the next batch (False when nothing of it was); None at the end.
        Its items are then in the application's hand."""
        return await self._admitted(fetch, self._batch)  # type: ignore[no-any-return]

    async def _admitted(self, fetch: Fetch, admit: Callable[[Batch], Awaitable[Any]]) -> Any:
        if not self.blocking:
            in_hand = self._in_hand
            if in_hand:  # everything handed out is finished: the application asks for more
                self._gate.finish(in_hand)
                in_hand.clear()
            batch = await fetch()
            return None if batch is None else await admit(batch)
        task = self._admitting
        if task is None:
            task = self._admitting = asyncio.get_running_loop().create_task(
                self._fetch_and_admit(fetch, admit), name="mds-aio-admit")
        await asyncio.wait([task])  # a cancelled caller leaves the task to the next one
        self._admitting = None
        return task.result()

    @staticmethod
    async def _fetch_and_admit(fetch: Fetch, admit: Callable[[Batch], Awaitable[Any]]) -> Any:
        batch = await fetch()
        return None if batch is None else await admit(batch)

    async def _claims(self, uids: list[str | None]) -> list[Claim]:
        gate = self._gate
        if self._closed:
            return [Claim.NEW] * len(uids)
        if self.blocking:
            claims = await self._worker.run(gate.admit, uids)
        else:
            claims = gate.admit(uids)
        counters = self._counters
        counters.duplicates_dropped = gate.duplicates_dropped
        counters.busy = gate.busy
        return claims

    async def _events(self, batch: Batch) -> list[Event]:
        found = event_list(batch)
        uids = list(map(_event_uid, found))
        nones = uids.count(None)
        if nones == len(uids):
            return found
        claims = await self._claims(uids)
        if claims.count(Claim.NEW) == len(claims):
            admitted = found  # no repeat (nearly always): no second list
        else:
            admitted = [event for event, claim in zip(found, claims, strict=True)
                        if claim == "new"]
            uids = list(map(_event_uid, admitted))
            nones = uids.count(None)
        if not self.blocking:
            # In memory, the whole batch is finished at once when the application asks for
            # more than it holds (see `end` for what it never got): no per-event call.
            self._in_hand.extend(uids if not nones else [u for u in uids if u is not None])
        return admitted

    async def _batch(self, batch: Batch) -> Batch | bool:
        places, uids = item_uids(batch)
        if not uids:
            return batch
        claims = await self._claims(list(uids))
        self._in_hand.extend(u for u, c in zip(uids, claims, strict=True) if c == "new")
        rest = admitted_part(batch, places, claims)
        return False if rest is None else rest

    # -- the application's hand ------------------------------------------------------------------
    @property
    def holding(self) -> bool:
        """The application holds items not finished yet."""
        return bool(self._in_hand)

    def hand(self, event: Event) -> None:
        """*event* was handed to the application (a gate with a store: it is finished when the
        application asks for the next one)."""
        uid = getattr(event, "uid", None)
        if uid is not None and not self._closed:
            self._in_hand.append(uid)

    async def finish_in_hand(self) -> None:
        """The application asked for more: what it holds is finished (if the store fails they
        stay held, and the error is raised)."""
        in_hand = self._in_hand
        if in_hand:
            await self._run(self._gate.finish, list(in_hand))
            in_hand.clear()

    async def end(self, failed: bool, unhanded: Iterable[Event]) -> None:
        """The application is done: what it holds is finished, or released when it *failed*;
        the *unhanded* events (admitted, never handed out) are released, so that a consumer
        sharing the store (or this one, restarted) gets them at once. Then closes the gate (and
        the store it opened). A store failure is logged: this runs while closing."""
        task = self._admitting
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        gate, in_hand = self._gate, self._in_hand
        rest = [uid for uid in (getattr(e, "uid", None) for e in unhanded) if uid is not None]
        try:
            if failed:
                await self._run(gate.release, list(dict.fromkeys([*in_hand, *rest])))
            else:
                never = set(rest)
                await self._run(gate.finish, [uid for uid in in_hand if uid not in never])
                await self._run(gate.release, rest)
            in_hand.clear()
        except MdsError as exc:
            logger.error("could not record what the application finished in the checkpoint: "
                         "%s (those items may be handed on again after a restart)", exc)
        finally:
            self._closed = True
            await self._run(gate.close)

    async def _run(self, fn: Callable[..., None], *args: Any) -> None:
        if self.blocking:
            await self._worker.run(fn, *args)
        else:
            fn(*args)
