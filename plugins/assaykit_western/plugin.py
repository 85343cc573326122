"""The ``western_blot`` assay: declarations, parameters and the records it emits.

How rows, bands, volumes and ratios are decided is documented in
:mod:`assaykit_western.analysis`; what each metric means is in its
``Metric.description``.

QC flags (``qc_flags`` of the records):

``saturated`` (fail)
    A pixel of the band rectangle is at the detector maximum. The volume is
    still reported, as a lower bound, but every record built from the band
    (its volume, the ratio, the fold change) fails QC. ``saturated_fraction``
    says how much of the band is clipped.
``below_detection`` (warn for a target band, **fail** for a loading-control band)
    The band is absent: no band in the lane, or its baseline-subtracted
    volume is not above the detection limit (``3 x noise x sqrt(rows x (1 +
    g))``, the ``detection_limit`` metric) or not above 0. Its volume is reported as 0,
    never negative; the target's ratio and fold change are then 0. A loading
    control below detection gives its sample no ratio and no fold change.
``weak_band`` (warn)
    The band is above the detection limit but its signal-to-noise ratio is
    below ``weak_snr``, or no band peak was found in the lane and the volume
    integrated where the other lanes' band sits is above the detection limit.
``no_loading_control`` (warn)
    No loading-control row for the sample, or its loading band is below
    detection: no ratio.
``no_reference`` (warn)
    No reference row (or no measurable reference ratio) for the target: no
    fold change.
``lane_count_mismatch`` (warn)
    Lane finding alone found a different number of lanes than the sample
    sheet gives (``n_lanes``), or fewer than the highest lane it names; the
    lanes were placed on a regular grid of the sheet's count.
``mw_window_unavailable`` (fail)
    A molecular-weight window was asked for but no ladder could be fitted on
    the strip; the band was chosen without it.
``lossy_source``, ``low_bit_depth`` (warn)
    JPEG input, or 8-bit data (``low_bit_depth`` was ``8bit_source`` before 1.2).
``strips_not_assigned`` (warn)
    The image looks like several stacked strips but the sample sheet has no
    ``strip`` column; it was analysed as one membrane.

Geometry and band-box findings, all **fail** (on every record of the image or
strip, or of the band; ratios and fold changes inherit them). Why fail: each
means the box that was integrated may not hold the band, so the number can be
far off however clean the band looks (issue 10; measured on
``tests/helpers/messy_blots.py``, ``bench/western_messy.py``):

``strip_not_found``
    Fewer membrane strips were found than the sample sheet names
    (:func:`assaykit.imaging.pipeline.prepare_image`); the message names the file
    and the strips found. A row naming a strip that does not exist is an error.
``lane_grid_poor``, ``lanes_overlap``
    The fitted lane grid explains little of the strip's column profile, or the
    lanes break the invariants (order, overlap, width, on the membrane)
    (:mod:`assaykit.imaging.lanegrid`); on that strip's records.
``lane_grids_disagree``
    Two strips holding the same samples in the same lanes have lane pitches more
    than 10 % apart: one strip's lanes are misplaced (both strips fail).
``band_row_ambiguous``
    Another band row, clear of the chosen one, is in nearly as many lanes with at
    least half its volume: which one is the target is a guess (give ``row_window``,
    ``mw_window_kda`` or ``geometry`` ``band_rows``).
``band_rows_scattered``
    The chosen bands' rows scatter by more than 2 px (or 10 % of their height) RMS
    about one smooth row: they are not one band row (marks, misplaced lanes).
``band_at_strip_edge``
    The band's rows reach the first or last row of its strip.
``band_cut_by_lane``
    The band goes on past one side of its box and not the other: the lane is off
    the band. (Bands touching both neighbours, a GAPDH row, are not flagged: the
    box stops midway, and the spill in and out is even.)
``baseline_uncertain``
    The background beside the band departs from the baseline's quadratic beyond the
    noise (mottle, glow) by more than 1 % of the volume over the band's rows; the
    baseline under the band can be off by 5 times that, i.e. more than 5 %.

Records of a band carry its own flags and those of its image; ratio and fold
change records also carry the flags of the loading band (and of the
reference, for fold changes) that went into them.

The experiment fails (``metric="error"`` records, exit code 1) when it has
target rows but no sample gets a ratio: the loading control has no row, or
no band above detection, for every sample. The error names the files, the
loading target and what was found. Without a sample sheet (no ratios by
design) it does not. It also fails, rather than emitting the value, if a
volume, ratio or fold change ever came out negative (a bug, never a result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from assaykit import (
    AnalysisError,
    Assay,
    AssayResult,
    Experiment,
    Metric,
    QCFlag,
    hookimpl,
)
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn
from assaykit.imaging.assay import (
    BAND_ROW_FLAGS,
    GEOMETRY_FLAGS,
    IMAGING_FLAGS,
    LANE_COUNT_COLUMNS,
    ImagingParams,
)
from assaykit.imaging.io import LoadedImage
from assaykit.vocabulary import shared_metric
from pydantic import ConfigDict, Field, field_validator

from assaykit_western import __version__

if TYPE_CHECKING:  # the analysis (scipy, OpenCV) is imported by analyze() only
    from assaykit_western.analysis import FileResult, RowResult, SheetRow

MEASURED_ROLES = ("sample", "reference")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
KiloDalton = Annotated[float, Field(gt=0.0, le=5000.0)]

#: Thermo PageRuler Prestained Protein Ladder (26616), kDa, largest first.
PAGERULER_PRESTAINED_KDA: tuple[float, ...] = (180, 130, 100, 70, 55, 40, 35, 25, 15, 10)


#: The sample-sheet columns the assay reads besides file/assay/experiment: shown by
#: ``assaykit schema western_blot`` as ``x-sheet-columns`` (and in the README).
SHEET_COLUMNS: dict[str, dict[str, Any]] = {
    "target": {
        "required": "on sample and reference rows",
        "description": "Protein the row measures, e.g. RARB. Rows whose target is loading_target "
        "(ACTB by default, case-insensitive) are the loading control of the same sample_id.",
    },
    "lane": {
        "required": "when the image has more than one lane",
        "description": "Lane of the row, 1 = leftmost lane of its strip.",
    },
    "strip": {
        "required": False,
        "description": "Membrane strip of the image, 1 = top. Without the column every image "
        "is one membrane (flag strips_not_assigned when it looks like several).",
    },
    "n_lanes": {
        "required": False,
        "aliases": list(LANE_COUNT_COLUMNS[1:]),
        "description": "Lane count of the image (of the strip, with a strip column); overrides "
        "the parameter n_lanes there. Lanes are then placed on a grid of that many. Without "
        "either, the highest lane named is a minimum.",
    },
    "role": {
        "required": False,
        "values": ["sample", "reference", "ladder", "blank"],
        "description": "'reference': fold changes are relative to the mean ratio of the "
        "reference rows of the same target; 'ladder': a molecular-weight ladder lane (for "
        "mw_window_kda); 'blank': an empty lane, not reported. Default 'sample'.",
    },
    "sample_id": {
        "required": False,
        "description": "Matches a target row with its loading-control row; one row per sample "
        "and target in an experiment.",
    },
}


def _sheet_columns_schema(schema: dict[str, Any]) -> None:
    schema["x-sheet-columns"] = SHEET_COLUMNS


class WesternParams(ImagingParams):
    """Parameters of ``western_blot`` (``[params.western_blot]`` in ``assaykit.toml``).

    The image pipeline's parameters (polarity, rolling_ball_radius, min_snr, n_lanes,
    lane_margin, volume_baseline, baseline_rows, edge_rows, geometry) are
    :class:`assaykit.imaging.assay.ImagingParams`, the same in ``msp_gel``. The
    sample-sheet columns the assay reads are listed under ``x-sheet-columns``.
    """

    model_config = ConfigDict(json_schema_extra=_sheet_columns_schema)

    #: western_blot 1.1 names (assaykit 12): the shared imaging names replace them.
    renamed: ClassVar[dict[str, str]] = {"detect_snr": "min_snr"}

    loading_target: str = Field(
        "ACTB",
        min_length=1,
        max_length=64,
        description="Target name of the loading control (case-insensitive). Its band "
        "normalises the target bands of the same sample_id.",
    )
    deskew: bool = Field(True, description="Straighten rotated images (up to max_rotation_deg).")
    max_rotation_deg: float = Field(
        5.0, ge=0.0, le=10.0, description="Largest rotation corrected (degrees)."
    )
    find_strips: bool = Field(
        True,
        description="Look for membrane strips stacked one above another; false: every image "
        "is one membrane.",
    )
    weak_snr: float = Field(
        20.0,
        ge=0.0,
        le=100000.0,
        description="Bands with a signal-to-noise ratio (peak / profile noise) below this are "
        "flagged weak_band.",
    )
    band_selection: Literal["consensus", "strongest"] = Field(
        "consensus",
        description="'consensus': one band row per target and strip (where most lanes have a "
        "band; ties by volume), each lane's band nearest it; 'strongest': each lane's own "
        "strongest band.",
    )
    row_tolerance: float = Field(
        0.04,
        ge=0.005,
        le=0.5,
        description="For 'consensus': a lane's band belongs to the target row if within this "
        "fraction of the strip height (after smile correction).",
    )
    row_window: dict[str, tuple[Fraction, Fraction]] = Field(
        default_factory=dict,
        description="Per target (or '*' for all), the rows where its band may be, as "
        "fractions of the strip height (0 = top, 1 = bottom), e.g. {RARB = [0.3, 0.6]}.",
    )
    mw_window_kda: dict[str, tuple[KiloDalton, KiloDalton]] = Field(
        default_factory=dict,
        description="Per target (or '*'), the molecular-weight window (kDa) of its band, "
        "e.g. {RARB = [45, 60], ABCB1 = [140, 200]}; needs a 'ladder' lane on the strip.",
    )
    ladder_kda: tuple[KiloDalton, ...] = Field(
        PAGERULER_PRESTAINED_KDA,
        min_length=4,
        max_length=40,
        description="Band sizes (kDa) of the protein ladder in 'ladder' lanes (default: "
        "PageRuler Prestained).",
    )

    @field_validator("row_window", "mw_window_kda")
    @classmethod
    def _ordered(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for target, (lo, hi) in v.items():
            if not lo < hi:
                raise ValueError(f"window for {target!r}: lower bound {lo} must be below {hi}")
        return v


_VOLUME = (
    "background-subtracted integrated volume (AU): the sum over the band rectangle (lane "
    "width plus lane_margin on each side, band rows) of pixel values, bands bright (dark-on-"
    "light files inverted against the detector maximum), on the deskewed image, minus a "
    "baseline under the band's lane profile fitted to the rows just above and below it "
    "(band_edges_quadratic by default; see the volume_baseline parameter). The image record "
    "'background' names the method and its parameters. A saturated band's volume is a lower "
    "bound and fails QC"
)


_DETECTION = (
    "A band not above its detection_limit (or not above 0), and a lane with no band, is "
    "reported as 0 with QC flag below_detection, never negative"
)


class WesternBlot(Assay):
    """Western-blot densitometry: target / loading-control ratios and fold changes."""

    name = "western_blot"
    version = __version__
    summary = "Western-blot band volumes normalised to a loading control, and fold changes."
    input_kinds = ("image",)
    roles = ("sample", "reference", "ladder", "blank")
    control_roles = ("reference",)
    Params = WesternParams
    figure_titles = (
        ("blot", "Western blot: lanes, measured bands and their volumes"),
        ("profiles", "Band signal per lane: each band's signal above background"),
    )
    summaries = (
        Summary(
            "band",
            (
                SummaryColumn("normalized_ratio", "normalised ratio (target / loading)"),
                SummaryColumn("fold_change", "fold change"),
            ),
            "Western blot: protein per sample and target",
            ("cell_line", "treatment"),
        ),
    )
    profile = (
        ProfileMetric(
            "fold_change", "protein fold change (western)", entity_type="band", target_sep=":",
            by=("treatment",), roles=("sample", "reference"), position=30,
        ),
    )
    metrics = (
        shared_metric("band_volume", "band", f"Target band: {_VOLUME}. {_DETECTION}."),
        Metric(
            "band",
            "loading_volume",
            "AU",
            "float",
            f"Loading-control band: {_VOLUME}. {_DETECTION} (QC fail: no ratio).",
        ),
        Metric(
            "band",
            "detection_limit",
            "AU",
            "float",
            "On bands below detection only: the smallest volume told apart from noise in the "
            "band's rectangle, 3 x noise x sqrt(rows x (1 + g)). noise: of the lane profile "
            "(each row the sum of the band's columns; 1.4826 MAD of row-to-row differences / "
            "sqrt 2, over the strip); rows: the band's height; g: the noise the volume baseline "
            "adds, as a multiple of the band rows' own (from the rows it is fitted to; about 2 "
            "for the default edges_quadratic). With g = 0 this is 3 x the column-mean profile "
            "noise x sqrt(rows) x cols.",
        ),
        Metric(
            "band",
            "normalized_ratio",
            None,
            "float",
            "band_volume / loading_volume of the same sample_id (both as defined above); 0 "
            "when the target band is below detection, missing when the loading band is.",
        ),
        Metric(
            "band",
            "fold_change",
            None,
            "float",
            "normalized_ratio / the mean normalized_ratio of the 'reference' rows of the same "
            "target; 0 when the target band is below detection, missing without a ratio.",
        ),
        Metric(
            "band",
            "saturated",
            None,
            "bool",
            "yes when any pixel of the band rectangle is at the detector maximum (judged on "
            "the file's pixels before deskewing).",
        ),
        Metric(
            "band",
            "saturated_fraction",
            None,
            "float",
            "Fraction (0-1) of the band rectangle's pixels at the detector maximum.",
        ),
        shared_metric(
            "band_snr",
            "band",
            "Of the target or loading band (the rolling ball is the 2-D background); "
            "weak_snr flags a weak band. Was 'snr' before western_blot 1.2.",
        ),
        Metric(
            "band",
            "band_row",
            "px",
            "float",
            "Row of the band peak in the deskewed image (0 = top), as drawn in the QC figure.",
        ),
        shared_metric("background", "image", "On the deskewed image, per file."),
        shared_metric("rotation_deg", "image"),
        shared_metric("polarity", "image"),
        shared_metric("lane_count", "strip", "Per membrane strip of the image."),
        Metric(
            "strip",
            "lanes_detected",
            "lanes",
            "int",
            "Lanes found by lane finding alone, before the sample sheet's count was applied.",
        ),
    )
    flags = (
        *IMAGING_FLAGS,
        *GEOMETRY_FLAGS,
        *BAND_ROW_FLAGS,
        Flag(
            "weak_band",
            "warn",
            "The band is above the detection limit but its SNR is below weak_snr, or no band "
            "peak was found in the lane and the volume integrated where the other lanes' band "
            "sits is above the detection limit.",
        ),
        Flag(
            "no_loading_control",
            "warn",
            "No loading-control row for the sample, or its loading band is below detection "
            "(or no sample sheet): no normalized ratio.",
        ),
        Flag(
            "no_reference",
            "warn",
            "No reference row (or no measurable reference ratio) for the target: no fold change.",
        ),
        Flag(
            "mw_window_unavailable",
            "fail",
            "A molecular-weight window was asked for but no ladder could be fitted on the "
            "strip; the band was chosen without it.",
        ),
        Flag(
            "strips_not_assigned",
            "warn",
            "The image looks like several stacked strips but the sample sheet has no 'strip' "
            "column; it was analysed as one membrane.",
        ),
        Flag(
            "baseline_uncertain",
            "fail",
            "The background beside the band departs from the volume baseline's quadratic "
            "beyond the noise by more than 1 % of the volume over the band's rows; the "
            "baseline under the band can be off by 5 times that.",
        ),
    )

    def analyze(self, experiment: Experiment, params: WesternParams) -> AssayResult:
        from assaykit_western.analysis import measure_file, read_rows

        res = AssayResult()
        rows = read_rows(experiment.present, params, has_sheet=experiment.has_sheet)
        by_file: dict[str, list[SheetRow]] = {}
        for r in rows:
            by_file.setdefault(r.inp.relpath, []).append(r)
        files: list[FileResult] = []
        for relpath, file_rows in by_file.items():
            loaded = experiment.read(file_rows[0].inp)
            if not isinstance(loaded, LoadedImage):
                raise AnalysisError(
                    f"{relpath}: the image reader returned {type(loaded).__name__}, "
                    "expected assaykit.imaging.io.LoadedImage"
                )
            try:
                files.append(measure_file(loaded, file_rows, params))
            except AnalysisError as exc:
                msg = str(exc)
                raise AnalysisError(msg if relpath in msg else f"{relpath}: {msg}") from exc
        derived = _emit(experiment, res, files, params)
        if experiment.figures:
            from assaykit_western.figures import add_figures

            add_figures(res, files, params, derived)
        return res


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


def _where(rr: RowResult) -> str:
    """``file, strip N, lane M`` for messages."""
    return f"{rr.row.inp.relpath}, strip {rr.strip.index + 1}, lane {rr.lane.index + 1}"


def _below_detection(rr: RowResult) -> QCFlag:
    """``below_detection``: warn for a target band, fail for a loading band (no ratio)."""
    b, d = rr.band, rr.detection
    if b is None:
        why = rr.note or "no band found"
    elif d is not None:
        why = (
            f"its volume {d['measured_au']:.4g} AU is not above the detection limit "
            f"{d['limit_au']:.4g} AU (3 x noise {d['noise_au']:.4g} x sqrt({d['rows']} rows x "
            f"(1 + {d['baseline_share']:.2g})))"
        )
    else:
        why = f"its volume {b.volume:.4g} AU is not above 0"
    if rr.row.loading:
        what, tail, sev = f"loading control {rr.row.target}", "; no ratio", "fail"
    else:
        what, tail, sev = rr.row.target, "", "warn"
    return QCFlag(
        "below_detection",
        sev,  # type: ignore[arg-type]
        rr.row.sample_id,
        rr.row.entity,
        f"{_where(rr)}: no {what} band above detection: {why}; reported as 0{tail}",
    )


def _band_flags(rr: RowResult, params: WesternParams) -> list[QCFlag]:
    """Flags describing one band itself (its volume, and everything built from it)."""
    from assaykit.imaging.volume import STRUCTURE_MARGIN, STRUCTURE_TOLERANCE

    sid, ent = rr.row.sample_id, rr.row.entity
    out = [QCFlag(f.flag, f.severity, sid, ent, f.message) for f in rr.qc]
    b = rr.band
    if rr.below_detection:
        out.append(_below_detection(rr))
    if b is None:
        return out
    if b.saturated:
        out.append(
            QCFlag(
                "saturated",
                "fail",
                sid,
                ent,
                f"{b.saturated_fraction:.2%} of the band's pixels are at the detector maximum; "
                "its volume is a lower bound",
            )
        )
    if rr.below_detection:
        return out
    d = rr.detection or {}
    structure = d.get("structure_au")
    if structure is not None and STRUCTURE_MARGIN * structure > STRUCTURE_TOLERANCE * b.volume:
        out.append(
            QCFlag(
                "baseline_uncertain",
                "fail",
                sid,
                ent,
                f"{_where(rr)}: the background beside the band departs from the baseline by "
                f"{structure:.4g} AU over the band's rows ({structure / b.volume:.1%} of its "
                f"volume {b.volume:.4g} AU); the baseline under it may be off by "
                f"{STRUCTURE_MARGIN:g} times that, more than {STRUCTURE_TOLERANCE:.0%}",
            )
        )
    if not rr.detected:
        out.append(QCFlag("weak_band", "warn", sid, ent, rr.note))
    elif b.snr < params.weak_snr:
        out.append(
            QCFlag("weak_band", "warn", sid, ent, f"SNR {b.snr:.1f} < weak_snr {params.weak_snr}")
        )
    return out


def _file_flags(fr: FileResult, rr: RowResult) -> list[QCFlag]:
    sid, ent = rr.row.sample_id, rr.row.entity
    s = rr.strip
    out = [
        QCFlag(f.flag, f.severity, sid, ent, f.message)
        for f in [*fr.flags, *fr.strip_flags.get(s.index, [])]
    ]
    if s.lane_count_mismatch:
        want = s.expected_lanes if s.expected_lanes is not None else s.min_lanes
        says = f"{'' if s.expected_lanes is not None else 'at least '}{want}"
        out.append(
            QCFlag(
                "lane_count_mismatch",
                "warn",
                sid,
                ent,
                f"{fr.relpath}, strip {s.index + 1}: lane finding found {s.detected_lane_count} "
                f"lanes, the sample sheet says {says}; lanes placed by {s.lanes.method}",
            )
        )
    return out


def _unscoped(flags: list[QCFlag], prefix: str = "") -> list[QCFlag]:
    """The same findings as record-level flags of another record (a ratio, a fold change)."""
    return [QCFlag(f.flag, f.severity, None, None, prefix + f.message) for f in flags]


def _emit(
    experiment: Experiment, res: AssayResult, files: list[FileResult], params: WesternParams
) -> dict[int, tuple[float | None, float | None]]:
    """Add every record and flag; return ``id(RowResult) -> (ratio, fold change)``."""
    exp_id = experiment.name
    band_flags: dict[int, list[QCFlag]] = {}
    info: dict[int, tuple[FileResult, RowResult]] = {}
    order: list[int] = []
    for fr in files:
        for rr in fr.rows:
            key = id(rr)
            info[key] = (fr, rr)
            order.append(key)
            flags = _band_flags(rr, params) + _file_flags(fr, rr)
            band_flags[key] = flags
            res.qc_flags.extend(flags)

    # per-image and per-strip records
    for fr in files:
        p = fr.prepared
        src = fr.relpath
        res.add(exp_id, "image", src, "background", fr.background_text, source=src)
        res.add(exp_id, "image", src, "rotation_deg", float(p.rotation_deg), source=src)
        res.add(exp_id, "image", src, "polarity", f"{p.polarity} ({p.polarity_rule})", source=src)
        for f in fr.flags:
            res.flag(f.flag, severity=f.severity, sample_id=exp_id, entity=src, message=f.message)
        for s in p.strips:
            ent = f"{src}:strip_{s.index + 1}"
            sfl = [QCFlag("lane_count_mismatch", "warn")] if s.lane_count_mismatch else []
            sfl += fr.strip_flags.get(s.index, [])
            res.add(exp_id, "strip", ent, "lane_count", len(s.lane_list), source=src, flags=sfl)
            res.add(
                exp_id, "strip", ent, "lanes_detected", s.detected_lane_count, source=src, flags=sfl
            )

    # band records
    auto = any(info[k][1].row.auto for k in order)
    loading_of: dict[str, int] = {}
    for k in order:
        rr = info[k][1]
        if rr.row.loading:
            loading_of[rr.row.sample_id] = k
    ratio: dict[int, float | None] = {}
    ratio_flags: dict[int, list[QCFlag]] = {}
    for k in order:
        fr, rr = info[k]
        row, b = rr.row, rr.band
        sid, ent, src = row.sample_id, row.entity, fr.relpath
        metric = "loading_volume" if row.loading else "band_volume"
        volume = 0.0 if rr.below_detection or b is None else float(b.volume)
        res.add(sid, "band", ent, metric, volume, source=src)
        if rr.below_detection and rr.detection_limit is not None:
            res.add(sid, "band", ent, "detection_limit", rr.detection_limit, source=src)
        res.add(sid, "band", ent, "saturated", bool(b.saturated) if b else None, source=src)
        res.add(
            sid, "band", ent, "saturated_fraction",
            float(b.saturated_fraction) if b else None, source=src,
        )  # fmt: skip
        res.add(sid, "band", ent, "band_snr", float(b.snr) if b else None, source=src)
        res.add(sid, "band", ent, "band_row", float(b.row) if b else None, source=src)
        if row.loading or row.auto:
            continue
        lk = loading_of.get(sid)
        fl: list[QCFlag] = []
        value: float | None = None
        if lk is None:
            fl.append(
                QCFlag(
                    "no_loading_control",
                    message=f"no {params.loading_target} row for sample {sid!r}",
                )
            )
        else:
            lrr = info[lk][1]
            fl += _unscoped(band_flags[lk], f"loading control {lrr.row.entity}: ")
            if lrr.below_detection or lrr.band is None or not lrr.band.volume > 0:
                fl.append(
                    QCFlag(
                        "no_loading_control",
                        message=f"loading control {lrr.row.entity} of sample {sid!r} has no "
                        "band above detection",
                    )
                )
            elif rr.below_detection or b is None:
                value = 0.0  # the target is absent: a true zero, not a gap
            else:
                value = float(b.volume) / float(lrr.band.volume)
        ratio[k] = value
        ratio_flags[k] = fl
        res.add(sid, "band", ent, "normalized_ratio", value, source=src, flags=fl)

    # fold changes: relative to the mean ratio of the reference rows of the same target
    derived: dict[int, tuple[float | None, float | None]] = {}
    refs: dict[str, list[int]] = {}
    for k in order:
        row = info[k][1].row
        if row.role == "reference" and not row.loading and not row.auto:
            refs.setdefault(row.target.casefold(), []).append(k)
    for k in order:
        fr, rr = info[k]
        row = rr.row
        if row.loading or row.auto or row.role not in MEASURED_ROLES:
            continue
        fl = list(ratio_flags[k])
        ref_keys = refs.get(row.target.casefold(), [])
        ref_vals = [ratio[j] for j in ref_keys if ratio.get(j) is not None]
        fc: float | None = None
        if not ref_keys:
            fl.append(QCFlag("no_reference", message=f"no 'reference' row for {row.target}"))
        elif not ref_vals or not float(np.mean(ref_vals)) > 0:  # type: ignore[arg-type]
            fl.append(
                QCFlag(
                    "no_reference", message=f"the {row.target} reference ratio is not measurable"
                )
            )
        else:
            for j in ref_keys:
                if j == k:
                    continue
                jr = info[j][1].row
                fl += _unscoped(band_flags[j], f"reference {jr.sample_id} {jr.entity}: ")
                fl += _unscoped(ratio_flags[j], f"reference {jr.sample_id}: ")
            r = ratio[k]
            fc = None if r is None else r / float(np.mean(ref_vals))  # type: ignore[arg-type]
        res.add(row.sample_id, "band", row.entity, "fold_change", fc, source=fr.relpath, flags=fl)
        derived[id(rr)] = (ratio[k], fc)

    res.check_not_negative(_NON_NEGATIVE)
    if auto:
        res.flag(
            "no_loading_control",
            message="no sample sheet: every lane's strongest band is reported, without ratios",
        )
    else:
        targets = [k for k in order if not info[k][1].row.loading]
        if targets and all(ratio.get(k) is None for k in targets):
            raise AnalysisError(_no_ratio_message(info, order, params))
    return derived


#: Metrics that are never negative; one that is means a bug, and fails the experiment.
_NON_NEGATIVE = frozenset(
    {"band_volume", "loading_volume", "detection_limit", "normalized_ratio", "fold_change"}
)


def _no_ratio_message(
    info: dict[int, tuple[FileResult, RowResult]], order: list[int], params: WesternParams
) -> str:
    """Why no sample got a ratio: names the files, the loading target and what was found."""
    lt = params.loading_target
    loading = [info[k] for k in order if info[k][1].row.loading]
    targets = [info[k] for k in order if not info[k][1].row.loading]
    files = sorted({fr.relpath for fr, _rr in targets})
    if not loading:
        names = sorted({rr.row.target for _fr, rr in targets}, key=str.casefold)
        return (
            f"{', '.join(files)}: loading control {lt}: no sample-sheet row has target {lt!r} "
            f"(targets found: {', '.join(names)}), so no sample has a normalized ratio; name the "
            "loading control's target in the sheet's 'target' column, or set loading_target "
            "in [params.western_blot] of assaykit.toml"
        )
    parts: list[str] = []
    by_strip: dict[tuple[str, int], tuple[FileResult, list[RowResult]]] = {}
    for fr, rr in loading:
        by_strip.setdefault((fr.relpath, rr.strip.index), (fr, []))[1].append(rr)
    for (relpath, si), (fr, rrs) in by_strip.items():
        where = f"strip {si + 1} of {relpath}" if len(fr.prepared.strips) > 1 else relpath
        below = [rr for rr in rrs if rr.below_detection]
        if len(below) == len(rrs):
            parts.append(f"no band above detection in any lane of {where}")
        elif below:
            lanes = ", ".join(str(rr.lane.index + 1) for rr in below)
            parts.append(f"no band above detection in lane(s) {lanes} of {where}")
    with_loading = {rr.row.sample_id for _fr, rr in loading}
    missing = sorted({rr.row.sample_id for _fr, rr in targets} - with_loading)
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        parts.append(
            f"no {lt} row for sample(s) {', '.join(missing[:10])}{more} of {', '.join(files)}"
        )
    found = "; ".join(parts) or "no loading band above detection"
    return f"loading control {lt}: {found} (no sample has a normalized ratio)"


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(WesternBlot())
