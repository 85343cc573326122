"""Import the seeded generator scripts of ``fixtures/`` (not an installed package) in tests.

Why: the example folders are made by scripts in ``fixtures/``; tests use the
same scripts to build more experiments with known answers, so the truth in
every test comes from one simulator and its labels, never from the plugins.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load(name: str) -> ModuleType:
    """The module ``fixtures/<name>.py`` (imported once, then cached in sys.modules)."""
    key = f"assaykit_fixtures_{name}"
    if key in sys.modules:
        return sys.modules[key]
    if str(FIXTURES) not in sys.path:
        sys.path.insert(0, str(FIXTURES))
    spec = importlib.util.spec_from_file_location(key, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def read_expected(path: Path) -> list[dict[str, str]]:
    """Rows of an ``expected.csv`` written by a generator."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def within(expected: dict[str, str], got: float) -> bool:
    """Whether ``got`` is within the row's absolute or relative tolerance of its value."""
    want = float(expected["expected"])
    tol = max(float(expected["abs_tol"]), float(expected["rel_tol"]) * abs(want))
    return abs(got - want) <= tol
