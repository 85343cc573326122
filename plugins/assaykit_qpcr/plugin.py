"""RT-qPCR relative expression: the ``qpcr`` assay (ΔΔCt, Pfaffl with a standard curve).

**Input**: one run file holding every well — RDML (``.rdml`` zipped, or plain
XML ``.rdml``/``.xml``), a Thermo QuantStudio "Results" text export (``.txt``) or a Bio-Rad CFX
"Quantification Cq Results" CSV (``.csv``). The plugin registers a host Reader
(kind ``"qpcr"``) whose ``sniff`` recognises only those exports by content
(:func:`assaykit.qpcr.wells.sniff`), so any other CSV still goes to the
built-in table reader.

**Sample sheet** (design choice): one row per run file, the file's wells are
not listed one by one — the well roles (unknown, NTC, no-RT, standard) and
sample/target names come from the export itself. The row names the
experiment's design in two condition columns:

- ``reference_genes``: the reference (housekeeping) targets, ``;``-separated
  (``GAPDH;ACTB``); several are combined by the geometric mean;
- ``calibrator``: the sample every fold change is relative to.

The same two settings exist as parameters (``reference_genes``,
``calibrator``); a non-empty sheet cell overrides the parameter. With neither,
the experiment fails with a message saying what to add.

**Method** (:mod:`assaykit.qpcr.analysis`): per (sample, target) the detected
Cq's of the unknown wells, with the outlier rule (a replicate more than
``max_dev`` cycles from the median of ``min_n`` or more is excluded);
ΔCt = Cq(target) − mean Cq(references), ΔΔCt = ΔCt(sample) − ΔCt(calibrator),
fold change 2^−ΔΔCt (Livak & Schmittgen 2001). When the run holds a standard
curve (standard wells with quantities) for the target and every reference
gene and ``efficiency_correction`` is on, the ratio is efficiency-corrected
(Pfaffl 2001) with E = 10^(−1/slope) per gene; ``delta_delta_ct`` is then
−log2 of that ratio. The fold-change interval is 2^−(ΔΔCt ± SD), the SD
propagated from the sample's replicate SDs. NTC and no-RT wells are checked
(``ntc_amplified``, ``nrt_close``); each such flag marks only the records whose
value uses the suspect Cq (see :func:`assaykit_qpcr.analysis.control_scope`).

Every reaction also gets a ``cq`` record (entity ``well|target``), without a
number when the export says the target was not detected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from assaykit import Assay, AssayResult, Experiment, Metric, Params, Reader, hookimpl
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn
from pydantic import Field

from assaykit_qpcr import __version__

_ST = "sample_target"
_GROUP = "replicate (unknown) wells of the sample and target"


class QpcrParams(Params):
    """Parameters of ``qpcr``. The JSON Schema of this model is its documentation."""

    reference_genes: str = Field(
        "",
        max_length=2000,
        description=(
            "Reference genes, ';'-separated target names (e.g. 'GAPDH;ACTB'); the sheet's "
            "reference_genes column overrides it when non-empty."
        ),
    )
    calibrator: str = Field(
        "",
        max_length=500,
        description=(
            "The calibrator sample (fold change 1); the sheet's calibrator column overrides "
            "it when non-empty."
        ),
    )
    max_dev: float = Field(
        0.5,
        gt=0,
        le=10,
        description="Outlier rule: a replicate more than this many cycles from the median of "
        "the group's replicates is excluded (only with at least min_n detected replicates).",
    )
    min_n: int = Field(
        3, ge=2, le=20, description="Detected replicates needed before the outlier rule applies."
    )
    efficiency_correction: bool = Field(
        True,
        description="Use the Pfaffl efficiency-corrected ratio when the run has a standard "
        "curve for the target and every reference gene; false: always 2^-ΔΔCt (Livak).",
    )
    ntc_cutoff: float = Field(
        35.0, gt=0, le=60, description="An NTC well detected below this Cq is flagged."
    )
    nrt_min_gap: float = Field(
        5.0,
        ge=0,
        le=40,
        description="A no-RT well detected less than this many cycles after the +RT sample "
        "(or the target's lowest unknown mean) is flagged.",
    )


class QpcrReader(Reader):
    """RDML, QuantStudio Results and CFX Cq Results exports, recognised by content."""

    kind: ClassVar[str] = "qpcr"
    suffixes: ClassVar[tuple[str, ...]] = (".rdml", ".xml", ".txt", ".csv")
    name: ClassVar[str] = "qPCR run (RDML, QuantStudio Results, CFX Cq Results)"

    def read(self, path: Path) -> Any:
        from assaykit.qpcr.wells import read_wells

        return read_wells(path)

    def sniff(self, path: Path, head: bytes) -> float | None:
        from assaykit.qpcr.wells import sniff

        try:
            return 1.0 if sniff(head, path.name) else None
        except Exception:
            return None


class Qpcr(Assay):
    """The ``qpcr`` assay (see the module docstring for the method and the sheet)."""

    name = "qpcr"
    version = __version__
    summary = (
        "RT-qPCR relative expression: replicate Cq mean/SD, ΔCt, ΔΔCt and fold change vs a "
        "calibrator (Livak, or Pfaffl with a standard curve), NTC and no-RT checks."
    )
    input_kinds = ("qpcr",)
    roles = ("sample",)
    Params = QpcrParams
    figure_titles = (
        ("fold_change", "Relative expression (fold change) per sample"),
    )
    summaries = (
        Summary(
            "sample_target",
            (
                SummaryColumn(
                    "fold_change",
                    "fold change [range]",
                    low="fold_change_low",
                    high="fold_change_high",
                ),
                SummaryColumn("cq_mean", "mean Cq"),
                SummaryColumn("n_replicates", "replicates"),
                SummaryColumn("method", "method"),
            ),
            "qPCR: fold change per sample and gene",
            ("calibrator", "reference_genes"),
        ),
    )
    profile = (
        ProfileMetric(
            "fold_change", "mRNA fold change (qPCR)", entity_type="sample_target", target_sep="|",
            roles=None, position=40,
        ),
    )
    metrics = (
        Metric(_ST, "cq_mean", "cycles", "float", f"Mean Cq of the kept {_GROUP}."),
        Metric(_ST, "cq_sd", "cycles", "float",
               f"Sample SD (ddof=1; 0 for one replicate) of the kept {_GROUP}."),
        Metric(_ST, "n_replicates", None, "int",
               f"Kept (detected, not outlier) {_GROUP}."),
        Metric(_ST, "delta_ct", "cycles", "float",
               "Cq mean of the target minus the mean of the reference genes' Cq means, in "
               "this sample (not given for a reference gene)."),
        Metric(_ST, "delta_delta_ct", "cycles", "float",
               "ΔCt(sample) − ΔCt(calibrator); with efficiency correction, −log2 of the "
               "Pfaffl ratio."),
        Metric(_ST, "fold_change", None, "float",
               "Expression relative to the calibrator, 2^-ΔΔCt (or the Pfaffl ratio); "
               "dimensionless."),
        Metric(_ST, "fold_change_low", None, "float",
               "Lower end of the fold-change interval, 2^-(ΔΔCt + SD), SD propagated from the "
               "sample's replicate SDs."),
        Metric(_ST, "fold_change_high", None, "float",
               "Upper end of the fold-change interval, 2^-(ΔΔCt − SD)."),
        Metric(_ST, "method", None, "str",
               "How the fold change was computed: 'livak' (all E = 2) or 'pfaffl'."),
        Metric("well", "cq", "cycles", "float",
               "Cq of one reaction as the export gives it, entity 'well|target' (e.g. "
               "'A1|RARB'), every role (unknown, NTC, no-RT, standard); no number when the "
               "export says the target was not detected (Undetermined, N/A, RDML -1)."),
        Metric("target", "efficiency", "%", "float",
               "Amplification efficiency from the run's standard curve, (E − 1)·100 with "
               "E = 10^(−1/slope) of Cq on log10 quantity."),
        Metric("target", "r_squared", None, "float",
               "R² of the standard curve's least-squares line; dimensionless."),
        Metric("target", "slope", "cycles", "float",
               "Slope of the standard curve, cycles per log10 of quantity."),
    )
    flags = (
        Flag("ntc_amplified", "warn",
             "A no-template control amplified below ntc_cutoff: contamination or primer "
             "dimers; the message names the well and target. It marks the NTC well, the "
             "target's curve and that target in every sample (every target, when it is a "
             "reference gene)."),
        Flag("nrt_close", "warn",
             "A no-RT control amplified less than nrt_min_gap cycles after the +RT sample: "
             "genomic DNA may contribute to the Cq. It marks the no-RT well, the target's "
             "curve and that target in its +RT sample (in every sample when that is the "
             "calibrator or the control is unpaired; every target, for a reference gene)."),
        Flag("replicate_outlier", "warn",
             "A replicate was excluded by the outlier rule (more than max_dev cycles from the "
             "median) in the sample, its calibrator or a reference gene."),
        Flag("replicates_disagree", "warn",
             "Replicates are spread but the outlier rule would leave fewer than two; none "
             "was excluded."),
        Flag("undetected_replicate", "warn",
             "A replicate of the group (or of the calibrator or a reference gene) was not "
             "detected and is not averaged; on a well record: that unknown or standard well "
             "was not detected."),
        Flag("well_excluded", "warn",
             "The export marks the well omitted or excluded (QuantStudio Omit, RDML excl): "
             "its Cq is recorded but not averaged."),
        Flag("not_quantified", "fail",
             "No fold change for the sample and target: a Cq of the target or a reference "
             "gene is missing in the sample or the calibrator (the message names the "
             "missing gene); the tool could not measure it."),
    )

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        from assaykit_qpcr.analysis import analyze_experiment

        return analyze_experiment(experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(Qpcr())


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(QpcrReader())
