"""Benchmark: the whole ``msp_gel`` analysis of one gel against reading its image.

Plain script (not a test)::

    python bench/bench_msp.py [--samples N] [--rounds R] [--figure]

The gel is made by the seeded generator (``fixtures/make_msp_gel.py``): two
ladders, three controls and ``--samples`` more samples (2 lanes each), 8-bit,
rotated, smiling, unevenly lit, ``--height`` px tall — a typical gel-doc
photograph. Baseline, measured in the same run: ``load_image`` of the file
(TIFF decode into float32, the least any analysis must do). Ours:
``assaykit.analyze`` on the prepared experiment (sheet parsed and file hashed
once beforehand, as the batch runner's scan stage does) — read, polarity,
deskew, lanes, background, bands, ladder matching and fits, smile, sizes,
calls, records — with figures off (``--figure`` also times the audit figure).
Candidates are interleaved round by round so machine load cannot favour one;
medians are reported, and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assaykit import HostConfig, PluginHost, analyze
from assaykit.imaging.io import load_image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _fixtures import load_generator  # noqa: E402  (bench/ is the script's folder)
from helpers.msp_data import experiment  # noqa: E402


def interleaved(candidates: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per candidate, running each once per round in turn (after a warm-up)."""
    for fn in candidates.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=9, help="samples besides the 3 controls")
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--figure", action="store_true", help="also time the audit figure")
    args = ap.parse_args()
    mk = load_generator("make_msp_gel")
    base = list(mk.default_samples())
    samples = base[:3] + [
        mk.SampleTruth(f"s{k + 1}", m_volume=12000.0 * (k % 2), u_volume=9000.0 * (k % 3 > 0))
        for k in range(args.samples)
    ]
    n_lanes = 2 + 2 * len(samples)
    case = mk.GelCase(
        "bench", 7, tuple(samples), width=60 * n_lanes + 120, height=args.height,
        rotation_deg=1.5, smile_px=8.0, illumination=20.0,
    )  # fmt: skip
    host = PluginHost(HostConfig(autoload=False, load=("msp",)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mk.write_case(folder, case)
        image = folder / "gel.tif"
        exp = experiment(folder, host)
        shape = load_image(image).shape
        expected = mk.read_expected(folder / "expected.csv")
        res = analyze("msp_gel", exp, figures=False, host=host)
        calls = {r.sample_id: r.value_str for r in res.records if r.metric == "call"}
        right = sum(calls[s] == t["call"] for s, t in expected.items())
        candidates: dict[str, Callable[[], object]] = {
            "read image (baseline)": lambda: load_image(image),
            "whole analysis": lambda: analyze("msp_gel", exp, figures=False, host=host),
        }
        if args.figure:
            candidates["whole analysis + figure"] = lambda: analyze(
                "msp_gel", exp, figures=True, host=host
            )
        medians = interleaved(candidates, args.rounds)
    base_t = medians["read image (baseline)"]
    out = [
        f"gel {shape[1]}x{shape[0]} px, 8-bit TIFF, {n_lanes} lanes "
        f"({len(samples)} samples); calls right: {right}/{len(expected)}; "
        f"median of {args.rounds} interleaved rounds",
    ]
    for name, t in medians.items():
        out.append(f"  {name:26s} {1000 * t:9.1f} ms   ratio {t / base_t:7.1f}x")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
