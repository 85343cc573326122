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
- bad params raise :class:`assaykit.ParamsError` that names the field;
- every flag raised is declared (``Assay.flags`` or the host's
  :data:`assaykit.vocabulary.HOST_FLAGS`), at no worse a severity.

It also holds what a plugin's own tests need beside it:
:func:`experiment_from_folder` builds an experiment from a folder and a
sample sheet exactly as the batch runner does, and
:func:`assert_figures_match` compares two PNG figures by their decoded pixels
(not their bytes). The pytest fixtures wrapping them are in
:mod:`assaykit.testing_fixtures`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assaykit.api import AnalysisResult, PathLike, analyze
from assaykit.assay import Assay, FigureData, QCFlag, declaration_problems
from assaykit.errors import AssaykitError, ParamsError, UsageError
from assaykit.experiment import Experiment, Input, sha256_file
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
    for x, y in zip(first.figures, second.figures):
        try:
            assert_figures_match(x, y)
        except AssertionError as exc:
            problems.append(
                f"analyze draws figure {x.name!r} (sample {x.sample_id}) differently on a "
                f"second run: {exc}"
            )
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


# -- experiments as the batch runner builds them ------------------------------------------

SheetRows = Sequence[Mapping[str, Any]]


def _write_rows(rows: SheetRows, path: Path) -> Path:
    header: list[str] = []
    for r in rows:
        header += [k for k in r if k not in header]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if r.get(k) is None else str(r.get(k)) for k in header])
    return path


def experiments_from_folder(
    folder: PathLike,
    sheet: PathLike | SheetRows | None = None,
    *,
    assay: str | None = None,
    host: PluginHost | None = None,
    figures: bool = False,
) -> list[Experiment]:
    """Every experiment of ``folder``, built as ``assaykit run`` builds them.

    ``sheet`` is a sample-sheet path, or its rows as mappings (column -> cell,
    e.g. ``[{"file": "a.fcs", "role": "negative_control"}]``); by default the
    folder's own ``samples.csv`` when present, else one experiment per file of
    ``assay``. The folder's ``assaykit.toml`` supplies ``default_assay``. Files
    are hashed and their metadata read as in a batch, and the registered
    readers are attached, so ``experiment.read(inp)`` works.
    """
    from assaykit.config import CONFIG_NAME, load_config
    from assaykit.sheet import SHEET_NAME, build_inputs, plan

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    h = host if host is not None else PluginHost(HostConfig.from_env())
    cfg = load_config(root / CONFIG_NAME)
    with tempfile.TemporaryDirectory(prefix="assaykit-sheet-") as tmp:
        sheet_path: Path | None
        if sheet is None:
            sheet_path = root / SHEET_NAME if (root / SHEET_NAME).is_file() else None
        elif isinstance(sheet, str | os.PathLike):
            sheet_path = Path(sheet)
        else:
            sheet_path = _write_rows(sheet, Path(tmp) / SHEET_NAME)
        the_plan = plan(
            root, h, sheet=sheet_path, assay=assay, default_assay=cfg.default_assay
        )
    readers, by_key = h.readers_by_kind(), h.readers_by_key()
    out: list[Experiment] = []
    for pe in the_plan.experiments:
        files = sorted({r.file for r in pe.rows})
        hashes = {f: sha256_file(root / f) if (root / f).is_file() else None for f in files}
        meta: dict[str, dict[str, str | None]] = {}
        for f in files:
            kinds = h.get_assay(pe.assay).input_kinds
            reader = h.reader_for(root / f, kinds=kinds)
            if reader is None or hashes[f] is None:
                continue
            try:
                meta[f] = dict(reader.metadata(root / f))
            except Exception:  # as in a batch: the analysis reports the real problem
                continue
        exp = Experiment(
            name=pe.name,
            assay=pe.assay,
            inputs=build_inputs(root, pe.rows, h, hashes, meta),
            folder=root.resolve(),
            has_sheet=the_plan.has_sheet,
            figures=figures,
        )
        out.append(exp.with_readers(readers, by_key))
    return out


def experiment_from_folder(
    folder: PathLike,
    sheet: PathLike | SheetRows | None = None,
    *,
    assay: str | None = None,
    name: str | None = None,
    host: PluginHost | None = None,
    figures: bool = False,
) -> Experiment:
    """The one experiment of ``folder`` (or the one called ``name``); see
    :func:`experiments_from_folder`. Pass it to ``assaykit.analyze`` or
    :func:`assert_conforms` in place of a list of files."""
    exps = experiments_from_folder(folder, sheet, assay=assay, host=host, figures=figures)
    if name is not None:
        exps = [e for e in exps if e.name == name]
    if len(exps) != 1:
        names = ", ".join(f"{e.assay}/{e.name}" for e in exps) or "none"
        which = f"named {name!r}" if name is not None else "in all"
        raise UsageError(
            f"{folder}: expected one experiment {which}, found {len(exps)} ({names}); "
            "pass name=... or use experiments_from_folder"
        )
    return exps[0]


# -- figures, compared by what they show ----------------------------------------------------

Figure = bytes | bytearray | PathLike | FigureData


@dataclass(frozen=True)
class FigureDifference:
    """How two figures differ once decoded (values on the 0-255 scale, composited on white).

    ``mean_abs``: mean absolute difference over every pixel and RGB channel;
    ``max_abs``: the largest channel difference; ``differing_fraction``: the
    fraction of pixels where some channel differs by more than the pixel
    tolerance. ``size_a``/``size_b`` are (width, height).
    """

    size_a: tuple[int, int]
    size_b: tuple[int, int]
    mean_abs: float
    max_abs: float
    differing_fraction: float


def decode_figure(figure: Figure) -> Any:
    """A figure's pixels as a float array (height, width, 3), alpha composited on white."""
    import numpy as np
    from PIL import Image

    if isinstance(figure, FigureData):
        data = figure.png
    elif isinstance(figure, bytes | bytearray):
        data = bytes(figure)
    else:
        data = Path(figure).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgba = np.asarray(im.convert("RGBA"), dtype=float)
    except Exception as exc:
        raise AssertionError(f"not a decodable image: {type(exc).__name__}: {exc}") from exc
    alpha = rgba[..., 3:4] / 255.0
    return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)


def figure_difference(a: Figure, b: Figure, *, pixel_tolerance: float = 16.0) -> FigureDifference:
    """Compare two figures by their decoded pixels (PNG metadata and compression ignored)."""
    import numpy as np

    pa, pb = decode_figure(a), decode_figure(b)
    size_a = (int(pa.shape[1]), int(pa.shape[0]))
    size_b = (int(pb.shape[1]), int(pb.shape[0]))
    if size_a != size_b:
        return FigureDifference(size_a, size_b, float("inf"), float("inf"), 1.0)
    diff = np.abs(pa - pb)
    per_pixel = diff.max(axis=2) if diff.size else diff
    return FigureDifference(
        size_a,
        size_b,
        float(diff.mean()) if diff.size else 0.0,
        float(diff.max()) if diff.size else 0.0,
        float(np.mean(per_pixel > pixel_tolerance)) if diff.size else 0.0,
    )


def assert_figures_match(
    a: Figure,
    b: Figure,
    *,
    mean_tolerance: float = 1.0,
    pixel_tolerance: float = 16.0,
    max_differing_fraction: float = 0.001,
) -> FigureDifference:
    """Assert two figures show the same thing: same size, and after decoding, a mean
    absolute difference of at most ``mean_tolerance`` (0-255 scale) and at most
    ``max_differing_fraction`` of pixels differing by more than ``pixel_tolerance``.

    Why by content: the same plot written by another libpng, zlib level or
    matplotlib version differs in its bytes (and its metadata) but not in
    what a person sees; a changed plot differs in its pixels. ``a`` and ``b``
    are PNG bytes, paths, or :class:`assaykit.FigureData`.
    """
    d = figure_difference(a, b, pixel_tolerance=pixel_tolerance)
    if d.size_a != d.size_b:
        raise AssertionError(f"figures differ in size: {d.size_a} vs {d.size_b} (width, height)")
    if d.mean_abs > mean_tolerance or d.differing_fraction > max_differing_fraction:
        raise AssertionError(
            f"figures differ: mean absolute difference {d.mean_abs:.3g} "
            f"(tolerance {mean_tolerance}), {100 * d.differing_fraction:.3g}% of pixels differ "
            f"by more than {pixel_tolerance} (tolerance {100 * max_differing_fraction:.3g}%), "
            f"largest difference {d.max_abs:.0f}"
        )
    return d
