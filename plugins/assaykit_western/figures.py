"""QC figures: every reported number drawn where it was measured.

Per image, two figures:

``blot:<file>``
    The straightened image (bands bright) with each strip's lanes outlined and
    numbered, the band of interest of every reported row boxed (yellow; red
    when saturated, grey dashed when no band was found and the box was
    integrated anyway) and labelled with its sample, target and volume.
    Ladder lanes, blanks and lanes without a row are outlined in grey.
``profiles:<file>``
    For each reported row, the lane profile (sum across the lane, before the
    2-D background), the baseline under the band as integrated, and the
    integrated area shaded: the shaded area *is* the reported volume.

Both are drawn straight to pixels (:class:`assaykit.RasterFigure`, through
:mod:`assaykit.imaging.qc` for the blot): in matplotlib a blot cost ~180 ms
and a 12-panel profile figure ~460 ms, most of a western batch's time.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
from assaykit import AssayResult, RasterFigure
from assaykit.imaging.qc import plot_lanes_and_bands
from assaykit.imaging.volume import integration_baseline

from assaykit_western.analysis import FileResult, RowResult

if TYPE_CHECKING:
    from assaykit_western.plugin import WesternParams

_MAX_DISPLAY = 1600  # px: larger images are shown block-averaged (the numbers are not)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _short(v: float | None) -> str:
    """3 significant digits, exponent without '+0' (1.05e6): the label fits its lane."""
    return "n/a" if v is None else f"{v:.3g}".replace("e+0", "e").replace("e+", "e")


def _display(data: np.ndarray) -> tuple[np.ndarray, int]:
    """Block-mean the image for display so huge blots render quickly."""
    k = int(np.ceil(max(data.shape) / _MAX_DISPLAY))
    if k <= 1:
        return data, 1
    h, w = (data.shape[0] // k) * k, (data.shape[1] // k) * k
    return data[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3)), k


def blot_figure(fr: FileResult, params: WesternParams) -> Any:
    """The image with strips, lanes, band boxes and labels (module docs)."""
    from assaykit.raster import Rectangle

    p = fr.prepared
    shown, k = _display(p.data)
    sat = p.saturated
    if k > 1:
        hh, ww = shown.shape[0] * k, shown.shape[1] * k
        sat = np.asarray(
            sat[:hh, :ww].reshape(shown.shape[0], k, shown.shape[1], k).any(axis=(1, 3)), bool
        )
    # Display contrast from the unsaturated pixels, so one overexposed band (drawn red)
    # does not make every other band black.
    clean = shown[~sat] if (~sat).any() else shown
    shown = np.minimum(shown, np.float32(np.percentile(clean, 99.9)))
    reported = {(rr.strip.index, rr.lane.index): rr for rr in fr.rows}
    # never below 8 pt (11 px at 100 dpi): smaller text cannot be read at native size
    fs = max(8.0, min(10.0, 80.0 / max(1, max(len(s.lane_list) for s in p.strips))))
    title = (
        f"{fr.relpath}: {p.polarity}, rotated {p.rotation_deg:+.2f} deg, {len(p.strips)} strip(s)"
    )
    fig = plot_lanes_and_bands(
        shown,
        [],
        (),
        title=title,
        strips=[(round(s.start / k), round(s.stop / k)) for s in p.strips]
        if len(p.strips) > 1
        else (),
        saturated=sat if sat.any() else None,
        raster=True,
        width=_width_for_labels(fr, shown.shape[1] * k, fs),
    )
    ax = fig.axes[0]
    for s in p.strips:
        for ln in s.lane_list:
            rr = reported.get((s.index, ln.index))
            color = "tab:cyan" if rr is not None else "0.6"
            ax.add_patch(
                Rectangle(
                    (ln.left / k, s.start / k), ln.width / k, (s.stop - s.start) / k,
                    fill=False, ec=color, lw=0.6, ls="-" if rr is not None else ":",
                )
            )  # fmt: skip
            ax.text(
                ln.center / k, s.start / k + 1, str(ln.index + 1),
                color=color, ha="center", va="top", fontsize=fs,
            )  # fmt: skip
    for rr in fr.rows:
        _box(ax, rr, k, fs)
    return fig


def _width_for_labels(fr: FileResult, image_width: float, fs: float) -> float:
    """Figure width (in) at which neighbouring lanes' labels do not run into each other.

    Why: at 8 in, 14 lanes leave 57 px a lane and "S01 / RARB / 1.05e6" at a
    readable 8 pt is wider than that. At least 8 in; at most 1.5x the image's
    own width (and 24 in): enlarging further adds pixels, not detail. The
    median lane pitch, not the least: on a real 601 px SDS-PAGE scan, lanes
    found almost on top of each other (flagged ``lanes_overlap``) made a
    2400 x 3950 px figure whose labels still collided.
    """
    from assaykit.raster import text_mask

    need = 8.0
    for s in fr.prepared.strips:
        centers = sorted(ln.center for ln in s.lane_list)
        if len(centers) < 2:
            continue
        pitch = float(np.median([b - a for a, b in itertools.pairwise(centers)]))
        labels = [
            f"{rr.row.sample_id}\n{rr.row.target}\n{_short(rr.band.volume if rr.band else None)}"
            for rr in fr.rows
            if rr.strip.index == s.index
        ]
        widest = max((text_mask(t, fs).shape[1] for t in labels), default=0)
        # px per image px so that the widest label plus a 6 px gap fits one lane pitch
        scale = (widest + 6) / max(pitch, 1e-6)
        need = max(need, scale * image_width / 100.0)
    return float(min(need, max(8.0, min(24.0, 1.5 * image_width / 100.0))))


def _box(ax: Any, rr: RowResult, k: int, fs: float) -> None:
    from assaykit.raster import Rectangle

    b = rr.band
    label = f"{rr.row.sample_id}\n{rr.row.target}\n{_short(b.volume if b else None)}"
    if b is None:
        ax.text(
            rr.lane.center / k, (rr.strip.start + 0.5 * rr.strip.height) / k, label,
            color="0.7", ha="center", va="center", fontsize=fs,
        )  # fmt: skip
        return
    color = "red" if b.saturated else ("yellow" if rr.detected else "0.75")
    ax.add_patch(
        Rectangle(
            (b.left / k, b.top / k), (b.right - b.left) / k, (b.bottom - b.top) / k,
            fill=False, ec=color, lw=0.9, ls="-" if rr.detected else "--",
        )
    )  # fmt: skip
    ax.text(
        0.5 * (b.left + b.right) / k, b.bottom / k + 1, label,
        color=color, ha="center", va="top", fontsize=fs,
    )  # fmt: skip


def profiles_figure(
    fr: FileResult,
    params: WesternParams,
    derived: dict[int, tuple[float | None, float | None]] | None = None,
) -> Any:
    """Lane profile, integration baseline and shaded volume for each reported row."""
    rows = fr.rows
    n = max(1, len(rows))
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig = RasterFigure(5.2 * ncols, 3.2 * nrows + 1.0)
    p = fr.prepared
    for i, rr in enumerate(rows):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        s = rr.strip
        b = rr.band
        if b is not None:
            cols = slice(b.left, b.right)
        else:
            cols = slice(int(rr.lane.left), int(np.ceil(rr.lane.right)))
        prof = p.data[s.start : s.stop, cols].astype(np.float64).sum(axis=1)
        ys = np.arange(s.start, s.stop)
        ax.plot(ys, prof, color="black", lw=0.7)
        title = f"{rr.row.sample_id} {rr.row.target} (lane {rr.lane.index + 1}"
        title += f", strip {s.index + 1})" if len(p.strips) > 1 else ")"
        if b is not None:
            yr, sig, base = integration_baseline(p, s, b, params, rr.others)
            color = "red" if b.saturated else ("tab:orange" if rr.detected else "0.6")
            ax.plot(yr, base, color="tab:blue", lw=0.9)
            ax.fill_between(yr, base, sig, color=color, alpha=0.5, lw=0)
            ax.axvline(b.row, color="tab:red", lw=0.5)
            lo = max(s.start, b.top - 4 * (b.bottom - b.top))
            hi = min(s.stop, b.bottom + 4 * (b.bottom - b.top))
            ax.set_xlim(lo, hi)
            seg = prof[lo - s.start : hi - s.start]
            if seg.size:
                pad = 0.05 * float(np.ptp(seg) or 1.0)
                ax.set_ylim(float(seg.min()) - pad, float(seg.max()) + pad)
            title += f"\nvolume {_fmt(b.volume)} AU, SNR {b.snr:.3g}"
            if b.saturated:
                title += f", SATURATED {b.saturated_fraction:.1%}"
            if not rr.detected:
                title += ", no band: integrated"
            if derived and id(rr) in derived:
                ratio, fc = derived[id(rr)]
                title += f"\nratio to {params.loading_target} {_fmt(ratio)}, fold change {_fmt(fc)}"
        else:
            title += "\nno band"
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.locator_params(nbins=5)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))  # offset text at 8 pt
        if i % ncols == 0:
            ax.set_ylabel("sum across lane (AU)", fontsize=9)
        if i >= n - ncols:
            ax.set_xlabel("row (px, deskewed)", fontsize=9)
    fig.suptitle(
        f"{fr.relpath}: shaded = integrated volume; blue = baseline",
        fontsize=11,
        y=1 - 0.2 / (3.2 * nrows + 1.0),
    )
    # fixed margins (the raster canvas never measures text)
    height = 3.2 * nrows + 1.0
    fig.subplots_adjust(
        left=0.07, right=0.98, bottom=0.55 / height, top=1 - 1.0 / height, wspace=0.28,
        hspace=0.9,
    )  # fmt: skip
    return fig


def add_figures(
    res: AssayResult,
    files: list[FileResult],
    params: WesternParams,
    derived: dict[int, tuple[float | None, float | None]] | None = None,
) -> None:
    """Both figures of every image, captioned with the background method and parameters."""
    for fr in files:
        method = (
            f"Method: {fr.background_text}. Polarity {fr.prepared.polarity} "
            f"({fr.prepared.polarity_rule}); rotation {fr.prepared.rotation_deg:+.3f} deg."
        )
        blot_caption = (
            f"Western blot {fr.relpath}: each lane numbered, the band measured for each "
            "sample and protein boxed and labelled with sample, protein and band volume "
            "(yellow: band found, red: saturated, grey dashed: no band, area measured "
            f"anyway). {method}"
        )
        res.add_figure(f"blot:{fr.relpath}", blot_figure(fr, params), caption=blot_caption)
        if fr.rows:
            prof_caption = (
                f"Band signal per lane, {fr.relpath}: the lane's intensity down the gel "
                "(black), the background under the band (blue) and the measured band "
                f"volume (shaded area above the background). {method}"
            )
            res.add_figure(
                f"profiles:{fr.relpath}", profiles_figure(fr, params, derived),
                caption=prof_caption,
            )  # fmt: skip
