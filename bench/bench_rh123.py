"""Benchmark: the ``rh123_efflux`` assay on one experiment, against reading the same files' bytes.

Run with the project's Python:  python bench/bench_rh123.py [--events N] [--repeats R]

Why this comparison: the floor for any analysis of an experiment is getting
its events off disk, so the baseline is ``np.fromfile`` of every file's DATA
segment. The assay adds parsing, scaling, compensation, the cleanup gates,
the live gate (PI, or a scatter mixture fit), pairing, and (optionally) the
QC figures. The
ratios say what that costs, measured in the same run on the same warm page
cache, interleaved round by round (best of R), so machine load cannot favour
one candidate.

The experiment is simulated (``fixtures/tunel_rh123_sim.py``): two cell lines
with PI (without and with verapamil, and unstained) and one without a
viability dye (scatter live gate), each tube N events x 5-6 float32 channels.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fixtures"))

import assaykit  # noqa: E402
from assaykit import HostConfig, PluginHost  # noqa: E402
from assaykit.cytometry.fcs import read_fcs_metadata  # noqa: E402
from make_rh123 import Rh123Spec, write_folder  # noqa: E402

SEED = 4243


def tubes(n: int) -> list[Rh123Spec]:
    return [
        Rh123Spec("p_none", "P", 18_000, n_events=n),
        Rh123Spec("p_vera", "P", 19_500, "verapamil", n_events=n),
        Rh123Spec("p_unst", "P", 0, role="unstained", n_events=n),
        Rh123Spec("r_none", "R", 2_500, dead_fraction=0.2, n_events=n),
        Rh123Spec("r_vera", "R", 14_000, "verapamil", dead_fraction=0.2, n_events=n),
        Rh123Spec("r_unst", "R", 0, role="unstained", dead_fraction=0.2, n_events=n),
        Rh123Spec("k_none", "K", 1_800, with_pi=False, n_events=n),
        Rh123Spec("k_csa", "K", 9_000, "cyclosporin A", with_pi=False, n_events=n),
    ]


def best_interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Best time of each function, calling them in turn in every round."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def raw_reader(paths: list[Path]) -> Callable[[], list[np.ndarray]]:
    """``np.fromfile`` of every file's DATA segment (float32, little-endian)."""
    segments = []
    for p in paths:
        meta = read_fcs_metadata(p)
        segments.append((p, int(meta.keywords["$BEGINDATA"]), meta.n_events, meta.n_channels))

    def read() -> list[np.ndarray]:
        return [np.fromfile(p, dtype="<f4", count=n * c, offset=b).reshape(n, c)
                for p, b, n, c in segments]

    return read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per tube")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    host = PluginHost(HostConfig(autoload=False, load=("rh123",)))
    with tempfile.TemporaryDirectory(prefix="assaykit-bench-rh123-") as tmp:
        folder = Path(tmp)
        specs = tubes(args.events)
        write_folder(folder, {"exp": specs}, seed=SEED)
        files = {folder / "exp" / f"{s.sample_id}.fcs": s.role for s in specs}
        conditions = {
            s.sample_id: {"cell_line": s.cell_line, "inhibitor": s.inhibitor} for s in specs
        }
        paths = list(files)
        exp = assaykit.make_experiment(
            "rh123_efflux", files, host=host, conditions=conditions
        )
        mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"experiment: {len(paths)} tubes x {args.events:,} events x 5-6 channels "
              f"float32 ({mb:.0f} MB)")
        raw = raw_reader(paths)
        raw()  # warm the page cache for everyone
        times = best_interleaved(
            {
                "np.fromfile (DATA segments)": raw,
                "read (experiment.read, all files)": lambda: [
                    exp.with_readers(host.readers_by_kind()).read(i) for i in exp.inputs
                ],
                "rh123 analyze, no figures": lambda: assaykit.analyze(
                    "rh123_efflux", exp, figures=False, host=host
                ),
                "rh123 analyze, with figures": lambda: assaykit.analyze(
                    "rh123_efflux", exp, figures=True, host=host
                ),
            },
            args.repeats,
        )
    base = times["np.fromfile (DATA segments)"]
    print(f"{'candidate':36s} {'best (ms)':>10s} {'ratio':>9s}")
    for name, seconds in times.items():
        print(f"{name:36s} {seconds * 1e3:10.1f} {seconds / base:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
