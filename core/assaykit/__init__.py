"""assaykit: standardized, trustworthy result records from lab instrument output.

The public API, for pipelines and plugins alike. A plugin imports only from
here (and from the science libraries ``assaykit.cytometry`` and
``assaykit.imaging``), never from underscore modules.

The names are loaded lazily (PEP 562): ``from assaykit import Assay`` imports
the contract module that defines ``Assay`` and nothing else, so a plugin or a
science library that uses the contract does not load the batch runner, the
store or the plugin host. ``assaykit.run`` loads them when it is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from assaykit._version import __version__

if TYPE_CHECKING:
    from assaykit.api import (
        AnalysisResult,
        analyze,
        make_experiment,
        run,
    )
    from assaykit.assay import (
        Assay,
        AssayResult,
        FigureData,
        Flag,
        Measurement,
        Metric,
        Params,
        ParamsDeprecationWarning,
        ProfileMetric,
        QCFlag,
        SampleFailure,
        Summary,
        SummaryColumn,
        new_figure,
        render_png,
    )
    from assaykit.batch import (
        RunResult,
    )
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
    from assaykit.experiment import (
        Experiment,
        Input,
    )
    from assaykit.hookspecs import (
        hookimpl,
    )
    from assaykit.plugins import (
        HostConfig,
        PluginHost,
    )
    from assaykit.raster import RasterFigure, raster_figure
    from assaykit.readers import (
        Reader,
        Table,
    )
    from assaykit.records import (
        SCHEMA_VERSION,
        Exporter,
        Record,
        ResultTable,
    )
    from assaykit.vocabulary import shared_metric

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AnalysisResult": "assaykit.api",
    "analyze": "assaykit.api",
    "make_experiment": "assaykit.api",
    "run": "assaykit.api",
    "Assay": "assaykit.assay",
    "AssayResult": "assaykit.assay",
    "FigureData": "assaykit.assay",
    "Flag": "assaykit.assay",
    "ParamsDeprecationWarning": "assaykit.assay",
    "shared_metric": "assaykit.vocabulary",
    "Measurement": "assaykit.assay",
    "Metric": "assaykit.assay",
    "Params": "assaykit.assay",
    "ProfileMetric": "assaykit.assay",
    "QCFlag": "assaykit.assay",
    "SampleFailure": "assaykit.assay",
    "Summary": "assaykit.assay",
    "SummaryColumn": "assaykit.assay",
    "new_figure": "assaykit.assay",
    "RasterFigure": "assaykit.raster",
    "raster_figure": "assaykit.raster",
    "render_png": "assaykit.assay",
    "RunResult": "assaykit.batch",
    "AnalysisError": "assaykit.errors",
    "AssaykitError": "assaykit.errors",
    "ConfigError": "assaykit.errors",
    "FCSError": "assaykit.errors",
    "ImageError": "assaykit.errors",
    "InputError": "assaykit.errors",
    "MissingInputError": "assaykit.errors",
    "ParamsError": "assaykit.errors",
    "PluginError": "assaykit.errors",
    "SampleSheetError": "assaykit.errors",
    "UnknownAssayError": "assaykit.errors",
    "UsageError": "assaykit.errors",
    "Experiment": "assaykit.experiment",
    "Input": "assaykit.experiment",
    "Exporter": "assaykit.records",
    "Record": "assaykit.records",
    "ResultTable": "assaykit.records",
    "SCHEMA_VERSION": "assaykit.records",
    "hookimpl": "assaykit.hookspecs",
    "HostConfig": "assaykit.plugins",
    "PluginHost": "assaykit.plugins",
    "Reader": "assaykit.readers",
    "Table": "assaykit.readers",
}

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
    "Flag",
    "HostConfig",
    "ImageError",
    "Input",
    "InputError",
    "Measurement",
    "Metric",
    "MissingInputError",
    "Params",
    "ParamsDeprecationWarning",
    "ParamsError",
    "PluginError",
    "PluginHost",
    "ProfileMetric",
    "QCFlag",
    "RasterFigure",
    "Reader",
    "Record",
    "ResultTable",
    "RunResult",
    "SampleFailure",
    "SampleSheetError",
    "Summary",
    "SummaryColumn",
    "Table",
    "UnknownAssayError",
    "UsageError",
    "__version__",
    "analyze",
    "hookimpl",
    "make_experiment",
    "new_figure",
    "raster_figure",
    "render_png",
    "run",
    "shared_metric",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assaykit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
