"""A supervised pool of worker processes, one experiment per worker at a time.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one worker dies (a
segfault in a C extension, an ``os._exit`` in a plugin, the OOM killer), the
executor breaks and fails *every* pending task, and it cannot say which task
killed it. Here each worker holds exactly one experiment, so a dead worker
fails only that experiment, a replacement worker is started, and the batch
goes on. The parent also enforces ``--timeout`` by killing the worker, which
works even when the analysis is stuck inside C code.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)

#: Exit code of a worker whose start re-ran a batch: the script that called
#: ``assaykit.run`` lacks ``if __name__ == "__main__":`` (see :func:`refuse_in_bootstrap`).
MAIN_REIMPORT_EXIT = 86

MAIN_REIMPORT_MESSAGE = (
    "assaykit.run() was called again while a worker process was starting, because worker "
    "processes re-import your script: put the call under `if __name__ == \"__main__\":` "
    "(or pass workers=0 to run in this process)"
)


class MainReimportError(RuntimeError):
    """A worker could not start because importing the main script started a batch."""


def refuse_in_bootstrap() -> None:
    """Stop at once, quietly, when a batch is started while this process is a worker
    being bootstrapped (spawn/forkserver re-import the main script as ``__mp_main__``).

    Why: a script without the ``__main__`` guard would start a batch inside every
    worker; each fails and prints its traceback, and every experiment reads as a
    WorkerCrash. The worker exits with :data:`MAIN_REIMPORT_EXIT` instead, and the
    parent raises one clear sentence (:data:`MAIN_REIMPORT_MESSAGE`).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(MAIN_REIMPORT_EXIT)


def _worker_main(
    conn: Connection, init: Callable[..., Any], init_args: tuple[Any, ...], fn: Callable[[Any], Any]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    init(*init_args)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = ("ok", fn(task))
        except BaseException as exc:  # fn is expected to catch; this is the last resort
            result = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(result)
        except Exception as exc:  # e.g. an unpicklable result
            conn.send(("error", f"result could not be sent back: {type(exc).__name__}: {exc}"))


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    task: Any = None
    started: float = 0.0


class SupervisedPool:
    """Run ``fn(task)`` for each task on ``workers`` processes; report each result or failure.

    ``on_result(task, result)`` is called for a normal return,
    ``on_failure(task, reason)`` when the worker died, timed out, or raised.
    ``should_stop()`` is consulted after each result; when it returns True no
    further task is started, in-flight ones finish, and the unstarted tasks
    are returned.
    """

    def __init__(
        self,
        workers: int,
        init: Callable[..., Any],
        init_args: tuple[Any, ...],
        fn: Callable[[Any], Any],
        timeout: float | None = None,
    ) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.n = max(1, workers)
        self.init, self.init_args, self.fn = init, init_args, fn
        self.timeout = timeout
        self.slots: list[_Slot] = []

    def _start(self) -> _Slot:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=_worker_main, args=(child, self.init, self.init_args, self.fn), daemon=True
        )
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def _kill(self, slot: _Slot) -> None:
        try:
            slot.proc.kill()
            slot.proc.join(5)
        except Exception:  # pragma: no cover - already gone
            pass
        slot.conn.close()

    def run(
        self,
        tasks: Iterable[Any],
        on_result: Callable[[Any, Any], None],
        on_failure: Callable[[Any, str], None],
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[Any]:
        queue = deque(tasks)
        self.slots = [self._start() for _ in range(min(self.n, len(queue)))]
        stopping = False
        try:
            while True:
                for slot in self.slots:
                    if slot.task is None and queue and not stopping:
                        task = queue.popleft()
                        try:
                            slot.conn.send(task)
                        except Exception as exc:
                            slot.proc.join(1)
                            if slot.proc.exitcode == MAIN_REIMPORT_EXIT:
                                raise MainReimportError(MAIN_REIMPORT_MESSAGE) from None
                            on_failure(task, f"could not send the experiment to a worker: {exc}")
                            continue
                        slot.task, slot.started = task, time.monotonic()
                busy = [s for s in self.slots if s.task is not None]
                if not busy:
                    break
                wait_for = self._wait_time(busy)
                ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], wait_for)
                for i, slot in enumerate(list(self.slots)):
                    if slot.task is None:
                        continue
                    if slot.conn in ready or slot.proc.sentinel in ready:
                        self._collect(i, slot, on_result, on_failure)
                    elif self.timeout and time.monotonic() - slot.started > self.timeout:
                        task = slot.task
                        self._kill(slot)
                        self.slots[i] = self._start()
                        on_failure(
                            task,
                            f"TimeoutError: analysis took longer than "
                            f"{self.timeout:g} s (--timeout); its worker was stopped",
                        )
                if not stopping and should_stop():
                    stopping = True
            return list(queue)
        finally:
            for slot in self.slots:
                if slot.task is None and slot.proc.is_alive():
                    with contextlib.suppress(Exception):
                        slot.conn.send(None)
            for slot in self.slots:
                slot.proc.join(2)
                if slot.proc.is_alive():
                    self._kill(slot)
                else:
                    slot.conn.close()

    def _wait_time(self, busy: list[_Slot]) -> float | None:
        if not self.timeout:
            return None
        now = time.monotonic()
        return max(0.0, min(self.timeout - (now - s.started) for s in busy)) + 0.05

    def _collect(
        self,
        i: int,
        slot: _Slot,
        on_result: Callable[[Any, Any], None],
        on_failure: Callable[[Any, str], None],
    ) -> None:
        task = slot.task
        msg = None
        try:
            if slot.conn.poll():
                msg = slot.conn.recv()
        except (EOFError, OSError):
            msg = None
        except Exception as exc:
            msg = ("error", f"result could not be read: {type(exc).__name__}: {exc}")
        slot.task = None
        if msg is None:
            slot.proc.join(5)  # the pipe closes a moment before the exit code is known
            code = slot.proc.exitcode
            if code == MAIN_REIMPORT_EXIT:  # every worker would fail the same way: stop now
                raise MainReimportError(MAIN_REIMPORT_MESSAGE)
            self._kill(slot)
            self.slots[i] = self._start()
            why = (
                f"worker process died (exit code {code})"
                if code is not None
                else "worker process died"
            )
            on_failure(task, why)
            return
        kind, payload = msg
        if kind == "ok":
            on_result(task, payload)
        else:
            on_failure(task, payload)
