"""The host's own hook implementations: built-in readers and exporters.

They go through the same hooks as any plugin, so the host is its own first
plugin and nothing about readers or exporters is special-cased.
"""

from __future__ import annotations

from collections.abc import Callable

from assaykit.exporters import BUILTIN_EXPORTERS, Exporter
from assaykit.hookspecs import hookimpl
from assaykit.readers import Reader, TableReader


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(TableReader())


@hookimpl
def assaykit_register_exporters(register: Callable[[Exporter], None]) -> None:
    for cls in BUILTIN_EXPORTERS:
        register(cls())
