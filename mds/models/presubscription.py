"""Presubscription: one rule of ``PUT /v2/subscriptions``, and the check of a rule set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mds.exceptions import ApiTypeError, ApiValueError
from mds.models._base import Model, field

__all__ = [
    "MAX_PRESUBSCRIPTIONS",
    "MAX_PRESUBSCRIPTION_NAME",
    "MAX_PRESUBSCRIPTION_PATH",
    "MAX_PRESUBSCRIPTION_PATHS",
    "Presubscription",
    "check_presubscriptions",
]

#: The service's limits on a presubscription set (``PUT /v2/subscriptions``).
MAX_PRESUBSCRIPTION_NAME = 64  # characters of an endpoint name or type
MAX_PRESUBSCRIPTION_PATH = 128  # characters of a resource path
MAX_PRESUBSCRIPTION_PATHS = 256  # separate resource paths in all
MAX_PRESUBSCRIPTIONS = 1024  # entries


class Presubscription(Model):
    """A rule the service applies when a device registers or updates its registration: the
    device's resources it matches are subscribed to.

    ``endpoint_name`` (JSON ``endpoint-name``; a trailing ``*`` matches a prefix),
    ``endpoint_type`` (JSON ``endpoint-type``) and ``resource_path`` (JSON ``resource-path``,
    a list of paths, each with an optional trailing ``*``; never None). A field left out
    matches everything: ``Presubscription(endpoint_type="Sensor")`` subscribes to every
    observable resource of every ``Sensor``.
    """

    endpoint_name: str | None = field("endpoint-name", "str")  # device id, trailing * allowed
    endpoint_type: str | None = field("endpoint-type", "str")  # endpoint type
    resource_path: list[str] = field("resource-path", "list[str]", is_list=True)  # patterns

    def __init__(
        self,
        endpoint_name: str | None = None,
        endpoint_type: str | None = None,
        resource_path: list[str] | None = None,
    ) -> None:
        self._data = {}
        self.endpoint_name = endpoint_name
        self.endpoint_type = endpoint_type
        self.resource_path = resource_path  # type: ignore[assignment]  # None reads as []


def check_presubscriptions(presubscriptions: Any) -> list[Presubscription]:
    """Check a presubscription set against the service's limits, before anything is sent, and
    return it as a list of `Presubscription` (dicts of JSON keys or attribute names are
    accepted too). An empty list is valid: it removes every rule.

    Raises `ApiValueError` when the set is missing, has more than 1024 entries or 256 separate
    resource paths, an endpoint name or type is empty, longer than 64 characters or has a ``*``
    before its end, or a resource path does not start with ``/``, is longer than 128
    characters, contains whitespace or a ``*`` before its end; `ApiTypeError` when the set is
    not a list (or tuple) or an entry or value has the wrong type.
    """
    if presubscriptions is None:
        raise ApiValueError(
            "Missing the required parameter `presubscriptions` when calling "
            "`update_pre_subscriptions`"
        )
    if isinstance(presubscriptions, (str, bytes, dict, Model)) or not isinstance(
        presubscriptions, (list, tuple)
    ):
        raise ApiTypeError(
            "presubscriptions must be a list of mds.Presubscription or dicts, got "
            f"{type(presubscriptions).__name__}"
        )
    if len(presubscriptions) > MAX_PRESUBSCRIPTIONS:
        raise ApiValueError(
            f"{len(presubscriptions)} presubscriptions; the service allows at most "
            f"{MAX_PRESUBSCRIPTIONS}"
        )
    rules = [_rule(entry, index) for index, entry in enumerate(presubscriptions)]
    paths = {path for rule in rules for path in rule.resource_path}
    if len(paths) > MAX_PRESUBSCRIPTION_PATHS:
        raise ApiValueError(
            f"{len(paths)} separate resource paths; the service allows at most "
            f"{MAX_PRESUBSCRIPTION_PATHS}"
        )
    return rules


def _rule(entry: Any, index: int) -> Presubscription:
    if isinstance(entry, dict):
        entry = Presubscription.from_dict(entry)
    if not isinstance(entry, Presubscription):
        raise ApiTypeError(
            f"presubscriptions[{index}] must be a mds.Presubscription or a dict, got "
            f"{type(entry).__name__}"
        )
    for name in ("endpoint_name", "endpoint_type"):
        _check_pattern(getattr(entry, name), f"presubscriptions[{index}].{name}",
                       MAX_PRESUBSCRIPTION_NAME, slash=False)
    _check_paths(entry.resource_path, f"presubscriptions[{index}].resource_path")
    return entry


def _check_paths(paths: Iterable[Any], where: str) -> None:
    for path in paths:
        _check_pattern(path, where, MAX_PRESUBSCRIPTION_PATH, slash=True)


def _check_pattern(value: Any, where: str, limit: int, *, slash: bool) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ApiTypeError(f"{where} must be a string, got {type(value).__name__}")
    if not value or len(value) > limit:
        raise ApiValueError(f"{where} {value!r} must have 1 to {limit} characters")
    if "*" in value[:-1]:
        raise ApiValueError(f"{where} {value!r}: '*' is allowed only at the end")
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise ApiValueError(f"{where} {value!r} contains whitespace or a control character")
    if slash and not value.startswith("/"):
        raise ApiValueError(f"{where} {value!r} must start with '/' (e.g. '/3303/0/5700')")
