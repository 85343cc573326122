"""The ``annexin_pi`` analysis of one experiment (the method is described in ``plugin.py``).

Kept apart from the declarations so that listing plugins never imports numpy
work, and so each step (read, compensate, threshold, count, draw) is a small
function with one job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from assaykit import AnalysisError, AssayResult, Experiment, Input
from assaykit.cytometry.compensation import (
    CompensationError,
    SingleStainControl,
    SpilloverMatrix,
    estimate_spillover,
    match_channels,
)
from assaykit.cytometry.flow import (
    FlowSample,
    fail_or_raise,
    figure_channels,
    flag_low_events,
    read_samples,
    threshold_method_code,
    threshold_source_code,
)
from assaykit.cytometry.params import FITC_FALLBACKS
from assaykit.cytometry.prepare import (
    Prepared,
    auto_threshold,
    control_threshold,
    prepare_events,
    resolve_channel,
)
from assaykit.cytometry.thresholds import Threshold, fixed_threshold
from numpy.typing import NDArray

from assaykit_annexin.plugin import CONTROL_ROLES

if TYPE_CHECKING:
    from assaykit.cytometry.fcs import FCSData

    from assaykit_annexin.plugin import AnnexinParams

#: ``$PnS`` label patterns, most specific first (see ``resolve_channel``).
ANNEXIN_PATTERNS = (re.compile(r"annexin|\bann\s*v\b", re.IGNORECASE), re.compile(r"fitc", re.I))
PI_PATTERNS = (re.compile(r"\bPI\b", re.IGNORECASE), re.compile(r"propidium", re.IGNORECASE))
ANNEXIN_FALLBACKS = FITC_FALLBACKS
PI_FALLBACKS = ("PE-A",)

QUADRANTS = ("viable_pct", "early_apoptotic_pct", "late_apoptotic_pct", "necrotic_pct")


@dataclass
class Unit:
    """One analysed data set: the sheet row it came from, its sample id and its events."""

    inp: Input
    sample_id: str
    fcs: FCSData
    annexin: str = ""
    pi: str = ""
    prep: Prepared | None = None
    #: why the data set could not be prepared; None when it was
    skipped: str | None = None

    @property
    def role(self) -> str:
        return self.inp.role


@dataclass
class Compensation:
    """What compensation the experiment uses and why."""

    mode: str  # file | estimated | mixed | none
    estimated: SpilloverMatrix | None = None  # 2x2, detectors ("annexin", "pi")
    message: str = ""


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def read_units(experiment: Experiment, params: AnnexinParams, res: AssayResult) -> list[Unit]:
    """Every data set of every present input, with its channels resolved (the flow layer's
    loop: a sample that cannot be read or lacks a channel fails alone, a control fails
    the experiment)."""

    def channels(s: FlowSample) -> Unit:
        ds = s.fcs
        u = Unit(s.inp, s.sample_id, ds)
        u.annexin = resolve_channel(
            ds, params.annexin_channel, ANNEXIN_PATTERNS, ANNEXIN_FALLBACKS,
            "Annexin V channel", param="annexin_channel",
        )
        u.pi = resolve_channel(
            ds, params.pi_channel, PI_PATTERNS, PI_FALLBACKS, "PI channel", param="pi_channel"
        )
        if u.annexin == u.pi:
            raise AnalysisError(
                f"{ds.path}: the Annexin V and PI channels are both {u.annexin!r}; set "
                "annexin_channel and pi_channel to two different channels"
            )
        return u

    read = read_samples(experiment, params, res, channels, fatal_roles=CONTROL_ROLES)
    return read.prepared()


def _prepare(
    u: Unit,
    params: AnnexinParams,
    *,
    compensate: bool,
    override: SpilloverMatrix | None,
    figures: bool,
) -> Prepared | None:
    """Prepare one unit; a sample that cannot be prepared is recorded as skipped, not fatal.

    Why only samples: a control that cannot be gated would silently change
    every sample's threshold, so it fails the experiment instead.
    """
    try:
        return prepare_events(
            u.fcs,
            [u.annexin, u.pi],
            spillover_override=override,
            compensate=compensate,
            cleanup=params.cleanup_params(),
            extra=figure_channels(params, u.fcs, figures),
            fit_events=params.fit_events,
        )
    except AnalysisError as exc:
        if u.role in CONTROL_ROLES:
            raise
        u.skipped = str(exc)
        return None


# --------------------------------------------------------------------------------------
# compensation
# --------------------------------------------------------------------------------------
def _covers(u: Unit) -> bool:
    """Does the data set's own spillover cover both of its channels?"""
    sp = u.fcs.spillover
    if sp is None:
        return False
    try:
        sm = SpilloverMatrix.coerce(sp)
        idx = match_channels(sm.detectors, u.fcs.channels, u.fcs.labels)
    except (CompensationError, AnalysisError):
        return False
    want = {u.fcs.channels.index(u.annexin), u.fcs.channels.index(u.pi)}
    return want <= set(idx)


def _ids(units: Sequence[Unit]) -> str:
    return ",".join(u.sample_id for u in units)


def _files(units: Sequence[Unit]) -> str:
    return ", ".join(dict.fromkeys(u.inp.relpath for u in units))


def estimate_matrix(units: list[Unit], params: AnnexinParams) -> tuple[SpilloverMatrix, str]:
    """A 2x2 spillover (Annexin, PI) from the single-stain controls' uncompensated singlets."""
    ann = [u for u in units if u.role == "annexin_only"]
    pi = [u for u in units if u.role == "pi_only"]
    unst = [u for u in units if u.role == "unstained"]

    def stack(group: list[Unit]) -> NDArray[np.float64]:
        cols = []
        for u in group:
            p = _prepare(u, params, compensate=False, override=None, figures=False)
            assert p is not None  # controls never skip
            cols.append(np.column_stack([p.kept(u.annexin), p.kept(u.pi)]))
        return np.concatenate(cols) if cols else np.empty((0, 2))

    controls = [
        SingleStainControl(stack(ann), "annexin", _ids(ann)),
        SingleStainControl(stack(pi), "pi", _ids(pi)),
    ]
    negative = stack(unst) if unst else None
    try:
        est = estimate_spillover(controls, ["annexin", "pi"], negative)
    except (AnalysisError, CompensationError) as exc:
        files = ", ".join(sorted({u.inp.relpath for u in ann + pi + unst}))
        raise AnalysisError(
            f"cannot estimate a spillover matrix from the single-stain controls ({files}): "
            f"{exc}; set compensate=false or give files with a $SPILLOVER keyword"
        ) from exc
    neg = f", unstained {_ids(unst)} as negative" if unst else ", dim events as negative"
    how = f"annexin_only {_ids(ann)}, pi_only {_ids(pi)}{neg}"
    if est.warnings:  # few positives or an uncertain term: said in the compensation flag
        how += "; " + "; ".join(est.warnings)
    return est.spillover, how


def plan_compensation(units: list[Unit], params: AnnexinParams) -> Compensation:
    if not params.compensate:
        return Compensation("none", message="compensate=false was asked for")
    mode = params.spillover_source
    covered = [u for u in units if _covers(u)]
    lacking = [u for u in units if not _covers(u)]
    have_ss = any(u.role == "annexin_only" for u in units) and any(
        u.role == "pi_only" for u in units
    )
    if mode == "file":
        if lacking:
            files = ", ".join(sorted({u.inp.relpath for u in lacking}))
            raise AnalysisError(
                f"spillover_source='file', but these files carry no spillover keyword covering "
                f"their Annexin V and PI channels: {files}"
            )
        return Compensation("file")
    if mode == "auto" and not lacking:
        return Compensation("file")
    if have_ss:
        sm, how = estimate_matrix(units, params)
        why = "asked for" if mode == "estimate" else (
            f"{len(lacking)} data set(s) carry no usable spillover keyword"
        )
        return Compensation("estimated", sm, f"spillover estimated from {how} ({why})")
    if mode == "estimate":
        raise AnalysisError(
            "spillover_source='estimate' needs an annexin_only and a pi_only control; the "
            f"experiment has roles {sorted({u.role for u in units})}"
        )
    msg = (
        f"no spillover keyword in {', '.join(sorted({u.inp.relpath for u in lacking}))} and "
        "no annexin_only + pi_only controls to estimate one"
    )
    return Compensation("mixed" if covered else "none", message=msg)


def prepare_all(
    units: list[Unit], params: AnnexinParams, comp: Compensation, figures: bool
) -> None:
    for u in units:
        override = None
        if comp.estimated is not None:
            override = SpilloverMatrix(
                (u.annexin, u.pi), comp.estimated.matrix, id="estimated"
            )
        u.prep = _prepare(
            u, params, compensate=comp.mode != "none", override=override, figures=figures
        )


def unit_compensation(u: Unit) -> str:
    p = u.prep
    if p is None or p.compensation == "none" or len(p.compensated) < 2:
        return "none" if p is None or not p.compensated else f"partial:{','.join(p.compensated)}"
    if p.compensation == "given":
        return "estimated"
    return f"file:{p.spillover_keyword or 'spillover'}"


# --------------------------------------------------------------------------------------
# thresholds
# --------------------------------------------------------------------------------------
@dataclass
class ChannelThreshold:
    threshold: Threshold
    method: str
    source: str
    auto_reason: str | None = None


def _ready(units: Sequence[Unit], role: str) -> list[Unit]:
    return [u for u in units if u.role == role and u.prep is not None and u.prep.n_kept > 0]


def _pooled(units: Sequence[Unit], which: str, limit: int) -> NDArray[np.float64]:
    """The kept values of one channel ('annexin' or 'pi') of several units, each at most
    ``limit // len(units)`` at an even stride, so one huge file cannot dominate."""
    per = max(1, limit // max(len(units), 1))
    parts = []
    for u in units:
        assert u.prep is not None
        step = max(1, math.ceil(u.prep.n_kept / per))
        # stride over all events first, then mask: no copy of the whole column
        keep = u.prep.keep[::step]
        parts.append(u.prep.column(getattr(u, which))[::step][keep])
    return np.concatenate(parts) if parts else np.empty(0)


def _auto(
    units: Sequence[Unit], which: str, channel: str, params: AnnexinParams, reason: str | None
) -> ChannelThreshold:
    pool = _ready(units, "sample") or [
        u for u in units if u.prep is not None and u.prep.n_kept > 0
    ]
    if not pool:
        raise AnalysisError(
            f"no data set has singlet cells to set an automatic threshold on "
            f"(files: {_files(units)})"
        )
    source = threshold_source_code("samples", [u.sample_id for u in pool])
    try:
        th = auto_threshold(
            _pooled(pool, which, params.fit_events), channel=channel, source=source,
            fit_events=params.fit_events,
        )
    except AnalysisError as exc:
        raise AnalysisError(
            f"{exc} (files: {_files(pool)}). Give an unstained or single-stain control, or set "
            "threshold_method='fixed' with fixed_annexin_threshold and fixed_pi_threshold"
        ) from exc
    return ChannelThreshold(th, threshold_method_code(th), source, reason)


def channel_threshold(
    units: Sequence[Unit], which: str, params: AnnexinParams
) -> ChannelThreshold:
    """The Annexin (``which='annexin'``) or PI (``'pi'``) threshold of the experiment."""
    channel = ",".join(dict.fromkeys(getattr(u, which) for u in units))
    if params.threshold_method == "fixed":
        name = f"fixed_{which}_threshold"
        value = getattr(params, name)
        assert value is not None  # the params model enforces it
        th = fixed_threshold(value, channel=channel, source=f"parameter:{name}")
        return ChannelThreshold(th, threshold_method_code(th), f"parameter:{name}")
    if params.threshold_method == "auto":
        return _auto(units, which, channel, params, None)
    fmo = "pi_only" if which == "annexin" else "annexin_only"
    order = (fmo, "unstained") if params.threshold_control == "single_stain" else (
        "unstained", fmo
    )
    for role in order:
        ctrl = _ready(units, role)
        if not ctrl:
            continue
        assert all(u.prep is not None for u in ctrl)
        values = {u.sample_id: u.prep.kept(getattr(u, which)) for u in ctrl if u.prep}
        try:
            th = control_threshold(values, params.percentile, channel=channel)
        except AnalysisError as exc:
            raise AnalysisError(f"{exc} (files: {_files(ctrl)})") from exc
        return ChannelThreshold(
            th, threshold_method_code(th), threshold_source_code(role, values)
        )
    dye = "Annexin V" if which == "annexin" else "PI"
    reason = f"no {' or '.join(order)} control for the {dye} threshold"
    return _auto(units, which, channel, params, reason)


# --------------------------------------------------------------------------------------
# quadrants
# --------------------------------------------------------------------------------------
def quadrant_counts(
    annexin: NDArray[np.float64],
    pi: NDArray[np.float64],
    t_annexin: float,
    t_pi: float,
    keep: NDArray[np.bool_] | None = None,
) -> dict[str, int]:
    """Events per quadrant among ``keep`` (all when None). ``>=`` is positive, so each
    finite event is in exactly one quadrant.

    Equivalent to counting ``QuadrantGate.cross(annexin, pi, t_annexin,
    t_pi).assign`` over the kept events (a test checks it event by event),
    but in a few vectorized passes and without copying the kept events.
    """
    a_pos = annexin >= t_annexin
    p_pos = pi >= t_pi
    if keep is not None:
        a_pos &= keep
        p_pos &= keep
    n = int(annexin.size) if keep is None else int(np.count_nonzero(keep))
    n_a = int(np.count_nonzero(a_pos))
    n_p = int(np.count_nonzero(p_pos))
    n_ap = int(np.count_nonzero(a_pos & p_pos))
    return {
        "viable_pct": n - n_a - n_p + n_ap,
        "early_apoptotic_pct": n_a - n_ap,
        "late_apoptotic_pct": n_ap,
        "necrotic_pct": n_p - n_ap,
    }


def analyze_experiment(experiment: Experiment, params: AnnexinParams) -> AssayResult:
    """Read, compensate, clean, threshold and count every data set of one experiment."""
    res = AssayResult()
    figures = experiment.figures
    units = read_units(experiment, params, res)
    if not units:  # every sample failed alone (error records); nothing to threshold
        return res
    comp = plan_compensation(units, params)
    prepare_all(units, params, comp, figures)
    th_a = channel_threshold(units, "annexin", params)
    th_p = channel_threshold(units, "pi", params)
    axes = None
    if figures:
        from assaykit_annexin import figures as fig

        axes = fig.axis_transforms(units)

    exp = experiment.name
    if comp.mode == "estimated":
        res.flag("compensation_estimated", message=comp.message)
    elif comp.mode == "none":
        res.flag("no_compensation", message=comp.message)
    reasons = [t.auto_reason for t in (th_a, th_p) if t.auto_reason]
    if params.threshold_method == "auto" or reasons:
        res.flag(
            "threshold_auto",
            message="; ".join(reasons) or "threshold_method='auto' was asked for",
        )

    for u in units:
        sid, src = u.sample_id, u.inp.relpath
        res.add(sid, "sample", sid, "event_count", int(u.fcs.n_events), source=src)
        if comp.mode == "mixed" and not unit_compensation(u).startswith("file:"):
            res.flag("no_compensation", sample_id=sid, message=comp.message)
        if u.prep is None:  # cannot be prepared: the flow layer's failure rule
            why = str(u.skipped)
            if u.fcs.n_events < max(params.min_events, params.cleanup_params().min_events):
                why = f"{u.fcs.n_events} events, too few to gate: {why}"
                res.flag("low_event_count", severity="fail", sample_id=sid, message=why)
            fail_or_raise(res, u.inp, sid, AnalysisError(why), CONTROL_ROLES)
            continue
        p = u.prep
        n = p.n_kept
        flag_low_events(res, sid, n, params)
        counts = quadrant_counts(
            p.column(u.annexin), p.column(u.pi), th_a.threshold.value, th_p.threshold.value,
            p.keep,
        )
        pct = {m: (100.0 * c / n if n else math.nan) for m, c in counts.items()}
        for m in QUADRANTS:
            res.add(sid, "sample", sid, m, pct[m], source=src)
        res.add(sid, "sample", sid, "singlet_count", n, source=src)
        res.add(sid, "sample", sid, "compensation", unit_compensation(u), source=src)
        if axes is not None:
            fig.draw_unit(res, u, axes, th_a.threshold, th_p.threshold, pct, n)

    res.add(exp, "experiment", exp, "annexin_threshold", th_a.threshold.value)
    res.add(exp, "experiment", exp, "pi_threshold", th_p.threshold.value)
    res.add(exp, "experiment", exp, "annexin_threshold_method", th_a.method)
    res.add(exp, "experiment", exp, "pi_threshold_method", th_p.method)
    res.add(exp, "experiment", exp, "annexin_threshold_source", th_a.source)
    res.add(exp, "experiment", exp, "pi_threshold_source", th_p.source)
    res.add(exp, "experiment", exp, "compensation", comp.mode)
    s_ap, s_pa = _applied_spill(units, comp)
    res.add(exp, "experiment", exp, "spillover_annexin_into_pi", s_ap)
    res.add(exp, "experiment", exp, "spillover_pi_into_annexin", s_pa)
    res.add(exp, "experiment", exp, "annexin_channel", th_a.threshold.channel or "")
    res.add(exp, "experiment", exp, "pi_channel", th_p.threshold.channel or "")
    if axes is not None:
        fig.draw_thresholds(res, exp, units, axes, th_a, th_p)
    return res


def _applied_spill(units: Sequence[Unit], comp: Compensation) -> tuple[float | None, float | None]:
    """The (Annexin→PI, PI→Annexin) spillover applied, when one matrix served every file."""
    if comp.estimated is not None:
        m = comp.estimated.matrix
        return float(m[0, 1]), float(m[1, 0])
    if comp.mode != "file":
        return None, None
    pairs = set()
    for u in units:
        p = u.prep
        if p is None or p.spillover is None:
            continue
        det = list(p.spillover.detectors)
        idx = match_channels(det, u.fcs.channels, u.fcs.labels)
        ia = idx.index(u.fcs.channels.index(u.annexin))
        ip = idx.index(u.fcs.channels.index(u.pi))
        m = p.spillover.matrix
        pairs.add((float(m[ia, ip]), float(m[ip, ia])))
    if len(pairs) == 1:
        return pairs.pop()
    return None, None
