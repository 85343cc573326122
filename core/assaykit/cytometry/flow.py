"""The flow-assay layer: what every flow plugin does the same way around its own science.

Why a layer: the Annexin V/PI, TUNEL and Rh123 plugins each read every tube,
split multi-data-set files into samples, flag the reader's repairs, prepare
the events, and turn a sample that cannot be analysed into an error record
while a broken control fails the experiment. Written once here, the three
behave the same on the same folder, and a plugin keeps only its channels,
thresholds and readouts.

* :func:`read_samples` — the read-prepare-fail loop;
* :func:`fail_or_raise` — the failure rule, for steps a plugin runs later;
* :func:`flag_low_events` — the ``low_event_count`` rule;
* :func:`threshold_method_code` / :func:`threshold_source_code` — the one code
  vocabulary of the ``*threshold_method`` / ``*threshold_source`` metrics;
* :func:`add_cleanup_figure` — the one cleanup figure.

This is the only :mod:`assaykit.cytometry` module that uses the plugin
contract's :class:`~assaykit.assay.AssayResult`; the science modules
(prepare, cleanup, thresholds, gates ...) do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from assaykit.assay import AssayResult
from assaykit.cytometry.params import FLOW_FLAGS, FlowParams
from assaykit.cytometry.prepare import Prepared, fcs_samples
from assaykit.cytometry.thresholds import Threshold
from assaykit.errors import AnalysisError, InputError

if TYPE_CHECKING:
    from assaykit.cytometry.fcs import FCSData, FCSMetadata
    from assaykit.experiment import Experiment, Input

__all__ = [
    "FLOW_FLAGS",
    "Failure",
    "FlowRead",
    "FlowSample",
    "add_cleanup_figure",
    "fail_or_raise",
    "figure_channels",
    "flag_low_events",
    "flag_repairs",
    "read_samples",
    "threshold_method_code",
    "threshold_source_code",
]

T = TypeVar("T")


@dataclass(eq=False)
class FlowSample:
    """One sample: one data set of one input (``index`` counts the file's kept data sets)."""

    inp: Input
    sample_id: str
    fcs: FCSData
    index: int = 0

    @property
    def role(self) -> str:
        return self.inp.role

    @property
    def source(self) -> str:
        return self.inp.relpath


@dataclass(frozen=True)
class Failure:
    """A sample that could not be analysed (already an error record on its file)."""

    inp: Input
    sample_id: str
    index: int
    message: str


@dataclass
class FlowRead(Generic[T]):
    """What :func:`read_samples` gives: the prepared samples, in sheet order, and the failures."""

    ok: list[tuple[FlowSample, T]] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    #: every sample, prepared or failed, in sheet and data-set order: (input, sample id, index)
    order: list[tuple[Input, str, int]] = field(default_factory=list)

    def prepared(self) -> list[T]:
        return [p for _, p in self.ok]


def flag_repairs(result: AssayResult, sample_id: str, fcs: FCSMetadata) -> None:
    """Raise ``fcs_repaired`` (a warning) on a sample whose file the reader had to repair.

    The FCS reader tolerates the known faults of real instruments (off-by-one
    offsets, HEADER/TEXT disagreements, non-UTF-8 TEXT, masked bits) and says
    so in ``fcs.warnings``. A repair must never be silent: this puts it on the
    sample's records, with the reader's own words as the flag's message.
    """
    if fcs.warnings:
        result.flag("fcs_repaired", sample_id=sample_id, message="; ".join(fcs.warnings))


def fail_or_raise(
    result: AssayResult,
    inp: Input,
    sample_id: str,
    error: Exception,
    fatal_roles: Iterable[str],
) -> None:
    """The flow assays' one failure rule for a sample that cannot be analysed.

    A sample of a role in ``fatal_roles`` (a control that sets every sample's
    threshold) fails the experiment: ``error`` is re-raised. Any other sample
    becomes an error record on its file (:meth:`AssayResult.fail_sample`) and
    the others are still measured.
    """
    if inp.role in set(fatal_roles):
        raise error
    result.fail_sample(sample_id, error, source=inp.relpath)


def read_samples(
    experiment: Experiment,
    params: FlowParams,
    result: AssayResult,
    prepare: Callable[[FlowSample], T],
    *,
    roles: Sequence[str] | None = None,
    fatal_roles: Iterable[str] = (),
) -> FlowRead[T]:
    """Read every input of ``roles`` (default: every present input), and prepare each sample.

    Per input: read it; one sample per data set
    (:func:`~assaykit.cytometry.prepare.fcs_samples` with the ``datasets`` and
    ``strict`` parameters); refuse a sample id used twice; flag the reader's
    repairs (``fcs_repaired``); then ``prepare(sample)``. An unreadable file
    (:class:`InputError`) or a sample ``prepare`` cannot handle
    (:class:`AnalysisError`) follows :func:`fail_or_raise`.
    """
    fatal = tuple(fatal_roles)
    out: FlowRead[T] = FlowRead()
    seen: dict[str, str] = {}
    inputs = experiment.by_role(*roles) if roles is not None else experiment.present
    for inp in inputs:
        try:
            datasets = experiment.read(inp)
            if not isinstance(datasets, list):  # a reader returning one data set
                datasets = [datasets]
            samples = fcs_samples(inp, datasets, params.datasets, strict=params.strict)
        except InputError as exc:  # a corrupt sample file leaves the others analysable
            fail_or_raise(result, inp, inp.sample_id, exc, fatal)
            out.failed.append(Failure(inp, inp.sample_id, 0, str(exc)))
            out.order.append((inp, inp.sample_id, 0))
            continue
        for k, (sid, fcs) in enumerate(samples):
            if sid in seen:
                raise AnalysisError(
                    f"{inp.path}: sample_id {sid!r} is also used by {seen[sid]}; "
                    "give every file its own sample_id"
                )
            seen[sid] = inp.relpath
            flag_repairs(result, sid, fcs)
            sample = FlowSample(inp, sid, fcs, k)
            out.order.append((inp, sid, k))
            try:
                out.ok.append((sample, prepare(sample)))
            except AnalysisError as exc:
                fail_or_raise(result, inp, sid, exc, fatal)
                out.failed.append(Failure(inp, sid, k, str(exc)))
    return out


def figure_channels(params: FlowParams, fcs: FCSMetadata, figures: bool) -> list[str]:
    """The extra channels :func:`add_cleanup_figure` draws (side scatter), when figures are on."""
    return [params.ssc_area] if figures and params.ssc_area in fcs.channels else []


def flag_low_events(
    result: AssayResult,
    sample_id: str,
    n: int,
    params: FlowParams,
    population: str = "singlet cells",
) -> bool:
    """Flag ``low_event_count`` on a sample whose parent population has fewer than
    ``min_events`` events: a warning, a failure when none remain. True when flagged."""
    if n >= params.min_events:
        return False
    result.flag(
        "low_event_count",
        severity="fail" if n == 0 else "warn",
        sample_id=sample_id,
        message=f"{n} {population}, fewer than min_events={params.min_events}",
    )
    return True


def threshold_method_code(th: Threshold) -> str:
    """The ``*threshold_method`` code of a threshold (see ``THRESHOLD_METHOD_CODES``)."""
    if th.method == "percentile":
        return f"percentile:{float(th.parameters['percentile']):g}"
    if th.method == "mad":
        return f"mad:{float(th.parameters['n_mad']):g}"
    if th.method in ("density_valley", "fixed"):
        return th.method
    raise AnalysisError(f"threshold method {th.method!r} has no threshold_method code")


def threshold_source_code(role: str, sample_ids: Iterable[str]) -> str:
    """``'<role>:<ids>'`` (``role='samples'`` for an automatic threshold)."""
    return f"{role}:{','.join(sample_ids)}"


def add_cleanup_figure(result: AssayResult, sample_id: str, prep: Prepared) -> None:
    """The one cleanup figure of a sample (debris cutoff, singlet band), when it was gated."""
    if prep.cleanup is None:
        return
    from assaykit.cytometry.figures import cleanup_figure

    result.add_figure(
        "cleanup",
        cleanup_figure(prep.columns, prep.cleanup, title=sample_id, raster=True),
        sample_id=sample_id,
        caption=(
            "Cleanup gates: debris cutoff on the forward-scatter area, singlet band on "
            "FSC-H/FSC-A."
        ),
    )
