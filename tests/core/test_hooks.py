"""One test per hook (the meta-tests in test_meta.py check that each hook has one)."""

from __future__ import annotations

from pathlib import Path

import assaykit
import pytest
from assaykit import InputError, PluginHost
from helpers.toydata import make_folder, write_counts


def test_assaykit_register_assays(toy_host: PluginHost) -> None:
    assay = toy_host.get_assay("toy_threshold")
    assert assay.version == "1.2.0" and assay.input_kinds == ("counts",)
    assert toy_host.assay_plugin("toy_threshold") == "toycount"
    desc = next(p for p in toy_host.describe() if p["name"] == "toycount")
    assert [a["name"] for a in desc["assays"]] == ["toy_threshold"]


def test_assaykit_register_readers(toy_host: PluginHost, tmp_path: Path) -> None:
    reader = toy_host.reader_for(tmp_path / "X.COUNTS")
    assert reader is not None and reader.kind == "counts"
    f = write_counts(tmp_path / "a.counts", [3.0, 4.0], instrument="Cyto 9", acquired="2025-05-05")
    assert list(reader.read(f)) == [3.0, 4.0]
    assert reader.metadata(f) == {"instrument": "Cyto 9", "acquired_at": "2025-05-05"}
    bad = tmp_path / "b.counts"
    bad.write_text("1\n2\nthree\n")
    with pytest.raises(InputError, match="line 3"):
        reader.read(bad)
    # the built-in readers come through the same hook
    assert toy_host.reader_for("x.csv").kind == "table"  # type: ignore[union-attr]


def test_builtin_fcs_and_image_readers(
    toy_host: PluginHost, shared_data: Path, tmp_path: Path
) -> None:
    import numpy as np
    import tifffile

    fcs = toy_host.reader_for("x.FCS")
    assert fcs is not None and fcs.kind == "fcs"
    data1 = shared_data / "gatingml2-set1" / "data1.fcs"
    assert fcs.metadata(data1) == {
        "instrument": "FACSCalibur",
        "acquired_at": "2002-08-23T16:31:33",
    }
    guava = fcs.read(shared_data / "fcs-instruments" / "GuavaMuse" / "Guava Muse.fcs")
    assert [d.events.shape[0] for d in guava] == [108, 50081, 111496, 50037]  # every data set
    img = toy_host.reader_for("blot.tiff")
    assert img is not None and img.kind == "image"
    path = tmp_path / "blot.tif"
    tifffile.imwrite(
        path,
        np.full((20, 30), 65535, np.uint16),
        software="Image Lab 6.1",
        datetime="2025:03:04 05:06:07",
    )
    assert img.metadata(path) == {
        "instrument": "Image Lab 6.1",
        "acquired_at": "2025-03-04T05:06:07",
    }
    loaded = img.read(path)
    assert loaded.shape == (20, 30) and loaded.bit_depth == 16 and not loaded.lossy
    assert loaded.saturated_fraction() == 1.0


def test_assaykit_register_exporters(toy_host: PluginHost, tmp_path: Path) -> None:
    toy = make_folder(tmp_path / "in", 2, seed=9)
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    lines = (tmp_path / "out" / "toy_summary.tsv").read_text().splitlines()
    assert lines[0] == "experiment\tsample_id\tpositive_pct"
    got = {(e, s): float(v) for e, s, v in (ln.split("\t") for ln in lines[1:])}
    assert got == pytest.approx(toy.truth)
    assert res.exit_code == 0
    # --export chooses exporters
    assaykit.run(
        tmp_path / "in",
        tmp_path / "out2",
        assay="toy_threshold",
        workers=0,
        exporters=["csv"],
        host=toy_host,
    )
    assert (tmp_path / "out2" / "results.csv").exists()
    assert not (tmp_path / "out2" / "toy_summary.tsv").exists()
    assert not (tmp_path / "out2" / "results.jsonl").exists()
