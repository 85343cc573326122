"""``rh123_efflux``: P-glycoprotein function by rhodamine-123 retention, by flow cytometry.

The science (Protocol 7 of the isotretinoin-resistance workflow): cells load
the fluorescent P-gp substrate Rh123, then efflux it. Cells with active P-gp
pump it out and stay dim; a P-gp inhibitor (verapamil, cyclosporin A) blocks
the pump and the cells stay bright. So each cell line is measured with and
without the inhibitor, and the comparison is the readout:

- ``mfi_ratio`` = MFI(with inhibitor) / MFI(without);
- ``maf`` (multidrug resistance activity factor) =
  100 × (MFI(with) − MFI(without)) / MFI(with): near 0 for a line without
  P-gp activity, approaching 100 when nearly all Rh123 is pumped out.

Tubes are paired by ``cell_line`` and the other sample-sheet conditions
(not the ``inhibitor*`` columns). A file with several data sets (kept as
samples ``<id>#2`` …) pairs data set by data set with its partner file.

MFI is the median Rh123 fluorescence of live single cells, on the linear
(compensated) scale: debris and doublets are removed by the cleanup gates,
dead cells (which lose Rh123 with their membrane potential) by a PI gate
when a viability dye was recorded, or by scatter otherwise.

QC flags are declared in :attr:`Rh123Assay.flags`. Reading, cleanup, the
``low_event_count`` rule (on live singlet cells) and the failure rule are the
flow layer's (:mod:`assaykit.cytometry.flow`): a tube that cannot be analysed
(unreadable, or without a needed channel) is an error record on its file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from assaykit import Assay, AssayResult, Experiment, Metric, hookimpl
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn
from assaykit.cytometry.params import FITC_FALLBACKS, FLOW_FLAGS, FlowParams
from assaykit.vocabulary import shared_metric
from pydantic import Field

__all__ = ["Rh123Assay", "Rh123Params"]

ROLES = ("sample", "unstained")


class Rh123Params(FlowParams):
    """Settings of the ``rh123_efflux`` assay (shared flow fields: see FlowParams)."""

    rh123_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "Rh123 channel ($PnN or $PnS). Default: a channel whose $PnS label mentions "
            f"Rh123/rhodamine 123 or FITC, else {'/'.join(FITC_FALLBACKS)}"
        ),
    )
    pi_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "Viability-dye (PI) channel ($PnN or $PnS). Default: a channel whose $PnS "
            "label mentions PI, propidium, 7-AAD or viability"
        ),
    )
    live_gate: Literal["auto", "pi", "scatter"] = Field(
        "auto",
        description=(
            "Dead-cell exclusion: 'pi' (PI-bright events are dead; needs a PI channel), "
            "'scatter' (small-FSC events are dead), or 'auto' (PI when a PI channel is "
            "found, else scatter)"
        ),
    )
    live_n_mad: float = Field(
        4.0,
        gt=0.0,
        le=20.0,
        description=(
            "Live gate without a clear valley/second population: the main population's "
            "edge at this many robust SDs (1.4826 MAD)"
        ),
    )
    ratio_basis: Literal["mfi", "mfi_minus_autofluorescence"] = Field(
        "mfi",
        description=(
            "MFIs that mfi_ratio and maf are computed from: raw 'mfi', or "
            "'mfi_minus_autofluorescence' (needs an unstained tube per cell line)"
        ),
    )
    ignore_columns: tuple[str, ...] = Field(
        (),
        max_length=100,
        description=(
            "Sample-sheet condition columns that do not define a pair (e.g. 'tube', "
            "'notes'); inhibitor* columns and cell_line are handled already"
        ),
    )


class Rh123Assay(Assay):
    """Rh123 MFI per tube; MFI ratio and MAF per cell line (with / without P-gp inhibitor)."""

    name = "rh123_efflux"
    version = "1.1.0"
    summary = "P-gp function by Rh123 efflux: MFI ratio and MAF with/without a P-gp inhibitor."
    input_kinds = ("fcs",)
    roles = ROLES
    control_roles = ()
    required_columns = ("cell_line",)
    Params = Rh123Params
    figure_titles = (
        ("rh123_overlay", "Rh123 retention with and without the P-gp inhibitor"),
        ("rh123_gates", "Live cells kept for the Rh123 median (PI gate)"),
        ("cleanup", "Debris and doublets removed before counting"),
    )
    summaries = (
        Summary(
            "cell_line",
            (
                SummaryColumn("mfi_ratio", "MFI ratio (with / without inhibitor)"),
                SummaryColumn("maf", "MAF (P-gp activity)"),
            ),
            "Rh123 efflux: P-gp activity per cell line",
        ),
        Summary(
            "sample",
            (
                SummaryColumn("mfi", "Rh123 MFI"),
                SummaryColumn("live_pct", "live %"),
            ),
            "Rh123 efflux: median fluorescence per tube",
            ("cell_line", "inhibitor", "inhibitor_uM"),
        ),
    )
    profile = (
        ProfileMetric(
            "maf", "P-gp activity (Rh123 MAF)", entity_type="cell_line", roles=None, position=50
        ),
    )
    metrics = (
        Metric(
            "sample",
            "mfi",
            "AU",
            "float",
            "median Rh123 fluorescence of live singlet cells, linear scale "
            "($PnE/$PnG undone, compensated)",
        ),
        shared_metric("event_count", "sample"),
        shared_metric(
            "singlet_count",
            "sample",
            "Here: finite Rh123 (and PI) values; the parent population of live_pct.",
        ),
        Metric(
            "sample", "live_singlet_count", "events", "int",
            "live singlet cells (singlets passing the live gate) the MFI is taken on",
        ),
        Metric("sample", "live_pct", "%", "float", "percent of singlet cells called live"),
        Metric(
            "sample",
            "mfi_minus_autofluorescence",
            "AU",
            "float",
            "mfi minus the mfi of the matching unstained tube(s) (same cell line; the "
            "mean when several), linear scale",
        ),
        Metric(
            "sample",
            "live_gate",
            None,
            "str",
            "how dead cells were excluded: PI or scatter, valley/mixture/MAD rule, cut",
        ),
        Metric(
            "cell_line",
            "mfi_ratio",
            None,
            "float",
            "MFI with inhibitor / MFI without (MFIs of live singlets; see ratio_basis); "
            "the mean MFI of replicate tubes",
        ),
        Metric(
            "cell_line",
            "maf",
            None,
            "float",
            "multidrug resistance activity factor: 100 x (MFI with inhibitor - MFI "
            "without) / MFI with inhibitor",
        ),
        Metric(
            "cell_line",
            "pairing",
            None,
            "str",
            "which tubes were compared, or why a cell line has no ratio (missing partner)",
        ),
    )
    flags = (
        *FLOW_FLAGS,
        Flag(
            "missing_partner_tube",
            "fail",
            "On the cell line's pairing record: it has no analysable tube with, or none "
            "without, an inhibitor, so no ratio.",
        ),
        Flag(
            "no_unstained_tube",
            "fail",
            "ratio_basis='mfi_minus_autofluorescence' but the cell line has no unstained tube.",
        ),
        Flag(
            "mfi_not_positive",
            "fail",
            "An MFI (or MFI minus autofluorescence) of the pair is <= 0, which makes no ratio.",
        ),
        Flag(
            "replicate_tubes_averaged",
            "warn",
            "Several tubes on one side of a pair: their mean MFI was used.",
        ),
    )

    def analyze(self, experiment: Experiment, params: Rh123Params) -> AssayResult:
        from assaykit_rh123.analysis import analyze_experiment

        return analyze_experiment(experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(Rh123Assay())
