"""The spillover keyword of a data set (``$SPILLOVER``, ``$SPILL``, ``SPILL``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assaykit.errors import UsageError

_SPILL_KEYS = ("$SPILLOVER", "$SPILL", "SPILL")


@dataclass(eq=False)
class Spillover:
    """A spillover matrix as stored in ``$SPILLOVER`` (FCS 3.1), ``$SPILL`` or ``SPILL``.

    ``matrix`` is n×n in the keyword's row-major order; row ``i`` and column
    ``i`` both belong to ``channels[i]`` (``$PnN`` names). By the usual
    convention (FlowJo, flowCore) row ``i`` is the spill of channel ``i``'s
    dye into every detector, so compensated = raw @ inv(matrix).
    """

    channels: list[str]
    matrix: npt.NDArray[np.float64]
    keyword: str = "$SPILLOVER"

    def to_keyword_value(self) -> str:
        """Format as the FCS 3.1 ``$SPILLOVER`` value ``n,name1,…,namen,f11,f12,…,fnn``."""
        matrix = np.asarray(self.matrix, dtype=np.float64)
        n = len(self.channels)
        if matrix.shape != (n, n):
            raise UsageError(f"spillover matrix has shape {matrix.shape}, expected ({n}, {n})")
        if not np.all(np.isfinite(matrix)):
            raise UsageError("spillover matrix contains NaN or infinity")
        for name in self.channels:
            if not name or "," in name:
                raise UsageError(f"spillover channel name {name!r} is empty or contains a comma")
        values = [repr(float(v)) for v in matrix.ravel()]
        return ",".join([str(n), *self.channels, *values])


def _parse_spillover(
    kw: Mapping[str, str], channels: list[str], labels: list[str]
) -> tuple[Spillover | None, list[str]]:
    for key in _SPILL_KEYS:
        text = kw.get(key, "").strip()
        if text:
            break
    else:
        return None, []
    items = [t.strip() for t in text.split(",")]
    while items and not items[-1]:
        items.pop()
    try:
        n = int(items[0])
    except ValueError:
        return None, [f"{key} does not start with a channel count ({items[0][:20]!r}); ignored"]
    if n == 0:
        return None, []
    expected = 1 + n + n * n if n > 0 else -1
    if len(items) != expected:
        return None, [
            f"{key} declares {n} channels, so 1 + n + n² = {expected} comma-separated items are "
            f"expected, but it has {len(items)}; spillover ignored"
        ]
    names = items[1 : n + 1]
    try:
        values = np.array([float(v) for v in items[n + 1 :]], dtype=np.float64)
    except ValueError as exc:
        return None, [f"{key} holds a non-numeric matrix value ({exc}); spillover ignored"]
    if not np.all(np.isfinite(values)):
        return None, [f"{key} holds NaN or infinite values; spillover ignored"]
    warnings: list[str] = []
    unknown = [name for name in names if name not in channels and name not in labels]
    if unknown:
        warnings.append(f"{key} names channel(s) {unknown} that are not in $PnN or $PnS")
    return Spillover(channels=names, matrix=values.reshape(n, n), keyword=key), warnings
