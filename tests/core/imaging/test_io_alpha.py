"""Transparency: transparent pixels are outside the image (never signal, background or
polarity cue).

The images are built here with known truth: a western-style export (dark bands on a
light, slightly graded background, one fully dark i.e. saturated band), saved as RGBA
with anti-aliased transparent rounded corners whose RGB is black (colour blended with
black by alpha, as exporters do). That is the case seen on real exports: with alpha
dropped the black corners read as saturated signal and can flip the polarity.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from assaykit.errors import ImageError
from assaykit.imaging.background import estimate_background
from assaykit.imaging.io import detect_polarity, load_image, normalize_polarity
from assaykit.imaging.pipeline import prepare_image
from numpy.typing import NDArray

H, W = 300, 420
BG = 215.0  # background grey level at the centre column
GRAD = 6.0  # background goes from BG - GRAD (left) to BG + GRAD (right)


def _background_truth(w: int = W) -> NDArray[np.float64]:
    return BG + np.linspace(-GRAD, GRAD, w)


def _western(
    radius: int, pad_bottom: int = 0, seed: int = 0, lanes: int = 6
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Grey image (0..255, dark bands on light), alpha in [0, 1], truth of saturated pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    grey = _background_truth()[None, :] + rng.normal(0, 2.0, (H, W))
    centers = np.linspace(W * 0.12, W * 0.88, lanes)
    for c in centers:
        for row, depth in ((H * 0.3, 1.0), (H * 0.55, 0.6)):
            prof = np.exp(-0.5 * ((yy - row) / 4.0) ** 2) * (np.abs(xx - c) < W / lanes * 0.35)
            grey -= (BG - 70) * depth * prof
    sat = np.zeros((H, W), bool)
    r0, c0, half = int(H * 0.3), int(centers[0]), int(W / lanes * 0.2)
    sat[r0 - 2 : r0 + 3, c0 - half : c0 + half] = True
    grey[sat] = 0.0  # fully dense film: saturated in the dark-on-light file
    grey = np.clip(np.round(grey), 0, 255)
    alpha = np.ones((H, W))
    hh = H - pad_bottom
    for cy, cx in (
        (radius, radius),
        (radius, W - 1 - radius),
        (hh - 1 - radius, radius),
        (hh - 1 - radius, W - 1 - radius),
    ):
        rows = (yy < radius) if cy == radius else (yy > hh - 1 - radius)
        cols = (xx < radius) if cx == radius else (xx > W - 1 - radius)
        region = rows & cols
        d = np.hypot(yy - cy, xx - cx)
        alpha[region] = np.clip(radius - d[region] + 0.5, 0.0, 1.0)  # anti-aliased rim
    alpha[hh:] = 0.0
    return grey, alpha, sat


def _write_rgba_png(path: Path, grey: NDArray[np.float64], alpha: NDArray[np.float64]) -> None:
    a8 = np.round(alpha * 255).astype(np.uint8)
    # the colour under transparency is black, blended by alpha on the rim
    g8 = np.round(grey * a8 / 255.0).astype(np.uint8)
    bgra = np.dstack([g8, g8, g8, a8])
    ok, buf = cv2.imencode(".png", bgra)
    assert ok
    path.write_bytes(buf.tobytes())


@pytest.fixture(params=[(24, 0), (70, 60)], ids=["rounded_corners", "large_transparent_20pct"])
def export(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Path, NDArray[np.float64], NDArray[np.bool_]]:
    radius, pad = request.param
    grey, alpha, sat = _western(radius, pad)
    p = tmp_path / f"western_{radius}_{pad}.png"
    _write_rgba_png(p, grey, alpha)
    opaque = np.round(alpha * 255) == 255
    return p, grey, opaque & sat


def _opaque_truth(path: Path) -> NDArray[np.bool_]:
    raw = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    return np.asarray(raw[..., 3] == 255)


def test_fixture_reproduces_the_reported_failure(tmp_path: Path) -> None:
    # with alpha dropped (the black RGB of the transparent area kept), the large case
    # reads as light bands on dark: the bug this module must not have
    grey, alpha, _ = _western(70, 60)
    _write_rgba_png(tmp_path / "w.png", grey, alpha)
    rgb = cv2.imread(str(tmp_path / "w.png"), cv2.IMREAD_COLOR)
    assert 0.2 < float((alpha < 1).mean()) < 0.3
    assert detect_polarity(rgb[..., 0].astype(np.float32))[0] == "light_bands_on_dark"


def test_valid_mask_and_metadata(
    export: tuple[Path, NDArray[np.float64], NDArray[np.bool_]],
) -> None:
    path, _grey, _sat = export
    opaque = _opaque_truth(path)
    im = load_image(path)
    assert im.valid is not None
    np.testing.assert_array_equal(im.valid, opaque)  # the anti-aliased rim is outside
    n_out = int((~opaque).sum())
    assert im.metadata["transparent_pixels"] == n_out
    assert im.metadata["alpha"]["opaque_level"] == 255
    assert im.n_valid == H * W - n_out
    assert im.saturation_value == 255 and im.bit_depth == 8


def test_polarity_and_saturation_ignore_transparent_pixels(
    export: tuple[Path, NDArray[np.float64], NDArray[np.bool_]],
) -> None:
    path, _grey, sat_truth = export
    im = load_image(path)
    norm = normalize_polarity(im)
    assert norm.polarity == "dark_bands_on_light"
    assert "transparent pixels ignored" in norm.polarity_rule
    assert norm.valid is not None
    np.testing.assert_array_equal(norm.valid, im.valid)
    # exactly the fully dark band is saturated: nothing in the transparent area
    np.testing.assert_array_equal(norm.saturated_mask(), sat_truth)
    assert norm.saturated_fraction() == pytest.approx(sat_truth.sum() / im.n_valid)
    # forcing the polarity does not make the corners signal either
    forced = normalize_polarity(im, "dark_bands_on_light")
    np.testing.assert_array_equal(forced.saturated_mask(), sat_truth)
    # in the file's polarity the black under transparency is not saturated either
    assert not im.saturated_mask().any()


def test_fill_is_neutral_background(
    export: tuple[Path, NDArray[np.float64], NDArray[np.bool_]],
) -> None:
    path, _grey, _sat = export
    im = load_image(path)
    norm = normalize_polarity(im)
    assert norm.valid is not None
    out = ~norm.valid
    # bright-band background is 255 - (noise-free background of that column)
    bg_bright = np.broadcast_to(255.0 - _background_truth()[None, :], (H, W))
    err = np.abs(norm.data[out] - bg_bright[out])
    assert err.max() < 3.0  # noise sigma is 2; the fill averages ~289 pixels
    # no step at the edge of the transparent area: the rolling-ball-subtracted image
    # there looks like background noise, not a bright plateau (unfilled, it would be
    # ~215 grey levels)
    det = estimate_background(norm.data, "rolling_ball", radius=50).subtract(norm.data)
    near = cv2.dilate(out.astype(np.uint8), np.ones((21, 21), np.uint8)) > 0
    interior = np.zeros((H, W), bool)
    interior[int(H * 0.4) : int(H * 0.45), 150:300] = True  # band-free background
    assert float(det[out].max()) < 3.0  # 1.5 noise sigma
    assert float(det[near].mean()) < 3.0
    assert float(np.percentile(det[near], 99)) <= float(np.percentile(det[interior], 99.5)) + 2.0


def test_prepare_image_on_rgba_export(
    export: tuple[Path, NDArray[np.float64], NDArray[np.bool_]],
) -> None:
    path, _grey, sat_truth = export
    prep = prepare_image(path, deskew=False)
    assert prep.polarity == "dark_bands_on_light"
    opaque = _opaque_truth(path)
    assert not prep.saturated[~opaque].any()
    np.testing.assert_array_equal(prep.saturated, sat_truth)
    assert [len(s.lanes.lanes) for s in prep.strips] == [6]
    # with deskew on as well (the default), still nothing saturated in the corners
    prep2 = prepare_image(path)
    assert prep2.polarity == "dark_bands_on_light"
    assert not prep2.saturated[~opaque].any()


def test_opaque_alpha_reads_exactly_like_rgb(tmp_path: Path) -> None:
    grey, _alpha, _ = _western(24)
    g8 = grey.astype(np.uint8)
    _ok, buf = cv2.imencode(".png", np.dstack([g8, g8, g8, np.full_like(g8, 255)]))
    (tmp_path / "rgba.png").write_bytes(buf.tobytes())
    _ok, buf = cv2.imencode(".png", np.dstack([g8, g8, g8]))
    (tmp_path / "rgb.png").write_bytes(buf.tobytes())
    a, b = load_image(tmp_path / "rgba.png"), load_image(tmp_path / "rgb.png")
    assert a.valid is None and b.valid is None
    assert a.metadata["transparent_pixels"] == 0
    np.testing.assert_array_equal(a.data, b.data)
    na, nb = normalize_polarity(a), normalize_polarity(b)
    assert na.valid is None and na.polarity == nb.polarity == "dark_bands_on_light"
    np.testing.assert_array_equal(na.data, nb.data)


# ----------------------------------------------------------------------------- formats


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(
    width: int, height: int, bit_depth: int, colour_type: int, rows: list[bytes], *extra: bytes
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _tiny(h: int = 20, w: int = 20) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Light background (200), a dark bar, and a transparent 5x5 top-left corner."""
    g = np.full((h, w), 200, np.uint8)
    g[h // 2 - 1 : h // 2 + 2, w // 5 : 4 * w // 5] = 40
    inside = np.ones((h, w), bool)
    inside[:5, :5] = False
    g[~inside] = 0
    return g, inside


def test_grey_alpha_png(tmp_path: Path) -> None:
    g, inside = _tiny()
    a = np.where(inside, 255, 0).astype(np.uint8)
    rows = [np.dstack([g, a])[r].tobytes() for r in range(g.shape[0])]
    (tmp_path / "ga.png").write_bytes(_png(20, 20, 8, 4, rows))
    im = load_image(tmp_path / "ga.png")
    assert im.valid is not None
    np.testing.assert_array_equal(im.valid, inside)
    np.testing.assert_array_equal(im.data[inside], g[inside])
    assert normalize_polarity(im).polarity == "dark_bands_on_light"


def test_palette_png_with_trns(tmp_path: Path) -> None:
    g, inside = _tiny()
    idx = np.where(inside, np.where(g == 40, 2, 1), 0).astype(np.uint8)
    plte = _chunk(b"PLTE", bytes([0, 0, 0, 200, 200, 200, 40, 40, 40]))
    trns = _chunk(b"tRNS", bytes([0]))  # entry 0 transparent, the others opaque
    (tmp_path / "p.png").write_bytes(_png(20, 20, 8, 3, [r.tobytes() for r in idx], plte, trns))
    im = load_image(tmp_path / "p.png")
    assert im.valid is not None
    np.testing.assert_array_equal(im.valid, inside)
    np.testing.assert_array_equal(im.data[inside], g[inside])


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_grey_png_with_trns_value(tmp_path: Path, bit_depth: int) -> None:
    g, inside = _tiny()
    g16 = g.astype(np.uint16) * (257 if bit_depth == 16 else 1)
    fmt = ">" + ("H" if bit_depth == 16 else "B") * 20
    rows = [struct.pack(fmt, *(int(v) for v in g16[r])) for r in range(20)]
    trns = _chunk(b"tRNS", struct.pack(">H", 0))  # grey 0 is transparent
    (tmp_path / "g.png").write_bytes(_png(20, 20, bit_depth, 0, rows, trns))
    im = load_image(tmp_path / "g.png")
    assert im.valid is not None and "tRNS" in (im.color_rule or "")
    np.testing.assert_array_equal(im.valid, inside)
    np.testing.assert_array_equal(im.data[inside], g16[inside])


@pytest.mark.parametrize("planar", [False, True])
def test_rgba_tiff_16bit_unassociated_alpha(tmp_path: Path, planar: bool) -> None:
    grey, alpha, sat = _western(40)
    g16 = (grey * 257).astype(np.uint16)
    a16 = np.round(alpha * 65535).astype(np.uint16)
    rgba = np.dstack([g16, g16, g16, a16])
    rgba[a16 == 0, :3] = 0
    p = tmp_path / "w16.tif"
    if planar:
        tifffile.imwrite(
            p,
            rgba.transpose(2, 0, 1),
            photometric="rgb",
            planarconfig="separate",
            extrasamples=["unassalpha"],
        )
    else:
        tifffile.imwrite(p, rgba, photometric="rgb", extrasamples=["unassalpha"])
    im = load_image(p)
    opaque = a16 == 65535
    assert im.valid is not None and im.bit_depth == 16
    np.testing.assert_array_equal(im.valid, opaque)
    assert "unassociated alpha" in im.metadata["alpha"]["source"]
    assert im.metadata["transparent_pixels"] == int((~opaque).sum())
    # the saturation rule looks at opaque pixels only: values are multiples of 257,
    # i.e. no left shift, so the container maximum stands
    assert im.saturation_value == 65535
    norm = normalize_polarity(im)
    assert norm.polarity == "dark_bands_on_light"
    np.testing.assert_array_equal(norm.saturated_mask(), sat & opaque)


def test_grey_tiff_associated_alpha_and_unspecified_extra_sample(tmp_path: Path) -> None:
    g, inside = _tiny()
    a = np.where(inside, 255, 0).astype(np.uint8)
    tifffile.imwrite(
        tmp_path / "ga.tif",
        np.dstack([g, a]),
        photometric="minisblack",
        extrasamples=["assocalpha"],
    )
    im = load_image(tmp_path / "ga.tif")
    assert im.valid is not None
    np.testing.assert_array_equal(im.valid, inside)
    # an unspecified extra sample that is mostly at full scale is taken as alpha ...
    rgb = np.dstack([g, g, g, a])
    tifffile.imwrite(tmp_path / "u.tif", rgb, photometric="rgb", extrasamples=["unspecified"])
    im_u = load_image(tmp_path / "u.tif")
    assert im_u.valid is not None
    np.testing.assert_array_equal(im_u.valid, inside)
    # ... one that is not (a second signal) is dropped, as before: no mask
    other = (np.arange(400).reshape(20, 20) % 200).astype(np.uint8)
    tifffile.imwrite(
        tmp_path / "o.tif",
        np.dstack([g, g, g, other]),
        photometric="rgb",
        extrasamples=["unspecified"],
    )
    im_o = load_image(tmp_path / "o.tif")
    assert im_o.valid is None and "alpha" not in im_o.metadata
    np.testing.assert_array_equal(im_o.data, g)


# ----------------------------------------------------------------------------- refusal


def test_fully_transparent_png_is_refused(tmp_path: Path) -> None:
    bgra = np.zeros((30, 40, 4), np.uint8)
    bgra[..., :3] = 120
    _ok, buf = cv2.imencode(".png", bgra)
    p = tmp_path / "clear.png"
    p.write_bytes(buf.tobytes())
    with pytest.raises(ImageError, match=r"only 0 of 1,200 pixels are opaque") as info:
        load_image(p)
    assert str(p) in str(info.value)


def test_under_one_percent_opaque_is_refused_and_one_percent_is_not(tmp_path: Path) -> None:
    bgra = np.full((100, 100, 4), 180, np.uint8)
    bgra[..., 3] = 0
    bgra.reshape(-1, 4)[:99, 3] = 255  # 99 of 10,000 opaque: under 1 %
    _ok, buf = cv2.imencode(".png", bgra)
    (tmp_path / "few.png").write_bytes(buf.tobytes())
    with pytest.raises(ImageError, match=r"few\.png.*only 99 of 10,000 pixels are opaque"):
        load_image(tmp_path / "few.png")
    bgra.reshape(-1, 4)[99, 3] = 255  # 100 of 10,000: exactly 1 %
    _ok, buf = cv2.imencode(".png", bgra)
    (tmp_path / "ok.png").write_bytes(buf.tobytes())
    im = load_image(tmp_path / "ok.png")
    assert im.n_valid == 100


# ----------------------------------------------------------------------------- arrays


def test_arrays_with_a_mask() -> None:
    g, inside = _tiny(40, 40)
    data = g.astype(np.float32)
    assert detect_polarity(data, valid=inside)[0] == "dark_bands_on_light"
    n = normalize_polarity(data, valid=inside, saturation_value=255)
    assert n.polarity == "dark_bands_on_light" and not n.saturated_mask().any()
    # the fill is background (255 - 200), not the saturated 255 of the black corner
    np.testing.assert_allclose(n.data[~inside], 55.0, atol=1e-3)
    with pytest.raises(ImageError, match="valid mask shape"):
        normalize_polarity(data, valid=inside[:10])


def test_many_small_transparent_areas_are_filled_with_background() -> None:
    # > 256 separate transparent specks take the one-box path of the fill
    data = np.full((120, 160), 200.0, np.float32)
    data[:, 80:] = 120.0  # two background levels: each speck takes its own side's
    valid = np.ones(data.shape, bool)
    valid[2:-2:4, 2:-2:4] = False  # 29 x 39 isolated specks
    data[~valid] = 0.0
    assert int((~valid).sum()) > 256
    n = normalize_polarity(data, "dark_bands_on_light", valid=valid, saturation_value=255)
    expected = np.where(np.arange(160) < 80, 55.0, 135.0)[None, :].repeat(120, axis=0)
    far = np.abs(np.arange(160) - 79.5)[None, :].repeat(120, axis=0) > 10  # away from the step
    np.testing.assert_allclose(n.data[~valid & far], expected[~valid & far], atol=1e-3)
    assert not n.saturated_mask().any()
