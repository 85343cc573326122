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


#: A six-colour panel's spillover (rows: dyes, columns: detectors), LSRII-like.
PANEL_DETECTORS = ("FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-Cy7-A")
PANEL_SPILL = np.array(
    [
        [1.0, 0.22, 0.04, 0.005, 0.0, 0.0],
        [0.015, 1.0, 0.18, 0.03, 0.002, 0.0],
        [0.012, 0.09, 1.0, 0.12, 0.05, 0.03],  # 7-AAD read in PerCP-Cy5.5: the dim control
        [0.0, 0.02, 0.06, 1.0, 0.001, 0.08],
        [0.0, 0.0, 0.03, 0.01, 1.0, 0.25],
        [0.0, 0.002, 0.01, 0.09, 0.04, 1.0],
    ]
)
#: Autofluorescence per detector for one unit of a cell's autofluorescence: bright in
#: FITC, fading to the red, and the same cell-to-cell factor in every detector (the
#: correlation that pulls a fit through the negatives).
PANEL_AF = np.array([1.0, 0.6, 0.35, 0.15, 0.08, 0.05])


def panel_controls(
    seed: int = 1,
    n: int = 50_000,
    *,
    dim: int = 2,
    dim_fraction: float = 0.025,
    dim_median: float = 2_500.0,
    af_median: float = 400.0,
) -> tuple[list[NDArray[np.float64]], NDArray[np.float64], NDArray[np.bool_]]:
    """An unstained control and six single stains of :data:`PANEL_SPILL`.

    Every cell has autofluorescence ``L * PANEL_AF`` with ``L`` lognormal (so
    it is strongly correlated across detectors); stained cells add
    ``dye @ PANEL_SPILL``; the noise grows with the signal (photon statistics).
    Control ``dim`` has few, dim positives (``dim_fraction`` of the events, dye
    median ``dim_median``), as a 7-AAD control of mostly live cells does.
    Returns (controls, unstained, true positive mask of the dim control).
    """
    rng = np.random.default_rng(seed)
    k = PANEL_SPILL.shape[0]

    def observe(true: NDArray[np.float64]) -> NDArray[np.float64]:
        m = true.shape[0]
        level = rng.lognormal(np.log(af_median), 0.5, (m, 1))
        clean = true @ PANEL_SPILL + level * PANEL_AF
        return clean + rng.normal(0.0, 1.0, clean.shape) * np.sqrt(30.0**2 + 2.0 * clean)

    controls = []
    dim_pos = np.zeros(n, dtype=bool)
    for i in range(k):
        true = np.zeros((n, k))
        frac, med = (dim_fraction, dim_median) if i == dim else (0.4, 30_000.0)
        pos = rng.random(n) < frac
        true[pos, i] = rng.lognormal(np.log(med), 0.6, int(pos.sum()))
        if i == dim:
            dim_pos = pos
        controls.append(observe(true))
    return controls, observe(np.zeros((n, k))), dim_pos
