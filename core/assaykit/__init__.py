"""assaykit: standardized, trustworthy result records from lab instrument output.

The public API, for pipelines and plugins alike. A plugin imports only from
here (and from the science libraries ``assaykit.cytometry`` and
``assaykit.imaging``), never from underscore modules.
"""

from __future__ import annotations

from assaykit._version import __version__
from assaykit.api import AnalysisResult, analyze, make_experiment, run
from assaykit.assay import (
    Assay,
    AssayResult,
    FigureData,
    Measurement,
    Metric,
    Params,
    QCFlag,
    SampleFailure,
    new_figure,
    render_png,
)
from assaykit.batch import RunResult
from assaykit.errors import (
    AnalysisError,
    AssaykitError,
    ConfigError,
    FCSError,
    ImageError,
    InputError,
    MissingInputError,
    ParamsError,
    PluginError,
    SampleSheetError,
    UnknownAssayError,
    UsageError,
)
from assaykit.experiment import Experiment, Input
from assaykit.exporters import Exporter, ResultTable
from assaykit.hookspecs import hookimpl
from assaykit.plugins import HostConfig, PluginHost
from assaykit.readers import Reader, Table
from assaykit.records import SCHEMA_VERSION, Record

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisError",
    "AnalysisResult",
    "Assay",
    "AssayResult",
    "AssaykitError",
    "ConfigError",
    "Experiment",
    "Exporter",
    "FCSError",
    "FigureData",
    "HostConfig",
    "ImageError",
    "Input",
    "InputError",
    "Measurement",
    "Metric",
    "MissingInputError",
    "Params",
    "ParamsError",
    "PluginError",
    "PluginHost",
    "QCFlag",
    "Reader",
    "Record",
    "ResultTable",
    "RunResult",
    "SampleFailure",
    "SampleSheetError",
    "Table",
    "UnknownAssayError",
    "UsageError",
    "__version__",
    "analyze",
    "hookimpl",
    "make_experiment",
    "new_figure",
    "render_png",
    "run",
]
