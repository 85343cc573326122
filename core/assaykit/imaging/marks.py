"""Marks that are not lanes or bands: pen strokes, handwriting, lane numbers, specks.

Why: on real membranes a lab writes lane numbers and marks the ladder with a
pen, dust lands on the film, and these are as dark (or bright) as bands. A
lane finder or a deskew that counts them finds 13 lanes where there are 9, or
straightens by 2.4 degrees that are not there. Bands have a shape marks do
not: a band is a blob as wide as a lane and several pixels tall, lying flat.
A mark is either *thin* (a stroke a few pixels wide, in any direction:
handwriting, digits, pen lines, the edges of a drawn rectangle), *hollow* (a
thin closed outline: the glowing rim of a well, a drawn box) or *tiny* (a
speck much smaller than a lane).

:func:`find_marks` segments the significant pixels of a background-subtracted
image (bands bright), and labels each connected component a mark when it is
high in contrast (peak above twice the threshold: a faint band broken up by
noise is never a mark) and tiny, or thin (its largest inscribed disc has a radius of at most
``max_stroke`` px) unless it lies flat like a faint band (at least three times
as wide as tall and no taller than ``max_flat_height``). Marks are masked
(dilated by two pixels) before lane finding, deskewing and band finding; the
count and the boxes are kept for the records, so nothing is removed silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

__all__ = ["Marks", "find_marks"]


@dataclass(frozen=True)
class Marks:
    """The mask of mark pixels and one ``(kind, x0, y0, x1, y1)`` box per mark."""

    mask: NDArray[np.bool_]
    boxes: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.boxes)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for k, *_ in self.boxes:
            kinds[k] = kinds.get(k, 0) + 1
        return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none"


def _noise(img: NDArray[np.float32]) -> float:
    """Robust sigma of the (smoothed) pixels about their median: the background dominates."""
    v = img[:: max(1, img.shape[0] // 300), :: max(1, img.shape[1] // 300)].ravel()
    if v.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def find_marks(
    detect: NDArray[np.floating],
    *,
    k_sigma: float = 6.0,
    max_stroke: float = 2.5,
    max_flat_height: int = 12,
    speck_size: int | None = None,
    valid: NDArray[np.bool_] | None = None,
) -> Marks:
    """Marks in a background-subtracted, bands-bright image (module docs).

    ``speck_size``: a component whose box fits in this many px each way is a
    speck (default 1 % of the image width + 3 px).
    """
    img: NDArray[np.float32] = np.asarray(
        cv2.GaussianBlur(np.asarray(detect, dtype=np.float32), (0, 0), 1.0), dtype=np.float32
    )
    h, w = img.shape
    sigma = _noise(img)
    if not np.isfinite(sigma) or sigma <= 0:
        return Marks(np.zeros((h, w), bool))
    floor = float(np.median(img[:: max(1, h // 300), :: max(1, w // 300)]))
    img = img - np.float32(floor)  # a rolling ball leaves a positive offset
    raw = np.asarray(detect, dtype=np.float32) - np.float32(floor)
    sig = img > k_sigma * sigma
    if valid is not None:
        sig &= valid
    labels, count = ndi.label(sig, structure=np.ones((3, 3), bool))
    if count == 0:
        return Marks(np.zeros((h, w), bool))
    speck = int(speck_size) if speck_size is not None else int(0.01 * w) + 3
    dist = cv2.distanceTransform(sig.astype(np.uint8), cv2.DIST_L2, 3)
    objects = ndi.find_objects(labels)
    # per-component statistics over the labelled pixels only (scipy's labelled maximum
    # sorts the whole image: seconds on a 12-megapixel blot)
    lab = labels[sig]
    inscribed_all = np.zeros(count + 1)
    np.maximum.at(inscribed_all, lab, dist[sig])
    peak_all = np.full(count + 1, -np.inf)
    np.maximum.at(peak_all, lab, img[sig])
    inscribed, peak = inscribed_all[1:], peak_all[1:]
    area = np.bincount(lab, minlength=count + 1)[1:]
    mask = np.zeros((h, w), bool)
    boxes: list[tuple[str, int, int, int, int]] = []
    for i, sl in enumerate(objects):
        if sl is None:
            continue
        y0, y1 = sl[0].start, sl[0].stop
        x0, x1 = sl[1].start, sl[1].stop
        bh, bw = y1 - y0, x1 - x0
        kind = None
        # only high-contrast components of 3 px or more: a faint band broken up by noise
        # is not a mark, nor is a single hot pixel's neighbourhood
        if peak[i] < 2.0 * k_sigma * sigma or area[i] < 3:
            continue
        # its core (at least half its peak above the floor, in the unsmoothed image) has
        # the mark's own size: smoothing spreads a bright speck over several pixels
        comp0 = labels[sl] == i + 1
        core = comp0 & (raw[sl] >= 0.5 * float(raw[sl][comp0].max()))
        ys, xs = np.nonzero(core)
        ch = int(ys.max() - ys.min() + 1) if ys.size else bh
        cw = int(xs.max() - xs.min() + 1) if xs.size else bw
        if (bh <= speck and bw <= speck) or (
            ch <= speck and cw <= speck and area[i] < 4 * speck**2
        ):
            kind = "speck"
        elif inscribed[i] <= max_stroke and not (bw >= 3 * bh and bh <= max_flat_height):
            kind = "stroke"
        elif inscribed[i] <= max_stroke + 0.5 and area[i] < 0.45 * bh * bw and bh >= 5:
            # a thin closed outline (a well's rim, a drawn box): hollow, unlike a band
            kind = "outline"
        if kind is None:
            continue
        comp = labels[sl] == i + 1
        mask[sl] |= comp
        boxes.append((kind, int(x0), int(y0), int(x1), int(y1)))
    if boxes:
        mask = ndi.binary_dilation(mask, iterations=2)
    return Marks(mask, boxes)
