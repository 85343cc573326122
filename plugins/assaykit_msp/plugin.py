"""Methylation-specific PCR gels: the ``msp_gel`` assay.

What it decides (Protocol 6 of the isotretinoin workflow, RARB promoter):
the bisulfite-converted DNA of each sample is amplified with an M (methylated)
and a U (unmethylated) primer pair, and both products run side by side on an
agarose gel with a DNA ladder. A band of the right size in the M lane means
methylated alleles; in the U lane, unmethylated ones.

How, per gel (one image is one experiment; one sheet row per lane):

1. **Layout** from the sheet (:mod:`assaykit_msp.layout`): ``lane``, ``role``
   (``ladder``, ``M``, ``U``, ``blank``), ``sample_id`` (the M and U lanes
   of a sample share it), ``control`` (``methylated``, ``unmethylated``,
   ``water``), optional ``ladder_bp``, ``m_product_bp``, ``u_product_bp``.
2. **Image** (:func:`assaykit.imaging.pipeline.prepare_image`): polarity
   (inverted scans are turned bright-on-dark), deskew, lanes (the sheet's lane
   count is used, so empty lanes are still placed), and a rolling-ball
   background for detection (``rolling_ball_radius``).
3. **Bands** in every lane (:func:`assaykit.imaging.bands.find_bands`):
   found on the background-subtracted image, volumes measured on the
   straightened image without the 2-D background, over the ``volume_baseline``
   (:mod:`assaykit.imaging.volume`; default ``edges_quadratic``, a parabola
   through the lane-profile rows on both sides of the band, as in western_blot;
   ``edges_linear``, the straight line between the band's edges of msp_gel 0.1,
   gave faint product volumes up to 17 % off where the parabola gives 14 %).
4. **Ladder**: each ladder lane's bands are matched to its sizes, allowing
   missing and extra bands and using the brighter reference bands, then
   migration is fitted against log10(bp) (``ladder_model``). Quality:
   ``ladder_r2`` and the largest residual (:func:`assaykit.imaging.sizing.
   ladder_quality`); ``ladder_fit_poor`` when either is out of bounds.
5. **Smile and skew** (:mod:`assaykit.imaging.sizing`): one smooth curve
   fitted to the rows of bands shared across lanes (each ladder size over the
   ladder lanes, each expected product over its lanes) is removed from every
   row; the lanes between ladders are then calibrated by interpolating the
   ladders. A lane whose profile matches its nearest ladder lane (a co-loaded
   marker) is registered onto it instead.
6. **Presence**: a product is present when a band lies within
   ``size_tolerance`` of the expected size, above ``primer_dimer_max_bp``,
   with signal-to-noise at least ``min_snr``.
7. **Call**: M only ``methylated``; U only ``unmethylated``; both
   ``partially_methylated``; neither ``failed``. ``methylation_index`` is
   M / (M + U) of the product band volumes.
8. **Controls**: the methylated control must show M, the unmethylated
   control U, water nothing. Any failure adds ``control_failed`` (severity
   fail) to every call on the gel.

QC flags (declared in ``MSPGel.flags``): ``control_failed``, ``ladder_fit_poor``,
``no_controls``, ``control_missing``, ``lossy_source`` (JPEG), ``low_bit_depth``
(8-bit), ``saturated`` (warn here; ``saturated_pixels`` before 0.2: a band touches
the detector maximum, so its volume is a lower bound), ``unexpected_band`` (a
clear band of another size in a sample's lanes), ``blank_lane_not_empty``, ``lane_count_mismatch``
(lane-like signal beyond the lanes placed: lanes the sheet does not list?),
``outside_ladder`` (a product sized by extrapolation beyond the ladder),
``below_detection`` (warn: a band whose baseline-subtracted volume is not
above 0; its volume is reported as 0, never negative, and the methylation
index uses 0). A negative volume or index never reaches a record: the gel
fails with an error instead (a bug, never a result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assaykit import Assay, AssayResult, Experiment, Metric, QCFlag, hookimpl
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn
from assaykit.imaging.assay import IMAGING_FLAGS
from assaykit.imaging.io import LoadedImage
from assaykit.vocabulary import shared_metric

from assaykit_msp import __version__
from assaykit_msp.layout import CONTROLS, ROLES, parse_layout
from assaykit_msp.params import CALLS, DIMER, PRODUCT, WEAK, MSPParams

if TYPE_CHECKING:  # the analysis (scipy, OpenCV) is imported by analyze() only
    from assaykit_msp.analysis import GelAnalysis

_CALL_DOC = (
    f"one of {', '.join(CALLS)}: M product only, U product only, both, neither "
    "(a product: a band within size_tolerance of the expected size with SNR >= min_snr)"
)


class MSPGel(Assay):
    name = "msp_gel"
    version = __version__
    summary = "Methylation-specific PCR gel: M/U product presence, calls and control checks."
    input_kinds = ("image",)
    roles = ROLES
    Params = MSPParams
    figure_titles = (
        ("gel", "MSP gel: methylated and unmethylated lanes of each sample, with its call"),
    )
    summaries = (
        Summary(
            "sample",
            (
                SummaryColumn("call", "methylation call"),
                SummaryColumn("methylation_index", "methylation index M/(M+U)"),
                SummaryColumn("controls", "gel controls", "gel"),
            ),
            "MSP: methylation call per sample",
            ("cell_line", "control"),
        ),
    )
    profile = (
        ProfileMetric(
            "call", "methylation (MSP call)", roles=("M", "U"), combine="calls", position=20
        ),
    )
    metrics = (
        Metric("sample", "call", None, "str", _CALL_DOC),
        Metric(
            "sample",
            "m_band_volume",
            "AU",
            "float",
            "volume of the M product band (sum of its rectangle's pixels above the baseline "
            "under the lane profile, parameter volume_baseline, on the straightened image; "
            "the gel record 'background' names it); 0 when no M product is present, or (flag "
            "below_detection) when that sum is not above 0",
        ),
        Metric(
            "sample",
            "u_band_volume",
            "AU",
            "float",
            "volume of the U product band (as m_band_volume); 0 when no U product is present",
        ),
        Metric(
            "sample",
            "methylation_index",
            None,
            "float",
            "m_band_volume / (m_band_volume + u_band_volume); absent when the call is failed",
        ),
        Metric("sample", "m_band_bp", "bp", "float", "size of the M product band, when present"),
        Metric("sample", "u_band_bp", "bp", "float", "size of the U product band, when present"),
        Metric(
            "sample",
            "m_band_snr",
            None,
            "float",
            "peak height of the M product band over the lane profile noise, when present",
        ),
        Metric(
            "sample",
            "u_band_snr",
            None,
            "float",
            "peak height of the U product band over the lane profile noise, when present",
        ),
        Metric("band", "band_bp", "bp", "float", "size of a band in an M, U or blank lane"),
        shared_metric(
            "band_volume",
            "band",
            "A band in an M, U or blank lane (as m_band_volume); below_detection when the "
            "baseline-subtracted sum is not above 0.",
        ),
        shared_metric("band_snr", "band", "A band in an M, U or blank lane."),
        Metric(
            "band",
            "band_kind",
            None,
            "str",
            "product, weak (product size but SNR below min_snr), primer_dimer or other",
        ),
        Metric(
            "ladder",
            "ladder_r2",
            None,
            "float",
            "R² of this ladder lane's fit in log10(bp) (interior bands, leave-one-out, for "
            "piecewise fits), smile-corrected frame",
        ),
        Metric(
            "ladder",
            "ladder_max_residual_bp",
            "bp",
            "float",
            "largest residual of this ladder lane's fit (as ladder_r2)",
        ),
        Metric("ladder", "ladder_bands_matched", "bands", "int", "ladder sizes matched to bands"),
        Metric("gel", "ladder_r2", None, "float", "worst ladder_r2 over the gel's ladder lanes"),
        Metric(
            "gel",
            "ladder_max_residual_bp",
            "bp",
            "float",
            "largest ladder_max_residual_bp over the gel's ladder lanes",
        ),
        shared_metric("polarity", "gel"),
        shared_metric("rotation_deg", "gel"),
        Metric(
            "gel",
            "smile_range_px",
            "px",
            "float",
            "peak-to-peak of the smile curve removed across the lanes (0: none)",
        ),
        Metric(
            "gel",
            "well_row",
            None,
            "str",
            "the comb's well row found (rows of its holes, and the rows of wells and glow "
            "left out of band search), or none",
        ),
        shared_metric("background", "gel", "Was 'background_method' before msp_gel 0.2."),
        shared_metric("lane_count", "gel"),
        Metric(
            "gel",
            "controls",
            None,
            "str",
            "pass, fail (a control misbehaved; see the control_failed flag) or none",
        ),
    )

    flags = (
        *IMAGING_FLAGS,
        Flag(
            "control_failed",
            "fail",
            "A control misbehaved (the methylated control shows no M product, the "
            "unmethylated control no U product, or water a product): every call on the gel "
            "fails.",
        ),
        Flag(
            "ladder_fit_poor",
            "warn",
            "A ladder lane's fit (log10 bp against migration) has R² below min_ladder_r2 or a "
            "band residual above max_ladder_residual: sizes are uncertain.",
        ),
        Flag(
            "control_missing",
            "warn",
            "The gel has some controls but not all of methylated, unmethylated and water.",
        ),
        Flag(
            "unexpected_band",
            "warn",
            "A clear band of another size (within the ladder's range) in a sample's M or U lane.",
        ),
        Flag(
            "blank_lane_not_empty",
            "warn",
            "A blank lane shows a clear band (not primer dimer): contamination or a lane mix-up.",
        ),
        Flag(
            "outside_ladder",
            "warn",
            "A product was sized by extrapolation beyond the ladder's range (more than 5 %).",
        ),
    )

    def analyze(self, experiment: Experiment, params: MSPParams) -> AssayResult:
        from assaykit_msp.analysis import analyze_gel

        layout = parse_layout(
            experiment,
            ladder_bp=params.ladder_bp,
            m_product_bp=params.m_product_bp,
            u_product_bp=params.u_product_bp,
            n_lanes=params.n_lanes,
        )
        loaded: LoadedImage = experiment.read(layout.input)
        gel = analyze_gel(loaded, layout, params)
        res = AssayResult()
        _records(res, experiment, gel, loaded, params)
        res.check_not_negative(_NON_NEGATIVE)
        if experiment.figures:
            from assaykit_msp.figures import gel_figure

            res.add_figure(
                "gel",
                gel_figure(gel, title=experiment.name),
                caption=(
                    f"{experiment.name} MSP gel: methylated (M) and unmethylated (U) lanes "
                    "per sample, with the call (methylated, unmethylated, partial, failed) "
                    "below each pair and the ladder sizes at the side. "
                    "Method: gel straightened (rotation and smile corrected); lane boxes "
                    "(L ladder, M, U); every band with its size from the ladder fit and its "
                    "SNR (green: product, orange dashed: product size below the SNR limit, "
                    "grey: primer dimer, yellow: other); the expected product window "
                    "(size +/- tolerance) of each lane shaded."
                ),
            )
        return res


def _records(
    res: AssayResult,
    experiment: Experiment,
    gel: GelAnalysis,
    loaded: LoadedImage,
    params: MSPParams,
) -> None:
    src = gel.layout.input.relpath
    exp = experiment.name
    prep = gel.prepared

    # -- experiment-wide flags
    if loaded.lossy:
        res.flag("lossy_source", message="JPEG source: compression alters band volumes")
    if prep.low_bit_depth:
        res.flag(
            "low_bit_depth",
            message=f"{prep.bit_depth}-bit source: few grey levels; faint bands are coarse",
        )
    if gel.unlisted_lanes:
        res.flag(
            "lane_count_mismatch",
            message=(
                f"{gel.unlisted_lanes} lane-like signal(s) beyond the {gel.layout.n_lanes} lanes "
                "placed; if the gel has lanes the sheet does not list, set n_lanes"
            ),
        )
    poor = [lr for lr in gel.ladders.values() if lr.poor]
    for lr in poor:
        res.flag(
            "ladder_fit_poor",
            message=(
                f"ladder {lr.spec.where}: R² {lr.quality.r_squared:.4f}, largest residual "
                f"{lr.quality.max_residual_bp:.1f} bp "
                f"({100 * lr.quality.max_residual_fraction:.1f} %)"
            ),
        )
    kinds = {s.spec.control for s in gel.samples if s.spec.control}
    if not kinds:
        res.flag("no_controls", message="no methylated, unmethylated or water control on the gel")
    elif set(CONTROLS) - kinds:
        res.flag(
            "control_missing",
            message=f"no {' or '.join(sorted(set(CONTROLS) - kinds))} control on the gel",
        )
    failed = gel.controls_failed
    control_flag = (
        QCFlag(
            "control_failed",
            "fail",
            message="; ".join(f"{c.spec.sample_id}: {c.control_problem}" for c in failed),
        )
        if failed
        else None
    )

    # -- gel
    worst_r2 = min(lr.quality.r_squared for lr in gel.ladders.values())
    worst_res = max(lr.quality.max_residual_bp for lr in gel.ladders.values())
    res.add(exp, "gel", exp, "ladder_r2", worst_r2, source=src)
    res.add(exp, "gel", exp, "ladder_max_residual_bp", worst_res, unit="bp", source=src)
    res.add(exp, "gel", exp, "polarity", f"{prep.polarity} ({gel.polarity_rule})", source=src)
    res.add(exp, "gel", exp, "rotation_deg", prep.rotation_deg, unit="deg", source=src)
    res.add(exp, "gel", exp, "smile_range_px", gel.smile_range_px, unit="px", source=src)
    well = prep.strips[0].wells
    res.add(
        exp,
        "gel",
        exp,
        "well_row",
        well.describe() if well is not None else "none found: every row searched for bands",
        source=src,
    )
    from assaykit.imaging.volume import background_text

    res.add(exp, "gel", exp, "background", background_text(prep, params), source=src)
    res.add(exp, "gel", exp, "lane_count", len(prep.strips[0].lane_list), source=src)
    res.add(
        exp,
        "gel",
        exp,
        "controls",
        "fail" if failed else ("pass" if kinds else "none"),
        source=src,
        flags=[control_flag] if control_flag else [],
    )

    # -- ladders
    for n, lr in sorted(gel.ladders.items()):
        ent = f"lane_{n:02d}"
        sid = lr.spec.sample_id
        fl = ["ladder_fit_poor"] if lr.poor else []
        res.add(sid, "ladder", ent, "ladder_r2", lr.quality.r_squared, source=src, flags=fl)
        res.add(
            sid, "ladder", ent, "ladder_max_residual_bp", lr.quality.max_residual_bp,
            unit="bp", source=src, flags=fl,
        )  # fmt: skip
        res.add(
            sid, "ladder", ent, "ladder_bands_matched", int(lr.fit.sizes.size),
            unit="bands", source=src,
        )  # fmt: skip

    # -- bands of every M, U and blank lane
    lo_bp = min(min(lr.spec.ladder_bp) for lr in gel.ladders.values())
    hi_bp = max(max(lr.spec.ladder_bp) for lr in gel.ladders.values())
    for n, lane in sorted(gel.lanes.items()):
        if lane.spec.role == "ladder":
            continue
        sid = lane.spec.sample_id
        visible = [
            b for b in lane.bands if b.band.snr >= params.min_snr or b.kind in (PRODUCT, WEAK)
        ]
        if lane.spec.role == "blank":
            real = [b for b in visible if b.band.snr >= params.min_snr and b.kind != DIMER]
            if real:
                res.flag(
                    "blank_lane_not_empty",
                    sample_id=sid,
                    message=f"blank {lane.spec.where}: bands at "
                    + ", ".join(f"{b.bp:.0f} bp" for b in real),
                )
        for k, b in enumerate(visible, start=1):
            ent = f"lane_{n:02d}/band_{k:02d}"
            bfl: list[QCFlag | str] = ["saturated"] if b.band.saturated else []
            if not b.band.volume > 0:
                bfl.append(_below(f"{src}, lane {n}, band {k} ({b.bp:.0f} bp)", b.band.volume))
            res.add(sid, "band", ent, "band_bp", b.bp, unit="bp", source=src)
            res.add(
                sid, "band", ent, "band_volume", max(0.0, b.band.volume), unit="AU", source=src,
                flags=bfl,
            )  # fmt: skip
            res.add(sid, "band", ent, "band_snr", b.band.snr, source=src)
            res.add(sid, "band", ent, "band_kind", b.kind, source=src)

    # -- samples
    for s in gel.samples:
        sid = s.spec.sample_id
        call_flags: list[QCFlag | str] = []
        if control_flag is not None:
            call_flags.append(control_flag)
        if s.unexpected:
            call_flags.append(
                QCFlag(
                    "unexpected_band",
                    message="bands of another size: "
                    + ", ".join(f"{b.bp:.0f} bp" for b in s.unexpected),
                )
            )
        chosen = [b for b in (s.m_band, s.u_band) if b is not None]
        if any(b.bp < lo_bp * 0.95 or b.bp > hi_bp * 1.05 for b in chosen):
            call_flags.append(
                QCFlag("outside_ladder", message="a product was sized beyond the ladder's range")
            )
        sat = ["saturated"] if any(b.band.saturated for b in chosen) else []
        res.add(sid, "sample", sid, "call", s.call, source=src, flags=call_flags)
        m_sat: list[QCFlag | str] = (
            ["saturated"] if s.m_band is not None and s.m_band.band.saturated else []
        )
        u_sat: list[QCFlag | str] = (
            ["saturated"] if s.u_band is not None and s.u_band.band.saturated else []
        )
        if s.m_band is not None and not s.m_volume > 0:
            m_sat.append(_below(f"{src}, sample {sid}: the M product band", s.m_volume))
        if s.u_band is not None and not s.u_volume > 0:
            u_sat.append(_below(f"{src}, sample {sid}: the U product band", s.u_volume))
        m_vol, u_vol = max(0.0, s.m_volume), max(0.0, s.u_volume)
        res.add(sid, "sample", sid, "m_band_volume", m_vol, unit="AU", source=src, flags=m_sat)
        res.add(sid, "sample", sid, "u_band_volume", u_vol, unit="AU", source=src, flags=u_sat)
        # the index from the reported (never negative) volumes, so it stays within 0..1
        total = m_vol + u_vol
        mi = m_vol / total if s.methylation_index is not None and total > 0 else None
        if mi is not None:
            res.add(sid, "sample", sid, "methylation_index", mi, source=src, flags=sat)
        if s.m_band is not None:
            res.add(sid, "sample", sid, "m_band_bp", s.m_band.bp, unit="bp", source=src)
            res.add(sid, "sample", sid, "m_band_snr", s.m_band.band.snr, source=src)
        if s.u_band is not None:
            res.add(sid, "sample", sid, "u_band_bp", s.u_band.bp, unit="bp", source=src)
            res.add(sid, "sample", sid, "u_band_snr", s.u_band.band.snr, source=src)


def _below(what: str, volume: float) -> QCFlag:
    return QCFlag(
        "below_detection",
        message=f"{what}: its baseline-subtracted volume {volume:.4g} AU is not above 0; "
        "reported as 0",
    )


#: Metrics that are never negative (a negative one is a bug and fails the gel).
_NON_NEGATIVE = frozenset({"band_volume", "m_band_volume", "u_band_volume", "methylation_index"})


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(MSPGel())
