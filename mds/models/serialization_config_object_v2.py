"""SerializationConfigObjectV2: the ``cfg`` flags of a channel's 2020 serialization."""

from __future__ import annotations

from mds.models._base import Model, field
from mds.models._fields import to_bool

__all__ = ["SerializationConfigObjectV2"]


class SerializationConfigObjectV2(Model):
    """What the service adds to the messages of a channel (each flag False by default):

    ``deregistrations_as_object``: ``de-registrations`` and ``registrations-expired`` items are
    objects (``ep`` plus the fields below) instead of device id strings;
    ``include_uid``: each item carries ``uid``, a message id for duplicate detection;
    ``include_timestamp``: ``timestamp``, when the service queued the item;
    ``include_original_ep``: ``original-ep``, the endpoint name the device registered with.
    Flags the service sends as ``"true"``/``"false"`` read as bools.
    """

    deregistrations_as_object: bool | None = field(
        "deregistrations_as_object", "bool", convert=to_bool
    )
    include_original_ep: bool | None = field("include_original_ep", "bool", convert=to_bool)
    include_timestamp: bool | None = field("include_timestamp", "bool", convert=to_bool)
    include_uid: bool | None = field("include_uid", "bool", convert=to_bool)

    def __init__(
        self,
        deregistrations_as_object: bool | None = None,
        include_original_ep: bool | None = None,
        include_timestamp: bool | None = None,
        include_uid: bool | None = None,
    ) -> None:
        self._data = {}
        self.deregistrations_as_object = deregistrations_as_object
        self.include_original_ep = include_original_ep
        self.include_timestamp = include_timestamp
        self.include_uid = include_uid
