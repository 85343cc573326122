"""Relative quantification from Cq's: replicates, standard curves, ΔΔCt / Pfaffl, QC.

**Replicates** (:func:`replicates`): per (sample, target) the detected Cq's. With
``min_n`` (3) or more detected replicates, a replicate more than ``max_dev``
(0.5) cycles from their median is excluded and listed in ``outliers``; if that
would leave fewer than two, nothing is excluded and ``disagree`` is set.
Mean and SD (``ddof=1``; 0 for a single replicate) are over the kept ones.
Undetected replicates are counted in ``n_undetected``, never averaged.

**Standard curve** (:func:`standard_curve`): least squares of Cq on
log10(quantity); amplification factor ``E = 10**(-1/slope)`` (2 = 100 %),
``efficiency_percent = (E - 1) * 100`` and R².

**Relative expression** (:func:`relative_expression`), Pfaffl 2001 generalised to
several reference genes (Vandesompele 2002 geometric mean)::

    log2 ratio = log2(E_t)·ΔCq_t − (1/m)·Σ_j log2(E_j)·ΔCq_j,  ΔCq = Cq(calibrator) − Cq(sample)

With every E = 2 this is −ΔΔCt of Livak & Schmittgen 2001 with
ΔCt = Cq_target − mean_j Cq_ref_j (the arithmetic mean of reference Cq's is the
geometric mean of their quantities). ``method`` records ``"livak"`` or ``"pfaffl"``.

**Error**: the SD of log2 ratio (= SD of ΔΔCt when E = 2) is propagated from the
replicate SDs, independent errors::

    sd² = log2(E_t)²·s_t² + (1/m²)·Σ_j log2(E_j)²·s_j²

with s = the sample's replicate SD (Livak & Schmittgen: the calibrator's ΔCt is a
constant subtracted from every ΔCt, so it adds no error) or, with
``include_calibrator=True``, sqrt(s_sample² + s_calibrator²). The fold-change
interval is asymmetric: ``2**(log2 ratio ± sd)`` (i.e. 2^-(ΔΔCt ∓ SD)).

**QC** (:func:`qc_findings`): an NTC well detected below ``ntc_cutoff`` cycles
(``ntc_amplified``); a no-RT sample detected less than ``nrt_min_gap`` cycles after
its +RT sample's mean (``nrt_close``: genomic DNA).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from assaykit.errors import AnalysisError
from assaykit.qpcr.wells import Well


@dataclass(frozen=True)
class Replicates:
    sample: str
    target: str
    kept: tuple[float, ...]
    outliers: tuple[float, ...] = ()
    outlier_wells: tuple[str, ...] = ()
    n_undetected: int = 0
    disagree: bool = False

    @property
    def n(self) -> int:
        return len(self.kept)

    @property
    def mean(self) -> float | None:
        return sum(self.kept) / len(self.kept) if self.kept else None

    @property
    def sd(self) -> float | None:
        if not self.kept:
            return None
        if len(self.kept) < 2:
            return 0.0
        m = sum(self.kept) / len(self.kept)
        return math.sqrt(sum((x - m) ** 2 for x in self.kept) / (len(self.kept) - 1))


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def replicate_group(wells: Sequence[Well], *, max_dev: float = 0.5, min_n: int = 3) -> Replicates:
    """One (sample, target) group → :class:`Replicates` with the outlier rule applied."""
    if not wells:
        raise AnalysisError("no wells in the replicate group")
    det = [w for w in wells if w.detected and not w.excluded]
    und = sum(1 for w in wells if not w.detected and not w.excluded)
    cqs = [w.cq for w in det if w.cq is not None]
    outl: list[Well] = []
    disagree = False
    if len(cqs) >= min_n:
        med = _median(cqs)
        outl = [w for w in det if w.cq is not None and abs(w.cq - med) > max_dev]
        if len(det) - len(outl) < 2:
            outl, disagree = [], True
    kept = tuple(w.cq for w in det if w not in outl and w.cq is not None)
    return Replicates(
        sample=wells[0].sample,
        target=wells[0].target,
        kept=kept,
        outliers=tuple(w.cq for w in outl if w.cq is not None),
        outlier_wells=tuple(w.well for w in outl),
        n_undetected=und,
        disagree=disagree,
    )


def replicates(
    wells: Iterable[Well],
    *,
    max_dev: float = 0.5,
    min_n: int = 3,
    roles: Sequence[str] | None = None,
) -> dict[tuple[str, str], Replicates]:
    """(sample, target) → :class:`Replicates`; ``roles`` limits which wells count."""
    groups: dict[tuple[str, str], list[Well]] = {}
    for w in wells:
        if roles is None or w.role in roles:
            groups.setdefault((w.sample, w.target), []).append(w)
    return {k: replicate_group(v, max_dev=max_dev, min_n=min_n) for k, v in groups.items()}


@dataclass(frozen=True)
class StandardCurve:
    target: str
    slope: float
    intercept: float
    r2: float
    n: int

    @property
    def amplification(self) -> float:
        """E = 10^(-1/slope): the per-cycle amplification factor (2 = perfect)."""
        return float(10 ** (-1.0 / self.slope))

    @property
    def efficiency_percent(self) -> float:
        return (self.amplification - 1.0) * 100.0


def fit_standard_curve(
    quantities: Sequence[float], cqs: Sequence[float], target: str = ""
) -> StandardCurve:
    pts = [(math.log10(q), c) for q, c in zip(quantities, cqs, strict=True) if q and q > 0]
    if len({x for x, _ in pts}) < 2:
        raise AnalysisError(f"standard curve {target!r} needs at least two distinct quantities")
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    syy = sum((y - my) ** 2 for _, y in pts)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 1.0
    if slope >= 0:
        raise AnalysisError(
            f"standard curve {target!r} has slope {slope:.3f} ≥ 0: Cq must fall with quantity"
        )
    return StandardCurve(target, slope, my - slope * mx, r2, n)


def standard_curve(wells: Iterable[Well], target: str) -> StandardCurve:
    """Fit the detected, non-excluded ``standard`` wells of ``target`` that carry a quantity."""
    pts = [
        (w.quantity, w.cq)
        for w in wells
        if w.target == target
        and w.role == "standard"
        and w.detected
        and not w.excluded
        and w.quantity is not None
        and w.cq is not None
    ]
    if not pts:
        raise AnalysisError(f"no standard wells with quantities for target {target!r}")
    return fit_standard_curve([q for q, _ in pts], [c for _, c in pts], target)


@dataclass(frozen=True)
class Expression:
    """Expression of ``target`` in ``sample`` relative to ``calibrator``."""

    target: str
    sample: str
    calibrator: str
    references: tuple[str, ...]
    log2_ratio: float
    sd_log2: float
    method: str
    flags: tuple[str, ...] = field(default=())

    @property
    def ddct(self) -> float:
        """ΔΔCt (= −log2 ratio; exact ΔΔCt when every E is 2)."""
        return -self.log2_ratio

    @property
    def fold(self) -> float:
        return float(2.0**self.log2_ratio)

    @property
    def fold_low(self) -> float:
        return float(2.0 ** (self.log2_ratio - self.sd_log2))

    @property
    def fold_high(self) -> float:
        return float(2.0 ** (self.log2_ratio + self.sd_log2))


def relative_expression(
    reps: Mapping[tuple[str, str], Replicates],
    target: str,
    references: Sequence[str],
    sample: str,
    calibrator: str,
    *,
    efficiencies: Mapping[str, float] | None = None,
    include_calibrator: bool = False,
) -> Expression:
    """ΔΔCt (all E = 2) or the Pfaffl ratio (``efficiencies``: gene → amplification factor E)."""
    if not references:
        raise AnalysisError("relative expression needs at least one reference gene")
    eff = dict(efficiencies or {})
    flags: list[str] = []

    def get(s: str, g: str) -> Replicates:
        r = reps.get((s, g))
        if r is None or r.mean is None:
            raise AnalysisError(f"no detected Cq for target {g!r} in sample {s!r}")
        if r.outliers:
            flags.append("replicate_outlier")
        if r.disagree:
            flags.append("replicates_disagree")
        if r.n_undetected:
            flags.append("undetected_replicate")
        return r

    def term(g: str) -> tuple[float, float]:
        lg = math.log2(eff.get(g, 2.0))
        s, c = get(sample, g), get(calibrator, g)
        d = c.mean - s.mean  # type: ignore[operator]
        var = (s.sd or 0.0) ** 2 + ((c.sd or 0.0) ** 2 if include_calibrator else 0.0)
        return lg * d, lg * lg * var

    t_val, t_var = term(target)
    m = len(references)
    r_terms = [term(g) for g in references]
    log2_ratio = t_val - sum(v for v, _ in r_terms) / m
    var = t_var + sum(v for _, v in r_terms) / (m * m)
    method = "pfaffl" if any(g in eff for g in (target, *references)) else "livak"
    return Expression(
        target,
        sample,
        calibrator,
        tuple(references),
        log2_ratio,
        math.sqrt(var),
        method,
        tuple(dict.fromkeys(flags)),
    )


@dataclass(frozen=True)
class Finding:
    code: str  # ntc_amplified | nrt_close
    target: str
    sample: str
    well: str
    cq: float
    message: str


def qc_findings(
    wells: Sequence[Well],
    *,
    ntc_cutoff: float = 35.0,
    nrt_min_gap: float = 5.0,
    nrt_pairs: Mapping[str, str] | None = None,
) -> list[Finding]:
    """NTC and no-RT checks. ``nrt_pairs`` maps a no-RT sample to its +RT sample; without
    a pair, a no-RT well is compared with the lowest mean Cq of the target's unknowns."""
    out: list[Finding] = []
    reps = replicates(wells, roles=("unknown",))
    for w in wells:
        if w.excluded or w.cq is None:
            continue
        if w.role == "ntc" and w.cq < ntc_cutoff:
            out.append(
                Finding(
                    "ntc_amplified",
                    w.target,
                    w.sample,
                    w.well,
                    w.cq,
                    f"NTC {w.well} amplified {w.target} at Cq {w.cq:.2f} (< {ntc_cutoff:g})",
                )
            )
        if w.role == "nrt":
            rt = (nrt_pairs or {}).get(w.sample)
            if rt is not None:
                r = reps.get((rt, w.target))
                ref = r.mean if r is not None else None
            else:
                means = [
                    r.mean for (s, t), r in reps.items() if t == w.target and r.mean is not None
                ]
                ref = min(means) if means else None
            if ref is not None and w.cq - ref < nrt_min_gap:
                out.append(
                    Finding(
                        "nrt_close",
                        w.target,
                        w.sample,
                        w.well,
                        w.cq,
                        f"no-RT {w.well} {w.target} Cq {w.cq:.2f} is {w.cq - ref:.2f} cycles "
                        f"after the +RT sample (< {nrt_min_gap:g}): genomic DNA?",
                    )
                )
    return out
