"""The host's version. Plugins are checked against it when they are discovered."""

__version__ = "0.1.0"
