"""What a lab says in image pixels wins over detection (the ``geometry`` parameter).

A two-strip blot with two extra decoy bands above the target: detection alone
picks the wrong row; the lab's band rows (file pixels), strip rows and lane
span put every ratio within 5 % of the generator's truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from assaykit import PluginHost
from assaykit.errors import ParamsError
from helpers.westerndata import errors, make_case, run_case, values


def _case(tmp_path: Path):  # type: ignore[no-untyped-def]
    # a strong non-specific band at 0.25 of the strip in every lane, the target at 0.45
    tv = [6.0e5, 4.0e5, 8.0e5, 3.0e5, 5.0e5, 7.0e5]
    bands = [[(0.25, 3.0e6), (0.45, v)] for v in tv]
    return make_case(tmp_path, 71, target_bands=bands, target_volumes=tv, n_lanes_column=True)


def test_given_band_rows_strips_and_lanes_win(host: PluginHost, tmp_path: Path) -> None:
    case = _case(tmp_path)
    syn = case.images["blot.tif"]
    (s1, s2) = syn.truth["strips"]
    lanes = [ln["center"] for ln in syn.truth["lanes"]]
    row = s1[0] + 0.45 * (s1[1] - s1[0])
    geometry = {
        "blot.tif": {
            "strips": [list(s1), list(s2)],
            "lane_span": [[lanes[0], lanes[-1]], [lanes[0], lanes[-1]]],
            "band_rows": {"RARB": [row - 12, row + 12]},
        }
    }
    auto = run_case(host, case)
    given = run_case(host, case, {"geometry": geometry})
    err_auto = [e["normalized_ratio"] for e in errors(case, auto).values()]
    err_given = [e["normalized_ratio"] for e in errors(case, given).values()]
    # detection alone takes the strongest common row (the decoy): far off
    assert max(abs(e) for e in err_auto) > 0.5
    assert max(abs(e) for e in err_given) < 0.05
    vols = values(given, "band_volume", "RARB")
    assert len(vols) == 6


def test_bad_geometry_is_refused_with_the_field(host: PluginHost, tmp_path: Path) -> None:
    case = _case(tmp_path)
    with pytest.raises(ParamsError, match=r"lanes\[0\]: lane centres must increase"):
        run_case(host, case, {"geometry": {"blot.tif": {"lanes": [[300, 200, 400]]}}})
    with pytest.raises(ParamsError, match="strips"):
        run_case(host, case, {"geometry": {"blot.tif": {"strips": [[400, 100]]}}})
