"""Check what `python -m build` made, as a user of `pip install mds-client` would get it.

Usage: python .ci/check_dist.py DIST_DIR

Exactly one sdist and one wheel, both of the version in mds/_version.py; both ship LICENSE and
declare Apache-2.0; the wheel holds the package (with py.typed) and nothing else, requires what
requirements.txt lists, and registers the `mds` command and the `mds` pytest plugin.
Exits non-zero with one line per problem.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement  # `build` depends on packaging

ROOT = Path(__file__).resolve().parent.parent


def read_metadata(text: str) -> Message:
    return HeaderParser().parsestr(text)


def main(dist: Path) -> list[str]:
    problems: list[str] = []
    version_match = re.search(r'__version__ = "([^"]+)"', (ROOT / "mds" / "_version.py").read_text())
    assert version_match is not None, "mds/_version.py has no __version__"
    version = version_match.group(1)
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    requirements = normalised(
        line for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )

    sdists = sorted(dist.glob("*.tar.gz"))
    wheels = sorted(dist.glob("*.whl"))
    if [p.name for p in sdists] != [f"mds_client-{version}.tar.gz"]:
        problems.append(f"expected one sdist mds_client-{version}.tar.gz, found {[p.name for p in sdists]}")
    if [p.name for p in wheels] != [f"mds_client-{version}-py3-none-any.whl"]:
        problems.append(f"expected one wheel mds_client-{version}-py3-none-any.whl, "
                        f"found {[p.name for p in wheels]}")
    if problems:
        return problems

    # The sdist: LICENSE at its root, the docs and the tests, the declared license.
    with tarfile.open(sdists[0]) as sdist:
        top = f"mds_client-{version}"
        names = set(sdist.getnames())
        for needed in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.py",
                       "requirements.txt", "test-requirements.txt", "mds/py.typed",
                       "docs/NotificationsApi.md", "test/conftest.py", "PKG-INFO"):
            if f"{top}/{needed}" not in names:
                problems.append(f"sdist lacks {needed}")
        member = sdist.extractfile(f"{top}/LICENSE") if f"{top}/LICENSE" in names else None
        if member is not None and member.read().decode() != license_text:
            problems.append("sdist's LICENSE differs from the repository's")
        pkg_info = sdist.extractfile(f"{top}/PKG-INFO")
        if pkg_info is not None:
            problems += check_metadata("sdist PKG-INFO", read_metadata(pkg_info.read().decode()),
                                       version, requirements)

    # The wheel: only the package and its dist-info.
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        info = f"mds_client-{version}.dist-info"
        stray = sorted(n for n in names if not n.startswith(("mds/", f"{info}/")))
        if stray:
            problems.append(f"wheel holds files outside the package: {stray}")
        for needed in ("mds/__init__.py", "mds/py.typed", "mds/emulator/pytest_plugin.py",
                       f"{info}/licenses/LICENSE", f"{info}/METADATA", f"{info}/entry_points.txt"):
            if needed not in names:
                problems.append(f"wheel lacks {needed}")
        if f"{info}/licenses/LICENSE" in names and \
                wheel.read(f"{info}/licenses/LICENSE").decode() != license_text:
            problems.append("wheel's LICENSE differs from the repository's")
        if f"{info}/METADATA" in names:
            metadata = read_metadata(wheel.read(f"{info}/METADATA").decode())
            problems += check_metadata("wheel METADATA", metadata, version, requirements)
        if f"{info}/entry_points.txt" in names:
            entry_points = wheel.read(f"{info}/entry_points.txt").decode()
            for section, line in (("[console_scripts]", "mds = mds.cli:main"),
                                  ("[pytest11]", "mds = mds.emulator.pytest_plugin")):
                if section not in entry_points or line not in entry_points.split(section, 1)[1]:
                    problems.append(f"wheel's entry points lack {section} {line}")
    return problems


def normalised(requirements: Iterable[str]) -> list[str]:
    """Requirements in one spelling (setuptools reorders specifiers: `urllib3<3,>=1.26.5`)."""
    return sorted(str(Requirement(line)) for line in requirements)


def check_metadata(where: str, metadata: Message, version: str, requirements: list[str]) -> list[str]:
    problems = []
    expected = {"Name": "mds-client", "Version": version, "License-Expression": "Apache-2.0",
                "License-File": "LICENSE", "Requires-Python": ">=3.10",
                "Description-Content-Type": "text/markdown"}
    for field, value in expected.items():
        if metadata.get(field) != value:
            problems.append(f"{where}: {field} is {metadata.get(field)!r}, expected {value!r}")
    declared = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]
    requires = sorted(str(r) for r in declared if r.marker is None)
    if requires != requirements:
        problems.append(f"{where}: Requires-Dist {requires} differs from requirements.txt {requirements}")
    # The optional extras: exactly `redis` (the Redis checkpoint), needing redis-py.
    extras = sorted(str(r) for r in declared if r.marker is not None)
    if extras != ['redis>=4.2; extra == "redis"'] or metadata.get_all("Provides-Extra") != ["redis"]:
        problems.append(f"{where}: the extras are {extras}, not redis-py for the 'redis' extra")
    if "mds demo" not in (metadata.get_payload() or ""):
        problems.append(f"{where}: the long description is not the README")
    return problems


if __name__ == "__main__":
    found = main(Path(sys.argv[1]))
    for problem in found:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not found:
        print("check_dist: sdist and wheel carry LICENSE, metadata, entry points and py.typed")
    sys.exit(1 if found else 0)
