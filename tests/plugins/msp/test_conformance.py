"""The msp_gel plugin passes the conformance kit, and is discovered like any plugin."""

from __future__ import annotations

import importlib.metadata as md
import shutil
from pathlib import Path

from assaykit import Experiment, HostConfig, PluginHost
from assaykit.testing import assert_conforms
from helpers.msp_data import EXAMPLE, experiment


def _bad(tmp_path: Path, name: str, payload: bytes | None, host: PluginHost) -> Experiment:
    folder = tmp_path / name
    shutil.copytree(EXAMPLE, folder)
    if payload is not None:
        (folder / "gel.tif").write_bytes(payload)
    return experiment(folder, host)


def test_conformance_kit_passes(tmp_path: Path, host: PluginHost) -> None:
    good = experiment(EXAMPLE, host)
    raw = (EXAMPLE / "gel.tif").read_bytes()
    report = assert_conforms(
        "msp_gel",
        good,
        host=host,
        bad=[
            _bad(tmp_path, "corrupt", b"II*\x00" + b"\x00" * 64, host),
            _bad(tmp_path, "truncated", raw[: len(raw) // 3], host),
            _bad(tmp_path, "not_an_image", b"hello", host),
        ],
        bad_params={"size_tolerance": 5.0},
    )
    assert report.ok
    metrics = {(r.entity_type, r.metric) for r in report.records}
    assert {
        ("sample", "call"),
        ("sample", "methylation_index"),
        ("sample", "m_band_bp"),
        ("gel", "ladder_r2"),
        ("gel", "background"),
        ("band", "band_bp"),
        ("ladder", "ladder_r2"),
    } <= metrics


def test_builtin_is_found_through_the_entry_point_group() -> None:
    """Built-ins go through the same ``assaykit`` entry-point group as third-party plugins."""
    eps = [ep for ep in md.entry_points(group="assaykit") if ep.name == "msp"]
    assert len(eps) == 1
    assert eps[0].value == "assaykit_msp.plugin"
    h = PluginHost(HostConfig(autoload=False, load=("msp",)))
    assert h.plugins["msp"].status == "loaded"
    assert h.plugins["msp"].assays == ["msp_gel"]
    schema = h.get_assay("msp_gel").Params.model_json_schema()
    assert all(p.get("description") for p in schema["properties"].values())
