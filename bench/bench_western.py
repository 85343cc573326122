"""Benchmark: the whole ``western_blot`` analysis of a large blot vs reading its TIFF.

Plain script (not a test): ``python bench/bench_western.py``.

On a seeded 4096x3072 uint16 blot (two strips, RARB above ACTB, 14 lanes,
rotated 0.8 degrees, uneven illumination), it times, best of ``--repeats``
runs interleaved round by round (so machine load cannot favour one):

* reading the TIFF: ``tifffile.imread`` and the image reader
  (:func:`assaykit.imaging.io.load_image`: decode, one channel, float32,
  saturation facts);
* the whole analysis, ``assaykit.analyze("western_blot", ...)`` (which
  reads the file too), without and with QC figures,

and prints the ratios to the reading time measured in the same run. It also
prints the worst volume and ratio errors against the generator's truth, so a
speed-up that breaks the numbers shows.
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
import tifffile
from assaykit import Experiment, HostConfig, Input, PluginHost, analyze
from assaykit.imaging.io import load_image
from assaykit.imaging.synthetic import make_blot


def make(workdir: Path, width: int, height: int, n_lanes: int) -> tuple[Experiment, dict]:  # type: ignore[type-arg]
    rng = np.random.default_rng(2025)
    target = rng.uniform(0.5, 3.0, n_lanes) * 2.0e7
    loading = rng.uniform(1.5, 2.5, n_lanes) * 2.0e7
    syn = make_blot(
        2025, height=height, width=width, n_lanes=n_lanes, n_strips=2, strip_gap=80,
        strip_bands=[[[(0.45, float(v))] for v in target], [[(0.5, float(v))] for v in loading]],
        band_sigma=10.0, illumination=4000.0, noise_sigma=40.0, rotation_deg=0.8,
    )  # fmt: skip
    path = workdir / "big_blot.tif"
    tifffile.imwrite(path, syn.image)
    inputs = []
    for lane in range(n_lanes):
        for strip, tgt in ((1, "RARB"), (2, "ACTB")):
            inputs.append(
                Input.from_path(
                    path, kind="image", role="reference" if lane == 0 else "sample",
                    sample_id=f"S{lane + 1:02d}", lane=lane + 1,
                    conditions={"target": tgt, "strip": str(strip)}, root=workdir,
                )
            )  # fmt: skip
    truth = {}
    for b in syn.truth["bands"]:
        truth[(f"S{b['lane'] + 1:02d}", "RARB" if b["strip"] == 0 else "ACTB")] = b["volume"]
    return Experiment("big", "western_blot", inputs, folder=workdir), truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--height", type=int, default=3072)
    ap.add_argument("--lanes", type=int, default=14)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    host = PluginHost(HostConfig(autoload=False, load=("western",)))
    with tempfile.TemporaryDirectory() as tmp:
        exp, truth = make(Path(tmp), args.width, args.height, args.lanes)
        path = exp.inputs[0].path
        mb = path.stat().st_size / 1e6
        print(
            f"image: {args.width}x{args.height} uint16 ({mb:.1f} MB), {args.lanes} lanes x 2 strips"
        )
        result: dict[str, Any] = {}

        def analysis(figures: bool) -> Callable[[], Any]:
            def run() -> Any:
                result[figures] = analyze("western_blot", exp, figures=figures, host=host)
                return result[figures]

            return run

        jobs: dict[str, Callable[[], Any]] = {
            "tifffile.imread": lambda: tifffile.imread(path),
            "load_image (the image reader)": lambda: load_image(path),
            "western_blot, figures off": analysis(False),
            "western_blot, figures on": analysis(True),
        }
        best = dict.fromkeys(jobs, float("inf"))
        for _ in range(args.repeats):
            for name, fn in jobs.items():
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
    read = best["load_image (the image reader)"]
    for name, t in best.items():
        print(f"{name:32s} {t * 1000:9.1f} ms   {t / read:6.1f}x the image reader")
    off, on = best["western_blot, figures off"], best["western_blot, figures on"]
    print(
        f"analysis / reading the TIFF: {off / read:.1f}x (figures off), {on / read:.1f}x "
        f"(figures on); vs tifffile.imread alone: {off / best['tifffile.imread']:.1f}x"
    )
    recs = result[False].records
    vol = {
        (r.sample_id, r.entity.rsplit(":", 1)[-1]): r.value
        for r in recs
        if r.metric in ("band_volume", "loading_volume")
    }
    errs = [abs(vol[k] / v - 1.0) for k, v in truth.items()]
    ratio = {r.sample_id: r.value for r in recs if r.metric == "normalized_ratio"}
    rerr = [
        abs(ratio[s] / (truth[(s, "RARB")] / truth[(s, "ACTB")]) - 1.0)
        for s in {k[0] for k in truth}
    ]
    print(f"worst volume error {max(errs):.2%}, worst ratio error {max(rerr):.2%} (vs truth)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
