"""The answer of a checkpoint store (`Claim`), the interface every store implements
(`CheckpointStore`), and the small pieces both stores share. Imports nothing of `mds` but the
exceptions, and no storage library."""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from mds.exceptions import ApiTypeError

__all__ = ["CheckpointStore", "Claim", "OwnerToken"]


class Claim(str, enum.Enum):
    """What a checkpoint store (or a `Gate`) says about one uid."""

    #: Not finished before: the caller now holds it and must ``finish()`` or ``release()`` it.
    NEW = "new"
    #: Finished before (by this or another consumer sharing the store): skip it.
    DONE = "done"
    #: Another consumer holds it right now and has not finished it.
    BUSY = "busy"

    def __repr__(self) -> str:
        return f"Claim.{self.name}"


@runtime_checkable
class CheckpointStore(Protocol):
    """Records which uids a consumer finished, shared by every consumer that opens the same
    store. Thread-safe; every call blocks until the store answered.

    - ``claim(uids)``: one `Claim` per uid, in order, each decided atomically: NEW (now held by
      this store's owner, for ``claim_ttl`` seconds), DONE or BUSY.
    - ``finish(uids)``: record them as done (remembered for ``keep`` seconds).
    - ``release(uids)``: drop this owner's claims (the handler failed): a redelivery is NEW.
    - ``close()``: release the connection; idempotent.

    Failures of the store raise `mds.exceptions.CheckpointError`.
    """

    def claim(self, uids: Sequence[str]) -> list[Claim]: ...

    def finish(self, uids: Sequence[str]) -> None: ...

    def release(self, uids: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class OwnerToken:
    """A random token naming one store instance in one process. A process forked after the
    store was made (gunicorn ``--preload``) gets a token of its own, so that two workers never
    hold one claim under the same name."""

    __slots__ = ("_pid", "_value")

    def __init__(self) -> None:
        self._pid = -1
        self._value = ""

    @property
    def value(self) -> str:
        pid = os.getpid()
        if pid != self._pid:
            # "o:" keeps a token from ever reading as the store's "done" marker.
            self._value = "o:" + secrets.token_hex(12)
            self._pid = pid
        return self._value


def check_uids(uids: Sequence[str]) -> list[str]:
    """*uids* as a list of strings a store can write; an `mds.ApiTypeError` names the first
    item that is not a string.

    A uid that UTF-8 cannot encode (a lone surrogate, which JSON's ``\\ud800`` escape
    gives) is stored as a NUL and the hex of its bytes, so that it is recorded like any other
    instead of failing the whole batch."""
    if isinstance(uids, (str, bytes)):
        raise ApiTypeError("uids must be a sequence of strings, not a single string")
    values = list(uids)
    for index, uid in enumerate(values):
        if type(uid) is not str:
            raise ApiTypeError(f"a uid must be a string, not {type(uid).__name__}")
        if not uid.isascii():
            try:
                uid.encode("utf-8")
            except UnicodeEncodeError:
                values[index] = "\0" + uid.encode("utf-8", "surrogatepass").hex()
    return values
