"""Named, seeded western blots as messy as real instrument exports, with exact truth.

Why: the western-blot plugin passed every test on tidy generated blots and
measured none of 180 real lanes. Each case here switches on the defects of
real blots (one at a time, and all at once in ``everything``) through
:func:`assaykit.imaging.synthetic.make_blot`, and carries the sample-sheet
layout a lab would hand over with it. Every expected number comes from the
generator's labels (band volumes it rendered), never from the plugin.

Layout of every case: one image, two membrane strips (sheet ``strip`` 1 = the
target above, ``strip`` 2 = the loading control below), the same lanes;
sample ``S01`` is the reference. A ladder lane, when there is one, is a
``ladder`` row on both strips.

    case = CASES_BY_NAME["two_membranes_two_tilts"]
    truth = write_case(case, tmp_path / case.name)   # images + samples.csv (+ assaykit.toml)
    truth[("S03", "RARB")].ratio                      # what the plugin must report
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tifffile
from assaykit.imaging.synthetic import SyntheticImage, make_blot, to_rgba_png_array
from numpy.typing import NDArray

#: Sheet columns, in the order a lab's sheet would have them.
SHEET_COLUMNS = (
    "assay", "file", "experiment", "sample_id", "role", "lane", "target", "strip", "n_lanes",
    "cell_line", "treatment",
)  # fmt: skip

TREATMENTS = ("DMSO", "13cisRA 10 uM", "decitabine 1 uM", "DAC + 13cisRA")


@dataclass(frozen=True)
class MessyCase:
    """One hard case: the defects (``make_blot`` keywords) and the lab's sheet layout.

    ``n_lanes`` counts sample lanes; with ``ladder_side`` in ``blot`` the image has one
    lane more (``lanes_per_strip``). ``fmt``: ``"tiff16"`` (16-bit chemiluminescence),
    ``"png8"`` (8-bit grey PNG) or ``"rgba_png"`` (8-bit RGBA PNG, dark bands on
    light, transparent corners). ``band_window`` is the row window (fractions of the
    strip height) the lab must give because a strong non-specific band
    (``decoy_row``) sits in the target lanes; None when no window is needed.
    """

    name: str
    description: str
    seed: int
    n_lanes: int
    blot: dict[str, Any] = field(default_factory=dict)
    target: str = "RARB"
    loading_target: str = "ACTB"
    target_strip: int = 1
    loading_strip: int = 2
    fmt: str = "tiff16"
    target_row: float = 0.45
    loading_row: float = 0.5
    decoy_row: float | None = None
    band_window: tuple[float, float] | None = None
    rgba_corner_radius: int = 0
    width: int | None = None
    height: int = 640

    @property
    def has_ladder(self) -> bool:
        return self.blot.get("ladder_side") is not None

    @property
    def lanes_per_strip(self) -> dict[int, int]:
        """Sheet ``strip`` -> the lane count the lab writes in ``n_lanes``."""
        n = self.n_lanes + (1 if self.has_ladder else 0)
        return {self.target_strip: n, self.loading_strip: n}

    @property
    def band_window_required(self) -> bool:
        return self.band_window is not None

    @property
    def filename(self) -> str:
        return "blot.tif" if self.fmt == "tiff16" else "blot.png"


@dataclass(frozen=True)
class BandTruth:
    """The truth of one (sample, target) row: what the plugin must report."""

    sample_id: str
    target: str
    file: str
    lane: int  # 1-based, as in the sheet (the ladder lane counts)
    strip: int  # sheet strip
    volume: float  # AU above background, as rendered
    ratio: float  # target / loading volume of the sample (nan on the loading row)
    saturated: bool
    loading: bool


@dataclass
class RenderedCase:
    """A rendered case: the image to write (as stored in the file), its generator
    output, the sheet rows and the truth."""

    case: MessyCase
    pixels: NDArray[Any]
    synthetic: SyntheticImage
    rows: list[dict[str, str]]
    truth: dict[tuple[str, str], BandTruth]


def _peaks(case: MessyCase) -> tuple[list[float], list[float]]:
    """Seeded band peak heights (AU above background): targets vary 7-fold (a weak
    band near SNR 20, as on real blots), loading controls +/- 20 %."""
    rng = np.random.default_rng(case.seed + 7000)
    if case.fmt == "tiff16":
        tgt, load = (
            rng.uniform(800.0, 5600.0, case.n_lanes),
            rng.uniform(9000.0, 13500.0, case.n_lanes),
        )
    else:
        tgt, load = rng.uniform(25.0, 120.0, case.n_lanes), rng.uniform(120.0, 175.0, case.n_lanes)
    return [float(v) for v in tgt], [float(v) for v in load]


def _nominal_lane_width(case: MessyCase, width: int) -> float:
    inset = case.blot.get("membrane_inset") or 0
    left, right = (inset, inset) if isinstance(inset, (int, float)) else (inset[0], inset[2])
    total = case.n_lanes + (1 if case.has_ladder else 0)
    margin = case.blot.get("margin", 0.08)
    return 0.62 * (width - left - right) * (1.0 - 2.0 * margin) / total


def render_case(case: MessyCase) -> RenderedCase:
    """Render a case and build its sheet rows and truth (nothing is written)."""
    total = case.n_lanes + (1 if case.has_ladder else 0)
    width = case.width or 84 * total + 140
    eight = case.fmt != "tiff16"
    sigma = 5.0
    lw = _nominal_lane_width(case, width)
    unit = lw * sigma * math.sqrt(2.0 * math.pi)  # volume of a flat band of peak 1
    tp, lp = _peaks(case)
    tb: list[list[tuple[float, ...]]] = []
    for v in tp:
        items: list[tuple[float, ...]] = [(case.target_row, v * unit)]
        if case.decoy_row is not None:  # a strong non-specific band, 1.6x the strongest target
            items.append((case.decoy_row, 1.6 * max(tp) * unit))
        tb.append(items)
    lb: list[list[tuple[float, ...]]] = [[(case.loading_row, v * unit)] for v in lp]
    kw: dict[str, Any] = {
        "height": case.height, "width": width, "n_lanes": case.n_lanes, "n_strips": 2,
        "strip_bands": [tb, lb], "band_sigma": sigma, "bit_depth": 8 if eight else 16,
        "background": 24.0 if eight else 1200.0, "noise_sigma": 2.0 if eight else 35.0,
        "illumination": 12.0 if eight else 700.0, "mottle": 2.0 if eight else 60.0,
        "strip_gap": 40,
    }  # fmt: skip
    kw.update(case.blot)
    syn = make_blot(case.seed, **kw)
    if case.fmt == "rgba_png":
        pixels: NDArray[Any] = to_rgba_png_array(syn.image, case.rgba_corner_radius, invert=True)
    else:
        pixels = syn.image

    shift = 1 if case.blot.get("ladder_side") == "left" else 0
    strips = syn.truth["strips"]

    def band_of(strip: int, image_lane: int, row_frac: float) -> dict[str, Any]:
        r0, r1 = strips[strip]
        want = r0 + row_frac * (r1 - r0)
        cands = [
            b for b in syn.truth["bands"] if b["strip"] == strip and b["lane"] == image_lane
        ]  # fmt: skip
        return min(cands, key=lambda b: abs(b["row"] - want))

    rows: list[dict[str, str]] = []
    truth: dict[tuple[str, str], BandTruth] = {}

    def row(lane: int, strip: int, sid: str, role: str, target: str, k: int) -> None:
        rows.append(
            {
                "assay": "western_blot", "file": case.filename, "experiment": case.name,
                "sample_id": sid, "role": role, "lane": str(lane), "target": target,
                "strip": str(strip), "n_lanes": str(case.lanes_per_strip[strip]),
                "cell_line": "" if role == "ladder" else ("SH-SY5Y", "SH-SY5Y/RA")[k % 2],
                "treatment": "" if role == "ladder" else TREATMENTS[(k // 2) % len(TREATMENTS)],
            }
        )  # fmt: skip

    if case.has_ladder:
        ladder_lane = 1 if shift else total
        row(ladder_lane, case.target_strip, f"ladder_{case.target}", "ladder", "", -1)
        row(ladder_lane, case.loading_strip, f"ladder_{case.loading_target}", "ladder", "", -1)
    for k in range(case.n_lanes):
        sid = f"S{k + 1:02d}"
        role = "reference" if k == 0 else "sample"
        t = band_of(case.target_strip - 1, k + shift, case.target_row)
        ld = band_of(case.loading_strip - 1, k + shift, case.loading_row)
        lane = k + shift + 1
        row(lane, case.target_strip, sid, role, case.target, k)
        row(lane, case.loading_strip, sid, role, case.loading_target, k)
        truth[(sid, case.target)] = BandTruth(
            sid, case.target, case.filename, lane, case.target_strip, t["volume"],
            t["volume"] / ld["volume"], bool(t["saturated"]), False,
        )  # fmt: skip
        truth[(sid, case.loading_target)] = BandTruth(
            sid, case.loading_target, case.filename, lane, case.loading_strip, ld["volume"],
            float("nan"), bool(ld["saturated"]), True,
        )  # fmt: skip
    return RenderedCase(case, pixels, syn, rows, truth)


def write_case(
    case: MessyCase, folder: Path, *, params_file: bool = True
) -> dict[tuple[str, str], BandTruth]:
    """Write ``case`` into ``folder``: the image (``blot.tif`` or ``blot.png``), the
    ``samples.csv`` a lab would give, and, when the case needs parameters (a band
    window, a loading control other than ACTB) and ``params_file``, ``assaykit.toml``.
    Returns the truth per ``(sample_id, target)``."""
    folder.mkdir(parents=True, exist_ok=True)
    rc = render_case(case)
    path = folder / case.filename
    if case.fmt == "tiff16":
        tifffile.imwrite(path, rc.pixels)
    elif case.fmt == "rgba_png":
        ok = cv2.imwrite(str(path), cv2.cvtColor(rc.pixels, cv2.COLOR_RGBA2BGRA))
        assert ok, path
    else:
        assert cv2.imwrite(str(path), rc.pixels), path
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(SHEET_COLUMNS))
        w.writeheader()
        w.writerows(rc.rows)
    lines = []
    if case.loading_target.upper() != "ACTB":
        lines.append(f'loading_target = "{case.loading_target}"')
    if case.band_window is not None:
        lo, hi = case.band_window
        lines.append(f"row_window = {{ {case.target} = [{lo}, {hi}] }}")
    if lines and params_file:
        toml = "[params.western_blot]\n" + "\n".join(lines) + "\n"
        (folder / "assaykit.toml").write_text(toml, encoding="utf-8")
    return rc.truth


def save_preview(case: MessyCase, path: Path, max_width: int = 900) -> Path:
    """A scaled-down 8-bit PNG of the case as a person would see it on screen (16-bit
    stretched between the 0.5th and 99.8th percentiles of its pixels below 80 % of
    full scale; RGBA flattened on mid grey so the transparent corners show)."""
    rc = render_case(case)
    px = rc.pixels
    if px.ndim == 3:
        alpha = px[..., 3:4].astype(np.float64) / 255.0
        grey = (px[..., :3].astype(np.float64) * alpha + 128.0 * (1 - alpha)).astype(np.uint8)
        img = cv2.cvtColor(grey, cv2.COLOR_RGB2BGR)
    elif px.dtype == np.uint16:
        body = px[px < 0.8 * 65535]  # drawn white lines and dust would set the scale otherwise
        lo, hi = np.percentile(body if body.size else px, [0.5, 99.8])
        img = (np.clip((px - lo) / max(hi - lo, 1.0), 0, 1) * 255).astype(np.uint8)
    else:
        img = px
    scale = min(1.0, max_width / img.shape[1])
    if scale < 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


CASES: list[MessyCase] = [
    MessyCase(
        "touching_loading_row",
        "GAPDH loading row: one continuous bright row, no valley between lanes",
        101, 10, {"strip_band_width": [None, 1.0], "edge_softness": 2.5},
        loading_target="GAPDH",
    ),
    MessyCase(
        "uneven_pitch", "lanes unevenly spaced (+/-25 % pitch) and of uneven width (+/-20 %)",
        102, 11, {"pitch_jitter": 0.25, "width_jitter": 0.2},
    ),
    MessyCase(
        "rounded_smiling",
        "lens-shaped bands narrower than the lane, bright centre, ends lifted 4 px; gel smile",
        103, 10, {"band_shape": "rounded", "band_smile_px": 4.0, "smile_px": 6.0},
    ),
    MessyCase(
        "two_membranes_two_tilts",
        "two membrane pieces with a dark gap, the target piece tilted +2 deg, the other 0",
        104, 10,
        {"strip_rotation_deg": [2.0, 0.0], "membrane_inset": (24, 14, 24, 14), "strip_gap": 50},
    ),
    MessyCase(
        "pen_marks_edges", "pen strokes at the marker rows on both membrane edges",
        105, 9, {"ladder_side": "left", "pen_marks": "bright"},
    ),
    MessyCase(
        "lane_numbers", "lane numbers written on the membrane above the target bands",
        106, 12, {"lane_numbers": "above", "mark_polarity": "bright"}, target_row=0.55,
    ),
    MessyCase(
        "handwriting", "handwritten notes above and below the band rows",
        107, 10, {"handwriting": 6, "mark_polarity": "bright"},
    ),
    MessyCase(
        "membrane_edges", "membrane narrower than the image: sharp edges, darker outside",
        108, 10, {"membrane_inset": (70, 36, 90, 40), "off_membrane_level": 250.0},
    ),
    MessyCase(
        "specks_40", "40 dust specks, very bright or dark, on a scanned film (8-bit PNG)",
        109, 10, {"specks": 40, "invert": True}, fmt="png8",
    ),
    MessyCase(
        "uneven_exposure", "exposure falls off by 60 % across the image, plus a glow",
        110, 10, {"exposure_gradient": 0.6, "illumination": 2500.0},
    ),
    MessyCase(
        "crop_rectangle", "a 2 px crop rectangle drawn around the membrane",
        111, 9,
        {"membrane_inset": (40, 26, 40, 26), "crop_rectangle": 2, "mark_polarity": "bright"},
    ),
    MessyCase(
        "ladder_left", "prestained ladder lane at the left", 112, 10, {"ladder_side": "left"},
    ),
    MessyCase(
        "ladder_right",
        "prestained ladder at the right; a strong non-specific band above the target",
        113, 9, {"ladder_side": "right"}, decoy_row=0.28, band_window=(0.36, 0.56),
    ),
    MessyCase(
        "rgba_corners_dark_on_light",
        "8-bit RGBA PNG export: dark bands on light, transparent rounded corners (black RGB)",
        114, 10, {}, fmt="rgba_png", rgba_corner_radius=36,
    ),
    MessyCase(
        "everything",
        "two tilted membranes, uneven lanes, rounded smiling bands, touching loading row, "
        "ladder, pen marks, lane numbers, handwriting, specks, uneven exposure, crop "
        "rectangle and a non-specific band",
        115, 10,
        {
            "strip_rotation_deg": [1.5, -0.5], "membrane_inset": (36, 22, 36, 22),
            "strip_gap": 56, "pitch_jitter": 0.15, "width_jitter": 0.12,
            "band_shape": "rounded", "band_smile_px": 3.0, "strip_band_width": [None, 1.1],
            "ladder_side": "left", "pen_marks": True, "lane_numbers": True, "handwriting": 3,
            "specks": 30, "exposure_gradient": 0.35, "crop_rectangle": True, "mottle": 90.0,
        },
        loading_target="GAPDH", target_row=0.55, decoy_row=0.33, band_window=(0.45, 0.65),
    ),
]  # fmt: skip

CASES_BY_NAME: dict[str, MessyCase] = {c.name: c for c in CASES}
