"""The shared vocabulary: flags the host raises and metric names that mean one thing everywhere.

Why one table: a pipeline reading ``results.csv`` from several assays must
find that ``event_count`` is the same quantity in each, and a lab reading
``qc_flags`` must be able to look up what a flag means whatever plugin raised
it. An assay that declares a metric with a shared name must build it with
:func:`shared_metric` (the declaration check refuses a different unit, dtype
or meaning), and CONTRIBUTING.md's vocabulary table lists every entry here (a
test checks it).

This module is part of the plugin contract: it imports nothing but
:mod:`assaykit.assay`.
"""

from __future__ import annotations

from dataclasses import dataclass

from assaykit.assay import DType, Flag, Metric

__all__ = [
    "HOST_FLAGS",
    "SHARED_METRICS",
    "THRESHOLD_METHOD_CODES",
    "THRESHOLD_SOURCE_CODES",
    "SharedMetric",
    "shared_metric",
]

#: Flags the host itself raises on any assay's records.
HOST_FLAGS: tuple[Flag, ...] = (
    Flag(
        "no_controls",
        "warn",
        "The experiment has no input with one of the assay's control roles, so thresholds "
        "fell back to an automatic method.",
    ),
    Flag(
        "error",
        "fail",
        "The file (or data set) could not be analysed; the error record's value_str says why.",
    ),
)


@dataclass(frozen=True)
class SharedMetric:
    """A metric name with one meaning across assays: its unit, dtype and meaning."""

    metric: str
    unit: str | None
    dtype: DType
    meaning: str


#: The codes of every flow assay's threshold-method metrics (``threshold_method``,
#: and the per-dye ``<dye>_threshold_method`` of assays with several thresholds).
THRESHOLD_METHOD_CODES = (
    "'percentile:<q>' (the q-th percentile of the pooled negative controls' compensated "
    "singlets), 'density_valley' (automatic: the density minimum between the negative and "
    "positive populations of the pooled samples, logicle axis), 'mad:<k>' (automatic, "
    "unimodal samples: median + k robust SDs (1.4826 MAD) of the pooled samples, logicle "
    "axis) or 'fixed' (a parameter)"
)
#: The codes of every flow assay's threshold-source metrics (``threshold_source``,
#: ``<dye>_threshold_source``). Not a shared metric name: ``threshold_source`` (like
#: ``threshold``) is a common name in third-party and template plugins with other values.
THRESHOLD_SOURCE_CODES = (
    "'<role>:<sample ids>' (the control(s) that set it), 'samples:<sample ids>' (an "
    "automatic threshold) or 'parameter:<name>' (the parameter that gave it)"
)

_SHARED: tuple[SharedMetric, ...] = (
    SharedMetric(
        "event_count",
        "events",
        "int",
        "Number of events in the data set as read from the file, before any gate.",
    ),
    SharedMetric(
        "singlet_count",
        "events",
        "int",
        "Events passing the debris and singlet gates (with finite values on the assay's "
        "channels): the parent population the assay's percentages and medians are taken on.",
    ),
    SharedMetric(
        "threshold_method",
        None,
        "str",
        f"How the threshold was set, as a code: {THRESHOLD_METHOD_CODES}.",
    ),
    SharedMetric(
        "band_volume",
        "AU",
        "float",
        "Background-subtracted integrated volume of a band: the sum of band-bright pixel "
        "values over the band's rectangle minus the baseline under the lane profile (the "
        "image record 'background' and the volume_baseline parameter name the method). "
        "Never negative: a band not above its detection limit is 0 with flag below_detection.",
    ),
    SharedMetric(
        "polarity",
        None,
        "str",
        "The image's polarity (light_bands_on_dark or dark_bands_on_light) and how it was "
        "decided.",
    ),
    SharedMetric(
        "band_snr",
        None,
        "float",
        "Signal-to-noise ratio of a band: its peak above the lane-profile baseline (on the "
        "image after the 2-D background) divided by the lane-profile noise (1.4826 MAD of "
        "row-to-row differences / sqrt 2).",
    ),
    SharedMetric(
        "lane_count",
        "lanes",
        "int",
        "Lanes placed on the membrane strip or gel row, whose bands were measured: the count "
        "n_lanes gives (the parameter, or the sample sheet's column), else what lane finding "
        "placed (at least the highest lane the sheet names).",
    ),
    SharedMetric(
        "background",
        None,
        "str",
        "The background methods with all their parameters: the 2-D background subtracted for "
        "band detection, and the volume baseline under each band (parameter volume_baseline).",
    ),
    SharedMetric(
        "rotation_deg",
        "deg",
        "float",
        "Rotation applied to straighten the image, in degrees, counter-clockwise positive "
        "(OpenCV's sign).",
    ),
)

#: Shared metric names, by name.
SHARED_METRICS: dict[str, SharedMetric] = {m.metric: m for m in _SHARED}


def shared_metric(metric: str, entity_type: str, detail: str = "") -> Metric:
    """The declaration of shared metric ``metric`` on ``entity_type``.

    ``detail`` is appended to the shared meaning for what is particular to the
    assay (its channels, its entity); it must not change the meaning.
    """
    s = SHARED_METRICS[metric]
    description = s.meaning + (" " + detail if detail else "")
    return Metric(entity_type, metric, s.unit, s.dtype, description)
