"""The conformance kit passes a good plugin and catches broken ones (so it can fail)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from assaykit import (
    Assay,
    AssayResult,
    Experiment,
    HostConfig,
    Metric,
    Params,
    PluginHost,
    hookimpl,
)
from assaykit.testing import assert_conforms, check_assay
from helpers.toydata import write_counts
from pydantic import Field


@pytest.fixture
def files(tmp_path: Path) -> dict[Path, str]:
    ctrl = write_counts(tmp_path / "ctrl.counts", list(range(100)))
    s1 = write_counts(tmp_path / "s1.counts", [1.0, 200.0, 3.0])
    return {ctrl: "negative_control", s1: "sample"}


def test_third_party_plugin_passes_the_kit(
    toy_host: PluginHost, files: dict[Path, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.counts"
    bad.write_text("# instrument: x\n1\nnot-a-number\n")
    report = assert_conforms(
        "toy_threshold",
        files,
        host=toy_host,
        bad=[{next(iter(files)): "negative_control", bad: "sample"}],
        bad_params={"percentile": 5000},
    )
    assert report.ok and len(report.records) == 2 + 5  # experiment-level + one sample


class _SloppyParams(Params):
    n: int = 3  # no description: the kit must complain


class _Sloppy(Assay):
    """Breaks the contract in several ways at once."""

    name = "sloppy"
    version = "0.0.1"
    summary = "deliberately broken"
    input_kinds = ("counts",)
    roles = ("sample", "negative_control")
    Params = _SloppyParams
    metrics = (Metric("sample", "declared", "AU", "float"),)
    calls = 0

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        type(self).calls += 1
        res = AssayResult()
        for i in experiment.samples:
            res.add(i.sample_id, "sample", i.sample_id, "declared", float(type(self).calls))
        return res


class _Undeclared(_Sloppy):
    name = "undeclared"

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        res = AssayResult()
        res.add("x", "sample", "x", "not_declared", 1.0)
        return res


class _Swallower(_Sloppy):
    """Accepts bad input without an error."""

    name = "swallower"

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        res = AssayResult()
        for i in experiment.samples:
            res.add(i.sample_id, "sample", i.sample_id, "declared", 1.0)
        return res


class _Plugin:
    @hookimpl
    def assaykit_register_assays(self, register: Callable[[Assay], None]) -> None:
        register(_Sloppy())
        register(_Undeclared())
        register(_Swallower())


@pytest.fixture
def sloppy_host(toy_env: Path) -> PluginHost:
    return PluginHost(HostConfig(autoload=False, load=("toycount",)), extra=[_Plugin()])


def test_kit_catches_undocumented_params_and_nondeterminism(
    sloppy_host: PluginHost, files: dict[Path, str]
) -> None:
    report = check_assay("sloppy", files, host=sloppy_host)
    assert not report.ok
    text = "\n".join(report.problems)
    assert "Params field 'n' has no description" in text
    assert "analyze is not deterministic" in text
    with pytest.raises(AssertionError, match="does not conform"):
        report.raise_if_failed()


def test_kit_catches_undeclared_metrics(sloppy_host: PluginHost, files: dict[Path, str]) -> None:
    report = check_assay("undeclared", files, host=sloppy_host)
    assert any("undeclared metric ('sample', 'not_declared')" in p for p in report.problems)


def test_kit_catches_accepted_bad_input_and_params(
    sloppy_host: PluginHost, files: dict[Path, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.counts"
    bad.write_text("garbage\n")
    report = check_assay("swallower", files, host=sloppy_host, bad=[[bad]], bad_params={"n": 7})
    text = "\n".join(report.problems)
    assert "bad input was accepted without an error" in text
    assert "bad params {'n': 7} were accepted" in text


class _NoDefaults(Params):
    x: int = Field(description="required, no default")


def test_declaration_checks() -> None:
    from assaykit.assay import declaration_problems

    class Bad(Assay):
        name = ""
        version = "1"
        summary = "s"
        input_kinds = ()
        roles = ("sample", "sample")
        control_roles = ("ghost",)
        Params = _NoDefaults
        metrics = (Metric("s", "error", None, "str"),)

        def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
            return AssayResult()

    problems = "\n".join(declaration_problems(Bad()))
    for expected in (
        "name must be a non-empty string",
        "input_kinds must be a non-empty tuple",
        "roles must be unique",
        "control role 'ghost'",
        "Params() must construct",
        "metric name 'error' is reserved",
    ):
        assert expected in problems


@pytest.mark.parametrize("unit", ["", "1", "unitless", "Dimensionless", " x "])
def test_a_spelling_of_no_unit_is_refused_in_favour_of_none(unit: str) -> None:
    """One spelling of "no unit" (None) in every record, so a pipeline needs no synonym list."""
    from assaykit.assay import declaration_problems

    class Ratio(Assay):
        name = "ratio"
        version = "1"
        summary = "s"
        input_kinds = ("table",)
        roles = ("sample",)
        Params = Params
        metrics = (
            Metric("sample", "fold", unit, "float", "fold change, dimensionless"),
            Metric("sample", "r2", None, "float", "R², dimensionless"),
        )

        def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
            return AssayResult()

    problems = declaration_problems(Ratio())
    assert len(problems) == 1 and "'fold'" in problems[0] and "unit=None" in problems[0], problems
