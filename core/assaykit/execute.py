"""The execute stage: run each planned experiment in-process, on a worker pool or on Dask.

It knows nothing about any assay: the same :func:`execute_experiment` runs
in every worker, so the results are the same everywhere. What comes back
(:class:`ExperimentOutcome`) goes to the store stage through a callback;
nothing here writes into the output folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from assaykit.assay import Assay, AssayResult, FigureData, Params, QCFlag
from assaykit.errors import AssaykitError, PluginError, UsageError
from assaykit.experiment import Experiment
from assaykit.plugins import HostConfig, PluginHost, host_for
from assaykit.records import (
    Record,
    RecordContext,
    complete_records,
    error_records,
    measurement_pools,
    sample_conditions,
    sha256_text,
    utc_now,
)

# the batch's log: `assaykit run` quiets "assaykit.batch" unless -v, so both stages log there
log = logging.getLogger("assaykit.batch")

DONE, FAILED, CRASHED, CANCELLED = "done", "failed", "crashed", "cancelled"


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
    #: the plan's fingerprint of this experiment, under which the store keeps its result
    fingerprint: str = ""


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


def _conditions(
    exp: Experiment, records: Sequence[Record], result: AssayResult | None
) -> dict[str, dict[str, str]]:
    pools = measurement_pools(result.measurements) if result is not None else {}
    return sample_conditions(exp, {r.sample_id for r in records}, pools)


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
        _conditions(exp, records, result),
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
    exp.with_readers(host.readers_by_kind(), host.readers_by_key())
    missing = [i for i in exp.inputs if i.missing]
    records: list[Record] = []
    for i in missing:
        records += error_records(
            exp, ctx, "MissingInputError", f"{i.relpath}: file does not exist", [i]
        )
    if len(missing) == len(exp.inputs):
        err = f"MissingInputError: {_missing_text(missing)} (every input of the experiment)"
        return _outcome(task, FAILED, records, t0, err)
    # a file two readers claim equally is an error of its own; the rest still runs
    conflicted = [i for i in exp.inputs if i.unreadable and not i.missing]
    for i in conflicted:
        records += error_records(exp, ctx, "ReaderConflict", i.unreadable, [i])
    if conflicted:
        if len(conflicted) + len(missing) == len(exp.inputs):
            err = "ReaderConflict: " + "; ".join(i.unreadable for i in conflicted)
            return _outcome(task, FAILED, records, t0, err)
        exp = dataclasses.replace(exp, inputs=[i for i in exp.inputs if not i.unreadable])
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
    if conflicted:
        problems.append("ReaderConflict: " + "; ".join(i.unreadable for i in conflicted))
    if result.failures:
        # a plate that cannot be read fails each of its 96 samples for one reason: say it once
        reasons: dict[str, int] = {}
        for f in result.failures:
            why = f"{f.source}: {f.error_type}: {f.message}"
            why = why.replace(f"{exp.folder}{os.sep}", "") if exp.folder is not None else why
            reasons[why] = reasons.get(why, 0) + 1
        shown = "; ".join(
            why + (f" ({n} samples)" if n > 1 else "") for why, n in list(reasons.items())[:3]
        )
        more = len(reasons) - 3
        problems.append(
            f"{len(result.failures)} sample(s) could not be analysed: {shown}"
            + (f"; and {more} more reason(s)" if more > 0 else "")
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
# statuses and progress
# --------------------------------------------------------------------------------------
@dataclass
class ExperimentStatus:
    assay: str
    experiment: str
    status: str
    ran: bool
    duration_s: float
    error: str | None = None


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


# --------------------------------------------------------------------------------------
# dispatch: in-process, supervised pool, Dask
# --------------------------------------------------------------------------------------
def _worker_init(config: HostConfig) -> None:
    host_for(config)


@dataclass
class Dispatch:
    """Where and how the execute stage runs its tasks (the run's options that matter here).

    ``workers``: worker processes, each experiment isolated in one; 0 runs
    in this process. ``scheduler``: a Dask scheduler address instead.
    """

    workers: int = 1
    scheduler: str | None = None
    fail_fast: bool = False
    timeout: float | None = None


OnOutcome = Callable[[ExperimentTask, ExperimentOutcome], None]


def execute_tasks(
    tasks: Sequence[ExperimentTask], host: PluginHost, how: Dispatch, on_outcome: OnOutcome
) -> list[ExperimentStatus]:
    """Run every task; hand each outcome to ``on_outcome`` as it arrives (the store stage).

    A worker that dies or hangs becomes a ``WorkerCrash`` outcome for its
    experiment only. Returns the statuses of tasks never started because
    ``fail_fast`` stopped the batch.
    """
    if not tasks:
        return []

    def crashed(task: ExperimentTask, why: str) -> ExperimentOutcome:
        recs = error_records(task.experiment, _context(host, task), "WorkerCrash", why)
        return _outcome(task, CRASHED, recs, time.perf_counter(), f"WorkerCrash: {why}")

    if how.scheduler:
        return _cancelled(_execute_dask(tasks, how, on_outcome, crashed))
    if how.workers == 0:  # in-process: for debugging; a crashing plugin takes the batch down
        for n, task in enumerate(tasks):
            oc = execute_experiment(task, host)
            on_outcome(task, oc)
            if how.fail_fast and oc.status != DONE:
                return _cancelled(tasks[n + 1 :])
        return []

    from assaykit._pool import MainReimportError, SupervisedPool

    stop = [False]

    def on_result(task: ExperimentTask, oc: ExperimentOutcome) -> None:
        on_outcome(task, oc)
        if how.fail_fast and oc.status != DONE:
            stop[0] = True

    def on_failure(task: ExperimentTask, why: str) -> None:
        on_outcome(task, crashed(task, why))
        if how.fail_fast:
            stop[0] = True

    pool = SupervisedPool(
        how.workers, _worker_init, (host.config,), execute_experiment, timeout=how.timeout
    )
    try:
        unstarted = pool.run(list(tasks), on_result, on_failure, lambda: stop[0])
    except MainReimportError as exc:
        raise UsageError(str(exc)) from None
    return _cancelled(unstarted)


def _cancelled(pending: Iterable[ExperimentTask]) -> list[ExperimentStatus]:
    return [
        ExperimentStatus(
            t.assay,
            t.experiment.name,
            CANCELLED,
            False,
            0.0,
            "not run: --fail-fast stopped the batch",
        )
        for t in pending
    ]


def _execute_dask(
    tasks: Sequence[ExperimentTask],
    how: Dispatch,
    on_outcome: OnOutcome,
    crashed: Callable[[ExperimentTask, str], ExperimentOutcome],
) -> list[ExperimentTask]:
    """Run on a Dask cluster; return the tasks cancelled by ``fail_fast``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'assaykit[dask]'"
        ) from None
    try:
        client = Client(how.scheduler, timeout=10, set_as_default=False)
    except Exception as exc:
        raise UsageError(f"cannot reach Dask scheduler {how.scheduler!r}: {exc}") from None
    try:
        futs = {}
        for task in tasks:
            key = f"assaykit-{task.run_id}-{sha256_text(task.assay + '/' + task.experiment.name)}"
            futs[client.submit(execute_experiment, task, key=key, pure=False)] = task
        remaining = dict(futs)
        with client.as_current():  # as_completed looks the client up
            for fut in as_completed(list(futs)):
                task = futs[fut]
                remaining.pop(fut, None)
                try:
                    oc = fut.result()
                except Exception as exc:
                    oc = crashed(task, f"{type(exc).__name__}: {exc}")
                on_outcome(task, oc)
                if how.fail_fast and oc.status != DONE:
                    for f in remaining:
                        f.cancel()
                    return list(remaining.values())
    finally:
        client.close()
    return []


def default_workers() -> int:
    """The CLI's default: one worker per CPU, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))
