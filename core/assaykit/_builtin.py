"""The host's own hook implementations: built-in readers and exporters.

They go through the same hooks as any plugin, so the host is its own first
plugin and nothing about readers or exporters is special-cased.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assaykit.exporters import BUILTIN_EXPORTERS, Exporter
from assaykit.hookspecs import hookimpl
from assaykit.readers import Reader, TableReader


class FCSReader(Reader):
    """Flow-cytometry FCS 2.0/3.0/3.1 files (and Beckman ``.lmd``, which are FCS inside).

    ``read`` returns a list with one :class:`assaykit.cytometry.fcs.FCSData`
    per data set, because a file may chain several through ``$NEXTDATA``
    (Guava Muse) and every one of them must be read; most files hold one.
    """

    kind = "fcs"
    suffixes = (".fcs", ".lmd")
    name = "FCS (assaykit.cytometry.fcs)"

    def read(self, path: Path) -> Any:
        from assaykit.cytometry.fcs import read_fcs_all

        return read_fcs_all(path)

    def metadata(self, path: Path) -> dict[str, str | None]:
        from assaykit.cytometry.fcs import read_fcs_metadata

        meta = read_fcs_metadata(path)
        return {"instrument": meta.instrument, "acquired_at": meta.acquired_at}


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(TableReader())
    register(FCSReader())


@hookimpl
def assaykit_register_exporters(register: Callable[[Exporter], None]) -> None:
    for cls in BUILTIN_EXPORTERS:
        register(cls())
