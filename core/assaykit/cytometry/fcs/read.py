"""The public reader API.

:func:`read_fcs`, :func:`read_fcs_all`, :func:`read_fcs_metadata` and
:func:`read_conformance`, and the guard that turns an unforeseen low-level
failure into :class:`~assaykit.errors.FCSError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from assaykit.cytometry.fcs.datasets import _select_dataset, _walk
from assaykit.cytometry.fcs.decode import _read_events
from assaykit.cytometry.fcs.deviations import Deviation
from assaykit.cytometry.fcs.keywords import _describe
from assaykit.cytometry.fcs.results import FCSData, FCSMetadata
from assaykit.cytometry.fcs.source import StrPath, _open, _Source
from assaykit.cytometry.fcs.text import _Dataset
from assaykit.errors import FCSError

_UNEXPECTED = "unexpected parser failure"


@contextmanager
def _guard(path: StrPath) -> Iterator[None]:
    """Last resort: turn an unforeseen low-level error on malformed input into FCSError.

    Every known failure is raised explicitly with a precise reason; the
    fuzz tests assert that this marker never shows up, so reaching it means
    a missing check, not normal operation.
    """
    try:
        yield
    except (ValueError, IndexError, KeyError, OverflowError, UnicodeError) as exc:
        raise FCSError(str(path), f"{_UNEXPECTED} ({type(exc).__name__}: {exc})") from exc


def read_fcs_metadata(path: StrPath, dataset: int = 0, *, strict: bool = False) -> FCSMetadata:
    """Read only the HEADER and TEXT of one data set (cheap; no event data is read).

    A file whose events cannot be read (e.g. a truncated DATA segment) still
    yields its metadata; the reason is recorded in ``warnings`` and
    :func:`read_fcs` will raise. Deviations that only the events reveal
    (integer bits above ``$PnR``) are not seen here.
    """
    with _guard(path), _open(path, strict) as src:
        ds = _select_dataset(src, dataset)
        meta, _ = _describe(src, ds, for_metadata=True)
        return meta


def read_fcs(
    path: StrPath, dataset: int = 0, *, copy: bool = False, strict: bool = False
) -> FCSData:
    """Read one data set (the first by default; negative indices count from the end).

    ``copy=True`` guarantees the events live in memory owned by the array,
    so the file may be deleted or changed afterwards. ``strict=True`` refuses
    (:class:`FCSError` naming the field and what was expected) wherever the
    default would repair a deviation from the standard and record it in
    ``conformance``.
    """
    with _guard(path), _open(path, strict) as src:
        ds = _select_dataset(src, dataset)
        result = _read_dataset(src, ds, copy=copy)
        if ds.nextdata_hint and dataset >= 0:
            result.warnings.append(
                f"$NEXTDATA={ds.nextdata_hint} announces further data sets in this file; only "
                f"data set {ds.index} was read (read_fcs_all reads them all)"
            )
        return result


def read_fcs_all(path: StrPath, *, copy: bool = False, strict: bool = False) -> list[FCSData]:
    """Read every data set chained through ``$NEXTDATA`` (Guava Muse, Beckman ``.lmd``).

    ``strict`` as in :func:`read_fcs`.
    """
    with _guard(path), _open(path, strict) as src:
        return [_read_dataset(src, ds, copy=copy) for ds in _walk(src)]


def read_conformance(path: StrPath) -> list[Deviation]:
    """Every deviation from the standard in every data set of a file, with its repair.

    Reads the events too (some deviations only show there) and drops them.
    Raises :class:`FCSError` when the file cannot be read at all.
    """
    found: list[Deviation] = []
    for ds in read_fcs_all(path):
        found.extend(ds.conformance)
    return found


def _read_dataset(src: _Source, ds: _Dataset, copy: bool) -> FCSData:
    meta, layout = _describe(src, ds, for_metadata=False)
    assert layout is not None
    events = _read_events(src, layout, copy, ds.warnings, meta.channels)
    return FCSData(
        conformance=ds.warnings.deviations,
        path=meta.path,
        version=meta.version,
        dataset_index=meta.dataset_index,
        channels=meta.channels,
        labels=meta.labels,
        ranges=meta.ranges,
        keywords=meta.keywords,
        spillover=meta.spillover,
        n_events=int(events.shape[0]),
        datatype=meta.datatype,
        warnings=ds.warnings,
        events=events,
    )
