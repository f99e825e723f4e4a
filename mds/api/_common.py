"""What the API classes share: the async flag's two spellings and the checks of query values."""

from __future__ import annotations

from typing import Any

from mds.exceptions import ApiTypeError, ApiValueError

__all__ = ["bounded_int", "flag", "is_async"]


def is_async(async_req: bool, asynchronous: bool | None) -> bool:
    """Whether the call runs on the client's pool (``asynchronous`` is the name the service's
    earlier client used for ``async_req``)."""
    return bool(async_req or asynchronous)


def flag(value: bool | None, name: str) -> str | None:
    """A boolean query parameter as the service spells it (``true``/``false``), None if not
    given. Raises `ApiTypeError` for anything but a bool."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiTypeError(f"{name} must be True or False, got {type(value).__name__}")
    return "true" if value else "false"


def bounded_int(value: Any, name: str, low: int, high: int) -> int:
    """An integer query parameter checked against the service's range before sending.

    Raises `ApiTypeError` when *value* is not an int (a bool is not), `ApiValueError` when it is
    outside ``low..high``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ApiValueError(f"Invalid value for `{name}`: {value}; it must be {low} to {high}")
    return value
