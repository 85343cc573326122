"""Build and install real plugin packages into a temporary folder with pip.

Plugins in the tests are real distributions: pip builds them with
setuptools and installs them into a ``--target`` folder, and the host finds
them through their ``assaykit`` entry points once that folder is on
``sys.path`` (in-process) or ``PYTHONPATH`` (subprocesses, workers).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def pip_install_target(src: Path, target: Path) -> Path:
    """``pip install --target`` one source tree, offline, with this interpreter's setuptools."""
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip install of {src} failed:\n{proc.stdout}\n{proc.stderr}")
    return target


def write_package(
    root: Path,
    dist: str,
    module: str,
    body: str,
    *,
    requires: str = "assaykit",
    entry_name: str | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write a one-module plugin distribution's source tree and return its folder."""
    src = root / dist
    pkg = src / "src" / module
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(body))
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "{version}"
            requires-python = ">=3.10"
            dependencies = ["{requires}"]

            [project.entry-points.assaykit]
            {entry_name or module} = "{module}"

            [tool.setuptools.packages.find]
            where = ["src"]
            """
        )
    )
    return src
