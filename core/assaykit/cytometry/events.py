"""Named, lazily compensated access to event columns, for gates to read from.

Why a small wrapper instead of passing a bare array: a gate names its
dimensions (``FL1-H``, or a fluorochrome such as ``FITC`` for a Gating-ML
spectrum matrix) and says which compensation each one uses (``uncompensated``,
the file's own ``FCS`` spillover, or a named matrix). :class:`EventFrame`
resolves those names once, compensates each matrix once (cached), and hands
gates 1-D float arrays. A plain ``{name: array}`` mapping also works wherever
no compensation is needed.

It also converts FCS channel values to scale values (``$PnE`` log
amplification, ``$PnG`` gain), because Gating-ML gate coordinates are in
scale units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Union, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.cytometry.compensation import (
    CompensationError,
    SpilloverMatrix,
    match_channels,
    spillover_from_keywords,
)
from assaykit.errors import ConfigError

__all__ = [
    "UNCOMPENSATED",
    "EventData",
    "EventFrame",
    "EventSource",
    "MappingSource",
    "as_event_source",
    "channel_to_scale",
]

logger = logging.getLogger(__name__)

#: Compensation references that mean "raw values".
UNCOMPENSATED = "uncompensated"
_RAW_REFS = (None, "", UNCOMPENSATED)
#: The Gating-ML reference to the spillover matrix stored in the data file.
FCS_REF = "FCS"


@runtime_checkable
class EventSource(Protocol):
    """Anything that returns one event column by name and compensation reference."""

    @property
    def n_events(self) -> int: ...

    def column(self, name: str, compensation: str | None = None) -> NDArray[np.float64]: ...


class MappingSource:
    """Adapts ``{name: 1-D array}`` to :class:`EventSource` (uncompensated only)."""

    def __init__(self, data: Mapping[str, ArrayLike]) -> None:
        self._data = {str(k): np.asarray(v, dtype=np.float64) for k, v in data.items()}
        sizes = {v.shape for v in self._data.values()}
        if len(sizes) > 1:
            raise ConfigError(f"event columns differ in length: {sorted(sizes)}")
        self._n = next(iter(sizes))[0] if sizes else 0

    @property
    def n_events(self) -> int:
        return self._n

    def column(self, name: str, compensation: str | None = None) -> NDArray[np.float64]:
        if compensation not in _RAW_REFS:
            raise ConfigError(
                f"dimension {name!r} asks for compensation {compensation!r}, but plain "
                "column mappings carry no spillover; use EventFrame"
            )
        try:
            return self._data[name]
        except KeyError:
            raise ConfigError(
                f"no event column named {name!r}; have {sorted(self._data)}"
            ) from None


#: What gates accept: an :class:`EventSource` or a plain ``{name: array}`` mapping.
EventData = Union[EventSource, Mapping[str, ArrayLike]]  # noqa: UP007 (runtime alias, 3.10)


def as_event_source(data: EventData) -> EventSource:
    """Wrap ``data`` so gates can call ``column(name, compensation)`` on it."""
    if isinstance(data, EventSource):
        return data
    if isinstance(data, Mapping):
        return MappingSource(data)
    raise ConfigError(f"cannot read events from {type(data).__name__}")


def _keyword(keywords: Mapping[str, Any], key: str) -> str | None:
    for k in (key, key.upper(), key.lower(), key.lstrip("$"), key.lstrip("$").lower()):
        if k in keywords:
            return str(keywords[k])
    return None


def channel_to_scale(events: ArrayLike, keywords: Mapping[str, Any]) -> NDArray[np.float64]:
    """Convert stored channel values to scale values (FCS 3.1 section 3.3.x).

    * ``$PnE = f1,f2`` with ``f1 > 0`` (log amplifier): ``10^(f1·x/$PnR) · f2``;
      ``f2 = 0`` (written by many FCS 2.0 instruments) is read as 1.
    * otherwise, for integer data with ``$PnG`` present and non-zero: ``x / $PnG``.
    * float data (``$DATATYPE`` F or D) is already on scale and is left alone,
      including its ``$PnG`` (BD FACSDiva writes ``$PnG`` 0.01 for float Time,
      which is not a gain to undo).

    Why here: Gating-ML coordinates, thresholds and QC plots are all in scale
    units; a log-amplified FACSCalibur channel read as raw 0..1023 integers
    would put every gate in the wrong place.
    """
    arr = np.array(events, dtype=np.float64, copy=True)
    if arr.ndim != 2:
        raise ConfigError(f"events must be 2-D (n_events x n_channels), got shape {arr.shape}")
    datatype = (_keyword(keywords, "$DATATYPE") or "").strip().upper()
    for i in range(arr.shape[1]):
        n = i + 1
        pne = _keyword(keywords, f"$P{n}E")
        f1 = f2 = 0.0
        if pne:
            try:
                f1, f2 = (float(v) for v in pne.split(",")[:2])
            except ValueError:
                logger.warning("ignoring unreadable $P%dE=%r", n, pne)
        if f1 > 0 and datatype not in ("F", "D"):
            rng = float(_keyword(keywords, f"$P{n}R") or 0)
            if rng <= 0:
                raise ConfigError(f"$P{n}E is logarithmic but $P{n}R is missing")
            arr[:, i] = np.power(10.0, f1 * arr[:, i] / rng) * (f2 if f2 > 0 else 1.0)
            continue
        gain = _keyword(keywords, f"$P{n}G")
        if gain and datatype not in ("F", "D"):
            try:
                g = float(gain)
            except ValueError:
                logger.warning("ignoring unreadable $P%dG=%r", n, gain)
                continue
            if g not in (0.0, 1.0):
                arr[:, i] /= g
    return arr


class EventFrame:
    """Events plus channel names, with cached compensation by reference.

    ``matrices`` maps a compensation reference (e.g. a Gating-ML
    ``spectrumMatrix`` id) to a :class:`SpilloverMatrix`; ``spillover`` is the
    file's own matrix, used for the ``"FCS"`` reference. A file without a
    spillover treats ``"FCS"`` as uncompensated (as Gating-ML specifies).
    """

    def __init__(
        self,
        events: ArrayLike,
        channels: Sequence[str],
        labels: Sequence[str | None] | None = None,
        spillover: SpilloverMatrix | None = None,
        matrices: Mapping[str, SpilloverMatrix] | None = None,
        source: str = "",
    ) -> None:
        arr = np.asarray(events, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(channels):
            raise ConfigError(
                f"events have shape {arr.shape}, expected (n_events, {len(channels)})"
            )
        self.events = arr
        self.channels = tuple(str(c) for c in channels)
        self.labels = tuple("" if lab is None else str(lab) for lab in (labels or ()))
        self.spillover = spillover
        self.matrices: dict[str, SpilloverMatrix] = dict(matrices or {})
        self.source = source
        self._comp_cache: dict[str, dict[str, NDArray[np.float64]]] = {}

    @classmethod
    def from_fcs(
        cls,
        fcs: Any,
        *,
        matrices: Mapping[str, SpilloverMatrix] | None = None,
        to_scale: bool = True,
    ) -> EventFrame:
        """Build from an FCS reader result (``.events``, ``.channels``, ``.labels``,
        ``.keywords``, ``.spillover``).

        ``to_scale`` applies :func:`channel_to_scale` (``$PnE``/``$PnG``).
        """
        keywords: Mapping[str, Any] = getattr(fcs, "keywords", None) or {}
        events = np.asarray(fcs.events, dtype=np.float64)
        if to_scale:
            events = channel_to_scale(events, keywords)
        # A reader that exposes ``spillover`` has already decided (None for a
        # missing or malformed keyword); only objects without it are parsed here.
        if hasattr(fcs, "spillover"):
            spill_obj = fcs.spillover
            spill = None if spill_obj is None else SpilloverMatrix.coerce(spill_obj)
        else:
            spill = spillover_from_keywords(keywords)
        return cls(
            events,
            list(fcs.channels),
            labels=list(getattr(fcs, "labels", None) or []) or None,
            spillover=spill,
            matrices=matrices,
            source=str(getattr(fcs, "path", "") or ""),
        )

    @property
    def n_events(self) -> int:
        return int(self.events.shape[0])

    def index(self, name: str) -> int:
        """Column index of ``name`` by ``$PnN``, falling back to ``$PnS``."""
        try:
            return match_channels([name], self.channels, self.labels or None)[0]
        except CompensationError as exc:
            raise ConfigError(str(exc)) from None

    def with_matrices(self, matrices: Mapping[str, SpilloverMatrix]) -> EventFrame:
        """A frame sharing these events, with more named matrices available."""
        merged = {**self.matrices, **matrices}
        return EventFrame(
            self.events, self.channels, self.labels or None, self.spillover, merged, self.source
        )

    def _matrix(self, ref: str) -> SpilloverMatrix | None:
        if ref == FCS_REF:
            return self.spillover
        if ref in self.matrices:
            return self.matrices[ref]
        raise ConfigError(
            f"compensation reference {ref!r} is not defined; known: "
            f"{[FCS_REF, UNCOMPENSATED, *sorted(self.matrices)]}"
        )

    def _compensated(self, ref: str, sm: SpilloverMatrix) -> dict[str, NDArray[np.float64]]:
        cached = self._comp_cache.get(ref)
        if cached is not None:
            return cached
        idx = match_channels(sm.detectors, self.channels, self.labels or None)
        comp = sm.unmix(self.events[:, idx])
        cols: dict[str, NDArray[np.float64]] = {}
        for k, name in enumerate(sm.fluorochromes):
            cols[name] = comp[:, k]
        if sm.fluorochromes != sm.detectors and comp.shape[1] == len(sm.detectors):
            for k, det in enumerate(sm.detectors):
                cols.setdefault(det, comp[:, k])
        self._comp_cache[ref] = cols
        return cols

    def column(self, name: str, compensation: str | None = None) -> NDArray[np.float64]:
        """Values of ``name`` under compensation reference ``compensation``.

        A channel that the referenced matrix does not cover (scatter, time) is
        returned uncompensated, as Gating-ML prescribes.
        """
        if compensation not in _RAW_REFS:
            assert compensation is not None
            sm = self._matrix(compensation)
            if sm is not None:
                cols = self._compensated(compensation, sm)
                if name in cols:
                    return cols[name]
            elif compensation == FCS_REF:
                logger.debug("%s has no spillover; 'FCS' compensation is a no-op", self.source)
        return self.events[:, self.index(name)]

    def compensated(self, compensation: str = FCS_REF) -> NDArray[np.float64]:
        """All events with the referenced matrix applied to its channels (a new array)."""
        sm = self._matrix(compensation)
        if sm is None:
            return self.events.copy()
        out = self.events.copy()
        cols = self._compensated(compensation, sm)
        idx = match_channels(sm.detectors, self.channels, self.labels or None)
        for k, name in enumerate(sm.fluorochromes[: len(idx)]):
            out[:, idx[k]] = cols[name]
        return out
