"""One membrane (or gel row) across its lanes: band rows, band boxes, lane grids.

Shared by the imaging assays. A band row is one protein's (or one product's)
bands across the lanes of a strip: chosen by consensus (:func:`consensus_row`,
:func:`bands_along_row`), following a smooth curve (:func:`row_curve`), and
checked: scattered rows (:func:`scattered_rows`), a rival row
(:func:`rival_row`). A band's box is checked against its strip and lane
(:func:`band_box_flags`); the lane grids of two strips against each other
(:func:`lane_grid_agreement`); and the pipeline's geometry findings become QC
flags (:func:`geometry_flags`). The flags are declared in
:data:`assaykit.imaging.assay.GEOMETRY_FLAGS` and
:data:`assaykit.imaging.assay.BAND_ROW_FLAGS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from assaykit.assay import QCFlag
from assaykit.imaging.assay import select_band
from assaykit.imaging.bands import Band
from assaykit.imaging.geometry import Lane
from assaykit.imaging.pipeline import PreparedImage, Strip

__all__ = [
    "CUT_EDGE",
    "CUT_OTHER",
    "MAX_PITCH_DISAGREEMENT",
    "MAX_ROW_SCATTER_HEIGHT",
    "MAX_ROW_SCATTER_PX",
    "RIVAL_LANES",
    "RIVAL_VOLUME",
    "band_box_flags",
    "band_extent",
    "bands_along_row",
    "consensus_row",
    "geometry_flags",
    "lane_grid_agreement",
    "rival_row",
    "row_curve",
    "scattered_rows",
]


def row_curve(lanes: Sequence[Lane], found: Sequence[tuple[int, Band]]) -> NDArray[np.float64]:
    """Polynomial (in the lane centre) through the chosen bands' rows: the target's row in
    every lane, following a smile or a skew. Quadratic from 4 bands, a line from 2,
    constant from 1. Why from the bands themselves: a smile estimated by correlating
    whole lanes fails when lanes hold different bands (a ladder beside samples)."""
    x = np.array([lanes[li].center for li, _b in found], dtype=np.float64)
    y = np.array([b.row for _li, b in found], dtype=np.float64)
    deg = 2 if x.size >= 4 else (1 if x.size >= 2 else 0)
    if deg and np.ptp(x) <= 0:
        deg = 0
    return np.asarray(np.polyfit(x, y, deg), dtype=np.float64)


def consensus_row(
    cands: Mapping[int, Sequence[Band]], tol: float
) -> tuple[tuple[int, float, float] | None, list[tuple[int, float, float]]]:
    """The band row most lanes share: ``(best, scores)``, each score ``(lanes, volume,
    -row)`` of one candidate band's row (``best`` None without candidates).

    Each lane votes with its band nearest the row (within ``tol`` rows); the row with
    the most lanes wins, ties by the summed volume of those bands, then the upper row.
    """
    pool = [(li, b.row, b) for li, c in cands.items() for b in c]
    best: tuple[int, float, float] | None = None
    scores: list[tuple[int, float, float]] = []
    for _li, y, _b in pool:
        # each lane votes with its band nearest this row (within the tolerance)
        nearest: dict[int, tuple[float, float]] = {}
        for lj, yj, bj in pool:
            d = abs(yj - y)
            if d <= tol and (lj not in nearest or d < nearest[lj][0]):
                nearest[lj] = (d, bj.volume)
        score = (len(nearest), sum(v for _d, v in nearest.values()), -y)
        scores.append(score)
        if best is None or score > best:
            best = score
    return best, scores


def bands_along_row(
    lanes: Sequence[Lane], cands: Mapping[int, Sequence[Band]], centre: float, tol: float
) -> dict[int, Band | None]:
    """Each lane's band nearest row ``centre`` (within ``tol``), then, in a second pass,
    nearest the curve through those bands' rows (:func:`row_curve`), which follows a
    mild smile or skew; None for a lane without a band there."""
    chosen = {
        li: select_band(c, "nearest", target_row=centre, max_distance=tol)
        for li, c in cands.items()
    }
    picked = [(li, b) for li, b in chosen.items() if b is not None]
    curve = row_curve(lanes, picked)
    for li, c in cands.items():
        expect = float(np.polyval(curve, lanes[li].center))
        chosen[li] = select_band(c, "nearest", target_row=expect, max_distance=tol)
    return chosen


def band_extent(found: Sequence[tuple[int, Band]]) -> tuple[float, float]:
    """Median rows the bands reach above and below their peaks (``(above, below)``)."""
    return (
        float(np.median([b.row - b.top for _li, b in found])),
        float(np.median([b.bottom - 1 - b.row for _li, b in found])),
    )


#: Chosen band rows whose RMS scatter about their smooth curve exceeds this many px, or
#: this share of the bands' median height, are not one band row.
MAX_ROW_SCATTER_PX = 2.0
MAX_ROW_SCATTER_HEIGHT = 0.1


def scattered_rows(
    lanes: Sequence[Lane],
    found: Sequence[tuple[int, Band]],
    strip: Strip,
    target: str,
    relpath: str,
) -> QCFlag | None:
    """``band_rows_scattered`` (fail): the chosen bands do not lie on one smooth row.

    Why: the bands of one protein run together, so across lanes their rows follow a
    smooth curve (a smile, a skew: :func:`row_curve`); on the generated blots they lie
    within 0.15 px RMS of it. Rows scattered by several px (8-30 px up and down a strip)
    are not a band row but marks (lane numbers, handwriting) or lanes placed off the
    bands, and their volumes mean nothing. Needs 4 bands."""
    if len(found) < 4:
        return None
    curve = row_curve(lanes, found)
    res = np.array([b.row - float(np.polyval(curve, lanes[li].center)) for li, b in found])
    rms = float(np.sqrt(np.mean(res**2)))
    height = float(np.median([b.bottom - b.top for _li, b in found]))
    limit = max(MAX_ROW_SCATTER_PX, MAX_ROW_SCATTER_HEIGHT * height)
    if rms <= limit:
        return None
    return QCFlag(
        "band_rows_scattered",
        "fail",
        message=f"{relpath}, strip {strip.index + 1}: the {target} bands chosen in "
        f"{len(found)} lanes scatter by {rms:.1f} px RMS (up to {np.max(np.abs(res)):.0f} px) "
        f"about one smooth row (limit {limit:.1f} px for bands {height:.0f} px tall): they "
        "are not one band row (marks? misplaced lanes?); check the geometry figure",
    )


#: A second band row is a rival of the chosen one when it holds a band in at least this
#: share of the chosen row's lanes and at least this share of its volume.
RIVAL_LANES = 0.8
RIVAL_VOLUME = 0.5


def rival_row(
    best: tuple[int, float, float],
    scores: Sequence[tuple[int, float, float]],
    tol: float,
    strip: Strip,
    target: str,
    relpath: str,
) -> QCFlag | None:
    """``band_row_ambiguous`` (fail) when another row, clear of the chosen one, has a band in
    nearly as many lanes (:data:`RIVAL_LANES`) with comparable volume
    (:data:`RIVAL_VOLUME`).

    Why: consensus picks the row most lanes share, ties by volume; when two rows are both
    in (nearly) every lane and of similar strength (a non-specific band, a row of lane
    numbers the mark finder missed), that choice is a guess the tool cannot check, and a
    wrong guess gives every lane a wrong volume that looks clean. The lab says which row
    with ``row_window``, ``mw_window_kda`` or ``geometry`` ``band_rows``."""
    n, vol, y = best
    rivals = [
        sc for sc in scores
        if abs(-sc[2] - -y) > 2.0 * tol and sc[0] >= RIVAL_LANES * n and sc[1] >= RIVAL_VOLUME * vol
    ]  # fmt: skip
    if not rivals:
        return None
    rv = max(rivals)
    return QCFlag(
        "band_row_ambiguous",
        "fail",
        message=f"{relpath}, strip {strip.index + 1}: two rows could be the {target} band: row "
        f"{-y:.0f} ({n} lanes, {vol:.4g} AU; chosen) and row {-rv[2]:.0f} ({rv[0]} lanes, "
        f"{rv[1]:.4g} AU); say which with row_window (fractions of the strip), mw_window_kda "
        "or geometry band_rows",
    )


def geometry_flags(
    prepared: PreparedImage, relpath: str, image_flags: list[QCFlag]
) -> dict[int, list[QCFlag]]:
    """The geometry findings of :func:`~assaykit.imaging.pipeline.prepare_image` as QC
    flags with their own severity: those naming a strip (``strip N (rows a-b)``, as
    lane placement writes them) go on that strip's records (returned per strip index),
    the others (``strip_not_found``) are appended to ``image_flags`` (every record of the
    image). Why: a lane grid that explains nothing, or lanes that overlap, make every
    volume of the strip meaningless however clean each band looks."""
    out: dict[int, list[QCFlag]] = {}
    for flag, severity, message in prepared.findings:
        sev = severity if severity in ("warn", "fail") else "fail"
        msg = message.replace(prepared.path, relpath) if prepared.path else message
        if relpath not in msg:
            msg = f"{relpath}: {msg}"
        hit = [
            s.index for s in prepared.strips
            if f"strip {s.index + 1} (rows {s.start}-{s.stop})" in message
        ]  # fmt: skip
        if hit:
            out.setdefault(hit[0], []).append(QCFlag(flag, sev, message=msg))  # type: ignore[arg-type]
        else:
            image_flags.append(QCFlag(flag, sev, message=msg))  # type: ignore[arg-type]
    return out


#: Largest relative difference of the lane pitch between two strips holding the same lanes.
MAX_PITCH_DISAGREEMENT = 0.10


def lane_grid_agreement(
    prepared: PreparedImage, relpath: str, pairs: Iterable[tuple[int, int]]
) -> dict[int, list[QCFlag]]:
    """``lane_grids_disagree`` (fail) on two strips of one image that hold the same samples
    in the same lanes (``pairs`` of strip indices: the assay's sample sheet says so, e.g.
    one sample's target and loading rows name the same lane on both) when both have as
    many lanes but their lane pitches differ by more than :data:`MAX_PITCH_DISAGREEMENT`.

    Why: the two pieces of one membrane (target above, loading control below) were cut
    from one gel, so their lanes share the comb's pitch; a pitch 20 % off on one strip
    means its lanes were placed on something else (a membrane edge, marks, a false strip
    cut), and every ratio then pairs the wrong pixels. Which strip is wrong cannot be
    told from the pitch alone, so both fail."""
    out: dict[int, list[QCFlag]] = {}
    for a, b in sorted(set(pairs)):
        sa, sb = prepared.strips[a], prepared.strips[b]
        if len(sa.lane_list) != len(sb.lane_list) or len(sa.lane_list) < 2:
            continue
        pa, pb = float(sa.lanes.pitch), float(sb.lanes.pitch)
        if not (pa > 0 and pb > 0):
            continue
        diff = abs(pa - pb) / min(pa, pb)
        if diff <= MAX_PITCH_DISAGREEMENT:
            continue
        msg = (
            f"{relpath}: strips {a + 1} (rows {sa.start}-{sa.stop}) and {b + 1} (rows "
            f"{sb.start}-{sb.stop}) hold the same samples in the same {len(sa.lane_list)} lanes "
            f"but their lane pitches differ by {diff:.0%} ({pa:.1f} and {pb:.1f} px): the lanes "
            "of one of them are misplaced; give the strips' rows or the lane span in geometry"
        )
        for k in (a, b):
            out.setdefault(k, []).append(QCFlag("lane_grids_disagree", "fail", message=msg))
    return out


#: ``band_cut_by_lane``: one edge column of the band box holds at least this share of the
#: band's column peak while the other holds at most ``CUT_OTHER``.
CUT_EDGE = 0.5
CUT_OTHER = 0.2


def band_box_flags(
    band: Band,
    strip: Strip,
    prepared: PreparedImage,
    where: str,
    sample_id: str | None = None,
    entity: str | None = None,
) -> list[QCFlag]:
    """Fail flags on a band whose box cannot hold it.

    ``band_at_strip_edge``: the band's rows reach the first or last row of its strip; the
    band may go on past the strip's edge (a strip cut through it), and its baseline is
    fitted on one side only.

    ``band_cut_by_lane``: across the box, the band's column profile (background-subtracted,
    summed over its rows) is still high at one edge column (``CUT_EDGE`` of its peak) and
    low at the other (``CUT_OTHER``): the lane sits off the band, which goes on past the
    box on one side, so part of it is left out (a lane pulled aside by handwriting: 13 %
    low on ``handwriting``). Bands touching their neighbours on both sides (a GAPDH row)
    are high at both edges and not flagged: their box stops at the lane edges, midway to
    the neighbours, which share the spill evenly.

    ``where`` (``file, strip N, lane M``) starts each message; the flags are scoped to
    ``sample_id`` and ``entity``.
    """
    b, s, sid, ent = band, strip, sample_id, entity
    out: list[QCFlag] = []
    if b.top <= s.start or b.bottom >= s.stop:
        out.append(
            QCFlag(
                "band_at_strip_edge", "fail", sid, ent,
                f"{where}: the band (rows {b.top}-{b.bottom}) reaches the edge of its strip "
                f"(rows {s.start}-{s.stop}); it may be cut off and its baseline is one-sided",
            )
        )  # fmt: skip
    cols = prepared.detect[b.top : b.bottom, b.left : b.right].astype(np.float64).sum(axis=0)
    if cols.size >= 9:
        peak = float(np.percentile(cols, 90))
        lo_e, hi_e = float(np.mean(cols[:3])), float(np.mean(cols[-3:]))
        if peak > 0 and max(lo_e, hi_e) >= CUT_EDGE * peak and min(lo_e, hi_e) <= CUT_OTHER * peak:
            side = "right" if hi_e > lo_e else "left"
            out.append(
                QCFlag(
                    "band_cut_by_lane", "fail", sid, ent,
                    f"{where}: the band goes on past the {side} edge of its box (columns "
                    f"{b.left}-{b.right}: {max(lo_e, hi_e) / peak:.0%} of its peak at that edge, "
                    f"{min(lo_e, hi_e) / peak:.0%} at the other); the lane is off the band",
                )
            )  # fmt: skip
    return out
