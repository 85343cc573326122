"""Fixtures for the host's tests: real plugin packages installed with pip into temp folders."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from assaykit import HostConfig, PluginHost
from assaykit import plugins as plugins_mod
from helpers.packages import pip_install_target

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third-party toycount plugin, built and installed by pip into its own folder."""
    root = tmp_path_factory.mktemp("toy")
    src = root / "src"
    shutil.copytree(HERE / "thirdparty" / "assaykit-toycount", src)
    return pip_install_target(src, root / "site")


def _activate(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(site))
    old = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), old) if p))
    plugins_mod._HOST_CACHE.clear()


@pytest.fixture
def toy_env(toy_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the toycount plugin visible to this process and to any subprocess it starts."""
    monkeypatch.delenv("ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("ASSAYKIT_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("ASSAYKIT_PLUGINS", raising=False)
    _activate(toy_site, monkeypatch)
    yield toy_site
    plugins_mod._HOST_CACHE.clear()
    for mod in [m for m in sys.modules if m.startswith("assaykit_toycount")]:
        del sys.modules[mod]


@pytest.fixture
def toy_host(toy_env: Path) -> PluginHost:
    """A host that loads only the toycount plugin (never whatever else is installed)."""
    return PluginHost(HostConfig(autoload=False, load=("toycount",)))


@pytest.fixture
def activate_site(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Put extra plugin folders on sys.path/PYTHONPATH for one test."""
    yield lambda site: _activate(site, monkeypatch)
    plugins_mod._HOST_CACHE.clear()
