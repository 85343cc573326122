"""Seeded fuzz campaign: mutated FCS files, images and sample sheets.

Used by ``bench/fuzz_campaign.py`` (the full campaign, 10,000+ cases per
target) and by the ``fuzz``-marked quick test. Every mutant comes from a
seeded ``numpy`` generator, so a count or a failure reproduces from the seed
and the case number.

What counts as what:

* ``ok``: the reader returned a result.
* ``typed``: it raised an :class:`assaykit.errors.AssaykitError` (by class).
* ``guarded``: a typed error raised by a last-resort catch-all (the FCS
  reader's ``unexpected parser failure``, the image loader's "cannot decode
  ... <ExceptionName>:"). Not a crash, but a missing explicit check.
* ``crash``: anything else escaped (must be 0).
* ``slow``: one case took more than ``SLOW_S`` seconds (must be 0).
* ``overalloc``: the case's peak resident memory grew by more than its bound
  (must be 0): a reader must never allocate what a header merely claims.

Memory is measured per case as the growth of the process's peak resident set
(``VmHWM``, reset through ``/proc/self/clear_refs`` before each case), which
sees numpy, mmap'd pages and C libraries (OpenCV, libtiff) alike;
``resource.getrusage`` gives the campaign's overall peak.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import resource
import shutil
import struct
import sys
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # it logs every corrupt tag

SLOW_S = 5.0
CLI_SLOW_S = 120.0
MiB = 1024 * 1024


# --------------------------------------------------------------------------
# Accounting
# --------------------------------------------------------------------------


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Tally:
    """Counts of one target's campaign."""

    target: str
    cases: int = 0
    ok: int = 0
    typed: Counter[str] = field(default_factory=Counter)
    guarded: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)
    overalloc: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    #: largest peak-RSS growth (MiB) per mutation kind, e.g. the "huge" header claims
    kind_peak_mib: dict[str, float] = field(default_factory=dict)
    max_seconds: float = 0.0
    max_seconds_case: str = ""
    peak_growth_mib: float = 0.0
    peak_growth_case: str = ""
    seconds: float = 0.0

    @property
    def n_typed(self) -> int:
        return sum(self.typed.values())

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.slow or self.overalloc or self.wrong)

    def row(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "cases": self.cases,
            "ok": self.ok,
            "typed_errors": self.n_typed,
            "guarded": len(self.guarded),
            "crashes": len(self.crashes),
            "wrong": len(self.wrong),
            "over_5s": len(self.slow),
            "over_alloc": len(self.overalloc),
            "max_s": round(self.max_seconds, 3),
            "peak_rss_growth_mib": round(self.peak_growth_mib, 1),
            "seconds": round(self.seconds, 1),
        }


def run_case(
    tally: Tally,
    label: str,
    kind: str,
    call: Callable[[], Any],
    *,
    mem_bound: int,
    guarded_if: Callable[[BaseException], bool],
    check: Callable[[Any], str | None] | None = None,
    check_error: Callable[[BaseException], str | None] | None = None,
    slow_s: float = SLOW_S,
) -> Any:
    """Run one case, classify its outcome and account its time and memory."""
    from assaykit.errors import AssaykitError

    tally.cases += 1
    tally.kinds[kind] += 1
    base = _status_kb("VmRSS")
    can_reset = _reset_peak()
    started = time.perf_counter()
    result: Any = None
    try:
        result = call()
    except AssaykitError as exc:
        tally.typed[type(exc).__name__] += 1
        if guarded_if(exc):
            tally.guarded.append(f"{label}: {exc}")
        if check_error is not None:
            why = check_error(exc)
            if why:
                tally.wrong.append(f"{label}: {why}")
    except MemoryError as exc:
        tally.crashes.append(f"{label}: MemoryError {exc}")
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        tally.crashes.append(
            f"{label}: {type(exc).__name__}: {str(exc)[:200]} at {tb.filename}:{tb.lineno}"
        )
    else:
        tally.ok += 1
        if check is not None:
            why = check(result)
            if why:
                tally.wrong.append(f"{label}: {why}")
    elapsed = time.perf_counter() - started
    growth = (_status_kb("VmHWM") - base) * 1024 if can_reset else 0
    if elapsed > tally.max_seconds:
        tally.max_seconds, tally.max_seconds_case = elapsed, label
    if elapsed > slow_s:
        tally.slow.append(f"{label}: {elapsed:.1f}s")
    tally.kind_peak_mib[kind] = max(tally.kind_peak_mib.get(kind, 0.0), round(growth / MiB, 1))
    if growth / MiB > tally.peak_growth_mib:
        tally.peak_growth_mib, tally.peak_growth_case = growth / MiB, label
    if growth > mem_bound:
        tally.overalloc.append(f"{label}: peak RSS grew {growth / MiB:.0f} MiB > bound "
                               f"{mem_bound / MiB:.0f} MiB")
    return result


def peak_rss_mib() -> float:
    """The process's lifetime peak resident set (``getrusage``; kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------
# FCS
# --------------------------------------------------------------------------

FCS_SEEDS = {
    "cyflow_cube_8/cyflow_cube_8.fcs": None,
    "MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs": None,
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs": None,
    "MiltenyiBiotec/FCS2.0/EY_2013-07-19_PBS_FCS_2.0_Custom_Without_Add_Well_A1.001.fcs": None,
    "MiltenyiBiotec/FCS3.0/FCS3.0_Custom_Compatible.fcs": None,
    "FACSCaliburHTS/Sample_Well_A02.fcs": None,
    "FACS_Diva/facs_diva_test.fcs": None,
    "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs": None,
    "HTS_BD_LSR-II/HTS_BD_LSR_II_Mixed_Specimen_001_D6_D06.fcs": None,
    "Cytek_xP5/Cytek_xP5.fcs": None,
    "cytek-nl-2000/sample_header.fcs": None,
    "fake_bitmask_error/fcs1_cleaned.lmd": None,
    "fake_large_fcs/fake_large_fcs.fcs": None,
    "corrupted/corrupted.fcs": None,
    # the first two Guava Muse data sets plus the HEADER of the third
    "GuavaMuse/Guava Muse.fcs": 2_014_343 + 3_400,
}

STRUCTURAL = (
    "$TOT", "$PAR", "$P1B", "$P2B", "$DATATYPE", "$BYTEORD", "$NEXTDATA", "$BEGINDATA",
    "$ENDDATA", "$BEGINSTEXT", "$ENDSTEXT", "$P1R", "$MODE", "$SPILLOVER", "SPILL", "$P1E",
)  # fmt: skip
HOSTILE = (
    "-1", "0", "1", "99999999999999999999", "4294967296", "1e400", "nan", "inf", "²", "1,2,3",
    "4,3,2,1", "1,2", "I", "F", "D", "A", "3", "24", "64", "7", "17", "x" * 300, "", " ",
    "0,0", "2,1", "1,2,3,4,5,6,7,8", "-5", "0x10",
)  # fmt: skip
HUGE = ("99999999999999999999", "4294967296", "18446744073709551617", "1000000000000")


def fcs_seeds(shared: Path, repo: Path, work: Path) -> list[tuple[str, bytes]]:
    """Real files (read from the shared folder, never copied to the repo), the
    example folder's generated files, and write_fcs files of every layout."""
    from assaykit.cytometry.fcs import write_fcs

    seeds: list[tuple[str, bytes]] = []
    for name, limit in FCS_SEEDS.items():
        p = shared / "fcs-instruments" / name
        if p.is_file():
            content = p.read_bytes()
            seeds.append((name, content[:limit] if limit else content))
    for p in sorted((repo / "fixtures" / "example-folder").rglob("*.fcs"))[:6]:
        seeds.append((str(p.relative_to(repo)), p.read_bytes()))
    rng = np.random.default_rng(7)
    events = np.round(rng.gamma(2.0, 200.0, size=(300, 4)))
    layouts: list[dict[str, Any]] = [
        {"datatype": "F"},
        {"datatype": "D", "byteorder": "big"},
        {"datatype": "I", "bits": 16},
        {"datatype": "I", "bits": [16, 16, 24, 32]},
        {"datatype": "I", "bits": 16, "byteorder": "big", "delimiter": "|"},
        {"datatype": "F", "delimiter": "\x0c"},
    ]
    for i, kw in enumerate(layouts):
        p = work / f"gen{i}.fcs"
        write_fcs(p, events, ["FSC-A", "SSC-A", "FL1-A", "Time"],
                  spillover=(["FSC-A", "SSC-A"], np.eye(2)), **kw)  # fmt: skip
        seeds.append((f"write_fcs{kw}", p.read_bytes()))
    return seeds


def _hdr_int(content: bytes, lo: int) -> int:
    field_ = content[lo : lo + 8].strip()
    return int(field_) if field_.isdigit() else 0


def _fcs_regions(content: bytes) -> tuple[int, int, int, int]:
    """(text_start, text_end, data_start, data_end) from the HEADER, 0 if absent."""
    if len(content) < 58:
        return 0, 0, 0, 0
    return tuple(_hdr_int(content, lo) for lo in (10, 18, 26, 34))  # type: ignore[return-value]


def _set_header(buf: bytearray, field_i: int, value: int) -> None:
    buf[10 + 8 * field_i : 18 + 8 * field_i] = f"{value:>8}"[-8:].encode()


def _replace_value(content: bytes, key: str, value: bytes, fix_header: bool) -> bytes | None:
    ts, te, _, _ = _fcs_regions(content)
    if not ts or ts >= len(content):
        return None
    d = content[ts : ts + 1]
    needle = d + key.encode() + d
    at = content.find(needle, ts, (te + 1) if te else len(content))
    if at < 0:
        return None
    start = at + len(needle)
    stop = content.find(d, start)
    if stop < 0:
        return None
    out = bytearray(content[:start] + value + content[stop:])
    if fix_header and te:
        _set_header(out, 1, te + len(value) - (stop - start))
    return bytes(out)


def mutate_fcs(content: bytes, rng: np.random.Generator) -> tuple[str, str, bytes]:
    """(kind, label, mutant). Kinds: flip, flip_data, truncate, header, keyword,
    huge, nextdata, delimiter, insert, delete."""
    buf = bytearray(content)
    n = len(buf)
    ts, te, ds, de = _fcs_regions(content)
    hot = min(n, (te or 2048) + 64)
    r = int(rng.integers(0, 12))
    if r == 0 and n > 1:
        cut = int(rng.integers(0, hot if rng.random() < 0.6 else n))
        return "truncate", f"truncate@{cut}", bytes(buf[:cut])
    if r == 1 and n > 1:
        where = rng.integers(0, max(1, hot), size=int(rng.integers(1, 9)))
        for i in where:
            buf[int(i)] = int(rng.integers(0, 256))
        return "flip", f"flip{sorted(int(i) for i in where)[:8]}", bytes(buf)
    if r == 2 and ds and de and 0 < ds <= de < n:
        where = rng.integers(ds, de + 1, size=int(rng.integers(1, 33)))
        for i in where:
            buf[int(i)] ^= int(rng.integers(1, 256))
        return "flip_data", f"flip_data x{len(where)}", bytes(buf)
    if r == 3 and n >= 58:
        f = int(rng.integers(0, 6))
        value = int(rng.choice([0, 1, 57, 58, ts, te, ds, de, n - 1, n, n + 1, 10**7,
                                99_999_999]))  # fmt: skip
        value = max(0, value + int(rng.integers(-2, 3)))
        _set_header(buf, f, value)
        return "header", f"header[{f}]={value}", bytes(buf)
    if r in (4, 5):
        key = STRUCTURAL[int(rng.integers(0, len(STRUCTURAL)))]
        val = HOSTILE[int(rng.integers(0, len(HOSTILE)))]
        out = _replace_value(content, key, val.encode(), fix_header=bool(rng.random() < 0.7))
        if out is not None:
            return "keyword", f"{key}={val[:20]!r}", out
    if r == 6:
        key = ("$TOT", "$PAR", "$ENDDATA", "$BEGINDATA", "$P1B", "$ENDSTEXT")[
            int(rng.integers(0, 6))
        ]
        val = HUGE[int(rng.integers(0, len(HUGE)))]
        out = _replace_value(content, key, val.encode(), fix_header=True)
        if out is not None:
            if rng.random() < 0.5 and n >= 58 and key in ("$ENDDATA", "$BEGINDATA"):
                out = bytearray(out)
                _set_header(out, 2 if key == "$BEGINDATA" else 3, 0)
                out = bytes(out)
            return "huge", f"{key}={val}", out
    if r == 7:
        # $NEXTDATA pointing at itself, at the file start, backwards, or past the end
        target = int(rng.choice([0, 1, ts, n, 10**9, max(0, n // 2)]))
        out = _replace_value(content, "$NEXTDATA", str(target).encode(), fix_header=True)
        if out is None and ts and te:
            d = content[ts : ts + 1]
            extra = b"$NEXTDATA" + d + str(target).encode() + d
            out = bytearray(content[: te] + extra + content[te:])
            _set_header(out, 1, te + len(extra))
            out = bytes(out)
        if out is not None:
            return "nextdata", f"$NEXTDATA={target}", out
    if r == 8 and ts and te and ts < te < n:
        d = content[ts]
        choice = int(rng.integers(0, 4))
        if choice == 0:  # another delimiter character at TEXT start only
            buf[ts] = int(rng.choice([ord("|"), ord("\\"), 12, 0, ord(" ")]))
            return "delimiter", "first delimiter changed", bytes(buf)
        positions = [i for i in range(ts, te + 1) if buf[i] == d]
        if positions:
            i = int(rng.choice(positions))
            if choice == 1:  # doubled (escaped) delimiter
                return "delimiter", f"doubled@{i}", bytes(buf[:i] + bytes([d]) + buf[i:])
            if choice == 2:  # delimiter dropped
                return "delimiter", f"dropped@{i}", bytes(buf[:i] + buf[i + 1 :])
            buf[te] = ord("x")  # no final delimiter
            return "delimiter", "no final delimiter", bytes(buf)
    if r == 9 and n > 60:
        i = int(rng.integers(58, max(59, hot)))
        return "insert", f"insert@{i}", bytes(buf[:i]) + bytes([int(rng.integers(0, 256))]) + bytes(
            buf[i:]
        )
    if r == 10 and n > 60:
        i = int(rng.integers(58, max(59, hot)))
        return "delete", f"delete@{i}", bytes(buf[:i] + buf[i + 1 :])
    # fallback: digit edits in HEADER+TEXT
    digits = [i for i in range(min(hot, n)) if 48 <= buf[i] <= 57]
    if digits:
        i = int(rng.choice(digits))
        buf[i] = int(rng.choice([*range(48, 58), 32, 45, 46, 0]))
        return "digit", f"digit@{i}", bytes(buf)
    return "flip", "unchanged", bytes(buf)


def fcs_campaign(
    n_cases: int,
    seed: int,
    shared: Path,
    repo: Path,
    work: Path,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    """``n_cases`` mutated FCS files, each through read_fcs_metadata, read_fcs and
    read_fcs_all (one case = one file through all three)."""
    from assaykit.cytometry import fcs
    from assaykit.cytometry.fcs.read import _UNEXPECTED

    tally = Tally("fcs")
    seeds = fcs_seeds(shared, repo, work)
    rng = np.random.default_rng(seed)
    path = work / "mutant.fcs"
    started = time.perf_counter()

    def guarded(exc: BaseException) -> bool:
        return _UNEXPECTED in str(exc)

    def names_file(exc: BaseException) -> str | None:
        p = getattr(exc, "path", None)
        return None if p == str(path) else f"error does not name the file: {exc}"

    for case in range(n_cases):
        name, content = seeds[case % len(seeds)]
        kind, label, mutant = mutate_fcs(content, rng)
        path.write_bytes(mutant)
        bound = 64 * MiB + 8 * len(content)
        full = f"fcs case {case} seed={name} {label}"

        def all_three() -> Any:
            got: dict[str, Any] = {}
            errors: dict[str, fcs.FCSError] = {}
            for reader in (fcs.read_fcs_metadata, fcs.read_fcs, fcs.read_fcs_all):
                try:
                    got[reader.__name__] = out = reader(path)
                except fcs.FCSError as exc:
                    errors[reader.__name__] = exc
                    continue
                if reader is fcs.read_fcs:
                    # touch every value: a lazily mapped read must hold up too
                    with np.errstate(all="ignore"):
                        float(np.sum(out.events, dtype=np.float64))
            for exc in errors.values():  # a guarded failure of any reader counts
                if guarded(exc) or exc.path != str(path):
                    raise exc
            if "read_fcs" in errors:
                raise errors["read_fcs"]
            return got.get("read_fcs_metadata"), got.get("read_fcs"), got.get("read_fcs_all")

        def check(result: Any) -> str | None:
            meta, data, every = result
            if data is not None:
                if meta is None:
                    return "events readable, metadata not"
                if data.events.shape != (data.n_events, len(data.channels)):
                    return f"shape {data.events.shape} vs {data.n_events} x {len(data.channels)}"
                if meta.channels != data.channels:
                    return "metadata and data disagree on channels"
            if every is not None and [d.dataset_index for d in every] != list(range(len(every))):
                return "read_fcs_all data set indices not consecutive"
            return None

        run_case(tally, full, kind, all_three, mem_bound=bound, guarded_if=guarded,
                 check=check, check_error=names_file)  # fmt: skip
        if progress and case % 1000 == 999:
            progress(f"fcs {case + 1}/{n_cases} {time.perf_counter() - started:.0f}s")
    tally.seconds = time.perf_counter() - started
    return tally


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def image_seeds(shared: Path, work: Path) -> list[tuple[str, bytes]]:
    """Small generated gels/blots in every container the loader supports, plus
    the real gels of the shared folder."""
    import cv2
    import tifffile
    from assaykit.imaging.synthetic import make_blot, make_gel

    seeds: list[tuple[str, bytes]] = []
    gel = make_gel(3, height=160, width=128, n_lanes=3).image
    blot = make_blot(4, height=120, width=160, n_lanes=4, bit_depth=16).image
    g8 = np.clip(gel, 0, 255).astype(np.uint8) if gel.max() <= 255 else (
        gel / max(1.0, float(gel.max())) * 255).astype(np.uint8)  # fmt: skip
    b16 = np.clip(blot, 0, 65535).astype(np.uint16)

    def tif(name: str, arr: Any, **kw: Any) -> None:
        p = work / f"{name}.tif"
        tifffile.imwrite(p, arr, **kw)
        seeds.append((f"gen:{name}.tif", p.read_bytes()))

    def enc(name: str, ext: str, arr: Any, params: tuple[int, ...] = ()) -> None:
        ok, blob = cv2.imencode(ext, arr, list(params))
        assert ok
        seeds.append((f"gen:{name}{ext}", bytes(blob)))

    tif("gel8", g8)
    tif("blot16", b16)
    tif("blot16_lzw", b16, compression="lzw")
    tif("blot16_deflate_tiled", b16, compression="zlib", tile=(64, 64))
    f32 = b16.astype(np.float32)
    f32[10:20, 10:20] = np.nan
    f32[0, 0] = np.inf
    tif("float_nan", f32)
    tif("multipage", np.stack([g8, g8[::-1], g8]), photometric="minisblack")
    rgba = np.dstack([g8, g8, g8, np.full_like(g8, 255)])
    rgba[:20, :20, 3] = 0
    tif("rgba", rgba, photometric="rgb", extrasamples=[2])
    tif("planar_rgb", np.stack([g8, g8 // 2, g8 // 3]), photometric="rgb", planarconfig="separate")
    tif("bigtiff", b16, bigtiff=True)
    enc("gel8", ".png", g8)
    enc("blot16", ".png", b16)
    enc("rgba", ".png", rgba[..., [2, 1, 0, 3]])
    enc("gel8", ".jpg", g8, (cv2.IMWRITE_JPEG_QUALITY, 90))
    enc("rgb", ".jpg", np.dstack([g8, g8 // 2, g8]))
    for sub in ("gels-gelgenie", "gels-other", "gels-gelgenie-labelled"):
        folder = shared / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir())[:3]:
            if p.suffix.lower() in (".tif", ".png", ".jpg", ".jpeg"):
                seeds.append((f"{sub}/{p.name}", p.read_bytes()))
    return seeds


def _tiff_entries(blob: bytes) -> tuple[str, list[tuple[int, int, int, int]]]:
    """(byte order, [(entry offset, tag, type, count)]) of the first classic IFD."""
    if len(blob) < 8 or blob[:2] not in (b"II", b"MM"):
        return "<", []
    bo = "<" if blob[:2] == b"II" else ">"
    if struct.unpack(bo + "H", blob[2:4])[0] != 42:
        return bo, []
    (ifd,) = struct.unpack(bo + "I", blob[4:8])
    if ifd + 2 > len(blob):
        return bo, []
    (count,) = struct.unpack(bo + "H", blob[ifd : ifd + 2])
    out = []
    for k in range(min(count, 200)):
        at = ifd + 2 + 12 * k
        if at + 12 > len(blob):
            break
        tag, typ, cnt = struct.unpack(bo + "HHI", blob[at : at + 8])
        out.append((at, tag, typ, cnt))
    return bo, out


def _set_tiff_value(buf: bytearray, bo: str, at: int, typ: int, value: int) -> None:
    if typ == 3:  # SHORT
        buf[at + 8 : at + 12] = struct.pack(bo + "HH", value & 0xFFFF, 0)
    else:
        buf[at + 8 : at + 12] = struct.pack(bo + "I", value & 0xFFFFFFFF)


TIFF_TAGS = {
    256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
    262: "Photometric", 273: "StripOffsets", 277: "SamplesPerPixel", 278: "RowsPerStrip",
    279: "StripByteCounts", 284: "PlanarConfig", 322: "TileWidth", 323: "TileLength",
    338: "ExtraSamples", 339: "SampleFormat",
}  # fmt: skip
TIFF_VALUES = (0, 1, 2, 3, 7, 8, 16, 32, 64, 255, 65535, 70000, 2**31 - 1, 2**32 - 1)


def mutate_image(content: bytes, rng: np.random.Generator) -> tuple[str, str, bytes]:
    buf = bytearray(content)
    n = len(buf)
    is_tiff = content[:2] in (b"II", b"MM")
    is_png = content.startswith(b"\x89PNG")
    is_jpeg = content.startswith(b"\xff\xd8")
    r = int(rng.integers(0, 8))
    if r == 0 and n > 1:
        cut = int(rng.integers(0, n if rng.random() < 0.5 else min(n, 1024)))
        return "truncate", f"truncate@{cut}", bytes(buf[:cut])
    if r == 1 and n > 1:
        hot = min(n, 512)
        where = rng.integers(0, hot, size=int(rng.integers(1, 6)))
        for i in where:
            buf[int(i)] = int(rng.integers(0, 256))
        return "flip", f"flip{sorted(int(i) for i in where)}", bytes(buf)
    if r == 2 and n > 1:
        where = rng.integers(0, n, size=int(rng.integers(1, 64)))
        for i in where:
            buf[int(i)] ^= int(rng.integers(1, 256))
        return "flip_any", f"flip_any x{len(where)}", bytes(buf)
    if r in (3, 4, 5) and is_tiff:
        bo, entries = _tiff_entries(content)
        if entries:
            at, tag, typ, _cnt = entries[int(rng.integers(0, len(entries)))]
            if r == 3:  # dimensions: huge, 0 or wrong
                dims = [e for e in entries if e[1] in (256, 257)]
                if dims:
                    at, tag, typ, _cnt = dims[int(rng.integers(0, len(dims)))]
            value = int(rng.choice(TIFF_VALUES))
            if typ in (3, 4):
                _set_tiff_value(buf, bo, at, typ, value)
            else:
                buf[at + 8 : at + 12] = struct.pack(bo + "I", value)
            name = TIFF_TAGS.get(tag, str(tag))
            return "tiff_tag", f"TIFF {name}={value}", bytes(buf)
    if r in (3, 4) and is_png and n > 33:
        w, h = struct.unpack(">II", content[16:24])
        choice = int(rng.integers(0, 5))
        nw, nh = [(0, 0), (w * 2, h), (w, h // 2), (2**31 - 1, 2**31 - 1), (65535, 65535)][choice]
        ihdr = struct.pack(">II", nw, nh) + content[24:29]
        fix_crc = bool(rng.random() < 0.7)
        buf[16:29] = ihdr
        if fix_crc:
            buf[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        return "png_dims", f"PNG IHDR {nw}x{nh} crc_fixed={fix_crc}", bytes(buf)
    if r in (3, 4) and is_jpeg:
        for sof in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
            at = content.find(sof)
            if at > 0 and at + 9 <= n:
                nh, nw = [(0, 0), (65535, 65535), (1, 1), (8, 65535)][int(rng.integers(0, 4))]
                buf[at + 5 : at + 9] = struct.pack(">HH", nh, nw)
                return "jpeg_dims", f"JPEG SOF {nw}x{nh}", bytes(buf)
    if r == 6 and n > 16:
        i = int(rng.integers(8, n))
        k = int(rng.integers(1, 4096))
        return "cut_middle", f"cut {k}@{i}", bytes(buf[:i] + buf[i + k :])
    if r == 7 and is_png:
        # drop, duplicate or append chunks
        choice = int(rng.integers(0, 3))
        if choice == 0:
            return "png_chunk", "IEND dropped", bytes(buf[:-12])
        if choice == 1:
            extra = _png_chunk(b"tRNS", struct.pack(">H", int(rng.integers(0, 256))))
            return "png_chunk", "tRNS inserted", bytes(buf[:33]) + extra + bytes(buf[33:])
        junk = bytes(rng.integers(0, 256, 64, np.uint8))
        return "png_chunk", "junk after IEND", bytes(buf) + junk
    # generic: a random 4-byte integer written at a random early offset
    i = int(rng.integers(0, max(1, min(n - 4, 256)))) if n > 4 else 0
    buf[i : i + 4] = struct.pack("<I", int(rng.choice(TIFF_VALUES)))[: max(0, min(4, n - i))]
    return "int_write", f"u32@{i}", bytes(buf)


def _image_pixels(blob: bytes, work: Path) -> int:
    from assaykit.imaging.io import load_image

    p = work / "seedprobe"
    p.write_bytes(blob)
    try:
        img = load_image(p)
    except Exception:
        return 0
    return int(img.data.size) * 4  # channels


def image_campaign(
    n_cases: int,
    seed: int,
    shared: Path,
    work: Path,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    from assaykit.imaging.io import load_image

    tally = Tally("image")
    seeds = image_seeds(shared, work)
    pixels = {name: _image_pixels(blob, work) for name, blob in seeds}
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    # real photographs are slow to decode: one case in eight uses one
    small = [s for s in seeds if s[0].startswith("gen:")]
    real = [s for s in seeds if not s[0].startswith("gen:")] or small

    def guarded(exc: BaseException) -> bool:
        return "cannot decode" in str(exc) and ("Error:" in str(exc) or "Exception:" in str(exc))

    for case in range(n_cases):
        pool = real if case % 8 == 7 else small
        name, content = pool[(case // (8 if pool is real else 1)) % len(pool)]
        kind, label, mutant = mutate_image(content, rng)
        path = work / f"mutant{Path(name).suffix}"
        path.write_bytes(mutant)
        bound = 96 * MiB + 24 * pixels[name]
        full = f"image case {case} seed={name} {label}"

        def load(path: Path = path) -> Any:
            return load_image(path)

        def check(img: Any) -> str | None:
            if img.data.ndim != 2 or img.data.dtype != np.float32:
                return f"data {img.data.shape} {img.data.dtype}: expected 2-D float32"
            if not np.all(np.isfinite(img.data)):
                return "non-finite pixels escaped"
            return None

        def names_file(exc: BaseException, path: Path = path) -> str | None:
            return None if getattr(exc, "path", None) == str(path) else f"no file named: {exc}"

        run_case(tally, full, kind, load, mem_bound=bound, guarded_if=guarded, check=check,
                 check_error=names_file)  # fmt: skip
        if progress and case % 1000 == 999:
            progress(f"image {case + 1}/{n_cases} {time.perf_counter() - started:.0f}s")
    tally.seconds = time.perf_counter() - started
    return tally


# --------------------------------------------------------------------------
# Sample sheets
# --------------------------------------------------------------------------


def _place(src: Path, dst: Path) -> None:
    """A hard link (or a copy) of a repo fixture: a symlink would lead out of the
    batch folder, which the sheet rightly refuses."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def sheet_folder(repo: Path, work: Path) -> tuple[Path, list[list[str]]]:
    """A batch folder laid out like the example folder (inputs hard-linked from the
    repo's fixtures), with hostile entries beside it."""
    src = repo / "fixtures" / "example-folder"
    folder = work / "sheetfolder"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for p in src.rglob("*"):
        if p.is_file() and p.suffix in (".fcs", ".tif"):
            dst = folder / p.relative_to(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            _place(p, dst)
    (folder / "escape.fcs").symlink_to("/etc/passwd")
    (folder / "loop.fcs").symlink_to(folder / "loop.fcs")
    (folder / "dangling.tif").symlink_to(work / "nowhere.tif")
    (folder / "outdir").symlink_to("/etc")
    with open(src / "samples.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return folder, rows


HOSTILE_PATHS = (
    "../samples.csv", "../../etc/passwd", "/etc/passwd", "C:\\data\\x.fcs", "\\\\server\\x.fcs",
    "escape.fcs", "loop.fcs", "dangling.tif", "outdir/passwd", "annexin_pi/../annexin_pi/x.fcs",
    "annexin_pi/./vehicle.fcs", "annexin_pi//vehicle.fcs", "annexin_pi\\vehicle.fcs", "",
    " ", "nul\x00.fcs", "missing.fcs", "a" * 5000 + ".fcs", "ünïcødé.fcs", "annexin_pi/",
    ".", "samples.csv", "assaykit.toml",
)  # fmt: skip
HOSTILE_CELLS = (
    "", " ", "0", "-1", "1.5", "1e309", "nan", "inf", "01", "１", "=cmd|' /C calc'!A0",
    "x" * 100_000, "a,b", '"', "\n", "\r", "\t", "None", "null", "é", "\u202e", "\x00",
)  # fmt: skip
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32",
             "shift_jis", "mac_roman")  # fmt: skip


def mutate_sheet(rows: list[list[str]], folder: Path, rng: np.random.Generator
                 ) -> tuple[str, str, bytes]:  # fmt: skip
    header = list(rows[0])
    body = [list(r) for r in rows[1:]]
    # start from a subset of rows (keeps the sheet small and varied)
    k = int(rng.integers(1, len(body) + 1))
    start = int(rng.integers(0, len(body) - k + 1))
    body = body[start : start + k]
    kind = "cell"
    label = ""
    encoding = "utf-8"
    delim = ","
    newline = "\n"
    prefix = b""
    for _ in range(int(rng.integers(1, 4))):
        r = int(rng.integers(0, 10))
        if r == 0:
            kind, encoding = "encoding", ENCODINGS[int(rng.integers(0, len(ENCODINGS)))]
            label += f" enc={encoding}"
        elif r == 1:
            kind = "bom"
            prefix = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf")[
                int(rng.integers(0, 4))
            ]
            label += f" bom={prefix!r}"
        elif r == 2:
            kind = "missing_column"
            j = int(rng.integers(0, len(header)))
            label += f" drop column {header[j]!r}"
            header.pop(j)
            for row in body:
                if j < len(row):
                    row.pop(j)
        elif r == 3 and body:
            kind = "duplicate_rows"
            i = int(rng.integers(0, len(body)))
            body.insert(i, list(body[i]))
            label += f" dup row {i}"
        elif r == 4 and body:
            kind = "huge_field"
            i, j = int(rng.integers(0, len(body))), int(rng.integers(0, len(header)))
            sizes = [10_000, 100_000, 1_000_000, 5_000_000]
            size = int(rng.choice(sizes, p=[0.5, 0.3, 0.15, 0.05]))
            while len(body[i]) <= j:
                body[i].append("")
            body[i][j] = "x" * size
            label += f" huge cell r{i} c{j} {size}"
        elif r == 5 and body:
            kind = "path"
            i = int(rng.integers(0, len(body)))
            body[i][0] = HOSTILE_PATHS[int(rng.integers(0, len(HOSTILE_PATHS)))]
            label += f" file={body[i][0][:30]!r}"
        elif r == 6 and body:
            kind = "cell"
            i, j = int(rng.integers(0, len(body))), int(rng.integers(0, len(header)))
            while len(body[i]) <= j:
                body[i].append("")
            body[i][j] = HOSTILE_CELLS[int(rng.integers(0, len(HOSTILE_CELLS)))]
            label += f" cell r{i} {header[j] if j < len(header) else j}={body[i][j][:12]!r}"
        elif r == 7:
            kind = "dialect"
            delim = (",", ";", "\t", "|")[int(rng.integers(0, 4))]
            newline = ("\n", "\r\n", "\r")[int(rng.integers(0, 3))]
            label += f" delim={delim!r} nl={newline!r}"
        elif r == 8:
            kind = "header"
            choice = int(rng.integers(0, 4))
            if choice == 0 and header:
                header[int(rng.integers(0, len(header)))] = header[0]  # duplicate column
            elif choice == 1:
                header = [h.upper() for h in header]
            elif choice == 2:
                header.append("x" * 1000)
            else:
                header = ["  " + h + " " for h in header]
            label += f" header#{choice}"
        else:
            kind = "rows"
            choice = int(rng.integers(0, 4))
            if choice == 0:
                body = []
            elif choice == 1 and body:
                body = body * int(rng.integers(5, 40))  # many (duplicate) rows
            elif choice == 2 and body:
                body[int(rng.integers(0, len(body)))] = body[0][:2]  # short row
            elif body:
                body[0] = [*body[0], "extra", "cells"]
            label += f" rows#{choice} n={len(body)}"
    out = io.StringIO(newline="")
    w = csv.writer(out, delimiter=delim, lineterminator=newline)
    w.writerow(header)
    w.writerows(body)
    text = out.getvalue()
    raw = text.encode(encoding, errors="replace")
    if rng.random() < 0.05:  # invalid bytes anywhere
        b = bytearray(raw)
        for i in rng.integers(0, max(1, len(b)), size=4):
            if len(b):
                b[int(i)] = int(rng.integers(128, 256))
        raw = bytes(b)
        label += " invalid bytes"
    return kind, label.strip(), prefix + raw


def sheet_campaign(
    n_cases: int,
    seed: int,
    repo: Path,
    work: Path,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    """Mutated sample sheets through the planning stage of ``assaykit run``
    (sheet read, validated, grouped into experiments), in-process."""
    from assaykit.plugins import PluginHost
    from assaykit.sheet import plan

    tally = Tally("sheet")
    host = PluginHost()
    folder, rows = sheet_folder(repo, work)
    rng = np.random.default_rng(seed)
    sheet = folder / "samples.csv"
    started = time.perf_counter()

    def guarded(exc: BaseException) -> bool:
        return False

    for case in range(n_cases):
        kind, label, raw = mutate_sheet(rows, folder, rng)
        if sheet.is_symlink() or sheet.exists():
            sheet.unlink()
        as_link = rng.random() < 0.03
        if as_link:  # the sheet itself a symlink to a file outside the folder
            outside = work / "outside.csv"
            outside.write_bytes(raw)
            sheet.symlink_to(outside)
            label += " sheet is a symlink out of the folder"
            kind = "sheet_symlink"
        else:
            sheet.write_bytes(raw)
        full = f"sheet case {case} {kind}: {label[:160]}"

        def go() -> Any:
            return plan(folder, host, sheet=sheet, assay=None, default_assay=None)

        def names_sheet(exc: BaseException) -> str | None:
            from assaykit.errors import SampleSheetError

            if isinstance(exc, SampleSheetError) and not all(
                str(sheet) in p or "samples.csv" in p for p in exc.problems
            ):
                return f"a problem does not name the sheet: {exc.problems[:2]}"
            return None

        run_case(tally, full, kind, go, mem_bound=64 * MiB + 40 * len(raw), guarded_if=guarded,
                 check_error=names_sheet)  # fmt: skip
        if progress and case % 1000 == 999:
            progress(f"sheet {case + 1}/{n_cases} {time.perf_counter() - started:.0f}s")
    tally.seconds = time.perf_counter() - started
    return tally


# --------------------------------------------------------------------------
# The real CLI, in a subprocess
# --------------------------------------------------------------------------


def cli_cases(
    n_cases: int, seed: int, shared: Path, repo: Path, work: Path,
    progress: Callable[[str], None] | None = None,
) -> Tally:  # fmt: skip
    """A smaller sample through ``assaykit run`` in a subprocess: mutated FCS tubes,
    gel images and sheets in a small batch folder. Exit codes must be 0, 1 or 2
    (never 3) and stderr must hold no traceback."""
    import subprocess

    tally = Tally("cli")
    rng = np.random.default_rng(seed)
    fseeds = [s for s in fcs_seeds(shared, repo, work) if s[0].startswith("fixtures")]
    iseeds = [s for s in image_seeds(shared, work) if s[0] == "gen:gel8.tif"]
    _, sheet_rows = sheet_folder(repo, work)
    src = repo / "fixtures" / "example-folder"
    # the CLI of the code under test (PYTHONPATH is inherited), as `assaykit` runs it
    cmd = [sys.executable, "-c", "import sys; from assaykit.cli import main; sys.exit(main())"]
    started = time.perf_counter()
    for case in range(n_cases):
        folder = work / f"cli{case}"
        folder.mkdir()
        which = case % 3
        if which == 0:  # an annexin experiment with one mutated tube
            for p in (src / "annexin_pi").glob("*.fcs"):
                _place(p, folder / p.name)
            name, content = fseeds[int(rng.integers(0, len(fseeds)))]
            kind, label, mutant = mutate_fcs(content, rng)
            label = f"vehicle.fcs from {name}: {label}"
            (folder / "vehicle.fcs").unlink()
            (folder / "vehicle.fcs").write_bytes(mutant)
            rows = [r for r in sheet_rows if r[0].startswith("annexin_pi/") or r[0] == "file"]
            body = [[r[0].replace("annexin_pi/", ""), *r[1:]] for r in rows]
        elif which == 1:  # an MSP gel, mutated
            content = iseeds[0][1]
            kind, label, mutant = mutate_image(content, rng)
            (folder / "gel.tif").write_bytes(mutant)
            rows = [r for r in sheet_rows if r[0].startswith("msp_gel/") or r[0] == "file"]
            body = [[r[0].replace("msp_gel/", ""), *r[1:]] for r in rows]
        else:  # a mutated sheet over the example folder's tunel files
            for p in (src / "tunel" / "tunel_day1").glob("*.fcs"):
                _place(p, folder / p.name)
            (folder / "escape.fcs").symlink_to("/etc/passwd")
            rows = [r for r in sheet_rows if r[0].startswith("tunel/") or r[0] == "file"]
            body = [[r[0].replace("tunel/tunel_day1/", ""), *r[1:]] for r in rows]
            kind, label, raw = mutate_sheet(body, folder, rng)
            if case % 2 == 0:  # the sheet itself a symlink out of the folder
                outside = work / f"outside{case}.csv"
                outside.write_bytes(raw)
                (folder / "samples.csv").symlink_to(outside)
                label += " sheet is a symlink out of the folder"
            else:
                (folder / "samples.csv").write_bytes(raw)
        if which != 2:
            out_s = io.StringIO()
            csv.writer(out_s, lineterminator="\n").writerows(body)
            (folder / "samples.csv").write_text(out_s.getvalue(), encoding="utf-8")
        full = f"cli case {case} {kind}: {label[:120]}"

        def go(folder: Path = folder, case: int = case) -> Any:
            return subprocess.run(
                [*cmd, "run", str(folder), "--out", str(work / f"out{case}"), "--no-figures"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip

        def check(proc: Any) -> str | None:
            if proc.returncode not in (0, 1, 2):
                return f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
            if "Traceback (most recent call last)" in proc.stderr + proc.stdout:
                return f"traceback: {proc.stderr.strip()[-300:]}"
            tally.typed[f"exit {proc.returncode}"] += 1
            return None

        # a whole run (interpreter start, analysis, report) is not one read: its
        # limit is "never hangs", not 5 s
        run_case(tally, full, kind, go, mem_bound=2**62, guarded_if=lambda e: False,
                 check=check, slow_s=CLI_SLOW_S)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(work / f"out{case}", ignore_errors=True)
        if progress and case % 10 == 9:
            progress(f"cli {case + 1}/{n_cases} {time.perf_counter() - started:.0f}s")
    tally.seconds = time.perf_counter() - started
    # the runs' memory is the children's: their largest peak resident set
    tally.peak_growth_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tally.peak_growth_case = "largest peak RSS of any CLI subprocess (getrusage RUSAGE_CHILDREN)"
    return tally


def iter_lines(tallies: list[Tally]) -> Iterator[str]:
    """The counts table, as text."""
    cols = ["target", "cases", "ok", "typed_errors", "guarded", "crashes", "wrong", "over_5s",
            "over_alloc", "max_s", "peak_rss_growth_mib", "seconds"]  # fmt: skip
    yield " | ".join(cols)
    for t in tallies:
        row = t.row()
        yield " | ".join(str(row[c]) for c in cols)
    yield f"process peak RSS (getrusage): {peak_rss_mib():.0f} MiB; python {sys.version.split()[0]}"
