"""The single source of the package version (read by setup.py and the user agent)."""

__version__ = "1.0.0"
