"""toy_plate: one value per well of a plate file, and a mean per group of wells.

A plate file is a CSV grid as a plate reader exports it: the first row is an
empty cell then the column numbers 1..12 (or 1..24), each further row a row
letter then one reading per well. The sheet names the well of each sample
(``well`` column, or a plate map); the table reader of the host reads the file,
once per file. Written against the public API only, as a lab would.
"""

from __future__ import annotations

from collections.abc import Callable

from assaykit import Assay, AssayResult, Experiment, Metric, Params, Table, hookimpl


class ToyPlateParams(Params):
    pass


def grid_values(table: Table) -> dict[str, str]:
    """Well name -> cell of a plate grid (``A1`` ... ``P24``)."""
    out: dict[str, str] = {}
    numbers = table.columns[1:]
    for row in table.rows:
        letter = row[0].strip().upper()
        for j, col in enumerate(numbers, start=1):
            if j < len(row):
                out[f"{letter}{int(col)}"] = row[j]
    return out


class ToyPlate(Assay):
    name = "toy_plate"
    version = "0.1.0"
    summary = "One reading per well of a plate grid, and the mean reading per group."
    input_kinds = ("table",)
    roles = ("sample", "blank")
    Params = ToyPlateParams
    metrics = (
        Metric("well", "signal", "AU", "float", "the plate reader's reading of the well"),
        Metric("group", "mean_signal", "AU", "float", "mean reading of the group's sample wells"),
        Metric("group", "n_wells", None, "int", "sample wells in the group"),
    )

    def analyze(self, experiment: Experiment, params: ToyPlateParams) -> AssayResult:
        res = AssayResult()
        groups: dict[str, list[tuple[str, float]]] = {}
        for rel, inputs in experiment.by_file().items():
            present = [i for i in inputs if not i.missing]
            if not present:
                continue
            cells = grid_values(experiment.read(present[0]))
            for inp in present:
                text = cells.get(inp.well or "", "")
                if not text:
                    res.fail_sample(inp.sample_id, f"no reading for well {inp.well}", source=rel)
                    continue
                value = float(text)
                res.add(inp.sample_id, "well", inp.well or "", "signal", value)
                group = inp.condition("group")
                if group and inp.role == "sample":
                    groups.setdefault(group, []).append((inp.sample_id, value))
        for group, members in groups.items():
            ids = [sid for sid, _ in members]
            mean = sum(v for _, v in members) / len(members)
            res.add(group, "group", group, "mean_signal", mean, from_samples=ids)
            res.add(group, "group", group, "n_wells", len(members), from_samples=ids)
        return res


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(ToyPlate())
