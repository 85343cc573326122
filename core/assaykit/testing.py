"""The conformance kit: what every plugin's tests call to prove it honours the contract.

Usage in a plugin's tests::

    from assaykit.testing import assert_conforms

    def test_conforms(tmp_path):
        good = make_known_experiment(tmp_path)      # files with known answers
        bad = write_corrupt_file(tmp_path)
        assert_conforms("my_assay", good, bad=[bad], bad_params={"percentile": 500})

It checks that:

- the assay's declarations are complete (name, version, roles, metrics ...);
- the Params JSON Schema is valid, every field is documented, and defaults
  validate against it;
- the records emitted match the declared metrics (entity type, unit, dtype)
  and validate against the record schema;
- ``analyze`` is deterministic (same records, same figures, twice);
- bad input raises a typed :class:`assaykit.AssaykitError` that names the file;
- bad params raise :class:`assaykit.ParamsError` that names the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assaykit.api import AnalysisResult, PathLike, analyze
from assaykit.assay import Assay, QCFlag, declaration_problems
from assaykit.errors import AssaykitError, ParamsError
from assaykit.experiment import Experiment, Input
from assaykit.plugins import HostConfig, PluginHost
from assaykit.records import RECORD_FIELDS, SCHEMA_VERSION, VOLATILE_FIELDS, Record

Files = Iterable[PathLike | Input] | Mapping[PathLike, str] | PathLike | Experiment


@dataclass
class ConformanceReport:
    """Problems found (empty when the plugin conforms) and the records seen."""

    assay: str
    problems: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_failed(self) -> None:
        if self.problems:
            raise AssertionError(
                f"assay {self.assay!r} does not conform:\n- " + "\n- ".join(self.problems)
            )


def check_declarations(assay: Assay) -> list[str]:
    return declaration_problems(assay)


def check_params_schema(assay: Assay) -> list[str]:
    """The Params JSON Schema is valid JSON Schema, documented, and accepts the defaults."""
    problems: list[str] = []
    try:
        schema = assay.Params.model_json_schema()
        json.dumps(schema)
    except Exception as exc:
        return [f"Params JSON Schema cannot be generated: {exc}"]
    if schema.get("type") != "object":
        problems.append("Params schema must describe an object")
    for name, prop in schema.get("properties", {}).items():
        if not prop.get("description"):
            problems.append(
                f"Params field {name!r} has no description; use Field(description=...) "
                "to say what it is and its unit"
            )
    defaults = assay.Params().model_dump(mode="json")
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(defaults, schema)
    except jsonschema.exceptions.SchemaError as exc:
        problems.append(f"Params schema is not valid JSON Schema: {exc.message}")
    except jsonschema.exceptions.ValidationError as exc:
        problems.append(f"Params defaults do not validate against the schema: {exc.message}")
    try:
        again = assay.Params.model_validate(defaults)
        if again != assay.Params():
            problems.append("Params defaults do not round-trip through JSON")
    except Exception as exc:
        problems.append(f"Params defaults do not round-trip through JSON: {exc}")
    return problems


def check_records(assay: Assay, records: list[Record]) -> list[str]:
    """Records match the declared metrics and validate against the record schema."""
    from pydantic import TypeAdapter, ValidationError

    from assaykit.records import record_json_schema

    problems: list[str] = []
    if not records:
        return ["analyze produced no records"]
    adapter = TypeAdapter(Record)
    schema = record_json_schema()
    import jsonschema

    ids: set[str] = set()
    for r in records:
        where = f"record {r.sample_id}/{r.entity}/{r.metric}"
        if r.schema_version != SCHEMA_VERSION:
            problems.append(f"{where}: schema_version {r.schema_version!r}")
        if r.record_id in ids:
            problems.append(f"{where}: duplicate record_id {r.record_id}")
        ids.add(r.record_id)
        try:
            adapter.validate_python(r.as_dict(), strict=False)
        except ValidationError as exc:
            problems.append(f"{where}: fails the record model: {exc}")
        try:
            jsonschema.validate(json.loads(json.dumps(r.as_dict())), schema)
        except jsonschema.exceptions.ValidationError as exc:
            problems.append(f"{where}: fails the record JSON Schema: {exc.message}")
        if r.metric == "error":
            problems.append(f"{where}: an error record from good input: {r.value_str}")
            continue
        decl = assay.metric_for(r.entity_type, r.metric)
        if decl is None:
            problems.append(f"{where}: metric ({r.entity_type}, {r.metric}) is not declared")
            continue
        if r.unit != decl.unit:
            problems.append(f"{where}: unit {r.unit!r}, declared {decl.unit!r}")
        if decl.dtype in ("float", "int", "bool") and r.value_num is None and r.value_str:
            problems.append(f"{where}: declared {decl.dtype} but value_str is set")
        if decl.dtype == "str" and r.value_num is not None:
            problems.append(f"{where}: declared str but value_num is set")
        if decl.dtype == "int" and r.value_num is not None and not r.value_num.is_integer():
            problems.append(f"{where}: declared int but value is {r.value_num}")
        if decl.dtype == "bool" and r.value_num not in (None, 0.0, 1.0):
            problems.append(f"{where}: declared bool but value is {r.value_num}")
    if tuple(Record.__dataclass_fields__) != RECORD_FIELDS:  # pragma: no cover - host bug
        problems.append("record fields differ from the schema")
    return problems


def check_flags(assay: Assay, flags: Iterable[QCFlag], records: Iterable[Record]) -> list[str]:
    """Every flag raised is declared (the assay's or the host's), at no worse a severity."""
    problems: list[str] = []
    seen: set[str] = set()
    for f in flags:
        decl = assay.flag_for(f.flag)
        if decl is None:
            if f.flag not in seen:
                problems.append(f"flag {f.flag!r} is raised but not declared in {assay.name}.flags")
            seen.add(f.flag)
        elif f.severity == "fail" and decl.severity == "warn":
            problems.append(f"flag {f.flag!r} is raised as 'fail' but declared 'warn'")
    for r in records:
        for name in r.qc_flags:
            if name not in seen and assay.flag_for(name) is None:
                problems.append(f"record flag {name!r} is not declared in {assay.name}.flags")
                seen.add(name)
    return problems


def _stable(records: list[Record]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        d = r.as_dict()
        for k in VOLATILE_FIELDS:
            d.pop(k, None)
        out.append(d)
    return out


def check_deterministic(first: AnalysisResult, second: AnalysisResult) -> list[str]:
    problems: list[str] = []
    a, b = _stable(first.records), _stable(second.records)
    if a != b:
        diff = [f"{x.get('sample_id')}/{x.get('metric')}" for x, y in zip(a, b) if x != y]
        problems.append(
            f"analyze is not deterministic: {len(a)} vs {len(b)} records, differing: {diff[:5]}"
        )
    fa = [(f.name, f.sample_id) for f in first.figures]
    fb = [(f.name, f.sample_id) for f in second.figures]
    if fa != fb:
        problems.append(f"analyze draws different figures on a second run: {fa} vs {fb}")
    return problems


def _file_names(files: Files) -> list[str]:
    if isinstance(files, Experiment):
        return [i.path.name for i in files.inputs]
    if isinstance(files, str | os.PathLike):
        return [Path(files).name]
    return [p.path.name if isinstance(p, Input) else Path(p).name for p in files]


def check_bad_input(
    assay_name: str, files: Files, host: PluginHost, params: Mapping[str, Any] | None = None
) -> list[str]:
    try:
        res = analyze(assay_name, files, params, figures=False, host=host)
    except AssaykitError as exc:
        if not any(n in str(exc) for n in _file_names(files)):
            return [
                f"bad input raised {type(exc).__name__} but its message does not name "
                f"the file: {exc}"
            ]
        return []
    except Exception as exc:
        return [f"bad input raised {type(exc).__name__}, not an assaykit.AssaykitError: {exc}"]
    # the one failure rule: a sample that cannot be analysed is an error record on its file
    names = _file_names(files)
    if any(r.metric == "error" and any(n in r.entity for n in names) for r in res.records):
        return []
    return ["bad input was accepted without an error"]


def check_bad_params(assay: Assay, bad: Mapping[str, Any]) -> list[str]:
    from assaykit.config import build_params

    try:
        build_params(assay.Params, bad, where="conformance", assay=assay.name)
    except ParamsError as exc:
        missing = [k for k in bad if k not in str(exc)]
        if missing:
            return [f"ParamsError for bad params does not name field(s) {missing}: {exc}"]
        return []
    return [f"bad params {dict(bad)!r} were accepted"]


def check_assay(
    assay_name: str,
    good: Files,
    *,
    params: Mapping[str, Any] | None = None,
    bad: Iterable[Files] = (),
    bad_params: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
) -> ConformanceReport:
    """Run every conformance check on one assay and return the report."""
    h = host if host is not None else PluginHost(HostConfig.from_env())
    report = ConformanceReport(assay_name)
    try:
        assay = h.get_assay(assay_name)
    except AssaykitError as exc:
        report.problems.append(str(exc))
        return report
    report.problems += check_declarations(assay)
    report.problems += check_params_schema(assay)
    try:
        first = analyze(assay_name, good, params, host=h)
        second = analyze(assay_name, good, params, host=h)
    except Exception as exc:
        report.problems.append(f"analyze failed on good input: {type(exc).__name__}: {exc}")
        return report
    report.records = first.records
    report.problems += check_records(assay, first.records)
    report.problems += check_flags(assay, first.qc_flags, first.records)
    report.problems += check_deterministic(first, second)
    for b in bad:
        report.problems += check_bad_input(assay_name, b, h, params)
    if bad_params is not None:
        report.problems += check_bad_params(assay, bad_params)
    return report


def assert_conforms(
    assay_name: str,
    good: Files,
    *,
    params: Mapping[str, Any] | None = None,
    bad: Iterable[Files] = (),
    bad_params: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
) -> ConformanceReport:
    """Like :func:`check_assay`, but raise AssertionError listing every problem."""
    report = check_assay(assay_name, good, params=params, bad=bad, bad_params=bad_params, host=host)
    report.raise_if_failed()
    return report
