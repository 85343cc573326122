"""Fold changes and efficiencies recovered from seeded runs whose truth is known.

Each run (:func:`assaykit.qpcr.synthetic.synthetic_run`) has three targets over two
reference genes, per-gene amplification factors 1.85–2.0, random RNA loads, 0.08-cycle
noise, an outlier replicate (+2 cycles), an undetected replicate, a contaminated NTC
and a no-RT well 2 cycles after its +RT sample.
"""

from __future__ import annotations

import math

import pytest
from assaykit.qpcr.analysis import qc_findings, relative_expression, replicates, standard_curve
from assaykit.qpcr.synthetic import synthetic_run

SEEDS = range(20)


def _analyse(seed: int):
    wells, truth = synthetic_run(seed)
    reps = replicates(wells, roles=("unknown",))
    genes = list(truth.amplification)
    curves = {g: standard_curve(wells, g) for g in genes}
    eff = {g: c.amplification for g, c in curves.items()}
    return wells, truth, reps, curves, eff


@pytest.mark.parametrize("seed", SEEDS)
def test_efficiency_recovered(seed: int) -> None:
    _, truth, _, curves, _ = _analyse(seed)
    for g, c in curves.items():
        assert abs(c.amplification - truth.amplification[g]) < 0.03
        assert c.r2 > 0.99


def _worst(noise: float) -> tuple[float, float]:
    """Worst relative fold error over the 20 runs: Pfaffl (efficiencies from the runs'
    own standard curves) and Livak (E = 2 assumed)."""
    worst = livak_worst = 0.0
    for seed in SEEDS:
        wells, truth = synthetic_run(seed, noise=noise)
        reps = replicates(wells, roles=("unknown",))
        eff = {g: standard_curve(wells, g).amplification for g in truth.amplification}
        for t, folds in truth.fold.items():
            for s, fc in folds.items():
                if s == "vehicle":
                    continue
                e = relative_expression(reps, t, ["GAPDH", "ACTB"], s, "vehicle", efficiencies=eff)
                worst = max(worst, abs(e.fold / fc - 1))
                lv = relative_expression(reps, t, ["GAPDH", "ACTB"], s, "vehicle")
                livak_worst = max(livak_worst, abs(lv.fold / fc - 1))
    return worst, livak_worst


def test_noise_free_runs_recover_the_fold_exactly() -> None:
    worst, livak_worst = _worst(0.0)
    assert worst < 1e-9  # outlier excluded, undetected replicate skipped, E from the curve
    assert livak_worst > 0.1  # E ≠ 2 biases 2^-ΔΔCt: that is why Pfaffl exists


def test_noisy_runs_worst_fold_error() -> None:
    worst, livak_worst = _worst(0.08)
    print(
        f"worst relative fold error over {len(SEEDS)} noisy runs: "
        f"Pfaffl {worst:.3f}, Livak {livak_worst:.3f}"
    )
    assert worst < 0.2  # measured 0.140 with 0.08-cycle noise and triplicates
    assert livak_worst > worst


@pytest.mark.parametrize("seed", SEEDS)
def test_mess_is_flagged(seed: int) -> None:
    wells, truth, reps, _, _ = _analyse(seed)
    flagged = {w for r in reps.values() for w in r.outlier_wells}
    assert truth.outlier_well in flagged
    assert any(r.n_undetected for r in reps.values())
    f = qc_findings(wells, nrt_pairs={truth.nrt_sample: "vehicle"})
    assert ("ntc_amplified", truth.ntc_well) in {(x.code, x.well) for x in f}
    assert any(x.code == "nrt_close" and x.sample == truth.nrt_sample for x in f)


def test_fold_interval_covers_truth_mostly() -> None:
    inside = total = 0
    for seed in SEEDS:
        _, truth, reps, _, eff = _analyse(seed)
        for t, folds in truth.fold.items():
            for s, fc in folds.items():
                if s == "vehicle":
                    continue
                e = relative_expression(
                    reps,
                    t,
                    ["GAPDH", "ACTB"],
                    s,
                    "vehicle",
                    efficiencies=eff,
                    include_calibrator=True,
                )
                total += 1
                # ±2 SD of log2 ratio
                inside += abs(math.log2(fc) - e.log2_ratio) <= 2 * e.sd_log2
    assert inside / total >= 0.8
