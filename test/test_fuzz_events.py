"""Fuzzing the event layer: `mds.events.events_from_message` on any message turns every item
into an event (with ``error`` set when the item is malformed) and never raises, and every event
can be read, compared, hashed, shown and pickled.

The listener, the webhook receiver and `mds.aio` hand every batch to this layer: an exception
here would stop a whole batch because of one device's item.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import fuzz, json_values, messages, mutated_messages
from mds.events import AsyncResponse, Event, ResourceChanged, event_list, events_from_message


def _read_everything(event: Event) -> None:
    for name in getattr(event, "__dataclass_fields__", ()):
        getattr(event, name)
    assert event == pickle.loads(pickle.dumps(event))
    hash(event)
    repr(event)


@fuzz(share=0.5)
@given(message=st.one_of(mutated_messages(), messages,
                         st.dictionaries(st.sampled_from(["notifications", "async-responses",
                                                          "registrations", "x"]),
                                         json_values, max_size=3)))
def test_every_item_becomes_an_event_and_nothing_raises(message: dict[str, Any]) -> None:
    events = list(events_from_message(message))
    assert events == event_list(message)
    for event in events:
        _read_everything(event)


@pytest.mark.parametrize("status", ["\u00b2", "9" * 5000, " \u0663 "])
def test_an_async_status_int_cannot_read_is_an_error_of_its_event(status: str) -> None:
    """Regression (found by fuzzing): a status such as ``"²"`` (``str.isdigit`` is true for it,
    ``int()`` refuses it) raised ValueError out of ``events_from_message``, losing the batch."""
    message = {"async-responses": [{"id": "a1", "status": status}, {"id": "a2", "status": 200}]}
    first, second = events_from_message(message)
    assert isinstance(first, AsyncResponse)
    assert first.status == 0
    assert first.error is not None
    assert "'status' is not an int" in first.error
    assert isinstance(second, AsyncResponse)
    assert second.ok


@pytest.mark.parametrize("max_age", ["\u0663", "1_0", "9" * 5000])
def test_a_max_age_that_is_not_an_ascii_number_is_an_error_of_its_event(max_age: str) -> None:
    """The event layer reads numbers as the models do (`mds.models` keeps these as sent)."""
    (event,) = events_from_message(
        {"notifications": [{"ep": "d", "path": "/1/0/1", "max-age": max_age}]}
    )
    assert isinstance(event, ResourceChanged)
    assert event.max_age is None
    assert event.error is not None
    assert "'max-age' is not a whole number" in event.error
