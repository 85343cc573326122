"""Result records: long format, one row per measured value.

The fields are exactly those of DESIGN.md, in that order. Records are plain
frozen dataclasses so that millions of them stay cheap; their JSON Schema
(``assaykit schema records``) comes from pydantic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from assaykit._version import __version__
from assaykit.assay import (
    Assay,
    AssayResult,
    Measurement,
    QCStatus,
    worst_status,
)
from assaykit.errors import PluginError

if TYPE_CHECKING:
    from assaykit.experiment import Experiment, Input

SCHEMA_VERSION = "assaykit.record/1"


@dataclass(frozen=True)
class Record:
    """One measured value with everything needed to trust and trace it."""

    schema_version: str
    record_id: str
    run_id: str
    assay: str
    plugin: str
    plugin_version: str
    assaykit_version: str
    experiment: str
    sample_id: str
    entity_type: str
    entity: str
    metric: str
    value_num: float | None
    value_str: str | None
    unit: str | None
    input_path: str
    input_sha256: str
    instrument: str | None
    acquired_at: str | None
    params_sha256: str
    processed_at: str
    qc_status: QCStatus
    qc_flags: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["qc_flags"] = list(self.qc_flags)
        return d

    def as_row(self) -> tuple[Any, ...]:
        """Field values in schema order (qc_flags as a list); cheap, no deep copy."""
        row = [getattr(self, f) for f in RECORD_FIELDS]
        row[-1] = list(self.qc_flags)
        return tuple(row)

    @property
    def value(self) -> float | str | None:
        return self.value_num if self.value_num is not None else self.value_str


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Record))

#: Fields that differ between two runs of the same analysis on the same inputs.
VOLATILE_FIELDS = ("run_id", "processed_at")


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of one record (what ``assaykit schema records`` prints)."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(Record).json_schema()
    schema["$id"] = "https://assaykit.invalid/schemas/record-1.json"
    schema["title"] = "assaykit record"
    schema["description"] = (
        "One measured value in long format. schema_version is "
        f"{SCHEMA_VERSION!r}; record_id is stable for the same inputs, assay, "
        "entity, metric and params."
    )
    schema["properties"]["schema_version"]["const"] = SCHEMA_VERSION
    schema["additionalProperties"] = False
    return schema


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces), the input of every hash we publish."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def params_sha256(params_json: Mapping[str, Any]) -> str:
    return sha256_text(canonical_json(params_json))


def make_record_id(
    *,
    assay: str,
    experiment: str,
    input_hashes: Sequence[str],
    sample_id: str,
    entity_type: str,
    entity: str,
    metric: str,
    params_sha: str,
) -> str:
    """Stable id of (experiment input hashes, assay, experiment, sample, entity, metric, params).

    The experiment and sample are part of the key so that two experiments that
    share a control file never collide.
    """
    key = canonical_json(
        [
            SCHEMA_VERSION,
            assay,
            experiment,
            sorted(input_hashes),
            sample_id,
            entity_type,
            entity,
            metric,
            params_sha,
        ]
    )
    return sha256_text(key)[:32]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RecordContext:
    """What every record of one experiment's run shares."""

    run_id: str
    assay: str
    plugin: str
    plugin_version: str
    params_sha: str
    processed_at: str


def _record(
    ctx: RecordContext,
    experiment: Experiment,
    hashes: Sequence[str],
    *,
    sample_id: str,
    entity_type: str,
    entity: str,
    metric: str,
    value_num: float | None,
    value_str: str | None,
    unit: str | None,
    src: Input | None,
    qc_status: QCStatus,
    qc_flags: tuple[str, ...],
) -> Record:
    meta = src.metadata if src is not None else {}
    return Record(
        schema_version=SCHEMA_VERSION,
        record_id=make_record_id(
            assay=ctx.assay,
            experiment=experiment.name,
            input_hashes=hashes,
            sample_id=sample_id,
            entity_type=entity_type,
            entity=entity,
            metric=metric,
            params_sha=ctx.params_sha,
        ),
        run_id=ctx.run_id,
        assay=ctx.assay,
        plugin=ctx.plugin,
        plugin_version=ctx.plugin_version,
        assaykit_version=__version__,
        experiment=experiment.name,
        sample_id=sample_id,
        entity_type=entity_type,
        entity=entity,
        metric=metric,
        value_num=value_num,
        value_str=value_str,
        unit=unit,
        input_path=src.relpath if src is not None else "",
        input_sha256=(src.sha256 or "") if src is not None else "",
        instrument=meta.get("instrument"),
        acquired_at=meta.get("acquired_at"),
        params_sha256=ctx.params_sha,
        processed_at=ctx.processed_at,
        qc_status=qc_status,
        qc_flags=qc_flags,
    )


def _source_input(experiment: Experiment, m: Measurement) -> Input | None:
    if m.source is not None:
        for i in experiment.inputs:
            if i.relpath == m.source:
                return i
        raise PluginError(
            f"assay {experiment.assay!r} gave source {m.source!r}, which is not an input "
            f"of experiment {experiment.name!r}"
        )
    own = [i for i in experiment.inputs if i.sample_id == m.sample_id]
    files = {i.relpath: i for i in own or pooled_inputs(experiment, m.from_samples)}
    return next(iter(files.values())) if len(files) == 1 else None


def pooled_inputs(experiment: Experiment, from_samples: Iterable[str] = ()) -> list[Input]:
    """The inputs a value with no sheet row of its own was computed from.

    Those of ``from_samples`` (sample ids) when given; else, in a plate
    experiment (every input a well), every input; else none.
    Raises PluginError for a sample id that is not in the experiment.
    """
    ids = set(from_samples)
    if ids:
        unknown = sorted(ids - {i.sample_id for i in experiment.inputs})
        if unknown:
            raise PluginError(
                f"assay {experiment.assay!r} gave from_samples {unknown}, which are not "
                f"sample ids of experiment {experiment.name!r}"
            )
        return [i for i in experiment.inputs if i.sample_id in ids]
    if experiment.inputs and all(i.well is not None for i in experiment.inputs):
        return list(experiment.inputs)
    return []


def _value_fields(assay: Assay, m: Measurement) -> tuple[float | None, str | None, str | None]:
    decl = assay.metric_for(m.entity_type, m.metric)
    if decl is None:
        raise PluginError(
            f"assay {assay.name!r} emitted undeclared metric "
            f"({m.entity_type!r}, {m.metric!r}); declare it in Assay.metrics"
        )
    unit = m.unit if m.unit is not None else decl.unit
    if unit != decl.unit:
        raise PluginError(
            f"assay {assay.name!r} metric {m.metric!r}: unit {unit!r} differs from the "
            f"declared {decl.unit!r}"
        )
    v = m.value
    if v is None:
        return None, None, unit
    if isinstance(v, bool) and decl.dtype != "bool":
        raise PluginError(
            f"assay {assay.name!r} metric {m.metric!r}: declared {decl.dtype}, got a bool"
        )
    if decl.dtype == "str":
        if not isinstance(v, str):
            raise PluginError(f"assay {assay.name!r} metric {m.metric!r}: expected str, got {v!r}")
        return None, v, unit
    if decl.dtype == "bool":
        if not isinstance(v, bool):
            raise PluginError(f"assay {assay.name!r} metric {m.metric!r}: expected bool, got {v!r}")
        return (1.0 if v else 0.0), ("yes" if v else "no"), unit
    if not isinstance(v, int | float):
        try:  # numpy scalars
            v = float(v)
        except (TypeError, ValueError):
            raise PluginError(
                f"assay {assay.name!r} metric {m.metric!r}: expected a number, got {v!r}"
            ) from None
    fv = float(v)
    if not math.isfinite(fv):
        # A non-finite statistic is "not measurable", never a number in a table.
        return None, None, unit
    if decl.dtype == "int" and not fv.is_integer():
        raise PluginError(f"assay {assay.name!r} metric {m.metric!r}: expected int, got {v!r}")
    return fv, None, unit


def complete_records(
    assay: Assay, experiment: Experiment, result: AssayResult, ctx: RecordContext
) -> list[Record]:
    """Turn an assay's measurements into full records: ids, hashes, QC status, provenance.

    Raises PluginError when the assay broke its contract (an undeclared
    metric, a wrong dtype, a duplicated value), which the batch turns into an
    error record for the experiment.
    """
    hashes = experiment.input_hashes()
    records: list[Record] = []
    seen: set[str] = set()
    for m in result.measurements:
        value_num, value_str, unit = _value_fields(assay, m)
        flags = [f for f in result.qc_flags if f.applies_to(m.sample_id, m.entity)]
        flags.extend(m.flags)
        rec = _record(
            ctx,
            experiment,
            hashes,
            sample_id=m.sample_id,
            entity_type=m.entity_type,
            entity=m.entity,
            metric=m.metric,
            value_num=value_num,
            value_str=value_str,
            unit=unit,
            src=_source_input(experiment, m),
            qc_status=worst_status(flags),
            qc_flags=tuple(dict.fromkeys(f.flag for f in flags)),
        )
        if rec.record_id in seen:
            raise PluginError(
                f"assay {assay.name!r} emitted ({m.sample_id!r}, {m.entity_type!r}, "
                f"{m.entity!r}, {m.metric!r}) twice in experiment {experiment.name!r}"
            )
        seen.add(rec.record_id)
        records.append(rec)
    for f in result.failures:  # one rule for every assay: a failed sample is an error record
        src = _source_input(experiment, Measurement(f.sample_id, "file", f.source, "error", None,
                                                    source=f.source))
        msg = f.message
        if experiment.folder is not None:  # the same record wherever the folder is mounted
            msg = msg.replace(f"{experiment.folder}{os.sep}", "")
        rec = _error_record(
            ctx, experiment, hashes, f.sample_id, f.source, f"{f.error_type}: {msg}", src
        )
        if rec.record_id not in seen:
            seen.add(rec.record_id)
            records.append(rec)
    return records


def _error_record(
    ctx: RecordContext,
    experiment: Experiment,
    hashes: Sequence[str],
    sample_id: str,
    entity: str,
    text: str,
    src: Input | None,
) -> Record:
    """One ``metric="error"`` row on a file (fail, flagged ``error``)."""
    return _record(
        ctx,
        experiment,
        hashes,
        sample_id=sample_id,
        entity_type="file",
        entity=entity,
        metric="error",
        value_num=None,
        value_str=text,
        unit=None,
        src=src,
        qc_status="fail",
        qc_flags=("error",),
    )


def error_records(
    experiment: Experiment,
    ctx: RecordContext,
    error_type: str,
    message: str,
    only: Iterable[Input] | None = None,
) -> list[Record]:
    """``metric="error"`` rows: one per input file (or per ``only``) of a failed experiment,
    so that every file of the batch shows up in the results, failed or not."""
    hashes = experiment.input_hashes()
    targets = list(only) if only is not None else list(experiment.inputs)
    out: list[Record] = []
    seen: set[str] = set()
    for i in targets:
        key = f"{i.relpath}\x00{i.sample_id}"
        if key in seen:
            continue
        seen.add(key)
        out.append(
            _error_record(
                ctx, experiment, hashes, i.sample_id, i.relpath, f"{error_type}: {message}", i
            )
        )
    return out


def measurement_pools(measurements: Iterable[Measurement]) -> dict[str, list[str]]:
    """Sample id -> the ``from_samples`` of its measurements (the ``pools`` of
    :func:`sample_conditions`), in first-seen order."""
    pools: dict[str, list[str]] = {}
    for m in measurements:
        if m.from_samples:
            pool = pools.setdefault(m.sample_id, [])
            pool.extend(s for s in m.from_samples if s not in pool)
    return pools


def _joined_cells(i: Input) -> Mapping[str, str]:
    """The columns of a row that are joined onto its records: conditions, its role (so a
    table says which rows are controls), its well and its position (each only when given)."""
    out = dict(i.conditions)
    out["role"] = i.role
    if i.well is not None:
        out["well"] = i.well
    if i.position is not None:
        out["position"] = i.position
    return out


def _common(inputs: Sequence[Input]) -> dict[str, str]:
    """The columns on which every one of ``inputs`` agrees, in first-seen order."""
    cells = [_joined_cells(i) for i in inputs]
    columns = list(dict.fromkeys(k for c in cells for k in c))
    common: dict[str, str] = {}
    for k in columns:
        distinct = {c.get(k, "") for c in cells}
        if len(distinct) == 1:
            common[k] = distinct.pop()
    return common


def sample_conditions(
    experiment: Experiment,
    extra_ids: Iterable[str] = (),
    pools: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Condition columns per sample id, to be joined onto that sample's records.

    A row with a well adds a ``well`` column, one with a position a ``position``
    column. When rows of one sample disagree on a column (a western sample has a
    target row and a loading-control row;
    replicate wells share a sample id), the distinct values are joined with
    ``;`` in sheet order. A sample id in ``extra_ids`` with no row of its own
    (a per-experiment or per-cell-line value) gets the columns that the rows it
    was computed from all share: those of its ``pools`` entry (sample ids, a
    measurement's ``from_samples``), else every row of the experiment.
    """
    by_sample: dict[str, dict[str, list[str]]] = {}
    for i in experiment.inputs:
        d = by_sample.setdefault(i.sample_id, {})
        for k, v in _joined_cells(i).items():
            vals = d.setdefault(k, [])
            if v not in vals:
                vals.append(v)
    out = {sid: {k: ";".join(v) for k, v in d.items()} for sid, d in by_sample.items()}
    everything: dict[str, str] | None = None
    for sid in extra_ids:
        if sid in out:
            continue
        pool = (pools or {}).get(sid)
        if pool:
            out[sid] = _common(pooled_inputs(experiment, pool))
        else:
            if everything is None:
                everything = _common(experiment.inputs)
            out[sid] = dict(everything)
    return out


# --------------------------------------------------------------------------------------
# the result table, and the interface of the exporters that write it
# --------------------------------------------------------------------------------------
@dataclass
class ResultTable:
    """Records in long format with the sample-sheet condition columns joined on.

    ``columns`` is the record fields in schema order, then the condition
    columns in sorted order. ``rows`` are tuples in that column order;
    ``qc_flags`` is a list of strings.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]

    @property
    def condition_columns(self) -> list[str]:
        return self.columns[len(RECORD_FIELDS) :]

    def dicts(self) -> Iterator[dict[str, Any]]:
        cols = self.columns
        for r in self.rows:
            yield dict(zip(cols, r))

    def __len__(self) -> int:
        return len(self.rows)

    def to_pandas(self) -> Any:
        """A pandas DataFrame (pandas is optional; ImportError names the extra to install)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ImportError("to_pandas() needs pandas: pip install 'assaykit[pandas]'") from exc
        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class Exporter(ABC):
    """Base class of an exporter. See ``assaykit_register_exporters`` for the contract."""

    name: ClassVar[str]
    #: One line on what it writes, shown by ``assaykit plugins``.
    summary: ClassVar[str] = ""

    def available(self) -> bool:
        """False when an optional dependency is missing; the exporter is then skipped."""
        return True

    @abstractmethod
    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        """Write the table inside ``out_dir`` atomically; return the paths written."""
