"""The flow-assay layer: one parameter base, one flag list, one code vocabulary, light imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from assaykit.assay import Assay
from assaykit.cytometry.flow import threshold_method_code
from assaykit.cytometry.params import FLOW_FLAGS, FlowParams
from assaykit.cytometry.thresholds import fixed_threshold, percentile_threshold
from assaykit.errors import AnalysisError
from assaykit.vocabulary import SHARED_METRICS
from assaykit_annexin.plugin import AnnexinPI
from assaykit_rh123.plugin import Rh123Assay
from assaykit_tunel.plugin import TunelAssay

CYTOMETRY = Path(__file__).resolve().parents[3] / "core" / "assaykit" / "cytometry"
FLOW_ASSAYS: list[type[Assay]] = [AnnexinPI, TunelAssay, Rh123Assay]
HEAVY = ("scipy", "skimage", "cv2", "matplotlib", "pandas")


@pytest.mark.parametrize("assay", FLOW_ASSAYS, ids=lambda a: a.name)
def test_every_flow_assay_subclasses_the_base_and_includes_the_flow_flags(
    assay: type[Assay],
) -> None:
    assert issubclass(assay.Params, FlowParams)
    declared = {f.name: f for f in assay.flags}
    for f in FLOW_FLAGS:
        assert declared[f.name] is f, f.name  # the layer's declaration, not a copy
    for m in assay.metrics:  # a shared name is built with shared_metric
        if m.metric in SHARED_METRICS:
            assert m.description.startswith(SHARED_METRICS[m.metric].meaning), m.metric


@pytest.mark.parametrize(
    "module", ["assaykit_annexin.plugin", "assaykit_tunel.plugin", "assaykit_rh123.plugin",
               "assaykit.cytometry.params"],
)  # fmt: skip
def test_declaration_modules_import_no_heavy_library(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "[]", (module, out.stdout, out.stderr)


@pytest.mark.parametrize("name", ["prepare", "cleanup", "thresholds", "gates", "live",
                                  "figures", "compensation", "events", "transforms"])
def test_the_science_modules_do_not_use_the_plugin_result(name: str) -> None:
    """Only the layer (assaykit.cytometry.flow) knows AssayResult and fail_sample."""
    tree = ast.parse((CYTOMETRY / f"{name}.py").read_text(encoding="utf-8"))
    names = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for a in node.names}  # fmt: skip
    assert "AssayResult" not in names


def test_threshold_method_codes() -> None:
    th = percentile_threshold([float(v) for v in range(1000)], 99.5, control="neg")
    assert threshold_method_code(th) == "percentile:99.5"
    assert threshold_method_code(fixed_threshold(3.0)) == "fixed"
    from assaykit.cytometry.live import mad_threshold

    assert threshold_method_code(mad_threshold([1.0, 2.0, 3.0] * 40, 4.0)) == "mad:4"
    bad = fixed_threshold(1.0)
    object.__setattr__(bad, "method", "magic")
    with pytest.raises(AnalysisError, match="magic"):
        threshold_method_code(bad)
