"""What the reader returns: :class:`FCSMetadata` (HEADER and TEXT) and :class:`FCSData`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from assaykit.cytometry.compensation import SpilloverMatrix
from assaykit.cytometry.fcs.acquired import _acquired_at
from assaykit.cytometry.fcs.deviations import Deviation


@dataclass(eq=False, repr=False)
class FCSMetadata:
    """Everything in one data set's HEADER and TEXT, without the events.

    ``channels`` are the ``$PnN`` short names and ``labels`` the ``$PnS``
    long names ("" when absent), both stripped of surrounding blanks.
    ``ranges`` are the ``$PnR`` values (NaN when missing). ``keywords`` holds
    every keyword with an upper-cased key and the value exactly as written.
    ``version`` is the HEADER's identifier (e.g. ``"FCS3.1"``), ``datatype``
    the ``$DATATYPE`` letter and ``n_events`` the ``$TOT`` count.
    ``warnings`` lists every repair the reader made; it is empty for a clean
    file. ``conformance`` gives each deviation from the standard behind those
    repairs as a :class:`Deviation` (rule, what the file had, the repair).
    """

    path: str
    version: str
    dataset_index: int
    channels: list[str]
    labels: list[str]
    ranges: list[float]
    keywords: dict[str, str]
    spillover: SpilloverMatrix | None
    n_events: int
    datatype: str
    warnings: list[str]
    conformance: list[Deviation] = field(default_factory=list, kw_only=True)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def instrument(self) -> str | None:
        """``$CYT`` (the cytometer), or None when absent or blank."""
        value = self.keywords.get("$CYT", "").strip()
        return value or None

    @property
    def acquired_at(self) -> str | None:
        """Acquisition start as ISO 8601, from ``$BEGINDATETIME`` or ``$DATE`` + ``$BTIM``.

        Fractional seconds are dropped because their unit differs between
        versions (1/60 s in 3.0, 1/100 s in 3.1). A parseable date without a
        parseable time gives a date only; otherwise None. No time zone is
        invented: FCS 2.0–3.1 record local time.
        """
        return _acquired_at(self.keywords)

    def channel_indices(self, name_or_label: str) -> list[int]:
        """Every position whose ``$PnN`` equals the name, else whose ``$PnS`` does."""
        hits = [i for i, n in enumerate(self.channels) if n == name_or_label]
        if not hits:
            hits = [i for i, s in enumerate(self.labels) if s and s == name_or_label]
        return hits

    def channel_index(self, name_or_label: str | int) -> int:
        """Position of a channel given its ``$PnN`` name, its ``$PnS`` label or its index.

        ``$PnN`` is tried first because it is required and meant to be unique.
        Raises ``KeyError`` when nothing matches or when the name is ambiguous
        (duplicate channel names); then address the channel by position.
        """
        if isinstance(name_or_label, (int, np.integer)) and not isinstance(name_or_label, bool):
            index = int(name_or_label)
            if not -self.n_channels <= index < self.n_channels:
                raise KeyError(f"channel index {index} out of range for {self.n_channels} channels")
            return index % self.n_channels
        hits = self.channel_indices(str(name_or_label))
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise KeyError(
                f"no channel named {name_or_label!r} in {self.path}; "
                f"$PnN names: {self.channels}; $PnS labels: {[s for s in self.labels if s]}"
            )
        raise KeyError(
            f"channel name {name_or_label!r} is ambiguous in {self.path}: it names positions "
            f"{hits}; address the channel by position"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self.path!r}, version={self.version!r}, "
            f"dataset_index={self.dataset_index}, n_events={self.n_events}, "
            f"channels={self.channels!r}, warnings={len(self.warnings)})"
        )


@dataclass(eq=False, repr=False)
class FCSData(FCSMetadata):
    """One data set: the metadata plus ``events``, shape (n_events, n_channels).

    ``events`` is float32 for ``F`` data, float64 for ``D`` and ``A`` data, and
    float32 or float64 for masked ``I`` data (see the module docstring). It is
    always writable; large native files are backed by a copy-on-write map.
    """

    events: npt.NDArray[Any]

    def column(self, name_or_label: str | int) -> npt.NDArray[Any]:
        """The events of one channel (a view, not a copy)."""
        return self.events[:, self.channel_index(name_or_label)]
