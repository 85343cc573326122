"""Band volumes, normalised ratios and fold changes against the generator's truth.

Every case is a generated blot with known band volumes (two seeds each):
rotated, smiling, inverted (film), unevenly lit, 8-bit, and both layouts of
the loading control (a second strip of the same image, or its own image).
All must be within 5 % of the truth.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from assaykit import PluginHost
from helpers.westerndata import ACCURACY_CASES, METRICS, errors, flags, make_case, run_case

CASES = ACCURACY_CASES

SEEDS = (3, 4)


@pytest.mark.parametrize("name", list(CASES))
def test_within_5_percent_of_truth(host: PluginHost, tmp_path: Path, name: str) -> None:
    worst = dict.fromkeys(METRICS, 0.0)
    for seed in SEEDS:
        case = make_case(tmp_path / f"s{seed}", seed, **CASES[name])
        result = run_case(host, case)
        assert not [r for r in result.records if r.metric == "error"]
        for sid, errs in errors(case, result).items():
            for metric, e in errs.items():
                assert not math.isnan(e), f"{name} seed {seed} {sid}: no {metric}"
                worst[metric] = max(worst[metric], abs(e))
        # nothing here is saturated or weak: those flags would be false alarms
        for metric in ("band_volume", "loading_volume"):
            for sid, fl in flags(result, metric).items():
                assert "saturated" not in fl and "weak_band" not in fl, (name, sid, fl)
        expect_8bit = CASES[name].get("bit_depth") == 8
        assert all(
            ("low_bit_depth" in fl) == expect_8bit for fl in flags(result, "band_volume").values()
        )
    print(f"{name}: worst " + ", ".join(f"{m} {100 * v:.2f} %" for m, v in worst.items()))
    for metric, v in worst.items():
        assert v < 0.05, f"{name}: worst {metric} error {v:.1%}"


def test_fold_change_of_reference_is_one(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 5)
    result = run_case(host, case)
    fc = {r.sample_id: r.value for r in result.records if r.metric == "fold_change"}
    assert fc["S01"] == pytest.approx(1.0, abs=1e-12)
    assert set(fc) == set(case.truth)


def test_lane_volumes_track_a_dilution_series(host: PluginHost, tmp_path: Path) -> None:
    """Twofold dilutions of the target at constant loading: ratios halve lane by lane."""
    target = [4.0e6 / 2**i for i in range(6)]
    case = make_case(
        tmp_path, 6, target_volumes=target, loading_volumes=[2.0e6] * 6, illumination=1500.0
    )
    result = run_case(host, case)
    fc = {r.sample_id: r.value for r in result.records if r.metric == "fold_change"}
    for i in range(6):
        assert fc[f"S{i + 1:02d}"] == pytest.approx(0.5**i, rel=0.05)
