"""Benchmark: the whole ``annexin_pi`` analysis of one 1,000,000-event x 12-channel sample.

Baseline, measured in the same run: a raw ``np.fromfile`` read of the file's
DATA segment (the least any analysis must do). Ours: ``assaykit.analyze`` on
a prepared experiment — read (FCS parse + events), compensation with the
file's 7x7 ``$SPILLOVER``, cleanup gates (debris + singlets), automatic
thresholds (no controls in a one-sample experiment), quadrants and complete
records — with figures off. The input's sha256 (done once by the scan stage
of a batch, or by ``Input.from_path``) is timed separately and reported, not
included. Target: ours <= 3x the baseline.

    python bench/bench_annexin.py [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _fixtures import load_generator
from assaykit import HostConfig, Input, PluginHost, analyze
from assaykit.api import make_experiment
from assaykit.cytometry.fcs import read_fcs_metadata
from assaykit.experiment import sha256_file

ROOT = Path(__file__).resolve().parents[1]




def paired(
    base: Callable[[], object], ours: Callable[[], object], repeats: int
) -> tuple[list[float], list[float]]:
    """Time both, interleaved (alternating which goes first), after one warm-up each.

    Why paired: this runs on shared machines whose load drifts; the ratio of
    two runs a few milliseconds apart is far steadier than two separate series.
    """
    base()
    ours()
    tb: list[float] = []
    to: list[float] = []
    for i in range(repeats):
        pair = ((base, tb), (ours, to)) if i % 2 == 0 else ((ours, to), (base, tb))
        for fn, acc in pair:
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return tb, to


def data_segment(path: Path) -> tuple[int, int, str]:
    meta = read_fcs_metadata(path)
    begin = int(meta.keywords["$BEGINDATA"])
    end = int(meta.keywords["$ENDDATA"])
    dtype = ("<" if meta.keywords["$BYTEORD"].startswith("1") else ">") + "f4"
    return begin, (end - begin + 1) // 4, dtype


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    mk = load_generator()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.fcs"
        truth = mk.make_large_sample(path, n_events=args.events)
        begin, count, dtype = data_segment(path)

        def baseline() -> None:
            np.fromfile(path, dtype=dtype, count=count, offset=begin)

        host = PluginHost(HostConfig(autoload=False, load=("annexin",)))
        t0 = time.perf_counter()
        sha256_file(path)
        t_hash = time.perf_counter() - t0
        inp = Input.from_path(path, kind="fcs", role="sample")
        exp = make_experiment("annexin_pi", [inp], host=host)
        result: list[Any] = []

        def ours() -> None:
            result[:] = [analyze("annexin_pi", exp, figures=False, host=host)]

        tb, to = paired(baseline, ours, args.repeats)
        ratios = [o / b for o, b in zip(to, tb)]
        res = result[0]
        sid = inp.sample_id
        mb = path.stat().st_size / 1e6
        out = sys.stdout
        med_b, med_o = statistics.median(tb), statistics.median(to)
        out.write(f"file: {args.events:,} events x 12 channels float32, {mb:.1f} MB\n")
        out.write(
            f"baseline np.fromfile(DATA)   median {1e3 * med_b:7.1f} ms  min {1e3 * min(tb):6.1f}\n"
        )
        out.write(
            f"annexin_pi analyze (no fig)  median {1e3 * med_o:7.1f} ms  min {1e3 * min(to):6.1f}\n"
        )
        out.write(
            f"ratio ours / baseline: median of {len(ratios)} paired runs "
            f"{statistics.median(ratios):.2f} x, ratio of minima {min(to) / min(tb):.2f} x "
            "(target <= 3)\n"
        )
        out.write(f"(sha256 of the input, scan stage, not included: {1e3 * t_hash:.1f} ms)\n")
        for m in mk.METRICS:
            out.write(f"  {m:22s} measured {res.value(sid, m):6.2f}  truth {truth.pct[m]:6.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
