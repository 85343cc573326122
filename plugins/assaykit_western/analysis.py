"""From sample-sheet rows and images to band volumes, ratios and QC findings.

The steps, and the rules they follow (they decide the numbers, so they are
written down here):

Rows
    One sample-sheet row is one ``(file, lane)``, optionally on a ``strip``
    (1 = the top strip of an image; lanes count from the left within it).
    Its ``target`` column names the protein. Rows whose target is the
    loading control (parameter ``loading_target``, ``ACTB`` by default,
    case-insensitive) are loading rows; they are matched to target rows by
    ``sample_id``. An experiment holds one row per sample and target, so the
    match is never ambiguous (replicate blots go in separate experiments).
    Roles: ``sample`` and ``reference`` rows are measured and reported;
    ``ladder`` rows are measured for a molecular-weight calibration only;
    ``blank`` rows, and lanes without a row, are found and drawn but not
    reported. Without a ``strip`` column an image is one membrane (a warning
    ``strips_not_assigned`` says when it looks like several). The parameter
    ``n_lanes`` gives every image's lane count; an ``n_lanes`` column
    (aliases ``lanes``, ``lane_count``) overrides it for a file (strip);
    without either the highest lane named is taken as a minimum. Without a
    sample sheet, every lane of every strip is reported (its strongest band,
    sample id ``<file stem>_lane<N>``), without ratios.
Images
    :func:`assaykit.imaging.pipeline.prepare_image`: polarity (auto or
    given), deskew up to ``max_rotation_deg``, strips, lanes per strip, and
    ImageJ's rolling ball for band detection.
Bands
    :func:`assaykit.imaging.bands.find_bands` in every lane finds the bands
    and their rows. The volume is measured on the straightened image
    *without* the 2-D background, over the ``volume_baseline`` (default
    ``edges_quadratic``; the rules and why are in
    :mod:`assaykit.imaging.volume`, shared with ``msp_gel``). A band's rows
    are widened to at least the median extent of its target's bands in the
    other lanes, so a faint band's tails are not left out
    (:func:`assaykit.imaging.volume.remeasure`).
Band of interest (``band_selection``)
    Only bands inside the target's row window (fractions of the strip
    height) or molecular-weight window (kDa, from a ladder lane of the same
    strip) are candidates. ``"consensus"`` (default): the band row is chosen
    once per target and strip, as the row where most of its lanes have a
    band within ``row_tolerance`` of the strip height (each lane voting with
    its band nearest that row; ties: the most volume); each lane takes its
    band nearest that row, then, in a second pass, nearest the curve (a
    polynomial in the lane centre) through the chosen rows, which follows a
    mild smile or skew (:mod:`assaykit.imaging.membrane`; the row and box
    checks there raise ``band_row_ambiguous``, ``band_rows_scattered``,
    ``band_at_strip_edge``, ``band_cut_by_lane``). ``"strongest"``: every lane
    takes its own strongest candidate (:func:`assaykit.imaging.assay.select_band`).
    A lane with no band there is integrated over the rows where the curve
    puts the band (with the median extent of the others) and is flagged
    ``weak_band``, or reported as 0 when below detection (next).
Detection limit
    Every reported volume is compared with ``3 x noise x sqrt(rows x (1 +
    g))``: the noise of the lane profile (row sums over the band's columns),
    the band's rows, and ``g`` the share of the baseline fitted beside it
    (:func:`assaykit.imaging.volume.detection_limit`). A volume not above it, or not
    above 0, and a lane with no band at all, is an absent band: volume 0,
    QC flag ``below_detection``. Never a negative volume.
Ratios
    ``normalized_ratio = band_volume / loading_volume`` of the same sample;
    ``fold_change = normalized_ratio / mean normalized_ratio of the
    reference rows of the same target``. An absent target band gives 0; an
    absent loading band gives no ratio (and an experiment without any ratio
    fails: :mod:`assaykit_western.plugin`).
Saturation
    A band with any pixel at the detector maximum (judged on the file's own
    pixels, carried through the rotation) keeps its measured volume, which
    is a lower bound, but every record built from it (volume, ratio, fold
    change) carries the flag ``saturated`` with severity **fail**; the
    fraction of saturated pixels is the ``saturated_fraction`` metric.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from assaykit import AnalysisError, Input, InputError, QCFlag
from assaykit.imaging.assay import band_candidates, select_band, sheet_lane_count, whole_number
from assaykit.imaging.bands import Band, find_bands
from assaykit.imaging.geometry import Lane, find_strips
from assaykit.imaging.given import geometry_for
from assaykit.imaging.io import LoadedImage
from assaykit.imaging.ladder import LadderFit, MultiLaneCalibration, fit_ladder
from assaykit.imaging.membrane import (
    band_box_flags,
    band_extent,
    bands_along_row,
    consensus_row,
    geometry_flags,
    lane_grid_agreement,
    rival_row,
    row_curve,
    scattered_rows,
)
from assaykit.imaging.pipeline import PreparedImage, Strip, prepare_image
from assaykit.imaging.volume import background_text, integrate_rows, remeasure, volume_spec

from assaykit_western.plugin import MEASURED_ROLES

if TYPE_CHECKING:
    from assaykit_western.plugin import WesternParams

log = logging.getLogger(__name__)

#: px: a lane narrower than this is not a lane (refuses absurd lane numbers in a sheet)
MIN_LANE_PITCH = 8
#: Strips the parameter n_lanes is applied to (more than any membrane holds).
MAX_STRIPS = 64
#: Target name given to lanes analysed without a sample sheet.
AUTO_TARGET = "band"


# --------------------------------------------------------------------------------------
# Sample-sheet rows
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """One sample-sheet row as the western plugin reads it."""

    inp: Input
    role: str
    target: str
    lane: int | None
    strip: int | None
    n_lanes: int | None
    loading: bool
    sample_id: str
    auto: bool = False

    @property
    def where(self) -> str:
        """``file, sample sheet row N`` for messages."""
        n = f", sample sheet row {self.inp.row}" if self.inp.row else ""
        return f"{self.inp.relpath}{n}"

    @property
    def entity(self) -> str:
        """Record entity: ``lane_03:RARB`` (with ``strip_2/`` in front on lower strips)."""
        lane = f"lane_{self.lane:02d}" if self.lane is not None else "lane"
        strip = f"strip_{self.strip}/" if self.strip is not None and self.strip > 1 else ""
        return f"{strip}{lane}:{self.target}"


def _row_prefix(inp: Input) -> str:
    return f"sample sheet row {inp.row}, " if inp.row else ""


def read_rows(inputs: Sequence[Input], params: WesternParams, *, has_sheet: bool) -> list[SheetRow]:
    """Validate the rows of one experiment (errors name the file, row and column)."""
    loading = params.loading_target.strip().casefold()
    rows: list[SheetRow] = []
    for inp in inputs:
        target = inp.condition("target").strip()
        strip = whole_number(inp, "strip", inp.condition("strip"))
        n_lanes = sheet_lane_count(inp)
        auto = False
        if inp.role in MEASURED_ROLES and not target:
            if has_sheet or inp.lane is not None:
                raise InputError(
                    inp.relpath,
                    f"{_row_prefix(inp)}column 'target': missing or empty; expected the protein "
                    f"the row measures (e.g. RARB, or {params.loading_target} for the loading "
                    "control)",
                )
            auto, target = True, AUTO_TARGET
        if n_lanes is not None and inp.lane is not None and inp.lane > n_lanes:
            raise InputError(
                inp.relpath,
                f"{_row_prefix(inp)}column 'lane': lane {inp.lane} is out of range; the 'n_lanes' "
                f"column says this {'strip' if strip else 'image'} has {n_lanes} lanes",
            )
        rows.append(
            SheetRow(
                inp=inp,
                role=inp.role,
                target=target,
                lane=inp.lane,
                strip=strip,
                n_lanes=n_lanes,
                loading=bool(target) and target.casefold() == loading,
                sample_id=inp.sample_id,
                auto=auto,
            )
        )
    seen: dict[tuple[str, str], SheetRow] = {}
    for r in rows:
        if r.role not in MEASURED_ROLES or r.auto:
            continue
        key = (r.sample_id, r.target.casefold())
        if key in seen:
            raise InputError(
                r.inp.relpath,
                f"{_row_prefix(r.inp)}column 'sample_id': sample {r.sample_id!r} already has a "
                f"{r.target} row ({seen[key].where}); an experiment holds one row per sample and "
                "target (put replicate blots in separate experiments)",
            )
        seen[key] = r
    counts: dict[tuple[str, int], tuple[int, SheetRow]] = {}
    for r in rows:
        if r.n_lanes is None:
            continue
        key2 = (r.inp.relpath, r.strip or 1)
        if key2 in counts and counts[key2][0] != r.n_lanes:
            raise InputError(
                r.inp.relpath,
                f"{_row_prefix(r.inp)}column 'n_lanes': {r.n_lanes} disagrees with "
                f"{counts[key2][0]} on {counts[key2][1].where} for the same image and strip",
            )
        counts[key2] = (r.n_lanes, r)
    return rows


# --------------------------------------------------------------------------------------
# Measuring one image
# --------------------------------------------------------------------------------------


@dataclass
class RowResult:
    """The band reported for one row, and how it was found.

    ``band.volume`` is already the reported volume: 0 when the band is below
    the detection limit (:func:`detection_limit`); the measured value is kept
    in ``band.background["detection"]["measured_au"]``.
    """

    row: SheetRow
    strip: Strip
    lane: Lane
    band: Band | None
    detected: bool
    note: str = ""
    others: list[Band] = field(default_factory=list)
    #: QC findings about this band's choice or geometry (e.g. ``band_row_ambiguous``)
    qc: list[QCFlag] = field(default_factory=list)

    @property
    def detection(self) -> dict[str, Any] | None:
        """How the band was judged against the detection limit (None: no rows integrated)."""
        if self.band is None:
            return None
        d = self.band.background.get("detection")
        return d if isinstance(d, dict) else None

    @property
    def detection_limit(self) -> float | None:
        """AU: the smallest volume told apart from noise in this band's rectangle."""
        d = self.detection
        return float(d["limit_au"]) if d is not None else None

    @property
    def below_detection(self) -> bool:
        """No band in the lane, or its volume not above the detection limit (nor above 0):
        the band is absent and reported as 0."""
        if self.band is None:
            return True
        d = self.detection
        if d is not None:
            return bool(d["below"])
        return not self.band.volume > 0


@dataclass
class StripResult:
    """Every band found in every lane of one strip, and the lane profiles drawn."""

    strip: Strip
    bands: dict[int, list[Band]] = field(default_factory=dict)
    calibration: dict[int, LadderFit] = field(default_factory=dict)


@dataclass
class FileResult:
    """One image, prepared and measured."""

    relpath: str
    prepared: PreparedImage
    strips: list[StripResult]
    rows: list[RowResult]
    flags: list[QCFlag]
    background_text: str
    #: strip index -> flags on every record of that strip (geometry findings)
    strip_flags: dict[int, list[QCFlag]] = field(default_factory=dict)


def _strip_for(row: SheetRow, prepared: PreparedImage) -> Strip:
    number = row.strip or 1
    if number > len(prepared.strips):
        raise InputError(
            row.inp.relpath,
            f"{_row_prefix(row.inp)}column 'strip': strip {number} is out of range; the image "
            f"holds {len(prepared.strips)} strip(s) (rows "
            + ", ".join(f"{s.start}-{s.stop}" for s in prepared.strips)
            + ")",
        )
    return prepared.strips[number - 1]


def _lane_for(row: SheetRow, strip: Strip) -> Lane:
    lanes = strip.lane_list
    if row.lane is None:
        if len(lanes) == 1:
            return lanes[0]
        raise InputError(
            row.inp.relpath,
            f"{_row_prefix(row.inp)}column 'lane': empty, but strip {strip.index + 1} of the image "
            f"has {len(lanes)} lanes; say which lane (1 = leftmost) the row means",
        )
    width = int(strip.lanes.profile.size)
    if row.lane > width // MIN_LANE_PITCH:
        raise InputError(
            row.inp.relpath,
            f"{_row_prefix(row.inp)}column 'lane': lane {row.lane} is out of range; the image is "
            f"{width} px wide, so it cannot hold {row.lane} lanes of at least {MIN_LANE_PITCH} px "
            f"({strip.detected_lane_count} lanes were found in strip {strip.index + 1})",
        )
    if row.lane > len(lanes):  # pragma: no cover - min_lanes places at least this many
        raise InputError(
            row.inp.relpath, f"{_row_prefix(row.inp)}column 'lane': lane {row.lane} out of range"
        )
    return lanes[row.lane - 1]


def _window_for(
    target: str, strip: Strip, params: WesternParams, relpath: str = ""
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(row window in image rows, MW window in kDa) for a target; '*' applies to all."""

    def pick(d: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
        for k, v in d.items():
            if k.casefold() == target.casefold():
                return v
        return d.get("*")

    rw = pick(dict(params.row_window))
    rows = None
    if rw is not None:
        rows = (strip.start + rw[0] * strip.height, strip.start + rw[1] * strip.height)
    given = geometry_for(params.geometry, relpath) if relpath else None
    px = pick(dict(given.band_rows)) if given is not None else None
    if px is not None:
        # the lab's rows are the file's; map them into the straightened strip at its middle
        xm = 0.5 * (strip.lane_list[0].center + strip.lane_list[-1].center)
        xf, _ = strip.to_image(xm, 0.5 * (strip.start + strip.stop))
        rows = (strip.from_image(xf, px[0])[1], strip.from_image(xf, px[1])[1])
    return rows, pick(dict(params.mw_window_kda))


def _calibrate(
    sr: StripResult, ladder_lanes: list[int], params: WesternParams
) -> tuple[dict[int, LadderFit], str]:
    fits: dict[int, LadderFit] = {}
    problems = []
    for li in ladder_lanes:
        rows = [b.row for b in sr.bands.get(li, [])]
        try:
            fits[li] = fit_ladder(
                rows, params.ladder_kda, model="piecewise", max_missing=3, max_extra=3
            )
        except AnalysisError as exc:
            problems.append(f"ladder lane {li + 1}: {exc}")
    return fits, "; ".join(problems)


def _size_of(
    sr: StripResult, fits: dict[int, LadderFit], lane_index: int, row: float
) -> float | None:
    """kDa of a band at ``row`` in lane ``lane_index``. With one ladder lane, its fit;
    with several, each size's row is interpolated between the ladders at this lane's
    centre (:class:`~assaykit.imaging.ladder.MultiLaneCalibration`), which corrects a
    smile or skew."""
    if not fits:
        return None
    lanes = sr.strip.lane_list
    cal = MultiLaneCalibration({lanes[j].center: f for j, f in fits.items()})
    return cal.size_or_nearest(lanes[lane_index].center, row)


def measure_file(loaded: LoadedImage, rows: list[SheetRow], params: WesternParams) -> FileResult:
    """Prepare one image and measure the band of interest for each of its rows."""
    relpath = rows[0].inp.relpath
    strip_given = any(r.strip is not None for r in rows)
    n_strips_named = max((r.strip or 1) for r in rows)
    # the parameter n_lanes is every strip's count (strips beyond those named too); the
    # sheet's column overrides it per image and strip
    n_expected = max(n_strips_named, 1, MAX_STRIPS if params.n_lanes is not None else 1)
    expected: list[int | None] = [params.n_lanes] * n_expected
    minimum: list[int | None] = [None] * max(n_strips_named, 1)
    if params.n_lanes is not None and params.n_lanes > loaded.width // MIN_LANE_PITCH:
        raise InputError(
            relpath,
            f"parameter n_lanes: {params.n_lanes} lanes is out of range; the image is "
            f"{loaded.width} px wide, so it cannot hold {params.n_lanes} lanes of at least "
            f"{MIN_LANE_PITCH} px",
        )
    for r in rows:
        k = (r.strip or 1) - 1
        for number in (r.lane, r.n_lanes):
            if number is not None and number > loaded.width // MIN_LANE_PITCH:
                col = "lane" if number == r.lane else "n_lanes"
                raise InputError(
                    r.inp.relpath,
                    f"{_row_prefix(r.inp)}column {col!r}: lane {number} is out of range; the "
                    f"image is {loaded.width} px wide, so it cannot hold {number} lanes of at "
                    f"least {MIN_LANE_PITCH} px",
                )
        if r.n_lanes is not None:
            expected[k] = r.n_lanes
        if r.lane is not None:
            minimum[k] = max(minimum[k] or 0, r.lane)
    for r in rows:
        k = (r.strip or 1) - 1
        if (
            r.n_lanes is None
            and r.lane is not None
            and params.n_lanes is not None
            and expected[k] == params.n_lanes
            and r.lane > params.n_lanes
        ):
            raise InputError(
                r.inp.relpath,
                f"{_row_prefix(r.inp)}column 'lane': lane {r.lane} is out of range; the "
                f"parameter n_lanes says every image has {params.n_lanes} lanes (give the "
                "sheet's n_lanes column for an image with more)",
            )
    given = geometry_for(params.geometry, relpath)
    strips_arg: Any = params.find_strips and (strip_given or all(r.auto for r in rows))
    if given is not None and given.strips:
        strips_arg = [tuple(r) for r in given.strips]
        strip_given = True
    if given is not None and given.lane_span:
        for k, pair in enumerate(given.lane_span):
            if pair is not None and (k >= len(expected) or expected[k] is None):
                raise InputError(
                    relpath,
                    f"geometry lane_span for strip {k + 1}: the lane count is needed too; give "
                    "n_lanes (the parameter, or the sheet's column for this strip), or every "
                    "lane centre ('lanes')",
                )
    prepared = prepare_image(
        loaded,
        polarity=params.polarity,
        deskew=params.deskew,
        max_angle=params.max_rotation_deg,
        strips=strips_arg,
        min_strips=n_strips_named if strip_given and strips_arg is True else None,
        expected_lanes=expected,
        min_lanes=minimum,
        background_radius=params.rolling_ball_radius,
        lane_centers=given.lanes if given is not None else None,
        lane_span=given.lane_span if given is not None else None,
    )
    bg_text = background_text(prepared, params)
    flags: list[QCFlag] = []
    if params.find_strips and not strip_given and not all(r.auto for r in rows):
        # No 'strip' column: the image is one membrane. Say so if it looks like several.
        found = find_strips(prepared.data)
        if len(found) > 1:
            flags.append(
                QCFlag(
                    "strips_not_assigned",
                    message=f"{relpath}: the image looks like {len(found)} stacked strips (rows "
                    + ", ".join(f"{a}-{b}" for a, b in found)
                    + ") but the sample sheet has no 'strip' column; it was analysed as one",
                )
            )
    if prepared.lossy:
        flags.append(
            QCFlag(
                "lossy_source",
                message=f"{relpath}: {prepared.source_format.upper()} (lossy compression alters "
                "pixel values; export TIFF from the imager)",
            )
        )
    if prepared.low_bit_depth:
        flags.append(
            QCFlag(
                "low_bit_depth",
                message=f"{relpath}: {prepared.significant_bits or prepared.bit_depth}-bit data "
                "(few grey levels; saturation and weak bands are coarse)",
            )
        )

    # Auto mode (no sample sheet): every lane of every strip is a row.
    if all(r.auto for r in rows):
        base = rows[0]
        rows = []
        many = len(prepared.strips) > 1
        for s in prepared.strips:
            for ln in s.lane_list:
                sid = f"{base.sample_id}_{f'strip{s.index + 1}_' if many else ''}lane{ln.index + 1}"
                rows.append(
                    SheetRow(
                        inp=base.inp, role="sample", target=AUTO_TARGET, lane=ln.index + 1,
                        strip=s.index + 1 if many else None, n_lanes=None, loading=False,
                        sample_id=sid, auto=True,
                    )
                )  # fmt: skip

    strip_results = [StripResult(s) for s in prepared.strips]
    placed: list[tuple[SheetRow, StripResult, Lane]] = []
    for r in rows:
        s = _strip_for(r, prepared)
        if s.detected_lane_count == 0:
            raise AnalysisError(
                f"{relpath}, strip {s.index + 1} (rows {s.start}-{s.stop}): no lanes found; the "
                "column profile has no significant peak (blank or overexposed image?)"
            )
        placed.append((r, strip_results[s.index], _lane_for(r, s)))
    for sr in strip_results:
        s = sr.strip
        for ln in s.lane_list:
            sr.bands[ln.index] = find_bands(
                prepared.data,
                ln,
                detect_image=prepared.detect,
                saturated=prepared.saturated,
                rows=s.rows,
                margin=params.lane_margin,
                volume_baseline="edges",  # volumes are re-measured by remeasure()
                edge_rows=params.edge_rows,
                min_snr=params.min_snr,
                background=prepared.background,
                neighbours=s.lane_list,
            )

    # Ladder calibration per strip (only where a molecular-weight window is asked for).
    cal_problem: dict[int, str] = {}
    if params.mw_window_kda:
        for sr in strip_results:
            ladder_lanes = sorted(
                {ln.index for r, srr, ln in placed if srr is sr and r.role == "ladder"}
            )
            sr.calibration, cal_problem[sr.strip.index] = _calibrate(sr, ladder_lanes, params)
            if not ladder_lanes:
                cal_problem[sr.strip.index] = "no ladder lane on this strip"

    # Band of interest per (strip, target) group.
    results: list[RowResult] = []
    groups: dict[tuple[int, str], list[tuple[SheetRow, StripResult, Lane]]] = {}
    for item in placed:
        r, sr, _ln = item
        if r.role in MEASURED_ROLES:
            groups.setdefault((sr.strip.index, r.target.casefold()), []).append(item)
    by_row: dict[int, RowResult] = {}
    for (_k, _t), items in groups.items():
        for res in _choose(prepared, items, params, cal_problem, flags):
            by_row[id(res.row)] = res
    for r, _sr, _ln in placed:
        if id(r) in by_row:
            results.append(by_row[id(r)])
    strip_flags = geometry_flags(prepared, relpath, flags)
    for k, fl in lane_grid_agreement(prepared, relpath, _shared_lanes(placed)).items():
        strip_flags.setdefault(k, []).extend(fl)
    for res in results:
        if res.band is not None and not res.below_detection:
            where = f"{relpath}, strip {res.strip.index + 1}, lane {res.lane.index + 1}"
            res.qc.extend(
                band_box_flags(
                    res.band, res.strip, prepared, where, res.row.sample_id, res.row.entity
                )
            )
    return FileResult(relpath, prepared, strip_results, results, flags, bg_text, strip_flags)


def _shared_lanes(placed: Sequence[tuple[SheetRow, StripResult, Lane]]) -> set[tuple[int, int]]:
    """Pairs of strips that hold the same samples in the same lanes, as the sheet says: one
    sample's rows (its target and its loading control) name the same lane on both."""
    lanes_of: dict[tuple[str, int], int] = {}
    pairs: set[tuple[int, int]] = set()
    for r, sr, ln in placed:
        if r.role not in MEASURED_ROLES:
            continue
        key = (r.sample_id, ln.index)
        k = sr.strip.index
        other = lanes_of.get(key)
        if other is not None and other != k:
            pairs.add((min(k, other), max(k, other)))
        lanes_of.setdefault(key, k)
    return pairs


def _choose(
    prepared: PreparedImage,
    items: list[tuple[SheetRow, StripResult, Lane]],
    params: WesternParams,
    cal_problem: dict[int, str],
    flags: list[QCFlag],
) -> list[RowResult]:
    """The band of interest in each lane of one target on one strip (module docs)."""
    sr = items[0][1]
    strip = sr.strip
    target = items[0][0].target
    lanes = strip.lane_list
    row_win, mw_win = _window_for(target, strip, params, items[0][0].inp.relpath)
    note = ""
    if mw_win is not None and not sr.calibration:
        note = (
            f"molecular-weight window {mw_win[0]:g}-{mw_win[1]:g} kDa for {target} not applied: "
            f"{cal_problem.get(strip.index) or 'no ladder fit'}"
        )
        for r, _s, _l in items:
            flags.append(
                QCFlag(
                    "mw_window_unavailable",
                    severity="fail",
                    sample_id=r.sample_id,
                    entity=r.entity,
                    message=note,
                )
            )
        mw_win = None

    def candidates(lane: Lane) -> list[Band]:
        return band_candidates(
            sr.bands[lane.index],
            row_window=row_win,
            size_window=mw_win,
            size_of=lambda b: _size_of(sr, sr.calibration, lane.index, b.row),
        )

    cands = {ln.index: candidates(ln) for _r, _s, ln in items}
    chosen: dict[int, Band | None] = {}
    row_flags: list[QCFlag] = []  # on every row of this target and strip
    if params.band_selection == "strongest":
        for li, c in cands.items():
            chosen[li] = select_band(c, "strongest")
    else:
        tol = max(4.0, params.row_tolerance * strip.height)
        best, scores = consensus_row(cands, tol)
        if best is None:
            chosen = {li: None for li in cands}
        else:
            ambiguous = rival_row(best, scores, tol, strip, target, items[0][0].inp.relpath)
            if ambiguous is not None:
                row_flags.append(ambiguous)
            chosen = bands_along_row(lanes, cands, -best[2], tol)
    found = [(li, b) for li, b in chosen.items() if b is not None]
    extent = None
    if found:
        extent = band_extent(found)
        scattered = scattered_rows(lanes, found, strip, target, items[0][0].inp.relpath)
        if scattered is not None:
            row_flags.append(scattered)
    out: list[RowResult] = []
    for r, _s, ln in items:
        b = chosen.get(ln.index)
        qc = [dataclasses.replace(f, sample_id=r.sample_id, entity=r.entity) for f in row_flags]
        lane_bands = sr.bands[ln.index]
        if b is not None:
            others = [x for x in lane_bands if x is not b]
            b = remeasure(prepared, strip, b, others, params, extent)
            out.append(RowResult(r, strip, ln, b, True, note, others, qc))
            continue
        if not found:
            out.append(
                RowResult(
                    r, strip, ln, None, False, f"no {target} band in any lane of this strip", qc=qc
                )
            )
            continue
        assert extent is not None
        centre_row = float(np.polyval(row_curve(lanes, found), ln.center))
        top = centre_row - extent[0]
        bottom = centre_row + extent[1] + 1
        info = {**found[0][1].background, "volume": volume_spec(params)}
        others = [x for x in lane_bands if x.bottom <= round(top) or x.top >= round(bottom)]
        band = integrate_rows(prepared, strip, ln, round(top), round(bottom), params, info, others)
        out.append(
            RowResult(
                r, strip, ln, band, False,
                f"no {target} band found in this lane; integrated over rows "
                f"{band.top}-{band.bottom} where the other lanes' band sits", others, qc,
            )
        )  # fmt: skip
    return out
