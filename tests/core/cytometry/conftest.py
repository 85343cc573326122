"""Cytometry test fixtures: the ISAC Gating-ML set-1 data, read with our FCS reader."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# synthetic.py sits beside the tests; make it importable under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def gml_dir(shared_data: Path) -> Path:
    path = shared_data / "gatingml2-set1"
    if not path.is_dir():
        pytest.fail(f"Gating-ML compliance data not found at {path}")
    return path


@pytest.fixture(scope="session")
def data1(gml_dir: Path) -> Any:
    """data1.fcs as returned by assaykit.cytometry.fcs.read_fcs."""
    from assaykit.cytometry.fcs import read_fcs

    return read_fcs(gml_dir / "data1.fcs")
