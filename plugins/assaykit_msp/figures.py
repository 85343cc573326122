"""The QC figure of one MSP gel, made so that a person can audit every call at a glance.

What is on it, and why:

- the straightened gel (what was measured), bands bright;
- each lane boxed in its role's colour, with its number and role above it;
- the ladder's sizes beside the outer ladder lanes, so any band can be read
  against the ladder by eye;
- the expected product window (size +/- tolerance) shaded in every M and U
  lane: a band inside the shading is the product;
- every band boxed and labelled with its size, coloured by what it was taken
  for (product, too weak, primer dimer, other);
- under each sample's M and U lanes, its sample id and call, and for a
  control whether it passed.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from assaykit import RasterFigure

from assaykit_msp.analysis import DIMER, LADDER, PRODUCT, WEAK, GelAnalysis

ROLE_COLOUR = {"ladder": "white", "M": "#ff7f7f", "U": "#7fbfff", "blank": "0.55"}
CALL_COLOUR = {
    "methylated": "#c0392b",
    "unmethylated": "#1f5fbf",
    "partially_methylated": "#7d3c98",
    "failed": "0.35",
}
KIND_STYLE: dict[str, dict[str, Any]] = {
    PRODUCT: {"ec": "#39ff14", "lw": 1.4, "ls": "-"},
    WEAK: {"ec": "orange", "lw": 1.0, "ls": "--"},
    DIMER: {"ec": "0.6", "lw": 0.6, "ls": ":"},
    LADDER: {"ec": "white", "lw": 0.4, "ls": "-"},
}
OTHER_STYLE: dict[str, Any] = {"ec": "yellow", "lw": 0.8, "ls": "-"}


def gel_figure(gel: GelAnalysis, *, title: str = "") -> Any:
    """Draw the audit figure of one analysed gel (see module docs); returns a RasterFigure.

    Drawn straight to pixels (:mod:`assaykit.raster`): in matplotlib the
    gel's many labels cost ~350 ms a figure.
    """
    from assaykit.raster import Rectangle

    prep = gel.prepared
    data = prep.data
    h, w = data.shape
    top, bottom = 0.11 * h, 0.26 * h
    side = 0.07 * w
    small = 9.0  # pt; 12.5 px at 100 dpi, the smallest text (small - 1) is 11 px
    width_in = _width_for_labels(gel, w + 2 * side, small)
    height_in = width_in * (h + top + bottom) / (w + 2 * side) + 0.6
    fig = RasterFigure(width_in, height_in)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.6 / height_in))
    # A square-root stretch between the 1st and 99.7th percentiles: faint bands a few
    # grey levels above the background become visible without saturating strong ones.
    from matplotlib.colors import PowerNorm

    # display limits from every other row and column: the same stretch to the eye,
    # a quarter of the sort (the gel's numbers never come from here)
    lo, hi = np.percentile(data[::2, ::2] if data.size > 250_000 else data, [1.0, 99.7])
    ax.imshow(
        data,
        cmap="gray",
        norm=PowerNorm(0.5, vmin=float(lo), vmax=float(max(hi, lo + 1e-6)), clip=True),
        extent=(0, w, h, 0),
        interpolation="nearest",
    )
    ax.set_xlim(-side, w + side)
    ax.set_ylim(h + bottom, -top)
    ax.set_axis_off()
    rows = np.arange(h, dtype=np.float64)
    tol = gel.params.size_tolerance

    for n, lr in sorted(gel.lanes.items()):
        lane, role = lr.lane, lr.spec.role
        colour = ROLE_COLOUR.get(role, "white")
        ax.add_patch(
            Rectangle((lane.left, 0), lane.width, h, fill=False, ec=colour, lw=0.8, alpha=0.8)
        )
        ax.text(
            lane.center,
            -0.55 * top,
            f"{n}",
            ha="center",
            va="center",
            fontsize=small,
            color="black",
        )
        short = {"ladder": "L", "blank": "-"}.get(role, role)
        ax.text(
            lane.center,
            -0.2 * top,
            short,
            ha="center",
            va="center",
            fontsize=small + 1,
            color=_dark(colour),
            weight="bold",
        )
        if lr.expected_bp is not None:
            sizes = gel.sizer.sizes_at(lane.center, rows)
            inside = np.abs(sizes / lr.expected_bp - 1.0) <= tol
            if inside.any():
                r0, r1 = float(rows[inside].min()), float(rows[inside].max())
                ax.add_patch(
                    Rectangle(
                        (lane.left, r0),
                        lane.width,
                        r1 - r0,
                        fill=True,
                        fc=colour,
                        alpha=0.18,
                        ec="none",
                    )
                )
        for b in lr.bands:
            weak_other = b.kind not in (PRODUCT, WEAK) and b.band.snr < gel.params.min_snr
            if role != "ladder" and weak_other:
                continue
            style = KIND_STYLE.get(b.kind, OTHER_STYLE)
            bd = b.band
            ax.add_patch(
                Rectangle((lane.left, bd.top), lane.width, bd.bottom - bd.top, fill=False, **style)
            )
            if role == "ladder":
                continue
            if b.kind in (PRODUCT, WEAK):
                # size and the SNR that decided presence, inside the lane under the band
                ax.text(
                    lane.center,
                    bd.bottom + 1.0,
                    f"{b.bp:.0f} bp\nSNR {b.band.snr:.0f}",
                    ha="center",
                    va="top",
                    fontsize=small - 1.0,
                    color=style["ec"],
                    linespacing=0.95,
                    bbox={"fc": "black", "ec": "none", "alpha": 0.55, "pad": 0.2},
                )
            else:
                ax.text(
                    lane.right + 1.0,
                    bd.row,
                    f"{b.bp:.0f}",
                    ha="left",
                    va="center",
                    fontsize=small - 0.5,
                    color=style["ec"],
                    bbox={"fc": "black", "ec": "none", "alpha": 0.45, "pad": 0.3},
                )

    # ladder sizes beside the outermost ladder lanes
    ladders = sorted(gel.ladders.items(), key=lambda kv: gel.lanes[kv[0]].lane.center)
    for pos, (n, _lad) in enumerate(ladders):
        if pos not in (0, len(ladders) - 1):
            continue
        lane = gel.lanes[n].lane
        left = pos == 0
        x_text = -2.0 if left else w + 2.0
        for sb in gel.lanes[n].bands:
            if sb.nominal_bp is None:
                continue
            ax.text(
                x_text,
                sb.band.row,
                f"{sb.nominal_bp:g}",
                ha="right" if left else "left",
                va="center",
                fontsize=small - 0.5,
                color="black",
            )
            x0, x1 = (0.0, lane.left) if left else (lane.right, float(w))
            ax.plot([x0, x1], [sb.band.row, sb.band.row], color="white", lw=0.3, alpha=0.5)
        if len(ladders) == 1:
            break

    # calls under each sample's lanes
    for s in gel.samples:
        m, u = gel.lanes[s.spec.m_lane].lane, gel.lanes[s.spec.u_lane].lane
        x = 0.5 * (m.center + u.center)
        ax.plot([m.left, u.right], [h + 0.05 * bottom] * 2, color="black", lw=0.8)
        ax.text(x, h + 0.2 * bottom, s.spec.sample_id, ha="center", va="top", fontsize=small)
        label = s.call.replace("partially_methylated", "partial")
        mi = s.methylation_index
        if s.call == "partially_methylated" and mi is not None:
            label += f" (MI {mi:.2f})"
        ax.text(
            x,
            h + 0.45 * bottom,
            label,
            ha="center",
            va="top",
            fontsize=small + 0.5,
            color=CALL_COLOUR.get(s.call, "black"),
            weight="bold",
        )
        if s.spec.control:
            ok = not s.control_failed
            ax.text(
                x,
                h + 0.72 * bottom,
                "control OK" if ok else "CONTROL FAILED",
                ha="center",
                va="top",
                fontsize=small - 0.5,
                color="#1e8449" if ok else "#c0392b",
                weight="normal" if ok else "bold",
            )

    worst = min((lr.quality for lr in gel.ladders.values()), key=lambda q: q.r_squared)
    failed = gel.controls_failed
    parts = [
        title,
        f"ladder R² {worst.r_squared:.4f}, max residual {worst.max_residual_bp:.1f} bp",
        "controls FAILED" if failed else ("controls OK" if gel.layout.controls else "no controls"),
        f"rotation {prep.rotation_deg:+.2f}°, smile {gel.smile_range_px:.1f} px",
    ]
    fig.suptitle(
        " | ".join(p for p in parts if p), fontsize=11, color="#c0392b" if failed else "black"
    )
    return fig


def _width_for_labels(gel: GelAnalysis, span: float, small: float) -> float:
    """Figure width (in) at which neighbouring samples' ids and calls do not overlap.

    Why: the labels under each M/U pair are as wide as their text; on a gel with
    many narrow lanes they ran into each other at a readable font size.
    """
    centers = sorted(
        0.5 * (gel.lanes[s.spec.m_lane].lane.center + gel.lanes[s.spec.u_lane].lane.center)
        for s in gel.samples
    )
    if len(centers) < 2:
        return 12.0
    pitch = min(b - a for a, b in itertools.pairwise(centers))
    longest = max(
        max(len(s.spec.sample_id), len(s.call.replace("partially_methylated", "partial (MI 0.00)")))
        for s in gel.samples
    )
    # ~0.55 em per character for DejaVu Sans, plus a 12 px gap; 100 px per inch
    need_px = longest * 0.55 * (small + 0.5) * 100 / 72 + 12
    return float(np.clip(need_px * span / max(pitch, 1e-6) / 100, 12.0, 18.0))


def _dark(colour: str) -> str:
    return "black" if colour in ("white", "0.55") else colour
