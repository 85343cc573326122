"""The gel's layout from the sample sheet: which lane is which, and what to expect in it.

One gel image is one experiment; the sheet has one row per lane. Every
structural problem (a sample with an M lane but no U lane, two rows for one
lane, an unknown control, no ladder, no product size) is an
:class:`~assaykit.errors.InputError` that names the image and the sheet row,
because a call built on a misread layout would look right and be wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assaykit import Experiment, Input, InputError
from assaykit.imaging.assay import sheet_lane_count

ROLES = ("M", "U", "ladder", "blank")
CONTROLS = ("methylated", "unmethylated", "water")
_SPLIT = re.compile(r"[;|\s]+")


@dataclass(frozen=True)
class LaneSpec:
    """One sheet row: a lane number (1 = leftmost), its role and sample, and its own sizes."""

    number: int
    role: str
    sample_id: str
    input: Input
    ladder_bp: tuple[float, ...] = ()

    @property
    def where(self) -> str:
        row = f", sheet row {self.input.row}" if self.input.row else ""
        return f"lane {self.number}{row}"


@dataclass(frozen=True)
class SampleSpec:
    """One DNA sample: its M and U lanes, expected product sizes and control type ('' if none)."""

    sample_id: str
    m_lane: int
    u_lane: int
    m_product_bp: float
    u_product_bp: float
    control: str = ""


@dataclass(frozen=True)
class GelLayout:
    """The whole gel: the image input, every listed lane, the samples and the lane count."""

    input: Input
    lanes: dict[int, LaneSpec]
    samples: list[SampleSpec]
    n_lanes: int

    @property
    def ladder_lanes(self) -> list[LaneSpec]:
        return [ln for n, ln in sorted(self.lanes.items()) if ln.role == "ladder"]

    @property
    def controls(self) -> list[SampleSpec]:
        return [s for s in self.samples if s.control]


def parse_sizes(text: str) -> tuple[float, ...]:
    """Sizes in bp from a cell such as ``"1000;900;800"`` (``;``, ``|`` or spaces between)."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    out = []
    for p in parts:
        v = float(p)
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{p!r} is not a positive size")
        out.append(v)
    return tuple(out)


def _number(text: str, what: str) -> float:
    v = float(text)
    if not math.isfinite(v) or v <= 0 or v > 100_000:
        raise ValueError(f"{what} {text!r} must be a size in bp between 0 and 100000")
    return v


def _one_value(
    rows: Sequence[LaneSpec], column: str, default: float | None, path: str, sid: str
) -> float:
    """A per-sample size from its rows' ``column`` cells (they must agree), else ``default``."""
    values: dict[float, str] = {}
    for ln in rows:
        cell = ln.input.condition(column).strip()
        if not cell:
            continue
        try:
            values[_number(cell, column)] = ln.where
        except ValueError as exc:
            raise InputError(path, f"sample sheet, {ln.where}, column {column!r}: {exc}") from None
    if len(values) > 1:
        raise InputError(
            path,
            f"sample sheet: sample {sid!r} has different {column} values "
            f"({', '.join(f'{v:g} on {w}' for v, w in values.items())}); give one",
        )
    if values:
        return next(iter(values))
    if default is None:
        raise InputError(
            path,
            f"sample {sid!r}: no expected product size; set the parameter {column} or fill "
            f"the sheet column {column!r}",
        )
    return float(default)


def parse_layout(
    experiment: Experiment,
    *,
    ladder_bp: Sequence[float],
    m_product_bp: float | None,
    u_product_bp: float | None,
    n_lanes: int | None = None,
) -> GelLayout:
    """Read and check the gel layout of one experiment (see module docs)."""
    inputs = list(experiment.inputs)
    if not inputs:
        raise InputError(experiment.name, "the experiment has no input")
    files = list(dict.fromkeys(i.path for i in inputs))
    path = str(files[0])
    if len(files) > 1:
        names = ", ".join(str(i.relpath) for i in dict((i.path, i) for i in inputs).values())
        raise InputError(
            path,
            f"one gel image is one experiment, but experiment {experiment.name!r} lists "
            f"{len(files)} images ({names}); give each gel its own experiment name",
        )
    image = inputs[0]
    if not experiment.has_sheet or all(i.lane is None for i in inputs):
        raise InputError(
            path,
            "msp_gel needs a sample sheet with one row per lane: columns lane, role "
            f"({', '.join(ROLES)}) and sample_id, and control on the control samples",
        )
    lanes: dict[int, LaneSpec] = {}
    for i in inputs:
        where = f"sheet row {i.row}" if i.row else f"sample {i.sample_id!r}"
        if i.lane is None:
            raise InputError(path, f"sample sheet, {where}: no lane number; every row is one lane")
        if i.role not in ROLES:
            raise InputError(
                path, f"sample sheet, {where}: role {i.role!r}; expected one of {', '.join(ROLES)}"
            )
        if i.lane in lanes:
            raise InputError(
                path, f"sample sheet, {where}: lane {i.lane} is already {lanes[i.lane].where}"
            )
        sizes: tuple[float, ...] = ()
        if i.role == "ladder":
            cell = i.condition("ladder_bp").strip()
            try:
                sizes = parse_sizes(cell) if cell else tuple(float(s) for s in ladder_bp)
            except ValueError as exc:
                raise InputError(
                    path,
                    f"sample sheet, {where}, column 'ladder_bp': {exc}; expected e.g. "
                    "'1000;900;800'",
                ) from None
            if len(set(sizes)) < 4:
                raise InputError(
                    path,
                    f"sample sheet, {where}: the ladder needs at least 4 distinct sizes, "
                    f"got {len(set(sizes))}",
                )
            sizes = tuple(sorted(set(sizes), reverse=True))
        control = i.condition("control").strip().lower()
        if control and control not in CONTROLS:
            raise InputError(
                path,
                f"sample sheet, {where}, column 'control': {control!r}; expected one of "
                f"{', '.join(CONTROLS)} (or empty for a sample)",
            )
        if control and i.role in ("ladder", "blank"):
            raise InputError(
                path, f"sample sheet, {where}: a {i.role} lane cannot be a {control} control"
            )
        lanes[i.lane] = LaneSpec(i.lane, i.role, i.sample_id, i, sizes)
    if not any(ln.role == "ladder" for ln in lanes.values()):
        raise InputError(path, "sample sheet: no lane has role 'ladder'; a gel needs a size ladder")

    by_sample: dict[str, list[LaneSpec]] = {}
    for ln in sorted(lanes.values(), key=lambda x: x.number):
        if ln.role in ("M", "U"):
            by_sample.setdefault(ln.sample_id, []).append(ln)
    samples: list[SampleSpec] = []
    for sid, rows in by_sample.items():
        m = [r for r in rows if r.role == "M"]
        u = [r for r in rows if r.role == "U"]
        if len(m) != 1 or len(u) != 1:
            lanes_txt = ", ".join(f"{r.role} in {r.where}" for r in rows)
            raise InputError(
                path,
                f"sample sheet: sample {sid!r} needs exactly one M lane and one U lane, "
                f"found {lanes_txt} (give the M and U rows of a sample the same sample_id)",
            )
        controls = {r.input.condition("control").strip().lower() for r in rows} - {""}
        if len(controls) > 1:
            marks = ", ".join(
                f"{r.input.condition('control').strip() or 'no control'} on {r.where}" for r in rows
            )
            raise InputError(
                path,
                f"sample sheet: sample {sid!r} is marked as {' and '.join(sorted(controls))} "
                f"({marks}); give its M and U rows the same control",
            )
        samples.append(
            SampleSpec(
                sample_id=sid,
                m_lane=m[0].number,
                u_lane=u[0].number,
                m_product_bp=_one_value(rows, "m_product_bp", m_product_bp, path, sid),
                u_product_bp=_one_value(rows, "u_product_bp", u_product_bp, path, sid),
                control=next(iter(controls), ""),
            )
        )
    top = max(lanes)
    # the sheet's n_lanes column (one value per gel) overrides the parameter
    counts = {c: i for i in inputs if (c := sheet_lane_count(i)) is not None}
    if len(counts) > 1:
        raise InputError(
            path,
            "sample sheet, column 'n_lanes': the gel's rows give different lane counts ("
            + ", ".join(f"{c} on sheet row {i.row}" for c, i in sorted(counts.items()))
            + "); give one",
        )
    where = "parameter n_lanes"
    if counts:
        n_lanes, where = next(iter(counts)), "the sample sheet's n_lanes"
    total = n_lanes if n_lanes is not None else top
    if total < top:
        raise InputError(path, f"{where} is {total}, but the sample sheet lists lane {top}")
    return GelLayout(image, lanes, samples, total)
