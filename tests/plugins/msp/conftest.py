"""Fixtures for the msp_gel tests: a host with only this plugin, and the generator."""

from __future__ import annotations

from types import ModuleType

import pytest
from assaykit import HostConfig, PluginHost
from helpers.msp_data import generator


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    return generator()


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the msp entry point (tests never pick up whatever else is installed)."""
    return PluginHost(HostConfig(autoload=False, load=("msp",)))
