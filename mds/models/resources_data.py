"""ResourcesData: one resource a device declared when it registered."""

from __future__ import annotations

from mds.models._base import Model, field


class ResourcesData(Model):
    """A resource of a registering device: ``path``, ``ct``, ``obs``, ``rt`` and ``_if`` (JSON ``if``)."""

    path: str | None = field("path", "str")  # resource URI path, e.g. /3303/0/5700
    ct: str | None = field("ct", "str")  # content type
    obs: bool | None = field("obs", "bool")  # whether the resource is observable
    rt: str | None = field("rt", "str")  # resource type(s), space separated
    _if: str | None = field("if", "str")  # interface description, e.g. sensor

    def __init__(
        self,
        path: str | None = None,
        ct: str | None = None,
        obs: bool | None = None,
        rt: str | None = None,
        _if: str | None = None,
    ) -> None:
        self._data = {}
        self.path = path
        self.ct = ct
        self.obs = obs
        self.rt = rt
        self._if = _if
