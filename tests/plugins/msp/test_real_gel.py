"""The real GelGenie ladder gel through the plugin: lanes 2-4 sized from a lane-1 calibration.

``ladder_reference_gel.tif`` holds the same NEB 1 kb Plus ladder in all four
lanes. The sheet makes lane 1 the ladder (sizes given as the ``ladder_bp``
parameter) and lanes 2-4 ordinary lanes (M, U, blank), so every band of lanes
2-4 is sized by the plugin from lane 1 alone, and its nominal size is known:
it is a ladder band. A band's nominal size is the ladder size nearest to it
in log10(bp); since neighbouring sizes differ by at least 11 %, a band within
5 % of its size cannot be assigned a neighbour, and the test also requires
each size at most once per lane and nearly all sizes found.

Lanes 2-4 share the ladder's pattern, so the plugin registers them onto lane
1 (``register_to_ladder``); without that, lanes that ran a little further
than lane 1 are sized up to 10 % (200 bp) and 26 % (100 bp) off.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from assaykit import HostConfig, PluginHost, Record, analyze
from assaykit.imaging.ladder import NEB_1KB_PLUS_BP, NEB_1KB_PLUS_REFERENCE_BP
from helpers.msp_data import experiment

SHEET = """file,assay,experiment,lane,role,sample_id
ladder_reference_gel.tif,msp_gel,real,1,ladder,ladder
ladder_reference_gel.tif,msp_gel,real,2,M,lanes_2_3
ladder_reference_gel.tif,msp_gel,real,3,U,lanes_2_3
ladder_reference_gel.tif,msp_gel,real,4,blank,lane_4
"""
PARAMS = {
    "ladder_bp": list(NEB_1KB_PLUS_BP),
    "ladder_reference_bp": list(NEB_1KB_PLUS_REFERENCE_BP),
    "m_product_bp": 500.0,
    "u_product_bp": 500.0,
}


def _band_sizes(records: list[Record]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in records:
        if r.entity_type == "band" and r.metric == "band_bp":
            lane = int(r.entity.split("/")[0].removeprefix("lane_"))
            out.setdefault(lane, []).append(float(r.value_num or 0.0))
    return out


def _nominal(bp: float) -> float:
    return min(NEB_1KB_PLUS_BP, key=lambda s: abs(math.log10(bp / s)))


@pytest.fixture(scope="module")
def real(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Record]:
    src = shared_data / "gels-gelgenie" / "ladder_reference_gel.tif"
    if not src.is_file():
        pytest.fail(f"{src} is missing from the shared data")
    folder = tmp_path_factory.mktemp("real")
    shutil.copy(src, folder / src.name)
    (folder / "samples.csv").write_text(SHEET, encoding="utf-8")
    host = PluginHost(HostConfig(autoload=False, load=("msp",)))
    return analyze("msp_gel", experiment(folder, host), PARAMS, figures=False, host=host).records


def test_lanes_2_to_4_sized_from_lane_1(real: list[Record]) -> None:
    sizes = _band_sizes(real)
    assert sorted(sizes) == [2, 3, 4]
    worst: dict[float, float] = {}
    for lane, bps in sizes.items():
        in_range = [b for b in bps if 90 <= b <= 11000]  # wells and the dye front are not bands
        nominal = [_nominal(b) for b in in_range]
        assert len(nominal) == len(set(nominal)), f"lane {lane}: a size claimed twice"
        assert len(nominal) >= 15, f"lane {lane}: only {len(nominal)} of 19 sizes found"
        for b, s in zip(in_range, nominal):
            worst[s] = max(worst.get(s, 0.0), abs(b / s - 1.0))
    report = {f"{s / 1000:g} kb": round(100 * e, 1) for s, e in sorted(worst.items())}
    print("worst sizing error per size over lanes 2-4 (%):", report)
    # every size within 5 %, except 0.1 kb, whose band in lane 4 is notched (visible on
    # the gel; its peak sits ~3 px off, and 1 px is ~2 % there)
    assert max(e for s, e in worst.items() if s != 100) < 0.05
    assert worst.get(100, 0.0) < 0.08


def test_ladder_quality_is_reported(real: list[Record]) -> None:
    gel = {r.metric: r for r in real if r.entity_type == "gel"}
    assert gel["ladder_r2"].value_num is not None and gel["ladder_r2"].value_num > 0.99
    assert gel["ladder_max_residual_bp"].unit == "bp"
    matched = next(r for r in real if r.metric == "ladder_bands_matched")
    assert (matched.value_num or 0) >= 16  # 19 sizes; 0.9 and 0.6 kb are not resolved here
