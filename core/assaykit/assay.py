"""What an assay plugin declares and returns.

An assay declares everything a lab needs to know *before* it runs (its roles,
parameters and metrics, like a CellProfiler module declares its settings and
measurements up front), so that ``assaykit plugins`` can list it, the sample
sheet can be validated against it, and the conformance kit can check that it
only emits what it promised.
"""

from __future__ import annotations

import io
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from assaykit.experiment import Experiment

DType = Literal["float", "int", "str", "bool"]
Severity = Literal["warn", "fail"]
QCStatus = Literal["pass", "warn", "fail"]

_DTYPES: tuple[str, ...] = ("float", "int", "str", "bool")
_SEVERITY_RANK = {"pass": 0, "warn": 1, "fail": 2}


class Params(BaseModel):
    """Base class of every assay's parameter model.

    Unknown fields are refused (``extra="forbid"``) so that a misspelled
    parameter in ``assaykit.toml`` is an error that names it, not a silently
    ignored setting. Models are frozen so that the effective parameters of a
    run cannot drift after they were hashed.

    ``revision`` is bumped by a plugin when the meaning of its parameters
    changes, as CellProfiler does for module settings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: ClassVar[int] = 1

    #: Old parameter names that still work for one release: ``{"old": "new"}``.
    #: Why: a lab's ``assaykit.toml`` must keep running when a name is
    #: harmonised; the old name is mapped to the new one with a
    #: :class:`ParamsDeprecationWarning` that names the new one (CellProfiler's
    #: ``upgrade_settings``). A subclass's map extends its bases' maps.
    renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return cls.upgrade_settings(dict(data))
        return data

    @classmethod
    def all_renamed(cls) -> dict[str, str]:
        """Every old name this model (and its bases) still accepts, mapped to its new name."""
        out: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            out.update(vars(klass).get("renamed", {}))
        return out

    @classmethod
    def upgrade_settings(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Map old parameter names (and old value spellings) to today's, warning for each.

        Override to convert a value whose *meaning* changed as well as its name
        (call ``super().upgrade_settings(data)`` first); use
        :func:`deprecated_parameter` for the warning so its wording is uniform.
        """
        for old, new in cls.all_renamed().items():
            if old not in data:
                continue
            if new in data:
                raise ValueError(
                    f"parameter {old!r} is the old name of {new!r}; give only {new!r}"
                )
            deprecated_parameter(cls, old, new)
            data[new] = data.pop(old)
        return data


class ParamsDeprecationWarning(FutureWarning):
    """An old parameter name (or value) was used; the message names the new one.

    A FutureWarning, not a DeprecationWarning, because its reader is the lab
    that wrote ``assaykit.toml``, not a developer: Python shows it by default.
    """


def deprecated_parameter(model: type[BaseModel], old: str, new: str, detail: str = "") -> None:
    """Warn that ``old`` is deprecated in ``model`` and name what replaces it."""
    extra = f" ({detail})" if detail else ""
    warnings.warn(
        f"{model.__name__}: parameter {old!r} is deprecated, use {new!r}{extra}; "
        "the old name will stop working in the next release",
        ParamsDeprecationWarning,
        stacklevel=4,
    )


@dataclass(frozen=True)
class Metric:
    """One kind of value an assay may emit: ``(entity_type, metric, unit, dtype)``.

    ``unit`` is ``None`` for unitless values (calls, ratios). ``dtype`` says
    where the value lands in the record: ``float``/``int``/``bool`` in
    ``value_num`` (a bool as 0/1, with ``value_str`` ``"yes"``/``"no"``),
    ``str`` in ``value_str``. ``description`` says what the statistic is:
    median or mean, of which population, on which scale.
    """

    entity_type: str
    metric: str
    unit: str | None
    dtype: DType = "float"
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"Metric {self.metric!r}: dtype must be one of {_DTYPES}")
        if not self.entity_type or not self.metric:
            raise ValueError("Metric needs a non-empty entity_type and metric")


@dataclass(frozen=True)
class Flag:
    """A QC flag an assay may raise, declared beside its metrics: name, severity, meaning.

    Why declared: a pipeline filtering ``results.csv`` on ``qc_flags`` must be
    able to look up what each flag means, and the conformance kit fails an
    assay that raises a flag it did not declare. ``severity`` is the worst
    severity the flag is raised with (a flag declared ``"warn"`` must never be
    raised as ``"fail"``).
    """

    name: str
    severity: Severity
    meaning: str

    def __post_init__(self) -> None:
        if not self.name or not self.meaning:
            raise ValueError("Flag needs a non-empty name and meaning")
        if self.severity not in ("warn", "fail"):
            raise ValueError(f"Flag {self.name!r}: severity must be 'warn' or 'fail'")


@dataclass(frozen=True)
class SummaryColumn:
    """One column of an assay's summary table in the report: a declared metric, in words.

    ``entity_type`` ``None`` means the table's own row type. A column of
    another entity type is context (the thresholds' source, a gel's control
    check): each row shows the record of that type with the row's sample id,
    or else the experiment's only one. ``low``/``high`` name the metrics of
    a confidence interval shown beside the value, as "value [low, high]".
    """

    metric: str
    label: str = ""
    entity_type: str | None = None
    low: str | None = None
    high: str | None = None

    @property
    def heading(self) -> str:
        return self.label or self.metric


@dataclass(frozen=True)
class Summary:
    """A summary table of an assay in the report: one row per record entity of
    ``entity_type`` (per sample, cell line, band...), one column per
    :class:`SummaryColumn`, with the sheet's ``conditions`` columns first.

    Why declared: the report shows what a lab reports (four quadrant %, one
    call per sample) first, and the long table only on demand; an assay that
    declares none gets one table per entity type with all its metrics.
    """

    entity_type: str
    columns: tuple[SummaryColumn, ...]
    title: str = ""
    conditions: tuple[str, ...] = ()


PROFILE_COMBINE = ("mean", "median", "calls")


@dataclass(frozen=True)
class ProfileMetric:
    """A metric an assay contributes to the per-cell-line resistance profile.

    Why declared: the profile puts the assays side by side per cell line
    (matched by the sheet's ``cell_line`` column), and a third-party assay
    joins it by declaring its own. ``metric`` is a declared metric of
    ``entity_type``, or a tuple of them whose values are summed per record
    entity (parts of one share, e.g. early + late apoptotic %).

    - ``by``: condition columns that split the value (``dose_uM``,
      ``treatment``): one profile column per distinct value; records without
      a value there are left out (controls with no dose).
    - ``target_sep``: the record entity ends in a target after this separator
      (``"sample|RARB"``): one profile column per target.
    - ``roles``: only records of samples with these sheet roles (``None``: all);
      a record without a role (a per-cell-line value) always counts.
    - ``combine``: how the records of one cell line (replicates) become one
      value: ``mean`` or ``median`` of numbers, or ``calls`` for text (one
      call, or each distinct call with its count).
    - ``label``: the column heading in words.
    - ``position``: where the column sits in the profile (low first; the
      built-in assays use 10-70, a lab's assay defaults to after them).
    """

    metric: str | tuple[str, ...]
    label: str
    entity_type: str = "sample"
    by: tuple[str, ...] = ()
    target_sep: str | None = None
    roles: tuple[str, ...] | None = ("sample",)
    combine: str = "mean"
    position: int = 100

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if isinstance(self.metric, str) else tuple(self.metric)

    @property
    def key(self) -> str:
        """The profile metric name: ``metric`` or ``a+b`` for a sum."""
        return "+".join(self.metrics)


@dataclass(frozen=True)
class QCFlag:
    """A quality-control finding.

    ``sample_id`` and ``entity`` scope the flag: ``None`` means it applies to
    every record of the experiment (or of the sample). A record's
    ``qc_status`` is the worst severity of the flags that apply to it.
    """

    flag: str
    severity: Severity = "warn"
    sample_id: str | None = None
    entity: str | None = None
    message: str = ""

    def applies_to(self, sample_id: str, entity: str) -> bool:
        return (self.sample_id is None or self.sample_id == sample_id) and (
            self.entity is None or self.entity == entity
        )


Value = float | int | str | bool | None


@dataclass(frozen=True)
class Measurement:
    """One value an assay measured, before the host turns it into a full Record.

    ``source`` is the input's path relative to the batch folder when the value
    comes from one file; when omitted, the host uses the file of the sample
    when the sample has exactly one.

    ``from_samples`` names the sample ids (sheet rows, e.g. the wells of one
    cell line) that a value with no row of its own was computed from, such as
    a per-cell-line IC50: its record then names their file when they share
    one, and carries the condition columns they all share. Without it, such a
    value in an experiment whose inputs are all wells is traced to every well.
    """

    sample_id: str
    entity_type: str
    entity: str
    metric: str
    value: Value
    unit: str | None = None
    flags: tuple[QCFlag, ...] = ()
    source: str | None = None
    from_samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class FigureData:
    """A rendered QC figure (PNG bytes), so that it can cross process boundaries."""

    name: str
    png: bytes
    sample_id: str | None = None
    caption: str = ""


@dataclass(frozen=True)
class SampleFailure:
    """A sample (one file, or one data set of it) that could not be analysed, and why.

    The host turns it into a ``metric="error"`` record on that file, and the
    experiment counts as failed (exit code 1), while the other samples keep
    their values. See :meth:`AssayResult.fail_sample`.
    """

    sample_id: str
    source: str
    error_type: str
    message: str


@dataclass
class AssayResult:
    """What ``Assay.analyze`` returns: measurements, QC flags, figures, and the samples
    that could not be analysed (``failures``)."""

    measurements: list[Measurement] = field(default_factory=list)
    qc_flags: list[QCFlag] = field(default_factory=list)
    figures: list[FigureData] = field(default_factory=list)
    failures: list[SampleFailure] = field(default_factory=list)

    def fail_sample(
        self, sample_id: str, error: BaseException | str, *, source: str
    ) -> SampleFailure:
        """Say that one sample could not be analysed, while the rest of the experiment was.

        Why one rule: a failure spelled as empty values, or as a plugin's own
        ``failure`` metric, reads as success (exit code 0) and is easily
        missed. The host writes a ``metric="error"`` record naming ``source``
        (the input's ``relpath``) and the reason, and the run's exit code is 1.
        Emit no measurement of this sample that the failure made meaningless.
        """
        if isinstance(error, BaseException):
            etype, msg = type(error).__name__, str(error) or type(error).__name__
        else:
            etype, msg = "AnalysisError", error
        f = SampleFailure(sample_id, source, etype, msg)
        self.failures.append(f)
        return f

    def add(
        self,
        sample_id: str,
        entity_type: str,
        entity: str,
        metric: str,
        value: Value,
        *,
        unit: str | None = None,
        flags: Iterable[QCFlag | str] = (),
        source: str | None = None,
        from_samples: Iterable[str] = (),
    ) -> Measurement:
        """Add one measured value; plain-string flags are warnings on this record.

        ``from_samples``: for an aggregate (a per-cell-line value from many wells),
        the sample ids it was computed from (see :class:`Measurement`).
        """
        fl = tuple(f if isinstance(f, QCFlag) else QCFlag(f) for f in flags)
        pooled = tuple(dict.fromkeys(from_samples))
        m = Measurement(sample_id, entity_type, entity, metric, value, unit, fl, source, pooled)
        self.measurements.append(m)
        return m

    def flag(
        self,
        flag: str,
        *,
        severity: Severity = "warn",
        sample_id: str | None = None,
        entity: str | None = None,
        message: str = "",
    ) -> QCFlag:
        """Raise a QC flag for the experiment, or for one sample or entity of it."""
        q = QCFlag(flag, severity, sample_id, entity, message)
        self.qc_flags.append(q)
        return q

    def add_figure(
        self, name: str, figure: Any, *, sample_id: str | None = None, caption: str = ""
    ) -> FigureData:
        """Add a QC figure: a matplotlib ``Figure`` or :class:`assaykit.raster.RasterFigure`
        (rendered to PNG here), or PNG bytes."""
        png = figure if isinstance(figure, bytes | bytearray) else render_png(figure)
        fd = FigureData(name=name, png=bytes(png), sample_id=sample_id, caption=caption)
        self.figures.append(fd)
        return fd

    def check_not_negative(self, metrics: Iterable[str]) -> None:
        """Raise AnalysisError when a value of ``metrics`` is negative or not finite.

        Why: a negative volume, ratio or index is not a measurement but a
        baseline error, and one that reached a record once (issue 10) read as a
        real, if odd, result. Call it last in ``analyze``: the experiment then
        becomes an error record instead, and nothing wrong is stored.
        """
        names = frozenset(metrics)
        bad = [
            m
            for m in self.measurements
            if m.metric in names
            and m.value is not None
            and not (is_finite_number(m.value) and float(m.value) >= 0)
        ]
        if bad:
            from assaykit.errors import AnalysisError

            shown = "; ".join(
                f"{m.source or '?'} {m.sample_id} {m.entity} {m.metric} = {m.value!r}"
                for m in bad[:5]
            )
            raise AnalysisError(
                f"internal check failed: {len(bad)} value(s) that must be >= 0 came out "
                f"negative or not finite ({shown}); none were emitted. Please report this "
                "with the image."
            )


def render_png(figure: Any, dpi: int = 100) -> bytes:
    """Render a matplotlib Figure to PNG bytes and release it.

    Rendering uses the figure's own Agg canvas, never pyplot's global state,
    so it is safe in worker processes and embedding pipelines. A
    :class:`assaykit.raster.RasterFigure` renders itself (no matplotlib).
    """
    from assaykit.raster import RasterFigure

    if isinstance(figure, RasterFigure):  # before importing matplotlib's canvas (~0.3 s)
        return figure.to_png()

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if figure.canvas is None or not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    buf = io.BytesIO()
    # compress_level 1: zlib level 6 (the default) costs ~3x the encoding time for
    # ~10 % smaller files of these flat-colour plots; no metadata: nothing to write
    figure.savefig(buf, format="png", dpi=dpi, metadata={"Software": None},
                   pil_kwargs={"compress_level": 1})
    try:  # release any pyplot reference if the plugin used pyplot anyway
        import matplotlib.pyplot as plt

        plt.close(figure)
    except Exception:  # pragma: no cover - pyplot unavailable is not an error
        pass
    return buf.getvalue()


def new_figure(width: float = 6.0, height: float = 4.5) -> Any:
    """A matplotlib Figure bound to an Agg canvas, without touching pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


class Assay(ABC):
    """Base class of an assay plugin. Subclass it, fill in the declarations, implement analyze.

    Declarations are class attributes so that listing plugins never runs any
    analysis code.
    """

    #: Unique assay name used in sample sheets and ``--assay`` (e.g. ``"annexin_pi"``).
    name: ClassVar[str]
    #: The assay's own version. It is stored on every record and decides re-runs.
    version: ClassVar[str]
    #: One line that says what the assay measures.
    summary: ClassVar[str]
    #: Input kinds it takes (``"fcs"``, ``"image"``, ``"table"``).
    input_kinds: ClassVar[tuple[str, ...]]
    #: Sample-sheet roles it understands; the first is the default role.
    roles: ClassVar[tuple[str, ...]] = ("sample",)
    #: Roles that are controls. An experiment with none of them gets ``no_controls``.
    control_roles: ClassVar[tuple[str, ...]] = ()
    #: Sample-sheet condition columns that must be present and non-empty on every row.
    required_columns: ClassVar[tuple[str, ...]] = ()
    #: The parameter model; its JSON Schema is the documented configuration.
    Params: ClassVar[type[Params]] = Params
    #: Every metric the assay may emit.
    metrics: ClassVar[tuple[Metric, ...]] = ()
    #: Every QC flag the assay may raise (the host's own flags, such as
    #: ``no_controls``, are declared by the host in :mod:`assaykit.vocabulary`).
    flags: ClassVar[tuple[Flag, ...]] = ()
    #: The summary tables the report shows first (see :class:`Summary`); without
    #: any, the report pivots every metric per entity type.
    summaries: ClassVar[tuple[Summary, ...]] = ()
    #: Figure titles in words a biologist uses, by the start of the figure's name:
    #: ``(("quadrants", "Annexin V vs PI quadrants"),)``; the report shows the
    #: title first and the figure's caption (the exact method) one click away.
    figure_titles: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Metrics that join the per-cell-line resistance profile (report and
    #: profile.csv); see :class:`ProfileMetric`.
    profile: ClassVar[tuple[ProfileMetric, ...]] = ()

    @abstractmethod
    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        """Analyze one experiment and return its measurements, QC flags and figures.

        Pure: same inputs and params give the same result; no files written.
        ``params`` is an instance of ``self.Params``.
        """

    # -- helpers the host and plugins use -------------------------------------------------
    @property
    def default_role(self) -> str:
        return self.roles[0]

    def metric_for(self, entity_type: str, metric: str) -> Metric | None:
        for m in self.metrics:
            if m.entity_type == entity_type and m.metric == metric:
                return m
        return None

    def flag_for(self, name: str) -> Flag | None:
        """The declaration of flag ``name`` (the assay's own or the host's), or ``None``."""
        from assaykit.vocabulary import HOST_FLAGS

        for f in (*self.flags, *HOST_FLAGS):
            if f.name == name:
                return f
        return None

    def describe(self) -> dict[str, Any]:
        """A JSON-able description, as ``assaykit plugins --json`` shows it."""
        return {
            "name": self.name,
            "version": self.version,
            "summary": self.summary,
            "input_kinds": list(self.input_kinds),
            "roles": list(self.roles),
            "control_roles": list(self.control_roles),
            "required_columns": list(self.required_columns),
            "params_revision": self.Params.revision,
            "metrics": [
                {
                    "entity_type": m.entity_type,
                    "metric": m.metric,
                    "unit": m.unit,
                    "dtype": m.dtype,
                    "description": m.description,
                }
                for m in self.metrics
            ],
            "flags": [
                {"flag": f.name, "severity": f.severity, "meaning": f.meaning} for f in self.flags
            ],
        }


#: spellings of "no unit" refused in declarations, so every dimensionless value reads the
#: same in records and exports (unit empty) and a pipeline needs no list of synonyms
_NOT_UNITS = frozenset({"", "1", "-", "none", "unitless", "dimensionless", "n/a", "na", "x"})


def declaration_problems(assay: Assay) -> list[str]:
    """What is wrong with an assay's declarations (empty when it honours the contract)."""
    problems: list[str] = []
    for attr in ("name", "version", "summary"):
        val = getattr(assay, attr, None)
        if not isinstance(val, str) or not val.strip():
            problems.append(f"{attr} must be a non-empty string")
    kinds = getattr(assay, "input_kinds", None)
    if not isinstance(kinds, tuple) or not kinds or not all(isinstance(k, str) for k in kinds):
        problems.append("input_kinds must be a non-empty tuple of strings")
    roles = getattr(assay, "roles", ())
    if not isinstance(roles, tuple) or not roles:
        problems.append("roles must be a non-empty tuple of strings")
    elif len(set(roles)) != len(roles):
        problems.append("roles must be unique")
    for r in getattr(assay, "control_roles", ()):
        if r not in roles:
            problems.append(f"control role {r!r} is not among roles {roles}")
    params_cls = getattr(assay, "Params", None)
    if not (isinstance(params_cls, type) and issubclass(params_cls, Params)):
        problems.append("Params must be a subclass of assaykit.Params")
    else:
        try:
            params_cls()
        except Exception as exc:  # every field needs a default so a bare run works
            problems.append(f"Params() must construct with defaults: {exc}")
    metrics = getattr(assay, "metrics", ())
    if not metrics:
        problems.append("metrics must declare at least one Metric")
    seen: set[tuple[str, str]] = set()
    for m in metrics:
        if not isinstance(m, Metric):
            problems.append(f"metrics must hold Metric objects, got {m!r}")
            continue
        key = (m.entity_type, m.metric)
        if key in seen:
            problems.append(f"metric {key} declared twice")
        seen.add(key)
        if m.metric == "error":
            problems.append("metric name 'error' is reserved for the host")
        if isinstance(m.unit, str) and m.unit.strip().lower() in _NOT_UNITS:
            problems.append(
                f"metric {m.metric!r}: unit {m.unit!r} is not a unit; declare unit=None for a "
                "dimensionless value (a ratio, R², a fold change) and say 'dimensionless' in "
                "its description"
            )
    problems += _flag_problems(getattr(assay, "flags", ()))
    problems += _summary_problems(getattr(assay, "summaries", ()), seen)
    titles = getattr(assay, "figure_titles", ())
    if not isinstance(titles, tuple) or not all(
        isinstance(t, tuple) and len(t) == 2 and all(isinstance(x, str) and x for x in t)
        for t in titles
    ):
        problems.append("figure_titles must be a tuple of (name start, title) string pairs")
    problems += _profile_problems(getattr(assay, "profile", ()), seen)
    problems += _shared_metric_problems(metrics)
    return problems


def _profile_problems(profile: object, declared: set[tuple[str, str]]) -> list[str]:
    """A profile metric must name declared metrics, so a profile column cannot go silently
    empty, and say how replicates combine."""
    if not isinstance(profile, tuple):
        return ["profile must be a tuple of ProfileMetric objects"]
    problems: list[str] = []
    for p in profile:
        if not isinstance(p, ProfileMetric):
            problems.append(f"profile must hold ProfileMetric objects, got {p!r}")
            continue
        if not p.label or not p.metrics:
            problems.append(f"profile metric {p.key!r}: needs a label and a metric")
        for name in p.metrics:
            if (p.entity_type, name) not in declared:
                problems.append(
                    f"profile metric {(p.entity_type, name)} is not among the declared metrics"
                )
        if p.combine not in PROFILE_COMBINE:
            problems.append(
                f"profile metric {p.key!r}: combine must be one of {', '.join(PROFILE_COMBINE)}"
            )
        if p.combine == "calls" and len(p.metrics) > 1:
            problems.append(f"profile metric {p.key!r}: calls cannot be summed")
        if not all(isinstance(b, str) and b for b in p.by):
            problems.append(f"profile metric {p.key!r}: by must hold condition column names")
    return problems


def _summary_problems(summaries: object, declared: set[tuple[str, str]]) -> list[str]:
    """Each summary column must name a declared metric, so a summary cannot go silently empty."""
    if not isinstance(summaries, tuple):
        return ["summaries must be a tuple of Summary objects"]
    problems: list[str] = []
    for s in summaries:
        if not isinstance(s, Summary):
            problems.append(f"summaries must hold Summary objects, got {s!r}")
            continue
        for c in s.columns:
            et = c.entity_type or s.entity_type
            for name in (c.metric, c.low, c.high):
                if name is not None and (et, name) not in declared:
                    problems.append(
                        f"summary {s.title or s.entity_type!r}: column metric {(et, name)} "
                        "is not among the declared metrics"
                    )
    return problems


def _flag_problems(flags: object) -> list[str]:
    from assaykit.vocabulary import HOST_FLAGS

    if not isinstance(flags, tuple):
        return ["flags must be a tuple of Flag objects"]
    problems: list[str] = []
    names: set[str] = set()
    host = {f.name for f in HOST_FLAGS}
    for f in flags:
        if not isinstance(f, Flag):
            problems.append(f"flags must hold Flag objects, got {f!r}")
            continue
        if f.name in names:
            problems.append(f"flag {f.name!r} declared twice")
        if f.name in host:
            problems.append(f"flag {f.name!r} is the host's; do not declare it again")
        names.add(f.name)
    return problems


def _shared_metric_problems(metrics: Iterable[object]) -> list[str]:
    """A metric with a shared name must mean what the shared vocabulary says."""
    from assaykit.vocabulary import SHARED_METRICS

    problems: list[str] = []
    for m in metrics:
        if not isinstance(m, Metric):
            continue
        shared = SHARED_METRICS.get(m.metric)
        if shared is None:
            continue
        if (m.unit, m.dtype) != (shared.unit, shared.dtype):
            problems.append(
                f"metric {m.metric!r} is shared vocabulary ({shared.unit!r}, {shared.dtype}); "
                f"declared ({m.unit!r}, {m.dtype})"
            )
        if not m.description.startswith(shared.meaning):
            problems.append(
                f"metric {m.metric!r} is shared vocabulary; use "
                f"assaykit.vocabulary.shared_metric({m.metric!r}, ...) so it means one thing"
            )
    return problems


def worst_status(flags: Sequence[QCFlag]) -> QCStatus:
    status: QCStatus = "pass"
    for f in flags:
        if _SEVERITY_RANK[f.severity] > _SEVERITY_RANK[status]:
            status = f.severity
    return status


def is_finite_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
