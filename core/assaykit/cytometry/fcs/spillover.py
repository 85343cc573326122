"""The spillover keyword of a data set (``$SPILLOVER``, ``$SPILL``, ``SPILL``).

The matrix type and its parser are :class:`~assaykit.cytometry.compensation.SpilloverMatrix`
and :func:`~assaykit.cytometry.compensation.spillover_from_keywords`; the reader
only decides what a malformed keyword means for the data set: the spillover is
ignored, with a deviation, and the file stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping

from assaykit.cytometry.compensation import (
    SPILLOVER_KEYWORDS,
    CompensationError,
    SpilloverMatrix,
    spillover_from_keywords,
)


def _parse_spillover(
    kw: Mapping[str, str], channels: list[str], labels: list[str]
) -> tuple[SpilloverMatrix | None, list[str]]:
    """The data set's spillover matrix (None when absent or malformed), and notes.

    Built with ``check=False``: a matrix that cannot compensate (singular, a
    detector named twice) is kept with its ``problem``, so reading never fails
    on it and the analysis that compensates with it does, naming the keyword.
    """
    # The reader's keyword names are upper case already: only the candidates need looking at.
    candidates = {key: kw[key] for key in SPILLOVER_KEYWORDS if key in kw}
    try:
        spill = spillover_from_keywords(candidates, id=None, check=False)
    except CompensationError as exc:
        return None, [f"{exc}; spillover ignored"]
    if spill is None:
        return None, []
    warnings: list[str] = []
    unknown = [name for name in spill.detectors if name not in channels and name not in labels]
    if unknown:
        warnings.append(f"{spill.keyword} names channel(s) {unknown} that are not in $PnN or $PnS")
    return spill, warnings
