"""Seeded generators of toy_threshold experiments whose answers are known exactly.

The negative control holds the values 0..99 (shuffled), so its 99th
percentile is 98.01 by numpy's linear interpolation (the value at rank
0.99 * 99 = 98.01). A sample with ``k`` of its ``n`` events at 1000 and the
rest at 1 has exactly ``100 k / n`` percent of events above that threshold.
The truth comes from these construction rules, not from the plugin.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def write_counts(
    path: Path,
    values: np.ndarray | list[float],
    *,
    instrument: str = "ToyCyte 3000",
    acquired: str = "2026-01-02T03:04:05",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# instrument: {instrument}", f"# acquired: {acquired}"]
    lines += [repr(float(v)) for v in values]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def control_values(rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(100, dtype=float))


def sample_values(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.permutation(np.r_[np.full(k, 1000.0), np.full(n - k, 1.0)])


@dataclass
class ToyFolder:
    folder: Path
    truth: dict[tuple[str, str], float] = field(default_factory=dict)
    experiments: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def make_folder(
    folder: Path,
    n_experiments: int,
    *,
    seed: int = 0,
    corrupt: tuple[int, ...] = (),
    samples_per_experiment: int = 2,
    extra_cols: bool = True,
) -> ToyFolder:
    """A folder with a sample sheet: each experiment has one control and some samples."""
    rng = np.random.default_rng(seed)
    out = ToyFolder(folder)
    rows = []
    for e in range(n_experiments):
        exp = f"exp{e:03d}"
        out.experiments.append(exp)
        ctrl = write_counts(folder / exp / "neg.counts", control_values(rng))
        rows.append(
            {
                "file": ctrl.relative_to(folder).as_posix(),
                "experiment": exp,
                "sample_id": f"{exp}_neg",
                "role": "negative_control",
                "cell_line": "HL-60",
                "dose_uM": "0",
            }
        )
        for s in range(samples_per_experiment):
            n = int(rng.integers(40, 200))
            k = int(rng.integers(0, n + 1))
            sid = f"{exp}_s{s}"
            p = folder / exp / f"s{s}.counts"
            if e in corrupt and s == 0:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("# instrument: ToyCyte\n12\nthis is not a number\n")
                out.corrupt.append(exp)
            else:
                write_counts(p, sample_values(rng, n, k))
                out.truth[(exp, sid)] = 100.0 * k / n
            rows.append(
                {
                    "file": p.relative_to(folder).as_posix(),
                    "experiment": exp,
                    "sample_id": sid,
                    "role": "sample",
                    "cell_line": "HL-60",
                    "dose_uM": str(s * 10),
                }
            )
    cols = ["file", "experiment", "sample_id", "role"] + (
        ["cell_line", "dose_uM"] if extra_cols else []
    )
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return out
