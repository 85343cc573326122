"""The batch runner: scan → plan → execute → store → profile → export → report.

It knows nothing about any assay: it moves experiments, records and figures.
:func:`run_batch` calls one function per stage, in that order, and each hands
the next what it needs. The stages' code lives in the modules of the stage
(:mod:`assaykit.sheet` scans, :mod:`assaykit.execute` executes,
:mod:`assaykit.store`, :mod:`assaykit.exporters` and :mod:`assaykit.report`),
which never import a later stage; this module alone sees them all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures.thread import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assaykit._files import atomic_write
from assaykit._version import __version__
from assaykit.assay import Assay, Params
from assaykit.config import (
    CONFIG_NAME,
    FolderConfig,
    build_params,
    did_you_mean,
    load_config,
    params_json,
)
from assaykit.errors import UsageError
from assaykit.execute import (
    CANCELLED,
    CRASHED,
    DONE,
    FAILED,
    Dispatch,
    ExperimentOutcome,
    ExperimentStatus,
    ExperimentTask,
    Reporter,
    _NullReporter,
    default_workers,
    execute_experiment,
    execute_tasks,
    run_analysis,
)
from assaykit.experiment import Experiment, sha256_file
from assaykit.plugins import HostConfig, PluginHost
from assaykit.profile import PROFILE_CSV, Profile, build_profile, profile_table, write_profile_csv
from assaykit.readers import Reader
from assaykit.records import (
    Record,
    ResultTable,
    canonical_json,
    params_sha256,
    sha256_text,
    utc_now,
)
from assaykit.sheet import SHEET_NAME, Plan, build_inputs, check_relpath, plan
from assaykit.store import STORE_NAME, QCFinding, Store, StoredFigure, records_from_table

__all__ = [  # the execute stage's names stay importable from here, where they used to be
    "CANCELLED",
    "CRASHED",
    "DONE",
    "FAILED",
    "ExperimentOutcome",
    "ExperimentStatus",
    "ExperimentTask",
    "Reporter",
    "RunOptions",
    "RunResult",
    "default_workers",
    "execute_experiment",
    "run_analysis",
    "run_batch",
    "safe_name",
]

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Settings of one batch run (the CLI's options)."""

    folder: Path
    out: Path
    sheet: Path | None = None
    assay: str | None = None
    #: Worker processes. Each experiment runs in one, so a crash or hang fails only
    #: that experiment. 0 runs in this process (fast to debug, but not isolated).
    workers: int = 1
    fail_fast: bool = False
    scheduler: str | None = None
    force: bool = False
    retry_failed: bool = False
    figures: bool = True
    timeout: float | None = None
    exporters: tuple[str, ...] | None = None
    report: bool = True


@dataclass
class RunResult:
    """What a run produced. ``records`` are the current records of every planned experiment."""

    run_id: str
    out: Path
    exit_code: int
    experiments: list[ExperimentStatus]
    table: ResultTable
    ignored: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return records_from_table(self.table)

    @property
    def failed(self) -> list[ExperimentStatus]:
        return [e for e in self.experiments if e.status != DONE]

    def to_pandas(self) -> Any:
        return self.table.to_pandas()


@contextlib.contextmanager
def _out_lock(out: Path) -> Iterator[None]:
    """Refuse two runs writing into the same output folder at once."""
    out.mkdir(parents=True, exist_ok=True)
    fh = open(out / ".assaykit.lock", "w")  # noqa: SIM115 - held for the whole run
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks; SQLite still guards
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise UsageError(f"{out}: another assaykit run is writing to this folder") from None
        yield
    finally:
        fh.close()


@dataclass
class _Run:
    """One run's identity and bookkeeping, shared by the stages."""

    opts: RunOptions
    folder: Path
    out: Path
    host: PluginHost
    run_id: str
    started: str
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent inside to the stage's timing in run.json."""
        t = time.perf_counter()
        try:
            yield
        finally:
            key = f"{stage}_s"
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t


def run_batch(
    opts: RunOptions,
    *,
    host: PluginHost | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run a folder. Raises ConfigError subclasses for usage errors (exit code 2);
    analysis failures become error records and ``exit_code`` 1."""
    from assaykit._pool import refuse_in_bootstrap

    refuse_in_bootstrap()  # a worker re-importing an unguarded script must not start a batch
    folder = Path(opts.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    if opts.workers < 0:
        raise UsageError(f"--workers must be 0 (in-process) or more, got {opts.workers}")
    started = utc_now()
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    out = Path(opts.out)
    with _out_lock(out):
        run = _Run(opts, folder, out, host or PluginHost(HostConfig.from_env()), run_id, started)
        with run.timed("scan"):
            found = _scan_folder(run)
            store = Store(out / STORE_NAME)
        try:
            store.start_run(run_id, started)
            with run.timed("scan"):  # hashing uses the store's cache of earlier hashes
                inputs = _scan_inputs(run, found, store)
            with run.timed("plan"):
                planned = _plan(run, found, inputs, store)
            with run.timed("execute"):
                statuses = _execute_and_store(run, planned, store, reporter or _NullReporter())
            with run.timed("export"):
                table = store.table(planned.order)
                profile = build_profile(table, run.host.assays)
                table = profile_table(profile, table, run_id)
                exported = _export(run.host, table, out, opts.exporters)
                if profile:
                    exported.append(write_profile_csv(profile, out / PROFILE_CSV))
            exp_status = [statuses[k] for k in planned.order if k in statuses]
            exit_code = 1 if any(s.status != DONE for s in exp_status) else 0
            with run.timed("report"):
                if opts.report:
                    _write_report(run, found, inputs, planned, exp_status, table, store, profile)
            summary = _summary(planned, exp_status, table)
            finished = utc_now()
            run_json = _run_json(
                run, found, inputs, planned, exp_status, store, exported, exit_code, finished
            )
            run_json["summary"] = summary
            with atomic_write(out / "run.json", "w", encoding="utf-8") as fh:
                json.dump(run_json, fh, indent=2, ensure_ascii=False)
            store.finish_run(run_id, finished, exit_code, summary)
        finally:
            store.close()
    return RunResult(run_id, out, exit_code, exp_status, table, found.plan.ignored)


# --------------------------------------------------------------------------------------
# scan: the config, the sheet (or the folder), the inputs' hashes, metadata, conformance
# --------------------------------------------------------------------------------------
@dataclass
class _Found:
    config: FolderConfig
    sheet: Path | None
    plan: Plan
    params: dict[str, Params]
    files: list[str]


@dataclass
class _Inputs:
    hashes: dict[str, str | None]
    meta: dict[str, dict[str, Any]]
    conformance: dict[str, list[dict[str, Any]]]


def _scan_folder(run: _Run) -> _Found:
    """Read the folder's config and sheet, group the files into experiments, build params."""
    opts, folder, host = run.opts, run.folder, run.host
    cfg = load_config(folder / CONFIG_NAME)
    sheet = opts.sheet
    if sheet is None and (folder / SHEET_NAME).is_file():
        sheet = folder / SHEET_NAME
        bad = check_relpath(folder, SHEET_NAME)
        if bad:  # the folder's own sheet must be in the folder; --sheet may be anywhere
            raise UsageError(
                f"{sheet}: {bad}; copy the sheet into the folder, or pass it with --sheet"
            )
    if sheet is not None and not Path(sheet).is_file():
        raise UsageError(f"{sheet}: sample sheet not found")
    if opts.assay is not None:
        host.get_assay(opts.assay)
    the_plan = plan(
        folder,
        host,
        sheet=Path(sheet) if sheet is not None else None,
        assay=opts.assay,
        default_assay=cfg.default_assay,
        exclude=[run.out],
    )
    where = str(cfg.path) if cfg.path else f"{folder / CONFIG_NAME} (defaults)"
    params: dict[str, Params] = {}
    for name in sorted({e.assay for e in the_plan.experiments}):
        a = host.get_assay(name)
        params[name] = build_params(a.Params, cfg.params.get(name), where=where, assay=name)
    unknown_params = sorted(set(cfg.params) - set(host.assays))
    if unknown_params:
        guess = did_you_mean(unknown_params[0], sorted(host.assays))
        raise UsageError(
            f"{where}: [params.{unknown_params[0]}] names an assay that is not installed; "
            + (f"did you mean [params.{guess}]? " if guess else "")
            + f"installed: {', '.join(sorted(host.assays))}"
        )
    files = sorted({r.file for e in the_plan.experiments for r in e.rows})
    return _Found(cfg, Path(sheet) if sheet is not None else None, the_plan, params, files)


def _scan_inputs(run: _Run, found: _Found, store: Store) -> _Inputs:
    hashes = _hash_inputs(run.folder, found.files, store, run.opts.workers)
    readers = _file_readers(run.host, run.folder, found)
    return _Inputs(
        hashes,
        _metadata(readers, run.folder, found.files),
        _conformance(readers, run.folder, found.files, hashes, store),
    )


def _file_readers(host: PluginHost, folder: Path, found: _Found) -> dict[str, Reader]:
    """The reader of each input file, ranked for the kinds its first row's assay reads.

    A file two readers claim equally has none: its analysis reports the conflict.
    """
    out: dict[str, Reader] = {}
    for e in found.plan.experiments:
        kinds = host.get_assay(e.assay).input_kinds
        for r in e.rows:
            if r.file not in out:
                reader = host.reader_for(folder / r.file, kinds=kinds)
                if reader is not None:
                    out[r.file] = reader
    return out


def _hash_inputs(
    folder: Path, files: Sequence[str], store: Store, workers: int
) -> dict[str, str | None]:
    """sha256 of every planned file, reusing the store's cache when size and mtime match."""
    out: dict[str, str | None] = {}
    todo: list[tuple[str, int, int]] = []
    for rel in files:
        p = folder / rel
        try:
            st = p.stat()
        except OSError:
            out[rel] = None
            continue
        if not p.is_file():
            out[rel] = None
            continue
        cached = store.cached_hash(rel, st.st_size, st.st_mtime_ns)
        if cached:
            out[rel] = cached
        else:
            todo.append((rel, st.st_size, st.st_mtime_ns))
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(8, workers * 2))) as pool:
            digests = list(pool.map(lambda t: sha256_file(folder / t[0]), todo))
        for (rel, _, _), d in zip(todo, digests):
            out[rel] = d
        store.remember_hashes([(rel, size, mt, d) for (rel, size, mt), d in zip(todo, digests)])
    return out


def _metadata(
    readers: Mapping[str, Reader], folder: Path, files: Sequence[str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rel in files:
        reader = readers.get(rel)
        p = folder / rel
        if reader is None or not p.is_file():
            continue
        try:
            out[rel] = dict(reader.metadata(p))
        except Exception as exc:  # the analysis will report the real problem
            log.debug("metadata of %s failed: %s", rel, exc)
    return out


def _conformance(
    readers: Mapping[str, Reader],
    folder: Path,
    files: Sequence[str],
    hashes: Mapping[str, str | None],
    store: Store,
) -> dict[str, list[dict[str, Any]]]:
    """Each input's deviations from its format's standard (``Reader.conformance``).

    Cached in the store by content hash, so an unchanged file is checked once.
    A file the reader cannot read at all is left out: its analysis reports it.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for rel in files:
        digest = hashes.get(rel)
        reader = readers.get(rel)
        if reader is None or digest is None:
            continue
        known = store.conformance(digest)
        if known is None:
            try:
                found = reader.conformance(folder / rel)
            except Exception as exc:  # the analysis will report the real problem
                log.debug("conformance of %s failed: %s", rel, exc)
                continue
            if found is None:
                continue
            store.remember_conformance(digest, reader.name or reader.kind, utc_now(), found)
            known = found
        out[rel] = known
    return out


# --------------------------------------------------------------------------------------
# plan: one task per experiment whose fingerprint changed; the rest are reused
# --------------------------------------------------------------------------------------
@dataclass
class _Planned:
    order: list[tuple[str, str]]
    tasks: list[ExperimentTask]
    #: experiments reused from the store, by (assay, experiment)
    reused: dict[tuple[str, str], ExperimentStatus]
    params_json: dict[str, dict[str, Any]]
    params_sha: dict[str, str]


def _plan(run: _Run, found: _Found, inputs: _Inputs, store: Store) -> _Planned:
    opts, host = run.opts, run.host
    pjson = {n: params_json(p) for n, p in found.params.items()}
    psha = {n: params_sha256(j) for n, j in pjson.items()}
    planned = _Planned([], [], {}, pjson, psha)
    for pe in found.plan.experiments:
        exp = Experiment(
            name=pe.name,
            assay=pe.assay,
            inputs=build_inputs(run.folder, pe.rows, host, inputs.hashes, inputs.meta),
            folder=run.folder.resolve(),
            has_sheet=found.plan.has_sheet,
            figures=opts.figures,
        )
        fp = _fingerprint(host.get_assay(pe.assay), exp, psha[pe.assay])
        planned.order.append(pe.key)
        prev = store.experiment(pe.assay, pe.name)
        reuse = (
            prev is not None
            and not opts.force
            and prev.fingerprint == fp
            and (prev.status == DONE or (prev.status == FAILED and not opts.retry_failed))
        )
        if reuse and prev is not None:
            planned.reused[pe.key] = ExperimentStatus(
                pe.assay, pe.name, prev.status, False, 0.0, prev.error
            )
            continue
        planned.tasks.append(
            ExperimentTask(
                host.config,
                pe.assay,
                exp,
                pjson[pe.assay],
                psha[pe.assay],
                run.run_id,
                opts.timeout,
                fp,
            )
        )
    return planned


def _fingerprint(assay: Assay, exp: Experiment, params_sha: str) -> str:
    return sha256_text(
        canonical_json([assay.name, assay.version, params_sha, exp.fingerprint_rows()])
    )


# --------------------------------------------------------------------------------------
# execute + store: each outcome is stored, in its own transaction, as it arrives
# --------------------------------------------------------------------------------------
def _execute_and_store(
    run: _Run, planned: _Planned, store: Store, rep: Reporter
) -> dict[tuple[str, str], ExperimentStatus]:
    statuses = dict(planned.reused)
    rep.start(len(planned.order), len(planned.order) - len(planned.tasks))

    def on_outcome(task: ExperimentTask, oc: ExperimentOutcome) -> None:
        st = _store_outcome(run, store, task, oc)
        statuses[(oc.assay, oc.experiment)] = st
        rep.advance(st)

    how = Dispatch(run.opts.workers, run.opts.scheduler, run.opts.fail_fast, run.opts.timeout)
    try:
        for st in execute_tasks(planned.tasks, run.host, how, on_outcome):
            statuses[(st.assay, st.experiment)] = st
    finally:
        rep.finish()
    return statuses


def _store_outcome(
    run: _Run, store: Store, task: ExperimentTask, oc: ExperimentOutcome
) -> ExperimentStatus:
    host = run.host
    store.write_experiment(
        assay=oc.assay,
        experiment=oc.experiment,
        fingerprint=task.fingerprint,
        status=oc.status,
        plugin=host.assay_plugin(oc.assay),
        plugin_version=host.get_assay(oc.assay).version,
        params_sha256=task.params_sha,
        input_hashes=task.experiment.input_hashes(),
        run_id=run.run_id,
        completed_at=utc_now(),
        duration_s=oc.duration_s,
        error=oc.error if oc.traceback is None else f"{oc.error}\n{oc.traceback}",
        records=oc.records,
        conditions=oc.conditions,
        figures=_write_figures(run.out, oc),
        findings=[
            QCFinding(oc.assay, oc.experiment, f.flag, f.severity, f.sample_id, f.entity, f.message)
            for f in oc.qc_flags
        ],
    )
    if oc.status == DONE:
        log.info("done %s/%s (%.2fs)", oc.assay, oc.experiment, oc.duration_s)
    else:
        log.warning("FAILED %s/%s: %s", oc.assay, oc.experiment, oc.error)
    return ExperimentStatus(oc.assay, oc.experiment, oc.status, True, oc.duration_s, oc.error)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe version of a user string (sample ids come from sheets)."""
    s = _SAFE.sub("_", text).strip("._") or "x"
    if len(s) > limit or s != text:
        s = f"{s[:limit]}-{sha256_text(text)[:8]}"
    return s


def _write_figures(out: Path, outcome: ExperimentOutcome) -> list[StoredFigure]:
    stored = []
    base = Path("figures") / safe_name(outcome.assay) / safe_name(outcome.experiment)
    used: set[str] = set()
    for fig in outcome.figures:
        stem = safe_name(f"{fig.sample_id}__{fig.name}" if fig.sample_id else fig.name)
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}_{n}"
        used.add(name)
        rel = base / f"{name}.png"
        with atomic_write(out / rel, "wb") as fh:
            fh.write(fig.png)
        stored.append(
            StoredFigure(
                outcome.assay,
                outcome.experiment,
                fig.name,
                fig.sample_id,
                rel.as_posix(),
                fig.caption,
            )
        )
    return stored


# --------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------
def _export(
    host: PluginHost, table: ResultTable, out: Path, names: tuple[str, ...] | None
) -> list[Path]:
    written: list[Path] = []
    if names is not None:
        unknown = [n for n in names if n not in host.exporters]
        if unknown:
            raise UsageError(
                f"unknown exporter(s) {', '.join(unknown)}; "
                f"available: {', '.join(sorted(host.exporters))}"
            )
    for name, exp in host.exporters.items():
        if names is not None and name not in names:
            continue
        if not exp.available():
            log.info("exporter %s unavailable (optional dependency missing); skipped", name)
            continue
        written.extend(exp.export(table, out))
    return written


# --------------------------------------------------------------------------------------
# report: report.html and run.json
# --------------------------------------------------------------------------------------
def _write_report(
    run: _Run,
    found: _Found,
    inputs: _Inputs,
    planned: _Planned,
    exp_status: list[ExperimentStatus],
    table: ResultTable,
    store: Store,
    profile: Profile,
) -> None:
    from assaykit.report import write_report

    figure = None
    if profile and run.opts.figures:
        from assaykit.assay import render_png
        from assaykit.profile import profile_figure

        figure = render_png(profile_figure(profile))
    write_report(
        run.out / "report.html",
        run_id=run.run_id,
        table=table,
        experiments=exp_status,
        figures=store.figures(planned.order),
        findings=store.findings(planned.order),
        out=run.out,
        ignored=found.plan.ignored,
        conformance=inputs.conformance,
        assays=run.host.assays,
        profile=profile,
        profile_figure=figure,
    )


def _summary(
    planned: _Planned, exp_status: Sequence[ExperimentStatus], table: ResultTable
) -> dict[str, int]:
    return {
        "experiments": len(planned.order),
        "ran": sum(1 for s in exp_status if s.ran),
        "skipped": sum(1 for s in exp_status if not s.ran),
        "done": sum(1 for s in exp_status if s.status == DONE),
        "failed": sum(1 for s in exp_status if s.status != DONE),
        "records": len(table),
    }


def _run_json(
    run: _Run,
    found: _Found,
    inputs: _Inputs,
    planned: _Planned,
    exp_status: Sequence[ExperimentStatus],
    store: Store,
    exported: Sequence[Path],
    exit_code: int,
    finished: str,
) -> dict[str, Any]:
    opts, host, out = run.opts, run.host, run.out
    findings_by_exp: dict[tuple[str, str], list[QCFinding]] = {}
    for f in store.findings(planned.order):
        findings_by_exp.setdefault((f.assay, f.experiment), []).append(f)
    return {
        "run_id": run.run_id,
        "started_at": run.started,
        "finished_at": finished,
        "exit_code": exit_code,
        "assaykit_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "folder": str(run.folder.resolve()),
        "out": str(out.resolve()),
        "sheet": str(found.sheet.resolve()) if found.sheet is not None else None,
        "config": str(found.config.path) if found.config.path else None,
        "options": {
            "assay": opts.assay,
            "workers": opts.workers,
            "fail_fast": opts.fail_fast,
            "scheduler": opts.scheduler,
            "force": opts.force,
            "retry_failed": opts.retry_failed,
            "figures": opts.figures,
            "timeout": opts.timeout,
        },
        "plugins": host.plugin_status(),
        "assays": {
            n: {
                "plugin": host.assay_plugin(n),
                "version": host.get_assay(n).version,
                "params": planned.params_json[n],
                "params_sha256": planned.params_sha[n],
            }
            for n in sorted(found.params)
        },
        "inputs": [
            {
                "path": f,
                "sha256": inputs.hashes.get(f),
                "missing": inputs.hashes.get(f) is None,
                # deviations from the file format's standard, for readers that check
                **({"conformance": inputs.conformance[f]} if f in inputs.conformance else {}),
            }
            for f in found.files
        ],
        "ignored_files": found.plan.ignored,
        "experiments": [
            {
                "assay": s.assay,
                "experiment": s.experiment,
                "status": s.status,
                "ran": s.ran,
                "duration_s": round(s.duration_s, 4),
                "error": s.error,
                "qc_findings": [
                    {k: v for k, v in vars(f).items() if k not in ("assay", "experiment")}
                    for f in findings_by_exp.get((s.assay, s.experiment), [])
                ],
            }
            for s in exp_status
        ],
        "exported": [p.relative_to(out).as_posix() for p in exported],
        "timings_s": {k: round(v, 4) for k, v in run.timings.items()},
    }
