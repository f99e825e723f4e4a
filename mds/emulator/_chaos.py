"""Seeded chaos: faults the emulator injects by itself, at random but replayable from a seed.

:func:`parse_chaos` validates a chaos spec (the keywords of ``Emulator.set_chaos``, the JSON of
``PUT /_emulator/chaos``) into a :class:`ChaosSettings`; :class:`Chaos` makes the decisions and
records every fault it injected.

Determinism: every *decision site* (a kind of fault at one place for one API key, e.g.
``websocket.drop`` on the socket of key K, or ``rest.503`` on ``GET /v2/notification/pull`` for
key K) draws from its own :class:`random.Random`, seeded from the seed and the site's name with
:func:`zlib.crc32` (stable across processes, unlike :func:`hash`). Sites never share a stream,
so concurrent clients cannot reorder each other's draws: the same seed and the same requests
give the same faults in the same order.
"""

from __future__ import annotations

import collections
import hashlib
import math
import random
import threading
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "KINDS",
    "REST_STATUSES",
    "Chaos",
    "ChaosSettings",
    "key_id",
    "parse_chaos",
]

#: Answers a REST chaos fault replaces the real one with, by kind.
REST_STATUSES: Final = {
    "rest.429": 429,
    "rest.500": 500,
    "rest.502": 502,
    "rest.503": 503,
    "rest.504": 504,
}

#: Every kind of fault chaos injects, in the order a site draws them.
KINDS: Final = (
    *REST_STATUSES,
    "rest.latency",
    "long_poll.410",
    "long_poll.early_204",
    "long_poll.drop",
    "websocket.drop",
    "websocket.drop_mid_frame",
    "websocket.close_1001",
    "websocket.close_1011",
    "websocket.close_1012",
    "websocket.slow",
    "webhook.retry",
    "channel.expiry",
)


def key_id(api_key: str | None) -> str:
    """A short, stable name for ``api_key`` that does not reveal it (records never hold keys)."""
    if not api_key:
        return "-"
    return "key-" + hashlib.sha256(api_key.encode("utf-8", "replace")).hexdigest()[:10]


@dataclass(frozen=True)
class ChaosSettings:
    """What chaos injects: a probability per kind, the seed, and the REST endpoints it may hit.

    ``probabilities`` holds every kind of :data:`KINDS`; ``endpoints`` (``"METHOD /path"``
    each) limits the ``rest.*`` kinds, ``None`` for every client-facing endpoint.
    """

    probability: float
    seed: int
    probabilities: Mapping[str, float]
    endpoints: frozenset[str] | None

    def chance(self, kind: str) -> float:
        """The probability of ``kind`` at each of its decisions."""
        return self.probabilities.get(kind, 0.0)

    def wire(self) -> dict[str, Any]:
        """The settings as JSON (what ``PUT /_emulator/chaos`` accepts)."""
        return {
            "probability": self.probability,
            "seed": self.seed,
            "faults": dict(self.probabilities),
            "endpoints": sorted(self.endpoints) if self.endpoints is not None else None,
        }


def _probability(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise ValueError(f"{name} must be a probability between 0 and 1")
    return float(value)


def parse_chaos(
    spec: Mapping[str, Any], endpoints: Collection[str], default_seed: int
) -> ChaosSettings | None:
    """Validate a chaos spec: ``{"probability", "seed", "faults", "endpoints"}``.

    Args:
        spec: ``probability`` (``None`` turns chaos off), ``seed`` (an integer; missing:
            ``default_seed``), ``faults`` (``{kind: probability}``, overriding
            ``probability`` for those kinds), ``endpoints`` (REST endpoints the ``rest.*``
            kinds may hit, ``"METHOD /path"`` each; ``None``: all of them).
        endpoints: The endpoints that may be named.
        default_seed: The seed to use when the spec gives none.

    Returns:
        The settings, or ``None`` when chaos is off.

    Raises:
        ValueError: For an unknown key or kind, a probability outside [0, 1], a seed that is
            not an integer, or an unknown endpoint.
    """
    unknown = set(spec) - {"probability", "seed", "faults", "endpoints"}
    if unknown:
        raise ValueError(f"unknown chaos option(s): {', '.join(sorted(map(str, unknown)))}")
    if spec.get("probability") is None:
        return None
    probability = _probability(spec["probability"], "probability")
    seed = spec.get("seed")
    if seed is None:
        seed = default_seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    faults = spec.get("faults") or {}
    if not isinstance(faults, Mapping):
        raise ValueError("faults must map kinds of fault to probabilities")
    probabilities = dict.fromkeys(KINDS, probability)
    for kind, chance in faults.items():
        if kind not in probabilities:
            raise ValueError(f"unknown kind of fault {kind!r}: one of {', '.join(KINDS)}")
        probabilities[kind] = _probability(chance, f"the probability of {kind}")
    allowed = spec.get("endpoints")
    chosen: frozenset[str] | None = None
    if allowed is not None:
        if isinstance(allowed, str) or not isinstance(allowed, Collection):
            raise ValueError("endpoints must be a list of 'METHOD /path' strings")
        chosen = frozenset(str(endpoint) for endpoint in allowed)
        strangers = chosen - set(endpoints)
        if strangers:
            raise ValueError(
                f"unknown endpoint(s) {', '.join(sorted(strangers))}: "
                f"one of {', '.join(sorted(endpoints))}"
            )
    return ChaosSettings(probability, seed, probabilities, chosen)


class Chaos:
    """Decides, per decision site, whether a fault strikes, and records every fault injected.

    Thread-safe (its own lock; never calls out while holding it).

    Args:
        record_limit: Most fault records kept (oldest dropped first); the counts per kind go
            on past it.
    """

    def __init__(self, record_limit: int) -> None:
        self._lock = threading.Lock()
        self._settings: ChaosSettings | None = None
        self._sites: dict[str, random.Random] = {}
        self._records: collections.deque[dict[str, Any]] = collections.deque(maxlen=record_limit)
        self._counts: collections.Counter[str] = collections.Counter()
        self._sequence = 0

    @property
    def settings(self) -> ChaosSettings | None:
        """The chaos in force; ``None`` when it is off."""
        return self._settings

    def configure(self, settings: ChaosSettings | None) -> None:
        """Put ``settings`` in force (``None``: off); every site starts its draws afresh."""
        with self._lock:
            self._settings = settings
            self._sites.clear()

    def reset(self) -> None:
        """Forget the records and counts; sites start their draws afresh from the seed."""
        with self._lock:
            self._sites.clear()
            self._records.clear()
            self._counts.clear()
            self._sequence = 0

    def roll(self, kind: str, where: str, api_key: str | None) -> random.Random | None:
        """One decision of ``kind`` at ``where`` for ``api_key``.

        Returns:
            The site's generator when the fault strikes (draw its details from it, so they
            replay too), else ``None``.
        """
        settings = self._settings
        if settings is None:
            return None
        chance = settings.chance(kind)
        if chance <= 0:
            return None
        if kind in REST_STATUSES or kind == "rest.latency":
            if settings.endpoints is not None and where not in settings.endpoints:
                return None
        generator = self.site(kind, where, api_key)
        with self._lock:
            return generator if generator.random() < chance else None

    def site(self, kind: str, where: str, api_key: str | None) -> random.Random:
        """The generator of one decision site (draw a struck fault's details from it)."""
        name = f"{kind}|{where}|{key_id(api_key)}"
        with self._lock:
            generator = self._sites.get(name)
            if generator is None:
                seed = self._settings.seed if self._settings is not None else 0
                generator = random.Random(seed * 2**32 + zlib.crc32(name.encode()))
                self._sites[name] = generator
            return generator

    def record(self, kind: str, where: str, api_key: str | None, time: float, **details: Any) -> None:
        """Record an injected fault: its kind, where, the key's id, the clock's time, details."""
        with self._lock:
            self._sequence += 1
            self._counts[kind] += 1
            self._records.append(
                {
                    "sequence": self._sequence,
                    "kind": kind,
                    "where": where,
                    "key": key_id(api_key),
                    "time": time,
                    **details,
                }
            )

    def report(self) -> dict[str, Any]:
        """``{"settings", "faults", "counts", "faults_dropped"}`` (JSON-able copies)."""
        with self._lock:
            settings = self._settings
            records = [dict(record) for record in self._records]
            counts = dict(sorted(self._counts.items()))
            dropped = self._sequence - len(records)
        return {
            "settings": settings.wire() if settings is not None else None,
            "faults": records,
            "counts": counts,
            "faults_dropped": dropped,
        }
