"""The annexin_pi plugin passes the conformance kit, and is discovered like any plugin."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import numpy as np
from assaykit import HostConfig, PluginHost
from assaykit.testing import assert_conforms
from helpers.annexin_data import Make, roles, write_events


def test_conformance_kit_passes(make: Make, host: PluginHost, tmp_path: Path) -> None:
    folder, truths = make("good", n_events=6_000)
    good = roles(folder, truths)
    corrupt = tmp_path / "corrupt.fcs"
    corrupt.write_bytes(b"FCS3.1    garbage")
    truncated = tmp_path / "truncated.fcs"
    truncated.write_bytes((folder / "vehicle.fcs").read_bytes()[:5000])
    no_scatter = write_events(
        tmp_path / "no_scatter.fcs",
        np.abs(np.random.default_rng(0).normal(500, 100, (2000, 2))),
        ["FITC-A", "PE-A"],
    )
    only_one_fluor = write_events(
        tmp_path / "one_fluor.fcs",
        np.abs(np.random.default_rng(1).normal(500, 100, (2000, 3))),
        ["FSC-A", "FSC-H", "FITC-A"],
    )
    report = assert_conforms(
        "annexin_pi",
        good,
        host=host,
        bad=[
            {**good, corrupt: "sample"},
            {**good, truncated: "sample"},
            {**good, no_scatter: "sample"},
            {only_one_fluor: "sample"},
        ],
        bad_params={"percentile": 150},
    )
    assert report.ok
    metrics = {r.metric for r in report.records}
    assert {"viable_pct", "singlet_count", "annexin_threshold", "pi_threshold"} <= metrics


def test_builtin_is_found_through_the_entry_point_group() -> None:
    """Built-ins go through the same ``assaykit`` entry-point group as third-party plugins."""
    eps = [ep for ep in md.entry_points(group="assaykit") if ep.name == "annexin"]
    assert len(eps) == 1
    ep = eps[0]
    assert ep.value == "assaykit_annexin.plugin"
    assert ep.dist is not None and ep.dist.metadata["Name"] == "assaykit"
    h = PluginHost(HostConfig(autoload=False, load=("annexin",)))
    info = h.plugins["annexin"]
    assert info.status == "loaded" and info.distribution == "assaykit"
    assert info.assays == ["annexin_pi"]
    assert h.assay_plugin("annexin_pi") == "annexin"


def test_blocking_the_builtin_removes_the_assay() -> None:
    h = PluginHost(HostConfig(autoload=True, block=("annexin",)))
    assert "annexin_pi" not in h.assays
    assert h.plugins["annexin"].status == "blocked"
