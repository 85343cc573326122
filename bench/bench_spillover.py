"""Benchmark: spillover estimation from six single stains and an unstained control.

Run with the project's Python:  python bench/bench_spillover.py [--events N] [--repeats R]

Why these baselines, measured in the same run (interleaved, best of R): the
previous estimator (Huber fit per detector over positives and negatives,
copied here as it was) says what the rewrite gained; the floor (one median
per column of every control, the least any estimate must read) says what is
left. Issue 11 asked for <= 0.2 s for six controls of 50,000 events, where the
previous estimator took 1.4 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core" / "cytometry"))

from assaykit.cytometry.compensation import SingleStainControl, estimate_spillover  # noqa: E402
from synthetic import PANEL_DETECTORS, PANEL_SPILL, panel_controls  # noqa: E402


def _old_huber(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """The estimator before issue 11 (one column at a time, medians every iteration)."""
    w = np.ones_like(x)
    b = a = 0.0
    for _ in range(30):
        sw = w.sum()
        mx, my = float((w * x).sum() / sw), float((w * y).sum() / sw)
        dx = x - mx
        nb = float((w * dx * (y - my)).sum() / float((w * dx * dx).sum()))
        na = my - nb * mx
        r = y - (na + nb * x)
        scale = float(np.median(np.abs(r - np.median(r)))) * 1.4826 or 1.0
        u = np.abs(r) / (1.345 * scale)
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-12))
        if abs(nb - b) <= 1e-10 * max(1.0, abs(nb)) and abs(na - a) <= 1e-10 * max(1.0, abs(na)):
            return nb
        b, a = nb, na
    return b


def old_estimate(controls: list[NDArray[np.float64]], unstained: NDArray[np.float64]) -> NDArray:
    n = len(controls)
    s = np.eye(n)
    for i, ev in enumerate(controls):
        thr = np.percentile(unstained[:, i], 99.5)
        pos = ev[ev[:, i] > thr]
        for j in range(n):
            if j != i:
                x = np.concatenate([pos[:, i], unstained[:, i]])
                y = np.concatenate([pos[:, j], unstained[:, j]])
                s[i, j] = _old_huber(x, y)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    controls, unstained, _ = panel_controls(1, n=args.events)
    ss = [SingleStainControl(c, d, d) for c, d in zip(controls, PANEL_DETECTORS)]
    est = estimate_spillover(ss, PANEL_DETECTORS, unstained)
    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: [np.median(c, axis=0) for c in (*controls, unstained)],
        "previous": lambda: old_estimate(controls, unstained),
        "now": lambda: estimate_spillover(ss, PANEL_DETECTORS, unstained),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    old = old_estimate(controls, unstained)
    print(f"six controls x {args.events} events + unstained, best of {args.repeats}")
    for name, t in best.items():
        print(f"  {name:9s} {t:7.3f} s")
    print(f"  now / previous = {best['now'] / best['previous']:.3f}")
    print(f"  now / floor    = {best['now'] / best['floor']:.1f}")
    print(f"  dim 7-AAD->FITC: truth {PANEL_SPILL[2, 0]:.4f}, previous {old[2, 0]:.4f}, "
          f"now {est.spillover.matrix[2, 0]:.4f} +/- {est.uncertainty[2, 0]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
