"""Saturated bands are flagged (severity fail) and never reported as clean volumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from assaykit import PluginHost
from helpers.westerndata import flags, make_case, run_case, status, values

BIG = 60.0e6  # AU: a peak far above the 16-bit maximum


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"rotation_deg": 3.0},
        {"layout": "separate", "invert": True, "illumination": 1500.0},
    ],
)
def test_saturated_target_fails_qc_everywhere_it_is_used(
    host: PluginHost, tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    vols = [1.0e6, 2.0e6, BIG, 1.5e6, 0.8e6, 1.2e6]
    case = make_case(tmp_path, 21, target_volumes=vols, **kwargs)
    truth_sat = {sid for sid, t in case.truth.items() if t.target_saturated}
    assert truth_sat == {"S03"}  # the generator clipped exactly that band
    result = run_case(host, case)
    sat = values(result, "saturated", "RARB")
    frac = values(result, "saturated_fraction", "RARB")
    st = status(result, "band_volume")
    for sid in case.truth:
        if sid in truth_sat:
            assert sat[sid] == 1.0  # yes
            assert 0.0 < frac[sid] < 1.0
            assert "saturated" in flags(result, "band_volume")[sid]
            for metric in ("band_volume", "normalized_ratio", "fold_change", "saturated"):
                assert status(result, metric, "RARB")[sid] == "fail", metric
            # the clipped signal is lost: the value is a lower bound, never the truth
            assert values(result, "band_volume")[sid] < case.truth[sid].target_volume
        else:
            assert sat[sid] == 0.0 and frac[sid] == 0.0
            assert st[sid] == "pass", (sid, flags(result, "band_volume")[sid])


def test_saturated_loading_control_fails_the_ratio_not_the_target(
    host: PluginHost, tmp_path: Path
) -> None:
    loading = [2.0e6, 2.0e6, 2.0e6, BIG, 2.0e6, 2.0e6]
    case = make_case(tmp_path, 22, loading_volumes=loading)
    assert [sid for sid, t in case.truth.items() if t.loading_saturated] == ["S04"]
    result = run_case(host, case)
    assert status(result, "loading_volume")["S04"] == "fail"
    assert status(result, "band_volume")["S04"] == "pass"
    assert status(result, "normalized_ratio")["S04"] == "fail"
    assert "saturated" in flags(result, "normalized_ratio")["S04"]
    assert status(result, "normalized_ratio")["S05"] == "pass"


def test_saturated_reference_fails_every_fold_change(host: PluginHost, tmp_path: Path) -> None:
    vols = [BIG, 2.0e6, 1.0e6, 1.5e6, 0.8e6, 1.2e6]
    case = make_case(tmp_path, 23, target_volumes=vols)
    result = run_case(host, case)
    fc_status = status(result, "fold_change")
    assert set(fc_status.values()) == {"fail"}
    assert status(result, "normalized_ratio")["S02"] == "pass"


def test_saturated_inverted_8bit_film(host: PluginHost, tmp_path: Path) -> None:
    """Film: black (0) is the detector maximum once inverted."""
    vols = [2.0e4, 4.0e4, 1.5e6, 3.0e4, 2.5e4, 3.5e4]
    case = make_case(tmp_path, 24, layout="separate", bit_depth=8, invert=True, target_volumes=vols)
    assert {s for s, t in case.truth.items() if t.target_saturated} == {"S03"}
    result = run_case(host, case)
    sat = values(result, "saturated", "RARB")
    assert sat["S03"] == 1.0
    assert status(result, "band_volume")["S03"] == "fail"
    assert all(sat[s] == 0.0 for s in case.truth if s != "S03")
