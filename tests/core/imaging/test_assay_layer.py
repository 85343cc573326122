"""The imaging-assay layer (:mod:`assaykit.imaging.assay`): one parameter base, one flag
table and one band selection for every imaging assay."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
from assaykit import HostConfig, PluginHost
from assaykit.assay import ParamsDeprecationWarning
from assaykit.imaging.assay import (
    IMAGING_FLAGS,
    ImagingParams,
    band_candidates,
    select_band,
)
from assaykit.vocabulary import SHARED_METRICS

IMAGING_ASSAYS = ("western_blot", "msp_gel")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(HostConfig(autoload=False, load=("western", "msp")))


def test_both_assays_share_the_parameter_base(host: PluginHost) -> None:
    base = ImagingParams.model_fields
    for name in IMAGING_ASSAYS:
        params = host.get_assay(name).Params
        assert issubclass(params, ImagingParams), name
        fields = params.model_fields
        for field, info in base.items():
            assert field in fields, (name, field)
            assert fields[field].annotation == info.annotation, (name, field)


def test_shared_flags_are_declared_once_and_included_by_both(host: PluginHost) -> None:
    for name in IMAGING_ASSAYS:
        flags = host.get_assay(name).flags
        for f in IMAGING_FLAGS:
            assert f in flags, (name, f.name)
        assert len({f.name for f in flags}) == len(flags), name


def test_shared_imaging_metrics_are_built_from_the_vocabulary(host: PluginHost) -> None:
    shared = {"band_volume", "band_snr", "lane_count", "background", "polarity", "rotation_deg"}
    assert shared <= set(SHARED_METRICS)
    for name in IMAGING_ASSAYS:
        declared = {m.metric: m for m in host.get_assay(name).metrics}
        for metric in shared:
            assert metric in declared, (name, metric)
            assert declared[metric].description.startswith(SHARED_METRICS[metric].meaning)
        assert "snr" not in declared and "background_method" not in declared


def test_old_volume_baseline_value_is_converted_with_a_warning() -> None:
    with pytest.warns(ParamsDeprecationWarning, match="'edges_linear'"):
        p = ImagingParams.model_validate({"volume_baseline": "edges"})
    assert p.volume_baseline == "edges_linear"


def test_declaration_modules_import_no_heavy_library() -> None:
    code = (
        "import sys, assaykit_western.plugin, assaykit_msp.plugin, assaykit.imaging.assay; "
        "print(','.join(m for m in ('scipy', 'skimage', 'cv2', 'matplotlib', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


@dataclass(frozen=True)
class _B:
    row: float
    volume: float


def test_select_band_rules() -> None:
    bands = [_B(10, 5.0), _B(30, 9.0), _B(50, 9.0), _B(70, 1.0)]
    assert select_band(bands) is bands[1]  # ties: the first
    assert select_band(bands, "nearest", target_row=44) is bands[2]
    assert select_band(bands, "nearest", target_row=60, max_distance=5) is None
    assert select_band(bands, "nearest", target_row=60, max_distance=10) is bands[2]
    sizes = {10: 100.0, 30: None, 50: 60.0, 70: 40.0}
    pool = band_candidates(bands, size_window=(70, 30), size_of=lambda b: sizes[int(b.row)])
    assert pool == [bands[2], bands[3]]  # unknown size left out, window in any order
    assert band_candidates(bands, row_window=(55, 25)) == [bands[1], bands[2]]
    with pytest.raises(ValueError, match="needs target_row"):
        select_band(bands, "nearest")
