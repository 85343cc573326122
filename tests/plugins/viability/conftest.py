"""Fixtures for the viability tests: a host with only this plugin."""

from __future__ import annotations

import pytest
from assaykit import HostConfig, PluginHost


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the viability plugin module, loaded by name (the venv is not reinstalled)."""
    return PluginHost(HostConfig(autoload=False, modules=("assaykit_viability.plugin",)))
