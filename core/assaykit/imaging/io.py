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
    0.114 B). ``"red"``, ``"green"``, ``"blue"`` pick a channel. Alpha is dropped.
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
    border is background far more often than not.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field, replace
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

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def saturated_mask(self) -> NDArray[np.bool_]:
        """Pixels at (or above) the detector maximum, in the file's polarity."""
        return self.data >= self.saturation_value

    def saturated_fraction(self, mask: NDArray[np.bool_] | None = None) -> float:
        """Fraction of saturated pixels, over the whole image or inside ``mask``."""
        sat = self.saturated_mask()
        if mask is not None:
            sat = sat[mask]
        return float(sat.mean()) if sat.size else 0.0


@dataclass(frozen=True)
class NormalizedImage:
    """An image with bands bright on a dark background, whatever the file had.

    ``data`` is ``saturation_value - raw`` for dark-on-light images (so that a
    fully dark, i.e. saturated, film pixel becomes the maximum) and the raw data
    otherwise. Every later step (lanes, background, bands) works on this.
    """

    data: NDArray[np.float32]
    saturation_value: float
    polarity: Polarity
    polarity_rule: str
    source: LoadedImage | None = None

    def saturated_mask(self) -> NDArray[np.bool_]:
        return self.data >= self.saturation_value

    def saturated_fraction(self, mask: NDArray[np.bool_] | None = None) -> float:
        sat = self.saturated_mask()
        if mask is not None:
            sat = sat[mask]
        return float(sat.mean()) if sat.size else 0.0

    def with_data(self, data: NDArray[np.float32]) -> NormalizedImage:
        """Same facts, new pixels (e.g. after rotation)."""
        return replace(self, data=data)


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
        page = tif.pages[0]
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


def _to_one_channel(
    data: NDArray[Any], rule: ColorRule, path: str
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
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0], "grey stored as RGB: one channel"
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    sample = rgb[::step, ::step].reshape(-1, 3).astype(np.float32)
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
        sample = data[::step, ::step]
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
        one, rule = _to_one_channel(raw, color_rule, p)
        sat, bits, sat_rule = _saturation(np.asarray(one), meta, plateau_pixels)
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
    )


# --------------------------------------------------------------------------------------
# Polarity
# --------------------------------------------------------------------------------------


def detect_polarity(data: NDArray[Any], border: int = 8) -> tuple[Polarity, str]:
    """Guess whether bands are light on dark or dark on light (see module docs)."""
    arr = np.asarray(data, dtype=np.float32)
    step = max(1, int(np.sqrt(arr.size / 1_000_000)))
    sample = arr[::step, ::step]
    lo, med, hi = np.percentile(sample, [0.5, 50.0, 99.5])
    tail_up, tail_down = hi - med, med - lo
    by_tails: Polarity = "light_bands_on_dark" if tail_up >= tail_down else "dark_bands_on_light"
    b = max(1, min(border, arr.shape[0] // 4, arr.shape[1] // 4))
    frame = np.concatenate(
        [arr[:b].ravel(), arr[-b:].ravel(), arr[:, :b].ravel(), arr[:, -b:].ravel()]
    )
    border_med = float(np.median(frame))
    mid = 0.5 * (float(lo) + float(hi))
    by_border: Polarity = "light_bands_on_dark" if border_med <= mid else "dark_bands_on_light"
    if by_tails == by_border:
        return by_tails, (
            f"auto: longer tail {'above' if tail_up >= tail_down else 'below'} the median "
            f"({tail_up:.4g} vs {tail_down:.4g}) and border median {border_med:.4g} agree"
        )
    return by_border, (
        f"auto: tails ({tail_up:.4g} up vs {tail_down:.4g} down) and border median "
        f"{border_med:.4g} (mid-range {mid:.4g}) disagree; border wins"
    )


def normalize_polarity(
    image: LoadedImage | NDArray[Any],
    polarity: Polarity | Literal["auto"] = "auto",
    *,
    saturation_value: float | None = None,
) -> NormalizedImage:
    """Return bands bright on dark. ``polarity`` is the *input's* polarity or ``"auto"``."""
    if isinstance(image, LoadedImage):
        data, sat, source = image.data, image.saturation_value, image
    else:
        data = np.asarray(image, dtype=np.float32)
        sat, source = float("inf"), None
    if saturation_value is not None:
        sat = float(saturation_value)
    if polarity == "auto":
        pol, rule = detect_polarity(data)
    elif polarity in ("light_bands_on_dark", "dark_bands_on_light"):
        pol, rule = polarity, "given by caller"
    else:
        raise ImageError(
            source.path if source else "<array>",
            f"polarity {polarity!r}: expected 'auto', 'light_bands_on_dark' or "
            "'dark_bands_on_light'",
        )
    if pol == "dark_bands_on_light":
        top = sat if np.isfinite(sat) else float(np.max(data))
        out = (np.float32(top) - data).astype(np.float32)
        return NormalizedImage(out, top, pol, rule, source)
    return NormalizedImage(np.asarray(data, dtype=np.float32), sat, pol, rule, source)
