"""Typed exceptions. Everything assaykit raises on purpose derives from AssaykitError.

Why one hierarchy: a pipeline that embeds assaykit catches ``AssaykitError``
and knows the failure came from the input or configuration, not from a bug.
Every message names the file, the field and what was expected, so that a lab
can fix the input without reading code.
"""

from __future__ import annotations

from pathlib import Path


class AssaykitError(Exception):
    """Base of every error assaykit raises on purpose."""


class ConfigError(AssaykitError):
    """The run was asked for something impossible (bad option, sheet or params)."""


class UsageError(ConfigError):
    """A command-line or API call was used wrongly (exit code 2)."""


class SampleSheetError(ConfigError):
    """One or more rows of a sample sheet are wrong.

    ``problems`` holds one message per bad cell; each names the sheet file,
    the spreadsheet row number (the header is row 1) and the column.
    """

    MAX_SHOWN = 25

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[: self.MAX_SHOWN]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more problem(s)" if more > 0 else "")
        super().__init__(text)


class ParamsError(ConfigError):
    """Assay parameters failed validation; the message names each bad field."""


class PluginError(AssaykitError):
    """A plugin is missing, broken, or does not honour the contract."""


class UnknownAssayError(PluginError, ConfigError):
    """No installed plugin provides the requested assay."""


class InputError(AssaykitError):
    """An input file cannot be used. The message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MissingInputError(InputError):
    """A file listed in the sample sheet does not exist."""


class FCSError(InputError):
    """An FCS file breaks the standard in a way that cannot be read safely."""


class ImageError(InputError):
    """An image cannot be loaded or is unsafe to load (e.g. a decompression bomb)."""


class AnalysisError(AssaykitError):
    """An assay could not produce a result from otherwise readable input."""


class PluginCompatibilityWarning(UserWarning):
    """A discovered plugin was skipped because its versions do not fit this host."""
