"""Fixtures for the ``tunel`` plugin's tests: a host that loads only it, and the generator."""

from __future__ import annotations

from types import ModuleType

import pytest
from assaykit import HostConfig, PluginHost
from helpers import fixturegen


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the built-in ``tunel`` plugin, never whatever else is installed."""
    return PluginHost(HostConfig(autoload=False, load=("tunel",)))


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    """``fixtures/make_tunel.py``: the seeded generator of TUNEL experiments."""
    return fixturegen.load("make_tunel")
