"""What QC figures cost: batch runs with and without figures, and each figure kind alone.

(a) ``assaykit.run`` on ``fixtures/example-folder`` with figures and with
    ``figures=False`` (``--no-figures`` on the CLI), 1 and 2 workers;
(b) a generated Annexin V / PI plate (``--tubes`` tubes of ``--events`` events,
    ``--per-experiment`` tubes per experiment, each experiment with its
    unstained and single-stain controls), the same four runs;
(c) the cost of one figure of each kind: the flow figure functions are
    captured with their real arguments during an in-process run and then
    timed alone (drawing + PNG rendering); for every assay of the example
    folder, the PNG rendering alone (``render_png``) per figure name.

Target (issue 14): a figure costs <= 40 ms.

    python bench/bench_figures.py [--tubes 96] [--events 50000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _fixtures import load_generator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example-folder"




def make_plate(folder: Path, tubes: int, events: int, per_experiment: int) -> int:
    """Write ``tubes`` FCS files in experiments of ``per_experiment`` tubes; return #experiments.

    Each experiment starts with the three controls (unstained, Annexin-only,
    PI-only) of the generator and fills up with samples of rising apoptosis.
    """
    mk = load_generator()
    folder.mkdir(parents=True)
    base = mk.default_tubes()
    controls, samples = base[:3], base[3:]
    rows: list[list[str]] = []
    k = 0
    exp_i = 0
    while k < tubes:
        n = min(per_experiment, tubes - k)
        exp = f"plate_{exp_i:02d}"
        chosen = (list(controls) + [samples[j % len(samples)] for j in range(n)])[:n]
        for j, t in enumerate(chosen):
            sid = f"{exp}_{j:02d}_{t.sample_id}"
            tube = mk.Tube(sid, t.role, t.fractions, annexin=t.annexin, pi=t.pi,
                           conditions=dict(t.conditions))
            mk.write_tube(folder / f"{sid}.fcs", tube, n_events=events, seed=11, index=k)
            rows.append([f"{sid}.fcs", "annexin_pi", exp, sid, t.role]
                        + [t.conditions.get(c, "") for c in mk.CONDITION_COLUMNS])
            k += 1
        exp_i += 1
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*mk.SHEET_COLUMNS, *mk.CONDITION_COLUMNS])
        w.writerows(rows)
    return exp_i


def timed_run(folder: Path, out: Path, workers: int, figures: bool) -> tuple[float, int]:
    import assaykit

    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = assaykit.run(folder, out, workers=workers, figures=figures)
    dt = time.perf_counter() - t0
    assert res.exit_code == 0, f"run of {folder} failed"
    n_png = sum(1 for _ in (out / "figures").rglob("*.png")) if (out / "figures").exists() else 0
    return dt, n_png


def batch_table(name: str, folder: Path, root: Path, workers: list[int],
                repeats: int) -> list[str]:
    lines = [f"== {name}"]
    for w in workers:
        t: dict[bool, list[float]] = {True: [], False: []}
        n_png = 0
        for i in range(repeats):
            for fig in ((True, False) if i % 2 == 0 else (False, True)):
                dt, n = timed_run(folder, root / f"out_{w}_{fig}", w, fig)
                t[fig].append(dt)
                n_png = max(n_png, n)
        with_, without = min(t[True]), min(t[False])
        share = 100.0 * (with_ - without) / with_
        lines.append(
            f"  workers {w}: with figures {with_:7.2f} s  without {without:7.2f} s  "
            f"ratio {with_ / without:5.2f}x  figures {share:4.1f} % of the run  "
            f"({n_png} PNGs, {1e3 * (with_ - without) / max(n_png, 1):6.1f} ms/figure "
            f"wall, min of {repeats})"
        )
    return lines


# -- (c) per-figure cost -----------------------------------------------------------------
#: (module, function, figure kind) of the flow figure functions timed alone
FLOW_FIGURES = (
    ("assaykit.cytometry.figures", "cleanup_figure", "cleanup (flow layer)"),
    ("assaykit_annexin.figures", "draw_unit", "annexin_pi quadrants"),
    ("assaykit_annexin.figures", "draw_thresholds", "annexin_pi thresholds"),
    ("assaykit_tunel.analysis", "_figure", "tunel"),
    ("assaykit_rh123.analysis", "_group_figure", "rh123_overlay"),
    ("assaykit_rh123.analysis", "_gate_figure", "rh123_gates"),
)


@contextmanager
def capture_calls() -> Iterator[dict[str, tuple[Callable[..., Any], tuple, dict]]]:
    """Record the first call of every flow figure function (its real arguments)."""
    import importlib

    seen: dict[str, tuple[Callable[..., Any], tuple, dict]] = {}
    undo: list[tuple[Any, str, Any]] = []
    for modname, fname, kind in FLOW_FIGURES:
        mod = importlib.import_module(modname)
        orig = getattr(mod, fname)

        def wrapper(*a: Any, _o: Any = orig, _k: str = kind, **kw: Any) -> Any:
            seen.setdefault(_k, (_o, a, kw))
            return _o(*a, **kw)

        functools.update_wrapper(wrapper, orig)
        setattr(mod, fname, wrapper)
        undo.append((mod, fname, orig))
    try:
        yield seen
    finally:
        for mod, fname, orig in undo:
            setattr(mod, fname, orig)


@contextmanager
def render_timer() -> Iterator[dict[str, list[float]]]:
    """Time ``render_png`` inside ``AssayResult.add_figure``, per figure name."""
    import assaykit.assay as am

    times: dict[str, list[float]] = defaultdict(list)
    orig_render, orig_add = am.render_png, am.AssayResult.add_figure
    current: list[str] = [""]

    def add_figure(self: Any, name: str, *a: Any, **kw: Any) -> Any:
        current[0] = name
        return orig_add(self, name, *a, **kw)

    def render(fig: Any, *a: Any, **kw: Any) -> bytes:
        t0 = time.process_time()
        out = orig_render(fig, *a, **kw)
        times[current[0]].append(time.process_time() - t0)
        return out

    am.render_png = render  # type: ignore[assignment]
    am.AssayResult.add_figure = add_figure  # type: ignore[method-assign]
    try:
        yield times
    finally:
        am.render_png = orig_render  # type: ignore[assignment]
        am.AssayResult.add_figure = orig_add  # type: ignore[method-assign]


def time_figure(kind: str, fn: Callable[..., Any], args: tuple, kwargs: dict,
                repeats: int) -> float:
    """Median CPU ms of one call of a captured figure function (drawing + PNG), fresh result.

    Why CPU time (``process_time``): drawing is single-threaded, and on a shared
    machine the wall time of a 50 ms call swings with other people's load.
    """""
    import assaykit.cytometry.flow as flow
    from assaykit import AssayResult
    from assaykit.assay import render_png

    def one() -> None:
        a = tuple(AssayResult() if isinstance(x, AssayResult) else x for x in args)
        out = fn(*a, **kwargs)
        if kind.startswith("cleanup"):
            render_png(out)

    # the quadrant function also adds the cleanup figure: time that separately
    mod = sys.modules.get("assaykit_annexin.figures")
    saved = getattr(mod, "add_cleanup_figure", None)
    if mod is not None:
        mod.add_cleanup_figure = lambda *a, **k: None  # type: ignore[attr-defined]
    try:
        one()
        ts = []
        for _ in range(repeats):
            t0 = time.process_time()
            one()
            ts.append(time.process_time() - t0)
    finally:
        if mod is not None and saved is not None:
            mod.add_cleanup_figure = saved  # type: ignore[attr-defined]
    del flow
    return 1e3 * statistics.median(ts)


def figure_costs(plate: Path, root: Path, repeats: int) -> list[str]:
    import assaykit

    lines = ["== (c) one figure of each kind, drawn and rendered alone (median CPU ms)"]
    with capture_calls() as seen:
        # in-process so the captured arguments are ours
        assaykit.run(EXAMPLE, root / "cap_ex", workers=0, figures=True, report=False)
        captured_example = dict(seen)
        seen.clear()
        assaykit.run(plate, root / "cap_plate", workers=0, figures=True, report=False)
        captured_plate = dict(seen)
    for label, captured in (("example folder", captured_example),
                            ("Annexin plate tubes", captured_plate)):
        for _, _, kind in FLOW_FIGURES:
            if kind not in captured:
                continue
            fn, a, kw = captured[kind]
            ms = time_figure(kind, fn, a, kw, repeats)
            lines.append(f"  {label:20s} {kind:24s} {ms:7.1f} ms")
    lines.append("== (c) PNG rendering alone (render_png) per figure name, example folder "
                 "(median CPU ms, n figures)")
    with render_timer() as times:
        assaykit.run(EXAMPLE, root / "render_ex", workers=0, figures=True, report=False)
    for name in sorted(times):
        v = times[name]
        lines.append(f"  {name[:40]:40s} {1e3 * statistics.median(v):7.1f} ms  (n={len(v)})")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tubes", type=int, default=96)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--per-experiment", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=5, help="repeats of each figure timing")
    ap.add_argument("--run-repeats", type=int, default=1, help="repeats of each batch run")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-batch", action="store_true", help="only (c)")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="assaykit-bench-figures-"))
    out: list[str] = []
    try:
        plate = root / "plate"
        n_exp = make_plate(plate, args.tubes, args.events, args.per_experiment)
        if not args.skip_batch:
            out += batch_table("(a) example folder", EXAMPLE, root, args.workers,
                               args.run_repeats)
            print("\n".join(out), flush=True)
            lines = batch_table(
                f"(b) Annexin plate: {args.tubes} tubes x {args.events:,} events, "
                f"{n_exp} experiments", plate, root, args.workers, args.run_repeats)
            print("\n".join(lines), flush=True)
            out += lines
        lines = figure_costs(plate, root, args.repeats)
        print("\n".join(lines), flush=True)
        out += lines
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
