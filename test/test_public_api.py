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


def test_models_importable_from_both_places() -> None:
    for name in mds.models.__all__:
        assert getattr(mds, name) is getattr(mds.models, name)


def test_exceptions_reexported_from_rest_as_generated_code_imports_them() -> None:
    from mds.rest import ApiException

    assert ApiException is mds.ApiException


def test_every_public_class_has_a_docs_page() -> None:
    for name in ["NotificationsApi", *mds.models.__all__]:
        assert (ROOT / "docs" / f"{name}.md").is_file(), name


def test_dir_lists_the_names_loaded_on_first_use() -> None:
    names = dir(mds)
    assert "NotificationListener" in names
    assert set(mds.__all__) <= set(names)
