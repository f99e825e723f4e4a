"""Text and JSON payloads: ``text/plain``, ``application/json`` and their LwM2M names.

Both take the raw bytes (base64 already decoded) and raise `PayloadDecodeError`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mds.exceptions import PayloadDecodeError

__all__ = ["decode_text", "parse_json"]

# A number exactly as JSON writes it: no '+', no leading zeros, no spaces, no 'nan' or 'inf'.
# Text such as "007" or " 5" is not a number: converting it would lose what the device sent.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def decode_text(raw: bytes) -> int | float | str:
    """The text, or the number it is when the whole text is a number as JSON writes it.

    An ``int`` for an integer, a ``float`` for a number with a fraction or an exponent (when
    finite), else the ``str`` exactly as sent (nothing trimmed). Raises `PayloadDecodeError`
    when *raw* is not UTF-8.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadDecodeError(f"text payload is not valid UTF-8: {exc}") from None
    first = text[:1]
    if not ("0" <= first <= "9" or first == "-"):
        return text  # most strings are done here, without the regex
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text
    if match.lastindex is None:  # neither fraction nor exponent
        try:
            return int(text)
        except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits)
            return text
    number = float(text)
    return number if math.isfinite(number) else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """The parsed JSON of a UTF-8 payload; ``NaN`` and ``Infinity``, which are not JSON, are
    refused. Raises `PayloadDecodeError`."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise PayloadDecodeError(f"JSON payload is not valid UTF-8: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise PayloadDecodeError(f"payload is not valid JSON: {exc}") from None
