"""EndpointData: a device that registered or updated its registration."""

from __future__ import annotations

from mds.models._base import Field, Model
from mds.models.resources_data import ResourcesData


class EndpointData(Model):
    """A device registration: ``ep`` (device id), ``ept`` (endpoint type), ``original_ep``
    (JSON ``original-ep``), ``q`` (queue mode) and ``resources`` (never None)."""

    __slots__ = ()
    ep = Field("ep", "str", doc="Device id.")
    ept = Field("ept", "str", doc="Endpoint type.")
    original_ep = Field("original-ep", "str", doc="The endpoint name the device registered with.")
    q = Field("q", "bool", doc="Queue mode.")
    resources = Field("resources", "list[ResourcesData]", model="ResourcesData", is_list=True)

    def __init__(
        self,
        ep: str | None = None,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool | None = None,
        resources: list[ResourcesData] | None = None,
    ) -> None:
        self._init_fields(
            {"ep": ep, "ept": ept, "original_ep": original_ep, "q": q, "resources": resources}
        )
