"""assaykit: standardized, trustworthy result records from lab instrument output."""

from __future__ import annotations

from assaykit._version import __version__
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

__all__ = [
    "AnalysisError",
    "AssaykitError",
    "ConfigError",
    "FCSError",
    "ImageError",
    "InputError",
    "MissingInputError",
    "ParamsError",
    "PluginError",
    "SampleSheetError",
    "UnknownAssayError",
    "UsageError",
    "__version__",
]
