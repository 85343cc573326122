"""Where the events are: the DATA segment from HEADER or TEXT offsets, checked against ``$TOT``."""

from __future__ import annotations

import math

import numpy as np

from assaykit.cytometry.fcs.decode import _Layout, _read_events
from assaykit.cytometry.fcs.deviations import _Notes
from assaykit.cytometry.fcs.header import _PADDING, HEADER_SIZE, RULE_OFFSETS
from assaykit.cytometry.fcs.source import _Source
from assaykit.cytometry.fcs.text import _Dataset, _is_uint, _kw


def _locate_data(src: _Source, ds: _Dataset, lay: _Layout, tot: int | None) -> None:
    """Find the DATA segment and check it against $TOT; fills lay.start/length/tot."""
    kw = ds.keywords
    warnings = ds.warnings
    base = ds.base
    header = (ds.offsets[2], ds.offsets[3])
    text: tuple[int, int] | None = None
    tb, te = _kw(kw, "$BEGINDATA"), _kw(kw, "$ENDDATA")
    if tb is not None and te is not None:
        if _is_uint(tb) and _is_uint(te):
            text = (int(tb), int(te))
        else:
            warnings.deviate(
                f"$BEGINDATA/$ENDDATA ({tb!r}, {te!r}) are not integers; ignored",
                field="$BEGINDATA/$ENDDATA",
                rule="FCS 3.1 §3.2.18: $BEGINDATA/$ENDDATA are byte offsets",
                found=f"{tb!r}, {te!r}",
                expected="two non-negative integers",
                repair="used the HEADER's DATA offsets",
            )
    free_ascii = lay.datatype == "A" and lay.widths[0] == 0
    bpe = sum(lay.widths)
    available = src.size - base

    candidates: list[tuple[str, int, int]] = []
    if header != (0, 0):
        candidates.append(("HEADER", *header))
    if text is not None and text != (0, 0) and text != header:
        candidates.append(("TEXT $BEGINDATA/$ENDDATA", *text))
    if header != (0, 0) and text is not None and text != (0, 0) and text != header:
        disagreement = (
            f"HEADER (bytes {header[0]}-{header[1]}) and TEXT $BEGINDATA/$ENDDATA "
            f"({text[0]}-{text[1]}) disagree on the DATA segment"
        )
    else:
        disagreement = ""

    if tot is None:
        if ds.version != "FCS2.0":
            raise src.fail("required keyword $TOT (number of events) is missing")
        if not candidates or free_ascii or bpe == 0:
            raise src.fail("$TOT is missing and the DATA segment size cannot give it")
        name, s, e = candidates[0]
        length = e - s + 1
        if length <= 0 or length % bpe:
            raise src.fail(
                f"$TOT is missing and the DATA segment ({length} bytes) is not a whole number "
                f"of {bpe}-byte events"
            )
        tot = length // bpe
        warnings.deviate(
            f"$TOT is missing; derived {tot} events from the DATA segment size",
            field="$TOT",
            rule="FCS 2.0 §3.2: $TOT (number of events) should be given",
            found="missing",
            expected="the number of events",
            repair=f"derived {tot} events from the DATA segment size",
        )
    lay.tot = tot

    if free_ascii:
        if not candidates:
            raise src.fail("no DATA segment offsets in HEADER or TEXT")
        name, s, e = candidates[0]
        if s < HEADER_SIZE or e < s or e >= available:
            raise src.fail(f"DATA segment {s}-{e} ({name}) lies outside the file")
        lay.start, lay.length = base + s, e - s + 1
        return

    need = tot * bpe
    if need == 0:
        lay.start, lay.length = base, 0
        return
    if need > available:
        raise src.fail(
            f"$TOT={tot} events × {bpe} bytes per event = {need} bytes, but the data set has "
            f"only {available} bytes (truncated file or corrupt $TOT/$PAR/$PnB)"
        )
    if not candidates:
        raise src.fail(
            "no DATA segment offsets: HEADER gives 0 and $BEGINDATA/$ENDDATA are missing"
        )

    fits: list[tuple[int, str, int, int]] = []  # (|off by|, name, start, length)
    reasons: list[str] = []
    for name, s, e in candidates:
        length = e - s + 1
        if s < HEADER_SIZE:
            reasons.append(f"{name} start {s} lies inside the HEADER")
            continue
        t_start, t_end = ds.text_range
        if s <= t_end and s + need - 1 >= t_start:
            reasons.append(
                f"{name} DATA segment {s}-{s + need - 1} overlaps the TEXT segment "
                f"({t_start}-{t_end})"
            )
            continue
        if length - need not in (-1, 0, 1):
            reasons.append(f"{name} gives {s}-{e} = {length} bytes")
            continue
        if base + s + need > src.size:
            reasons.append(
                f"{name} DATA segment {s}-{s + need - 1} runs past the end of the file "
                f"({src.size} bytes): truncated?"
            )
            continue
        fits.append((abs(length - need), name, s, length))
    if not fits:
        raise src.fail(
            f"DATA segment does not match $TOT={tot} × {bpe} bytes per event = {need} bytes: "
            + "; ".join(reasons)
        )
    fits.sort()
    off_by, name, s, length = fits[0]
    exact = [f for f in fits if f[0] == 0]
    why = "it matches $TOT × bytes per event"
    if len(exact) > 1 and len({f[2] for f in exact}) > 1:
        name, s, length, why = _weigh_evidence(src, ds, lay, exact, need, disagreement)
    if disagreement:
        warnings.deviate(
            f"{disagreement}; used {name} because {why}",
            field="HEADER DATA offsets, $BEGINDATA/$ENDDATA",
            rule="FCS 3.1 §3.2.18: $BEGINDATA/$ENDDATA duplicate the HEADER's DATA offsets",
            found=f"HEADER {header[0]}-{header[1]}, TEXT {text[0] if text else 0}-"
            f"{text[1] if text else 0}",
            expected="the same offsets in both",
            repair=f"used {name} because {why}",
        )
    if off_by:
        end = s + length - 1
        direction = "one past the last byte" if length > need else "one byte short"
        warnings.deviate(
            f"DATA end offset {end} ({name}) is {direction} of $TOT × bytes per event "
            f"({need} bytes from {s}); read exactly {need} bytes",
            field=f"{name} DATA end offset",
            rule=RULE_OFFSETS,
            found=str(end),
            expected=f"{s + need - 1} ($TOT × bytes per event from {s})",
            repair=f"read exactly {need} bytes from {s}",
        )
    lay.start, lay.length = base + s, need


#: Events examined per candidate when HEADER and TEXT point at two DATA segments
#: that both fit: enough to see a shifted layout many times over, cheap to decode.
EVIDENCE_EVENTS = 20_000


def _weigh_evidence(
    src: _Source,
    ds: _Dataset,
    lay: _Layout,
    exact: list[tuple[int, str, int, int]],
    need: int,
    disagreement: str,
) -> tuple[str, int, int, str]:
    """Choose between two DATA segments that both hold exactly $TOT events, from the bytes.

    Why: Beckman Coulter Cyan files give HEADER and TEXT DATA offsets 46 bytes
    apart, and each fits $TOT × bytes per event, so size cannot decide. Three
    independent signs can, each voting only when it separates the candidates
    clearly (one side at least ten times worse):

    * values within ``$PnR``: the true segment holds (nearly) no value at or
      above its channel's range, a shifted one reads bytes of the wrong
      channel or event and leaves the ranges (non-finite floats count too);
    * a time channel (``$PnN`` starting with "time") never decreases in the
      true segment;
    * the true segment starts right after TEXT (only padding between).

    The signs must not contradict each other; split or absent evidence is an
    FCSError (never a guess).
    """
    t_end = ds.text_range[1]
    kw = ds.keywords
    names = [(_kw(kw, f"$P{n}N") or "") for n in range(1, lay.par + 1)]
    ranges = []
    for n in range(1, lay.par + 1):
        try:
            ranges.append(float(_kw(kw, f"$P{n}R") or "nan"))
        except ValueError:
            ranges.append(math.nan)
    bpe = sum(lay.widths)
    n_ev = min(lay.tot, EVIDENCE_EVENTS)
    time_col = next((j for j, n in enumerate(names) if n.strip().lower().startswith("time")), None)
    rows: list[tuple[str, int, int, int, int | None, bool]] = []
    for _, name, s, length in exact[:2]:
        probe = _Layout(
            tot=n_ev,
            par=lay.par,
            datatype=lay.datatype,
            little=lay.little,
            widths=lay.widths,
            masks=[None] * lay.par,
            out_dtype=np.float64,
            start=ds.base + s,
            length=n_ev * bpe,
        )
        ev = np.asarray(
            _read_events(src, probe, True, _Notes(src.path, ds.index, False), names),
            dtype=np.float64,
        )
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(ev)
            for j, r in enumerate(ranges):
                if math.isfinite(r) and r > 0:
                    bad[:, j] |= (ev[:, j] >= r) | (ev[:, j] < -r)
        decreases = (
            int(np.count_nonzero(np.diff(ev[:, time_col]) < 0)) if time_col is not None else None
        )
        adjacent = t_end < s <= t_end + 4097 and not src.read(
            ds.base + t_end + 1, s - t_end - 1, "gap after TEXT"
        ).strip(_PADDING)
        rows.append((name, s, length, int(np.count_nonzero(bad)), decreases, adjacent))

    def clear(a: int, b: int) -> int | None:
        """Index of the clearly better (lower) count, or None."""
        lo, hi = min(a, b), max(a, b)
        if hi == 0 or hi < 10 * lo:
            return None
        return 0 if a < b else 1

    (na, sa, la, ra, da, aa), (nb, sb, lb, rb, db, ab) = rows
    votes: list[tuple[int, str]] = []
    pick = clear(ra, rb)
    if pick is not None:
        votes.append(
            (pick, f"values outside $PnR in the first {n_ev} events: {na} {ra}, {nb} {rb}")
        )
    if da is not None and db is not None:
        pick = clear(da, db)
        if pick is not None:
            tname = names[time_col] if time_col is not None else "time"
            votes.append((pick, f"{tname} decreases {da} times from {na}, {db} times from {nb}"))
    if aa != ab:
        votes.append((0 if aa else 1, f"{na if aa else nb} starts right after TEXT"))
    detail = "; ".join(v[1] for v in votes)
    if not votes:
        raise src.fail(
            f"{disagreement}, both fit $TOT × bytes per event, and nothing in the bytes tells "
            f"them apart (values within $PnR: {na} {ra} outside, {nb} {rb}; time channel: "
            f"{'none' if time_col is None else names[time_col]}; neither starts alone right "
            "after TEXT); refusing to guess"
        )
    if len({v[0] for v in votes}) > 1:
        raise src.fail(
            f"{disagreement}, both fit $TOT × bytes per event, and the evidence is split "
            f"({detail}); refusing to guess"
        )
    k = votes[0][0]
    name, s, length = (na, sa, la) if k == 0 else (nb, sb, lb)
    return name, s, length, f"both fit $TOT × bytes per event and the bytes say so: {detail}"
