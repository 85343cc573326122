"""Known-answer accuracy: generated experiments whose every event's population is known.

Truth is the generator's label of each singlet cell (debris and doublets
excluded); the four percentages must be within 1.5 percentage points of it,
with and without $SPILLOVER in the files, with and without controls, with
debris and doublets. Run with ``-s`` to see the table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from assaykit import PluginHost, analyze
from helpers.annexin_data import QUADRANT_METRICS, roles

TOLERANCE_PP = 1.5

CASES = {
    "spillover+controls": {"spillover": True, "controls": True},
    "no-spillover+controls": {"spillover": False, "controls": True},
    "spillover, no controls": {"spillover": True, "controls": False},
    "no-spillover, no controls": {"spillover": False, "controls": False},
    "no-spillover+controls, 20% debris 10% doublets": {
        "spillover": False, "controls": True, "debris_fraction": 0.20, "doublet_fraction": 0.10,
    },
}  # fmt: skip


def run_case(
    tmp: Path, gen: ModuleType, host: PluginHost, case: dict[str, Any], n_events: int, seed: int
) -> tuple[list[Any], Any]:
    kw = dict(case)
    controls = kw.pop("controls")
    tubes = gen.default_tubes() if controls else gen.without_controls(gen.default_tubes())
    truths = gen.make_experiment(tmp, n_events=n_events, seed=seed, tubes=tubes, sheet=False, **kw)
    res = analyze("annexin_pi", roles(tmp, truths), figures=False, host=host)
    return truths, res


def table_rows(name: str, truths: list[Any], res: Any) -> list[str]:
    rows = []
    for t in truths:
        cells = []
        for m in QUADRANT_METRICS:
            cells.append(f"{t.pct[m]:6.2f}/{res.value(t.sample_id, m):6.2f}")
        rows.append(f"{name:48s} {t.sample_id:13s} " + "  ".join(cells))
    return rows


@pytest.mark.parametrize("name", list(CASES))
def test_quadrants_within_tolerance_of_truth(
    name: str, tmp_path: Path, gen: ModuleType, host: PluginHost
) -> None:
    truths, res = run_case(tmp_path, gen, host, CASES[name], n_events=40_000, seed=101)
    flags = {f.flag for f in res.qc_flags}
    case = CASES[name]
    assert ("compensation_estimated" in flags) == (not case["spillover"] and case["controls"])
    assert ("threshold_auto" in flags) == (not case["controls"])
    assert ("no_controls" in flags) == (not case["controls"])
    header = f"{'case':48s} {'sample':13s} " + "  ".join(
        f"{m.removesuffix('_pct')[:13]:>13s}" for m in QUADRANT_METRICS
    )
    sys.stdout.write("\n" + header + "   (truth/measured, % of singlets)\n")
    sys.stdout.write("\n".join(table_rows(name, truths, res)) + "\n")
    worst = 0.0
    for t in truths:
        for m in QUADRANT_METRICS:
            err = abs(res.value(t.sample_id, m) - t.pct[m])
            worst = max(worst, err)
            assert err <= TOLERANCE_PP, f"{name}: {t.sample_id} {m} off by {err:.2f} pp"
        # the gated singlets are the true singlet cells, give or take a few percent
        n = res.value(t.sample_id, "singlet_count")
        assert abs(n - t.n_singlet_cells) <= 0.03 * t.n_singlet_cells
    sys.stdout.write(f"{name}: worst error {worst:.2f} pp\n")


def test_percentages_sum_to_100_and_thresholds_are_recorded(
    tmp_path: Path, gen: ModuleType, host: PluginHost
) -> None:
    truths, res = run_case(tmp_path, gen, host, CASES["spillover+controls"], 10_000, seed=5)
    for t in truths:
        total = sum(res.value(t.sample_id, m) for m in QUADRANT_METRICS)
        assert total == pytest.approx(100.0, abs=1e-9)
    exp = res.experiment.name
    assert res.value(exp, "annexin_threshold_method") == "percentile:99.5"
    assert res.value(exp, "annexin_threshold_source") == "pi_only:pi_only"
    assert res.value(exp, "pi_threshold_source") == "annexin_only:annexin_only"
    assert res.value(exp, "compensation") == "file"
    assert res.value(exp, "spillover_annexin_into_pi") == pytest.approx(gen.TRUE_SPILL[0, 1])
    assert res.value(exp, "spillover_pi_into_annexin") == pytest.approx(gen.TRUE_SPILL[1, 0])
    assert res.value(exp, "annexin_channel") == "FITC-A"
    assert res.value(exp, "pi_channel") == "PE-A"
