"""Score the imaging geometry (strips, lanes, band presence) on the real gels against hand truth.

Plain script (not a test)::

    python bench/real_geometry.py [--given-count] [--json] [--only SUBSTRING]

Runs :func:`assaykit.imaging.pipeline.prepare_image` on every image annotated
in ``tests/data/real_gels/annotations.json`` (made by eye; see its ``_about``)
and prints, per image and strip: strips found vs annotated, lanes found vs
annotated, the fraction of annotated lane centres matched by a found lane
within a quarter pitch, the median |dx| of the matches, and band presence per
matched lane (a lane "has a band" when ``find_bands`` returns one) as recall
and precision against ``lanes_with_bands`` (faint lanes not judged) and recall
against the person-drawn masks. ``N!`` before a lane count: N of the found
lanes are degenerate (zero width, or on top of their neighbour). The scoring
is ``helpers.realgels.score_image``.

``--given-count`` passes the annotated lane count per strip and the strip
count (``expected_lanes``, ``min_strips``), as a lab's sample sheet would;
without it nothing is given. An image that fails is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.realgels import (  # noqa: E402
    load_annotations,
    mask_path_for,
    prepare_for,
    score_image,
    shared_data_root,
)


def _pct(v: float | None) -> str:
    return "  -  " if v is None else f"{100 * v:4.0f}%"


def score_all(given_count: bool, only: str | None = None) -> list[dict[str, Any]]:
    """One result per annotated image: the score, or the error that stopped it."""
    out: list[dict[str, Any]] = []
    for key, ann in load_annotations().items():
        if only and only not in key:
            continue
        t0 = time.perf_counter()
        row: dict[str, Any] = {"image": key}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                prepared = prepare_for(key, ann, given_count=given_count)
                row["rotation_deg"] = round(float(prepared.rotation_deg), 2)
                row["tilt_deg_annotated"] = ann["tilt_deg"]
                row.update(score_image(ann, prepared, mask=mask_path_for(key)))
        except Exception as exc:  # one bad image never stops the bench
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["seconds"] = round(time.perf_counter() - t0, 2)
        out.append(row)
    return out


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'image':<34} {'strips':>7} {'str':>3} {'lanes':>9} {'match':>6} {'|dx|':>5}"
        f" {'b.rec':>6} {'b.prec':>6} {'m.rec':>6}  rot/tilt"
    )
    lines = [head, "-" * len(head)]
    tot = {"lanes": 0, "matched": 0}
    for r in results:
        name = r["image"].split("/", 1)[1][:34]
        if "error" in r:
            lines.append(f"{name:<34} ERROR {r['error']}")
            continue
        tot["lanes"] += r["lanes_annotated"]
        tot["matched"] += r["lanes_matched"]
        strips = f"{r['strips_found']}/{r['strips_annotated']}"
        for s in r["strips"]:
            b = s.get("bands", {})
            dx = "  -" if s["median_abs_dx"] is None else f"{s['median_abs_dx']:5.1f}"
            lanes = f"{s['lanes_found']}/{s['lanes_annotated']}"
            if s["lanes_degenerate"]:
                lanes = f"{s['lanes_degenerate']}!{lanes}"
            rot = (
                f"{r['rotation_deg']:+.1f}/{r['tilt_deg_annotated']:+.1f}"
                if s["strip"] == 1
                else ""
            )
            lines.append(
                f"{name:<34} {strips:>7} {s['strip']:>3} {lanes:>9} {_pct(s['match_fraction']):>6}"
                f" {dx:>5} {_pct(b.get('recall')):>6} {_pct(b.get('precision')):>6}"
                f" {_pct(b.get('mask_recall')):>6}  {rot}"
            )
            name, strips = "", ""
    lines.append("-" * len(head))
    ok = [r for r in results if "error" not in r]
    tp = sum(s["bands"]["tp"] for r in ok for s in r["strips"] if "bands" in s)
    fp = sum(s["bands"]["fp"] for r in ok for s in r["strips"] if "bands" in s)
    fn = sum(s["bands"]["fn"] for r in ok for s in r["strips"] if "bands" in s)
    strips_right = sum(r["strips_found"] == r["strips_annotated"] for r in ok)
    lines.append(
        f"all: {len(ok)}/{len(results)} images ran; strip count right on {strips_right}; "
        f"lane centres matched {tot['matched']}/{tot['lanes']} "
        f"({_pct(tot['matched'] / tot['lanes'] if tot['lanes'] else None).strip()}); "
        f"band lanes recall {_pct(tp / (tp + fn) if tp + fn else None).strip()}, "
        f"precision {_pct(tp / (tp + fp) if tp + fp else None).strip()}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--given-count", action="store_true", help="pass annotated lane/strip counts")
    ap.add_argument("--json", action="store_true", help="print the full results as JSON")
    ap.add_argument("--only", help="score only images whose path contains this")
    args = ap.parse_args(argv)
    root = shared_data_root()
    if not root.is_dir():
        print(f"shared data not found at {root}; set ASSAYKIT_SHARED_DATA", file=sys.stderr)
        return 2
    results = score_all(args.given_count, args.only)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        mode = "given counts" if args.given_count else "free (nothing given)"
        print(f"real-gel geometry vs hand annotations, {mode}\n")
        print(_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
