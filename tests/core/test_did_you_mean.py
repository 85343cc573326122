"""A misspelled name in assaykit.toml or in params is named with the nearest valid one."""

from __future__ import annotations

from pathlib import Path

import assaykit
import pytest
from assaykit import ParamsError, PluginHost
from assaykit.config import did_you_mean
from helpers.toydata import write_counts

TOY_FIELDS = ["delay_s", "fixed_threshold", "hang_on", "hard_exit_on", "min_events", "percentile"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("percentil", "percentile"),  # a letter missing
        ("Percentile", "percentile"),  # case
        ("min_event", "min_events"),
        ("fixed", "fixed_threshold"),  # a name typed short
        ("threshold_fixed", "fixed_threshold"),  # a shared word
        ("colour", None),  # nothing close: no guess
    ],
)
def test_nearest_name(word: str, expected: str | None) -> None:
    assert did_you_mean(word, TOY_FIELDS) == expected


def _folder(tmp_path: Path, toml: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_counts(folder / "a.counts", [1.0, 2.0, 3.0])
    (folder / "samples.csv").write_text("file\na.counts\n", encoding="utf-8")
    (folder / "assaykit.toml").write_text(toml, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("toml", "exc_type", "message"),
    [
        (
            "[params.toy_threshold]\nmin_event = 5\n",
            ParamsError,
            "bad parameters for assay 'toy_threshold': unknown parameter 'min_event' for "
            "toy_threshold; did you mean 'min_events'?",
        ),
        (
            "[params.toy_threshold]\nzebra = 5\n",
            ParamsError,
            "unknown parameter 'zebra' for toy_threshold; valid: delay_s, fixed_threshold, "
            "hang_on, hard_exit_on, min_events, percentile",
        ),
        (
            "[toy_threshold]\npercentile = 50\n",
            assaykit.ConfigError,
            "[toy_threshold] is a table: assay parameters go in [params.toy_threshold]",
        ),
        (
            'default_asay = "toy_threshold"\n',
            assaykit.ConfigError,
            "'default_asay': did you mean 'default_assay'?",
        ),
        (
            "[params.toy_treshold]\npercentile = 50\n",
            assaykit.UsageError,
            "[params.toy_treshold] names an assay that is not installed; did you mean "
            "[params.toy_threshold]?",
        ),
    ],
)
def test_toml_errors_suggest_the_valid_name(
    toy_host: PluginHost, tmp_path: Path, toml: str, exc_type: type[Exception], message: str
) -> None:
    folder = _folder(tmp_path, toml)
    with pytest.raises(exc_type) as exc:
        assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert message in str(exc.value)
    assert "assaykit.toml" in str(exc.value)


def test_analyze_params_suggest_too(toy_host: PluginHost, tmp_path: Path) -> None:
    write_counts(tmp_path / "a.counts", [1.0, 2.0, 3.0])
    with pytest.raises(ParamsError, match=r"unknown parameter 'percentil' for toy_threshold; did "):
        assaykit.analyze("toy_threshold", [tmp_path / "a.counts"], {"percentil": 9}, host=toy_host)
