"""Fixtures for the ``rh123_efflux`` tests: a host that loads only it, and the generator."""

from __future__ import annotations

from types import ModuleType

import pytest
from assaykit import HostConfig, PluginHost
from helpers import fixturegen


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the built-in ``rh123`` plugin, never whatever else is installed."""
    return PluginHost(HostConfig(autoload=False, load=("rh123",)))


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    """``fixtures/make_rh123.py``: the seeded generator of Rh123 efflux experiments."""
    return fixturegen.load("make_rh123")
