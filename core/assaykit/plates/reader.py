"""A host Reader for plate exports, for a plugin to register (kind ``"plate"``).

Not registered by the host: a plate assay's plugin returns it from
``assaykit_register_readers``. Its ``sniff`` scores a file by content, so it
outranks the plain CSV table reader on a plate grid and stays out of the way
(``None``) on any other CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from assaykit.errors import InputError
from assaykit.plates.model import PlateRead
from assaykit.plates.read import read_plate, sniff
from assaykit.readers import Reader


class PlateReader(Reader):
    kind: ClassVar[str] = "plate"
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt", ".xlsx")
    name: ClassVar[str] = "plate-reader export (grid, Gen5, SoftMax Pro)"

    def read(self, path: Path) -> PlateRead:
        return read_plate(path)

    def sniff(self, path: Path, head: bytes) -> float | None:
        scores = sniff(head)
        return max(scores.values()) if scores else None

    def metadata(self, path: Path) -> dict[str, str | None]:
        try:
            meta = read_plate(path).metadata
        except InputError:
            return {}
        return {"instrument": meta.get("instrument"), "acquired_at": meta.get("read_time")}

    def conformance(self, path: Path) -> list[dict[str, Any]] | None:
        plate = read_plate(path)
        return [
            {
                "dataset": plate.source_format,
                "field": "well value",
                "rule": "a well holds a number",
                "found": message,
                "expected": "a number",
                "repair": "read as no value (None)",
                "message": message,
            }
            for message in plate.deviations
        ]
