"""The batch runner: scan → plan → execute → store → export → report.

It knows nothing about any assay: it moves experiments, records and figures.
The same :func:`execute_experiment` runs in-process, on a local process pool,
or on a Dask cluster, so the results are the same everywhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import re
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.thread import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assaykit import __version__
from assaykit.assay import Assay, AssayResult, FigureData, Params, QCFlag
from assaykit.config import CONFIG_NAME, build_params, did_you_mean, load_config, params_json
from assaykit.errors import AssaykitError, PluginError, UsageError
from assaykit.experiment import Experiment, sha256_file
from assaykit.exporters import ResultTable, atomic_write
from assaykit.plugins import HostConfig, PluginHost, host_for
from assaykit.records import (
    Record,
    RecordContext,
    canonical_json,
    complete_records,
    error_records,
    params_sha256,
    sample_conditions,
    sha256_text,
    utc_now,
)
from assaykit.sheet import SHEET_NAME, Plan, build_inputs, check_relpath, plan
from assaykit.store import STORE_NAME, QCFinding, Store, StoredFigure, records_from_table

log = logging.getLogger(__name__)

DONE, FAILED, CRASHED, CANCELLED, SKIPPED = "done", "failed", "crashed", "cancelled", "skipped"


# --------------------------------------------------------------------------------------
# execution (runs in workers)
# --------------------------------------------------------------------------------------
@dataclass
class ExperimentTask:
    """Everything a worker needs to run one experiment; picklable."""

    host_config: HostConfig
    assay: str
    experiment: Experiment
    params: dict[str, Any]
    params_sha: str
    run_id: str
    timeout: float | None = None


@dataclass
class ExperimentOutcome:
    """What came back from running one experiment."""

    assay: str
    experiment: str
    status: str
    records: list[Record]
    figures: list[FigureData]
    conditions: dict[str, dict[str, str]]
    duration_s: float
    error: str | None = None
    traceback: str | None = None
    #: every QC flag raised, with its scope and message (records carry only flag names)
    qc_flags: list[QCFlag] = field(default_factory=list)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Interrupt a hung analysis after ``seconds`` (only possible in a main thread)."""
    import threading

    if (
        not seconds
        or not hasattr(signal, "SIGALRM")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise _Timeout(f"analysis took longer than {seconds:g} s (--timeout)")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_analysis(
    assay: Assay, experiment: Experiment, params: Params, *, timeout: float | None = None
) -> AssayResult:
    """Call ``assay.analyze`` and check that it kept the contract on the return type."""
    with _alarm(timeout):
        result = assay.analyze(experiment, params)
    if not isinstance(result, AssayResult):
        raise PluginError(
            f"assay {assay.name!r}: analyze() returned {type(result).__name__}, "
            "expected assaykit.AssayResult"
        )
    if not experiment.figures:
        result.figures = []
    if assay.control_roles and not experiment.by_role(*assay.control_roles):
        result.qc_flags.append(
            QCFlag(
                "no_controls",
                message=f"no input with a control role ({', '.join(assay.control_roles)})",
            )
        )
    return result


def _conditions(exp: Experiment, records: Sequence[Record]) -> dict[str, dict[str, str]]:
    return sample_conditions(exp, {r.sample_id for r in records})


def _context(host: PluginHost, task: ExperimentTask) -> RecordContext:
    assay = host.get_assay(task.assay)
    return RecordContext(
        task.run_id,
        assay.name,
        host.assay_plugin(task.assay),
        assay.version,
        task.params_sha,
        utc_now(),
    )


def _outcome(
    task: ExperimentTask,
    status: str,
    records: list[Record],
    t0: float,
    error: str | None = None,
    figures: list[FigureData] | None = None,
    tb: str | None = None,
    result: AssayResult | None = None,
) -> ExperimentOutcome:
    exp = task.experiment
    flags: list[QCFlag] = []
    if result is not None:
        flags = list(result.qc_flags)
        flags += [f for m in result.measurements for f in m.flags if f.message]
    return ExperimentOutcome(
        task.assay,
        exp.name,
        status,
        records,
        figures or [],
        _conditions(exp, records),
        time.perf_counter() - t0,
        error,
        tb,
        flags,
    )


def _missing_text(missing: Sequence[Any], shown: int = 5) -> str:
    """Name the missing files (and their sheet rows), so the terminal says which to fix."""
    names = [f"{i.relpath}" + (f" (sheet row {i.row})" if i.row else "") for i in missing]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    verb = "does" if len(names) == 1 else "do"
    return f"{', '.join(names[:shown])}{more} {verb} not exist"


def execute_experiment(task: ExperimentTask, host: PluginHost | None = None) -> ExperimentOutcome:
    """Run one experiment and return records, never raising for a failed analysis.

    Any exception from the assay becomes ``metric="error"`` records for the
    experiment's files. Missing files become error records of their own while
    the rest of the experiment still runs.
    """
    t0 = time.perf_counter()
    host = host if host is not None else host_for(task.host_config)
    exp = task.experiment
    assay = host.get_assay(task.assay)
    ctx = _context(host, task)
    exp.with_readers(host.readers_by_kind())
    missing = [i for i in exp.inputs if i.missing]
    records: list[Record] = []
    for i in missing:
        records += error_records(
            exp, ctx, "MissingInputError", f"{i.relpath}: file does not exist", [i]
        )
    if len(missing) == len(exp.inputs):
        err = f"MissingInputError: {_missing_text(missing)} (every input of the experiment)"
        return _outcome(task, FAILED, records, t0, err)
    try:
        params = assay.Params.model_validate(
            {k: v for k, v in task.params.items() if k != "__revision__"}
        )
        result = run_analysis(assay, exp, params, timeout=task.timeout)
        records += complete_records(assay, exp, result, ctx)
    except Exception as exc:
        etype = "TimeoutError" if isinstance(exc, _Timeout) else type(exc).__name__
        msg = str(exc) or etype
        if exp.folder is not None:  # records stay the same wherever the folder is mounted
            msg = msg.replace(f"{exp.folder}{os.sep}", "")
        tb = None if isinstance(exc, AssaykitError | _Timeout) else traceback.format_exc()
        if tb:
            log.error("experiment %s/%s: unexpected %s\n%s", assay.name, exp.name, etype, tb)
        present = [i for i in exp.inputs if not i.missing]
        culprits = _named_inputs(exc, msg, present)
        if culprits and len(culprits) < len(present):
            # name the bad file; the good tubes were not analysed *because of it*
            records += error_records(exp, ctx, etype, msg, culprits)
            names = ", ".join(i.relpath for i in culprits)
            records += error_records(
                exp,
                ctx,
                "NotAnalysed",
                f"not analysed: experiment {exp.name!r} failed because of {names} "
                f"({etype}: {msg})",
                [i for i in present if i not in culprits],
            )
            return _outcome(task, FAILED, records, t0, f"{etype}: {msg}", tb=tb)
        records += error_records(exp, ctx, etype, msg, present)
        return _outcome(task, FAILED, records, t0, f"{etype}: {msg}", tb=tb)
    problems = []
    if missing:
        problems.append(f"MissingInputError: {_missing_text(missing)}")
    if result.failures:
        shown = "; ".join(f"{f.source}: {f.error_type}: {f.message}" for f in result.failures[:3])
        more = len(result.failures) - 3
        problems.append(
            f"{len(result.failures)} sample(s) could not be analysed: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )
    if problems:
        return _outcome(task, FAILED, records, t0, "; ".join(problems), result.figures,
                        result=result)
    return _outcome(task, DONE, records, t0, None, result.figures, result=result)


def _named_inputs(exc: BaseException, msg: str, inputs: Sequence[Any]) -> list[Any]:
    """The inputs an experiment-wide error is about: the file an InputError names,
    else the files whose path the message names. Empty when it names none."""
    path = getattr(exc, "path", None)
    if isinstance(exc, AssaykitError) and isinstance(path, str):
        hit = [i for i in inputs if path in (str(i.path), i.relpath)]
        if hit:
            return hit
    out = []
    for i in inputs:
        pat = rf"(?<![\w./-]){re.escape(i.relpath)}(?![\w.-])"
        if re.search(pat, msg) or str(i.path) in msg:
            out.append(i)
    return out


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
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
class ExperimentStatus:
    assay: str
    experiment: str
    status: str
    ran: bool
    duration_s: float
    error: str | None = None


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


class Reporter(Protocol):
    """Progress sink. Library code never prints; the CLI passes a rich or plain reporter."""

    def start(self, total: int, skipped: int) -> None: ...

    def advance(self, status: ExperimentStatus) -> None: ...

    def finish(self) -> None: ...


class _NullReporter:
    def start(self, total: int, skipped: int) -> None:
        pass

    def advance(self, status: ExperimentStatus) -> None:
        pass

    def finish(self) -> None:
        pass


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


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe version of a user string (sample ids come from sheets)."""
    s = _SAFE.sub("_", text).strip("._") or "x"
    if len(s) > limit or s != text:
        s = f"{s[:limit]}-{sha256_text(text)[:8]}"
    return s


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


def _metadata(host: PluginHost, folder: Path, files: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rel in files:
        reader = host.reader_for(rel)
        p = folder / rel
        if reader is None or not p.is_file():
            continue
        try:
            out[rel] = dict(reader.metadata(p))
        except Exception as exc:  # the analysis will report the real problem
            log.debug("metadata of %s failed: %s", rel, exc)
    return out


def _conformance(
    host: PluginHost,
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
        reader = host.reader_for(rel)
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


def _fingerprint(assay: Assay, exp: Experiment, params_sha: str) -> str:
    return sha256_text(
        canonical_json([assay.name, assay.version, params_sha, exp.fingerprint_rows()])
    )


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


def _worker_init(config: HostConfig) -> None:
    host_for(config)


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
    rep = reporter or _NullReporter()
    folder = Path(opts.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    if opts.workers < 0:
        raise UsageError(f"--workers must be 0 (in-process) or more, got {opts.workers}")
    out = Path(opts.out)
    timings: dict[str, float] = {}
    started = utc_now()
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"

    with _out_lock(out):
        t = time.perf_counter()
        cfg = load_config(folder / CONFIG_NAME)
        host = host if host is not None else PluginHost(HostConfig.from_env())
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
        the_plan: Plan = plan(
            folder,
            host,
            sheet=Path(sheet) if sheet is not None else None,
            assay=opts.assay,
            default_assay=cfg.default_assay,
            exclude=[out],
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
        store = Store(out / STORE_NAME)
        try:
            store.start_run(run_id, started)
            hashes = _hash_inputs(folder, files, store, opts.workers)
            meta = _metadata(host, folder, files)
            conformance = _conformance(host, folder, files, hashes, store)
            timings["scan_s"] = time.perf_counter() - t

            # -- plan ------------------------------------------------------------------
            t = time.perf_counter()
            tasks: list[tuple[ExperimentTask, str]] = []
            statuses: dict[tuple[str, str], ExperimentStatus] = {}
            order: list[tuple[str, str]] = []
            pjson = {n: params_json(p) for n, p in params.items()}
            psha = {n: params_sha256(j) for n, j in pjson.items()}
            for pe in the_plan.experiments:
                a = host.get_assay(pe.assay)
                exp = Experiment(
                    name=pe.name,
                    assay=pe.assay,
                    inputs=build_inputs(folder, pe.rows, host, hashes, meta),
                    folder=folder.resolve(),
                    has_sheet=the_plan.has_sheet,
                    figures=opts.figures,
                )
                fp = _fingerprint(a, exp, psha[pe.assay])
                order.append(pe.key)
                prev = store.experiment(pe.assay, pe.name)
                reuse = (
                    prev is not None
                    and not opts.force
                    and prev.fingerprint == fp
                    and (prev.status == DONE or (prev.status == FAILED and not opts.retry_failed))
                )
                if reuse and prev is not None:
                    statuses[pe.key] = ExperimentStatus(
                        pe.assay, pe.name, prev.status, False, 0.0, prev.error
                    )
                    continue
                task = ExperimentTask(
                    host.config,
                    pe.assay,
                    exp,
                    pjson[pe.assay],
                    psha[pe.assay],
                    run_id,
                    opts.timeout,
                )
                tasks.append((task, fp))
            timings["plan_s"] = time.perf_counter() - t

            # -- execute + store -------------------------------------------------------
            t = time.perf_counter()
            rep.start(len(order), len(order) - len(tasks))

            def store_outcome(oc: ExperimentOutcome, fp: str, task: ExperimentTask) -> None:
                figs = _write_figures(out, oc)
                store.write_experiment(
                    assay=oc.assay,
                    experiment=oc.experiment,
                    fingerprint=fp,
                    status=oc.status,
                    plugin=host.assay_plugin(oc.assay),
                    plugin_version=host.get_assay(oc.assay).version,
                    params_sha256=task.params_sha,
                    input_hashes=task.experiment.input_hashes(),
                    run_id=run_id,
                    completed_at=utc_now(),
                    duration_s=oc.duration_s,
                    error=oc.error if oc.traceback is None else f"{oc.error}\n{oc.traceback}",
                    records=oc.records,
                    conditions=oc.conditions,
                    figures=figs,
                    findings=[
                        QCFinding(
                            oc.assay,
                            oc.experiment,
                            f.flag,
                            f.severity,
                            f.sample_id,
                            f.entity,
                            f.message,
                        )
                        for f in oc.qc_flags
                    ],
                )
                st = ExperimentStatus(
                    oc.assay, oc.experiment, oc.status, True, oc.duration_s, oc.error
                )
                statuses[(oc.assay, oc.experiment)] = st
                if oc.status == DONE:
                    log.info("done %s/%s (%.2fs)", oc.assay, oc.experiment, oc.duration_s)
                else:
                    log.warning("FAILED %s/%s: %s", oc.assay, oc.experiment, oc.error)
                rep.advance(st)

            try:
                _execute(tasks, opts, host, store_outcome, statuses)
            finally:
                rep.finish()
            timings["execute_s"] = time.perf_counter() - t

            # -- export ----------------------------------------------------------------
            t = time.perf_counter()
            table = store.table(order)
            exported = _export(host, table, out, opts.exporters)
            timings["export_s"] = time.perf_counter() - t

            exp_status = [statuses[k] for k in order if k in statuses]
            exit_code = 1 if any(s.status != DONE for s in exp_status) else 0

            # -- report ----------------------------------------------------------------
            t = time.perf_counter()
            if opts.report:
                from assaykit.report import write_report

                write_report(
                    out / "report.html",
                    run_id=run_id,
                    table=table,
                    experiments=exp_status,
                    figures=store.figures(order),
                    findings=store.findings(order),
                    out=out,
                    ignored=the_plan.ignored,
                    conformance=conformance,
                )
            timings["report_s"] = time.perf_counter() - t

            summary = {
                "experiments": len(order),
                "ran": sum(1 for s in exp_status if s.ran),
                "skipped": sum(1 for s in exp_status if not s.ran),
                "done": sum(1 for s in exp_status if s.status == DONE),
                "failed": sum(1 for s in exp_status if s.status != DONE),
                "records": len(table),
            }
            findings_by_exp: dict[tuple[str, str], list[QCFinding]] = {}
            for f in store.findings(order):
                findings_by_exp.setdefault((f.assay, f.experiment), []).append(f)
            finished = utc_now()
            run_json = {
                "run_id": run_id,
                "started_at": started,
                "finished_at": finished,
                "exit_code": exit_code,
                "assaykit_version": __version__,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "folder": str(folder.resolve()),
                "out": str(out.resolve()),
                "sheet": str(Path(sheet).resolve()) if sheet is not None else None,
                "config": str(cfg.path) if cfg.path else None,
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
                "plugins": [
                    {k: d[k] for k in ("name", "version", "distribution", "status", "reason")}
                    for d in host.describe()
                ],
                "assays": {
                    n: {
                        "plugin": host.assay_plugin(n),
                        "version": host.get_assay(n).version,
                        "params": pjson[n],
                        "params_sha256": psha[n],
                    }
                    for n in sorted(params)
                },
                "inputs": [
                    {
                        "path": f,
                        "sha256": hashes.get(f),
                        "missing": hashes.get(f) is None,
                        # deviations from the file format's standard, for readers that check
                        **({"conformance": conformance[f]} if f in conformance else {}),
                    }
                    for f in files
                ],
                "ignored_files": the_plan.ignored,
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
                "timings_s": {k: round(v, 4) for k, v in timings.items()},
                "summary": summary,
            }
            with atomic_write(out / "run.json", "w", encoding="utf-8") as fh:
                json.dump(run_json, fh, indent=2, ensure_ascii=False)
            store.finish_run(run_id, finished, exit_code, summary)
        finally:
            store.close()
    return RunResult(run_id, out, exit_code, exp_status, table, the_plan.ignored)


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


def _execute(
    tasks: list[tuple[ExperimentTask, str]],
    opts: RunOptions,
    host: PluginHost,
    store_outcome: Callable[[ExperimentOutcome, str, ExperimentTask], None],
    statuses: dict[tuple[str, str], ExperimentStatus],
) -> None:
    if not tasks:
        return

    def crashed(task: ExperimentTask, why: str) -> ExperimentOutcome:
        recs = error_records(task.experiment, _context(host, task), "WorkerCrash", why)
        return _outcome(task, CRASHED, recs, time.perf_counter(), f"WorkerCrash: {why}")

    def cancel_rest(pending: list[tuple[ExperimentTask, str]]) -> None:
        for task, _ in pending:
            key = (task.assay, task.experiment.name)
            statuses[key] = ExperimentStatus(
                task.assay,
                task.experiment.name,
                CANCELLED,
                False,
                0.0,
                "not run: --fail-fast stopped the batch",
            )

    if opts.scheduler:
        _execute_dask(tasks, opts, store_outcome, crashed, cancel_rest)
        return
    if opts.workers == 0:  # in-process: for debugging; a crashing plugin takes the batch down
        for n, (task, fp) in enumerate(tasks):
            oc = execute_experiment(task, host)
            store_outcome(oc, fp, task)
            if opts.fail_fast and oc.status != DONE:
                cancel_rest(tasks[n + 1 :])
                return
        return

    from assaykit._pool import MainReimportError, SupervisedPool

    by_id = {id(task): (task, fp) for task, fp in tasks}
    stop = [False]

    def on_result(task: ExperimentTask, oc: ExperimentOutcome) -> None:
        store_outcome(oc, by_id[id(task)][1], task)
        if opts.fail_fast and oc.status != DONE:
            stop[0] = True

    def on_failure(task: ExperimentTask, why: str) -> None:
        fp = by_id[id(task)][1]
        store_outcome(crashed(task, why), fp, task)
        if opts.fail_fast:
            stop[0] = True

    pool = SupervisedPool(
        opts.workers, _worker_init, (host.config,), execute_experiment, timeout=opts.timeout
    )
    # The pool hands back this process's own task objects, so id() maps them to fingerprints.
    try:
        unstarted = pool.run([t for t, _ in tasks], on_result, on_failure, lambda: stop[0])
    except MainReimportError as exc:
        raise UsageError(str(exc)) from None
    cancel_rest([by_id[id(t)] for t in unstarted])


def _execute_dask(
    tasks: list[tuple[ExperimentTask, str]],
    opts: RunOptions,
    store_outcome: Callable[[ExperimentOutcome, str, ExperimentTask], None],
    crashed: Callable[[ExperimentTask, str], ExperimentOutcome],
    cancel_rest: Callable[[list[tuple[ExperimentTask, str]]], None],
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'assaykit[dask]'"
        ) from None
    try:
        client = Client(opts.scheduler, timeout=10, set_as_default=False)
    except Exception as exc:
        raise UsageError(f"cannot reach Dask scheduler {opts.scheduler!r}: {exc}") from None
    try:
        futs = {}
        for task, fp in tasks:
            key = f"assaykit-{task.run_id}-{sha256_text(task.assay + '/' + task.experiment.name)}"
            futs[client.submit(execute_experiment, task, key=key, pure=False)] = (task, fp)
        remaining = dict(futs)
        with client.as_current():  # as_completed looks the client up
            for fut in as_completed(list(futs)):
                task, fp = futs[fut]
                remaining.pop(fut, None)
                try:
                    oc = fut.result()
                except Exception as exc:
                    oc = crashed(task, f"{type(exc).__name__}: {exc}")
                store_outcome(oc, fp, task)
                if opts.fail_fast and oc.status != DONE:
                    for f in remaining:
                        f.cancel()
                    cancel_rest(list(remaining.values()))
                    break
    finally:
        client.close()


def default_workers() -> int:
    """The CLI's default: one worker per CPU, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))
