"""Fixtures of the western_blot tests: a host that loads only this plugin."""

from __future__ import annotations

import pytest
from assaykit import HostConfig, PluginHost


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the built-ins and the western plugin, never whatever else is installed."""
    return PluginHost(HostConfig(autoload=False, load=("western",)))
