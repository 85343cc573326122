"""Run a flow plugin through the CLI on every real instrument file, as a lab would.

Each file gets its own batch folder (copies of the file under the names the
test asks for, a ``samples.csv`` and an ``assaykit.toml`` with the channels),
because parameters are per folder. The CLI runs in a subprocess with only the
plugin under test loaded, so its exit code and stderr are what a user sees.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.instrument_channels import INSTRUMENT_FILES, InstrumentFile

ENTRY_POINTS = {"tunel": "tunel", "rh123_efflux": "rh123"}

SheetRows = Callable[[InstrumentFile], list[tuple[str, str, Mapping[str, str]]]]


@dataclass
class Outcome:
    """What one CLI run gave: exit code, stderr, and the result table."""

    returncode: int
    stderr: str
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def values(self) -> dict[tuple[str, str], float]:
        """``(sample_id, metric) -> value_num`` of sample-level numeric records."""
        return {
            (r["sample_id"], r["metric"]): float(r["value_num"])
            for r in self.rows
            if r["value_num"] not in ("", None) and r["entity_type"] == "sample"
        }

    @property
    def errors(self) -> list[str]:
        return [r["value_str"] for r in self.rows if r["metric"] == "error"]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _run_one(
    work: Path,
    shared_data: Path,
    f: InstrumentFile,
    assay: str,
    rows: list[tuple[str, str, Mapping[str, str]]],
    params: Mapping[str, Any],
) -> Outcome:
    src = shared_data / "fcs-instruments" / f.relpath
    folder = work / "in"
    folder.mkdir(parents=True)
    suffix = src.suffix
    cols: list[str] = []
    for _, _, cond in rows:
        cols += [c for c in cond if c not in cols]
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "assay", "sample_id", "role", *cols])
        for name, role, cond in rows:
            target = Path(name).with_suffix(suffix).name
            shutil.copyfile(src, folder / target)
            w.writerow([target, assay, Path(name).stem, role, *(cond.get(c, "") for c in cols)])
    toml = [f"[params.{assay}]"] + [f"{k} = {_toml_value(v)}" for k, v in params.items()]
    (folder / "assaykit.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    env = os.environ.copy()
    env["ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["ASSAYKIT_PLUGINS"] = ENTRY_POINTS[assay]
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(folder), "-o", str(work / "out"),
         "--no-figures"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    out = Outcome(proc.returncode, proc.stderr)
    table = work / "out" / "results.csv"
    if table.is_file():
        with open(table, newline="", encoding="utf-8") as fh:
            out.rows = list(csv.DictReader(fh))
    return out


def run_real_files(
    tmp: Path,
    shared_data: Path,
    *,
    assay: str,
    sheet_rows: SheetRows,
    params: Callable[[InstrumentFile], Mapping[str, Any]],
    files: tuple[InstrumentFile, ...] = INSTRUMENT_FILES,
) -> list[tuple[InstrumentFile, Outcome]]:
    """Run ``assay`` on every file (four CLI processes at a time); outcomes in file order."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(_run_one, tmp / f"f{k:02d}", shared_data, f, assay, sheet_rows(f),
                        params(f))
            for k, f in enumerate(files)
        ]
        return [(f, fut.result()) for f, fut in zip(files, futures)]
