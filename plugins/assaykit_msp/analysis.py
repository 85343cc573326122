"""The MSP gel analysis: lanes, bands, ladder calibration, sizes, calls and control checks.

Everything here is a pure function of the image and the layout; records and
figures are built from :class:`GelAnalysis` by :mod:`assaykit_msp.plugin` and
:mod:`assaykit_msp.figures`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from assaykit import AnalysisError, InputError
from assaykit.imaging.assay import select_band
from assaykit.imaging.bands import Band, find_bands
from assaykit.imaging.geometry import (
    Lane,
    SmileModel,
    _xcorr_shift,
    estimate_lane_tilt,
    register_lanes,
)
from assaykit.imaging.given import geometry_for
from assaykit.imaging.io import LoadedImage, normalize_polarity
from assaykit.imaging.ladder import LadderFit, fit_ladder, reference_masses
from assaykit.imaging.pipeline import PreparedImage, prepare_image
from assaykit.imaging.sizing import GelSizer, LadderQuality, fit_track_smile, ladder_quality
from assaykit.imaging.volume import measure_volume

from assaykit_msp.layout import GelLayout, LaneSpec, SampleSpec
from assaykit_msp.params import CALLS, DIMER, LADDER, OTHER, PRODUCT, WEAK, MSPParams

log = logging.getLogger(__name__)

__all__ = ["CALLS", "DIMER", "LADDER", "OTHER", "PRODUCT", "WEAK", "GelAnalysis", "analyze_gel"]


@dataclass(frozen=True)
class SizedBand:
    """A detected band with its size and what it was taken for.

    ``kind``: ``product`` (within tolerance of the lane's expected product, SNR
    above the limit), ``weak`` (within tolerance but below the SNR limit),
    ``primer_dimer`` (at or below ``primer_dimer_max_bp``), ``other``, or
    ``ladder`` (a matched ladder band; ``nominal_bp`` is its size).
    """

    band: Band
    bp: float
    kind: str
    nominal_bp: float | None = None

    @property
    def row(self) -> float:
        return self.band.row

    @property
    def volume(self) -> float:
        return self.band.volume


@dataclass
class LaneResult:
    """One lane: its sheet row, where it was found, and its sized bands (top to bottom)."""

    spec: LaneSpec
    lane: Lane
    bands: list[SizedBand] = field(default_factory=list)
    expected_bp: float | None = None
    registered: bool = False
    registration_corr: float | None = None


@dataclass
class SampleCall:
    """The call of one sample, its chosen bands, and the control verdict if it is a control."""

    spec: SampleSpec
    m_band: SizedBand | None
    u_band: SizedBand | None
    call: str
    control_failed: bool = False
    control_problem: str = ""
    unexpected: list[SizedBand] = field(default_factory=list)

    @property
    def m_volume(self) -> float:
        return self.m_band.band.volume if self.m_band is not None else 0.0

    @property
    def u_volume(self) -> float:
        return self.u_band.band.volume if self.u_band is not None else 0.0

    @property
    def methylation_index(self) -> float | None:
        """M / (M + U) of the product band volumes; None when neither product is present."""
        total = self.m_volume + self.u_volume
        if (self.m_band is None and self.u_band is None) or total <= 0:
            return None
        return self.m_volume / total


@dataclass
class LadderResult:
    """A ladder lane's fit (raw rows), its quality in the corrected frame and its sizes."""

    spec: LaneSpec
    fit: LadderFit
    quality: LadderQuality
    poor: bool


@dataclass
class GelAnalysis:
    """Everything found on one gel (records and the figure are made from this)."""

    layout: GelLayout
    prepared: PreparedImage
    lanes: dict[int, LaneResult]
    ladders: dict[int, LadderResult]
    sizer: GelSizer
    smile: SmileModel | None
    samples: list[SampleCall]
    unlisted_lanes: int
    params: MSPParams
    polarity_rule: str = ""

    @property
    def controls_failed(self) -> list[SampleCall]:
        return [s for s in self.samples if s.control_failed]

    @property
    def smile_range_px(self) -> float:
        """Peak-to-peak of the fitted smile over the gel's lanes (0 without correction)."""
        if self.smile is None:
            return 0.0
        xs = [lr.lane.center for lr in self.lanes.values()]
        offs = [self.sizer.offset_at(x) for x in xs]
        return float(np.ptp(offs)) if offs else 0.0


def _detect(
    prep: PreparedImage,
    lane: Lane,
    lanes: list[Lane],
    min_snr: float,
    rows: tuple[int, int],
    params: MSPParams,
) -> list[Band]:
    """The lane's bands, their volumes over the ``volume_baseline`` of ``params``."""
    bands = find_bands(
        prep.data,
        lane,
        rows=rows,
        detect_image=prep.detect,
        saturated=prep.saturated,
        background=prep.background,
        neighbours=lanes,
        min_snr=min_snr,
        margin=params.lane_margin,
        volume_baseline="edges",  # re-measured below, as western_blot's are
        edge_rows=params.edge_rows,
    )
    strip = prep.strips[0]
    return [measure_volume(prep, strip, b, [o for o in bands if o is not b], params) for b in bands]


def _fit_ladder(
    spec: LaneSpec, bands: list[Band], params: MSPParams, path: str, geometry: str
) -> LadderFit:
    sizes = spec.ladder_bp
    refs = [r for r in params.ladder_reference_bp if any(abs(r - s) < 1e-6 for s in sizes)]
    masses = reference_masses(sizes, refs) if refs else None
    try:
        return fit_ladder(
            [b.row for b in bands],
            sizes,
            model=params.ladder_model,
            max_missing=params.max_missing_ladder_bands,
            max_extra=params.max_extra_ladder_bands,
            volumes=[b.volume for b in bands] if masses else None,
            masses=masses,
        )
    except AnalysisError as exc:
        raise InputError(
            path,
            f"ladder in {spec.where}: {len(bands)} bands found for {len(sizes)} sizes; "
            f"cannot calibrate ({exc}). Check the lane number and the ladder sizes "
            f"(parameter ladder_bp or the sheet's ladder_bp column); {geometry}.",
        ) from None


def _profile_corr(prep: PreparedImage, a: Lane, b: Lane, rows: tuple[int, int]) -> float:
    """Best normalised correlation of two lane profiles over shifts of +/-25 px (cheap test)."""
    r0, r1 = rows
    pa = prep.detect[r0:r1, a.columns(0.5, prep.shape[1])].mean(axis=1).astype(np.float64)
    pb = prep.detect[r0:r1, b.columns(0.5, prep.shape[1])].mean(axis=1).astype(np.float64)
    if pa.std() <= 0 or pb.std() <= 0:
        return 0.0
    found = _xcorr_shift(pa, pb, min(25, pa.size - 1), min_corr=-np.inf, return_corr=True)
    return float(found[1]) if found is not None else 0.0


def _unlisted_lanes(prep: PreparedImage) -> int:
    """Lane-like peaks of the column profile beyond the outermost lanes (unlisted lanes?).

    Why not the free lane count: a wide lane can show two peaks, and empty MSP
    lanes none, so that count says little; a strong peak more than half a pitch
    outside the comb is what a lane missing from the sheet looks like.
    """
    det = prep.strips[0].lanes
    prof = np.asarray(det.profile, dtype=np.float64)
    if prof.size < 3 or not det.lanes:
        return 0
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(prof, prominence=0.12 * max(float(np.ptp(prof)), 1e-12))
    lo = det.lanes[0].center - 0.6 * det.pitch
    hi = det.lanes[-1].center + 0.6 * det.pitch
    return int(np.sum((peaks < lo) | (peaks > hi)))


def _product_candidate(
    bands: list[SizedBand], expected: float, window: float, min_bp: float
) -> SizedBand | None:
    """The strongest band within ``window`` (fraction) of ``expected`` and above ``min_bp``."""
    return select_band(
        [b for b in bands if b.bp > min_bp],
        size_window=(expected * (1.0 - window), expected * (1.0 + window)),
        size_of=lambda b: b.bp,
    )


def analyze_gel(loaded: LoadedImage, layout: GelLayout, params: MSPParams) -> GelAnalysis:
    """Run the whole gel analysis (steps in :mod:`assaykit_msp.plugin`).

    Every error names the image: the library's own errors do not know the file.
    """
    h, w = loaded.shape
    if h < 64 or w < 8 * layout.n_lanes:
        raise InputError(
            loaded.path,
            f"image is {w}x{h} px: too small for a gel of {layout.n_lanes} lanes "
            f"(need at least 64 px high and 8 px per lane)",
        )
    try:
        return _analyze_gel(loaded, layout, params)
    except AnalysisError as exc:
        if loaded.path in str(exc):
            raise
        raise AnalysisError(f"{loaded.path}: {exc}") from exc


def _analyze_gel(loaded: LoadedImage, layout: GelLayout, params: MSPParams) -> GelAnalysis:
    path = loaded.path
    # Deskew by the lanes: a skewed gel tilts its bands but not its lanes, and the
    # edge-based estimator would tilt the lanes to straighten the bands. None: no
    # lane pattern to follow, so prepare_image falls back to the band edges.
    norm = normalize_polarity(loaded, params.polarity)
    angle = estimate_lane_tilt(norm.data)
    given = geometry_for(params.geometry, layout.input.relpath)
    rows: Any = False
    if given is not None and given.strips:
        if len(given.strips) != 1:
            raise AnalysisError(
                f"{layout.input.relpath}: geometry strips: an MSP gel image is one gel row; "
                f"{len(given.strips)} row ranges were given"
            )
        rows = [tuple(given.strips[0])]
    prep = prepare_image(
        loaded,
        polarity=norm.polarity,  # detected once, here
        rotation_deg=angle,
        strips=rows,
        expected_lanes=layout.n_lanes,
        background="rolling_ball",
        background_radius=params.rolling_ball_radius,
        smile=False,
        wells=True,
        lane_centers=given.lanes[:1] if given is not None and given.lanes else None,
        lane_span=given.lane_span[:1] if given is not None and given.lane_span else None,
    )
    strip = prep.strips[0]
    lanes = strip.lane_list
    if len(lanes) != layout.n_lanes:
        raise AnalysisError(
            f"{path}: found {len(lanes)} lanes where the sheet needs {layout.n_lanes}"
        )
    detect_floor = max(3.0, 0.5 * params.min_snr)

    # -- bands, every listed lane
    raw_bands: dict[int, list[Band]] = {}
    for n, spec in layout.lanes.items():
        floor = params.min_snr if spec.role == "ladder" else detect_floor
        raw_bands[n] = _detect(prep, lanes[n - 1], lanes, floor, strip.band_rows, params)

    # -- ladder lanes: match and fit on raw rows
    fits: dict[int, LadderFit] = {}
    geometry = (
        f"{len(lanes)} lanes placed at a pitch of {strip.lanes.pitch:.0f} px, "
        f"{strip.lanes.lane_width:.0f} px wide ({strip.lanes.method})"
    )
    for spec in layout.ladder_lanes:
        fits[spec.number] = _fit_ladder(spec, raw_bands[spec.number], params, path, geometry)
    by_x = {lanes[n - 1].center: f for n, f in fits.items()}
    first = GelSizer(by_x)

    def sized(n: int, sizer: GelSizer) -> list[SizedBand]:
        x = lanes[n - 1].center
        return [SizedBand(b, sizer.size_at(x, b.row), OTHER) for b in raw_bands[n]]

    # -- smile from tracks: ladder sizes across ladder lanes, each product across its lanes
    smile: SmileModel | None = None
    if params.smile_correction:
        tracks: list[dict[float, float]] = []
        all_sizes = sorted({s for f in fits.values() for s in f.sizes})
        for s in all_sizes:
            t = {}
            for n, f in fits.items():
                hit = np.nonzero(np.isclose(f.sizes, s))[0]
                if hit.size:
                    t[lanes[n - 1].center] = float(f.positions[hit[0]])
            tracks.append(t)
        product_tracks: dict[tuple[str, float], dict[float, float]] = {}
        for sample in layout.samples:
            for role, lane_no, expected in (
                ("M", sample.m_lane, sample.m_product_bp),
                ("U", sample.u_lane, sample.u_product_bp),
            ):
                cand = _product_candidate(
                    [b for b in sized(lane_no, first) if b.band.snr >= params.min_snr],
                    expected,
                    2.0 * params.size_tolerance,
                    params.primer_dimer_max_bp,
                )
                if cand is not None:
                    key = (role, round(expected, 3))
                    product_tracks.setdefault(key, {})[lanes[lane_no - 1].center] = cand.band.row
        tracks.extend(product_tracks.values())
        smile = fit_track_smile(tracks)
    sizer = GelSizer(by_x, smile)

    # -- lanes that carry the ladder's pattern are registered onto the nearest ladder
    lane_results: dict[int, LaneResult] = {}
    ladder_rows = {
        n: (
            max(0, int(min(f.positions)) - 15),
            min(prep.shape[0], int(max(f.positions)) + 15),
        )
        for n, f in fits.items()
    }
    for n, spec in sorted(layout.lanes.items()):
        lr = LaneResult(spec, lanes[n - 1])
        if spec.role != "ladder" and params.register_to_ladder is not None:
            ladder_no = min(fits, key=lambda k: abs(k - n))
            rows = ladder_rows[ladder_no]
            quick = _profile_corr(prep, lanes[ladder_no - 1], lanes[n - 1], rows)
            if quick >= params.register_to_ladder - 0.1:
                reg = register_lanes(
                    prep.detect, [lanes[ladder_no - 1], lanes[n - 1]], reference=0, rows=rows
                )[1]
                lr.registration_corr = reg.correlation
                if reg.correlation >= params.register_to_ladder:
                    sizer.register(lanes[n - 1].center, lanes[ladder_no - 1].center, reg)
                    lr.registered = True
        lane_results[n] = lr

    # -- ladder quality in the corrected frame
    corrected = sizer.corrected_ladders()
    ladders: dict[int, LadderResult] = {}
    for n, f in fits.items():
        q = ladder_quality(corrected[lanes[n - 1].center])
        poor = q.r_squared < params.min_ladder_r2 or q.max_residual_fraction > (
            params.max_ladder_residual
        )
        ladders[n] = LadderResult(layout.lanes[n], f, q, poor)
        idx = {int(i): s for i, s in zip(f.match.position_index, f.sizes)} if f.match else {}
        lane_results[n].bands = [
            SizedBand(
                b,
                sizer.size_at(lanes[n - 1].center, b.row),
                LADDER if k in idx else OTHER,
                idx.get(k),
            )
            for k, b in enumerate(raw_bands[n])
        ]

    # -- size and classify the bands of every other lane
    expected_of: dict[int, float] = {}
    for s in layout.samples:
        expected_of[s.m_lane] = s.m_product_bp
        expected_of[s.u_lane] = s.u_product_bp
    for n, lr in lane_results.items():
        if lr.spec.role == "ladder":
            continue
        exp = expected_of.get(n)
        lr.expected_bp = exp
        out = []
        for b in sized(n, sizer):
            if b.bp <= params.primer_dimer_max_bp:
                kind = DIMER
            elif exp is not None and abs(b.bp / exp - 1.0) <= params.size_tolerance:
                kind = PRODUCT if b.band.snr >= params.min_snr else WEAK
            else:
                kind = OTHER
            out.append(SizedBand(b.band, b.bp, kind))
        lr.bands = out

    # -- calls and control checks
    top_bp = 1.05 * max(max(spec.ladder_bp) for spec in layout.ladder_lanes)
    calls = [_call(s, lane_results, params, top_bp) for s in layout.samples]
    return GelAnalysis(
        layout=layout,
        prepared=prep,
        lanes=lane_results,
        ladders=ladders,
        sizer=sizer,
        smile=smile,
        samples=calls,
        unlisted_lanes=_unlisted_lanes(prep),
        params=params,
        polarity_rule=norm.polarity_rule,
    )


def _call(
    sample: SampleSpec, lanes: dict[int, LaneResult], params: MSPParams, top_bp: float
) -> SampleCall:
    """Presence of each product, the call, and (for a control) whether it behaved.

    ``unexpected`` lists clear bands of another size within the ladder's range;
    above it sit wells and genomic DNA, which say nothing about the PCR.
    """

    def pick(n: int) -> SizedBand | None:
        return select_band([b for b in lanes[n].bands if b.kind == PRODUCT])

    m, u = pick(sample.m_lane), pick(sample.u_lane)
    if m is not None and u is not None:
        call = "partially_methylated"
    elif m is not None:
        call = "methylated"
    elif u is not None:
        call = "unmethylated"
    else:
        call = "failed"
    unexpected = [
        b
        for n in (sample.m_lane, sample.u_lane)
        for b in lanes[n].bands
        if b.kind == OTHER and b.band.snr >= params.min_snr and b.bp <= top_bp
    ]
    problem = ""
    if sample.control == "methylated" and m is None:
        problem = "methylated control shows no M product"
    elif sample.control == "unmethylated" and u is None:
        problem = "unmethylated control shows no U product"
    elif sample.control == "water" and (m is not None or u is not None):
        which = " and ".join(r for r, b in (("M", m), ("U", u)) if b is not None)
        problem = f"water control shows a {which} product (contamination)"
    return SampleCall(sample, m, u, call, bool(problem), problem, unexpected)
