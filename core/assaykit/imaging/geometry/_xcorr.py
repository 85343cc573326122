"""Cross-correlation shift between two profiles (lane drift for deskew, smile, registration)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def _xcorr_shift(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    max_shift: int,
    *,
    min_corr: float = 0.3,
    return_corr: bool = False,
) -> Any:
    """Shift s (px) such that b(y) ~ a(y - s); None if flat or poorly correlated.

    With ``return_corr``, returns ``(shift, correlation)``.
    """
    if np.std(a) <= 0 or np.std(b) <= 0:
        return None
    a0 = (a - a.mean()) / a.std()
    b0 = (b - b.mean()) / b.std()
    n = a0.size
    shifts = np.arange(-max_shift, max_shift + 1)
    cc = np.empty(shifts.size)
    for k, s in enumerate(shifts):
        if s >= 0:
            cc[k] = np.dot(a0[: n - s], b0[s:]) / (n - s)
        else:
            cc[k] = np.dot(a0[-s:], b0[: n + s]) / (n + s)
    i = int(np.argmax(cc))
    if cc[i] < min_corr:
        return None
    shift = float(shifts[i])
    if 0 < i < shifts.size - 1:
        y0, y1, y2 = cc[i - 1], cc[i], cc[i + 1]
        denom = y0 - 2 * y1 + y2
        if denom < 0:
            shift += 0.5 * (y0 - y2) / denom
    return (shift, float(cc[i])) if return_corr else shift
