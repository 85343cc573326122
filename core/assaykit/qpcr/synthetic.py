"""Seeded qPCR runs with known fold changes and efficiencies (truth for the tests).

Model: a reaction starting with quantity q of target t reaches threshold at
``Cq = K_t − log(q)/log(E_t)``; a sample's q is ``load_s · fold[t][s]`` (the load,
its RNA input, is random per sample and the same for every gene, so reference
genes cancel it). Replicates get Gaussian noise (``noise`` cycles). Mess: one
outlier replicate (+``outlier_shift`` cycles), one undetected replicate, a
contaminated NTC (Cq 33) and a no-RT sample 2 cycles after its +RT sample, plus a
10-fold dilution standard curve per gene.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assaykit.qpcr.wells import Well


@dataclass(frozen=True)
class Truth:
    fold: dict[str, dict[str, float]]  # target → sample → fold vs calibrator
    amplification: dict[str, float]  # gene → E
    outlier_well: str
    undetected_well: str
    ntc_well: str
    nrt_sample: str


def synthetic_run(
    seed: int,
    *,
    targets: Mapping[str, Mapping[str, float]] | None = None,
    references: Sequence[str] = ("GAPDH", "ACTB"),
    amplification: Mapping[str, float] | None = None,
    calibrator: str = "vehicle",
    replicates: int = 3,
    noise: float = 0.08,
    outlier_shift: float = 2.0,
) -> tuple[list[Well], Truth]:
    rng = random.Random(seed)
    targets = dict(
        targets
        or {
            "CYP26A1": {"isotretinoin": 8.0, "resistant": 0.25},
            "RARB": {"isotretinoin": 3.0, "resistant": 1.0},
            "ABCB1": {"isotretinoin": 1.0, "resistant": 12.0},
        }
    )
    genes = [*targets, *references]
    amp = {g: (amplification or {}).get(g, round(rng.uniform(1.85, 2.0), 3)) for g in genes}
    samples = [calibrator, *sorted({s for f in targets.values() for s in f})]
    load = {s: 10 ** rng.uniform(-0.5, 0.5) for s in samples}
    k = {g: rng.uniform(30.0, 36.0) for g in genes}
    fold = {
        t: {s: (1.0 if s == calibrator else f.get(s, 1.0)) for s in samples}
        for t, f in targets.items()
    }

    def cq(g: str, q: float) -> float:
        return k[g] - math.log(q) / math.log(amp[g])

    wells: list[Well] = []
    n = 0

    def name() -> str:
        nonlocal n
        n += 1
        r, c = divmod(n - 1, 24)
        return f"{chr(ord('A') + r)}{c + 1}"

    for s in samples:
        for g in genes:
            q = load[s] * (fold[g][s] if g in fold else 1.0) * 1e3
            for _ in range(replicates):
                wells.append(Well(name(), s, g, cq(g, q) + rng.gauss(0.0, noise)))
    # mess: an outlier replicate and an undetected replicate
    oi = next(
        i for i, w in enumerate(wells) if w.sample == samples[1] and w.target == next(iter(targets))
    )
    w = wells[oi]
    wells[oi] = Well(w.well, w.sample, w.target, (w.cq or 0.0) + outlier_shift)
    ui = next(
        i for i, w in enumerate(wells) if w.sample == samples[-1] and w.target == references[0]
    )
    w = wells[ui]
    wells[ui] = Well(w.well, w.sample, w.target, None)
    # controls: NTC per gene (one contaminated), no-RT of the calibrator per gene
    ntc_well = ""
    for i, g in enumerate(genes):
        wl = name()
        contaminated = i == 0
        ntc_well = wl if contaminated else ntc_well
        wells.append(Well(wl, "NTC", g, 33.0 if contaminated else None, role="ntc"))
    nrt = f"{calibrator} -RT"
    for i, g in enumerate(genes):
        q = load[calibrator] * 1e3
        wells.append(Well(name(), nrt, g, cq(g, q) + 2.0 if i == 0 else None, role="nrt"))
    # standard curves: 10-fold dilutions 1e1 … 1e5, duplicates
    for g in genes:
        for e in range(1, 6):
            for _ in range(2):
                wells.append(
                    Well(
                        name(),
                        f"std 1e{e}",
                        g,
                        cq(g, 10.0**e) + rng.gauss(0.0, noise),
                        role="standard",
                        quantity=10.0**e,
                    )
                )
    truth = Truth(fold, amp, wells[oi].well, wells[ui].well, ntc_well, nrt)
    return wells, truth
