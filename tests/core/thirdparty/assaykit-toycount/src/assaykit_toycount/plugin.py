"""toy_threshold: the percentage of events above a threshold set by a negative control.

Its ``.counts`` files are text: optional ``# key: value`` header lines
(``instrument``, ``acquired``), then one event value per line. It exercises
every hook: an assay, a reader of a new input kind, and an exporter.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from assaykit import (
    Assay,
    AssayResult,
    Experiment,
    Exporter,
    Flag,
    InputError,
    Metric,
    Params,
    Reader,
    ResultTable,
    hookimpl,
    new_figure,
    shared_metric,
)
from pydantic import Field

MAX_BYTES = 50_000_000


class CountsReader(Reader):
    kind = "counts"
    suffixes = (".counts",)
    name = "toy event counts"

    def read(self, path: Path) -> np.ndarray:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(path, f"larger than {MAX_BYTES} bytes")
        values = []
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, start=1):
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                try:
                    values.append(float(s))
                except ValueError:
                    raise InputError(path, f"line {n}: {s[:20]!r} is not a number") from None
        return np.asarray(values, dtype=float)

    def metadata(self, path: Path) -> dict[str, str | None]:
        meta: dict[str, str | None] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for _ in range(10):
                line = fh.readline()
                if not line.startswith("#"):
                    break
                key, _, value = line[1:].partition(":")
                if key.strip() == "instrument":
                    meta["instrument"] = value.strip()
                elif key.strip() == "acquired":
                    meta["acquired_at"] = value.strip()
        return meta


class ToyParams(Params):
    percentile: float = Field(
        99.0,
        ge=50.0,
        le=100.0,
        description="Percentile of the pooled negative controls that sets the threshold (%).",
    )
    min_events: int = Field(20, ge=1, description="Fewer events than this flags low_event_count.")
    fixed_threshold: float | None = Field(
        None, description="Use this threshold (AU) instead of the controls."
    )
    delay_s: float = Field(
        0.0, ge=0.0, le=5.0, description="Sleep this long per experiment (s); for batch tests."
    )
    hard_exit_on: str | None = Field(
        None, description="Kill the worker process on this sample id; for crash tests."
    )
    hang_on: str | None = Field(
        None, description="Sleep for a minute on this sample id; for timeout tests."
    )


class ToyThreshold(Assay):
    name = "toy_threshold"
    version = "1.2.0"
    summary = "Percent of events above a threshold from the negative control."
    input_kinds = ("counts",)
    roles = ("sample", "negative_control", "positive_control")
    control_roles = ("negative_control",)
    Params = ToyParams
    metrics = (
        Metric("sample", "positive_pct", "%", "float", "percent of events above the threshold"),
        shared_metric("event_count", "sample"),
        Metric("sample", "median", "AU", "float", "median event value, linear scale"),
        Metric("sample", "call", None, "str", "'positive' when more than half are above"),
        Metric("sample", "above_control", None, "bool", "positive_pct exceeds the control's"),
        Metric("experiment", "threshold", "AU", "float", "threshold used"),
        Metric("experiment", "threshold_source", None, "str", "control sample, 'fixed' or 'auto'"),
    )
    flags = (
        Flag("threshold_auto", "warn", "No negative control: threshold is median + 3 MAD."),
        Flag("low_event_count", "warn", "Fewer events than min_events."),
    )

    def analyze(self, experiment: Experiment, params: ToyParams) -> AssayResult:
        if params.delay_s:
            time.sleep(params.delay_s)
        res = AssayResult()
        controls = experiment.by_role("negative_control")
        if params.fixed_threshold is not None:
            thr, source = params.fixed_threshold, "fixed"
        elif controls:
            ctrl = np.concatenate([experiment.read(c) for c in controls])
            thr = float(np.percentile(ctrl, params.percentile))
            source = ",".join(c.sample_id for c in controls)
        else:
            pooled = np.concatenate([experiment.read(s) for s in experiment.samples])
            med = float(np.median(pooled))
            thr = med + 3.0 * float(np.median(np.abs(pooled - med)))
            source = "auto"
            res.flag("threshold_auto", message="no negative control: median + 3 MAD of samples")
        res.add(experiment.name, "experiment", experiment.name, "threshold", thr)
        res.add(experiment.name, "experiment", experiment.name, "threshold_source", source)
        ctrl_pct = 0.0
        if controls:
            c0 = experiment.read(controls[0])
            ctrl_pct = 100.0 * float(np.mean(c0 > thr))
        for inp in experiment.by_role("sample", "positive_control"):
            if params.hard_exit_on == inp.sample_id:
                os._exit(3)
            if params.hang_on == inp.sample_id:
                time.sleep(60)
            v = experiment.read(inp)
            sid = inp.sample_id
            if v.size == 0:
                raise InputError(inp.path, "no events")
            pct = 100.0 * float(np.mean(v > thr))
            flags = ["low_event_count"] if v.size < params.min_events else []
            res.add(sid, "sample", sid, "positive_pct", pct, flags=flags)
            res.add(sid, "sample", sid, "event_count", int(v.size), flags=flags)
            res.add(sid, "sample", sid, "median", float(np.median(v)))
            res.add(sid, "sample", sid, "call", "positive" if pct > 50 else "negative")
            res.add(sid, "sample", sid, "above_control", bool(pct > ctrl_pct))
            if experiment.figures:
                fig = new_figure(4, 3)
                ax = fig.add_subplot(111)
                ax.hist(v, bins=50, color="0.4")
                ax.axvline(thr, color="red")
                ax.set_title(sid)
                res.add_figure("histogram", fig, sample_id=sid, caption=f"threshold {thr:.3g}")
        return res


class SummaryExporter(Exporter):
    name = "toy_summary"
    summary = "toy_summary.tsv: positive_pct per sample"

    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        path = out_dir / "toy_summary.tsv"
        tmp = out_dir / ".toy_summary.tsv.tmp"
        lines = ["experiment\tsample_id\tpositive_pct"]
        for d in table.dicts():
            if d["metric"] == "positive_pct":
                lines.append(f"{d['experiment']}\t{d['sample_id']}\t{d['value_num']}")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return [path]


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(ToyThreshold())


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(CountsReader())


@hookimpl
def assaykit_register_exporters(register: Callable[[Exporter], None]) -> None:
    register(SummaryExporter())
