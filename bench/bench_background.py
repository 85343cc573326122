"""Benchmark and fidelity check of the ImageJ-compatible rolling ball.

Plain script (not a test): ``python bench/bench_background.py``.

On a seeded synthetic 4096x3072 uint16 blot it times
  * ours: ``rolling_ball_background(image, 50)`` (full-resolution background), and
  * OpenCV ``morphologyEx(MORPH_OPEN)`` with a 101 px elliptical kernel (same radius),
and prints the speed ratio (target: ours >= 20x faster). When ImageJ is installed
(Debian: ``apt-get install -y imagej xvfb``) it runs ImageJ's "Subtract
Background..." (rolling=50, no sliding paraboloid, smoothing on) on the same image
and prints the mean and max absolute deviation of both methods from ImageJ's output.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile
from assaykit.imaging.background import imagej_subtract, rolling_ball_background
from assaykit.imaging.synthetic import make_blot


def best_of(n: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_imagej(image: np.ndarray, radius: float, workdir: Path) -> np.ndarray | None:
    if shutil.which("imagej") is None or shutil.which("xvfb-run") is None:
        return None
    src, dst, macro = workdir / "in.tif", workdir / "out.tif", workdir / "bg.ijm"
    tifffile.imwrite(src, image)
    macro.write_text(
        f'open("{src}");\n'
        f'run("Subtract Background...", "rolling={radius:g}");\n'
        f'saveAs("Tiff", "{dst}");\n'
    )
    # Without a display ImageJ's -batch mode throws HeadlessException yet exits 0,
    # so it is run under xvfb and success is judged by the output file.
    subprocess.run(
        ["xvfb-run", "-a", "imagej", "-b", str(macro)],
        capture_output=True,
        timeout=900,
        check=False,
    )
    return tifffile.imread(dst) if dst.exists() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--height", type=int, default=3072)
    ap.add_argument("--radius", type=float, default=50.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-imagej", action="store_true")
    args = ap.parse_args(argv)

    syn = make_blot(
        2024, height=args.height, width=args.width, n_lanes=14, illumination=4000.0,
        noise_sigma=40.0, band_sigma=10.0, rotation_deg=0.8,
    )  # fmt: skip
    img = syn.image
    print(
        f"image: {img.shape[1]}x{img.shape[0]} {img.dtype}, rolling-ball radius {args.radius:g} px"
    )

    t_ours, bg = best_of(args.repeats, lambda: rolling_ball_background(img, args.radius))
    k = round(2 * args.radius + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    t_open, opened = best_of(
        max(1, args.repeats - 1), lambda: cv2.morphologyEx(img, cv2.MORPH_OPEN, kernel)
    )
    print(f"ours (ImageJ rolling ball):           {t_ours * 1000:8.1f} ms")
    print(f"OpenCV opening, {k} px ellipse:       {t_open * 1000:8.1f} ms")
    print(f"speed ratio (opening / ours):         {t_open / t_ours:8.1f}x   (target >= 20x)")

    if args.no_imagej:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ij = run_imagej(img, args.radius, Path(tmp))
        t_ij = time.perf_counter() - t0
    if ij is None:
        print("ImageJ not available (apt-get install -y imagej xvfb): fidelity not measured")
        return 0
    ours = imagej_subtract(img, bg.background).astype(np.int64)  # type: ignore[union-attr]
    opening_out = np.clip(img.astype(np.int64) - np.asarray(opened, dtype=np.int64), 0, 65535)
    ref = ij.astype(np.int64)
    d_ours, d_open = np.abs(ours - ref), np.abs(opening_out - ref)
    print(f"ImageJ 'Subtract Background...' run (incl. JVM start): {t_ij:.1f} s")
    print(
        f"deviation from ImageJ, ours:     mean {d_ours.mean():.4f}, max {d_ours.max()}, "
        f"identical pixels {100 * (d_ours == 0).mean():.3f} %"
    )
    print(f"deviation from ImageJ, opening:  mean {d_open.mean():.2f}, max {d_open.max()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
