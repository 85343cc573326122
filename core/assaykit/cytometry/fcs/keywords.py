"""Interpreting the TEXT: channels (``$PnN``, ``$PnS``, ``$PnR``), spillover, metadata."""

from __future__ import annotations

import math

from assaykit.cytometry.fcs.decode import _Layout
from assaykit.cytometry.fcs.deviations import _StrictRefusal
from assaykit.cytometry.fcs.layout import _layout
from assaykit.cytometry.fcs.results import FCSMetadata
from assaykit.cytometry.fcs.source import _Source
from assaykit.cytometry.fcs.spillover import _parse_spillover
from assaykit.cytometry.fcs.text import _Dataset, _int_kw, _kw
from assaykit.errors import FCSError


def _describe(src: _Source, ds: _Dataset, for_metadata: bool) -> tuple[FCSMetadata, _Layout | None]:
    """Interpret keywords. For metadata, reasons the events are unreadable become warnings."""
    kw = ds.keywords
    warnings = ds.warnings
    par = _int_kw(src, kw, "$PAR", minimum=1)
    if par is None:
        raise src.fail("required keyword $PAR (number of parameters) is missing")
    if par > len(kw):
        raise src.fail(f"$PAR={par} but the TEXT holds only {len(kw)} keywords")

    channels: list[str] = []
    labels: list[str] = []
    ranges: list[float] = []
    unnamed: list[int] = []
    bad_ranges: list[str] = []
    for n in range(1, par + 1):
        name = _kw(kw, f"$P{n}N")
        if name is None:
            unnamed.append(n)
            name = f"P{n}"
        channels.append(name)
        labels.append(_kw(kw, f"$P{n}S") or "")
        r = _kw(kw, f"$P{n}R")
        try:
            ranges.append(float(r) if r is not None else math.nan)
        except ValueError:
            ranges.append(math.nan)
        if r is None or not math.isfinite(ranges[-1]):
            bad_ranges.append(f"$P{n}R={r!r}")
    if unnamed:
        warnings.deviate(
            f"$PnN (channel name) missing for parameter(s) {unnamed}; named them 'P<n>'",
            field=", ".join(f"$P{n}N" for n in unnamed[:5]),
            rule="FCS 3.1 §3.2.18: $PnN is required",
            found="missing",
            expected="a channel name",
            repair="named them 'P<n>'",
        )
    if bad_ranges:
        warnings.deviate(
            f"missing or non-numeric ranges: {', '.join(bad_ranges)}; recorded as NaN",
            field=", ".join(b.split("=")[0] for b in bad_ranges[:5]),
            rule="FCS 3.1 §3.2.18: $PnR is required and numeric",
            found=", ".join(bad_ranges[:5]),
            expected="a number",
            repair="recorded the range as NaN",
        )

    datatype = (_kw(kw, "$DATATYPE") or "").upper()
    tot = _int_kw(src, kw, "$TOT")
    spill, spill_warnings = _parse_spillover(kw, channels, labels)
    for note in spill_warnings:
        key = note.split(" ", 1)[0]
        warnings.deviate(
            note,
            field=key,
            rule="FCS 3.1 §3.2.18 $SPILLOVER: n, then n $PnN names, then n×n numbers",
            found=note.split(" ", 1)[1],
            expected="a well-formed matrix naming this file's channels",
            repair="ignored the spillover" if note.endswith("ignored") else "kept it as written",
        )

    layout: _Layout | None = None
    unreadable: FCSError | None = None
    try:
        layout = _layout(src, ds, par, tot, datatype, ranges, channels)
    except FCSError as exc:
        if not for_metadata or tot is None or isinstance(exc, _StrictRefusal):
            raise
        unreadable = exc
    if unreadable is not None:
        warnings.append(f"events cannot be read: {unreadable.reason}")
    if layout is not None:
        tot = layout.tot
    assert tot is not None
    meta = FCSMetadata(
        conformance=warnings.deviations,
        path=src.path,
        version=ds.version,
        dataset_index=ds.index,
        channels=channels,
        labels=labels,
        ranges=ranges,
        keywords=kw,
        spillover=spill,
        n_events=tot,
        datatype=datatype,
        warnings=warnings,
    )
    return meta, layout
