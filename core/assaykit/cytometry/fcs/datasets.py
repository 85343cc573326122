"""Data sets chained through ``$NEXTDATA``: walking the chain, choosing one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from assaykit.cytometry.fcs.header import HEADER_SIZE
from assaykit.cytometry.fcs.source import _Source
from assaykit.cytometry.fcs.text import _Dataset, _is_uint, _read_dataset_text
from assaykit.errors import UsageError


def _next_offset(src: _Source, ds: _Dataset) -> int:
    """Absolute offset of the next data set, or 0. Raises on a bad pointer."""
    raw = ds.keywords.get("$NEXTDATA", "0").strip() or "0"
    if not _is_uint(raw):
        raise src.fail(f"$NEXTDATA={raw!r} of data set {ds.index} is not a non-negative integer")
    rel = int(raw)
    if rel == 0:
        return 0
    # FCS 3.0: "the byte offset from the beginning of a data set to the first
    # byte in the HEADER of the next data set". Offsets only move forward, so
    # a chain of data sets cannot loop.
    target = ds.base + rel
    if target + HEADER_SIZE <= src.size and src.read(target, 3, "next HEADER") == b"FCS":
        return target
    if rel > ds.base and rel + HEADER_SIZE <= src.size and src.read(rel, 3, "HEADER") == b"FCS":
        ds.warnings.deviate(
            f"$NEXTDATA={rel} is an absolute file offset, not relative to the data set start "
            f"({ds.base}) as the standard says; followed it",
            field="$NEXTDATA",
            rule="FCS 3.1 §3.2.18: $NEXTDATA is relative to the start of the data set",
            found=str(rel),
            expected=f"{rel - ds.base} (relative to byte {ds.base})",
            repair=f"followed it as an absolute offset to byte {rel}",
        )
        return rel
    raise src.fail(
        f"$NEXTDATA={rel} of data set {ds.index} points to byte {target}, where there is no FCS "
        f"HEADER (file size {src.size}): truncated file or bad pointer"
    )


def _walk(src: _Source) -> Iterator[_Dataset]:
    base, index = 0, 0
    while True:
        ds = _read_dataset_text(src, base, index)
        yield ds
        nxt = _next_offset(src, ds)
        if nxt == 0:
            return
        base, index = nxt, index + 1


def _select_dataset(src: _Source, dataset: int) -> _Dataset:
    if isinstance(dataset, bool) or not isinstance(dataset, (int, np.integer)):
        raise UsageError(f"dataset must be an integer, got {dataset!r}")
    dataset = int(dataset)
    if dataset < 0:
        every = list(_walk(src))
        if -dataset > len(every):
            raise src.fail(f"data set {dataset} requested but the file holds {len(every)}")
        return every[dataset]
    walker = _walk(src)
    for ds in walker:
        if ds.index == dataset:
            raw = ds.keywords.get("$NEXTDATA", "0").strip()
            ds.nextdata_hint = int(raw) if _is_uint(raw) else 0
            return ds
    raise src.fail(f"data set {dataset} requested but the file holds only {ds.index + 1}")
