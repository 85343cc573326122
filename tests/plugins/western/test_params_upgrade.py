"""western_blot 1.2 parameters: old names still work with a warning naming the new one, and
the lane count is a parameter the sample sheet's n_lanes column overrides (as in msp_gel)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from assaykit import AssaykitError, PluginHost, Record
from assaykit.assay import ParamsDeprecationWarning
from helpers.westerndata import make_case, run_case


def _key(r: Record) -> tuple[Any, ...]:
    return (r.sample_id, r.entity_type, r.entity, r.metric, r.value_str, r.value_num, r.qc_flags)


def _records(host: PluginHost, case: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(_key(r) for r in run_case(host, case, params).records)


def test_old_parameter_names_warn_and_give_the_same_records(
    host: PluginHost, tmp_path: Path
) -> None:
    case = make_case(tmp_path, 11)
    new = {"min_snr": 12.0, "volume_baseline": "edges_linear"}
    old = {"detect_snr": 12.0, "volume_baseline": "edges"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParamsDeprecationWarning)
        want = _records(host, case, new)
    with pytest.warns(ParamsDeprecationWarning) as caught:
        got = _records(host, case, old)
    text = " ".join(str(w.message) for w in caught)
    assert "'detect_snr' is deprecated, use 'min_snr'" in text
    assert "'edges_linear'" in text
    assert got == want
    # the baseline was taken: the background record names the straight one
    assert all("band_edges_linear" in str(k[4]) for k in got if k[3] == "background")


def test_n_lanes_parameter_and_sheet_column(host: PluginHost, tmp_path: Path) -> None:
    column = make_case(tmp_path / "column", 12, n_lanes=7, n_lanes_column=True)
    plain = make_case(tmp_path / "plain", 12, n_lanes=7)
    want = _records(host, column, {})
    # the parameter gives every image the count the column gave ...
    assert _records(host, plain, {"n_lanes": 7}) == want
    # ... and the column wins over a parameter that is wrong for this image
    assert _records(host, column, {"n_lanes": 9}) == want
    with pytest.raises(AssaykitError, match="parameter n_lanes says every image has 5 lanes"):
        run_case(host, plain, {"n_lanes": 5})
