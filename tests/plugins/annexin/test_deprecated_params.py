"""Old ``annexin_pi`` parameter names (before 1.1.0) keep working for one release.

Each old name gives a ParamsDeprecationWarning that names its replacement, and
an old-style configuration gives exactly the records of the new-style one
(same values, flags and parameter hash: the effective parameters are the same).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import assaykit
import pytest
from assaykit import analyze
from assaykit.assay import ParamsDeprecationWarning
from assaykit.errors import ParamsError
from helpers.annexin_data import Make, roles

#: old name -> (old value, new name, new value)
OLD_TO_NEW: dict[str, tuple[Any, str, Any]] = {
    "threshold_percentile": (99.0, "percentile", 99.0),
    "debris": ("valley", "debris_gate", "valley"),
    "singlets": (True, "singlet_gate", True),
    "compensation": ("estimate", "spillover_source", "estimate"),
}
OLD = {old: v for old, (v, _, _) in OLD_TO_NEW.items()}
NEW = {new: v for _, (_, new, v) in OLD_TO_NEW.items()}
FIXED_OLD = {"threshold_method": "fixed", "annexin_threshold": 900.0, "pi_threshold": 700.0}
FIXED_NEW = {"threshold_method": "fixed", "fixed_annexin_threshold": 900.0,
             "fixed_pi_threshold": 700.0}  # fmt: skip


def _stable(records: list[assaykit.Record]) -> list[tuple[Any, ...]]:
    return [
        (r.experiment, r.sample_id, r.entity, r.metric, r.value_num, r.value_str,
         r.params_sha256, r.qc_status, r.qc_flags)
        for r in records
    ]  # fmt: skip


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ParamsDeprecationWarning)]


@pytest.mark.parametrize(("old", "new"), [(OLD, NEW), (FIXED_OLD, FIXED_NEW)])
def test_old_param_names_warn_naming_the_new_and_give_the_same_records(
    make: Make, host: Any, old: dict[str, Any], new: dict[str, Any]
) -> None:
    folder, truths = make(n_events=8_000, spillover=False)
    files = roles(folder, truths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res_old = analyze("annexin_pi", files, old, figures=False, host=host)
    msgs = _messages(caught)
    renamed = {k: n for k, (_, n, _) in OLD_TO_NEW.items()}
    renamed |= {"annexin_threshold": "fixed_annexin_threshold",
                "pi_threshold": "fixed_pi_threshold"}  # fmt: skip
    for name in set(old) - set(new):
        assert any(f"{name!r} is deprecated, use {renamed[name]!r}" in m for m in msgs), msgs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParamsDeprecationWarning)
        res_new = analyze("annexin_pi", files, new, figures=False, host=host)
    assert _stable(res_old.records) == _stable(res_new.records)
    if "compensation" in old:  # the old choice really reached the analysis
        assert res_new.value(res_new.experiment.name, "compensation") == "estimated"


def test_compensation_none_becomes_compensate_false(make: Make, host: Any) -> None:
    folder, truths = make(n_events=5_000)
    files = roles(folder, truths)
    with pytest.warns(ParamsDeprecationWarning, match=r"'compensation' is deprecated, use "
                      r"'compensate' \(compensation='none' is compensate=false\)"):  # fmt: skip
        res_old = analyze("annexin_pi", files, {"compensation": "none"}, figures=False, host=host)
    res_new = analyze("annexin_pi", files, {"compensate": False}, figures=False, host=host)
    assert _stable(res_old.records) == _stable(res_new.records)
    assert res_new.value(res_new.experiment.name, "compensation") == "none"


def test_old_and_new_name_together_or_an_unknown_old_value_are_refused(host: Any) -> None:
    assay = host.get_assay("annexin_pi")
    from assaykit.config import build_params

    with pytest.raises(ParamsError, match="percentile"):
        build_params(assay.Params, {"threshold_percentile": 99.0, "percentile": 99.0},
                     assay="annexin_pi", where="test")  # fmt: skip
    with pytest.raises(ParamsError, match="spillover_source"):
        build_params(assay.Params, {"compensation": "file", "spillover_source": "auto"},
                     assay="annexin_pi", where="test")  # fmt: skip
    with pytest.raises(ParamsError, match="compensation"):
        build_params(assay.Params, {"compensation": "spill"}, assay="annexin_pi", where="test")


def _toml(params: dict[str, Any]) -> str:
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return f'"{v}"' if isinstance(v, str) else repr(v)

    return "[params.annexin_pi]\n" + "".join(f"{k} = {val(v)}\n" for k, v in params.items())


def test_old_style_assaykit_toml_runs_with_warnings_and_the_same_records(
    make: Make, host: Any, tmp_path: Path
) -> None:
    folder, _ = make(n_events=8_000, sheet=True, spillover=False)
    results = {}
    for style, params in (("old", OLD), ("new", NEW)):
        (folder / "assaykit.toml").write_text(_toml(params), encoding="utf-8")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results[style] = assaykit.run(folder, tmp_path / style, workers=0, host=host,
                                          figures=False, report=False)  # fmt: skip
        msgs = _messages(caught)
        if style == "old":
            for old, (_, new, _) in OLD_TO_NEW.items():
                assert any(f"{old!r} is deprecated, use {new!r}" in m for m in msgs), msgs
            assert all("assaykit.toml" in m or "annexin_pi" in m for m in msgs), msgs
        else:
            assert msgs == []
    assert results["old"].exit_code == results["new"].exit_code == 0
    assert _stable(results["old"].records) == _stable(results["new"].records)
