"""ResourcesData: one resource a device declared when it registered."""

from __future__ import annotations

from mds.models._base import Field, Model


class ResourcesData(Model):
    """A resource of a registering device: ``path``, ``ct``, ``obs``, ``rt`` and ``_if`` (JSON ``if``)."""

    __slots__ = ()
    path = Field("path", "str", doc="Resource URI path, e.g. /3303/0/5700.")
    ct = Field("ct", "str", doc="Content type.")
    obs = Field("obs", "bool", doc="Whether the resource is observable.")
    rt = Field("rt", "str", doc="Resource type(s), space separated.")
    _if = Field("if", "str", doc="Interface description, e.g. sensor.")

    def __init__(
        self,
        path: str | None = None,
        ct: str | None = None,
        obs: bool | None = None,
        rt: str | None = None,
        _if: str | None = None,
    ) -> None:
        self._init_fields({"path": path, "ct": ct, "obs": obs, "rt": rt, "_if": _if})
