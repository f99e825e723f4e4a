"""The public surface: ``__all__`` and the package's names agree, and the docs list them."""

from __future__ import annotations

import importlib
from pathlib import Path

import mds

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_matches_public_names() -> None:
    assert mds.__all__ == sorted(mds.__all__)
    public = {
        name for name in vars(mds)
        if not name.startswith("_") and not isinstance(getattr(mds, name), type(mds))
    }
    lazy = set(mds._LAZY)  # loaded on first access
    assert public | lazy == set(mds.__all__) - {"__version__"}
    for name in mds.__all__:
        assert getattr(mds, name) is not None, name


def test_every_exported_name_resolves_to_its_module() -> None:
    for name in mds.__all__:
        obj = getattr(mds, name)
        module = getattr(obj, "__module__", "mds")
        assert module.startswith("mds"), (name, module)
        importlib.import_module(module)


#: Models exported from `mds` under another name, because `mds.<name>` already meant something
#: else: `mds.Resource` is the event class of a resource a device registered.
MODEL_ALIASES = {"Resource": "EndpointResource"}


def test_models_importable_from_both_places() -> None:
    for name in mds.models.__all__:
        assert getattr(mds, MODEL_ALIASES.get(name, name)) is getattr(mds.models, name), name


def test_resource_keeps_its_meaning_and_the_spec_model_has_an_alias() -> None:
    from mds.events import Resource

    assert mds.Resource is Resource
    assert mds.EndpointResource is mds.models.Resource
    assert mds.EndpointResource.__module__ == "mds.models.resource"
    assert mds.EndpointResource.from_dict({"uri": "/3303/0/5700"}).uri == "/3303/0/5700"


def test_exceptions_reexported_from_rest_as_generated_code_imports_them() -> None:
    from mds.rest import ApiException

    assert ApiException is mds.ApiException


def test_every_public_class_has_a_docs_page() -> None:
    for name in [*mds.api.__all__, *mds.models.__all__]:
        assert (ROOT / "docs" / f"{name}.md").is_file(), name


def test_every_api_class_is_exported() -> None:
    assert set(mds.api.__all__) == {
        "DeviceRequestsApi", "EndpointsApi", "NotificationsApi", "ResourcesApi", "SubscriptionsApi",
    }
    for name in mds.api.__all__:
        assert getattr(mds, name) is getattr(mds.api, name)


def test_dir_lists_the_names_loaded_on_first_use() -> None:
    names = dir(mds)
    assert "NotificationListener" in names
    assert set(mds.__all__) <= set(names)


def test_the_asyncio_face_has_its_own_all_and_is_not_in_the_facade() -> None:
    import mds.aio

    assert mds.aio.__all__ == sorted(mds.aio.__all__)
    public = {name for name in vars(mds.aio) if not name.startswith("_")
              and not isinstance(getattr(mds.aio, name), type(mds))}
    assert public - {"annotations"} == set(mds.aio.__all__)
    for name in mds.aio.__all__:
        assert getattr(mds.aio, name).__module__.startswith("mds.aio."), name
    # The asyncio classes are their own, not the synchronous ones under another name.
    assert not issubclass(mds.aio.NotificationListener, mds.NotificationListener)
    assert not issubclass(mds.aio.WebhookReceiver, mds.WebhookReceiver)

