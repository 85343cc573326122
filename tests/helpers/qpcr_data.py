"""Write qPCR wells as an instrument export, for tests that run the ``qpcr`` plugin.

The writer is the example folder's (``fixtures/make_qpcr.py``), so tests and the
bundled run share one faithful QuantStudio layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from assaykit.qpcr.wells import Well

from helpers import fixturegen


def write_quantstudio(wells: Iterable[Well], path: Path) -> Path:
    """A QuantStudio 7 "Results" text export of ``wells``."""
    out: Path = fixturegen.load("make_qpcr").write_quantstudio(wells, path)
    return out
