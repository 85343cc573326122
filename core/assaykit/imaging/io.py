"""Loading gel and blot images safely, and making their polarity explicit.

What comes out of :func:`load_image` is one float32 channel plus the facts a
quantification needs: the container bit depth, the *true* saturation value (a
12-bit camera in a 16-bit file saturates at 4095, not 65535), whether the file was
lossy (JPEG), and the original format.

Safety: the image's dimensions are read from the file header (TIFF IFD, PNG
IHDR, JPEG SOF) *before* any pixel is decoded, and images over ``max_pixels``
are refused. Any failure to read is an :class:`~assaykit.errors.ImageError`
naming the file, the field and what was expected; nothing else escapes.

Rules (documented here because records depend on them):

Colour to one channel (``color_rule``)
    ``"auto"`` (default): if all colour channels are identical (grey saved as RGB)
    that channel is used; otherwise the channel with the largest robust dynamic
    range (99.9th - 0.1th percentile) is used, because pseudo-coloured exports put
    the signal in one channel and mixing channels would dilute it and hide its
    saturation. ``"luminance"`` uses ITU-R BT.601 weights (0.299 R + 0.587 G +
    0.114 B). ``"red"``, ``"green"``, ``"blue"`` pick a channel. The choice and
    the grey test look at opaque pixels only (see *Transparency*).
Transparency (``LoadedImage.valid``)
    Transparent pixels are outside the image: never signal, never background,
    never a polarity cue. Sources: the alpha channel of RGBA and grey+alpha PNGs,
    palette and RGB PNGs with a ``tRNS`` chunk (OpenCV expands both to alpha),
    grey PNGs with a ``tRNS`` grey value (parsed here: OpenCV drops it), and TIFF
    extra samples marked associated or unassociated alpha (an *unspecified*
    extra sample counts as alpha only when at least half its pixels are at the
    container maximum, i.e. mostly opaque; otherwise it is dropped as before).
    The opaque level ``L`` is the largest alpha in the file (normally the
    container maximum, 255 or 65535; 1.0 for float) provided it is at least half
    the container maximum; a pixel is image only when its alpha is ``>= L``.
    So anti-aliased, partly transparent rims count as outside: exporters blend
    their colour with whatever lies under the transparency (often black), and
    one ring of pixels is cheap to lose. An image with fewer than 1 % opaque
    pixels is refused. Under transparent pixels ``data`` holds a neutral fill,
    not the file's values: each takes the local mean of the opaque pixels
    (a 17 x 17 box, opaque pixels only) at its nearest opaque pixel, so the
    background continues smoothly into the transparent area and lane, band
    and background code sees no edge there. ``metadata["alpha"]`` records the
    source, the opaque level and how many pixels were transparent. Files
    without transparency (or whose alpha is opaque everywhere) get
    ``valid=None`` and are read exactly as before.
Saturation value
    8-bit: 255. 16-bit: the TIFF ``MaxSampleValue`` tag when it is below 65535;
    else, if every value is a multiple of 2**k (k >= 1, with enough distinct
    values to tell), the data were left-shifted from 16-k bits and saturate at
    65536 - 2**k; else, if the maximum is exactly 2**n - 1 for n in (10, 12, 14)
    and at least ``plateau_pixels`` pixels sit at it, the camera had n bits;
    otherwise 65535. Float images have no known saturation (``inf``). A caller
    who knows better passes ``saturation_value``.
Polarity (:func:`detect_polarity`)
    Bands are the minority of pixels and sit on the side of the intensity
    distribution away from the background. With ``m`` the median, the
    distance from ``m`` to the 99.5th percentile is compared with the
    distance to the 0.5th percentile; the longer tail is the band side.
    The border median must agree (it must lie on the background side of the
    mid-range); if the two cues disagree, the border cue wins, because an image
    border is background far more often than not. With a ``valid`` mask, only
    opaque pixels are used, and the "border" is every opaque pixel within
    ``border`` pixels of the frame *or* of a transparent pixel (the edge of the
    image content).
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assaykit.errors import ImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "LoadedImage",
    "NormalizedImage",
    "Polarity",
    "detect_polarity",
    "load_image",
    "normalize_polarity",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 200_000_000
Polarity = Literal["light_bands_on_dark", "dark_bands_on_light"]
ColorRule = Literal["auto", "luminance", "red", "green", "blue"]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class LoadedImage:
    """One image channel as float32 plus what is known about its pixels.

    ``data`` keeps the file's own polarity; see :func:`normalize_polarity`.
    ``valid`` is False where the file is transparent (outside the image, see
    the module docs); None when every pixel is image.
    """

    data: NDArray[np.float32]
    path: str
    source_format: Literal["tiff", "png", "jpeg"]
    bit_depth: int
    saturation_value: float
    significant_bits: int | None
    lossy: bool
    dtype: str
    color_rule: str | None = None
    saturation_rule: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    valid: NDArray[np.bool_] | None = None

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def n_valid(self) -> int:
        """Number of pixels that belong to the image (opaque ones)."""
        return int(self.data.size if self.valid is None else np.count_nonzero(self.valid))

    def saturated_mask(self) -> NDArray[np.bool_]:
        """Pixels at (or above) the detector maximum, in the file's polarity; never
        a transparent pixel."""
        return _sat_mask(self.data, self.saturation_value, self.valid)

    def saturated_fraction(self, mask: NDArray[np.bool_] | None = None) -> float:
        """Fraction of saturated pixels among the image's (opaque) pixels, over the
        whole image or inside ``mask``."""
        return _sat_fraction(self.saturated_mask(), self.valid, mask)


@dataclass(frozen=True)
class NormalizedImage:
    """An image with bands bright on a dark background, whatever the file had.

    ``data`` is ``saturation_value - raw`` for dark-on-light images (so that a
    fully dark, i.e. saturated, film pixel becomes the maximum) and the raw data
    otherwise. Every later step (lanes, background, bands) works on this.
    ``valid`` is the loader's transparency mask (None: every pixel is image);
    under invalid pixels ``data`` holds the neutral fill of the module docs,
    so code that ignores ``valid`` sees background there, not an edge.
    """

    data: NDArray[np.float32]
    saturation_value: float
    polarity: Polarity
    polarity_rule: str
    source: LoadedImage | None = None
    valid: NDArray[np.bool_] | None = None

    def saturated_mask(self) -> NDArray[np.bool_]:
        """Pixels at (or above) the detector maximum; never a transparent pixel."""
        return _sat_mask(self.data, self.saturation_value, self.valid)

    def saturated_fraction(self, mask: NDArray[np.bool_] | None = None) -> float:
        """Fraction of saturated pixels among the opaque ones (inside ``mask`` if given)."""
        return _sat_fraction(self.saturated_mask(), self.valid, mask)


#: A dark-end plateau: at least this many pixels at the minimum ...
_DARK_PLATEAU_PIXELS = 25
#: ... and this many times as many as at the next value above it (clipping, not noise).
_DARK_PLATEAU_RATIO = 4.0


def _dark_plateau(data: NDArray[Any], valid: NDArray[np.bool_] | None) -> float | None:
    """The minimum of a dark-on-light image when it is a clipping plateau above 0.

    Why: in an inverted (film-like or scanner-inverted) image the detector's
    maximum is at the *dark* end of the file values. A film's darkest
    density or a scanner's black point can sit above 0 (a band burnt out at
    12, say), and ``container maximum - value`` then never reaches the
    saturation value, so a saturated band went unflagged. A clipped band
    leaves many pixels at exactly the minimum and few just above it; noise
    alone leaves a thin tail. Integer data only (floats have no plateau).
    """
    if not np.issubdtype(np.asarray(data).dtype, np.integer) and not np.all(
        np.mod(data[:: max(1, data.size // 100_000)], 1) == 0
    ):
        return None
    v = data if valid is None else data[valid]
    if v.size == 0:
        return None
    vmin = float(np.min(v))
    if vmin <= 0:
        return None  # clipped at 0 is already the container's end
    n_min = int(np.count_nonzero(v == vmin))
    above = v[v > vmin]
    if above.size == 0:
        return None
    n_next = int(np.count_nonzero(above == float(np.min(above))))
    if n_min >= _DARK_PLATEAU_PIXELS and n_min >= _DARK_PLATEAU_RATIO * max(n_next, 1):
        return vmin
    return None


def _sat_mask(
    data: NDArray[np.float32], sat: float, valid: NDArray[np.bool_] | None
) -> NDArray[np.bool_]:
    mask = data >= sat
    if valid is not None:
        mask &= valid
    return mask


def _sat_fraction(
    sat: NDArray[np.bool_], valid: NDArray[np.bool_] | None, mask: NDArray[np.bool_] | None
) -> float:
    if valid is not None:
        mask = valid if mask is None else (mask & valid)
    if mask is not None:
        sat = sat[mask]
    return float(sat.mean()) if sat.size else 0.0


# --------------------------------------------------------------------------------------
# Header parsing (dimensions before decoding)
# --------------------------------------------------------------------------------------


def _png_header(blob: bytes, path: str) -> tuple[int, int]:
    if len(blob) < 33 or blob[12:16] != b"IHDR":
        raise ImageError(path, "PNG header: IHDR chunk missing or truncated (expected at byte 12)")
    width, height = struct.unpack(">II", blob[16:24])
    if b"IEND" not in blob[-64:]:
        raise ImageError(path, "PNG data: IEND chunk missing (file truncated?)")
    return height, width


def _jpeg_header(blob: bytes, path: str) -> tuple[int, int]:
    pos = 2
    n = len(blob)
    sof = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    while pos + 4 <= n:
        if blob[pos] != 0xFF:
            raise ImageError(path, f"JPEG header: expected a marker at byte {pos}")
        marker = blob[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", blob[pos + 2 : pos + 4])
        if marker in sof:
            if pos + 9 > n:
                break
            height, width = struct.unpack(">HH", blob[pos + 5 : pos + 9])
            if b"\xff\xd9" not in blob[-1024:]:
                raise ImageError(path, "JPEG data: end-of-image marker missing (file truncated?)")
            return int(height), int(width)
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise ImageError(path, "JPEG header: no frame (SOF) marker with the image size found")


def _check_dims(path: str, height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageError(path, f"image dimensions: {width}x{height}; expected both >= 1")
    if height * width > max_pixels:
        raise ImageError(
            path,
            f"image dimensions: {width}x{height} = {height * width:,} pixels exceeds the limit of "
            f"{max_pixels:,} pixels (decompression-bomb guard; raise max_pixels if genuine)",
        )


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _read_tiff(path: str, max_pixels: int) -> tuple[NDArray[Any], dict[str, Any]]:
    import tifffile

    size = os.path.getsize(path)
    with tifffile.TiffFile(path) as tif:
        if len(tif.pages) == 0:
            raise ImageError(path, "TIFF structure: no image directory (IFD) found")
        # Reduced-resolution pages (thumbnails, pyramid levels) are previews of the image.
        # More than one full image is a stack we cannot tell apart: analysing the first
        # page silently would measure one exposure or channel of several, so refuse.
        pages = list(tif.pages)
        main = [p for p in pages if not getattr(p, "is_reduced", False)]
        if len(main) > 1:
            raise ImageError(
                path,
                f"TIFF has {len(main)} pages (images"
                + (f", plus {len(pages) - len(main)} preview(s)" if len(pages) > len(main) else "")
                + "); expected one image per file: save the page to analyse as its own file",
            )
        page = main[0] if main else pages[0]
        shape = tuple(int(s) for s in page.shape)
        if len(shape) < 2:
            raise ImageError(path, f"TIFF page shape {shape}: expected a 2-D image")
        # RGB pages are (h, w, s); planar ones (s, h, w).
        planar = len(shape) == 3 and shape[0] in (3, 4) and shape[2] not in (3, 4)
        height, width = (shape[1], shape[2]) if planar else (shape[0], shape[1])
        _check_dims(path, height, width, max_pixels)
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        if offsets and counts:
            end = max(int(o) + int(c) for o, c in zip(offsets, counts))
            if end > size:
                raise ImageError(
                    path,
                    f"TIFF strip/tile data: ends at byte {end:,} but the file has {size:,} bytes "
                    "(file truncated?)",
                )
            # Uncompressed data must hold every pixel the header claims; otherwise
            # the decoder would allocate the claimed image first and fail after.
            compression = int(getattr(page, "compression", 1) or 1)
            needed = int(getattr(page, "nbytes", 0) or 0)
            stored = sum(int(c) for c in counts)
            if compression == 1 and needed > stored:
                raise ImageError(
                    path,
                    f"TIFF strip/tile data: {stored:,} bytes stored but the header's "
                    f"{width}x{height} image with shape {shape} and {page.dtype} samples "
                    f"needs {needed:,} (dimensions wrong or file truncated?)",
                )
            # Compressed or not, the strips (tiles) must cover the claimed image:
            # a header edit to the dimensions would otherwise have the decoder
            # allocate the claimed image before finding the data short.
            planes = shape[0] if planar else 1
            if getattr(page, "is_tiled", False):
                tl, tw = int(page.tilelength or 1), int(page.tilewidth or 1)
                need = planes * -(-height // tl) * -(-width // tw)
                unit = f"{tw}x{tl} tiles"
            else:
                rows = max(1, min(int(getattr(page, "rowsperstrip", 0) or height), height))
                need = planes * -(-height // rows)
                unit = f"strips of {rows} rows"
            if len(offsets) < need:
                raise ImageError(
                    path,
                    f"TIFF strip/tile data: {len(offsets)} {unit} cannot hold the header's "
                    f"{width}x{height} image ({need} needed; dimensions wrong or file truncated?)",
                )
        meta: dict[str, Any] = {"n_pages": len(tif.pages)}
        tag = page.tags.get(281)
        if tag is not None:
            value = tag.value
            meta["max_sample_value"] = int(np.max(value))
        data = page.asarray()
        if planar:
            data = np.moveaxis(data, 0, -1)
        for key in ("photometric", "compression"):
            value = getattr(page, key, None)
            meta[key] = str(getattr(value, "name", value))
        extras = tuple(int(e) for e in (getattr(page, "extrasamples", ()) or ()))
        if extras:
            meta["extrasamples"] = list(extras)
    return np.asarray(data), meta


def _read_cv2(path: str, blob: bytes) -> NDArray[Any]:
    import cv2

    arr = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageError(path, "pixel data: the decoder could not read this file")
    if arr.ndim == 3 and arr.shape[2] >= 3:
        # OpenCV gives BGR(A); make it RGB(A) so channel names mean what they say.
        arr = np.concatenate([arr[..., 2::-1], arr[..., 3:]], axis=2)
    return np.asarray(arr)


# --------------------------------------------------------------------------------------
# Transparency
# --------------------------------------------------------------------------------------

#: TIFF ExtraSamples values (TIFF 6.0, tag 338)
_TIFF_EXTRA_NAMES = {0: "unspecified", 1: "associated alpha", 2: "unassociated alpha"}
#: fewer opaque pixels than this fraction: the file is refused
_MIN_OPAQUE_FRACTION = 0.01
#: half-width of the box whose opaque-pixel mean fills a transparent pixel
_FILL_RADIUS = 8


def _full_scale(arr: NDArray[Any]) -> float:
    if np.issubdtype(arr.dtype, np.integer):
        return float(np.iinfo(arr.dtype).max)
    return 1.0


def _png_grey_trns(blob: bytes) -> tuple[int, int] | None:
    """(transparent grey value, bit depth) of a grey PNG's tRNS chunk, if it has one.

    Why parse it here: OpenCV expands palette and RGB tRNS to an alpha channel,
    but for grey images it silently drops the chunk.
    """
    if len(blob) < 33 or blob[25] != 0:  # IHDR colour type 0: greyscale
        return None
    bit_depth = blob[24]
    pos = 8
    while pos + 8 <= len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind = blob[pos + 4 : pos + 8]
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"tRNS" and length >= 2 and pos + 10 <= len(blob):
            (value,) = struct.unpack(">H", blob[pos + 8 : pos + 10])
            return int(value), int(bit_depth)
        pos += 12 + length
    return None


def _split_alpha(
    raw: NDArray[Any], fmt: str, meta: dict[str, Any], blob: bytes | None
) -> tuple[NDArray[Any], NDArray[Any] | None, str]:
    """Separate the alpha channel (if any) from the colour channels (module docs)."""
    if fmt == "png":
        if raw.ndim == 3 and raw.shape[2] in (2, 4):
            return raw[..., :-1], raw[..., -1], "PNG alpha channel"
        if raw.ndim == 2 and blob is not None:
            trns = _png_grey_trns(blob)
            if trns is not None:
                value, bits = trns
                if bits < 8:  # the decoder scales 1/2/4-bit grey to 8 bits
                    value = value * 255 // (2**bits - 1)
                full = _full_scale(raw)
                alpha = np.where(raw == value, 0, full).astype(raw.dtype)
                return raw, alpha, f"PNG tRNS chunk: grey value {value} is transparent"
        return raw, None, ""
    extras = meta.get("extrasamples") or []
    if fmt != "tiff" or raw.ndim != 3 or not extras:
        return raw, None, ""
    n_colour = raw.shape[2] - len(extras)
    if n_colour < 1:
        return raw, None, ""
    for i, kind in enumerate(extras):
        ch = n_colour + i
        plane = raw[..., ch]
        if kind in (1, 2):
            desc = f"TIFF extra sample {i} ({_TIFF_EXTRA_NAMES[kind]})"
        elif kind == 0 and 2 * int(np.count_nonzero(plane >= _full_scale(plane))) >= plane.size:
            desc = f"TIFF extra sample {i} (unspecified, mostly at full scale: taken as alpha)"
        else:
            continue
        return np.delete(raw, ch, axis=2), plane, desc
    return raw, None, ""


def _valid_from_alpha(
    alpha: NDArray[Any], path: str, source: str
) -> tuple[NDArray[np.bool_] | None, dict[str, Any]]:
    """Opaque-pixel mask from an alpha plane; refuses nearly transparent images."""
    a = np.nan_to_num(alpha, nan=0.0) if np.issubdtype(alpha.dtype, np.floating) else alpha
    full = _full_scale(a)
    top = float(np.max(a))
    total = int(a.size)
    if top >= 0.5 * full:
        valid = a >= a.dtype.type(top)
        n = int(np.count_nonzero(valid))
    else:
        valid, n = np.zeros(a.shape, bool), 0
    if n < _MIN_OPAQUE_FRACTION * total:
        raise ImageError(
            path,
            f"transparency ({source}): only {n:,} of {total:,} pixels are opaque "
            f"(alpha at the opaque level {top:g} of {full:g}); expected at least "
            f"{_MIN_OPAQUE_FRACTION:.0%} opaque pixels to analyse",
        )
    info: dict[str, Any] = {
        "source": source,
        "opaque_level": top,
        "full_scale": full,
        "pixels": total,
        "transparent_pixels": total - n,
        "rule": "alpha below the opaque level (incl. partly transparent rims): outside the image",
    }
    if n == total:
        return None, info
    info["fill"] = (
        f"transparent pixels hold the mean of the opaque pixels in a "
        f"{2 * _FILL_RADIUS + 1}x{2 * _FILL_RADIUS + 1} box at their nearest opaque pixel"
    )
    return valid, info


def _fill_invalid(data: NDArray[np.float32], valid: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``data`` with each invalid pixel replaced by the local opaque-pixel mean at its
    nearest valid pixel (module docs): a neutral, edge-free continuation."""
    import cv2
    from scipy import ndimage

    invalid = ~valid
    if not invalid.any():
        return data
    h, w = data.shape
    k = (2 * _FILL_RADIUS + 1, 2 * _FILL_RADIUS + 1)
    # Work per transparent area (rounded corners: four small boxes), in its bounding
    # box grown by one pixel: the nearest opaque pixel of a transparent pixel lies
    # there (a pixel farther out moved onto the opaque rim gets closer; another
    # transparent area on that rim can only make the choice a near, not the nearest,
    # opaque pixel). Many areas: one box around them all, where this is exact.
    labels, n = ndimage.label(invalid, structure=np.ones((3, 3), bool))
    if n <= 256:
        boxes = [b for b in ndimage.find_objects(labels) if b is not None]
    else:
        rows = np.flatnonzero(invalid.any(axis=1))
        cols = np.flatnonzero(invalid.any(axis=0))
        boxes = [(slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))]
    out = data.copy()
    for rs, cs in boxes:
        r0, r1 = max(0, rs.start - 1), min(h, rs.stop + 1)
        c0, c1 = max(0, cs.start - 1), min(w, cs.stop + 1)
        # box means of opaque pixels only, over the box grown by the fill radius so
        # that every mean inside the box is the full-image one
        e0, e1 = max(0, r0 - _FILL_RADIUS), min(h, r1 + _FILL_RADIUS)
        f0, f1 = max(0, c0 - _FILL_RADIUS), min(w, c1 + _FILL_RADIUS)
        ok = valid[e0:e1, f0:f1]
        num = cv2.blur(np.where(ok, data[e0:e1, f0:f1], np.float32(0)).astype(np.float32), k)
        den = cv2.blur(ok.astype(np.float32), k)
        local = (num / np.maximum(den, np.float32(1e-6)))[r0 - e0 : r1 - e0, c0 - f0 : c1 - f0]
        sub = invalid[r0:r1, c0:c1]
        iy, ix = ndimage.distance_transform_edt(sub, return_distances=False, return_indices=True)
        region = out[r0:r1, c0:c1]
        region[sub] = local[iy[sub], ix[sub]]
    return out


def _to_one_channel(
    data: NDArray[Any], rule: ColorRule, path: str, valid: NDArray[np.bool_] | None = None
) -> tuple[NDArray[Any], str | None]:
    if data.ndim == 2:
        return data, None
    if data.ndim != 3:
        raise ImageError(path, f"pixel array shape {data.shape}: expected 2-D or 2-D with channels")
    channels = data.shape[2]
    if channels == 1:
        return data[..., 0], None
    if channels == 2:  # grey + alpha
        return data[..., 0], "grey+alpha: alpha dropped"
    rgb = data[..., :3]
    if rule == "luminance":
        lum = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return lum, "luminance (BT.601)"
    if rule in ("red", "green", "blue"):
        k = {"red": 0, "green": 1, "blue": 2}[rule]
        return rgb[..., k], f"{rule} channel"
    if rule != "auto":
        raise ImageError(path, f"color_rule {rule!r}: expected auto, luminance, red, green or blue")
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    if valid is None:
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return rgb[..., 0], "grey stored as RGB: one channel"
        sample = rgb[::step, ::step].reshape(-1, 3).astype(np.float32)
    else:
        # transparent pixels' colour is whatever the exporter left there: not evidence
        differs = (rgb[..., 0] != rgb[..., 1]) | (rgb[..., 0] != rgb[..., 2])
        if not np.any(differs & valid):
            return rgb[..., 0], "grey stored as RGB: one channel"
        sample = rgb[::step, ::step][valid[::step, ::step]].astype(np.float32)
    lo, hi = np.percentile(sample, [0.1, 99.9], axis=0)
    k = int(np.argmax(hi - lo))
    name = ("red", "green", "blue")[k]
    return rgb[..., k], f"channel with largest dynamic range ({name})"


def _saturation(
    data: NDArray[Any], meta: dict[str, Any], plateau_pixels: int
) -> tuple[float, int | None, str]:
    if data.dtype == np.uint8:
        return 255.0, 8, "8-bit container maximum"
    if data.dtype == np.uint16:
        tag = meta.get("max_sample_value")
        if tag is not None and 0 < tag < 65535:
            return float(tag), int(np.ceil(np.log2(tag + 1))), "TIFF MaxSampleValue tag"
        step = max(1, int(np.sqrt(data.size / 4_000_000)))
        # 1-D: the opaque pixels only (see load_image)
        sample = data[::step, ::step] if data.ndim == 2 else data[:: step * step]
        distinct = np.unique(sample)
        if distinct.size > 64:
            low_bits = np.bitwise_or.reduce(distinct.astype(np.uint16))
            shift = 0
            while shift < 8 and not (int(low_bits) >> shift) & 1:
                shift += 1
            if shift >= 1:
                return (
                    float(65536 - 2**shift),
                    16 - shift,
                    f"all values are multiples of {2**shift}: {16 - shift}-bit data left-shifted",
                )
        vmax = int(data.max())
        for bits in (10, 12, 14):
            top = 2**bits - 1
            if vmax == top and int(np.count_nonzero(data == top)) >= plateau_pixels:
                return float(top), bits, f"{bits}-bit data: plateau of pixels at {top}"
        return 65535.0, 16, "16-bit container maximum"
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        return float(info.max), info.bits, f"{info.bits}-bit integer container maximum"
    return float("inf"), None, "floating-point data: no known detector maximum"


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    color_rule: ColorRule = "auto",
    saturation_value: float | None = None,
    plateau_pixels: int = 3,
) -> LoadedImage:
    """Load a TIFF (8/16-bit, any tifffile/imagecodecs compression), PNG or JPEG.

    The format is taken from the file's magic bytes, not its name. Raises
    :class:`ImageError` for anything unreadable, truncated, or too large.
    """
    p = str(Path(path))
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ImageError(p, f"cannot open file: {exc.strerror or exc}") from exc
    if head.startswith(_TIFF_MAGIC):
        fmt: Literal["tiff", "png", "jpeg"] = "tiff"
    elif head.startswith(_PNG_MAGIC):
        fmt = "png"
    elif head.startswith(_JPEG_MAGIC):
        fmt = "jpeg"
    else:
        raise ImageError(
            p,
            f"file signature: first bytes {head[:8]!r} are not TIFF, PNG or JPEG "
            "(is this really an image?)",
        )
    blob: bytes | None = None
    try:
        if fmt == "tiff":
            raw, meta = _read_tiff(p, max_pixels)
        else:
            with open(p, "rb") as fh:
                blob = fh.read()
            height, width = _png_header(blob, p) if fmt == "png" else _jpeg_header(blob, p)
            _check_dims(p, height, width, max_pixels)
            raw = _read_cv2(p, blob)
            meta = {}
        if raw.ndim < 2 or raw.shape[0] == 0 or raw.shape[1] == 0:
            raise ImageError(p, f"pixel array shape {raw.shape}: expected a non-empty 2-D image")
        if raw.dtype == np.bool_:
            raw = raw.astype(np.uint8) * 255
        if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
            raise ImageError(p, f"pixel type {raw.dtype}: expected integer or float samples")
        colour, alpha, alpha_source = _split_alpha(raw, fmt, meta, blob)
        valid: NDArray[np.bool_] | None = None
        if alpha is not None:
            valid, meta["alpha"] = _valid_from_alpha(alpha, p, alpha_source)
            meta["transparent_pixels"] = meta["alpha"]["transparent_pixels"]
        one, rule = _to_one_channel(colour, color_rule, p, valid)
        if alpha is not None:
            rule = f"{rule or 'grey'}; transparency from the {alpha_source}"
        seen = np.asarray(one) if valid is None else np.asarray(one)[valid]
        sat, bits, sat_rule = _saturation(seen, meta, plateau_pixels)
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError(p, "pixel data: not enough memory to decode this image") from exc
    except Exception as exc:
        raise ImageError(
            p, f"cannot decode {fmt.upper()} data: {type(exc).__name__}: {exc}"
        ) from exc
    if saturation_value is not None:
        sat, sat_rule = float(saturation_value), "given by caller"
    data = np.ascontiguousarray(one, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        meta["non_finite_replaced"] = True
    if valid is not None:
        data = _fill_invalid(data, valid)
        log.info(
            "%s: %d of %d pixels are transparent (outside the image)",
            p,
            meta["transparent_pixels"],
            data.size,
        )
    container_bits = int(raw.dtype.itemsize * 8)
    log.debug("loaded %s: %s %s, saturation %s (%s)", p, fmt, data.shape, sat, sat_rule)
    return LoadedImage(
        data=data,
        path=p,
        source_format=fmt,
        bit_depth=int(container_bits),
        saturation_value=sat,
        significant_bits=bits,
        lossy=fmt == "jpeg",
        dtype=str(raw.dtype),
        color_rule=rule,
        saturation_rule=sat_rule,
        metadata=meta,
        valid=valid,
    )


# --------------------------------------------------------------------------------------
# Polarity
# --------------------------------------------------------------------------------------


def detect_polarity(
    data: NDArray[Any], border: int = 8, *, valid: NDArray[np.bool_] | None = None
) -> tuple[Polarity, str]:
    """Guess whether bands are light on dark or dark on light (see module docs).

    ``valid``: False for pixels outside the image (transparent); they are ignored.
    """
    arr = np.asarray(data, dtype=np.float32)
    if valid is not None and not np.all(valid):
        return _detect_polarity_masked(arr, border, np.asarray(valid, dtype=bool))
    step = max(1, int(np.sqrt(arr.size / 1_000_000)))
    sample = arr[::step, ::step]
    lo, med, hi = np.percentile(sample, [0.5, 50.0, 99.5])
    b = max(1, min(border, arr.shape[0] // 4, arr.shape[1] // 4))
    frame = np.concatenate(
        [arr[:b].ravel(), arr[-b:].ravel(), arr[:, :b].ravel(), arr[:, -b:].ravel()]
    )
    return _polarity_verdict(lo, med, hi, float(np.median(frame)), "")


def _detect_polarity_masked(
    arr: NDArray[np.float32], border: int, valid: NDArray[np.bool_]
) -> tuple[Polarity, str]:
    import cv2

    if valid.shape != arr.shape:
        raise ValueError(f"valid mask shape {valid.shape} does not match data shape {arr.shape}")
    values = arr[valid]
    if values.size == 0:
        raise ValueError("valid mask: no pixel belongs to the image")
    step = max(1, int(values.size / 1_000_000))
    lo, med, hi = np.percentile(values[::step], [0.5, 50.0, 99.5])
    b = max(1, min(border, arr.shape[0] // 4, arr.shape[1] // 4))
    # the border of the image *content*: near the frame or near a transparent pixel
    near = cv2.dilate((~valid).astype(np.uint8), np.ones((2 * b + 1, 2 * b + 1), np.uint8)) > 0
    near[:b] = True
    near[-b:] = True
    near[:, :b] = True
    near[:, -b:] = True
    frame = arr[near & valid]
    if frame.size == 0:
        frame = values
    n_out = int(valid.size - np.count_nonzero(valid))
    note = f"; {n_out} transparent pixels ignored"
    return _polarity_verdict(lo, med, hi, float(np.median(frame)), note)


def _polarity_verdict(
    lo: Any, med: Any, hi: Any, border_med: float, note: str
) -> tuple[Polarity, str]:
    # lo/med/hi stay numpy scalars (float32 arithmetic), as they always were
    tail_up, tail_down = hi - med, med - lo
    by_tails: Polarity = "light_bands_on_dark" if tail_up >= tail_down else "dark_bands_on_light"
    mid = 0.5 * (float(lo) + float(hi))
    by_border: Polarity = "light_bands_on_dark" if border_med <= mid else "dark_bands_on_light"
    if by_tails == by_border:
        return by_tails, (
            f"auto: longer tail {'above' if tail_up >= tail_down else 'below'} the median "
            f"({tail_up:.4g} vs {tail_down:.4g}) and border median {border_med:.4g} agree{note}"
        )
    return by_border, (
        f"auto: tails ({tail_up:.4g} up vs {tail_down:.4g} down) and border median "
        f"{border_med:.4g} (mid-range {mid:.4g}) disagree; border wins{note}"
    )


def normalize_polarity(
    image: LoadedImage | NDArray[Any],
    polarity: Polarity | Literal["auto"] = "auto",
    *,
    saturation_value: float | None = None,
    valid: NDArray[np.bool_] | None = None,
) -> NormalizedImage:
    """Return bands bright on dark. ``polarity`` is the *input's* polarity or ``"auto"``.

    ``valid`` (default: the loaded image's own mask) marks the pixels that belong
    to the image; the others are ignored for the polarity, never saturated, and
    hold the neutral fill of the module docs in the result.
    """
    if isinstance(image, LoadedImage):
        data, sat, source = image.data, image.saturation_value, image
        if valid is None:
            valid = image.valid
    else:
        data = np.asarray(image, dtype=np.float32)
        sat, source = float("inf"), None
    where = source.path if source else "<array>"
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != data.shape:
            raise ImageError(
                where, f"valid mask shape {valid.shape}: expected the image shape {data.shape}"
            )
        if valid.all():
            valid = None
        elif not valid.any():
            raise ImageError(where, "valid mask: no pixel belongs to the image")
    if saturation_value is not None:
        sat = float(saturation_value)
    if polarity == "auto":
        pol, rule = detect_polarity(data, valid=valid)
    elif polarity in ("light_bands_on_dark", "dark_bands_on_light"):
        pol, rule = polarity, "given by caller"
    else:
        raise ImageError(
            where,
            f"polarity {polarity!r}: expected 'auto', 'light_bands_on_dark' or "
            "'dark_bands_on_light'",
        )
    if pol == "dark_bands_on_light":
        if np.isfinite(sat):
            top = sat
        else:
            top = float(np.max(data if valid is None else data[valid]))
        out = (np.float32(top) - data).astype(np.float32)
        if valid is not None:
            out = _fill_invalid(out, valid)
        out_sat = top
        floor = None if saturation_value is not None else _dark_plateau(data, valid)
        if floor is not None:
            # the detector's maximum is the darkest value the file holds, not 0
            out_sat = top - floor
        return NormalizedImage(out, out_sat, pol, rule, source, valid)
    out = np.asarray(data, dtype=np.float32)
    if valid is not None:
        out = _fill_invalid(out, valid)
    return NormalizedImage(out, sat, pol, rule, source, valid)
