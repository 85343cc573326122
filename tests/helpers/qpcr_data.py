"""Write qPCR wells as an instrument export, for tests that run the ``qpcr`` plugin."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from assaykit.qpcr.wells import Well

_TASK = {"unknown": "UNKNOWN", "ntc": "NTC", "nrt": "NRT", "standard": "STANDARD"}


def write_quantstudio(wells: Iterable[Well], path: Path) -> Path:
    """A QuantStudio 7 "Results" text export of ``wells`` (header block as the fixture's)."""
    lines = [
        "* Chemistry = SYBR_GREEN",
        "* Experiment Name = synthetic",
        "* Instrument Type = QuantStudio(TM) 7 Flex System",
        "",
        "[Results]",
        "\t".join(["Well", "Well Position", "Omit", "Sample Name", "Target Name", "Task",
                   "CT", "Quantity"]),
    ]
    for i, w in enumerate(wells, start=1):
        cq = "Undetermined" if w.cq is None else f"{w.cq:.3f}"
        q = "" if w.quantity is None else f"{w.quantity:,.3f}"
        lines.append("\t".join([str(i), w.well, "false", w.sample, w.target, _TASK[w.role],
                                cq, q]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
