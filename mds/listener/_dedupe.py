"""Effectively-once delivery to the application: a `mds.checkpoint.Gate` between the stream's
batches and the application, and the items the application holds.

An item is *claimed* when the gate admits it (Claim.NEW), handed to the application, and
*finished* (recorded as done, in the window and in the checkpoint store) when the application
asks for the next one; a repeat of a finished uid is dropped (``duplicates_dropped``), a uid
held by another consumer is skipped (``busy``). Items without a uid (the long poll, a channel
registered without ``include_uid``) are always handed on and never recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from mds.checkpoint import Claim, Gate
from mds.checkpoint._items import item_uids, without_items
from mds.events import Event, message_dict
from mds.exceptions import MdsError
from mds.listener._source import Batch, Counters

__all__ = ["Handover", "uid_of"]

logger = logging.getLogger("mds.listener")


def uid_of(event: Event) -> str | None:
    """An event's ``uid`` (every event type has one; the base class does not declare it)."""
    uid: str | None = getattr(event, "uid", None)
    return uid


class Handover:
    """The gate of one listener and the uids the application holds: claimed and handed out,
    not finished yet. Used by the iterating thread only (the gate itself is thread-safe)."""

    __slots__ = ("_counters", "_durable", "_ended", "_finished", "_gate", "_in_hand")

    def __init__(self, gate: Gate, counters: Counters) -> None:
        self._gate = gate
        self._counters = counters
        self._in_hand: list[str] = []
        # Without a store nobody but this listener sees the gate: what was finished is told to
        # it in one call before the next batch is admitted (a call per event costs a third of
        # the listener's throughput). With a store, each is recorded at once, for restarts.
        self._durable = gate.checkpoint is not None
        self._finished: list[str] = []
        self._ended = False  # closed: what is still iterated passes, unrecorded

    def _admit(self, uids: Sequence[str | None]) -> list[Claim]:
        if self._ended:
            return [Claim.NEW] * len(uids)
        return self._claims(uids)

    def _claims(self, uids: Sequence[str | None]) -> list[Claim]:
        self._flush()
        claims = self._gate.admit(uids)
        counters, gate = self._counters, self._gate
        counters.duplicates_dropped = gate.duplicates_dropped
        counters.busy = gate.busy
        return claims

    def events(self, events: list[Event]) -> list[Event]:
        """The *events* of one batch the gate admits (the list itself when it drops none); the
        admitted ones are claimed until `finish_in_hand` or `end`."""
        uids = [uid_of(event) for event in events]
        if uids.count(None) == len(uids):
            return events
        claims = self._admit(uids)
        if Claim.DONE not in claims and Claim.BUSY not in claims:
            return events
        return [event for event, claim in zip(events, claims, strict=True) if claim is Claim.NEW]

    def batch(self, batch: Batch) -> Batch | None:
        """What the gate admits of a whole *batch*: *batch* itself when it drops nothing, else a
        wire dict without the dropped items; None when nothing is left. The admitted items are
        then held by the application."""
        data = message_dict(batch)
        places, uids = item_uids(data)
        if not uids:
            return batch
        claims = self._admit(uids)
        self._in_hand.extend(
            uid for uid, claim in zip(uids, claims, strict=True) if claim is Claim.NEW)
        dropped = {place for place, claim in zip(places, claims, strict=True)
                   if claim is not Claim.NEW}
        if not dropped:
            return batch
        return without_items(data, dropped)

    def hand(self, uid: str) -> None:
        """The event of *uid* was handed to the application."""
        self._in_hand.append(uid)

    @property
    def holding(self) -> bool:
        """The application holds items that are not finished yet."""
        return bool(self._in_hand)

    def finish_in_hand(self) -> None:
        """The application asked for more: what it holds is finished. If the store fails, they
        stay held (the error is raised; the next call tries again)."""
        in_hand = self._in_hand
        if self._ended:
            pass  # the listener was closed meanwhile (another thread): nothing is recorded now
        elif self._durable:
            self._gate.finish(in_hand)
        else:
            self._finished += in_hand
        in_hand.clear()

    def _flush(self) -> None:
        """Tell the gate what was finished and not told yet (without a store)."""
        finished = self._finished
        if finished:
            self._gate.finish(finished)
            finished.clear()

    def end(self, failed: bool, unhanded: Iterable[str | None]) -> None:
        """The application is done with the listener: what it holds is finished, or released
        when it *failed* (a redelivery is then handed on again); the *unhanded* uids (admitted,
        never handed out) are released. Then closes the gate (and the store it opened). A store
        failure is logged: this runs while closing. What the application still iterates
        afterwards (it was received before) passes the gate unrecorded."""
        gate, in_hand = self._gate, self._in_hand
        self._ended = True
        try:
            self._flush()
            if failed:
                gate.release([*in_hand, *unhanded])
            else:
                gate.finish(in_hand)
                gate.release(list(unhanded))
            in_hand.clear()
        except MdsError as exc:
            logger.error("could not record what the application finished in the checkpoint: "
                         "%s (those items may be handed on again after a restart)", exc)
        finally:
            gate.close()
