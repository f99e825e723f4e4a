"""Values that several layers share and that belong to none of them: the "not given" sentinel
and the type of a timeout argument. Imports nothing of `mds`, so every module may use it."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["UNSET", "TimeoutArg", "Unset"]


class Unset:
    """The type of `UNSET`, the "not given" sentinel: lets ``_request_timeout=None`` mean "no
    timeout" while leaving the argument out means "the configured default"."""

    __slots__ = ()
    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"  # unpickles as this module's singleton


UNSET: Final[Any] = Unset()

#: ``float | tuple[float, float] | urllib3.Timeout | None | UNSET``: seconds for both connect and
#: read, a ``(connect, read)`` pair, a urllib3 Timeout, None for no timeout, or UNSET for the
#: configured default.
TimeoutArg = Any
