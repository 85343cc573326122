"""Fixtures shared by every test.

The real reference data (FCS files from many instruments, the Gating-ML 2.0
compliance set, real gels) lives outside the repository, at ``../shared/data``
from the project root, or wherever ``ASSAYKIT_SHARED_DATA`` points. It is never
copied into the repo. A missing folder fails loudly rather than skipping, so a
green run always means the real files were checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("ASSAYKIT_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(
            f"shared reference data not found at {path}; "
            "set ASSAYKIT_SHARED_DATA to the folder holding fcs-instruments/, "
            "gatingml2-set1/ and gels-gelgenie/"
        )
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
