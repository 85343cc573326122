"""The record schema, record ids, value typing and spreadsheet-safe CSV cells."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import jsonschema
import pytest
from assaykit.exporters import CSVExporter, ResultTable, spreadsheet_safe
from assaykit.records import RECORD_FIELDS, make_record_id, record_json_schema

DESIGN_FIELDS = [
    *("schema_version", "record_id", "run_id", "assay", "plugin", "plugin_version"),
    *("assaykit_version", "experiment", "sample_id", "entity_type", "entity", "metric"),
    *("value_num", "value_str", "unit", "input_path", "input_sha256", "instrument"),
    *("acquired_at", "params_sha256", "processed_at", "qc_status", "qc_flags"),
]


def test_record_fields_are_exactly_those_of_the_design() -> None:
    assert list(RECORD_FIELDS) == DESIGN_FIELDS


def test_record_schema_is_valid_and_strict() -> None:
    schema = record_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {f: "" for f in RECORD_FIELDS}
    good.update(
        schema_version="assaykit.record/1",
        value_num=1.5,
        value_str=None,
        unit=None,
        instrument=None,
        acquired_at=None,
        qc_status="pass",
        qc_flags=[],
    )
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "qc_status": "ok"},
        {**good, "extra": 1},
        {**good, "schema_version": "assaykit.record/2"},
        {**good, "value_num": "1.5"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_record_id_depends_on_every_key_part() -> None:
    base = dict(
        assay="a",
        experiment="e",
        input_hashes=["h1", "h2"],
        sample_id="s",
        entity_type="sample",
        entity="s",
        metric="m",
        params_sha="p",
    )
    rid = make_record_id(**base)  # type: ignore[arg-type]
    assert rid == make_record_id(**{**base, "input_hashes": ["h2", "h1"]})  # type: ignore[arg-type]
    for key, value in [
        ("assay", "b"),
        ("experiment", "f"),
        ("input_hashes", ["h1"]),
        ("sample_id", "t"),
        ("entity", "x"),
        ("metric", "n"),
        ("params_sha", "q"),
        ("entity_type", "lane"),
    ]:
        assert make_record_id(**{**base, key: value}) != rid  # type: ignore[arg-type]
    assert len(rid) == 32


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-cmd|calc", "'-cmd|calc"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("HL-60", "HL-60"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralized(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


def test_csv_exporter_escapes_text_but_not_numbers(tmp_path: Path) -> None:
    cols = [*RECORD_FIELDS, "treatment"]
    row = ["x"] * len(RECORD_FIELDS) + ["=cmd()"]
    row[RECORD_FIELDS.index("value_num")] = -2.5
    row[RECORD_FIELDS.index("qc_flags")] = ["a", "b"]
    row[RECORD_FIELDS.index("sample_id")] = "-evil"
    CSVExporter().export(ResultTable(cols, [tuple(row)]), tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert rows[0]["value_num"] == "-2.5"
    assert rows[0]["treatment"] == "'=cmd()"
    assert rows[0]["sample_id"] == "'-evil"
    assert rows[0]["qc_flags"] == "a;b"
