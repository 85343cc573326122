"""Plugin discovery through the `assaykit` entry-point group, with real installed packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from assaykit import HostConfig, PluginError, PluginHost
from assaykit.errors import PluginCompatibilityWarning
from helpers.packages import pip_install_target, write_package

MISSPELLED = """
from assaykit import hookimpl

@hookimpl
def assaykit_register_assay(register):  # missing the final 's'
    pass
"""

BROKEN = """
raise ImportError("this plugin needs a library that is not installed")
"""

FUTURE = """
from assaykit import hookimpl

@hookimpl
def assaykit_register_assays(register):
    raise AssertionError("an incompatible plugin must never be called")
"""

DUPLICATE = """
from assaykit_toycount.plugin import ToyThreshold
from assaykit import hookimpl

@hookimpl
def assaykit_register_assays(register):
    register(ToyThreshold())
"""

OLD_API = """
ASSAYKIT_API_VERSION = 0
from assaykit import hookimpl

@hookimpl
def assaykit_register_assays(register):
    raise AssertionError("never called")
"""


@pytest.fixture(scope="module")
def bad_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One pip --target folder per misbehaving plugin, so each test picks its own."""
    root = tmp_path_factory.mktemp("bad")
    specs = {
        "misspelled": ("assaykit-misspelled", "assaykit_misspelled", MISSPELLED, "assaykit"),
        "broken": ("assaykit-broken", "assaykit_broken", BROKEN, "assaykit"),
        "future": ("assaykit-future", "assaykit_future", FUTURE, "assaykit>=99"),
        "duplicate": ("assaykit-dupe", "assaykit_dupe", DUPLICATE, "assaykit"),
        "oldapi": ("assaykit-oldapi", "assaykit_oldapi", OLD_API, "assaykit"),
    }
    out = {}
    for key, (dist, mod, body, req) in specs.items():
        src = write_package(root / "src", dist, mod, body, requires=req)
        out[key] = pip_install_target(src, root / key)
    return out


def _cli_json(*args: str) -> tuple[int, list[dict[str, object]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args, "plugins", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    data = json.loads(proc.stdout) if proc.returncode == 0 else []
    return proc.returncode, data, proc.stderr


def test_third_party_plugin_is_discovered_and_listed(toy_env: Path) -> None:
    host = PluginHost(HostConfig())  # autoload, as a lab's installation would
    info = host.plugins["toycount"]
    assert (info.status, info.distribution, info.version) == (
        "loaded",
        "assaykit-toycount",
        "1.2.0",
    )
    assert host.assay_plugin("toy_threshold") == "toycount"
    assert host.reader_for("x.counts") is not None
    assert "toy_summary" in host.exporters
    rc, data, _ = _cli_json()
    assert rc == 0
    toy = next(p for p in data if p["name"] == "toycount")
    assay = toy["assays"][0]  # type: ignore[index]
    assert assay["name"] == "toy_threshold"
    assert assay["input_kinds"] == ["counts"]
    assert assay["roles"] == ["sample", "negative_control", "positive_control"]
    assert {
        "entity_type": "sample",
        "metric": "positive_pct",
        "unit": "%",
        "dtype": "float",
        "description": "percent of events above the threshold",
    } in assay["metrics"]
    assert toy["distribution"] == "assaykit-toycount" and toy["version"] == "1.2.0"
    # the human listing names the same things
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "plugins"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "toy_threshold" in proc.stdout and "negative_control" in proc.stdout
    # ... and the flags it declared, with their severity and meaning
    declared = {"flag": "threshold_auto", "severity": "warn",
                "meaning": "No negative control: threshold is median + 3 MAD."}  # fmt: skip
    assert declared in assay["flags"]
    assert "threshold_auto" in proc.stdout and "qc flag" in proc.stdout


def test_autoload_can_be_turned_off_and_one_plugin_loaded(
    toy_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = PluginHost(HostConfig.from_env())
    assert "toy_threshold" not in host.assays
    assert host.plugins["toycount"].status == "disabled"
    monkeypatch.setenv("ASSAYKIT_PLUGINS", "toycount")
    assert "toy_threshold" in PluginHost(HostConfig.from_env()).assays
    rc, data, _ = _cli_json()
    assert rc == 0 and any(p["name"] == "toycount" and p["status"] == "loaded" for p in data)
    monkeypatch.delenv("ASSAYKIT_PLUGINS")
    rc, data, _ = _cli_json("-p", "toycount")
    assert any(p["name"] == "toycount" and p["status"] == "loaded" for p in data)
    with pytest.raises(PluginError, match="no entry point"):
        PluginHost(HostConfig(autoload=False, load=("nonexistent",)))


@pytest.mark.parametrize("how", ["env", "cli", "dist"])
def test_one_plugin_can_be_blocked(
    toy_env: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "env":
        monkeypatch.setenv("ASSAYKIT_BLOCK_PLUGINS", "toycount")
        rc, data, _ = _cli_json()
        host = PluginHost(HostConfig.from_env())
    elif how == "cli":
        rc, data, _ = _cli_json("--block-plugin", "toycount")
        host = PluginHost(HostConfig(block=("toycount",)))
    else:  # by distribution name
        rc, data, _ = _cli_json("--block-plugin", "assaykit-toycount")
        host = PluginHost(HostConfig(block=("assaykit-toycount",)))
    assert rc == 0
    assert next(p for p in data if p["name"] == "toycount")["status"] == "blocked"
    assert "toy_threshold" not in host.assays and host.plugins["toycount"].status == "blocked"


def test_misspelled_hook_fails_loudly(
    bad_sites: dict[str, Path], activate_site: Callable[[Path], None]
) -> None:
    activate_site(bad_sites["misspelled"])
    with pytest.raises(PluginError, match="assaykit_register_assay"):
        PluginHost(HostConfig())
    rc, _, err = _cli_json()
    assert rc == 2 and "unknown hook" in err and "Traceback" not in err
    # blocking the bad plugin is the escape hatch
    host = PluginHost(HostConfig(block=("assaykit_misspelled",)))
    assert host.plugins["assaykit_misspelled"].status == "blocked"


def test_incompatible_plugin_is_skipped_with_a_warning(
    bad_sites: dict[str, Path], activate_site: Callable[[Path], None]
) -> None:
    activate_site(bad_sites["future"])
    with pytest.warns(PluginCompatibilityWarning, match=r"requires assaykit>=99"):
        host = PluginHost(HostConfig())
    info = host.plugins["assaykit_future"]
    assert info.status == "incompatible" and info.assays == []
    rc, data, err = _cli_json()
    assert rc == 0 and "skipped" in err
    assert next(p for p in data if p["name"] == "assaykit_future")["status"] == "incompatible"


def test_plugin_for_another_hook_api_is_skipped(
    bad_sites: dict[str, Path], activate_site: Callable[[Path], None]
) -> None:
    activate_site(bad_sites["oldapi"])
    with pytest.warns(PluginCompatibilityWarning, match="hook API 0"):
        host = PluginHost(HostConfig())
    assert host.plugins["assaykit_oldapi"].status == "incompatible"


def test_plugin_that_fails_to_import_is_skipped_with_a_warning(
    bad_sites: dict[str, Path], activate_site: Callable[[Path], None]
) -> None:
    activate_site(bad_sites["broken"])
    with pytest.warns(PluginCompatibilityWarning, match="import failed: ImportError"):
        host = PluginHost(HostConfig())
    assert host.plugins["assaykit_broken"].status == "failed"


def test_two_plugins_registering_one_assay_name_is_an_error(
    toy_env: Path, bad_sites: dict[str, Path], activate_site: Callable[[Path], None]
) -> None:
    activate_site(bad_sites["duplicate"])
    with pytest.raises(PluginError, match="registered by both 'assaykit_dupe' and 'toycount'"):
        PluginHost(HostConfig())


def test_registering_a_non_assay_is_an_error() -> None:
    from assaykit import hookimpl

    class Junk:
        @hookimpl
        def assaykit_register_assays(self, register: Callable[[object], None]) -> None:
            register(object())

    with pytest.raises(PluginError, match=r"not an assaykit\.Assay"):
        PluginHost(HostConfig(autoload=False), extra=[Junk()])


def test_hosts_are_independent(toy_env: Path) -> None:
    a = PluginHost(HostConfig(autoload=False))
    b = PluginHost(HostConfig(autoload=False, load=("toycount",)))
    assert "toy_threshold" in b.assays and "toy_threshold" not in a.assays
    # both have the host's built-in readers and exporters
    for h in (a, b):
        assert {r.kind for r in h.readers} >= {"table", "fcs"}
        assert set(h.exporters) >= {"csv", "jsonl", "parquet"}
