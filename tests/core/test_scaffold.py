"""`assaykit new-plugin` makes a package that installs, is discovered, and passes its own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from assaykit import UsageError
from assaykit.scaffold import create_plugin
from helpers.packages import pip_install_target


@pytest.mark.slow
def test_new_plugin_installs_and_passes_its_tests(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "new-plugin", "demo_count", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    src = tmp_path / "assaykit-demo-count"
    assert (src / "src" / "assaykit_demo_count" / "plugin.py").is_file()
    site = pip_install_target(src, tmp_path / "site")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    listing = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    plugin = next(p for p in json.loads(listing.stdout) if p["name"] == "demo_count")
    assert plugin["distribution"] == "assaykit-demo-count"
    assert plugin["assays"][0]["roles"] == ["sample", "negative_control"]
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


@pytest.mark.parametrize("name", ["Bad-Name", "1abc", "x", "has space"])
def test_bad_plugin_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="plugin name"):
        create_plugin(name, tmp_path)


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    create_plugin("again", tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        create_plugin("again", tmp_path)
