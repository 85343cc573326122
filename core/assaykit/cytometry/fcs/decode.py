"""Reading events: the DATA segment decoded per ``$DATATYPE`` (F, D, I, A)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from assaykit.cytometry.fcs.deviations import _Notes
from assaykit.cytometry.fcs.source import _Source

_NATIVE_LITTLE = sys.byteorder == "little"


#: DATA segments at least this large (bytes) are memory-mapped when no
#: conversion is needed. Smaller ones are read into memory, which is as fast
#: and does not hold a file descriptor for the lifetime of the array.
MMAP_THRESHOLD = 8 * 1024 * 1024


@dataclass
class _Layout:
    tot: int
    par: int
    datatype: str
    little: bool
    widths: list[int]  # bytes (I/F/D) or characters (A); 0 = free-format ASCII
    masks: list[int | None]
    out_dtype: type[np.floating[Any]]
    start: int = 0  # absolute offset of the first DATA byte
    length: int = 0  # bytes to read


def _read_events(
    src: _Source, lay: _Layout, copy: bool, warnings: _Notes, channels: list[str]
) -> npt.NDArray[Any]:
    tot, par = lay.tot, lay.par
    if lay.datatype in ("F", "D"):
        itemsize = lay.widths[0]
        native = np.dtype(np.float32 if itemsize == 4 else np.float64)
        on_disk = native.newbyteorder("<" if lay.little else ">")
        if tot == 0:
            return np.empty((0, par), dtype=native)
        if (
            not copy
            and lay.little == _NATIVE_LITTLE
            and lay.start % itemsize == 0
            and lay.length >= MMAP_THRESHOLD
        ):
            mapped = src.mapped()
            if mapped is not None:
                flat = np.frombuffer(mapped, dtype=native, count=tot * par, offset=lay.start)
                return flat.reshape(tot, par)
        buf = src.read_into(lay.start, lay.length, "DATA segment")
        arr = buf.view(on_disk).reshape(tot, par)
        if on_disk != native:
            arr.byteswap(inplace=True)
            arr = arr.view(native)
        return arr
    if tot == 0:
        return np.empty((0, par), dtype=lay.out_dtype)
    buf = src.read_into(lay.start, lay.length, "DATA segment")
    if lay.datatype == "I":
        return _decode_int(buf, lay, warnings, channels)
    return _decode_ascii(src, buf, lay)


def _decode_int(
    buf: npt.NDArray[np.uint8], lay: _Layout, warnings: _Notes, channels: list[str]
) -> npt.NDArray[Any]:
    tot, par, widths, masks = lay.tot, lay.par, lay.widths, lay.masks
    over: dict[str, int] = {}
    if len(set(widths)) == 1 and widths[0] in (1, 2, 4, 8):
        w = widths[0]
        raw = buf.view(np.dtype(f"u{w}").newbyteorder("<" if lay.little else ">")).reshape(tot, par)
        if any(m is not None for m in masks):
            full = (1 << (8 * w)) - 1
            mask_arr = np.array([full if m is None else m for m in masks], dtype=f"u{w}")
            # A mask is 2**k - 1, so "bits above the mask" is simply "> mask".
            counts = np.count_nonzero(raw > mask_arr, axis=0)
            over = {channels[j]: int(c) for j, c in enumerate(counts) if c}
            raw &= mask_arr  # buf is our own fresh buffer
        out = raw.astype(lay.out_dtype)
    else:
        # 24-bit (Cytek xP5) or mixed widths (CyFlow): assemble each channel
        # from its bytes, most significant byte first.
        rows = buf.reshape(tot, sum(widths))
        out = np.empty((tot, par), dtype=lay.out_dtype)
        offset = 0
        for j, w in enumerate(widths):
            acc_type = np.uint32 if w <= 4 else np.uint64
            order = (
                range(offset, offset + w)
                if not lay.little
                else range(offset + w - 1, offset - 1, -1)
            )
            acc = np.zeros(tot, dtype=acc_type)
            for k in order:
                acc <<= acc_type(8)
                acc |= rows[:, k]
            offset += w
            m = masks[j]
            if m is not None:
                count = int(np.count_nonzero(acc > acc_type(m)))
                if count:
                    over[channels[j]] = count
                acc &= acc_type(m)
            out[:, j] = acc
    if over:
        detail = ", ".join(f"{name}: {n}" for name, n in over.items())
        warnings.deviate(
            f"integer values with bits set above the $PnR range were masked "
            f"(values per channel: {detail})",
            field=", ".join(f"{name} $PnR" for name in list(over)[:5]),
            rule="FCS 3.1 §3.2.18: integer values lie within $PnR, which sets the bit mask",
            found=f"values with bits above the mask ({detail})",
            expected="values below the next power of two at or above $PnR (and within $PnB bits)",
            repair="cleared the bits above the mask",
        )
    return out


def _decode_ascii(src: _Source, buf: npt.NDArray[np.uint8], lay: _Layout) -> npt.NDArray[Any]:
    tot, par = lay.tot, lay.par
    if lay.widths[0] == 0:  # free format: separated by blanks, tabs, commas, CR or LF
        tokens = re.split(rb"[\s,]+", buf.tobytes().strip(b" \t\r\n,"))
        tokens = [t for t in tokens if t]
        if len(tokens) != tot * par:
            raise src.fail(
                f"free-format ASCII DATA holds {len(tokens)} values, expected $TOT × $PAR = "
                f"{tot * par}"
            )
        try:
            values = np.array(tokens, dtype=np.bytes_).astype(np.float64)
        except ValueError as exc:
            raise src.fail(f"ASCII DATA holds a non-numeric value: {exc}") from None
        return values.reshape(tot, par)
    rows = buf.reshape(tot, sum(lay.widths))
    out = np.empty((tot, par), dtype=np.float64)
    offset = 0
    for j, w in enumerate(lay.widths):
        cells = np.ascontiguousarray(rows[:, offset : offset + w]).view(f"S{w}").ravel()
        offset += w
        try:
            out[:, j] = cells.astype(np.float64)
        except ValueError as exc:
            raise src.fail(
                f"ASCII DATA of parameter {j + 1} holds a non-numeric value: {exc}"
            ) from None
    return out
