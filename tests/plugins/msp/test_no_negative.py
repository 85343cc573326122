"""A band whose baseline-subtracted sum is not above 0 is 0 with ``below_detection``.

``digest_gel_2.jpg`` (a real 8-bit JPEG digest gel, shared data) read as an MSP
gel with lane 1 as the ladder: before the fix 26 of its 63 volumes were
negative (the straight baseline between a faint band's edges sits above it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from assaykit import AnalysisError, AssayResult, PluginHost, analyze
from assaykit_msp.plugin import _NON_NEGATIVE
from helpers.msp_data import experiment

NON_NEGATIVE = ("band_volume", "m_band_volume", "u_band_volume", "methylation_index")


def test_real_gel_has_no_negative_volume(
    host: PluginHost, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "gels-other" / "digest_gel_2.jpg"
    if not src.is_file():
        pytest.fail(f"{src} is missing from the shared data")
    shutil.copy(src, tmp_path / src.name)
    rows = ["file,assay,experiment,lane,role,sample_id", f"{src.name},msp_gel,g,1,ladder,ladder"]
    for lane in range(2, 10):
        rows.append(f"{src.name},msp_gel,g,{lane},{'M' if lane % 2 == 0 else 'U'},s{lane // 2}")
    (tmp_path / "samples.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    params = {"m_product_bp": 500.0, "u_product_bp": 450.0}
    records = analyze("msp_gel", experiment(tmp_path, host), params, figures=False, host=host)
    checked = [r for r in records.records if r.metric in NON_NEGATIVE and r.value_num is not None]
    assert len(checked) > 50
    assert all(r.value_num is not None and r.value_num >= 0 for r in checked)
    assert all(
        r.value_num is not None and r.value_num <= 1
        for r in checked
        if r.metric == "methylation_index"
    )
    zero = [r for r in checked if r.metric == "band_volume" and r.value_num == 0.0]
    assert zero and all("below_detection" in r.qc_flags for r in zero)


def test_a_negative_value_is_an_error() -> None:
    res = AssayResult()
    res.add("s1", "sample", "s1", "m_band_volume", -5.0, source="gel.tif")
    with pytest.raises(AnalysisError, match=r"s1 s1 m_band_volume = -5\.0"):
        res.check_not_negative(_NON_NEGATIVE)
