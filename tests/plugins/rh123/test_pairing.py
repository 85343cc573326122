"""Pairing rules of the Rh123 plugin: which tubes are compared (pure, no files)."""

from __future__ import annotations

from assaykit_rh123.pairing import (
    Tube,
    group_tubes,
    inhibitor_of,
    is_inhibitor_column,
    match_unstained,
    pairing_columns,
)


def tube(sid: str, role: str = "sample", **cond: str) -> Tube:
    return Tube(sid, role, cond)


def test_inhibitor_columns_are_those_named_inhibitor_something() -> None:
    assert is_inhibitor_column("inhibitor")
    assert is_inhibitor_column("Inhibitor_uM")
    assert is_inhibitor_column(" inhibitor dose ")
    assert not is_inhibitor_column("cell_line")
    assert not is_inhibitor_column("dose_inhibitor")


def test_empty_or_none_means_without_inhibitor() -> None:
    assert inhibitor_of(tube("a", inhibitor="")) is None
    assert inhibitor_of(tube("a", inhibitor=" None ")) is None
    assert inhibitor_of(tube("a")) is None
    assert inhibitor_of(tube("a", Inhibitor="Verapamil")) == "Verapamil"


def test_pairing_columns_leave_out_cell_line_inhibitor_and_ignored() -> None:
    tubes = [
        tube("a", cell_line="X", inhibitor="", inhibitor_uM="", day="1", notes="n"),
        tube("b", Cell_Line="X", Inhibitor="verapamil", inhibitor_uM="10", Day="1"),
    ]
    assert pairing_columns(tubes, ignore=["NOTES"]) == ["day"]


def test_tubes_pair_by_cell_line_and_other_conditions() -> None:
    tubes = [
        tube("p0", cell_line="P", inhibitor="", inhibitor_uM="0", day="1"),
        tube("p1", cell_line="P", inhibitor="verapamil", inhibitor_uM="10", day="1"),
        tube("p0d2", cell_line="P", inhibitor="none", day="2"),
        tube("p1d2", cell_line="P", inhibitor="Verapamil", day="2"),
        tube("r0", cell_line="R", inhibitor="", day="1"),
        tube("r1", cell_line="R", inhibitor="verapamil", day="1"),
        tube("r2", cell_line="R", inhibitor="cyclosporin A", day="1"),
        tube("u", "unstained", cell_line="R"),
    ]
    groups = group_tubes(tubes)
    assert [g.label for g in groups] == ["P (day=1)", "P (day=2)", "R (day=1)"]
    p1, p2, r = groups
    assert [t.sample_id for t in p1.untreated] == ["p0"]
    assert {k: [t.sample_id for t in v] for k, v in p1.treated.items()} == {"verapamil": ["p1"]}
    # inhibitor names compare case-insensitively; the first spelling names the group
    assert {k: [t.sample_id for t in v] for k, v in p2.treated.items()} == {"Verapamil": ["p1d2"]}
    assert sorted(r.treated) == ["cyclosporin A", "verapamil"]
    assert all(t.role == "sample" for g in groups for t in g.tubes())


def test_constant_columns_do_not_clutter_the_label() -> None:
    tubes = [
        tube("a", cell_line="X", inhibitor="", operator="JS"),
        tube("b", cell_line="X", inhibitor="verapamil", operator="JS"),
    ]
    (g,) = group_tubes(tubes)
    assert g.label == "X"


def test_missing_partner_shows_as_an_empty_side() -> None:
    (g,) = group_tubes([tube("a", cell_line="X", inhibitor="verapamil")])
    assert g.untreated == [] and list(g.treated) == ["verapamil"]


def test_without_cell_line_each_tube_is_its_own_group() -> None:
    groups = group_tubes([tube("f1"), tube("f2")])
    assert [g.label for g in groups] == ["f1", "f2"]


def test_unstained_match_exact_conditions_first_then_cell_line() -> None:
    tubes = [
        tube("x0", cell_line="X", inhibitor="", day="1"),
        tube("x1", cell_line="X", inhibitor="verapamil", day="1"),
        tube("y0", cell_line="Y", inhibitor="", day="2"),
        tube("y1", cell_line="Y", inhibitor="verapamil", day="2"),
        tube("ux1", "unstained", cell_line="X", day="1"),
        tube("ux2", "unstained", cell_line="X", day="2"),
        tube("uy", "unstained", cell_line="Y", day=""),
        tube("uz", "unstained", cell_line="Z", day="2"),
    ]
    gx, gy = group_tubes(tubes)
    assert [u.sample_id for u in match_unstained(gx, tubes)] == ["ux1"]
    assert [u.sample_id for u in match_unstained(gy, tubes)] == ["uy"]
    assert match_unstained(gx, [t for t in tubes if t.role == "sample"]) == []
