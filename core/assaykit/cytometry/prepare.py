"""From one FCS data set to gate-ready events: channels, data sets, scaling, compensation, cleanup.

Why this module: every flow assay plugin (Annexin V/PI, TUNEL, Rh123 ...) starts
the same way — find its fluorescence channels in a file whose naming it does not
control, decide what a multi-data-set file means, scale and compensate only the
columns it uses, and drop debris and doublets. Doing that once here keeps the
plugins thin and makes every assay behave the same on the same file.

The API is small and meant to stay stable:

* :func:`resolve_channel` — which ``$PnN`` channel a plugin should read;
* :func:`fcs_samples` — the multi-data-set policy (one sample per data set);
* :func:`prepare_events` — scaled + compensated columns and the cleanup gates;
* :func:`control_threshold` / :func:`auto_threshold` — a threshold from negative
  controls (a percentile) or from the data (a density valley), with the
  control(s) that set it.

Failures are :class:`~assaykit.errors.AnalysisError` (a wrong argument such
as an unknown policy is a :class:`~assaykit.errors.ConfigError`), never a bare
``KeyError``: an error about one data set names its file; an error about
pooled values names the controls or samples they came from (the caller adds
their files). A batch thus turns a bad file into one clear error row.
Nothing here prints.

Speed: :func:`prepare_events` reads only the columns it needs, in blocks that
fit in cache, and fits gate boundaries on a strided subsample
(:data:`DEFAULT_FIT_EVENTS`); a 10^6-event, 12-channel file takes a few times
as long as reading its DATA segment (``bench/bench_annexin.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from assaykit.cytometry.cleanup import CleanupParams, CleanupResult, debris_cutoff, singlet_band
from assaykit.cytometry.compensation import (
    CompensationError,
    SpilloverMatrix,
    match_channels,
)
from assaykit.cytometry.events import channel_to_scale
from assaykit.cytometry.thresholds import Threshold, percentile_threshold, valley_threshold
from assaykit.errors import AnalysisError, ConfigError, FCSError

if TYPE_CHECKING:
    from assaykit.cytometry.fcs import FCSData, FCSMetadata
    from assaykit.experiment import Input

__all__ = [
    "DEFAULT_FIT_EVENTS",
    "DatasetPolicy",
    "Prepared",
    "auto_threshold",
    "control_threshold",
    "fcs_samples",
    "prepare_events",
    "resolve_channel",
]

Mask = NDArray[np.bool_]
DatasetPolicy = Literal["all", "first", "last"]

#: Gate boundaries (debris valley, singlet band, automatic thresholds) are fitted
#: on at most this many events, taken at an even stride through the file, and
#: then applied to every event. 10,000 events pin a median to about 1.3 % of
#: the population's SD (the standard error of a median is 1.25 SD/sqrt(n)) and a
#: density valley to well within one KDE bandwidth — far tighter than the
#: biological spread — while fitting on 10^6 events would cost several full
#: sorts and a biexponential transform of every event per sample for no
#: material change in the result.
DEFAULT_FIT_EVENTS = 10_000


# --------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------
def _describe_channels(fcs: FCSMetadata) -> str:
    pairs = [f"{n}" + (f" ({s})" if s else "") for n, s in zip(fcs.channels, fcs.labels)]
    return ", ".join(pairs) if pairs else "none"


def _area_preferred(names: list[str]) -> list[str]:
    """Among several candidates for one dye, the area parameters (``-A``), if any.

    Why: instruments label the area, height and width parameters of one
    detector alike (MACSQuant: ``GFP/FITC-A``, ``GFP/FITC-H``), so a dye
    pattern matches all of them; the area is what apoptosis protocols gate
    on, so it is chosen when it is the only area among them.
    """
    areas = [n for n in names if n.upper().endswith("-A")]
    return areas if areas else names


def resolve_channel(
    fcs: FCSMetadata,
    requested: str | None,
    label_patterns: Sequence[str | re.Pattern[str]] = (),
    fallbacks: Sequence[str] = (),
    what: str = "channel",
    *,
    param: str | None = None,
) -> str:
    """The ``$PnN`` name of the channel a plugin should read, or a clear AnalysisError.

    Rules, in order (the first that applies decides):

    1. ``requested`` given: the channel whose ``$PnN`` equals it, else whose
       ``$PnS`` equals it, else the same two comparisons ignoring case. No
       match, or a name that matches several channels, is an error — a name
       the lab typed is never replaced by a guess.
    2. ``label_patterns``: regular expressions searched (``re.search``) in
       every ``$PnS`` label, one pattern at a time in the order given (so a
       specific ``annexin`` can outrank a generic ``FITC``); the first
       pattern that matches any label decides. Exactly one matching channel
       is taken; several are narrowed to the area parameters (``$PnN``
       ending in ``-A``) and taken when one remains; otherwise it is an
       error listing the candidates. A plain string pattern is compiled
       case-insensitively.
    3. ``fallbacks``: the first of these ``$PnN`` names present (exactly, once)
       in the file.

    ``what`` names the channel in messages ("Annexin V channel"), ``param``
    the parameter that sets it, so the message tells the lab how to fix it.
    """
    where = f"{fcs.path}"
    how = f"; set the parameter {param!r} to one of them" if param else ""
    names = list(fcs.channels)
    labels = list(fcs.labels) + [""] * (len(names) - len(fcs.labels))

    def _unique(hits: list[int], by: str) -> str:
        if len(hits) == 1:
            name = names[hits[0]]
            dup = [i for i, n in enumerate(names) if n == name]
            if len(dup) == 1:
                return name
            hits = dup
        named = f" {requested!r}" if requested else ""
        raise AnalysisError(
            f"{where}: the {what}{named} is ambiguous: it matches the channels at "
            f"positions {hits} ({[names[i] for i in hits]}, by {by}); channels are: "
            f"{_describe_channels(fcs)}{how}"
        )

    if requested is not None and requested.strip():
        req = requested.strip()
        for hits, by in (
            ([i for i, n in enumerate(names) if n == req], "$PnN"),
            ([i for i, s in enumerate(labels) if s and s == req], "label"),
            ([i for i, n in enumerate(names) if n.strip().lower() == req.lower()], "$PnN"),
            ([i for i, s in enumerate(labels) if s and s.strip().lower() == req.lower()], "label"),
        ):
            if hits:
                return _unique(hits, by)
        raise AnalysisError(
            f"{where}: no channel named {req!r} for the {what}; channels ($PnN (label)) "
            f"are: {_describe_channels(fcs)}{how}"
        )

    pats = [
        p if isinstance(p, re.Pattern) else re.compile(p, re.IGNORECASE) for p in label_patterns
    ]
    for pat in pats:
        hits = [i for i, s in enumerate(labels) if s and pat.search(s)]
        if not hits:
            continue
        cand = list(dict.fromkeys(names[i] for i in hits))
        narrowed = _area_preferred(cand)
        if len(narrowed) == 1:
            return _unique([names.index(narrowed[0])], f"label pattern {pat.pattern!r}")
        raise AnalysisError(
            f"{where}: the {what} is ambiguous: the labels of "
            f"{[f'{names[i]} ({labels[i]})' for i in hits]} all match {pat.pattern!r}{how}"
        )
    for fb in fallbacks:
        if names.count(fb) == 1:
            return fb
    tried = []
    if pats:
        tried.append(f"labels matching {[p.pattern for p in pats]}")
    if fallbacks:
        tried.append(f"channels named {list(fallbacks)}")
    raise AnalysisError(
        f"{where}: cannot find the {what}: no {' or '.join(tried) or 'channel'}; "
        f"channels ($PnN (label)) are: {_describe_channels(fcs)}{how}"
    )


# --------------------------------------------------------------------------------------
# data sets
# --------------------------------------------------------------------------------------
def fcs_samples(
    inp: Input, datasets: Sequence[FCSData], policy: DatasetPolicy = "all", *, strict: bool = False
) -> list[tuple[str, FCSData]]:
    """The samples one FCS file holds: ``[(sample_id, data set), ...]``.

    ``strict=True`` (the flow assays' ``strict`` parameter) refuses a file
    any of whose data sets deviates from the FCS standard, with the same
    :class:`~assaykit.errors.FCSError` (file, field, what was expected) that
    ``read_fcs(strict=True)`` raises, instead of analysing the repaired data.

    The multi-data-set policy (FCS files may chain data sets via ``$NEXTDATA``):

    * ``policy="all"`` (default): every data set is its own sample. The first
      keeps the sheet's ``sample_id``; data set ``k`` (1-based, ``k >= 2``) is
      ``"<sample_id>#<k>"`` (Guava Muse writes one data set per acquisition).
    * except copies of the same events, which count once: in a ``.lmd`` file
      (Beckman Coulter) whose data sets all have the same ``$TOT`` and
      ``$PAR``, the data sets are the FCS 2.0 and FCS 3.0 renderings of one
      acquisition, and the **last** (the full-resolution FCS 3.0 copy) is
      used, under the plain ``sample_id``. In any file, a data set whose
      events are byte-for-byte equal to an earlier one's is dropped.
    * ``policy="first"`` / ``"last"``: only that data set, as ``sample_id``.

    An empty list of data sets is an :class:`AnalysisError` naming the file.
    """
    sid = inp.sample_id
    if not datasets:
        raise AnalysisError(f"{inp.path}: the file holds no data set")
    if strict:
        for d in datasets:
            found = getattr(d, "conformance", ())
            if found:
                raise FCSError(inp.path, found[0].refusal())
    if policy == "first" or len(datasets) == 1:
        return [(sid, datasets[0])]
    if policy == "last":
        return [(sid, datasets[-1])]
    if policy != "all":
        raise ConfigError(f"unknown data-set policy {policy!r}; use 'all', 'first' or 'last'")
    if Path(inp.path).suffix.lower() == ".lmd":
        shapes = {(d.n_events, d.n_channels) for d in datasets}
        if len(shapes) == 1:
            return [(sid, datasets[-1])]
    kept: list[FCSData] = []
    for d in datasets:
        if any(_same_events(d, k) for k in kept):
            continue
        kept.append(d)
    return [(sid if k == 0 else f"{sid}#{k + 1}", d) for k, d in enumerate(kept)]


def _same_events(a: FCSData, b: FCSData) -> bool:
    ea, eb = np.asarray(a.events), np.asarray(b.events)
    return bool(ea.shape == eb.shape and ea.dtype == eb.dtype and np.array_equal(ea, eb))


# --------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """One data set's events ready for gating, and how they were made.

    ``columns`` maps each requested ``$PnN`` name to its values as float64 on
    the linear *scale* (``$PnE`` log amplification and, for integer data,
    ``$PnG`` gain undone). The fluorescence channels listed in
    ``compensated`` have been compensated with ``spillover``; nothing else
    was touched (scatter and time never are).

    ``compensation`` says which matrix was applied: ``"file"`` (the data
    set's own ``$SPILLOVER``/``$SPILL``/``SPILL``; ``spillover_keyword`` names
    it), ``"given"`` (a matrix the caller passed, e.g. one estimated from
    single-stain controls) or ``"none"``.

    ``keep`` is the analysis parent: events that pass the cleanup gates
    (not debris, singlet) and have finite values in every fluorescence
    channel. ``cleanup`` is ``None`` when cleanup was off, and then ``keep``
    only drops non-finite events.
    """

    source: str
    dataset_index: int
    n_events: int
    columns: Mapping[str, NDArray[np.float64]]
    fluorescence: tuple[str, ...]
    compensation: Literal["file", "given", "none"]
    spillover: SpilloverMatrix | None
    spillover_keyword: str | None
    compensated: tuple[str, ...]
    cleanup: CleanupResult | None
    keep: Mask
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_kept(self) -> int:
        return int(np.count_nonzero(self.keep))

    def column(self, name: str) -> NDArray[np.float64]:
        """All events of one prepared channel."""
        try:
            return self.columns[name]
        except KeyError:
            raise AnalysisError(
                f"{self.source}: channel {name!r} was not prepared; have {sorted(self.columns)}"
            ) from None

    def kept(self, name: str) -> NDArray[np.float64]:
        """The analysis parent's values of one channel (a new array)."""
        return self.column(name)[self.keep]


def _channel_pos(fcs: FCSMetadata, name: str, what: str) -> int:
    hits = [i for i, n in enumerate(fcs.channels) if n == name]
    if not hits:
        hits = [i for i, s in enumerate(fcs.labels) if s and s == name]
    if len(hits) != 1:
        why = "is not in the file" if not hits else f"names {len(hits)} channels"
        raise AnalysisError(
            f"{fcs.path}: the {what} {name!r} {why}; channels ($PnN (label)) are: "
            f"{_describe_channels(fcs)}"
        )
    return hits[0]


#: Rows per block: a block of a 12-channel float32 file is 1.5 MB, so gathering,
#: converting and compensating a block and evaluating the cleanup gates on it
#: all happen in cache, and the file's events are read exactly once.
CHUNK_ROWS = 32_768


@dataclass(frozen=True)
class _Columns:
    """Which file columns to read and how: ``plain`` ones scaled only, and the
    compensated outputs ``scaled[:, detectors] @ unmix`` (one per ``outs`` name)."""

    plain: tuple[str, ...]
    plain_pos: tuple[int, ...]
    outs: tuple[str, ...]
    detectors: tuple[int, ...]
    unmix: NDArray[np.float64] | None
    keywords: Mapping[str, str]
    is_float: bool

    @property
    def names(self) -> tuple[str, ...]:
        return self.plain + self.outs

    def block(
        self, ev: NDArray[Any], path: str, out: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """The columns of the rows ``ev`` as a ``(len(names), rows)`` float64 array
        (written into ``out`` when given).

        Scale: float data (``$DATATYPE`` F/D) are already on scale; for integer
        data the ``$PnE``/``$PnG`` rules of
        :func:`assaykit.cytometry.events.channel_to_scale` are applied to the
        read columns (their keywords renumbered). Compensation uses einsum:
        BLAS would thread-spin on such thin products.
        """
        if out is None:
            out = np.empty((len(self.names), ev.shape[0]), dtype=np.float64)
        if self.is_float:
            n_plain = len(self.plain_pos)
            # one gather per block: a contiguous (rows, k) copy of just the needed columns
            sub = ev[:, [*self.plain_pos, *self.detectors]]
            out[:n_plain] = sub[:, :n_plain].T
            if self.unmix is not None:
                det = sub[:, n_plain:].T.astype(np.float64)
                np.matmul(self.unmix.T, det, out=out[n_plain:])
            return out
        read_pos = list(dict.fromkeys([*self.plain_pos, *self.detectors]))
        at = {q: k for k, q in enumerate(read_pos)}
        kw: dict[str, str] = {"$DATATYPE": str(self.keywords.get("$DATATYPE", ""))}
        for j, i in enumerate(read_pos):
            for suffix in ("E", "R", "G"):
                value = self.keywords.get(f"$P{i + 1}{suffix}")
                if value is not None:
                    kw[f"$P{j + 1}{suffix}"] = value
        try:
            sub = channel_to_scale(ev[:, read_pos], kw)
        except ConfigError as exc:
            raise AnalysisError(f"{path}: {exc}") from exc
        for j, q in enumerate(self.plain_pos):
            out[j] = sub[:, at[q]]
        if self.unmix is not None:
            det = sub[:, [at[q] for q in self.detectors]]
            out[len(self.plain) :] = np.einsum("ij,jk->ki", det, self.unmix)
        return out


@dataclass(frozen=True)
class _Gates:
    """Cleanup boundaries fitted on a subsample (see :func:`_fit_cleanup`)."""

    cutoff: float | None
    used: str
    density: Any
    center: float | None = None
    sigma: float | None = None
    low: float | None = None
    high: float | None = None

    def cells(self, a: NDArray[np.float64]) -> Mask:
        return np.isfinite(a) if self.cutoff is None else (a >= self.cutoff)

    def singlets(self, a: NDArray[np.float64], h: NDArray[np.float64], cells: Mask) -> Mask:
        """Same rule as ``auto_cleanup``: ``low <= FSC-H/FSC-A <= high`` among cells, FSC-A > 0."""
        if self.low is None or self.high is None:
            return cells.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            r = h / a
        return cells & (a > 0) & (r >= self.low) & (r <= self.high)


def _stride(n: int, limit: int | None) -> int:
    return 1 if not limit or n <= limit else math.ceil(n / limit)


def _fit_cleanup(a: NDArray[np.float64], h: NDArray[np.float64] | None, p: CleanupParams) -> _Gates:
    """Debris cutoff and singlet band, estimated exactly as ``auto_cleanup`` does."""
    cutoff, used, dens = debris_cutoff(a, p)
    gates = _Gates(cutoff, used, dens)
    if not p.singlets or h is None:
        return gates
    cells = gates.cells(a)
    center, sigma, lo, hi = singlet_band(a[cells], h[cells], p)
    return _Gates(cutoff, used, dens, center, sigma, lo, hi)


def prepare_events(
    fcs: FCSData,
    channels: Sequence[str],
    *,
    spillover_override: SpilloverMatrix | None = None,
    compensate: bool = True,
    cleanup: CleanupParams | None = None,
    extra: Sequence[str] = (),
    fit_events: int | None = DEFAULT_FIT_EVENTS,
) -> Prepared:
    """Scale, compensate and clean one data set, reading only the columns needed.

    ``channels`` are the fluorescence ``$PnN`` names the assay gates on (use
    :func:`resolve_channel` first). Compensation, when ``compensate`` is true:
    ``spillover_override`` if given, else the data set's own spillover
    keyword; it is applied to the listed fluorescence channels that the
    matrix covers, using every detector of the matrix (a dye's compensated
    value depends on all of them), and to nothing else. ``compensate=False``
    applies none.

    ``cleanup``: ``None`` (the default) applies no cleanup gate; a
    :class:`CleanupParams` names the scatter channels and the rules of
    :func:`~assaykit.cytometry.cleanup.auto_cleanup` (debris cutoff on FSC-A,
    singlet band on FSC-H/FSC-A). Their boundaries are fitted on at most
    ``fit_events`` events taken at an even stride (see
    :data:`DEFAULT_FIT_EVENTS`; ``None`` fits on every event, which gives
    exactly ``auto_cleanup``'s result) and then applied to every event.
    ``extra`` adds uncompensated channels to ``columns`` (e.g. ``SSC-A`` for
    a figure).

    How: the fit reads only the strided rows; then one pass over the file, a
    block of :data:`CHUNK_ROWS` events at a time, scales and compensates the
    needed columns and evaluates the gates while the block is in cache.

    Raises :class:`AnalysisError` naming the file when a channel is missing,
    the spillover does not fit the file, or too few events remain to fit a
    cleanup gate.
    """
    path = fcs.path
    fl = list(dict.fromkeys(channels))
    p = cleanup
    scatter: list[str] = []
    if p is not None:
        scatter.append(p.fsc_area)
        if p.singlets:
            scatter.append(p.fsc_height)
    wanted = list(dict.fromkeys([*fl, *scatter, *extra]))
    what = {c: "fluorescence channel" for c in fl}
    if p is not None:
        what.setdefault(p.fsc_area, "forward-scatter area channel (fsc_area)")
        what.setdefault(p.fsc_height, "forward-scatter height channel (fsc_height)")
    pos = {c: _channel_pos(fcs, c, what.get(c, "channel")) for c in wanted}

    sm: SpilloverMatrix | None = None
    kind: Literal["file", "given", "none"] = "none"
    keyword: str | None = None
    if compensate:
        if spillover_override is not None:
            sm, kind = spillover_override, "given"
        elif fcs.spillover is not None:
            try:
                sm = SpilloverMatrix.coerce(fcs.spillover)
            except CompensationError as exc:
                raise AnalysisError(f"{path}: unusable spillover keyword: {exc}") from exc
            kind, keyword = "file", getattr(fcs.spillover, "keyword", None)
    det_pos: list[int] = []
    covered: dict[str, int] = {}
    if sm is not None:
        if len(sm.detectors) != len(sm.fluorochromes):
            raise AnalysisError(
                f"{path}: spillover matrix is {len(sm.fluorochromes)}x{len(sm.detectors)}; "
                "only square (FCS-style) matrices are applied here"
            )
        try:
            det_pos = match_channels(sm.detectors, fcs.channels, fcs.labels)
        except CompensationError as exc:
            raise AnalysisError(
                f"{path}: the spillover matrix does not fit the file: {exc}"
            ) from exc
        covered = {c: det_pos.index(pos[c]) for c in fl if pos[c] in det_pos}
        if not covered:
            sm, kind, keyword = None, "none", None

    outs = sorted(covered.items(), key=lambda kv: kv[1])  # (channel, matrix column)
    plain = tuple(c for c in wanted if c not in covered)
    spec = _Columns(
        plain=plain,
        plain_pos=tuple(pos[c] for c in plain),
        outs=tuple(c for c, _ in outs),
        detectors=tuple(det_pos) if sm is not None else (),
        unmix=sm.compensation_matrix[:, [k for _, k in outs]] if sm is not None else None,
        keywords={**fcs.keywords, "$DATATYPE": fcs.datatype},
        is_float=fcs.datatype in ("F", "D"),
    )
    row = {c: j for j, c in enumerate(spec.names)}
    ev = np.asarray(fcs.events)
    n = int(ev.shape[0])

    gates: _Gates | None = None
    if p is not None:
        fit = spec.block(ev[:: _stride(n, fit_events)], path)
        try:
            gates = _fit_cleanup(
                fit[row[p.fsc_area]], fit[row[p.fsc_height]] if p.singlets else None, p
            )
        except AnalysisError as exc:
            raise AnalysisError(f"{path}: cleanup gates: {exc}") from exc

    data = np.empty((len(spec.names), n), dtype=np.float64)
    keep = np.empty(n, dtype=bool)
    cells = np.empty(n, dtype=bool) if gates is not None else None
    singlets = np.empty(n, dtype=bool) if gates is not None else None
    step = CHUNK_ROWS if spec.is_float else max(n, 1)  # integer data: scaled in one go
    for s in range(0, n, step):
        e = min(s + step, n)
        blk = spec.block(ev[s:e], path, out=data[:, s:e])
        ok = np.isfinite(blk[row[fl[0]]]) if fl else np.ones(e - s, dtype=bool)
        for c in fl[1:]:
            ok &= np.isfinite(blk[row[c]])
        if gates is not None and p is not None and cells is not None and singlets is not None:
            a = blk[row[p.fsc_area]]
            cells[s:e] = gates.cells(a)
            if p.singlets:
                singlets[s:e] = gates.singlets(a, blk[row[p.fsc_height]], cells[s:e])
            else:
                singlets[s:e] = cells[s:e]
            ok &= singlets[s:e]
        keep[s:e] = ok

    result: CleanupResult | None = None
    if gates is not None and p is not None and cells is not None and singlets is not None:
        result = CleanupResult(
            cells, singlets, gates.cutoff, gates.used, gates.center, gates.sigma, gates.low,
            gates.high, p, gates.density,
        )  # fmt: skip
    return Prepared(
        source=path,
        dataset_index=fcs.dataset_index,
        n_events=fcs.n_events,
        columns={c: data[row[c]] for c in wanted},
        fluorescence=tuple(fl),
        compensation=kind,
        spillover=sm,
        spillover_keyword=keyword,
        compensated=tuple(c for c in fl if c in covered),
        cleanup=result,
        keep=keep,
        warnings=tuple(fcs.warnings),
    )


# --------------------------------------------------------------------------------------
# thresholds
# --------------------------------------------------------------------------------------
def control_threshold(
    controls: Mapping[str, NDArray[np.float64]],
    percentile: float,
    *,
    channel: str,
    min_events: int = 200,
) -> Threshold:
    """The ``percentile``-th percentile of negative controls' values, pooled.

    ``controls`` maps a control's name (sample id) to its values — normally
    :meth:`Prepared.kept` of the channel, i.e. compensated, singlets only.
    The returned :class:`Threshold` names every control that set it
    (``control="unstained_1,unstained_2"``). Too few events raise an
    AnalysisError naming the controls.
    """
    if not controls:
        raise ConfigError("control_threshold needs at least one control")
    names = ",".join(controls)
    values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in controls.values()])
    try:
        return percentile_threshold(
            values, percentile, control=names, channel=channel, min_events=min_events
        )
    except AnalysisError as exc:
        raise AnalysisError(f"threshold on {channel} from control(s) {names}: {exc}") from exc


def auto_threshold(
    values: NDArray[np.float64],
    *,
    channel: str,
    source: str,
    fit_events: int | None = DEFAULT_FIT_EVENTS,
    **valley_kwargs: Any,
) -> Threshold:
    """A density-valley threshold (:func:`~assaykit.cytometry.thresholds.valley_threshold`).

    Fitted on at most ``fit_events`` values taken at an even stride, because
    the biexponential transform of every event costs far more than the
    valley position gains. ``source`` says what the values were (e.g.
    ``"samples:s1,s2"``) and becomes :attr:`Threshold.control`. A unimodal
    distribution raises AnalysisError naming ``source``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[:: _stride(v.size, fit_events)]
    try:
        th = valley_threshold(v, channel=channel, control=source, **valley_kwargs)
    except AnalysisError as exc:
        raise AnalysisError(f"automatic threshold on {channel} from {source}: {exc}") from exc
    return th
