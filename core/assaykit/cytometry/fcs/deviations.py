"""Deviations from the standard and the repairs the reader makes (``conformance``).

Every repair is recorded as a :class:`Deviation` on the data set it belongs
to; ``strict=True`` turns each one into an :class:`~assaykit.errors.FCSError`
instead (:class:`_Notes.deviate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assaykit.errors import FCSError


@dataclass(frozen=True)
class Deviation:
    """One way a data set departs from the FCS standard, and the repair the reader made.

    Why structured: a lab (and a reviewer) must see, per file, which rule was
    broken, what the file had and what was done about it, not just that "the
    file was repaired". ``field`` is the keyword or HEADER field involved
    (``$P3B``, ``HEADER DATA offsets``), ``rule`` the standard's rule in a few
    words with its section, ``found`` what the file has, ``expected`` what
    the rule asks for and ``repair`` what the reader did instead of refusing.
    ``message`` is the full sentence also listed in ``warnings``.
    """

    field: str
    rule: str
    found: str
    expected: str
    repair: str
    message: str
    dataset_index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (store, ``run.json``, ``assaykit fcs --json``)."""
        return {
            "dataset": self.dataset_index,
            "field": self.field,
            "rule": self.rule,
            "found": self.found,
            "expected": self.expected,
            "repair": self.repair,
            "message": self.message,
        }

    def refusal(self) -> str:
        """The reason a strict reader gives instead of making this repair."""
        where = f"data set {self.dataset_index}: " if self.dataset_index else ""
        return (
            f"{where}{self.field}: expected {self.expected}, found {self.found} "
            f"({self.rule}); strict mode refuses instead of repairing it ({self.repair})"
        )


class _StrictRefusal(FCSError):
    """A repair that ``strict=True`` refused (never downgraded to a metadata warning)."""


class _Notes(list[str]):
    """The warnings of one data set, plus its structured deviations; raises when strict.

    A list of strings so that every existing ``warnings.append`` keeps working
    for notes that are not deviations (e.g. "further data sets exist"). The
    data set's ``warnings`` and ``conformance`` are this list and its
    ``deviations``, so a deviation found later (a bad ``$NEXTDATA``, while
    walking on) still reaches the data set it belongs to.
    """

    def __init__(self, path: str, index: int, strict: bool) -> None:
        super().__init__()
        self.path = path
        self.dataset_index = index
        self.strict = strict
        self.deviations: list[Deviation] = []

    def deviate(
        self, message: str, *, field: str, rule: str, found: str, expected: str, repair: str
    ) -> None:
        dev = Deviation(field, rule, found, expected, repair, message, self.dataset_index)
        if self.strict:
            raise _StrictRefusal(self.path, dev.refusal())
        self.append(message)
        self.deviations.append(dev)
