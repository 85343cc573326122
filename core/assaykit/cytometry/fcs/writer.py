"""Writing one data set as an FCS 3.1 file (:func:`write_fcs`)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from assaykit.cytometry.compensation import CompensationError, SpilloverMatrix
from assaykit.cytometry.fcs.header import HEADER_SIZE
from assaykit.cytometry.fcs.source import StrPath
from assaykit.errors import UsageError

_HEADER_LIMIT = 99_999_999  # largest offset an 8-byte HEADER field can hold


_WRITER_KEYS = {
    "$BEGINANALYSIS",
    "$ENDANALYSIS",
    "$BEGINDATA",
    "$ENDDATA",
    "$BEGINSTEXT",
    "$ENDSTEXT",
    "$BYTEORD",
    "$DATATYPE",
    "$MODE",
    "$NEXTDATA",
    "$PAR",
    "$TOT",
}


_WRITER_PARAM_KEYS = re.compile(r"\$P\d+[BNR]")

_DELIMITERS = ("/", "|", "\\", "!", "\x0c", "\x1e")


def write_fcs(
    path: StrPath,
    events: npt.ArrayLike,
    channels: Sequence[str],
    labels: Sequence[str] | None = None,
    keywords: Mapping[str, object] | None = None,
    spillover: SpilloverMatrix | tuple[Sequence[str], npt.ArrayLike] | None = None,
    datatype: Literal["F", "D", "I"] = "F",
    *,
    byteorder: Literal["little", "big"] = "little",
    bits: int | Sequence[int] | None = None,
    ranges: Sequence[float] | None = None,
    delimiter: str | None = None,
) -> None:
    """Write one data set as an FCS 3.1 file (used by seeded synthetic-data generators).

    ``events`` is (n_events, n_channels). ``datatype`` ``F``/``D`` stores
    float32/float64; ``I`` stores unsigned integers of ``bits`` bits per
    channel (8, 16, 24, 32 or 64; one value or one per channel; default 16,
    or 32 when a value needs it), and requires whole non-negative values.
    ``ranges`` default to ``2**bits`` for ``I`` and, for floats, to the
    smallest power of two at or above the channel maximum (at least 1).
    ``delimiter`` forces the TEXT delimiter (tests use it to exercise
    escaping); by default one is chosen that occurs in no keyword or value.
    The file is written to a temporary name and renamed, so a reader never
    sees half a file. Misuse raises :class:`UsageError`.
    """
    data = np.asarray(events)
    if data.ndim != 2:
        raise UsageError(f"events must be 2-D (n_events, n_channels), got shape {data.shape}")
    tot, par = data.shape
    channels = [str(c) for c in channels]
    if par == 0 or len(channels) != par:
        raise UsageError(f"events have {par} columns but {len(channels)} channel names were given")
    for name in channels:
        if not name.strip() or "," in name:
            raise UsageError(f"channel name {name!r} is empty or contains a comma (FCS 3.1 $PnN)")
    label_list = [str(s) for s in labels] if labels is not None else [""] * par
    if len(label_list) != par:
        raise UsageError(f"{len(label_list)} labels given for {par} channels")
    if datatype not in ("F", "D", "I"):
        raise UsageError(f"datatype must be 'F', 'D' or 'I', got {datatype!r}")
    if byteorder not in ("little", "big"):
        raise UsageError(f"byteorder must be 'little' or 'big', got {byteorder!r}")
    endian = "<" if byteorder == "little" else ">"
    if data.dtype.kind not in "biuf":
        raise UsageError(f"events must be numeric, got dtype {data.dtype}")

    payload, bit_list, default_ranges = _encode_events(data, datatype, endian, bits)
    del data
    if ranges is None:
        range_list = default_ranges
    else:
        range_list = [float(r) for r in ranges]
        if len(range_list) != par or not all(math.isfinite(r) and r > 0 for r in range_list):
            raise UsageError(f"ranges must be {par} positive finite numbers")

    text: dict[str, str] = {
        "$BEGINANALYSIS": "0",
        "$ENDANALYSIS": "0",
        "$BEGINSTEXT": "0",
        "$ENDSTEXT": "0",
        "$BEGINDATA": "0",
        "$ENDDATA": "0",
        "$BYTEORD": "1,2,3,4" if endian == "<" else "4,3,2,1",
        "$DATATYPE": datatype,
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": str(par),
        "$TOT": str(tot),
    }
    for n, (name, label, b, r) in enumerate(zip(channels, label_list, bit_list, range_list), 1):
        text[f"$P{n}N"] = name
        text[f"$P{n}B"] = str(b)
        text[f"$P{n}E"] = "0,0"
        text[f"$P{n}R"] = _format_number(r)
        if label.strip():
            text[f"$P{n}S"] = label
    if spillover is not None:
        try:
            spill = (
                spillover
                if isinstance(spillover, SpilloverMatrix)
                else SpilloverMatrix(
                    tuple(str(c) for c in spillover[0]),
                    np.asarray(spillover[1], dtype=np.float64),
                    check=False,  # written as given, even when it could not compensate
                )
            )
            missing = [c for c in spill.detectors if c not in channels]
            if missing:
                raise UsageError(f"spillover names {missing}, which are not channel names ($PnN)")
            text["$SPILLOVER"] = spill.to_keyword_value()
        except CompensationError as exc:
            raise UsageError(str(exc)) from None
    for key, value in (keywords or {}).items():
        ukey = str(key).strip().upper()
        if not ukey:
            raise UsageError("keyword names must not be empty")
        if ukey in _WRITER_KEYS or _WRITER_PARAM_KEYS.fullmatch(ukey):
            raise UsageError(f"keyword {key!r} is set by write_fcs and cannot be given")
        if ukey in ("$SPILLOVER", "$SPILL", "SPILL") and spillover is not None:
            raise UsageError(f"keyword {key!r} conflicts with the spillover argument")
        if re.fullmatch(r"\$P\d+S", ukey) and labels is not None:
            raise UsageError(f"keyword {key!r} conflicts with the labels argument")
        svalue = str(value)
        if not svalue:
            raise UsageError(f"keyword {key!r} has an empty value, which FCS does not allow")
        text[ukey] = svalue

    delim = _choose_delimiter(text, delimiter)
    header, text_bytes, data_start = _layout_file(text, delim, len(payload))
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(text_bytes)
            fh.write(b" " * (data_start - HEADER_SIZE - len(text_bytes)))
            fh.write(payload)
            fh.write(b"00000000")  # FCS 3.x: no CRC is written as eight ASCII zeros
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _encode_events(
    data: npt.NDArray[Any], datatype: str, endian: str, bits: int | Sequence[int] | None
) -> tuple[memoryview, list[int], list[float]]:
    tot, par = data.shape
    if datatype in ("F", "D"):
        if bits is not None:
            raise UsageError("bits applies to datatype 'I' only")
        dtype = np.dtype(f"{endian}f{4 if datatype == 'F' else 8}")
        with np.errstate(over="ignore"):  # overflow is detected just below
            out = np.ascontiguousarray(data.astype(dtype, copy=False))
        narrowing = data.dtype.kind == "f" and data.dtype.itemsize > dtype.itemsize
        if narrowing and np.count_nonzero(np.isinf(out)) > np.count_nonzero(np.isinf(data)):
            raise UsageError(f"some values overflow {dtype.name} ($DATATYPE/{datatype}/)")
        default_ranges = [_float_range(out[:, j]) for j in range(par)] if tot else [1.0] * par
        return _byte_view(out), [8 * dtype.itemsize] * par, default_ranges

    if data.dtype.kind == "f" and (not np.all(np.isfinite(data)) or np.any(data != np.round(data))):
        raise UsageError("datatype 'I' needs whole, finite values")
    if tot and data.min() < 0:
        raise UsageError("datatype 'I' stores unsigned integers; events hold negative values")
    top_values = data.max(axis=0) if tot else np.zeros(par)
    if bits is None:
        bit_list = [16 if float(t) < 2**16 else 32 for t in top_values]
    elif isinstance(bits, (int, np.integer)):
        bit_list = [int(bits)] * par
    else:
        bit_list = [int(b) for b in bits]
    if len(bit_list) != par or any(b not in (8, 16, 24, 32, 64) for b in bit_list):
        raise UsageError(f"bits must be 8, 16, 24, 32 or 64 per channel, got {bits!r}")
    for j, (b, t) in enumerate(zip(bit_list, top_values)):
        if float(t) >= 2.0**b:
            raise UsageError(f"channel {j + 1} holds {t}, which does not fit in {b} bits")
    values = data.astype(np.uint64)
    widths = [b // 8 for b in bit_list]
    if len(set(widths)) == 1 and widths[0] != 3:
        out = np.ascontiguousarray(values.astype(f"{endian}u{widths[0]}"))
        return _byte_view(out), bit_list, [float(2**b) for b in bit_list]
    rows = np.empty((tot, sum(widths)), dtype=np.uint8)
    offset = 0
    for j, w in enumerate(widths):
        for k in range(w):  # byte k counted from the least significant
            col = offset + (k if endian == "<" else w - 1 - k)
            rows[:, col] = (values[:, j] >> np.uint64(8 * k)) & np.uint64(0xFF)
        offset += w
    return _byte_view(rows), bit_list, [float(2**b) for b in bit_list]


def _byte_view(array: npt.NDArray[Any]) -> memoryview:
    """The bytes of a C-contiguous array, without copying (also for zero events)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _float_range(column: npt.NDArray[Any]) -> float:
    """Smallest power of two at or above the largest finite magnitude (at least 1)."""
    top = max(abs(float(np.fmax.reduce(column))), abs(float(np.fmin.reduce(column))))
    if not math.isfinite(top):
        finite = column[np.isfinite(column)]
        top = float(np.abs(finite).max()) if finite.size else 1.0
    return float(2 ** max(0, math.ceil(math.log2(max(top, 1.0)))))


def _choose_delimiter(text: Mapping[str, str], forced: str | None) -> str:
    if forced is not None:
        if len(forced) != 1 or not 1 <= ord(forced) <= 126:
            raise UsageError("delimiter must be one ASCII character (1-126)")
        for key, value in text.items():
            if key.startswith(forced) or value.startswith(forced):
                raise UsageError(
                    f"keyword {key!r} or its value starts with the delimiter {forced!r}, which "
                    "cannot be escaped unambiguously"
                )
        return forced
    joined = "".join(f"{k}{v}" for k, v in text.items())
    for candidate in _DELIMITERS:
        if candidate not in joined:
            return candidate
    return _choose_delimiter(text, "/")


def _layout_file(text: Mapping[str, str], delim: str, n_data: int) -> tuple[bytes, bytes, int]:
    """Place TEXT after the HEADER and DATA 8-byte aligned; iterate until offsets settle."""
    escaped = delim * 2
    begin = end = 0
    for _ in range(20):
        fields = dict(text)
        fields["$BEGINDATA"] = str(begin)
        fields["$ENDDATA"] = str(end)
        body = delim + "".join(
            f"{k.replace(delim, escaped)}{delim}{v.replace(delim, escaped)}{delim}"
            for k, v in fields.items()
        )
        text_bytes = body.encode("utf-8")
        text_end = HEADER_SIZE + len(text_bytes) - 1
        if n_data:
            new_begin = (text_end + 1 + 7) // 8 * 8
            new_end = new_begin + n_data - 1
        else:
            new_begin = new_end = 0
        if (new_begin, new_end) == (begin, end):
            break
        begin, end = new_begin, new_end
    else:  # pragma: no cover - offsets only grow, so this converges in a few rounds
        raise RuntimeError("FCS writer could not settle the DATA offsets")
    if text_end > _HEADER_LIMIT:
        raise UsageError("TEXT segment would exceed 99,999,999 bytes")
    data_begin = max(begin, text_end + 1)
    if end > _HEADER_LIMIT:  # FCS 3.x: offsets that do not fit go only in TEXT
        head_data = (0, 0)
    else:
        head_data = (begin, end)
    header = "FCS3.1    " + "".join(f"{v:>8d}" for v in (HEADER_SIZE, text_end, *head_data, 0, 0))
    return header.encode("ascii"), text_bytes, data_begin
