"""Shared helpers for the imaging tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "imaging"


@pytest.fixture(scope="session")
def imaging_fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def gelgenie(shared_data: Path) -> Path:
    path = shared_data / "gels-gelgenie"
    if not path.is_dir():
        pytest.fail(f"{path} is missing from the shared data")
    return path
