"""SenML JSON payloads (``application/senml+json``, RFC 8428): a pack resolved into records."""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass
from typing import Any

from mds.exceptions import PayloadDecodeError
from mds.payload._text import parse_json

__all__ = ["SENML_ABSOLUTE_TIME", "SenmlRecord", "SenmlValue", "decode_senml", "resolve_senml"]

#: Seconds since 1970 from this value on; smaller times are relative to "now" (RFC 8428 §4.5.3).
SENML_ABSOLUTE_TIME = 2**28

SenmlValue = float | int | str | bool | bytes


@dataclass(frozen=True, slots=True)
class SenmlRecord:
    """One resolved SenML record (RFC 8428 §4.6): base fields already applied.

    ``name`` is base name + name; ``time`` is base time + time (0 when neither is given);
    ``unit`` is the unit, else the base unit, else None; ``value`` is the record's value with
    the base value added: a number (``v``), ``str`` (``vs``), ``bool`` (``vb``) or ``bytes``
    (``vd``, already base64url-decoded), or None for a record that carries only a sum;
    ``sum`` and ``update_time`` likewise; ``version`` is the pack's ``bver`` (10 by default).
    """

    name: str
    time: float
    unit: str | None = None
    value: SenmlValue | None = None
    sum: float | None = None
    update_time: float | None = None
    version: int = 10

    @property
    def time_kind(self) -> str:
        """``"absolute"`` (seconds since 1970, ``time >= 2**28``) or ``"relative"`` (to now)."""
        return "absolute" if self.time >= SENML_ABSOLUTE_TIME else "relative"

    def absolute_time(self, now: float | None = None) -> float:
        """Seconds since 1970: ``time`` itself if absolute, else *now* (default: the current
        time) plus ``time``."""
        if self.time >= SENML_ABSOLUTE_TIME:
            return self.time
        return (time.time() if now is None else now) + self.time

    def to_dict(self) -> dict[str, Any]:
        """The record in RFC 8428 resolved form (labels ``n``, ``t``, ``u``, ``v``/``vs``/``vb``/
        ``vd``, ``s``, ``ut``; ``bver`` only when not 10), ready for ``json.dumps``."""
        out: dict[str, Any] = {"n": self.name, "t": self.time}
        if self.unit is not None:
            out["u"] = self.unit
        value = self.value
        if isinstance(value, bool):
            out["vb"] = value
        elif isinstance(value, bytes):
            out["vd"] = base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
        elif isinstance(value, str):
            out["vs"] = value
        elif value is not None:
            out["v"] = value
        if self.sum is not None:
            out["s"] = self.sum
        if self.update_time is not None:
            out["ut"] = self.update_time
        if self.version != 10:
            out["bver"] = self.version
        return out


_STRINGS = ("bn", "bu", "n", "u", "vs", "vd")
_NUMBERS = ("bt", "bv", "bs", "t", "v", "s", "ut")
_VALUES = ("v", "vs", "vb", "vd")


def _is_number(item: Any) -> bool:
    return (type(item) is int or type(item) is float) and math.isfinite(item)


def _check_labels(record: dict[str, Any], index: int) -> None:
    for label, item in record.items():
        if label.endswith("_"):
            raise PayloadDecodeError(
                f"SenML record {index} has the field {label!r}, which must be understood"
                " (its label ends with '_') and is not"
            )
        if label in _STRINGS:
            if type(item) is not str:
                raise PayloadDecodeError(f"SenML record {index}: {label!r} must be a string")
        elif label in _NUMBERS:
            if not _is_number(item):
                raise PayloadDecodeError(f"SenML record {index}: {label!r} must be a number")
        elif label == "vb":
            if type(item) is not bool:
                raise PayloadDecodeError(f"SenML record {index}: 'vb' must be true or false")
        elif label == "bver" and type(item) is not int:
            raise PayloadDecodeError(f"SenML record {index}: 'bver' must be an integer")


def resolve_senml(pack: Any) -> list[SenmlRecord]:
    """The records of a parsed SenML pack (a JSON array), resolved (RFC 8428 §4.6).

    Base name, time, unit, value and sum apply to the record that carries them and every
    record after it; a record without a value or sum yields nothing but its base fields still
    apply. Labels ending in ``_`` make the pack invalid (RFC 8428 §4.4); other unknown labels
    are ignored. Raises `PayloadDecodeError`.
    """
    if not isinstance(pack, list):
        raise PayloadDecodeError(f"a SenML pack is a JSON array, not {type(pack).__name__}")
    base_name = ""
    base_time: float = 0
    base_unit: str | None = None
    base_value: float = 0
    base_sum: float = 0
    version = 10
    out: list[SenmlRecord] = []
    for index, record in enumerate(pack):
        if not isinstance(record, dict):
            raise PayloadDecodeError(f"SenML record {index} is not a JSON object")
        _check_labels(record, index)
        base_name = record.get("bn", base_name)
        base_time = record.get("bt", base_time)
        base_unit = record.get("bu", base_unit)
        base_value = record.get("bv", base_value)
        base_sum = record.get("bs", base_sum)
        version = record.get("bver", version)
        present = [label for label in _VALUES if label in record]
        if len(present) > 1:
            raise PayloadDecodeError(f"SenML record {index} has more than one value: {present}")
        value: SenmlValue | None = None
        if present:
            label = present[0]
            value = record[label]
            if label == "v":
                value = base_value + record["v"]
            elif label == "vd":
                value = _decode_base64url(record["vd"], index)
        total = base_sum + record["s"] if "s" in record else None
        if value is None and total is None:
            continue  # a record of base fields only: no resolved record (RFC 8428 §4.6)
        name = base_name + record.get("n", "")
        if not name:
            raise PayloadDecodeError(f"SenML record {index} has no name (neither 'bn' nor 'n')")
        out.append(
            SenmlRecord(
                name=name,
                time=base_time + record.get("t", 0),
                unit=record.get("u", base_unit),
                value=value,
                sum=total,
                update_time=record.get("ut"),
                version=version,
            )
        )
    return out


def _decode_base64url(text: str, index: int) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise PayloadDecodeError(f"SenML record {index}: 'vd' is not base64url") from None


def decode_senml(raw: bytes) -> list[SenmlRecord]:
    """The resolved records of a SenML JSON payload's bytes. Raises `PayloadDecodeError`."""
    return resolve_senml(parse_json(raw))
