"""Fixtures for the annexin_pi tests: a host with only this plugin, and generated experiments."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from assaykit import HostConfig, PluginHost
from helpers.annexin_data import Make, generator


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    return generator()


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Only the annexin entry point (tests never pick up whatever else is installed)."""
    return PluginHost(HostConfig(autoload=False, load=("annexin",)))


@pytest.fixture
def make(tmp_path: Path, gen: ModuleType) -> Make:
    """``make(name, **generator kwargs) -> (folder, truths)``; no sheet unless asked."""

    def _make(name: str = "exp", **kw: Any) -> tuple[Path, list[Any]]:
        kw.setdefault("sheet", False)
        kw.setdefault("n_events", 20_000)
        folder = tmp_path / name
        return folder, gen.make_experiment(folder, **kw)

    return _make
