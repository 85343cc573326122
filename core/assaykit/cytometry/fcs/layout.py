"""How the events are stored: ``$MODE``, ``$DATATYPE``, ``$PnB``, bit masks, ``$BYTEORD``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from assaykit.cytometry.fcs.decode import _Layout
from assaykit.cytometry.fcs.deviations import _Notes, _StrictRefusal
from assaykit.cytometry.fcs.locate import _locate_data
from assaykit.cytometry.fcs.source import _Source
from assaykit.cytometry.fcs.text import _Dataset, _int_kw, _is_uint, _kw
from assaykit.errors import FCSError


def _layout(
    src: _Source,
    ds: _Dataset,
    par: int,
    tot: int | None,
    datatype: str,
    ranges: list[float],
    channels: list[str],
) -> _Layout:
    kw = ds.keywords
    warnings = ds.warnings
    mode = (_kw(kw, "$MODE") or "").upper()
    if mode and mode != "L":
        raise src.fail(f"$MODE={mode!r}: only list mode (L) is supported, not histograms")
    if not mode and ds.version != "FCS3.2":
        warnings.deviate(
            "required keyword $MODE is missing; assumed list mode (L)",
            field="$MODE",
            rule="FCS 3.1 §3.2.18: $MODE is required",
            found="missing",
            expected="L (list mode)",
            repair="assumed list mode",
        )

    if datatype not in ("I", "F", "D", "A"):
        if not datatype:
            raise src.fail("required keyword $DATATYPE (I, F, D or A) is missing")
        raise src.fail(f"$DATATYPE={kw.get('$DATATYPE')!r} is invalid; expected I, F, D or A")
    per_type = {(_kw(kw, f"$P{n}DATATYPE") or datatype).upper() for n in range(1, par + 1)}
    if per_type != {datatype}:
        raise src.fail(f"per-parameter data types $PnDATATYPE {sorted(per_type)} are not supported")

    bits_raw = [_kw(kw, f"$P{n}B") for n in range(1, par + 1)]
    missing = [f"$P{n}B" for n, b in enumerate(bits_raw, 1) if b is None]
    if missing:
        raise src.fail(f"required keyword(s) {', '.join(missing[:5])} (bits per value) missing")

    widths: list[int] = []
    bits: list[int] = []
    masks: list[int | None] = []
    out_dtype: type[np.floating[Any]] = np.float64
    if datatype == "A":
        if all(b == "*" for b in bits_raw):
            widths = [0] * par
        elif any(b == "*" for b in bits_raw):
            raise src.fail("$DATATYPE A mixes fixed ($PnB=n) and free ($PnB=*) formats")
        else:
            widths = [_int_kw(src, kw, f"$P{n}B", minimum=1) or 0 for n in range(1, par + 1)]
        masks = [None] * par
    else:
        bits = [_int_kw(src, kw, f"$P{n}B", minimum=1) or 0 for n in range(1, par + 1)]
        if datatype in ("F", "D"):
            want = 32 if datatype == "F" else 64
            odd = sorted({b for b in bits if b != want})
            if odd:
                warnings.deviate(
                    f"$DATATYPE {datatype} stores {want}-bit values but $PnB gives {odd}; "
                    f"read {want}-bit values",
                    field="$PnB",
                    rule=f"FCS 3.1 §3.2.18: $PnB is {want} for $DATATYPE/{datatype}/",
                    found=", ".join(str(b) for b in odd),
                    expected=str(want),
                    repair=f"read {want}-bit values",
                )
            widths = [want // 8] * par
            masks = [None] * par
            out_dtype = np.float32 if datatype == "F" else np.float64
        else:
            bad = sorted({b for b in bits if b > 64})
            if bad:
                raise src.fail(
                    f"$DATATYPE I with $PnB={bad}: only widths up to 64 bits are supported"
                )
            # $PnB that is not a whole number of bytes (Beckman Coulter FC500 .LMD:
            # 10) is taken to mean each value sits in the next whole-byte word, as
            # flowCore and FlowJo read it; _locate_data checks that the DATA size
            # agrees, and truly bit-packed data is refused there.
            storage = [-(-b // 8) * 8 for b in bits]
            widths = [w // 8 for w in storage]
            masks, eff_bits = _int_masks(storage, bits, ranges, channels, warnings)
            out_dtype = np.float32 if max(eff_bits) <= 24 else np.float64

    little = _byte_order(src, kw, widths, datatype)
    layout = _Layout(
        tot=tot if tot is not None else -1,
        par=par,
        datatype=datatype,
        little=little,
        widths=widths,
        masks=masks,
        out_dtype=out_dtype,
    )
    unpacked = [(n, b) for n, b in enumerate(bits, 1) if b % 8] if datatype == "I" else []
    try:
        _locate_data(src, ds, layout, tot)
    except FCSError as exc:
        if not unpacked or isinstance(exc, _StrictRefusal):
            raise
        raise src.fail(
            f"{exc.reason} (with $PnB={sorted({b for _, b in unpacked})}, not a whole number of "
            "bytes, each value was taken to fill a whole-byte word; bit-packed DATA is not "
            "supported)"
        ) from None
    if unpacked:
        shown = ", ".join(f"$P{n}B={b}" for n, b in unpacked[:5])
        word = sorted({-(-b // 8) * 8 for _, b in unpacked})
        warnings.deviate(
            f"$DATATYPE I with {shown}{' …' if len(unpacked) > 5 else ''}: values are not a "
            f"whole number of bytes, and the DATA segment holds one {'/'.join(map(str, word))}-"
            "bit word per value; read the words and kept the low $PnB bits",
            field=", ".join(f"$P{n}B" for n, _ in unpacked[:5]),
            rule="FCS 3.1 §3.2.18: $PnB for $DATATYPE/I/ is a multiple of 8 (bits per value "
            "in DATA)",
            found=shown,
            expected="8, 16, 24, 32 or 64 (or DATA packed at $PnB bits per value)",
            repair=f"read {'/'.join(map(str, word))}-bit words masked to $PnB bits (and $PnR)",
        )
    return layout


def _int_masks(
    storage: list[int],
    bits: list[int],
    ranges: list[float],
    channels: list[str],
    warnings: _Notes,
) -> tuple[list[int | None], list[int]]:
    """Bit mask per channel: next power of two at or above $PnR, minus one, within $PnB bits.

    ``storage`` is the width of the word each value is read from, ``bits``
    the declared ``$PnB`` (smaller when values sit in wider words).
    """
    masks: list[int | None] = []
    effective: list[int] = []
    unmasked: list[str] = []
    for word, b, r, name in zip(storage, bits, ranges, channels):
        keep = b
        if not math.isfinite(r) or r <= 0:
            if b >= word:
                unmasked.append(name)
        else:
            keep = min(b, (math.ceil(r) - 1).bit_length())
        if keep >= word:
            masks.append(None)
            effective.append(word)
        else:
            masks.append((1 << keep) - 1)
            effective.append(keep)
    if unmasked:
        warnings.deviate(
            f"no usable $PnR for integer channel(s) {unmasked}; values were not bit-masked",
            field=", ".join(unmasked[:5]) + " $PnR",
            rule="FCS 3.1 §3.2.18: $PnR (the range, which sets the bit mask) is required",
            found="missing or not positive",
            expected="a positive number",
            repair="did not bit-mask the values",
        )
    return masks, effective


def _byte_order(src: _Source, kw: Mapping[str, str], widths: list[int], datatype: str) -> bool:
    """True for little-endian. Accepts 1,2,3,4 / 4,3,2,1 and the 2.0-era 1,2 / 2,1."""
    value = _kw(kw, "$BYTEORD")
    needs_order = datatype != "A" and any(w > 1 for w in widths)
    if value is None:
        if needs_order:
            raise src.fail("required keyword $BYTEORD (byte order) is missing")
        return True
    parts = [p.strip() for p in value.split(",")]
    if not all(_is_uint(p) for p in parts):
        raise src.fail(f"$BYTEORD={value!r} is not a comma-separated list of byte numbers")
    order = [int(p) for p in parts]
    if order == list(range(1, len(order) + 1)):
        return True
    if order == list(range(len(order), 0, -1)):
        return False
    if not needs_order:
        return True
    raise src.fail(
        f"$BYTEORD={value!r} (mixed byte order) is not supported; expected 1,2,3,4 or 4,3,2,1"
    )
