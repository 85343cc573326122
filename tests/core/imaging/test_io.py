"""Loading: formats, bit depths, saturation rules, polarity, and refusal of bad files."""

from __future__ import annotations

import contextlib
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from assaykit.errors import ImageError
from assaykit.imaging.io import detect_polarity, load_image, normalize_polarity
from assaykit.imaging.synthetic import make_blot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture()
def grey16() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((60, 80)) * 50000).astype(np.uint16)


@pytest.mark.parametrize("compression", [None, "lzw", "zlib"])
def test_tiff_16bit_compressions_roundtrip(
    tmp_path: Path, grey16: np.ndarray, compression: str | None
) -> None:
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, grey16, compression=compression)
    im = load_image(p)
    assert im.source_format == "tiff" and im.bit_depth == 16 and not im.lossy
    assert im.data.dtype == np.float32
    np.testing.assert_array_equal(im.data, grey16.astype(np.float32))
    assert im.saturation_value == 65535.0


def test_tiff_8bit_and_unicode_path(tmp_path: Path) -> None:
    a = (np.arange(120 * 90) % 256).astype(np.uint8).reshape(90, 120)
    p = tmp_path / "gél_übersicht_日本.tif"
    tifffile.imwrite(p, a, compression="lzw")
    im = load_image(p)
    assert im.shape == (90, 120) and im.bit_depth == 8 and im.saturation_value == 255.0
    np.testing.assert_array_equal(im.data, a)


def test_png_8_and_16_bit_unicode(tmp_path: Path, grey16: np.ndarray) -> None:
    p8 = tmp_path / "ünï8.png"
    p16 = tmp_path / "ünï16.png"
    a8 = (grey16 >> 8).astype(np.uint8)
    ok, buf = cv2.imencode(".png", a8)
    assert ok
    p8.write_bytes(buf.tobytes())
    ok, buf = cv2.imencode(".png", grey16)
    p16.write_bytes(buf.tobytes())
    im8, im16 = load_image(p8), load_image(p16)
    assert im8.bit_depth == 8 and im16.bit_depth == 16 and im8.source_format == "png"
    np.testing.assert_array_equal(im8.data, a8)
    np.testing.assert_array_equal(im16.data, grey16)


def test_jpeg_is_lossy(tmp_path: Path) -> None:
    a = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    _ok, buf = cv2.imencode(".jpg", a)
    p = tmp_path / "x.jpeg"
    p.write_bytes(buf.tobytes())
    im = load_image(p)
    assert im.lossy and im.source_format == "jpeg" and im.saturation_value == 255.0
    assert np.abs(im.data - a).mean() < 3


def test_rgb_rules(tmp_path: Path) -> None:
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[..., 1] = np.arange(50, dtype=np.uint8) * 5  # signal only in green
    rgb[..., 0] = 10
    p = tmp_path / "c.tif"
    tifffile.imwrite(p, rgb, photometric="rgb")
    im = load_image(p)
    assert "green" in (im.color_rule or "")
    np.testing.assert_array_equal(im.data, rgb[..., 1])
    lum = load_image(p, color_rule="luminance")
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(lum.data, expected, atol=1e-3)
    grey = np.repeat((np.arange(50, dtype=np.uint8) * 3)[None, :, None], 40, axis=0).repeat(
        3, axis=2
    )
    tifffile.imwrite(tmp_path / "g.tif", grey, photometric="rgb")
    assert "one channel" in (load_image(tmp_path / "g.tif").color_rule or "")


def test_12bit_in_16bit_container(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = (rng.random((50, 60)) * 3000).astype(np.uint16)
    a[10:14, 10:14] = 4095  # clipped plateau of a 12-bit camera
    tifffile.imwrite(tmp_path / "c12.tif", a)
    im = load_image(tmp_path / "c12.tif")
    assert im.saturation_value == 4095 and im.significant_bits == 12
    assert im.saturated_mask().sum() == 16
    assert im.saturated_fraction() == pytest.approx(16 / a.size)
    # the same data left-shifted by 4 bits
    tifffile.imwrite(tmp_path / "s12.tif", (a << 4).astype(np.uint16))
    assert load_image(tmp_path / "s12.tif").saturation_value == 65520
    # a dim genuine 16-bit image is not mistaken for 12-bit
    b = (rng.random((50, 60)) * 3000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "dim.tif", b)
    assert load_image(tmp_path / "dim.tif").saturation_value == 65535


def test_saturation_override(tmp_path: Path, grey16: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "a.tif", grey16)
    assert load_image(tmp_path / "a.tif", saturation_value=40000).saturation_value == 40000


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_polarity_detected_and_normalised(invert: bool, bit_depth: int) -> None:
    syn = make_blot(
        3, invert=invert, bit_depth=bit_depth, illumination=0.3 * (255 if bit_depth == 8 else 3000)
    )
    pol, _ = detect_polarity(syn.image)
    assert pol == syn.truth["polarity"]
    norm = normalize_polarity(
        syn.image.astype(np.float32), saturation_value=syn.truth["saturation_value"]
    )
    # bands bright: the truth band rows are brighter than the frame
    band = syn.truth["bands"][0]
    lane = syn.truth["lanes"][band["lane"]]
    on_band = norm.data[int(band["row"]), int(lane["center"])]
    assert on_band > np.median(norm.data)


def test_polarity_of_real_gels(gelgenie: Path) -> None:
    for name in ("ladder_reference_gel.tif", "overheated_ref.tif"):
        im = load_image(gelgenie / name)
        assert im.source_format == "tiff" and im.bit_depth == 8
        assert detect_polarity(im.data)[0] == "light_bands_on_dark"  # README: bright bands, dark bg


def test_polarity_override_and_saturation_of_film() -> None:
    a = np.full((30, 30), 250.0, np.float32)
    a[10:12, 5:25] = 0.0  # fully dense (saturated) film band
    n = normalize_polarity(a, "dark_bands_on_light", saturation_value=255)
    assert n.polarity == "dark_bands_on_light" and n.polarity_rule == "given by caller"
    assert n.saturated_mask().sum() == 40


# ----------------------------------------------------------------------------- bad input


def _tiny_tiff_header(width: int, height: int) -> bytes:
    """A little-endian TIFF whose IFD claims width x height 8-bit pixels, with no data."""
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 200),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, width * height % 2**32),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if typ == 3:
            ifd += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 16


def test_absurd_tiff_dimensions_refused_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.tif"
    p.write_bytes(_tiny_tiff_header(100_000, 100_000))
    with pytest.raises(ImageError, match=r"dimensions.*exceeds the limit"):
        load_image(p)


def test_pixel_limit_is_configurable(tmp_path: Path, grey16: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "a.tif", grey16)
    with pytest.raises(ImageError, match="4,800 pixels exceeds the limit of 1,000"):
        load_image(tmp_path / "a.tif", max_pixels=1000)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_absurd_png_dimensions_refused(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 0, 0, 0, 0)
    blob = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + _png_chunk(b"IEND", b"")
    )
    p = tmp_path / "bomb.png"
    p.write_bytes(blob)
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(p)


def test_truncated_tiff(tmp_path: Path, grey16: np.ndarray) -> None:
    src = tmp_path / "full.tif"
    tifffile.imwrite(src, grey16)  # IFD at the start, pixels after
    blob = src.read_bytes()
    bad = tmp_path / "trunc.tif"
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(bad)


def test_truncated_real_lzw_tiff(tmp_path: Path, gelgenie: Path) -> None:
    blob = (gelgenie / "ladder_reference_gel.tif").read_bytes()
    bad = tmp_path / "half.tif"
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ImageError):
        load_image(bad)


def test_truncated_png_and_jpeg(tmp_path: Path) -> None:
    a = (np.random.default_rng(2).random((64, 64)) * 255).astype(np.uint8)
    for ext in (".png", ".jpg"):
        _ok, buf = cv2.imencode(ext, a)
        blob = buf.tobytes()
        p = tmp_path / f"t{ext}"
        p.write_bytes(blob[: len(blob) // 2])
        with pytest.raises(ImageError):
            load_image(p)


def test_non_image_named_tif(tmp_path: Path) -> None:
    p = tmp_path / "notes.tif"
    p.write_text("sample,lane\nA,1\n")
    with pytest.raises(ImageError, match="not TIFF, PNG or JPEG"):
        load_image(p)


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot open"):
        load_image(tmp_path / "nope.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ImageError):
        load_image(tmp_path / "empty.tif")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    magic=st.sampled_from([b"II*\x00", b"MM\x00*", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b""]),
    body=st.binary(min_size=0, max_size=400),
)
def test_garbage_only_ever_raises_image_error(tmp_path: Path, magic: bytes, body: bytes) -> None:
    p = tmp_path / "fuzz.tif"
    p.write_bytes(magic + body)
    with contextlib.suppress(ImageError):
        load_image(p)


@pytest.mark.parametrize("tag, value", [(257, 65535), (256, 70000), (277, 255)])
def test_uncompressed_tiff_claiming_more_pixels_than_stored_is_refused_before_decoding(
    tmp_path: Path, tag: int, value: int
) -> None:
    """Found by the fuzz campaign: a header edit made the decoder allocate the
    claimed image (up to 40 MB here) and then fail with a decoder message."""
    p = tmp_path / "claims.tif"
    tifffile.imwrite(p, np.arange(120 * 160, dtype=np.uint16).reshape(120, 160))
    blob = bytearray(p.read_bytes())
    assert blob[:4] == b"II*\x00"
    (ifd,) = struct.unpack("<I", blob[4:8])
    (count,) = struct.unpack("<H", blob[ifd : ifd + 2])
    for k in range(count):
        at = ifd + 2 + 12 * k
        t, typ = struct.unpack("<HH", blob[at : at + 4])
        if t == tag:
            packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
            blob[at + 8 : at + 12] = packed
            break
    else:
        raise AssertionError(f"tag {tag} not written by tifffile")
    p.write_bytes(bytes(blob))
    with pytest.raises(ImageError) as info:
        load_image(p)
    assert info.value.path == str(p)
    assert info.value.reason.startswith("TIFF strip/tile data: 38,400 bytes stored but"), info.value


@pytest.mark.parametrize(
    "layout, tag, value, message",
    [
        ({"rowsperstrip": 8}, 257, 60000, "15 strips of 8 rows cannot hold the header's 160x60000"),
        ({"tile": (16, 16)}, 256, 60000, "80 16x16 tiles cannot hold the header's 60000x120"),
    ],
)
def test_compressed_tiff_whose_strips_cannot_hold_the_claimed_image_is_refused(
    tmp_path: Path, layout: dict[str, object], tag: int, value: int, message: str
) -> None:
    """Found by the fuzz campaign: an LZW gel whose ImageLength was edited to 65535
    made the decoder allocate 90 MB for the claimed image before failing."""
    p = tmp_path / "claims.tif"
    tifffile.imwrite(p, np.arange(120 * 160, dtype=np.uint16).reshape(120, 160),
                     compression="lzw", **layout)  # type: ignore[arg-type]  # fmt: skip
    blob = bytearray(p.read_bytes())
    (ifd,) = struct.unpack("<I", blob[4:8])
    (count,) = struct.unpack("<H", blob[ifd : ifd + 2])
    for k in range(count):
        at = ifd + 2 + 12 * k
        t, typ = struct.unpack("<HH", blob[at : at + 4])
        if t == tag:
            packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
            blob[at + 8 : at + 12] = packed
    p.write_bytes(bytes(blob))
    with pytest.raises(ImageError) as info:
        load_image(p)
    assert info.value.path == str(p)
    assert info.value.reason.startswith(f"TIFF strip/tile data: {message}"), info.value
