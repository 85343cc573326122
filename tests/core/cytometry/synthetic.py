"""Generated events with known labels: test truth that does not come from the code under test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass
class ScatterSample:
    fsc_a: NDArray[np.float64]
    fsc_h: NDArray[np.float64]
    ssc_a: NDArray[np.float64]
    is_debris: NDArray[np.bool_]
    is_doublet: NDArray[np.bool_]

    def columns(self) -> dict[str, NDArray[np.float64]]:
        return {"FSC-A": self.fsc_a, "FSC-H": self.fsc_h, "SSC-A": self.ssc_a}


def scatter_sample(
    n: int = 50_000,
    debris_fraction: float = 0.15,
    doublet_fraction: float = 0.08,
    seed: int = 0,
) -> ScatterSample:
    """Cells, debris and doublets on FSC-A/FSC-H/SSC-A (18-bit-like linear scale).

    Cells: FSC-A ~ N(80k, 12k); pulse height/area ratio 0.80 with 2.5 % CV.
    Debris: FSC-A ~ gamma piling up near the trigger threshold (~3k–25k).
    Doublets: two cells in one pulse; area adds, height is the larger
    height times 1.0–1.25 (the two cells only partly overlap in time).
    """
    rng = np.random.default_rng(seed)
    n_deb = int(n * debris_fraction)
    n_dbl = int(n * doublet_fraction)
    n_cell = n - n_deb - n_dbl

    def cells(k: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        a = rng.normal(80_000, 12_000, k).clip(20_000, None)
        h = a * 0.80 * (1 + rng.normal(0, 0.025, k))
        s = rng.normal(50_000, 10_000, k).clip(1_000, None)
        return a, h, s

    ca, ch, cs = cells(n_cell)
    da = 3_000 + rng.gamma(2.0, 4_000, n_deb)
    dh = da * 0.80 * (1 + rng.normal(0, 0.04, n_deb))
    ds = rng.gamma(2.0, 6_000, n_deb)
    a1, h1, s1 = cells(n_dbl)
    a2, h2, s2 = cells(n_dbl)
    ba = a1 + a2
    bh = np.maximum(h1, h2) * rng.uniform(1.0, 1.25, n_dbl)
    bs = s1 + s2
    fsc_a = np.concatenate([ca, da, ba])
    fsc_h = np.concatenate([ch, dh, bh])
    ssc_a = np.concatenate([cs, ds, bs])
    is_debris = np.concatenate(
        [np.zeros(n_cell, bool), np.ones(n_deb, bool), np.zeros(n_dbl, bool)]
    )
    is_doublet = np.concatenate([np.zeros(n_cell + n_deb, bool), np.ones(n_dbl, bool)])
    order = rng.permutation(n)
    return ScatterSample(
        fsc_a[order], fsc_h[order], ssc_a[order], is_debris[order], is_doublet[order]
    )


def spillover_sample(
    spill: NDArray[np.float64],
    n: int = 20_000,
    seed: int = 1,
    positive_fraction: float = 0.5,
    autofluorescence: float = 300.0,
    noise: float = 40.0,
) -> tuple[list[NDArray[np.float64]], NDArray[np.float64]]:
    """Single-stain controls and an unstained control from a known spillover.

    True dye abundance: 0 for negatives, lognormal (median 20k) for positives;
    observed detectors = true @ spill + autofluorescence + Gaussian noise.
    Returns (one observed array per stain, unstained observed array).
    """
    rng = np.random.default_rng(seed)
    k = spill.shape[0]

    def observe(true: NDArray[np.float64]) -> NDArray[np.float64]:
        m = true.shape[0]
        af = rng.lognormal(np.log(autofluorescence), 0.3, (m, 1)) * np.ones((1, spill.shape[1]))
        return true @ spill + af + rng.normal(0, noise, (m, spill.shape[1]))

    controls = []
    for i in range(k):
        true = np.zeros((n, k))
        pos = rng.random(n) < positive_fraction
        true[pos, i] = rng.lognormal(np.log(20_000), 0.6, int(pos.sum()))
        controls.append(observe(true))
    unstained = observe(np.zeros((n, k)))
    return controls, unstained
