"""What `pip install mds-client` promises, checked at the source: the dependencies (one list in two
files), the version (one source), the license, and the entry points that name real code.

Building and installing the distributions themselves is `.ci/run`'s package job (with
`.ci/check_dist.py`): it takes a minute and needs the package index.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import mds

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]


def requirement_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_pyproject_and_requirements_txt_list_the_same_dependencies() -> None:
    declared = sorted(str(Requirement(r)) for r in PROJECT["dependencies"])
    listed = sorted(str(Requirement(r)) for r in requirement_lines(ROOT / "requirements.txt"))
    assert declared == listed


def test_readme_names_every_runtime_dependency() -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Requirements", 1)[1]
    section = section.split("\n## ", 1)[0]
    missing = [r.name for r in map(Requirement, PROJECT["dependencies"]) if r.name not in section]
    assert not missing, f"README's Requirements section does not name {missing}"


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mds._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", mds.__version__)
    assert f"Package version: {mds.__version__}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_setup_py_is_only_the_shim() -> None:
    code = [line for line in (ROOT / "setup.py").read_text().splitlines()
            if line.strip() and not line.startswith(('"""', "#"))]
    assert code == ["from setuptools import setup", "setup()"]


def test_the_declared_license_ships() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize(
    ("group", "name"),
    [("scripts", "mds"), ("entry-points.pytest11", "mds")],
)
def test_entry_points_name_real_code(group: str, name: str) -> None:
    table = PROJECT
    for key in group.split("."):
        table = table[key]
    module_name, _, attribute = table[name].partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        assert callable(getattr(module, attribute))
    else:  # the pytest plugin: its fixtures are what users get
        assert {"mds_emulator", "mds_client"} <= set(vars(module))


def test_package_data_ships_the_typing_marker() -> None:
    assert PYPROJECT["tool"]["setuptools"]["package-data"] == {"mds": ["py.typed"]}
    assert (ROOT / "mds" / "py.typed").exists()
