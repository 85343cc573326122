"""The Python API for pipelines: ``assaykit.run`` and ``assaykit.analyze``.

No global state: each call builds (or is given) its own plugin host. Nothing
is printed; progress and problems go through ``logging``; failures are typed
exceptions under :class:`assaykit.AssaykitError`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assaykit.assay import FigureData, Params, QCFlag
from assaykit.batch import RunOptions, RunResult, run_batch
from assaykit.config import build_params, params_json
from assaykit.errors import AnalysisError, AssaykitError, InputError, UsageError
from assaykit.execute import Reporter, run_analysis
from assaykit.experiment import Experiment, Input
from assaykit.plugins import HostConfig, PluginHost
from assaykit.records import (
    RECORD_FIELDS,
    Record,
    RecordContext,
    ResultTable,
    complete_records,
    measurement_pools,
    params_sha256,
    sample_conditions,
    utc_now,
)

PathLike = str | os.PathLike[str]


@dataclass
class AnalysisResult:
    """The in-memory result of :func:`analyze`: records, QC flags and rendered figures."""

    experiment: Experiment
    records: list[Record]
    qc_flags: list[QCFlag]
    figures: list[FigureData]
    params: Params
    #: aggregate sample id -> the sample ids it was computed from (``from_samples``)
    pools: dict[str, list[str]] = field(default_factory=dict)

    def table(self) -> ResultTable:
        ids = {r.sample_id for r in self.records}
        conds = sample_conditions(self.experiment, ids, self.pools)
        cols = sorted({k for c in conds.values() for k in c} - set(RECORD_FIELDS))
        rows = []
        for r in self.records:
            c = conds.get(r.sample_id, {})
            rows.append((*r.as_row(), *(c.get(k, "") for k in cols)))
        return ResultTable([*RECORD_FIELDS, *cols], rows)

    def to_pandas(self) -> Any:
        return self.table().to_pandas()

    def value(self, sample_id: str, metric: str, entity: str | None = None) -> Any:
        """The value of one metric of one sample (convenient in tests and notebooks)."""
        hits = [
            r
            for r in self.records
            if r.sample_id == sample_id
            and r.metric == metric
            and (entity is None or r.entity == entity)
        ]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} records for sample {sample_id!r}, metric {metric!r}")
        return hits[0].value


_HOSTS: dict[HostConfig, PluginHost] = {}
_HOSTS_LOCK = threading.Lock()


def clear_host_cache() -> None:
    """Forget the per-process default plugin hosts, so newly installed plugins are seen."""
    with _HOSTS_LOCK:
        _HOSTS.clear()


def _host(host: PluginHost | None) -> PluginHost:
    """The given host, or this process's default host for the current environment.

    Why cached: building a host loads every plugin's entry point, which cost
    more than a small analysis on every ``analyze`` call. The key is the
    :class:`HostConfig` the environment gives, so changing ``ASSAYKIT_*``
    variables gets a new host; :func:`clear_host_cache` forgets them all.
    """
    if host is not None:
        return host
    cfg = HostConfig.from_env()
    with _HOSTS_LOCK:
        h = _HOSTS.get(cfg)
        if h is None:
            h = _HOSTS[cfg] = PluginHost(cfg)
    return h


def make_experiment(
    assay_name: str,
    files: Iterable[PathLike | Input] | Mapping[PathLike, str],
    *,
    name: str | None = None,
    host: PluginHost | None = None,
    conditions: Mapping[str, Mapping[str, str]] | None = None,
) -> Experiment:
    """Build an in-memory experiment.

    ``files`` is a list of paths (every file has role ``sample``), a mapping
    ``path -> role``, or ready :class:`Input` objects. ``conditions`` maps a
    file's stem to its condition columns.
    """
    h = _host(host)
    assay = h.get_assay(assay_name)
    items: list[tuple[Any, str]]
    if isinstance(files, Mapping):
        items = [(p, role) for p, role in files.items()]
    elif isinstance(files, str | os.PathLike):
        items = [(files, assay.default_role)]
    else:
        items = [(p, assay.default_role) for p in files]
    if not items:
        raise UsageError("analyze() needs at least one file")
    inputs: list[Input] = []
    for p, role in items:
        if isinstance(p, Input):
            inp = p
        else:
            if role not in assay.roles:
                raise UsageError(
                    f"{p}: unknown role {role!r} for assay {assay_name!r}; "
                    f"expected one of: {', '.join(assay.roles)}"
                )
            choice = h.choose_reader(p, kinds=assay.input_kinds)
            reader = choice.reader
            if choice.conflict:
                raise InputError(p, choice.conflict)
            if reader is None:
                want = ", ".join(h.suffixes_for_kinds(assay.input_kinds))
                raise InputError(p, f"not a file assay {assay_name!r} reads (it reads {want})")
            stem = Path(p).stem
            inp = Input.from_path(
                p,
                kind=reader.kind,
                role=role,
                conditions=(conditions or {}).get(stem),
            )
            inp = dataclasses.replace(inp, reader=choice.key)
            try:
                meta = dict(reader.metadata(inp.path))
            except AssaykitError:
                meta = {}
            inp = dataclasses.replace(inp, metadata=meta)
        inputs.append(inp)
    exp_name = name or (inputs[0].sample_id if len(inputs) == 1 else "experiment")
    return Experiment(exp_name, assay_name, inputs, folder=None, has_sheet=False)


def analyze(
    assay_name: str,
    files_or_experiment: Iterable[PathLike | Input]
    | Mapping[PathLike, str]
    | PathLike
    | Experiment,
    params: Mapping[str, Any] | Params | None = None,
    *,
    figures: bool = True,
    host: PluginHost | None = None,
) -> AnalysisResult:
    """Run one experiment in memory and write no files.

    A plain list of paths is one experiment whose files all have the role
    ``sample``. ``figures=False`` tells the assay not to draw. Raises
    :class:`assaykit.ParamsError` for bad params, :class:`assaykit.InputError`
    for bad files, and :class:`assaykit.AnalysisError` wrapping any other
    failure of the assay.
    """
    h = _host(host)
    assay = h.get_assay(assay_name)
    if isinstance(files_or_experiment, Experiment):
        exp = files_or_experiment
        if exp.assay != assay_name:
            raise UsageError(
                f"experiment {exp.name!r} is for assay {exp.assay!r}, not {assay_name!r}"
            )
    else:
        exp = make_experiment(assay_name, files_or_experiment, host=h)  # type: ignore[arg-type]
    exp.figures = figures
    exp.with_readers(h.readers_by_kind(), h.readers_by_key())
    p = build_params(assay.Params, params, where="analyze(params=...)", assay=assay_name)
    pj = params_json(p)
    ctx = RecordContext(
        "analyze",
        assay_name,
        h.assay_plugin(assay_name),
        assay.version,
        params_sha256(pj),
        utc_now(),
    )
    try:
        result = run_analysis(assay, exp, p)
        records = complete_records(assay, exp, result, ctx)
    except AssaykitError:
        raise
    except Exception as exc:
        raise AnalysisError(
            f"assay {assay_name!r}, experiment {exp.name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return AnalysisResult(
        exp,
        records,
        list(result.qc_flags),
        list(result.figures),
        p,
        measurement_pools(result.measurements),
    )


def run(
    folder: PathLike,
    out: PathLike,
    *,
    sheet: PathLike | None = None,
    assay: str | None = None,
    workers: int = 1,
    fail_fast: bool = False,
    scheduler: str | None = None,
    force: bool = False,
    retry_failed: bool = False,
    figures: bool = True,
    timeout: float | None = None,
    exporters: Iterable[str] | None = None,
    report: bool = True,
    host: PluginHost | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run a batch over ``folder`` into ``out`` (see ``assaykit run --help``).

    Returns a :class:`RunResult` with ``.records``, ``.exit_code`` and
    ``.to_pandas()``. Failed experiments do not raise: they are error records
    and make ``exit_code`` 1. Usage errors raise :class:`assaykit.ConfigError`.
    """
    opts = RunOptions(
        folder=Path(folder),
        out=Path(out),
        sheet=Path(sheet) if sheet is not None else None,
        assay=assay,
        workers=workers,
        fail_fast=fail_fast,
        scheduler=scheduler,
        force=force,
        retry_failed=retry_failed,
        figures=figures,
        timeout=timeout,
        exporters=tuple(exporters) if exporters is not None else None,
        report=report,
    )
    return run_batch(opts, host=host, reporter=reporter)
