"""Channel management next to the API it calls (`mds.api.channels`, re-exported by
`mds.listener`): which channel a key has, and deleting one."""

from __future__ import annotations

import json

import pytest

import mds
from mds.api.channels import channel_conflict, delete_channel
from mds.emulator import Emulator
from mds.listener import LONG_POLL, WEBHOOK, WEBSOCKET, existing_channel

CHANNEL = "GET /v2/notification/channel"


def test_existing_channel_on_a_service_that_cannot_say(mds_emulator: Emulator,
                                                        mds_client: mds.ApiClient) -> None:
    assert existing_channel(mds_client) is None
    mds.NotificationsApi(mds_client).register_websocket()
    assert existing_channel(mds_client) == WEBSOCKET
    mds_emulator.add_fault(endpoint=CHANNEL, status=404)  # a service from before 2020: probed
    assert existing_channel(mds_client) == WEBSOCKET
    mds_emulator.add_fault(endpoint=CHANNEL, status=200,
                           body=json.dumps({"delivery_mechanism": "CARRIER_PIGEON"}))
    assert existing_channel(mds_client) == WEBSOCKET  # an answer it does not know: probed


def test_delete_channel_says_whether_there_was_one(mds_emulator: Emulator,
                                                   mds_client: mds.ApiClient) -> None:
    api = mds.NotificationsApi(mds_client)
    api.register_websocket()
    assert delete_channel(api, WEBSOCKET) is True
    assert delete_channel(api, WEBSOCKET) is False
    assert delete_channel(api, WEBHOOK) is False
    with pytest.raises(ValueError, match="pigeon"):
        delete_channel(api, "pigeon")
    assert existing_channel(mds_client) is None


def test_channel_conflict_names_the_channel_in_the_way() -> None:
    refusal = mds.BadRequestException(400, "Bad Request", '{"message": "other type", '
                                      '"request_id": "r7"}')
    conflict = channel_conflict(refusal, LONG_POLL)
    assert (conflict.status, conflict.channel, conflict.request_id) == (400, LONG_POLL, "r7")
    assert "existing channel: long-poll" in str(conflict)
    bare = channel_conflict(None, WEBHOOK, "in the way")
    assert (bare.status, bare.reason, bare.channel) == (400, "in the way", WEBHOOK)
    assert isinstance(bare, mds.ConflictException)
