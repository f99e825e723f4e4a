"""EndpointData: a device that registered or updated its registration."""

from __future__ import annotations

from mds.models._base import Model, field
from mds.models.resources_data import ResourcesData


class EndpointData(Model):
    """A device registration: ``ep`` (device id), ``ept`` (endpoint type), ``original_ep``
    (JSON ``original-ep``), ``q`` (queue mode) and ``resources`` (never None)."""

    ep: str | None = field("ep", "str")  # device id
    ept: str | None = field("ept", "str")  # endpoint type
    original_ep: str | None = field("original-ep", "str")  # the name the device registered with
    q: bool | None = field("q", "bool")  # queue mode
    resources: list[ResourcesData] = field(
        "resources", "list[ResourcesData]", model=ResourcesData, is_list=True
    )

    def __init__(
        self,
        ep: str | None = None,
        ept: str | None = None,
        original_ep: str | None = None,
        q: bool | None = None,
        resources: list[ResourcesData] | None = None,
    ) -> None:
        self._data = {}
        self.ep = ep
        self.ept = ept
        self.original_ep = original_ep
        self.q = q
        self.resources = resources  # type: ignore[assignment]  # None reads as []
