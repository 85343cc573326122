"""Plate-reader exports: 96- and 384-well grids from generic spreadsheets and instruments.

A science layer like :mod:`assaykit.cytometry`: it imports from assaykit only
the contract modules. ``read_plate(path)`` gives a :class:`PlateRead` (one or
several named reads, well -> value, metadata, the repairs made); each format
has a ``sniff(head) -> score | None`` for a host Reader to rank formats.

Formats: ``generic_grid`` (CSV, TSV, ``;`` with decimal comma, XLSX through
openpyxl), ``gen5`` (BioTek/Agilent Gen5 text export), ``softmax_pro``
(Molecular Devices SoftMax Pro text export, Plate format, Endpoint).
:class:`assaykit.plates.reader.PlateReader` wraps ``read_plate`` as a host
Reader (kind ``"plate"``) for a plugin to register. The dose-response fit
(:mod:`assaykit.plates.doseresponse`) and the plate generator
(:mod:`assaykit.plates.synthetic`) are imported on their own; this package
imports neither, nor openpyxl (loaded only for an xlsx).
"""

from __future__ import annotations

from assaykit.plates.gen5 import read_gen5_text, sniff_gen5
from assaykit.plates.grid import read_grid_text, sniff_grid
from assaykit.plates.model import FORMATS, PlateRead, well_names
from assaykit.plates.read import read_plate, read_xlsx, sniff, sniff_xlsx
from assaykit.plates.softmax import read_softmax_text, sniff_softmax

__all__ = [
    "FORMATS",
    "PlateRead",
    "read_gen5_text",
    "read_grid_text",
    "read_plate",
    "read_softmax_text",
    "read_xlsx",
    "sniff",
    "sniff_gen5",
    "sniff_grid",
    "sniff_softmax",
    "sniff_xlsx",
    "well_names",
]
