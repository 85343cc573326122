"""The distribution: the wheel holds only assaykit* packages; the sdist carries fixtures, docs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    src = tmp_path_factory.mktemp("src") / "assaykit"
    # build from a copy, so the build leaves nothing behind in the working tree
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "out"
        ),
    )
    for call in ("build_wheel", "build_sdist"):  # one process each: they share global state
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; from setuptools import build_meta as b; b.{call}(sys.argv[1])",
                str(out),
            ],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, r.stdout[-2000:]
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_holds_only_assaykit_packages(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as z:
        names = z.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops and all(t.startswith("assaykit") for t in tops), tops
    assert "assaykit/hookspecs.py" in names and "assaykit/py.typed" in names
    assert "assaykit/templates/report.html.j2" in names
    assert "assaykit/_scaffold/src/pkg/plugin.py.tmpl" in names
    assert not any(n.startswith(("core/", "plugins/", "tests/", "fixtures/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(built["wheel"]) as z:
        text = z.read(entry).decode()
    assert "[console_scripts]" in text and "assaykit = assaykit.cli:main" in text
    assert "[pytest11]" in text and "assaykit.testing_fixtures = assaykit.testing_fixtures" in text


def test_sdist_grafts_fixtures_and_contributing(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"CONTRIBUTING.md", "README.md", "MANIFEST.in", "pyproject.toml"} <= names
    assert any(n.startswith("fixtures/") for n in names)
    assert "core/assaykit/hookspecs.py" in names
