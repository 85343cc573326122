"""Benchmark: annexin_pi vs the same gating done with FlowKit, on one 1,000,000 x 12 sample.

Baseline, measured in the same run: FlowKit (``Sample`` + ``GatingStrategy``)
applying the *same* gates to the same file — the file's own ``$SPILLOVER``
(compensation reference ``FCS``), a debris gate ``FSC-A >= cutoff``, a
singlet gate on the ratio ``FSC-H/FSC-A`` and the Annexin V/PI quadrant gate
at the same thresholds — with the boundaries taken from assaykit's own
analysis of the file. Ours: the whole ``annexin_pi`` analysis (which also
*finds* those boundaries), figures off. Both read the file from the page
cache every time. The quadrant counts of the two are compared, as a check
that the gating really is the same. Target: assaykit at least 10x faster.

FlowKit is optional (``pip install 'assaykit[flowkit]'``); without it the
script says so and exits 0.

    python bench/bench_annexin_flowkit.py [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _fixtures import load_generator
from assaykit import HostConfig, Input, PluginHost, analyze
from assaykit.api import make_experiment
from assaykit.cytometry.fcs import read_fcs
from assaykit.cytometry.prepare import prepare_events

ROOT = Path(__file__).resolve().parents[1]
QUADS = ("viable_pct", "early_apoptotic_pct", "late_apoptotic_pct", "necrotic_pct")




def timeit(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def flowkit_strategy(fk: Any, cutoff: float, lo: float, hi: float, ta: float, tp: float) -> Any:
    """The annexin_pi gates as a FlowKit GatingStrategy (Gating-ML 2.0 semantics)."""
    gs = fk.GatingStrategy()
    gs.add_transform("fsc_ratio", fk.transforms.RatioTransform(["FSC-H", "FSC-A"], 1.0, 0.0, 0.0))
    cells = fk.gates.RectangleGate(
        "cells", [fk.Dimension("FSC-A", compensation_ref="uncompensated", range_min=cutoff)]
    )
    gs.add_gate(cells, ("root",))
    singlets = fk.gates.RectangleGate(
        "singlets",
        [fk.RatioDimension("fsc_ratio", compensation_ref="uncompensated", range_min=lo,
                           range_max=hi)],
    )  # fmt: skip
    gs.add_gate(singlets, ("root", "cells"))
    dividers = [
        fk.QuadrantDivider("ann", "FITC-A", compensation_ref="FCS", values=[ta]),
        fk.QuadrantDivider("pi", "PE-A", compensation_ref="FCS", values=[tp]),
    ]
    quads = [
        fk.gates.Quadrant("viable", ["ann", "pi"], [[None, ta], [None, tp]]),
        fk.gates.Quadrant("early", ["ann", "pi"], [[ta, None], [None, tp]]),
        fk.gates.Quadrant("late", ["ann", "pi"], [[ta, None], [tp, None]]),
        fk.gates.Quadrant("necrotic", ["ann", "pi"], [[None, ta], [tp, None]]),
    ]
    gs.add_gate(fk.gates.QuadrantGate("quadrants", dividers, quads), ("root", "cells", "singlets"))
    return gs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    out = sys.stdout
    try:
        import flowkit as fk
    except ImportError:
        out.write("FlowKit is not installed (pip install 'assaykit[flowkit]'); no comparison\n")
        return 0
    logging.getLogger("flowkit").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    mk = load_generator()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.fcs"
        mk.make_large_sample(path, n_events=args.events)
        host = PluginHost(HostConfig(autoload=False, load=("annexin",)))
        inp = Input.from_path(path, kind="fcs", role="sample")
        exp = make_experiment("annexin_pi", [inp], host=host)
        assay = host.get_assay("annexin_pi")
        params = assay.Params()
        res = analyze("annexin_pi", exp, figures=False, host=host)
        sid, ename = inp.sample_id, exp.name
        ta = float(res.value(ename, "annexin_threshold"))
        tp = float(res.value(ename, "pi_threshold"))
        prep = prepare_events(
            read_fcs(path), ["FITC-A", "PE-A"], cleanup=params.cleanup_params(),
            fit_events=params.fit_events,
        )  # fmt: skip
        cl = prep.cleanup
        assert cl is not None and cl.fsc_cutoff is not None
        assert cl.ratio_low is not None and cl.ratio_high is not None
        gs = flowkit_strategy(fk, cl.fsc_cutoff, cl.ratio_low, cl.ratio_high, ta, tp)

        fk_result: list[Any] = []

        def flowkit_run() -> None:
            sample = fk.Sample(str(path), sample_id="large", subsample=0)
            fk_result[:] = [gs.gate_sample(sample)]

        def ours() -> None:
            analyze("annexin_pi", exp, figures=False, host=host)

        t_fk = timeit(flowkit_run, args.repeats)
        t_us = timeit(ours, max(args.repeats, 5))
        gr = fk_result[0]
        n_fk = {q: gr.get_gate_count(q) for q in ("viable", "early", "late", "necrotic")}
        total = sum(n_fk.values())
        fk_pct = {m: 100.0 * n_fk[q] / total for m, q in zip(QUADS, n_fk)}
        med_fk, med_us = statistics.median(t_fk), statistics.median(t_us)
        out.write(f"file: {args.events:,} events x 12 channels float32\n")
        out.write(f"FlowKit {fk.__version__} Sample + GatingStrategy   {1e3 * med_fk:9.1f} ms\n")
        out.write(f"assaykit annexin_pi (no figures)         {1e3 * med_us:9.1f} ms\n")
        speedup = med_fk / med_us
        out.write(f"speed-up (FlowKit / ours, medians)       {speedup:9.1f} x  (target >= 10)\n")
        out.write(f"singlets: FlowKit {total}, assaykit {int(res.value(sid, 'singlet_count'))}\n")
        for m in QUADS:
            out.write(f"  {m:22s} FlowKit {fk_pct[m]:7.3f}  assaykit {res.value(sid, m):7.3f}\n")
        np.testing.assert_allclose(
            [fk_pct[m] for m in QUADS], [res.value(sid, m) for m in QUADS], atol=0.01
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
