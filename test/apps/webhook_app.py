"""The WSGI app that test_webhook_gunicorn.py serves with gunicorn's workers: a webhook
receiver sharing a Redis checkpoint, whose handler appends every uid it gets (with the worker's
pid) to a Redis list that the test reads afterwards.

Configured by the environment: MDS_TEST_REDIS_URL, MDS_TEST_LIST, MDS_TEST_SECRET.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from mds.webhook_receiver import WebhookReceiver

_REDIS_URL = os.environ["MDS_TEST_REDIS_URL"]
_LIST = os.environ["MDS_TEST_LIST"]
_log = redis.Redis.from_url(_REDIS_URL)


def on_event(event: Any) -> None:
    time.sleep(0.002)  # some work, so that repeats of a batch overlap it in other workers
    _log.rpush(_LIST, f"{event.uid} {os.getpid()}")


# The deployment docs/Delivery-guarantees.md shows: one receiver per worker, one Redis URL.
app = WebhookReceiver(
    {"authorization": os.environ["MDS_TEST_SECRET"]},
    on_event=on_event,
    checkpoint=_REDIS_URL,
)
