"""Progress display for the CLI: a rich progress bar on a terminal, plain lines otherwise.

Only the CLI uses this; library code reports through the Reporter protocol
and logging, and never prints.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from assaykit.execute import ExperimentStatus, Reporter


class PlainReporter:
    """One line per finished experiment, for logs and CI (no terminal control codes)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = self.n = 0

    def start(self, total: int, skipped: int) -> None:
        self.total, self.n = total, skipped
        self.stream.write(f"assaykit: {total} experiment(s), {skipped} unchanged and skipped\n")
        self.stream.flush()

    def advance(self, status: ExperimentStatus) -> None:
        self.n += 1
        tail = f" {status.error}" if status.error else ""
        self.stream.write(
            f"[{self.n}/{self.total}] {status.status} {status.assay}/{status.experiment} "
            f"({status.duration_s:.2f} s){tail}\n"
        )
        self.stream.flush()

    def finish(self) -> None:
        pass


class RichReporter:
    """A rich progress bar on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task: Any = None
        self.failed = 0

    def start(self, total: int, skipped: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("experiments", total=total, completed=skipped, failed=0)

    def advance(self, status: ExperimentStatus) -> None:
        if status.status != "done":
            self.failed += 1
            from rich.markup import escape

            self.progress.console.print(
                f"[red]FAILED[/red] {escape(status.assay)}/{escape(status.experiment)}: "
                f"{escape(status.error or '')}",
                markup=True,
                highlight=False,
            )
        self.progress.update(self.task, advance=1, failed=self.failed)

    def finish(self) -> None:
        self.progress.stop()


def make_reporter(stream: TextIO | None = None) -> Reporter:
    s = stream or sys.stderr
    return RichReporter() if s.isatty() else PlainReporter(s)
