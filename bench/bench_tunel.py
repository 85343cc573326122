"""Benchmark: the ``tunel`` assay on one experiment, against reading the same files' bytes.

Run with the project's Python:  python bench/bench_tunel.py [--events N] [--repeats R]

Why this comparison: the floor for any analysis of an experiment is getting
its events off disk, so the baseline is ``np.fromfile`` of every file's DATA
segment. The assay adds parsing, scaling, compensation, the cleanup gates,
the threshold from the no-TdT control and (optionally) the QC figures. The
ratios say what that costs, measured in the same run on the same warm page
cache, interleaved round by round (best of R), so machine load cannot favour
one candidate.

The experiment is simulated (``fixtures/tunel_rh123_sim.py``): a no-TdT
control, a DNase control and four samples, each N events x 6 float32 channels.
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
from make_tunel import TunelSpec, write_folder  # noqa: E402

SEED = 4242
TUBES = (("neg", "negative_control", 0.2), ("pos", "positive_control", 0.95),
         ("s1", "sample", 0.03), ("s2", "sample", 0.15), ("s3", "sample", 0.4),
         ("s4", "sample", 0.7))


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

    host = PluginHost(HostConfig(autoload=False, load=("tunel",)))
    with tempfile.TemporaryDirectory(prefix="assaykit-bench-tunel-") as tmp:
        folder = Path(tmp)
        specs = [TunelSpec(sid, role, f, n_events=args.events) for sid, role, f in TUBES]
        write_folder(folder, {"exp": specs}, seed=SEED)
        files = {folder / "exp" / f"{sid}.fcs": role for sid, role, _ in TUBES}
        paths = list(files)
        exp = assaykit.make_experiment("tunel", files, host=host)
        mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"experiment: {len(paths)} tubes x {args.events:,} events x 6 channels "
              f"float32 ({mb:.0f} MB)")
        raw = raw_reader(paths)
        raw()  # warm the page cache for everyone
        times = best_interleaved(
            {
                "np.fromfile (DATA segments)": raw,
                "read (experiment.read, all files)": lambda: [
                    exp.with_readers(host.readers_by_kind()).read(i) for i in exp.inputs
                ],
                "tunel analyze, no figures": lambda: assaykit.analyze(
                    "tunel", exp, figures=False, host=host
                ),
                "tunel analyze, with figures": lambda: assaykit.analyze(
                    "tunel", exp, figures=True, host=host
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
