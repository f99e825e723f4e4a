"""Packaging for mds-client (import name ``mds``)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "mds" / "_version.py").read_text()).group(1)
REQUIRES = [
    line.strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="mds-client",
    version=VERSION,
    description="Python client for the Device Management Connect Notifications API",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["mds", "mds.*"]),
    package_data={"mds": ["py.typed"]},
    install_requires=REQUIRES,
    entry_points={
        "console_scripts": ["mds = mds.cli:main"],
        "pytest11": ["mds = mds.emulator.pytest_plugin"],
    },
    keywords=["Pelion", "Izuma", "Device Management", "Notifications", "IoT", "LwM2M"],
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Typing :: Typed",
        "Framework :: Pytest",
    ],
)
