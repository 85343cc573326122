"""Compare western_blot band volumes with ImageJ on the same images (a development check).

Plain script, not a CI step: ``python bench/imagej_compare.py``. Needs Debian's
``imagej`` (1.53t) and ``xvfb`` (``apt-get install -y imagej xvfb``).

Why integrated densities and not Gel Analyzer: Gel Analyzer measures its peak
areas on a rendered 8-bit plot, so its numbers are not on the image's scale.
Instead, for seeded generated blots (known band volumes), the plugin finds
the bands; ImageJ then runs its own "Subtract Background..." (rolling ball,
radius 50, smoothing on, as the plugin's detection background) on the same
file, and measures the raw integrated density (sum of pixel values) of each
of the plugin's band rectangles. Printed:

* ours vs ImageJ: Pearson correlation and the largest relative difference;
* the same rectangles summed on *our* rolling-ball subtraction (same
  definition as ImageJ's: checks the implementation, not the method);
* both against the generator's truth, which says which definition is closer.

A rolling ball leaves a positive residual under the band (it rests on the
noise minima), which a plain rectangle sum keeps; the plugin's volume takes a
baseline from the lane profile beside the band instead. That is the expected
difference between the two columns.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from assaykit import Input
from assaykit.imaging.background import imagej_subtract, rolling_ball_background
from assaykit.imaging.io import load_image
from assaykit.imaging.synthetic import make_blot
from assaykit_western.analysis import measure_file, read_rows
from assaykit_western.plugin import WesternParams

RADIUS = 50.0


@dataclass
class Band:
    image: str
    lane: int
    truth: float
    ours: float
    rect: tuple[int, int, int, int]  # x, y, w, h
    ours_rect_rb: float = float("nan")
    imagej: float = float("nan")


CASES: dict[str, dict[str, Any]] = {
    "plain": {"n_lanes": 6},
    "uneven_2000": {"n_lanes": 6, "illumination": 2000.0},
    "wide_range_10_lanes": {"n_lanes": 10, "volume_range": (0.2e6, 5.0e6)},
    "two_bands_per_lane": {"n_lanes": 6, "second_band": True},
}


Truth = list[tuple[int, float, float]]  # (lane index, row, volume) per generated band


def generate(workdir: Path, name: str, seed: int, spec: dict[str, Any]) -> tuple[Path, Truth]:
    """One seeded blot (light bands on dark, not rotated: rectangles are file pixels)."""
    rng = np.random.default_rng(seed)
    n = spec["n_lanes"]
    lo, hi = spec.get("volume_range", (0.5e6, 3.0e6))
    vols = rng.uniform(lo, hi, n)
    bands = [[(0.45, float(v))] for v in vols]
    if spec.get("second_band"):
        bands = [[*b, (0.7, float(rng.uniform(0.5e6, 1.5e6)))] for b in bands]
    syn = make_blot(
        seed, n_lanes=n, height=400, width=90 * n + 100, bands=bands,
        illumination=spec.get("illumination", 0.0),
    )  # fmt: skip
    path = workdir / f"{name}.tif"
    tifffile.imwrite(path, syn.image)
    truths: Truth = []
    for b in syn.truth["bands"]:
        truths.append((b["lane"], b["row"], b["volume"]))
    return path, truths


def measure(path: Path, truths: Truth, n_lanes: int, params: WesternParams) -> list[Band]:
    rows_at = sorted({round(r) for _l, r, _v in truths})
    out: list[Band] = []
    for k, row in enumerate(rows_at):
        inputs = [
            Input(
                path=path, relpath=path.name, kind="image", sample_id=f"S{lane + 1}",
                lane=lane + 1, sha256="-", conditions={"target": f"T{k}"},
            )
            for lane in range(n_lanes)
        ]  # fmt: skip
        window = {f"T{k}": (max(0.0, row / 400 - 0.08), min(1.0, row / 400 + 0.08))}
        p = params.model_copy(update={"row_window": window})
        fr = measure_file(load_image(path), read_rows(inputs, p, has_sheet=True), p)
        for rr in fr.rows:
            b = rr.band
            assert b is not None
            truth = next(v for lane, r, v in truths if lane == rr.lane.index and round(r) == row)
            rect = (b.left, b.top, b.right - b.left, b.bottom - b.top)
            out.append(Band(path.name, rr.lane.index + 1, truth, b.volume, rect))
    return out


def run_imagej(workdir: Path, images: list[Path], bands: list[Band]) -> bool:
    """One ImageJ session: subtract background in each image, sum each rectangle."""
    results = workdir / "imagej_rawintden.csv"
    lines = []
    for img in images:
        lines.append(f'open("{img}");')
        lines.append(f'run("Subtract Background...", "rolling={RADIUS:g}");')
        for i, b in enumerate(bands):
            if b.image != img.name:
                continue
            x, y, w, h = b.rect
            lines.append(f"makeRectangle({x}, {y}, {w}, {h});")
            lines.append("getRawStatistics(n, mean);")
            lines.append(f'File.append("{i}," + d2s(n * mean, 4), "{results}");')
        lines.append("close();")
    macro = workdir / "measure.ijm"
    macro.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Without a display ImageJ's -batch mode throws HeadlessException yet exits 0,
    # so it runs under xvfb and success is judged by the output file.
    subprocess.run(
        ["xvfb-run", "-a", "imagej", "-b", str(macro)],
        capture_output=True,
        timeout=900,
        check=False,
    )
    if not results.exists():
        return False
    for line in results.read_text().split():
        i, v = line.split(",")
        bands[int(i)].imagej = float(v)
    return True


def our_rect_sums(images: list[Path], bands: list[Band]) -> None:
    """The same rectangles on our ImageJ-compatible subtraction (ImageJ's rounding too)."""
    for img in images:
        raw = tifffile.imread(img)
        sub = imagej_subtract(raw, rolling_ball_background(raw, RADIUS).background)
        for b in bands:
            if b.image == img.name:
                x, y, w, h = b.rect
                b.ours_rect_rb = float(sub[y : y + h, x : x + w].astype(np.float64).sum())


def _stats(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    rel = np.abs(a / b - 1.0)
    return float(np.corrcoef(a, b)[0, 1]), float(rel.max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, default=None, help="keep images and macro here")
    args = ap.parse_args(argv)
    if shutil.which("imagej") is None or shutil.which("xvfb-run") is None:
        print("ImageJ not available (apt-get install -y imagej xvfb)")
        return 1
    params = WesternParams(deskew=False)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        images, bands = [], []
        for k, (name, spec) in enumerate(CASES.items()):
            path, truths = generate(workdir, name, args.seed + k, spec)
            images.append(path)
            bands += measure(path, truths, spec["n_lanes"], params)
        if not run_imagej(workdir, images, bands):
            print("ImageJ produced no output (see xvfb-run -a imagej -b measure.ijm)")
            return 1
        our_rect_sums(images, bands)

    print(
        f"{len(bands)} bands on {len(images)} generated 16-bit blots; "
        f"ImageJ 1.53t rolling={RADIUS:g}"
    )
    print(f"{'image':22s} {'lane':>4s} {'truth':>10s} {'ours':>10s} {'ImageJ':>10s} "
          f"{'ours/IJ-1':>9s} {'IJ/truth-1':>10s} {'ours/truth-1':>12s}")  # fmt: skip
    for b in bands:
        print(
            f"{b.image:22s} {b.lane:4d} {b.truth:10.4g} {b.ours:10.4g} {b.imagej:10.4g} "
            f"{b.ours / b.imagej - 1:+9.2%} {b.imagej / b.truth - 1:+10.2%} "
            f"{b.ours / b.truth - 1:+12.2%}"
        )
    ours = np.array([b.ours for b in bands])
    ij = np.array([b.imagej for b in bands])
    truth = np.array([b.truth for b in bands])
    same = np.array([b.ours_rect_rb for b in bands])
    r, worst = _stats(ours, ij)
    print(f"\nplugin volume vs ImageJ integrated density: r = {r:.5f}, largest relative "
          f"difference {worst:.2%}")  # fmt: skip
    r2, worst2 = _stats(same, ij)
    print(f"same definition (our rolling ball + rectangle sum) vs ImageJ: r = {r2:.7f}, "
          f"largest relative difference {worst2:.4%}")  # fmt: skip
    r3, w3 = _stats(ij, truth)
    r4, w4 = _stats(ours, truth)
    print(f"vs truth: ImageJ r = {r3:.5f}, largest {w3:.2%}; plugin r = {r4:.5f}, largest {w4:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
