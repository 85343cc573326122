"""Seeded western-blot experiments whose answers come from the generator's labels.

Every expected number here is computed from ``make_blot``'s truth (band
volumes it rendered, which bands it clipped), never from the plugin.

Layouts:

``two_strip``
    one image, the target on the top strip and the loading control (ACTB) on
    the bottom strip, same lanes (``strip`` column 1 and 2);
``separate``
    two images of the same lanes: ``target.tif`` and ``loading.tif``.

Lane 1 is the reference sample. Target and loading volumes vary per lane.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from assaykit import AnalysisResult, Experiment, Input, PluginHost, Record, analyze
from assaykit.imaging.synthetic import SyntheticImage, make_blot

ROW_TARGET = 0.45
ROW_LOADING = 0.55


@dataclass
class Truth:
    """Expected values of one sample (from the generator)."""

    sample_id: str
    lane: int
    target_volume: float
    loading_volume: float
    target_saturated: bool
    loading_saturated: bool
    ratio: float = float("nan")
    fold_change: float = float("nan")


@dataclass
class WesternCase:
    """A folder with images, a samples.csv and the truth of every sample."""

    folder: Path
    target: str
    truth: dict[str, Truth]
    rows: list[dict[str, str]]
    images: dict[str, SyntheticImage] = field(default_factory=dict)

    def write_sheet(self) -> Path:
        """Write ``samples.csv`` from ``rows`` (after a test edited them)."""
        columns: list[str] = []
        for r in self.rows:
            columns += [k for k in r if k not in columns]
        path = self.folder / "samples.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["assay", *columns])
            w.writeheader()
            for r in self.rows:
                w.writerow({"assay": "western_blot", **r})
        return path

    def experiment(self, name: str = "blot") -> Experiment:
        """The experiment the sample sheet describes, built in memory."""
        inputs = []
        for n, r in enumerate(self.rows, start=2):
            conditions = {
                k: v for k, v in r.items() if k not in ("file", "lane", "role", "sample_id")
            }
            inp = Input.from_path(
                self.folder / r["file"],
                kind="image",
                role=r["role"],
                sample_id=r["sample_id"],
                lane=int(r["lane"]),
                conditions=conditions,
                root=self.folder,
            )
            inputs.append(dataclasses.replace(inp, row=n))
        return Experiment(name, "western_blot", inputs, folder=self.folder)


def default_volumes(seed: int, n_lanes: int) -> tuple[list[float], list[float]]:
    """Seeded target and loading volumes (AU): targets vary 6-fold, loading +/- 25 %."""
    rng = np.random.default_rng(seed + 1000)
    target = list(rng.uniform(0.4e6, 2.4e6, n_lanes))
    loading = list(rng.uniform(1.5e6, 2.5e6, n_lanes))
    return [float(v) for v in target], [float(v) for v in loading]


def kda_row(kda: float, top: float = 0.12, bottom: float = 0.9) -> float:
    """Row fraction of a protein of ``kda`` on the generated gel: linear in log10(kDa)
    between 180 kDa (``top``) and 10 kDa (``bottom``), as on a 4-20 % gradient gel."""
    f = (math.log10(180.0) - math.log10(kda)) / (math.log10(180.0) - math.log10(10.0))
    return top + (bottom - top) * f


def _bands_of(syn: SyntheticImage, strip: int, row: float) -> dict[int, dict[str, Any]]:
    """Per lane, the truth of the band nearest ``row`` (a fraction of the strip height)."""
    r0, r1 = syn.truth["strips"][strip]
    want = r0 + row * (r1 - r0)
    out: dict[int, dict[str, Any]] = {}
    for b in syn.truth["bands"]:
        if b["strip"] != strip:
            continue
        cur = out.get(b["lane"])
        if cur is None or abs(b["row"] - want) < abs(cur["row"] - want):
            out[b["lane"]] = b
    return out


def make_case(
    folder: Path,
    seed: int,
    *,
    layout: str = "two_strip",
    n_lanes: int = 6,
    target: str = "RARB",
    target_volumes: list[float] | None = None,
    loading_volumes: list[float] | None = None,
    target_bands: list[list[tuple[float, float]]] | None = None,
    truth_row: float = ROW_TARGET,
    ladder_kda: tuple[float, ...] | None = None,
    blank_lanes: tuple[int, ...] = (),
    n_lanes_column: bool = False,
    **blot: Any,
) -> WesternCase:
    """Write one experiment (images + samples.csv) and return it with its truth.

    ``target_bands`` replaces the single target band per lane (its band of
    interest is the one nearest ``truth_row``). ``ladder_kda`` adds a ladder
    lane at the right (bands at :func:`kda_row`). ``blank_lanes`` (1-based)
    are empty lanes with a ``blank`` row. ``n_lanes_column`` writes the lane
    count into the sheet. Every other keyword goes to ``make_blot`` (its
    real-instrument defects too); ``ladder_side="left"`` moves the samples one
    lane to the right in the sheet and adds a ``ladder`` row per strip.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tv, lv = default_volumes(seed, n_lanes)
    if blot.get("bit_depth") == 8:  # keep peaks near 100 grey levels, as on 16-bit near 5000
        tv, lv = [v / 50.0 for v in tv], [v / 50.0 for v in lv]
    tv = target_volumes if target_volumes is not None else tv
    lv = loading_volumes if loading_volumes is not None else lv
    tb = target_bands if target_bands is not None else [[(ROW_TARGET, v)] for v in tv]
    lb: list[list[tuple[float, float]]] = [[(ROW_LOADING, v)] for v in lv]
    for k in blank_lanes:
        tb[k - 1], lb[k - 1] = [], []
    side = blot.get("ladder_side")
    if side and ladder_kda:
        raise ValueError("give ladder_kda (a ladder lane at the right) or ladder_side, not both")
    offset = 1 if side == "left" else 0  # image lane of sample lane 0
    total = n_lanes + (1 if ladder_kda or side else 0)
    drawn = n_lanes + (1 if ladder_kda else 0)  # lanes make_blot is given (it adds its own ladder)
    if ladder_kda:
        ladder = [(kda_row(k), 6.0e5) for k in ladder_kda]
        tb, lb = [*tb, ladder], [*lb, ladder]
    blot.setdefault("width", 90 * total + 100)
    images: dict[str, SyntheticImage] = {}
    if layout == "two_strip":
        blot.setdefault("height", 640)
        syn = make_blot(seed, n_lanes=drawn, n_strips=2, strip_bands=[tb, lb], **blot)
        images["blot.tif"] = syn
        tgt_bands, load_bands = _bands_of(syn, 0, truth_row), _bands_of(syn, 1, ROW_LOADING)
        where = {"target": ("blot.tif", "1"), "loading": ("blot.tif", "2")}
    elif layout == "separate":
        blot.setdefault("height", 400)
        syn_t = make_blot(seed, n_lanes=drawn, bands=tb, **blot)
        syn_l = make_blot(seed + 500, n_lanes=drawn, bands=lb, **blot)
        images["target.tif"], images["loading.tif"] = syn_t, syn_l
        tgt_bands, load_bands = _bands_of(syn_t, 0, truth_row), _bands_of(syn_l, 0, ROW_LOADING)
        where = {"target": ("target.tif", ""), "loading": ("loading.tif", "")}
    else:
        raise ValueError(f"unknown layout {layout!r}")
    for name, syn in images.items():
        tifffile.imwrite(folder / name, syn.image)

    truth: dict[str, Truth] = {}
    rows: list[dict[str, str]] = []

    def add(fname: str, strip: str, lane: int, sid: str, role: str, tname: str) -> None:
        row = {
            "file": fname,
            "lane": str(lane),
            "sample_id": sid,
            "role": role,
            "target": tname,
            "cell_line": "SH-SY5Y" if lane % 2 else "SH-SY5Y/RA",
        }
        if layout == "two_strip":
            row["strip"] = strip
        if n_lanes_column:
            row["n_lanes"] = str(total)
        rows.append(row)

    for lane in range(n_lanes):
        if lane + 1 in blank_lanes:
            for kind in ("target", "loading"):
                add(*where[kind], lane + 1 + offset, f"blank{lane + 1}_{kind}", "blank", "")
            continue
        sid = f"S{lane + 1:02d}"
        role = "reference" if lane == 0 else "sample"
        t, ld = tgt_bands[lane + offset], load_bands[lane + offset]
        truth[sid] = Truth(
            sid, lane + 1 + offset, t["volume"], ld["volume"], bool(t["saturated"]),
            bool(ld["saturated"]),
        )  # fmt: skip
        add(*where["target"], lane + 1 + offset, sid, role, target)
        add(*where["loading"], lane + 1 + offset, sid, role, "ACTB")
    if ladder_kda or side:
        for kind in ("target", "loading"):
            add(*where[kind], 1 if side == "left" else total, f"ladder_{kind}", "ladder", "")
    ref = truth["S01"]
    ref_ratio = ref.target_volume / ref.loading_volume
    for t in truth.values():
        t.ratio = t.target_volume / t.loading_volume
        t.fold_change = t.ratio / ref_ratio
    case = WesternCase(folder, target, truth, rows, images)
    case.write_sheet()
    return case


def run_case(
    host: PluginHost,
    case: WesternCase,
    params: Mapping[str, Any] | None = None,
    *,
    figures: bool = False,
) -> AnalysisResult:
    """Analyse a generated case in memory."""
    return analyze("western_blot", case.experiment(), params, figures=figures, host=host)


def _pick(result: AnalysisResult, metric: str, target: str | None) -> list[Record]:
    return [
        r
        for r in result.records
        if r.metric == metric and (target is None or r.entity.endswith(f":{target}"))
    ]


def values(result: AnalysisResult, metric: str, target: str | None = None) -> dict[str, Any]:
    """sample_id -> value of one band metric (of one target's band when given: the
    'saturated' metrics exist for the target and the loading band)."""
    return {r.sample_id: r.value for r in _pick(result, metric, target)}


def flags(
    result: AnalysisResult, metric: str, target: str | None = None
) -> dict[str, tuple[str, ...]]:
    """sample_id -> QC flags of the records of one metric."""
    return {r.sample_id: r.qc_flags for r in _pick(result, metric, target)}


def status(result: AnalysisResult, metric: str, target: str | None = None) -> dict[str, str]:
    """sample_id -> qc_status of the records of one metric."""
    return {r.sample_id: r.qc_status for r in _pick(result, metric, target)}


def errors(case: WesternCase, result: AnalysisResult) -> dict[str, dict[str, float]]:
    """Relative error (measured / truth - 1) per sample of volumes, ratio and fold change."""
    got = {m: values(result, m) for m in METRICS}
    out: dict[str, dict[str, float]] = {}
    for sid, t in case.truth.items():
        want = {
            "band_volume": t.target_volume,
            "loading_volume": t.loading_volume,
            "normalized_ratio": t.ratio,
            "fold_change": t.fold_change,
        }
        out[sid] = {
            m: (float(got[m][sid]) / want[m] - 1.0) if got[m].get(sid) is not None else float("nan")
            for m in METRICS
        }
    return out


METRICS = ("band_volume", "loading_volume", "normalized_ratio", "fold_change")


#: Generated cases whose volumes, ratios and fold changes must be within 5 % of the truth
#: (tests/plugins/western/test_accuracy.py; table: bench/western_accuracy.py).
ACCURACY_CASES: dict[str, dict[str, Any]] = {
    "plain_two_strip": {},
    "plain_separate": {"layout": "separate"},
    "rotated_+3.5": {"rotation_deg": 3.5},
    "rotated_-4.5_separate": {"layout": "separate", "rotation_deg": -4.5},
    "smiling_9px": {"smile_px": 9.0},
    "smiling_-6px_separate": {"layout": "separate", "smile_px": -6.0},
    "inverted_film": {"invert": True},
    "inverted_film_separate": {"layout": "separate", "invert": True},
    "uneven_2000": {"illumination": 2000.0},
    "uneven_2000_separate": {"layout": "separate", "illumination": 2000.0},
    "everything": {"invert": True, "illumination": 1500.0, "rotation_deg": -2.5, "smile_px": 6.0},
    "8bit": {"bit_depth": 8},
    "8bit_inverted_uneven_separate": {
        "layout": "separate", "bit_depth": 8, "invert": True, "illumination": 40.0,
    },
    "10_lanes_rotated_smiling": {"n_lanes": 10, "rotation_deg": 2.0, "smile_px": 8.0},
}  # fmt: skip

#: Beyond what the tests hold to 5 %: strong glow (6x the background) on a two-strip image.
#: Strip finding can then see a false gap (bench/western_accuracy.py reports how often).
EXTRA_CASES: dict[str, dict[str, Any]] = {
    "uneven_5000_two_strip": {"illumination": 5000.0},
    "uneven_5000_separate": {"layout": "separate", "illumination": 5000.0},
}
