"""Test-time access to the seeded MSP gel generator (``fixtures/make_msp_gel.py``).

The generator lives beside the example folder it writes, outside the
installed package, so tests load it by path. Truth always comes from the
generator's labels (which lanes got which product, at which size and volume).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from assaykit import Experiment, PluginHost
from assaykit.experiment import sha256_file
from assaykit.sheet import SHEET_NAME, build_inputs, parse_sheet

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "fixtures" / "make_msp_gel.py"
EXAMPLE = REPO_ROOT / "fixtures" / "msp_gel"


def generator() -> ModuleType:
    """The generator module (loaded once per process)."""
    name = "make_msp_gel"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, GENERATOR)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def experiment(folder: Path, host: PluginHost, sheet: str = SHEET_NAME) -> Experiment:
    """The one experiment a folder's sample sheet describes (as the batch runner plans it)."""
    rows = parse_sheet(folder / sheet, folder, host, default_assay=None)
    names = {r.experiment for r in rows}
    assert len(names) == 1, names
    hashes = {r.file: sha256_file(folder / r.file) if (folder / r.file).exists() else None
              for r in rows}  # fmt: skip
    inputs = build_inputs(folder, rows, host, hashes, {})
    return Experiment(names.pop(), rows[0].assay, inputs, folder=folder, has_sheet=True)


def write(
    case: Any, folder: Path, host: PluginHost
) -> tuple[Experiment, dict[str, dict[str, str]]]:
    """Write a generated gel into ``folder``; its experiment and ``{sample_id: truth row}``."""
    gen = generator()
    gen.write_case(folder, case)
    return experiment(folder, host), gen.read_expected(folder / "expected.csv")
