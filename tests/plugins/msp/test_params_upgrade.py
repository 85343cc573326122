"""msp_gel 0.2 parameters: old names still work with a warning naming the new one, and the
lane count is a parameter the sample sheet's n_lanes column overrides (as in western_blot)."""

from __future__ import annotations

import csv
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from assaykit import AssaykitError, PluginHost, Record, analyze
from assaykit.assay import ParamsDeprecationWarning
from helpers.msp_data import EXAMPLE, experiment


def _folder(tmp_path: Path, **cells: str) -> Path:
    folder = tmp_path / "gel"
    shutil.copytree(EXAMPLE, folder)
    if cells:
        path = folder / "samples.csv"
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=[*rows[0], *cells], lineterminator="\n")
            w.writeheader()
            w.writerows({**r, **cells} for r in rows)
    return folder


def _records(folder: Path, host: PluginHost, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    res = analyze("msp_gel", experiment(folder, host), params, figures=False, host=host)
    return sorted(_key(r) for r in res.records)


def _key(r: Record) -> tuple[Any, ...]:
    return (r.sample_id, r.entity_type, r.entity, r.metric, r.value_str, r.value_num, r.qc_flags)


def test_old_parameter_names_warn_and_give_the_same_records(
    tmp_path: Path, host: PluginHost
) -> None:
    folder = _folder(tmp_path)
    new = {"rolling_ball_radius": 40.0, "volume_baseline": "edges_linear"}
    old = {"background_radius": 40.0, "volume_baseline": "edges"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParamsDeprecationWarning)
        want = _records(folder, host, new)
    with pytest.warns(ParamsDeprecationWarning) as caught:
        got = _records(folder, host, old)
    text = " ".join(str(w.message) for w in caught)
    assert "'background_radius' is deprecated, use 'rolling_ball_radius'" in text
    assert "'edges_linear'" in text
    assert got == want
    # the radius was taken: it is the one the background record names
    assert any(k[3] == "background" and "radius=40.0" in str(k[4]) for k in got)


def test_old_and_new_name_together_is_an_error(tmp_path: Path, host: PluginHost) -> None:
    folder = _folder(tmp_path)
    with pytest.raises(AssaykitError, match="old name of 'rolling_ball_radius'"):
        _records(folder, host, {"background_radius": 40.0, "rolling_ball_radius": 40.0})


def test_sheet_n_lanes_overrides_the_parameter(tmp_path: Path, host: PluginHost) -> None:
    base = _records(_folder(tmp_path / "a"), host, {})
    lanes = next(k[5] for k in base if k[3] == "lane_count")
    # the parameter alone is wrong (fewer lanes than the sheet names) ...
    with pytest.raises(AssaykitError, match="parameter n_lanes is 3"):
        _records(_folder(tmp_path / "b"), host, {"n_lanes": 3})
    # ... but the sheet's column wins over it
    folder = _folder(tmp_path / "c", n_lanes=str(int(lanes)))
    assert _records(folder, host, {"n_lanes": 3}) == base
    folder = _folder(tmp_path / "d", n_lanes="3")
    with pytest.raises(AssaykitError, match="the sample sheet's n_lanes is 3"):
        _records(folder, host, {})
