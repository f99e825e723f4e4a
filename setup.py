"""The thin shim the generated layout keeps: the metadata lives in pyproject.toml ([project])."""

from setuptools import setup

setup()
