"""What the property-based fuzz tests (``test/test_fuzz_*.py``) share: their hypothesis
settings and the strategies of the wire's values.

The settings are one profile, applied per test with ``@fuzz()`` (never loaded globally, so the
other hypothesis tests keep their defaults):

* ``max_examples``: ``MDS_FUZZ_EXAMPLES`` from the environment, 2000 by default, per target;
  a target that is slow per example (a real server, raw sockets) takes a share of it;
* ``deadline=None``: a slow example on a loaded machine is not a finding;
* ``derandomize=True`` when ``CI=true``: CI runs the same examples every time, so that a red
  build can be replayed; elsewhere each run explores new ones;
* no example database: the tree stays clean, and a failure prints the example to replay
  (``print_blob``), which then stays as an explicit ``@example`` regression test.

Run longer locally with, e.g., ``MDS_FUZZ_EXAMPLES=50000 python -m pytest test/test_fuzz_*.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "CONTENT_TYPES",
    "EXAMPLES",
    "content_types",
    "fuzz",
    "header_names",
    "header_values",
    "json_values",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Examples per target: ``MDS_FUZZ_EXAMPLES`` or 2000.
EXAMPLES = max(1, int(os.environ.get("MDS_FUZZ_EXAMPLES") or 2000))

#: Whether this run is CI's (reproducible examples).
IN_CI = os.environ.get("CI", "").lower() == "true"

settings.register_profile(
    "mds-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=IN_CI,
    database=None,
    print_blob=True,
    # Servers and large generated bodies are slow to set up on a loaded machine; the example
    # counts are what this suite promises, not a speed.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


def fuzz(share: float = 1.0) -> Callable[[F], F]:
    """The fuzz profile as a decorator; *share* of `EXAMPLES` for targets slow per example."""
    profile = settings.get_profile("mds-fuzz")
    return settings(profile, max_examples=max(1, int(EXAMPLES * share)))


# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------

#: Every content type the payload decoders know, and a few they do not.
CONTENT_TYPES = (
    "text/plain",
    "application/vnd.oma.lwm2m+text",
    "application/json",
    "application/vnd.oma.lwm2m+json",
    "application/senml+json",
    "application/vnd.oma.lwm2m+tlv",
    "application/nanoservice-tlv",
    "application/octet-stream",
    "application/vnd.oma.lwm2m+opaq",
    "application/link-format",
)


def _odd_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))
    )


def content_types() -> st.SearchStrategy[str | None]:
    """A known content type (odd case, with parameters and spaces), or any text, or None."""
    known = st.sampled_from(CONTENT_TYPES).flatmap(_odd_case)
    with_parameters = st.tuples(
        known, st.sampled_from(["", " ", "\t"]), st.sampled_from(["", ";", "; charset=utf-8", ";;x"])
    ).map("".join)
    return st.one_of(st.none(), known, with_parameters, st.text(max_size=40))


#: JSON values (what ``json.loads`` gives), nested a few levels.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)

#: Header names as HTTP carries them (tokens), and some that no client should send.
header_names = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
            min_size=1, max_size=20),
    st.sampled_from(["Authorization", "Content-Type", "Content-Length", "Transfer-Encoding",
                     "Connection", "Upgrade", "Expect", "Host"]),
)

#: Header values: Latin-1 text without line breaks (what an HTTP library can put on the wire).
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
