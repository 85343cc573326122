"""Gating-ML 2.0 reader against the ISAC compliance set 1, event by event.

Each ``gml/*.xml`` holds one or more gates; ``truth/Results_<id>.txt`` holds the
expected membership (0/1 per event of data1.fcs). A gate is right only when
every one of the 13,367 events matches.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from assaykit.cytometry.events import EventFrame
from assaykit.cytometry.gates import EllipsoidGate, PolygonGate, QuadrantGate
from assaykit.cytometry.gatingml import GatingMLError, GatingStrategy, parse_gatingml, read_gatingml
from assaykit.errors import InputError

# Gate ids (per file) that have a truth file. The truth file is Results_<id>.txt,
# except where TRUTH_NAME says otherwise.
FILE_GATES: dict[str, list[str]] = {
    "gml_all_gates.xml": [
        "Range1", "Rectangle1", "Rectangle2", "Polygon1", "Ellipse1", "Range2", "Polygon2",
        "FL2P-FL4P", "FL2N-FL4P", "FL2N-FL4N", "FL2P-FL4N", "Polygon3NS", "RatRange1",
        "RatRange2", "RatRange1a", "FSCN-SSCN", "FSCD-SSCN-FL1N", "FSCP-SSCN-FL1N",
        "FSCD-FL1P", "FSCN-SSCP-FL1P", "And1", "And2", "Or1", "And3", "Not1", "And4", "Or2",
        "Polygon4", "Rectangle3", "Rectangle4", "Rectangle5", "ScaleRange1", "ScaleRange2",
        "ScaleRange3", "ScaleRange4", "ScaleRange5", "ScaleRange6", "ScaleRange1c",
        "ScaleRange2c", "ScaleRange3c", "ScaleRange4c", "ScaleRange5c", "ScaleRect1", "ParAnd2",
        "ParAnd3", "ScalePar1", "ScaleRange6c", "ScaleRange7c", "ScaleRange8c",
    ],
    "gml_boolean_and1_gate.xml": ["Polygon1", "Range2", "And1"],
    "gml_boolean_and2_gate.xml": ["Polygon1", "Ellipse1", "Range1", "And2"],
    "gml_boolean_and3_complement_gate.xml": ["Polygon1", "Ellipse1", "Range1", "And3"],
    "gml_boolean_and4_not_gate.xml": ["Polygon1", "Ellipse1", "Range1", "Not1", "And4"],
    "gml_boolean_not1_gate.xml": ["Ellipse1", "Not1"],
    "gml_boolean_or1_gate.xml": ["Polygon1", "Ellipse1", "Range1", "Or1"],
    "gml_boolean_or2_gate.xml": [
        "Rectangle2", "FL2P-FL4P", "FL2N-FL4P", "FL2N-FL4N", "FL2P-FL4N", "Or2",
    ],
    "gml_ellipse1_gate.xml": ["Ellipse1"],
    "gml_ellipsoid3d_gate.xml": ["Ellipsoid3D"],
    "gml_log_ratio_range1_gate.xml": ["RatRange1a"],
    "gml_matrix_poly4_gate.xml": ["Polygon4"],
    "gml_matrix_rect3_gate.xml": ["Rectangle3"],
    "gml_matrix_rect4_gate.xml": ["Rectangle4"],
    "gml_matrix_rect5_gate.xml": ["Rectangle5"],
    "gml_matrix_transform_asinh_range1c_gate.xml": ["ScaleRange1c"],
    "gml_matrix_transform_asinh_range6c_gate.xml": ["ScaleRange6c"],
    "gml_matrix_transform_hyperlog_range2c_gate.xml": ["ScaleRange2c"],
    "gml_matrix_transform_hyperlog_range7c_gate.xml": ["ScaleRange7c"],
    "gml_matrix_transform_linear_range3c_gate.xml": ["ScaleRange3c"],
    "gml_matrix_transform_logicle_range4c_gate.xml": ["ScaleRange4c"],
    "gml_matrix_transform_logicle_range5c_gate.xml": ["ScaleRange5c"],
    "gml_matrix_transform_logicle_range8c_gate.xml": ["ScaleRange8c"],
    "gml_matrix_transform_logicle_rect1_gate.xml": ["ScaleRect1"],
    "gml_parent_poly1_boolean_and2_gate.xml": ["Polygon1", "Ellipse1", "Range1", "ParAnd2"],
    "gml_parent_quadrant_rect_gate.xml": [
        "FL2P-FL4P", "FL2N-FL4P", "FL2N-FL4N", "FL2P-FL4N", "ParRectangle1",
    ],
    "gml_parent_range1_boolean_and3_gate.xml": ["Polygon1", "Ellipse1", "Range1", "ParAnd3"],
    "gml_parent_rect1_rect_par1_gate.xml": ["ScaleRect1", "ScalePar1"],
    "gml_poly1_gate.xml": ["Polygon1"],
    "gml_poly2_gate.xml": ["Polygon2"],
    "gml_poly3ns_gate.xml": ["Polygon3NS"],
    "gml_quadrant1_gate.xml": ["FL2P-FL4P", "FL2N-FL4P", "FL2N-FL4N", "FL2P-FL4N"],
    "gml_quadrant2_gate.xml": [
        "FSCN-SSCN", "FSCD-SSCN-FL1N", "FSCP-SSCN-FL1N", "FSCD-FL1P", "FSCN-SSCP-FL1P",
    ],
    "gml_range_gate.xml": ["Range1"],
    "gml_range_gate_attr_testing.xml": ["Range1"],
    "gml_ratio_range1_gate.xml": ["RatRange1"],
    "gml_ratio_range2_gate.xml": ["RatRange2"],
    "gml_rect1_gate.xml": ["Rectangle1"],
    "gml_rect2_gate.xml": ["Rectangle2"],
    "gml_time_range_gate.xml": ["Range2"],
    "gml_transform_asinh_range1_gate.xml": ["ScaleRange1"],
    "gml_transform_hyperlog_range2_gate.xml": ["ScaleRange2"],
    "gml_transform_linear_range3_gate.xml": ["ScaleRange3"],
    "gml_transform_log_range6_gate.xml": ["ScaleRange6"],
    "gml_transform_logicle_range4_gate.xml": ["ScaleRange4"],
    "gml_transform_logicle_range5_gate.xml": ["ScaleRange5"],
}
TRUTH_NAME = {"ParRectangle1": "ParQuadRect"}
CASES = [(f, g) for f, gates in FILE_GATES.items() for g in gates]


@functools.cache
def _strategy(path: str) -> GatingStrategy:
    return read_gatingml(path)


@pytest.fixture(scope="module")
def frame(data1: Any) -> EventFrame:
    return EventFrame.from_fcs(data1)


def _truth(gml_dir: Path, gate_id: str) -> np.ndarray:
    name = TRUTH_NAME.get(gate_id, gate_id)
    return np.loadtxt(gml_dir / "truth" / f"Results_{name}.txt", dtype=np.int64).astype(bool)


def test_data1_as_expected(data1: Any, frame: EventFrame) -> None:
    assert np.asarray(data1.events).shape == (13367, 8)
    assert list(data1.channels)[:3] == ["FSC-H", "SSC-H", "FL1-H"]
    # $P1G = 3.67 and $P3E = 4,0 must be applied before gating (channel -> scale).
    raw = np.asarray(data1.events, dtype=float)
    np.testing.assert_allclose(frame.column("FSC-H"), raw[:, 0] / 3.67)
    np.testing.assert_allclose(frame.column("FL1-H"), 10 ** (4 * raw[:, 2] / 1024))


@pytest.mark.parametrize(("gml_file", "gate_id"), CASES, ids=[f"{f}:{g}" for f, g in CASES])
def test_compliance_gate_matches_truth(
    gml_dir: Path, frame: EventFrame, gml_file: str, gate_id: str
) -> None:
    strategy = _strategy(str(gml_dir / "gml" / gml_file))
    assert not strategy.unsupported, strategy.unsupported
    truth = _truth(gml_dir, gate_id)
    got = strategy.membership(gate_id, strategy.frame(frame))
    assert got.shape == truth.shape
    mismatched = np.flatnonzero(got != truth)
    assert mismatched.size == 0, f"{mismatched.size} events differ, first {mismatched[:10]}"


def test_every_truth_file_is_covered(gml_dir: Path) -> None:
    truths = {p.stem[len("Results_"):] for p in (gml_dir / "truth").glob("Results_*.txt")}
    covered = {TRUTH_NAME.get(g, g) for _, g in CASES}
    assert truths == covered
    assert len(truths) == 51


def test_every_gml_file_parses_fully(gml_dir: Path) -> None:
    files = sorted(p.name for p in (gml_dir / "gml").glob("*.xml"))
    assert len(files) == 47
    for name in files:
        s = _strategy(str(gml_dir / "gml" / name))
        assert not s.unsupported, (name, s.unsupported)
        assert s.gates


def test_evaluate_all_gates_matches_single_calls(gml_dir: Path, frame: EventFrame) -> None:
    s = _strategy(str(gml_dir / "gml" / "gml_all_gates.xml"))
    f = s.frame(frame)
    every = s.evaluate(f)
    for gid in ("And4", "ParAnd3", "ScalePar1", "FSCD-FL1P"):
        assert np.array_equal(every[gid], s.membership(gid, f))


def test_quadrants_partition_events(gml_dir: Path, frame: EventFrame) -> None:
    s = _strategy(str(gml_dir / "gml" / "gml_quadrant1_gate.xml"))
    qg = s.quadrant_gates["Quadrant1"]
    assert isinstance(qg, QuadrantGate)
    labels, names = qg.assign(s.frame(frame))
    assert (labels >= 0).all()
    for k, name in enumerate(names):
        assert np.array_equal(labels == k, _truth(gml_dir, name))


def test_ellipse2_agrees_with_its_stated_axes(gml_dir: Path, frame: EventFrame) -> None:
    """No ISAC truth file exists for myEllipse2; its custom_info says half-axes
    37 and 30 rotated by -45 degrees around (40, 40), so check the covariance
    form against that geometry computed directly."""
    s = _strategy(str(gml_dir / "gml" / "gml_ellipse2_gate.xml"))
    gate = s.gate("myEllipse2")
    assert isinstance(gate, EllipsoidGate)
    x, y = frame.column("FSC-H"), frame.column("SSC-H")
    th = np.deg2rad(-45.0)
    u = (x - 40) * np.cos(th) + (y - 40) * np.sin(th)
    v = -(x - 40) * np.sin(th) + (y - 40) * np.cos(th)
    geometric = (u / 37) ** 2 + (v / 30) ** 2 <= 1
    got = gate.membership(frame)
    assert got.sum() > 100
    assert np.array_equal(got, geometric)


def test_polygon_vertices_read_in_order(gml_dir: Path) -> None:
    s = _strategy(str(gml_dir / "gml" / "gml_poly3ns_gate.xml"))
    g = s.gate("Polygon3NS")
    assert isinstance(g, PolygonGate)
    assert g.vertices.shape == (8, 2)
    assert g.vertices[3].tolist() == [100.0, 390.0]


# --------------------------------------------------------------------------- #
# Safety and error handling
# --------------------------------------------------------------------------- #

HEAD = (
    '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
)
TAIL = "</gating:Gating-ML>"
RANGE = (
    '<gating:RectangleGate gating:id="R"><gating:dimension gating:min="1">'
    '<data-type:fcs-dimension data-type:name="A"/></gating:dimension></gating:RectangleGate>'
)


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    xml = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE g [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        f"{HEAD}<data-type:custom_info>&xxe;</data-type:custom_info>{RANGE}{TAIL}"
    )
    path = tmp_path / "evil.xml"
    path.write_text(xml)
    with pytest.raises(GatingMLError) as err:
        read_gatingml(path)
    msg = str(err.value)
    assert "refused unsafe XML" in msg and str(path) in msg
    assert "do not read me" not in msg
    assert isinstance(err.value, InputError)


def test_entity_expansion_is_refused() -> None:
    xml = (
        '<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"{HEAD}<data-type:custom_info>&b;</data-type:custom_info>{RANGE}{TAIL}"
    )
    with pytest.raises(GatingMLError, match="refused unsafe XML"):
        parse_gatingml(xml)


def test_malformed_and_foreign_documents() -> None:
    with pytest.raises(GatingMLError, match="malformed XML"):
        parse_gatingml(HEAD + RANGE)
    with pytest.raises(GatingMLError, match=r"not a Gating-ML 2\.0 document"):
        parse_gatingml("<Workspace/>")


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(GatingMLError, match="cannot read file"):
        read_gatingml(tmp_path / "nope.xml")


def test_unsupported_feature_is_reported_not_silent() -> None:
    xml = (
        HEAD
        + '<transforms:transformation transforms:id="T1"><transforms:fweird transforms:T="1"/>'
        "</transforms:transformation>"
        '<gating:RectangleGate gating:id="X"><gating:dimension gating:min="0" '
        'gating:transformation-ref="T1"><data-type:fcs-dimension data-type:name="A"/>'
        "</gating:dimension></gating:RectangleGate>"
        '<gating:RectangleGate gating:id="Child" gating:parent_id="X"><gating:dimension '
        'gating:min="0"><data-type:fcs-dimension data-type:name="A"/></gating:dimension>'
        "</gating:RectangleGate>"
        + RANGE
        + TAIL
    )
    s = parse_gatingml(xml)
    assert set(s.unsupported) == {"X", "Child"}
    assert "T1" in s.unsupported["X"]
    with pytest.raises(GatingMLError, match="unsupported"):
        s.membership("Child", {"A": np.arange(3.0)})
    assert s.membership("R", {"A": np.array([0.0, 1.0, 2.0])}).tolist() == [False, True, True]


def test_parent_cycle_is_unsupported() -> None:
    gate = (
        '<gating:RectangleGate gating:id="{id}" gating:parent_id="{p}"><gating:dimension '
        'gating:min="0"><data-type:fcs-dimension data-type:name="A"/></gating:dimension>'
        "</gating:RectangleGate>"
    )
    s = parse_gatingml(HEAD + gate.format(id="P", p="Q") + gate.format(id="Q", p="P") + TAIL)
    assert set(s.unsupported) == {"P", "Q"}
    assert "cyclic" in s.unsupported["P"]


def test_duplicate_gate_id_is_an_error() -> None:
    with pytest.raises(GatingMLError, match="defined twice"):
        parse_gatingml(HEAD + RANGE + RANGE + TAIL)


def test_invalid_transform_parameters_are_an_error() -> None:
    xml = (
        HEAD
        + '<transforms:transformation transforms:id="L"><transforms:logicle transforms:T="1000" '
        'transforms:W="3" transforms:M="4" transforms:A="0"/></transforms:transformation>'
        + RANGE
        + TAIL
    )
    with pytest.raises(GatingMLError, match="W must satisfy"):
        parse_gatingml(xml)
