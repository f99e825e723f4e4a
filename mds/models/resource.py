"""Resource: one resource of a device, as ``GET /v2/endpoints/{device-id}`` lists it.

Exported from `mds` as ``EndpointResource``: ``mds.Resource`` is the event class of a resource a
device registered (`mds.events.Resource`).
"""

from __future__ import annotations

from mds.models._base import Model, field
from mds.models._fields import to_bool

__all__ = ["Resource"]


class Resource(Model):
    """A resource of a device's resource structure: ``uri`` (its path, such as
    ``/3303/0/5700``; required), ``obs`` (whether it can be subscribed to; ``"true"`` reads as
    True), ``type`` (its content type) and ``rt`` (its application-specific resource type)."""

    uri: str | None = field("uri", "str")  # the resource path
    obs: bool | None = field("obs", "bool", convert=to_bool)  # observable
    type: str | None = field("type", "str")  # content type
    rt: str | None = field("rt", "str")  # resource type, application specific

    def __init__(
        self,
        uri: str | None = None,
        obs: bool | None = None,
        type: str | None = None,  # noqa: A002 - the wire's own name
        rt: str | None = None,
    ) -> None:
        self._data = {}
        self.uri = uri
        self.obs = obs
        self.type = type
        self.rt = rt
