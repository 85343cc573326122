"""Which tubes of an Rh123 efflux experiment belong together.

A P-gp functional readout is a comparison: the same cells loaded with Rh123
with and without a P-gp inhibitor (verapamil, cyclosporin A). So tubes are
grouped by everything that describes the cells and how they were treated —
``cell_line`` and every other condition column — except the columns that
describe the inhibitor itself (names starting with ``inhibitor``, such as
``inhibitor`` and ``inhibitor_uM``), which is what differs inside a pair.

This module is pure (no files, no numbers), so the pairing rules can be
tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "NO_INHIBITOR",
    "Group",
    "Tube",
    "group_tubes",
    "inhibitor_of",
    "is_inhibitor_column",
    "match_unstained",
    "pairing_columns",
]

#: ``inhibitor`` cells that mean "no inhibitor" (compared case-insensitively, stripped).
NO_INHIBITOR = frozenset({"", "none"})
CELL_LINE = "cell_line"


@dataclass(frozen=True)
class Tube:
    """What pairing needs to know about one tube (one data set of one input)."""

    sample_id: str
    role: str
    conditions: Mapping[str, str]

    def condition(self, name: str) -> str:
        """A condition cell, the column name compared case-insensitively."""
        low = name.lower()
        for k, v in self.conditions.items():
            if k.lower() == low:
                return v.strip()
        return ""


def is_inhibitor_column(name: str) -> bool:
    """Columns that describe the inhibitor (``inhibitor``, ``inhibitor_uM`` …)."""
    return name.strip().lower().startswith("inhibitor")


def inhibitor_of(tube: Tube) -> str | None:
    """The inhibitor named in the ``inhibitor`` column, or None for "without inhibitor"."""
    value = tube.condition("inhibitor")
    return None if value.lower() in NO_INHIBITOR else value


def pairing_columns(tubes: Iterable[Tube], ignore: Iterable[str] = ()) -> list[str]:
    """Condition columns, other than ``cell_line``, that define a pair (first-seen order).

    Leaves out inhibitor columns and ``ignore`` (case-insensitive).
    """
    skip = {c.strip().lower() for c in ignore} | {CELL_LINE}
    cols: dict[str, str] = {}
    for t in tubes:
        for k in t.conditions:
            low = k.strip().lower()
            if low in skip or is_inhibitor_column(k) or low in cols:
                continue
            cols[low] = k
    return list(cols.values())


def _key(tube: Tube, columns: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    cell = tube.condition(CELL_LINE) or tube.sample_id
    return cell, tuple(tube.condition(c) for c in columns)


@dataclass
class Group:
    """Tubes of one cell line under one set of conditions, split by inhibitor.

    ``label`` is the group's ``sample_id`` in records: the cell line, plus the
    pairing conditions that vary across the experiment (``"K562 (day=2)"``).
    ``treated`` maps an inhibitor's name (as first written) to its tubes.
    """

    key: tuple[str, tuple[str, ...]]
    label: str
    untreated: list[Tube] = field(default_factory=list)
    treated: dict[str, list[Tube]] = field(default_factory=dict)

    @property
    def cell_line(self) -> str:
        return self.key[0]

    def tubes(self) -> list[Tube]:
        return [*self.untreated, *(t for ts in self.treated.values() for t in ts)]


def group_tubes(tubes: Sequence[Tube], ignore: Iterable[str] = ()) -> list[Group]:
    """Group the ``sample`` tubes into pairs (first-seen order of groups)."""
    samples = [t for t in tubes if t.role == "sample"]
    columns = pairing_columns(samples, ignore)
    varying = [
        j for j, c in enumerate(columns) if len({t.condition(c) for t in samples}) > 1
    ]
    groups: dict[tuple[str, tuple[str, ...]], Group] = {}
    for t in samples:
        key = _key(t, columns)
        g = groups.get(key)
        if g is None:
            extra = ", ".join(f"{columns[j]}={key[1][j]}" for j in varying if key[1][j])
            label = f"{key[0]} ({extra})" if extra else key[0]
            g = groups[key] = Group(key, label)
        inh = inhibitor_of(t)
        if inh is None:
            g.untreated.append(t)
            continue
        name = next((n for n in g.treated if n.lower() == inh.lower()), inh)
        g.treated.setdefault(name, []).append(t)
    labels = [g.label for g in groups.values()]
    for g in groups.values():  # two groups differing only in an empty column: keep ids unique
        if labels.count(g.label) > 1:
            g.label = f"{g.key[0]} ({', '.join(f'{c}={v}' for c, v in zip(columns, g.key[1]))})"
    return list(groups.values())


def match_unstained(
    group: Group, tubes: Sequence[Tube], ignore: Iterable[str] = ()
) -> list[Tube]:
    """The unstained tubes for a group: same cell line and conditions, else same cell line."""
    unstained = [t for t in tubes if t.role == "unstained"]
    if not unstained:
        return []
    columns = pairing_columns([t for t in tubes if t.role == "sample"], ignore)
    exact = [u for u in unstained if _key(u, columns) == group.key]
    if exact:
        return exact
    return [u for u in unstained if (u.condition(CELL_LINE) or u.sample_id) == group.cell_line]
