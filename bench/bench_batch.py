"""Batch-runner overhead: assaykit.run against a hand-written loop doing the same analysis.

A seeded folder of N small CSV "experiments" is analyzed by a minimal assay
(mean, median and percent above a threshold of a `value` column). The
baseline is the script a lab would write: a loop that reads each CSV and
computes the same numbers, writing one CSV of results. assaykit adds hashing,
the SQLite store (one transaction per experiment), CSV/JSONL/Parquet export,
the HTML report and run.json; this prints what that costs, and what a re-run
of an unchanged folder costs (everything skipped).

    python bench/bench_batch.py [--n 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

PLUGIN = '''
from pydantic import Field
import numpy as np
from assaykit import Assay, AssayResult, Metric, Params, hookimpl

class BenchParams(Params):
    threshold: float = Field(2.0, description="Values above this are positive (AU).")

class BenchAssay(Assay):
    name = "bench_stats"
    version = "1"
    summary = "mean, median and percent above a threshold"
    input_kinds = ("table",)
    Params = BenchParams
    metrics = (
        Metric("sample", "mean", "AU", "float", "arithmetic mean, linear"),
        Metric("sample", "median", "AU", "float", "median, linear"),
        Metric("sample", "positive_pct", "%", "float", "percent above the threshold"),
    )

    def analyze(self, experiment, params):
        res = AssayResult()
        for inp in experiment.samples:
            v = np.asarray(experiment.read(inp).column("value"), dtype=float)
            res.add(inp.sample_id, "sample", inp.sample_id, "mean", float(v.mean()))
            res.add(inp.sample_id, "sample", inp.sample_id, "median", float(np.median(v)))
            res.add(inp.sample_id, "sample", inp.sample_id, "positive_pct",
                    100.0 * float(np.mean(v > params.threshold)))
        return res

@hookimpl
def assaykit_register_assays(register):
    register(BenchAssay())
'''


def make_folder(root: Path, n: int, rows: int = 1000) -> Path:
    rng = np.random.default_rng(0)
    folder = root / "in"
    folder.mkdir()
    for i in range(n):
        values = rng.lognormal(0.5, 0.6, rows)
        (folder / f"well_{i:04d}.csv").write_text(
            "value\n" + "\n".join(f"{v:.6f}" for v in values) + "\n"
        )
    return folder


def baseline(folder: Path, out: Path) -> float:
    t0 = time.perf_counter()
    out.mkdir()
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "mean", "median", "positive_pct"])
        for p in sorted(folder.glob("*.csv")):
            with open(p, newline="") as f:
                r = csv.reader(f)
                next(r)
                v = np.array([float(row[0]) for row in r])
            w.writerow([p.name, v.mean(), np.median(v), 100.0 * np.mean(v > 2.0)])
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import assaykit
    from assaykit import HostConfig, PluginHost

    root = Path(tempfile.mkdtemp(prefix="assaykit-bench-batch-"))
    try:
        (root / "bench_plugin.py").write_text(textwrap.dedent(PLUGIN))
        sys.path.insert(0, str(root))
        host = PluginHost(HostConfig(autoload=False, modules=("bench_plugin",)))
        folder = make_folder(root, args.n)
        t_base = min(baseline(folder, root / f"base{i}") for i in range(3))

        def timed(out: str, workers: int) -> float:
            t0 = time.perf_counter()
            res = assaykit.run(folder, root / out, assay="bench_stats", workers=workers,
                               host=host, figures=False)
            assert res.exit_code == 0 and len(res.records) == 3 * args.n
            return time.perf_counter() - t0

        t_inproc = timed("o_inproc", 0)
        t_rerun = timed("o_inproc", 0)
        t_workers = timed("o_workers", args.workers)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    per = 1000.0 / args.n
    print(f"{args.n} experiments, 1000 values each")
    print(f"  baseline loop (read CSV, stats, write CSV): {t_base:7.3f} s  "
          f"({t_base * per:.2f} ms/experiment)")
    print(f"  assaykit.run, in-process (--workers 0):    {t_inproc:7.3f} s  "
          f"ratio {t_inproc / t_base:5.2f}x")
    print(f"  assaykit.run, unchanged re-run (skips):    {t_rerun:7.3f} s  "
          f"ratio {t_rerun / t_base:5.2f}x")
    print(f"  assaykit.run, --workers {args.workers}:               {t_workers:7.3f} s  "
          f"ratio {t_workers / t_base:5.2f}x")
    print("  (assaykit also hashes inputs, stores to SQLite, exports CSV/JSONL/Parquet,")
    print("   writes report.html and run.json; the baseline writes one CSV)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
