"""Read FCS 2.0/3.0/3.1 files into numpy, and write FCS 3.1 files.

Why our own reader: the existing Python readers each get some real files
wrong (flowio silently drops 24-bit integer data and refuses the MACSQuant
off-by-one offsets; fcsparser crashes on big-endian files under numpy 2, reads
one data set per call and trusts $TOT over the offsets), and none of them
reports *what* it repaired.
A batch pipeline needs every repair recorded next to the result and every
failure raised as one typed error, so that one bad file becomes one error row.

Versions: FCS 2.0, 3.0 and 3.1. FCS 3.2 files are read like 3.1 (with
``$BEGINDATETIME``); its per-parameter ``$PnDATATYPE`` is refused.

Rules this module follows (each one is a decision a reader has to make):

* **Offsets.** All HEADER and TEXT offsets are relative to the start of the
  data set and point at the first and the *last* byte of a segment (FCS 3.0
  §2.2.13, §3.1.1). When the HEADER gives 0 or blanks for DATA, the
  ``$BEGINDATA``/``$ENDDATA`` keywords are used (FCS 3.0 §3.1.1).
* **Size check.** The DATA segment must hold exactly ``$TOT`` × bytes per
  event. A segment that is exactly one byte longer (the end offset points
  one past the last byte, as MACSQuant writes) or one byte shorter is
  accepted with a warning, reading ``$TOT`` × bytes per event from the
  start offset. Any other mismatch raises :class:`FCSError`: the reader
  never guesses where the events are. When HEADER and TEXT disagree the
  candidate that satisfies the size check wins, with a warning. When both
  satisfy it (Beckman Coulter Cyan: 46 bytes apart) the bytes decide:
  values within ``$PnR``, a time channel that never decreases, the segment
  that starts right after TEXT (:func:`_weigh_evidence`); split or absent
  evidence is refused.
* **Integer masks.** For ``$DATATYPE/I/`` each value is ANDed with
  ``2**ceil(log2($PnR)) - 1``, i.e. the next power of two at or above
  ``$PnR``, minus one (``$PnR/1024/`` and ``$PnR/1000/`` both give 1023).
  FCS 3.0 §3.3: "Implementors should use a bit mask when reading these list
  mode parameter values"; FCS 3.1 ``$PnR``: "the value of $PnR also
  indirectly specifies the bit mask". A missing or non-positive ``$PnR``
  means no mask (warning). Values that had bits above the mask are counted
  in a warning. A ``$PnB`` that is not a whole number of bytes (FC500
  ``.LMD``: 10) is read as the next whole-byte word per value (16 bits),
  masked to ``$PnB`` bits as well, when the DATA size agrees; truly
  bit-packed DATA is refused.
* **Integer dtype.** Masked integers are returned as ``float32`` when every
  channel fits in 24 bits (float32 represents every integer below 2**24
  exactly), otherwise as ``float64`` (exact below 2**53, i.e. for every
  integer width FCS files use in practice). Downstream compensation can then
  work in floating point directly.
* **Float data** is returned in native byte order: ``float32`` for ``F``,
  ``float64`` for ``D``. ``A`` (ASCII) data become ``float64``.
* **Zero copy.** Native-order, aligned ``F``/``D`` data segments of at least
  :data:`MMAP_THRESHOLD` bytes are returned as a copy-on-write memory map of
  the file: writable, lazily paged in, and writes never reach the file.
  Everything else is read with a single ``readinto`` and converted in place
  where possible. ``copy=True`` always returns memory owned by the array.
* **TEXT end.** Bytes after the final delimiter inside the TEXT range
  (padding, or the first DATA byte when TEXT end == DATA start) are dropped
  with a warning; a TEXT range one byte short of its final delimiter is
  extended by one byte, with a warning.
* **Data sets.** ``$NEXTDATA`` is relative to the current data set (FCS 3.0).
  Offsets only move forward, so chains cannot loop; a pointer that lands on
  no HEADER is an error, except that an absolute offset which does land on
  one is followed with a warning.
* **TEXT.** The first byte is the delimiter; a doubled delimiter is an
  escaped delimiter (FCS 3.0 §3.2.7). Keywords are case-insensitive
  (§3.2.10): keys are upper-cased, values are kept verbatim. Values are
  decoded as UTF-8 (FCS 3.1), falling back to latin-1 with a warning. If a
  keyword occurs twice the last value is kept (warning when they differ).
  Supplemental TEXT (3.x) adds keywords the primary TEXT lacks.
* **Duplicate channel names** are kept as they are in ``channels``; events
  are always addressed by position. :meth:`FCSMetadata.channel_index`
  refuses an ambiguous name with a ``KeyError`` that lists the matching
  positions, and :meth:`FCSMetadata.channel_indices` returns all of them.
* **Errors.** Everything wrong with a file raises :class:`FCSError` naming
  the file and the reason. Repairs are returned in ``warnings`` and, as
  :class:`Deviation` records (rule, what the file had, what was expected,
  the repair), in ``conformance``; nothing is repaired silently (blanks
  around keyword names, a TEXT ending in a doubled delimiter included).
  ``strict=True`` raises instead of making any of these repairs. This
  module never prints.
"""

from __future__ import annotations

import io
import logging
import math
import mmap
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

from assaykit.errors import FCSError, UsageError

__all__ = [
    "MMAP_THRESHOLD",
    "Deviation",
    "FCSData",
    "FCSMetadata",
    "Spillover",
    "read_conformance",
    "read_fcs",
    "read_fcs_all",
    "read_fcs_metadata",
    "write_fcs",
]

_LOG = logging.getLogger(__name__)

StrPath = Union[str, "os.PathLike[str]"]

#: DATA segments at least this large (bytes) are memory-mapped when no
#: conversion is needed. Smaller ones are read into memory, which is as fast
#: and does not hold a file descriptor for the lifetime of the array.
MMAP_THRESHOLD = 8 * 1024 * 1024

HEADER_SIZE = 58
_SUPPORTED_VERSIONS = ("FCS2.0", "FCS3.0", "FCS3.1", "FCS3.2")
_HEADER_FIELDS = (
    "TEXT start",
    "TEXT end",
    "DATA start",
    "DATA end",
    "ANALYSIS start",
    "ANALYSIS end",
)
_HEADER_LIMIT = 99_999_999  # largest offset an 8-byte HEADER field can hold
_NATIVE_LITTLE = sys.byteorder == "little"
_SPILL_KEYS = ("$SPILLOVER", "$SPILL", "SPILL")
_PADDING = b" \x00\r\n\t"
RULE_OFFSETS = "FCS 3.1 §3.1: offsets give the first and the last byte of a segment"


# --------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------


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


@dataclass(eq=False)
class Spillover:
    """A spillover matrix as stored in ``$SPILLOVER`` (FCS 3.1), ``$SPILL`` or ``SPILL``.

    ``matrix`` is n×n in the keyword's row-major order; row ``i`` and column
    ``i`` both belong to ``channels[i]`` (``$PnN`` names). By the usual
    convention (FlowJo, flowCore) row ``i`` is the spill of channel ``i``'s
    dye into every detector, so compensated = raw @ inv(matrix).
    """

    channels: list[str]
    matrix: npt.NDArray[np.float64]
    keyword: str = "$SPILLOVER"

    def to_keyword_value(self) -> str:
        """Format as the FCS 3.1 ``$SPILLOVER`` value ``n,name1,…,namen,f11,f12,…,fnn``."""
        matrix = np.asarray(self.matrix, dtype=np.float64)
        n = len(self.channels)
        if matrix.shape != (n, n):
            raise UsageError(f"spillover matrix has shape {matrix.shape}, expected ({n}, {n})")
        if not np.all(np.isfinite(matrix)):
            raise UsageError("spillover matrix contains NaN or infinity")
        for name in self.channels:
            if not name or "," in name:
                raise UsageError(f"spillover channel name {name!r} is empty or contains a comma")
        values = [repr(float(v)) for v in matrix.ravel()]
        return ",".join([str(n), *self.channels, *values])


@dataclass(eq=False, repr=False)
class FCSMetadata:
    """Everything in one data set's HEADER and TEXT, without the events.

    ``channels`` are the ``$PnN`` short names and ``labels`` the ``$PnS``
    long names ("" when absent), both stripped of surrounding blanks.
    ``ranges`` are the ``$PnR`` values (NaN when missing). ``keywords`` holds
    every keyword with an upper-cased key and the value exactly as written.
    ``version`` is the HEADER's identifier (e.g. ``"FCS3.1"``), ``datatype``
    the ``$DATATYPE`` letter and ``n_events`` the ``$TOT`` count.
    ``warnings`` lists every repair the reader made; it is empty for a clean
    file. ``conformance`` gives each deviation from the standard behind those
    repairs as a :class:`Deviation` (rule, what the file had, the repair).
    """

    path: str
    version: str
    dataset_index: int
    channels: list[str]
    labels: list[str]
    ranges: list[float]
    keywords: dict[str, str]
    spillover: Spillover | None
    n_events: int
    datatype: str
    warnings: list[str]
    conformance: list[Deviation] = field(default_factory=list, kw_only=True)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def instrument(self) -> str | None:
        """``$CYT`` (the cytometer), or None when absent or blank."""
        value = self.keywords.get("$CYT", "").strip()
        return value or None

    @property
    def acquired_at(self) -> str | None:
        """Acquisition start as ISO 8601, from ``$BEGINDATETIME`` or ``$DATE`` + ``$BTIM``.

        Fractional seconds are dropped because their unit differs between
        versions (1/60 s in 3.0, 1/100 s in 3.1). A parseable date without a
        parseable time gives a date only; otherwise None. No time zone is
        invented: FCS 2.0–3.1 record local time.
        """
        return _acquired_at(self.keywords)

    def channel_indices(self, name_or_label: str) -> list[int]:
        """Every position whose ``$PnN`` equals the name, else whose ``$PnS`` does."""
        hits = [i for i, n in enumerate(self.channels) if n == name_or_label]
        if not hits:
            hits = [i for i, s in enumerate(self.labels) if s and s == name_or_label]
        return hits

    def channel_index(self, name_or_label: str | int) -> int:
        """Position of a channel given its ``$PnN`` name, its ``$PnS`` label or its index.

        ``$PnN`` is tried first because it is required and meant to be unique.
        Raises ``KeyError`` when nothing matches or when the name is ambiguous
        (duplicate channel names); then address the channel by position.
        """
        if isinstance(name_or_label, (int, np.integer)) and not isinstance(name_or_label, bool):
            index = int(name_or_label)
            if not -self.n_channels <= index < self.n_channels:
                raise KeyError(f"channel index {index} out of range for {self.n_channels} channels")
            return index % self.n_channels
        hits = self.channel_indices(str(name_or_label))
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise KeyError(
                f"no channel named {name_or_label!r} in {self.path}; "
                f"$PnN names: {self.channels}; $PnS labels: {[s for s in self.labels if s]}"
            )
        raise KeyError(
            f"channel name {name_or_label!r} is ambiguous in {self.path}: it names positions "
            f"{hits}; address the channel by position"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self.path!r}, version={self.version!r}, "
            f"dataset_index={self.dataset_index}, n_events={self.n_events}, "
            f"channels={self.channels!r}, warnings={len(self.warnings)})"
        )


@dataclass(eq=False, repr=False)
class FCSData(FCSMetadata):
    """One data set: the metadata plus ``events``, shape (n_events, n_channels).

    ``events`` is float32 for ``F`` data, float64 for ``D`` and ``A`` data, and
    float32 or float64 for masked ``I`` data (see the module docstring). It is
    always writable; large native files are backed by a copy-on-write map.
    """

    events: npt.NDArray[Any]

    def column(self, name_or_label: str | int) -> npt.NDArray[Any]:
        """The events of one channel (a view, not a copy)."""
        return self.events[:, self.channel_index(name_or_label)]


# --------------------------------------------------------------------------
# Public reader API
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# File access
# --------------------------------------------------------------------------


class _Source:
    """An open FCS file: bounded reads that raise FCSError instead of returning short."""

    def __init__(self, path: StrPath, strict: bool = False) -> None:
        self.path = str(path)
        self.strict = bool(strict)
        try:
            self.file: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - see close()
        except OSError as exc:
            raise FCSError(self.path, f"cannot open file: {exc.strerror or exc}") from exc
        try:
            self.size = os.fstat(self.file.fileno()).st_size
        except OSError as exc:
            self.file.close()
            raise FCSError(self.path, f"cannot stat file: {exc.strerror or exc}") from exc
        self._map: mmap.mmap | None = None

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        # The map stays alive through the arrays that view it; dropping our
        # reference lets it close when the last array goes away.
        self._map = None

    def fail(self, reason: str) -> FCSError:
        return FCSError(self.path, reason)

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.fail(
                f"{what} needs bytes {offset}..{offset + length - 1} but the file has only "
                f"{self.size} bytes (truncated?)"
            )
        try:
            self.file.seek(offset)
            data = self.file.read(length)
        except OSError as exc:
            raise self.fail(f"cannot read {what}: {exc}") from exc
        if len(data) != length:
            raise self.fail(f"file ended while reading {what}")
        return data

    def read_into(self, offset: int, length: int, what: str) -> npt.NDArray[np.uint8]:
        """Read straight into a new numpy buffer: one copy, like ``np.fromfile``."""
        if offset < 0 or offset + length > self.size:
            raise self.fail(f"{what} extends beyond the end of the file ({self.size} bytes)")
        buf = np.empty(length, dtype=np.uint8)
        view = buf.data
        done = 0
        try:
            self.file.seek(offset)
            while done < length:
                n = self.file.readinto(view[done:])
                if not n:
                    break
                done += n
        except OSError as exc:
            raise self.fail(f"cannot read {what}: {exc}") from exc
        if done != length:
            raise self.fail(f"file ended while reading {what} ({done} of {length} bytes)")
        return buf

    def mapped(self) -> mmap.mmap | None:
        """A private (copy-on-write) map of the whole file, or None if mapping fails."""
        if self._map is None:
            kwargs: dict[str, Any] = {"access": mmap.ACCESS_COPY}
            if sys.version_info >= (3, 13):
                kwargs["trackfd"] = False  # do not hold a descriptor per live array
            try:
                self._map = mmap.mmap(self.file.fileno(), 0, **kwargs)
            except (OSError, ValueError) as exc:
                _LOG.debug("mmap of %s failed (%s); reading instead", self.path, exc)
                return None
        return self._map


def _open(path: StrPath, strict: bool = False) -> _Source:
    return _Source(path, strict)


# --------------------------------------------------------------------------
# HEADER and TEXT
# --------------------------------------------------------------------------


@dataclass
class _Dataset:
    """One data set's HEADER offsets and parsed TEXT, before interpretation."""

    index: int
    base: int
    version: str
    offsets: list[int]
    keywords: dict[str, str]
    warnings: _Notes
    text_range: tuple[int, int] = (0, 0)  # primary TEXT as repaired, relative offsets
    nextdata_hint: int = 0


def _parse_header(src: _Source, base: int, index: int) -> tuple[str, list[int]]:
    where = f"data set {index}" if index else "file"
    if base + HEADER_SIZE > src.size:
        if index == 0:
            raise src.fail(
                f"file is {src.size} bytes, shorter than the {HEADER_SIZE}-byte FCS HEADER"
            )
        raise src.fail(f"HEADER of data set {index} at byte {base} lies beyond the end of file")
    raw = src.read(base, HEADER_SIZE, f"HEADER of {where}")
    magic = raw[:6]
    if not magic.startswith(b"FCS"):
        raise src.fail(
            f"not an FCS {where}: expected 'FCS' at byte {base}, found {magic!r}"
            + ("" if index == 0 else " (bad $NEXTDATA?)")
        )
    version = magic.decode("ascii", errors="replace")
    if version not in _SUPPORTED_VERSIONS:
        raise src.fail(
            f"unsupported FCS version {version!r} in {where}; supported: FCS2.0, FCS3.0, "
            "FCS3.1 (and FCS3.2 read as 3.1)"
        )
    offsets: list[int] = []
    for i, name in enumerate(_HEADER_FIELDS):
        lo = 10 + 8 * i
        field = raw[lo : lo + 8].strip(_PADDING)
        if not field:
            offsets.append(0)
        elif field.isdigit():
            offsets.append(int(field))
        else:
            raise src.fail(
                f"HEADER field '{name}' (bytes {lo}-{lo + 7}) of {where} is not a number: "
                f"{raw[lo : lo + 8]!r}"
            )
    return version, offsets


def _split_tokens(body: bytes, delim: bytes, lenient: bool) -> list[bytes]:
    """Split TEXT into alternating keys and values.

    Strict (the standard): a doubled delimiter is an escaped delimiter, read
    left to right, since empty keywords and values are not allowed.
    Lenient (non-conformant writers): every delimiter separates, so a doubled
    delimiter is an empty value.
    """
    if lenient:
        tokens = body.split(delim)
    else:
        tokens = []
        for i, chunk in enumerate(body.split(delim + delim)):
            pieces = chunk.split(delim)
            if i:
                tokens[-1] += delim + pieces[0]
                tokens.extend(pieces[1:])
            else:
                tokens.extend(pieces)
    if tokens and tokens[-1] == b"":
        tokens.pop()  # after the final delimiter
    return tokens


def _tokens_ok(tokens: list[bytes], delim: bytes) -> bool:
    if len(tokens) % 2:
        return False
    return all(key.strip(_PADDING) and delim not in key for key in tokens[0::2])


def _trailing_run(raw: bytes, delim: bytes) -> int:
    """How many delimiters the TEXT ends with (its leading delimiter excluded)."""
    body = raw[1:]
    return len(body) - len(body.rstrip(delim))


def _parse_text(raw: bytes, delim: bytes, what: str, warnings: _Notes) -> dict[str, str]:
    """Parse one TEXT segment (starting with its delimiter) into a keyword dict."""
    run = _trailing_run(raw, delim)
    if run >= 2 and run % 2 == 0 and len(raw) > run + 1:
        # A doubled delimiter is an escape, so an even run at the end would leave
        # the TEXT without its final delimiter and the last value ending in a
        # delimiter ('1567/'). The TEXT must end with a delimiter, so one of the
        # run is a stray extra delimiter (Accuri C6 ends TEXT with '//').
        last = raw[1:].rstrip(delim).rsplit(delim, 1)[-1][-20:]
        warnings.deviate(
            f"{what} ends with {run} delimiters ({raw[-(run + 8) :]!r}): an even run would make "
            f"the last value end in {delim!r} and leave TEXT without its final delimiter; read "
            "the last delimiter as a stray extra one",
            field="TEXT end",
            rule="FCS 3.1 §3.2.7: TEXT ends with one delimiter; a doubled delimiter is an escape",
            found=f"TEXT ending {raw[-(len(last) + run) :].decode('latin-1')!r}",
            expected=f"one final delimiter {delim.decode('latin-1')!r}",
            repair=f"dropped one trailing {delim.decode('latin-1')!r}; last value read as "
            f"{last.decode('latin-1')!r}",
        )
        raw = raw[:-1]
    tokens = _split_tokens(raw[1:], delim, lenient=False)
    if not _tokens_ok(tokens, delim):
        lenient = _split_tokens(raw[1:], delim, lenient=True)
        if _tokens_ok(lenient, delim):
            warnings.deviate(
                f"{what} has empty keyword values written as doubled delimiters (not allowed "
                "by the standard, where a doubled delimiter is an escape); read them as empty",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: keyword values may not be empty; a doubled delimiter is "
                "an escape",
                found="empty values written as doubled delimiters",
                expected="non-empty values",
                repair="read every delimiter as a separator, giving empty values",
            )
            tokens = lenient
        elif len(tokens) % 2:
            warnings.deviate(
                f"{what} has an odd number of keyword/value items; the trailing item "
                f"{tokens[-1][:40]!r} was ignored",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: TEXT is a list of keyword/value pairs",
                found=f"an odd number of items, the last {tokens[-1][:40]!r}",
                expected="an even number of items",
                repair="ignored the trailing item",
            )
            tokens = tokens[:-1]

    result: dict[str, str] = {}
    not_utf8: list[str] = []
    padded: list[str] = []
    for i in range(0, len(tokens), 2):
        token = tokens[i]
        stripped = token.strip(_PADDING)
        key = stripped.decode("latin-1").upper()
        if not key:
            warnings.deviate(
                f"{what} has an empty keyword; its value was ignored",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: keywords may not be empty",
                found=f"an empty keyword with value {tokens[i + 1][:40]!r}",
                expected="a keyword name",
                repair="ignored the value",
            )
            continue
        if len(stripped) != len(token):
            padded.append(token.decode("latin-1"))
        try:
            value = tokens[i + 1].decode("utf-8")
        except UnicodeDecodeError:
            value = tokens[i + 1].decode("latin-1")
            not_utf8.append(key)
        if key in result and result[key] != value:
            warnings.deviate(
                f"keyword {key} appears more than once in {what} with different values "
                f"({result[key]!r}, {value!r}); the last one is used",
                field=key,
                rule="FCS 3.1 §3.2.9: each keyword occurs once",
                found=f"two values {result[key]!r} and {value!r}",
                expected="one value",
                repair="used the last value",
            )
        result[key] = value
    if padded:
        shown = ", ".join(repr(p) for p in padded[:5]) + (" …" if len(padded) > 5 else "")
        warnings.deviate(
            f"{len(padded)} keyword name(s) in {what} have blanks or control characters around "
            f"them ({shown}); stripped them",
            field=", ".join(p.strip(_PADDING.decode()) for p in padded[:5]),
            rule="FCS 3.1 §3.2.9: a keyword is exactly the text between two delimiters",
            found=shown,
            expected="keyword names without surrounding blanks",
            repair="stripped the blanks",
        )
    if not_utf8:
        shown = ", ".join(not_utf8[:5]) + (" …" if len(not_utf8) > 5 else "")
        warnings.deviate(
            f"{len(not_utf8)} value(s) in {what} are not valid UTF-8 ({shown}); decoded as latin-1",
            field=shown,
            rule="FCS 3.1 §3.2.8: TEXT is UTF-8",
            found="bytes that are not valid UTF-8",
            expected="UTF-8 text",
            repair="decoded those values as latin-1",
        )
    return result


def _read_text_segment(
    src: _Source,
    ds_base: int,
    start: int,
    end: int,
    what: str,
    warnings: _Notes,
    delim: bytes | None,
) -> tuple[bytes, bytes] | None:
    """Return (raw TEXT ending with its delimiter, delimiter); repairs trailing offsets.

    With ``delim`` given (supplemental TEXT) problems are warnings and None is
    returned; for the primary TEXT they raise.
    """
    primary = delim is None
    if ds_base + end == src.size:
        warnings.deviate(
            f"{what} end offset {end} is one past the last byte of the file; used {end - 1}",
            field=f"{what} end offset",
            rule=RULE_OFFSETS,
            found=str(end),
            expected=f"at most {src.size - ds_base - 1} (the last byte of the file)",
            repair=f"used {end - 1}",
        )
        end -= 1
    if ds_base + end >= src.size:
        msg = (
            f"{what} (bytes {start}-{end}) extends beyond the end of the file "
            f"({src.size} bytes): truncated?"
        )
        if primary:
            raise src.fail(msg)
        warnings.deviate(
            msg + "; ignored",
            field=f"{what} offsets",
            rule=RULE_OFFSETS,
            found=f"{start}-{end}",
            expected=f"a segment inside the file ({src.size} bytes)",
            repair="ignored the supplemental TEXT",
        )
        return None
    raw = src.read(ds_base + start, end - start + 1, what)
    first = raw[:1]
    if primary:
        if not first or not 1 <= first[0] <= 126:
            raise src.fail(
                f"{what} does not start with a delimiter (an ASCII character 1-126): "
                f"found {first!r} at byte {start}"
            )
        delim = first
    elif first != delim:
        warnings.deviate(
            f"{what} at bytes {start}-{end} does not start with the TEXT delimiter {delim!r} "
            f"(found {raw[:8]!r}); it is not a TEXT segment and was ignored",
            field="$BEGINSTEXT/$ENDSTEXT",
            rule="FCS 3.1 §3.2: supplemental TEXT starts with the TEXT delimiter",
            found=repr(raw[:8]),
            expected=repr((delim or b"").decode("latin-1")),
            repair="ignored the supplemental TEXT",
        )
        return None
    assert delim is not None
    if raw[-1:] != delim:
        stripped = raw.rstrip(_PADDING.replace(delim, b""))
        if len(stripped) > 1 and stripped[-1:] == delim:
            warnings.deviate(
                f"{what} end offset {end} includes {len(raw) - len(stripped)} byte(s) of padding "
                f"after the final delimiter (off by {len(raw) - len(stripped)}); ignored them",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=str(start + len(stripped) - 1) + " (the final delimiter)",
                repair="ignored the padding",
            )
            raw = stripped
        elif len(raw) > 2 and raw[-2:-1] == delim:
            # The end offset names the byte after the final delimiter, often the
            # first DATA byte (TEXT end == DATA start, as some writers do).
            warnings.deviate(
                f"{what} end offset {end} is one past the final delimiter (off by one); "
                f"ignored the extra byte {raw[-1:]!r}",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=f"{end - 1} (the final delimiter)",
                repair=f"ignored the extra byte {raw[-1:]!r}",
            )
            raw = raw[:-1]
        elif ds_base + end + 1 < src.size and src.read(ds_base + end + 1, 1, what) == delim:
            warnings.deviate(
                f"{what} end offset {end} is one byte short of the final delimiter; used {end + 1}",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=f"{end + 1} (the final delimiter)",
                repair=f"used {end + 1}",
            )
            raw += delim
        else:
            warnings.deviate(
                f"{what} does not end with its delimiter; the last keyword value may be truncated",
                field=f"{what} end",
                rule="FCS 3.1 §3.2.7: TEXT ends with its delimiter",
                found=repr(raw[-8:]),
                expected=f"a final {delim.decode('latin-1')!r}",
                repair="read the last value up to the end offset (it may be truncated)",
            )
            raw += delim
    return raw, delim


def _read_dataset_text(src: _Source, base: int, index: int) -> _Dataset:
    version, offsets = _parse_header(src, base, index)
    warnings = _Notes(src.path, index, src.strict)
    where = "TEXT" if index == 0 else f"TEXT of data set {index}"
    start, end = offsets[0], offsets[1]
    if start == 0 and end == 0:
        raise src.fail(f"HEADER gives no offsets for the {where} segment")
    if start < HEADER_SIZE:
        raise src.fail(f"{where} start offset {start} lies inside the {HEADER_SIZE}-byte HEADER")
    if end <= start:
        raise src.fail(f"{where} end offset {end} is not after its start offset {start}")
    got = _read_text_segment(src, base, start, end, where, warnings, None)
    assert got is not None
    raw, delim = got
    keywords = _parse_text(raw, delim, where, warnings)
    text_range = (start, min(end, start + len(raw) - 1))

    if version != "FCS2.0":
        _merge_supplemental(src, base, keywords, delim, where, warnings)
    return _Dataset(index, base, version, offsets, keywords, warnings, text_range)


def _merge_supplemental(
    src: _Source, base: int, keywords: dict[str, str], delim: bytes, where: str, warnings: _Notes
) -> None:
    b = _plain_int(keywords.get("$BEGINSTEXT"))
    e = _plain_int(keywords.get("$ENDSTEXT"))
    if b is None or e is None:
        if keywords.get("$BEGINSTEXT", "").strip() or keywords.get("$ENDSTEXT", "").strip():
            warnings.deviate(
                "$BEGINSTEXT/$ENDSTEXT are not integers; supplemental TEXT ignored",
                field="$BEGINSTEXT/$ENDSTEXT",
                rule="FCS 3.1 §3.2.20: $BEGINSTEXT/$ENDSTEXT are byte offsets",
                found=f"{keywords.get('$BEGINSTEXT')!r}, {keywords.get('$ENDSTEXT')!r}",
                expected="two non-negative integers",
                repair="ignored the supplemental TEXT",
            )
        return
    if b == 0 and e == 0:
        return
    what = "supplemental " + where
    if b < HEADER_SIZE or e <= b:
        warnings.deviate(
            f"{what} offsets {b}-{e} are invalid; ignored",
            field="$BEGINSTEXT/$ENDSTEXT",
            rule=RULE_OFFSETS,
            found=f"{b}-{e}",
            expected=f"a range after the {HEADER_SIZE}-byte HEADER",
            repair="ignored the supplemental TEXT",
        )
        return
    got = _read_text_segment(src, base, b, e, what, warnings, delim)
    if got is None:
        return
    extra = _parse_text(got[0], delim, what, warnings)
    for key, value in extra.items():
        if key not in keywords:
            keywords[key] = value
        elif keywords[key] != value:
            warnings.deviate(
                f"keyword {key} differs between primary ({keywords[key]!r}) and supplemental "
                f"({value!r}) TEXT; the primary value is used",
                field=key,
                rule="FCS 3.1 §3.2.9: each keyword occurs once",
                found=f"primary {keywords[key]!r}, supplemental {value!r}",
                expected="one value",
                repair="used the primary value",
            )


def _is_uint(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() rejects."""
    return text.isascii() and text.isdigit()


def _plain_int(value: str | None) -> int | None:
    if value is None:
        return None
    s = value.strip()
    return int(s) if _is_uint(s) else None


# --------------------------------------------------------------------------
# Data sets and $NEXTDATA
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Interpreting the TEXT: channels, types, layout
# --------------------------------------------------------------------------


@dataclass
class _Layout:
    tot: int
    par: int
    datatype: str
    little: bool
    widths: list[int]  # bytes (I/F/D) or characters (A); 0 = free-format ASCII
    masks: list[int | None]
    out_dtype: type[np.floating[Any]]
    start: int = 0  # absolute offset of the first DATA byte
    length: int = 0  # bytes to read


def _kw(keywords: Mapping[str, str], key: str) -> str | None:
    value = keywords.get(key)
    if value is None or not value.strip():
        return None
    return value.strip()


def _int_kw(src: _Source, keywords: Mapping[str, str], key: str, minimum: int = 0) -> int | None:
    value = _kw(keywords, key)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = math.nan
        if not as_float.is_integer():
            raise src.fail(f"{key}={value!r} is not an integer") from None
        number = int(as_float)
    if number < minimum:
        raise src.fail(f"{key}={value!r} must be at least {minimum}")
    return number


def _describe(src: _Source, ds: _Dataset, for_metadata: bool) -> tuple[FCSMetadata, _Layout | None]:
    """Interpret keywords. For metadata, reasons the events are unreadable become warnings."""
    kw = ds.keywords
    warnings = ds.warnings
    par = _int_kw(src, kw, "$PAR", minimum=1)
    if par is None:
        raise src.fail("required keyword $PAR (number of parameters) is missing")
    if par > len(kw):
        raise src.fail(f"$PAR={par} but the TEXT holds only {len(kw)} keywords")

    channels: list[str] = []
    labels: list[str] = []
    ranges: list[float] = []
    unnamed: list[int] = []
    bad_ranges: list[str] = []
    for n in range(1, par + 1):
        name = _kw(kw, f"$P{n}N")
        if name is None:
            unnamed.append(n)
            name = f"P{n}"
        channels.append(name)
        labels.append(_kw(kw, f"$P{n}S") or "")
        r = _kw(kw, f"$P{n}R")
        try:
            ranges.append(float(r) if r is not None else math.nan)
        except ValueError:
            ranges.append(math.nan)
        if r is None or not math.isfinite(ranges[-1]):
            bad_ranges.append(f"$P{n}R={r!r}")
    if unnamed:
        warnings.deviate(
            f"$PnN (channel name) missing for parameter(s) {unnamed}; named them 'P<n>'",
            field=", ".join(f"$P{n}N" for n in unnamed[:5]),
            rule="FCS 3.1 §3.2.18: $PnN is required",
            found="missing",
            expected="a channel name",
            repair="named them 'P<n>'",
        )
    if bad_ranges:
        warnings.deviate(
            f"missing or non-numeric ranges: {', '.join(bad_ranges)}; recorded as NaN",
            field=", ".join(b.split("=")[0] for b in bad_ranges[:5]),
            rule="FCS 3.1 §3.2.18: $PnR is required and numeric",
            found=", ".join(bad_ranges[:5]),
            expected="a number",
            repair="recorded the range as NaN",
        )

    datatype = (_kw(kw, "$DATATYPE") or "").upper()
    tot = _int_kw(src, kw, "$TOT")
    spill, spill_warnings = _parse_spillover(kw, channels, labels)
    for note in spill_warnings:
        key = note.split(" ", 1)[0]
        warnings.deviate(
            note,
            field=key,
            rule="FCS 3.1 §3.2.18 $SPILLOVER: n, then n $PnN names, then n×n numbers",
            found=note.split(" ", 1)[1],
            expected="a well-formed matrix naming this file's channels",
            repair="ignored the spillover" if note.endswith("ignored") else "kept it as written",
        )

    layout: _Layout | None = None
    unreadable: FCSError | None = None
    try:
        layout = _layout(src, ds, par, tot, datatype, ranges, channels)
    except FCSError as exc:
        if not for_metadata or tot is None or isinstance(exc, _StrictRefusal):
            raise
        unreadable = exc
    if unreadable is not None:
        warnings.append(f"events cannot be read: {unreadable.reason}")
    if layout is not None:
        tot = layout.tot
    assert tot is not None
    meta = FCSMetadata(
        conformance=warnings.deviations,
        path=src.path,
        version=ds.version,
        dataset_index=ds.index,
        channels=channels,
        labels=labels,
        ranges=ranges,
        keywords=kw,
        spillover=spill,
        n_events=tot,
        datatype=datatype,
        warnings=warnings,
    )
    return meta, layout


def _layout(
    src: _Source,
    ds: _Dataset,
    par: int,
    tot: int | None,
    datatype: str,
    ranges: list[float],
    channels: list[str],
) -> _Layout:
    kw = ds.keywords
    warnings = ds.warnings
    mode = (_kw(kw, "$MODE") or "").upper()
    if mode and mode != "L":
        raise src.fail(f"$MODE={mode!r}: only list mode (L) is supported, not histograms")
    if not mode and ds.version != "FCS3.2":
        warnings.deviate(
            "required keyword $MODE is missing; assumed list mode (L)",
            field="$MODE",
            rule="FCS 3.1 §3.2.18: $MODE is required",
            found="missing",
            expected="L (list mode)",
            repair="assumed list mode",
        )

    if datatype not in ("I", "F", "D", "A"):
        if not datatype:
            raise src.fail("required keyword $DATATYPE (I, F, D or A) is missing")
        raise src.fail(f"$DATATYPE={kw.get('$DATATYPE')!r} is invalid; expected I, F, D or A")
    per_type = {(_kw(kw, f"$P{n}DATATYPE") or datatype).upper() for n in range(1, par + 1)}
    if per_type != {datatype}:
        raise src.fail(f"per-parameter data types $PnDATATYPE {sorted(per_type)} are not supported")

    bits_raw = [_kw(kw, f"$P{n}B") for n in range(1, par + 1)]
    missing = [f"$P{n}B" for n, b in enumerate(bits_raw, 1) if b is None]
    if missing:
        raise src.fail(f"required keyword(s) {', '.join(missing[:5])} (bits per value) missing")

    widths: list[int] = []
    bits: list[int] = []
    masks: list[int | None] = []
    out_dtype: type[np.floating[Any]] = np.float64
    if datatype == "A":
        if all(b == "*" for b in bits_raw):
            widths = [0] * par
        elif any(b == "*" for b in bits_raw):
            raise src.fail("$DATATYPE A mixes fixed ($PnB=n) and free ($PnB=*) formats")
        else:
            widths = [_int_kw(src, kw, f"$P{n}B", minimum=1) or 0 for n in range(1, par + 1)]
        masks = [None] * par
    else:
        bits = [_int_kw(src, kw, f"$P{n}B", minimum=1) or 0 for n in range(1, par + 1)]
        if datatype in ("F", "D"):
            want = 32 if datatype == "F" else 64
            odd = sorted({b for b in bits if b != want})
            if odd:
                warnings.deviate(
                    f"$DATATYPE {datatype} stores {want}-bit values but $PnB gives {odd}; "
                    f"read {want}-bit values",
                    field="$PnB",
                    rule=f"FCS 3.1 §3.2.18: $PnB is {want} for $DATATYPE/{datatype}/",
                    found=", ".join(str(b) for b in odd),
                    expected=str(want),
                    repair=f"read {want}-bit values",
                )
            widths = [want // 8] * par
            masks = [None] * par
            out_dtype = np.float32 if datatype == "F" else np.float64
        else:
            bad = sorted({b for b in bits if b > 64})
            if bad:
                raise src.fail(
                    f"$DATATYPE I with $PnB={bad}: only widths up to 64 bits are supported"
                )
            # $PnB that is not a whole number of bytes (Beckman Coulter FC500 .LMD:
            # 10) is taken to mean each value sits in the next whole-byte word, as
            # flowCore and FlowJo read it; _locate_data checks that the DATA size
            # agrees, and truly bit-packed data is refused there.
            storage = [-(-b // 8) * 8 for b in bits]
            widths = [w // 8 for w in storage]
            masks, eff_bits = _int_masks(storage, bits, ranges, channels, warnings)
            out_dtype = np.float32 if max(eff_bits) <= 24 else np.float64

    little = _byte_order(src, kw, widths, datatype)
    layout = _Layout(
        tot=tot if tot is not None else -1,
        par=par,
        datatype=datatype,
        little=little,
        widths=widths,
        masks=masks,
        out_dtype=out_dtype,
    )
    unpacked = [(n, b) for n, b in enumerate(bits, 1) if b % 8] if datatype == "I" else []
    try:
        _locate_data(src, ds, layout, tot)
    except FCSError as exc:
        if not unpacked or isinstance(exc, _StrictRefusal):
            raise
        raise src.fail(
            f"{exc.reason} (with $PnB={sorted({b for _, b in unpacked})}, not a whole number of "
            "bytes, each value was taken to fill a whole-byte word; bit-packed DATA is not "
            "supported)"
        ) from None
    if unpacked:
        shown = ", ".join(f"$P{n}B={b}" for n, b in unpacked[:5])
        word = sorted({-(-b // 8) * 8 for _, b in unpacked})
        warnings.deviate(
            f"$DATATYPE I with {shown}{' …' if len(unpacked) > 5 else ''}: values are not a "
            f"whole number of bytes, and the DATA segment holds one {'/'.join(map(str, word))}-"
            "bit word per value; read the words and kept the low $PnB bits",
            field=", ".join(f"$P{n}B" for n, _ in unpacked[:5]),
            rule="FCS 3.1 §3.2.18: $PnB for $DATATYPE/I/ is a multiple of 8 (bits per value "
            "in DATA)",
            found=shown,
            expected="8, 16, 24, 32 or 64 (or DATA packed at $PnB bits per value)",
            repair=f"read {'/'.join(map(str, word))}-bit words masked to $PnB bits (and $PnR)",
        )
    return layout


def _int_masks(
    storage: list[int],
    bits: list[int],
    ranges: list[float],
    channels: list[str],
    warnings: _Notes,
) -> tuple[list[int | None], list[int]]:
    """Bit mask per channel: next power of two at or above $PnR, minus one, within $PnB bits.

    ``storage`` is the width of the word each value is read from, ``bits``
    the declared ``$PnB`` (smaller when values sit in wider words).
    """
    masks: list[int | None] = []
    effective: list[int] = []
    unmasked: list[str] = []
    for word, b, r, name in zip(storage, bits, ranges, channels):
        keep = b
        if not math.isfinite(r) or r <= 0:
            if b >= word:
                unmasked.append(name)
        else:
            keep = min(b, (math.ceil(r) - 1).bit_length())
        if keep >= word:
            masks.append(None)
            effective.append(word)
        else:
            masks.append((1 << keep) - 1)
            effective.append(keep)
    if unmasked:
        warnings.deviate(
            f"no usable $PnR for integer channel(s) {unmasked}; values were not bit-masked",
            field=", ".join(unmasked[:5]) + " $PnR",
            rule="FCS 3.1 §3.2.18: $PnR (the range, which sets the bit mask) is required",
            found="missing or not positive",
            expected="a positive number",
            repair="did not bit-mask the values",
        )
    return masks, effective


def _byte_order(src: _Source, kw: Mapping[str, str], widths: list[int], datatype: str) -> bool:
    """True for little-endian. Accepts 1,2,3,4 / 4,3,2,1 and the 2.0-era 1,2 / 2,1."""
    value = _kw(kw, "$BYTEORD")
    needs_order = datatype != "A" and any(w > 1 for w in widths)
    if value is None:
        if needs_order:
            raise src.fail("required keyword $BYTEORD (byte order) is missing")
        return True
    parts = [p.strip() for p in value.split(",")]
    if not all(_is_uint(p) for p in parts):
        raise src.fail(f"$BYTEORD={value!r} is not a comma-separated list of byte numbers")
    order = [int(p) for p in parts]
    if order == list(range(1, len(order) + 1)):
        return True
    if order == list(range(len(order), 0, -1)):
        return False
    if not needs_order:
        return True
    raise src.fail(
        f"$BYTEORD={value!r} (mixed byte order) is not supported; expected 1,2,3,4 or 4,3,2,1"
    )


def _locate_data(src: _Source, ds: _Dataset, lay: _Layout, tot: int | None) -> None:
    """Find the DATA segment and check it against $TOT; fills lay.start/length/tot."""
    kw = ds.keywords
    warnings = ds.warnings
    base = ds.base
    header = (ds.offsets[2], ds.offsets[3])
    text: tuple[int, int] | None = None
    tb, te = _kw(kw, "$BEGINDATA"), _kw(kw, "$ENDDATA")
    if tb is not None and te is not None:
        if _is_uint(tb) and _is_uint(te):
            text = (int(tb), int(te))
        else:
            warnings.deviate(
                f"$BEGINDATA/$ENDDATA ({tb!r}, {te!r}) are not integers; ignored",
                field="$BEGINDATA/$ENDDATA",
                rule="FCS 3.1 §3.2.18: $BEGINDATA/$ENDDATA are byte offsets",
                found=f"{tb!r}, {te!r}",
                expected="two non-negative integers",
                repair="used the HEADER's DATA offsets",
            )
    free_ascii = lay.datatype == "A" and lay.widths[0] == 0
    bpe = sum(lay.widths)
    available = src.size - base

    candidates: list[tuple[str, int, int]] = []
    if header != (0, 0):
        candidates.append(("HEADER", *header))
    if text is not None and text != (0, 0) and text != header:
        candidates.append(("TEXT $BEGINDATA/$ENDDATA", *text))
    if header != (0, 0) and text is not None and text != (0, 0) and text != header:
        disagreement = (
            f"HEADER (bytes {header[0]}-{header[1]}) and TEXT $BEGINDATA/$ENDDATA "
            f"({text[0]}-{text[1]}) disagree on the DATA segment"
        )
    else:
        disagreement = ""

    if tot is None:
        if ds.version != "FCS2.0":
            raise src.fail("required keyword $TOT (number of events) is missing")
        if not candidates or free_ascii or bpe == 0:
            raise src.fail("$TOT is missing and the DATA segment size cannot give it")
        name, s, e = candidates[0]
        length = e - s + 1
        if length <= 0 or length % bpe:
            raise src.fail(
                f"$TOT is missing and the DATA segment ({length} bytes) is not a whole number "
                f"of {bpe}-byte events"
            )
        tot = length // bpe
        warnings.deviate(
            f"$TOT is missing; derived {tot} events from the DATA segment size",
            field="$TOT",
            rule="FCS 2.0 §3.2: $TOT (number of events) should be given",
            found="missing",
            expected="the number of events",
            repair=f"derived {tot} events from the DATA segment size",
        )
    lay.tot = tot

    if free_ascii:
        if not candidates:
            raise src.fail("no DATA segment offsets in HEADER or TEXT")
        name, s, e = candidates[0]
        if s < HEADER_SIZE or e < s or e >= available:
            raise src.fail(f"DATA segment {s}-{e} ({name}) lies outside the file")
        lay.start, lay.length = base + s, e - s + 1
        return

    need = tot * bpe
    if need == 0:
        lay.start, lay.length = base, 0
        return
    if need > available:
        raise src.fail(
            f"$TOT={tot} events × {bpe} bytes per event = {need} bytes, but the data set has "
            f"only {available} bytes (truncated file or corrupt $TOT/$PAR/$PnB)"
        )
    if not candidates:
        raise src.fail(
            "no DATA segment offsets: HEADER gives 0 and $BEGINDATA/$ENDDATA are missing"
        )

    fits: list[tuple[int, str, int, int]] = []  # (|off by|, name, start, length)
    reasons: list[str] = []
    for name, s, e in candidates:
        length = e - s + 1
        if s < HEADER_SIZE:
            reasons.append(f"{name} start {s} lies inside the HEADER")
            continue
        t_start, t_end = ds.text_range
        if s <= t_end and s + need - 1 >= t_start:
            reasons.append(
                f"{name} DATA segment {s}-{s + need - 1} overlaps the TEXT segment "
                f"({t_start}-{t_end})"
            )
            continue
        if length - need not in (-1, 0, 1):
            reasons.append(f"{name} gives {s}-{e} = {length} bytes")
            continue
        if base + s + need > src.size:
            reasons.append(
                f"{name} DATA segment {s}-{s + need - 1} runs past the end of the file "
                f"({src.size} bytes): truncated?"
            )
            continue
        fits.append((abs(length - need), name, s, length))
    if not fits:
        raise src.fail(
            f"DATA segment does not match $TOT={tot} × {bpe} bytes per event = {need} bytes: "
            + "; ".join(reasons)
        )
    fits.sort()
    off_by, name, s, length = fits[0]
    exact = [f for f in fits if f[0] == 0]
    why = "it matches $TOT × bytes per event"
    if len(exact) > 1 and len({f[2] for f in exact}) > 1:
        name, s, length, why = _weigh_evidence(src, ds, lay, exact, need, disagreement)
    if disagreement:
        warnings.deviate(
            f"{disagreement}; used {name} because {why}",
            field="HEADER DATA offsets, $BEGINDATA/$ENDDATA",
            rule="FCS 3.1 §3.2.18: $BEGINDATA/$ENDDATA duplicate the HEADER's DATA offsets",
            found=f"HEADER {header[0]}-{header[1]}, TEXT {text[0] if text else 0}-"
            f"{text[1] if text else 0}",
            expected="the same offsets in both",
            repair=f"used {name} because {why}",
        )
    if off_by:
        end = s + length - 1
        direction = "one past the last byte" if length > need else "one byte short"
        warnings.deviate(
            f"DATA end offset {end} ({name}) is {direction} of $TOT × bytes per event "
            f"({need} bytes from {s}); read exactly {need} bytes",
            field=f"{name} DATA end offset",
            rule=RULE_OFFSETS,
            found=str(end),
            expected=f"{s + need - 1} ($TOT × bytes per event from {s})",
            repair=f"read exactly {need} bytes from {s}",
        )
    lay.start, lay.length = base + s, need


#: Events examined per candidate when HEADER and TEXT point at two DATA segments
#: that both fit: enough to see a shifted layout many times over, cheap to decode.
EVIDENCE_EVENTS = 20_000


def _weigh_evidence(
    src: _Source,
    ds: _Dataset,
    lay: _Layout,
    exact: list[tuple[int, str, int, int]],
    need: int,
    disagreement: str,
) -> tuple[str, int, int, str]:
    """Choose between two DATA segments that both hold exactly $TOT events, from the bytes.

    Why: Beckman Coulter Cyan files give HEADER and TEXT DATA offsets 46 bytes
    apart, and each fits $TOT × bytes per event, so size cannot decide. Three
    independent signs can, each voting only when it separates the candidates
    clearly (one side at least ten times worse):

    * values within ``$PnR``: the true segment holds (nearly) no value at or
      above its channel's range, a shifted one reads bytes of the wrong
      channel or event and leaves the ranges (non-finite floats count too);
    * a time channel (``$PnN`` starting with "time") never decreases in the
      true segment;
    * the true segment starts right after TEXT (only padding between).

    The signs must not contradict each other; split or absent evidence is an
    FCSError (never a guess).
    """
    t_end = ds.text_range[1]
    kw = ds.keywords
    names = [(_kw(kw, f"$P{n}N") or "") for n in range(1, lay.par + 1)]
    ranges = []
    for n in range(1, lay.par + 1):
        try:
            ranges.append(float(_kw(kw, f"$P{n}R") or "nan"))
        except ValueError:
            ranges.append(math.nan)
    bpe = sum(lay.widths)
    n_ev = min(lay.tot, EVIDENCE_EVENTS)
    time_col = next((j for j, n in enumerate(names) if n.strip().lower().startswith("time")), None)
    rows: list[tuple[str, int, int, int, int | None, bool]] = []
    for _, name, s, length in exact[:2]:
        probe = _Layout(
            tot=n_ev,
            par=lay.par,
            datatype=lay.datatype,
            little=lay.little,
            widths=lay.widths,
            masks=[None] * lay.par,
            out_dtype=np.float64,
            start=ds.base + s,
            length=n_ev * bpe,
        )
        ev = np.asarray(
            _read_events(src, probe, True, _Notes(src.path, ds.index, False), names),
            dtype=np.float64,
        )
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(ev)
            for j, r in enumerate(ranges):
                if math.isfinite(r) and r > 0:
                    bad[:, j] |= (ev[:, j] >= r) | (ev[:, j] < -r)
        decreases = (
            int(np.count_nonzero(np.diff(ev[:, time_col]) < 0)) if time_col is not None else None
        )
        adjacent = t_end < s <= t_end + 4097 and not src.read(
            ds.base + t_end + 1, s - t_end - 1, "gap after TEXT"
        ).strip(_PADDING)
        rows.append((name, s, length, int(np.count_nonzero(bad)), decreases, adjacent))

    def clear(a: int, b: int) -> int | None:
        """Index of the clearly better (lower) count, or None."""
        lo, hi = min(a, b), max(a, b)
        if hi == 0 or hi < 10 * lo:
            return None
        return 0 if a < b else 1

    (na, sa, la, ra, da, aa), (nb, sb, lb, rb, db, ab) = rows
    votes: list[tuple[int, str]] = []
    pick = clear(ra, rb)
    if pick is not None:
        votes.append(
            (pick, f"values outside $PnR in the first {n_ev} events: {na} {ra}, {nb} {rb}")
        )
    if da is not None and db is not None:
        pick = clear(da, db)
        if pick is not None:
            tname = names[time_col] if time_col is not None else "time"
            votes.append((pick, f"{tname} decreases {da} times from {na}, {db} times from {nb}"))
    if aa != ab:
        votes.append((0 if aa else 1, f"{na if aa else nb} starts right after TEXT"))
    detail = "; ".join(v[1] for v in votes)
    if not votes:
        raise src.fail(
            f"{disagreement}, both fit $TOT × bytes per event, and nothing in the bytes tells "
            f"them apart (values within $PnR: {na} {ra} outside, {nb} {rb}; time channel: "
            f"{'none' if time_col is None else names[time_col]}; neither starts alone right "
            "after TEXT); refusing to guess"
        )
    if len({v[0] for v in votes}) > 1:
        raise src.fail(
            f"{disagreement}, both fit $TOT × bytes per event, and the evidence is split "
            f"({detail}); refusing to guess"
        )
    k = votes[0][0]
    name, s, length = (na, sa, la) if k == 0 else (nb, sb, lb)
    return name, s, length, f"both fit $TOT × bytes per event and the bytes say so: {detail}"


# --------------------------------------------------------------------------
# Reading events
# --------------------------------------------------------------------------


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


def _read_events(
    src: _Source, lay: _Layout, copy: bool, warnings: _Notes, channels: list[str]
) -> npt.NDArray[Any]:
    tot, par = lay.tot, lay.par
    if lay.datatype in ("F", "D"):
        itemsize = lay.widths[0]
        native = np.dtype(np.float32 if itemsize == 4 else np.float64)
        on_disk = native.newbyteorder("<" if lay.little else ">")
        if tot == 0:
            return np.empty((0, par), dtype=native)
        if (
            not copy
            and lay.little == _NATIVE_LITTLE
            and lay.start % itemsize == 0
            and lay.length >= MMAP_THRESHOLD
        ):
            mapped = src.mapped()
            if mapped is not None:
                flat = np.frombuffer(mapped, dtype=native, count=tot * par, offset=lay.start)
                return flat.reshape(tot, par)
        buf = src.read_into(lay.start, lay.length, "DATA segment")
        arr = buf.view(on_disk).reshape(tot, par)
        if on_disk != native:
            arr.byteswap(inplace=True)
            arr = arr.view(native)
        return arr
    if tot == 0:
        return np.empty((0, par), dtype=lay.out_dtype)
    buf = src.read_into(lay.start, lay.length, "DATA segment")
    if lay.datatype == "I":
        return _decode_int(buf, lay, warnings, channels)
    return _decode_ascii(src, buf, lay)


def _decode_int(
    buf: npt.NDArray[np.uint8], lay: _Layout, warnings: _Notes, channels: list[str]
) -> npt.NDArray[Any]:
    tot, par, widths, masks = lay.tot, lay.par, lay.widths, lay.masks
    over: dict[str, int] = {}
    if len(set(widths)) == 1 and widths[0] in (1, 2, 4, 8):
        w = widths[0]
        raw = buf.view(np.dtype(f"u{w}").newbyteorder("<" if lay.little else ">")).reshape(tot, par)
        if any(m is not None for m in masks):
            full = (1 << (8 * w)) - 1
            mask_arr = np.array([full if m is None else m for m in masks], dtype=f"u{w}")
            # A mask is 2**k - 1, so "bits above the mask" is simply "> mask".
            counts = np.count_nonzero(raw > mask_arr, axis=0)
            over = {channels[j]: int(c) for j, c in enumerate(counts) if c}
            raw &= mask_arr  # buf is our own fresh buffer
        out = raw.astype(lay.out_dtype)
    else:
        # 24-bit (Cytek xP5) or mixed widths (CyFlow): assemble each channel
        # from its bytes, most significant byte first.
        rows = buf.reshape(tot, sum(widths))
        out = np.empty((tot, par), dtype=lay.out_dtype)
        offset = 0
        for j, w in enumerate(widths):
            acc_type = np.uint32 if w <= 4 else np.uint64
            order = (
                range(offset, offset + w)
                if not lay.little
                else range(offset + w - 1, offset - 1, -1)
            )
            acc = np.zeros(tot, dtype=acc_type)
            for k in order:
                acc <<= acc_type(8)
                acc |= rows[:, k]
            offset += w
            m = masks[j]
            if m is not None:
                count = int(np.count_nonzero(acc > acc_type(m)))
                if count:
                    over[channels[j]] = count
                acc &= acc_type(m)
            out[:, j] = acc
    if over:
        detail = ", ".join(f"{name}: {n}" for name, n in over.items())
        warnings.deviate(
            f"integer values with bits set above the $PnR range were masked "
            f"(values per channel: {detail})",
            field=", ".join(f"{name} $PnR" for name in list(over)[:5]),
            rule="FCS 3.1 §3.2.18: integer values lie within $PnR, which sets the bit mask",
            found=f"values with bits above the mask ({detail})",
            expected="values below the next power of two at or above $PnR (and within $PnB bits)",
            repair="cleared the bits above the mask",
        )
    return out


def _decode_ascii(src: _Source, buf: npt.NDArray[np.uint8], lay: _Layout) -> npt.NDArray[Any]:
    tot, par = lay.tot, lay.par
    if lay.widths[0] == 0:  # free format: separated by blanks, tabs, commas, CR or LF
        tokens = re.split(rb"[\s,]+", buf.tobytes().strip(b" \t\r\n,"))
        tokens = [t for t in tokens if t]
        if len(tokens) != tot * par:
            raise src.fail(
                f"free-format ASCII DATA holds {len(tokens)} values, expected $TOT × $PAR = "
                f"{tot * par}"
            )
        try:
            values = np.array(tokens, dtype=np.bytes_).astype(np.float64)
        except ValueError as exc:
            raise src.fail(f"ASCII DATA holds a non-numeric value: {exc}") from None
        return values.reshape(tot, par)
    rows = buf.reshape(tot, sum(lay.widths))
    out = np.empty((tot, par), dtype=np.float64)
    offset = 0
    for j, w in enumerate(lay.widths):
        cells = np.ascontiguousarray(rows[:, offset : offset + w]).view(f"S{w}").ravel()
        offset += w
        try:
            out[:, j] = cells.astype(np.float64)
        except ValueError as exc:
            raise src.fail(
                f"ASCII DATA of parameter {j + 1} holds a non-numeric value: {exc}"
            ) from None
    return out


# --------------------------------------------------------------------------
# Spillover and acquisition time
# --------------------------------------------------------------------------


def _parse_spillover(
    kw: Mapping[str, str], channels: list[str], labels: list[str]
) -> tuple[Spillover | None, list[str]]:
    for key in _SPILL_KEYS:
        text = kw.get(key, "").strip()
        if text:
            break
    else:
        return None, []
    items = [t.strip() for t in text.split(",")]
    while items and not items[-1]:
        items.pop()
    try:
        n = int(items[0])
    except ValueError:
        return None, [f"{key} does not start with a channel count ({items[0][:20]!r}); ignored"]
    if n == 0:
        return None, []
    expected = 1 + n + n * n if n > 0 else -1
    if len(items) != expected:
        return None, [
            f"{key} declares {n} channels, so 1 + n + n² = {expected} comma-separated items are "
            f"expected, but it has {len(items)}; spillover ignored"
        ]
    names = items[1 : n + 1]
    try:
        values = np.array([float(v) for v in items[n + 1 :]], dtype=np.float64)
    except ValueError as exc:
        return None, [f"{key} holds a non-numeric matrix value ({exc}); spillover ignored"]
    if not np.all(np.isfinite(values)):
        return None, [f"{key} holds NaN or infinite values; spillover ignored"]
    warnings: list[str] = []
    unknown = [name for name in names if name not in channels and name not in labels]
    if unknown:
        warnings.append(f"{key} names channel(s) {unknown} that are not in $PnN or $PnS")
    return Spillover(channels=names, matrix=values.reshape(n, n), keyword=key), warnings


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


def _parse_date(text: str) -> date | None:
    s = text.strip()
    try:
        m = re.fullmatch(r"(\d{1,2})[-/ ]([A-Za-z]{3})[A-Za-z]*[-/ ](\d{4}|\d{2})", s)
        if m:  # dd-mmm-yyyy (3.x) or dd-mmm-yy (2.0)
            year = int(m[3])
            if len(m[3]) == 2:  # POSIX %y pivot: 69-99 -> 19xx, 00-68 -> 20xx
                year += 1900 if year >= 69 else 2000
            month = _MONTHS.get(m[2].upper())
            return date(year, month, int(m[1])) if month else None
        m = re.fullmatch(r"(\d{4})[-/ ]([A-Za-z]{3})[A-Za-z]*[-/ ](\d{1,2})", s)
        if m:  # yyyy-mmm-dd (MACSQuant)
            month = _MONTHS.get(m[2].upper())
            return date(int(m[1]), month, int(m[3])) if month else None
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return None


def _parse_time(text: str) -> time | None:
    m = re.match(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if not m:
        return None
    try:
        return time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        return None


def _acquired_at(kw: Mapping[str, str]) -> str | None:
    stamp = kw.get("$BEGINDATETIME", "").strip()  # FCS 3.2, ISO 8601
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    day = _parse_date(kw.get("$DATE", ""))
    if day is None:
        return None
    clock = _parse_time(kw.get("$BTIM", ""))
    if clock is None:
        return day.isoformat()
    return datetime.combine(day, clock).isoformat()


# --------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------

_WRITER_KEYS = {
    "$BEGINANALYSIS",
    "$ENDANALYSIS",
    "$BEGINDATA",
    "$ENDDATA",
    "$BEGINSTEXT",
    "$ENDSTEXT",
    "$BYTEORD",
    "$DATATYPE",
    "$MODE",
    "$NEXTDATA",
    "$PAR",
    "$TOT",
}
_WRITER_PARAM_KEYS = re.compile(r"\$P\d+[BNR]")
_DELIMITERS = ("/", "|", "\\", "!", "\x0c", "\x1e")


def write_fcs(
    path: StrPath,
    events: npt.ArrayLike,
    channels: Sequence[str],
    labels: Sequence[str] | None = None,
    keywords: Mapping[str, object] | None = None,
    spillover: Spillover | tuple[Sequence[str], npt.ArrayLike] | None = None,
    datatype: Literal["F", "D", "I"] = "F",
    *,
    byteorder: Literal["little", "big"] = "little",
    bits: int | Sequence[int] | None = None,
    ranges: Sequence[float] | None = None,
    delimiter: str | None = None,
) -> None:
    """Write one data set as an FCS 3.1 file (used by seeded synthetic-data generators).

    ``events`` is (n_events, n_channels). ``datatype`` ``F``/``D`` stores
    float32/float64; ``I`` stores unsigned integers of ``bits`` bits per
    channel (8, 16, 24, 32 or 64; one value or one per channel; default 16,
    or 32 when a value needs it), and requires whole non-negative values.
    ``ranges`` default to ``2**bits`` for ``I`` and, for floats, to the
    smallest power of two at or above the channel maximum (at least 1).
    ``delimiter`` forces the TEXT delimiter (tests use it to exercise
    escaping); by default one is chosen that occurs in no keyword or value.
    The file is written to a temporary name and renamed, so a reader never
    sees half a file. Misuse raises :class:`UsageError`.
    """
    data = np.asarray(events)
    if data.ndim != 2:
        raise UsageError(f"events must be 2-D (n_events, n_channels), got shape {data.shape}")
    tot, par = data.shape
    channels = [str(c) for c in channels]
    if par == 0 or len(channels) != par:
        raise UsageError(f"events have {par} columns but {len(channels)} channel names were given")
    for name in channels:
        if not name.strip() or "," in name:
            raise UsageError(f"channel name {name!r} is empty or contains a comma (FCS 3.1 $PnN)")
    label_list = [str(s) for s in labels] if labels is not None else [""] * par
    if len(label_list) != par:
        raise UsageError(f"{len(label_list)} labels given for {par} channels")
    if datatype not in ("F", "D", "I"):
        raise UsageError(f"datatype must be 'F', 'D' or 'I', got {datatype!r}")
    if byteorder not in ("little", "big"):
        raise UsageError(f"byteorder must be 'little' or 'big', got {byteorder!r}")
    endian = "<" if byteorder == "little" else ">"
    if data.dtype.kind not in "biuf":
        raise UsageError(f"events must be numeric, got dtype {data.dtype}")

    payload, bit_list, default_ranges = _encode_events(data, datatype, endian, bits)
    del data
    if ranges is None:
        range_list = default_ranges
    else:
        range_list = [float(r) for r in ranges]
        if len(range_list) != par or not all(math.isfinite(r) and r > 0 for r in range_list):
            raise UsageError(f"ranges must be {par} positive finite numbers")

    text: dict[str, str] = {
        "$BEGINANALYSIS": "0",
        "$ENDANALYSIS": "0",
        "$BEGINSTEXT": "0",
        "$ENDSTEXT": "0",
        "$BEGINDATA": "0",
        "$ENDDATA": "0",
        "$BYTEORD": "1,2,3,4" if endian == "<" else "4,3,2,1",
        "$DATATYPE": datatype,
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": str(par),
        "$TOT": str(tot),
    }
    for n, (name, label, b, r) in enumerate(zip(channels, label_list, bit_list, range_list), 1):
        text[f"$P{n}N"] = name
        text[f"$P{n}B"] = str(b)
        text[f"$P{n}E"] = "0,0"
        text[f"$P{n}R"] = _format_number(r)
        if label.strip():
            text[f"$P{n}S"] = label
    if spillover is not None:
        spill = (
            spillover
            if isinstance(spillover, Spillover)
            else Spillover(
                channels=[str(c) for c in spillover[0]],
                matrix=np.asarray(spillover[1], dtype=np.float64),
            )
        )
        missing = [c for c in spill.channels if c not in channels]
        if missing:
            raise UsageError(f"spillover names {missing}, which are not channel names ($PnN)")
        text["$SPILLOVER"] = spill.to_keyword_value()
    for key, value in (keywords or {}).items():
        ukey = str(key).strip().upper()
        if not ukey:
            raise UsageError("keyword names must not be empty")
        if ukey in _WRITER_KEYS or _WRITER_PARAM_KEYS.fullmatch(ukey):
            raise UsageError(f"keyword {key!r} is set by write_fcs and cannot be given")
        if ukey in ("$SPILLOVER", "$SPILL", "SPILL") and spillover is not None:
            raise UsageError(f"keyword {key!r} conflicts with the spillover argument")
        if re.fullmatch(r"\$P\d+S", ukey) and labels is not None:
            raise UsageError(f"keyword {key!r} conflicts with the labels argument")
        svalue = str(value)
        if not svalue:
            raise UsageError(f"keyword {key!r} has an empty value, which FCS does not allow")
        text[ukey] = svalue

    delim = _choose_delimiter(text, delimiter)
    header, text_bytes, data_start = _layout_file(text, delim, len(payload))
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(text_bytes)
            fh.write(b" " * (data_start - HEADER_SIZE - len(text_bytes)))
            fh.write(payload)
            fh.write(b"00000000")  # FCS 3.x: no CRC is written as eight ASCII zeros
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _encode_events(
    data: npt.NDArray[Any], datatype: str, endian: str, bits: int | Sequence[int] | None
) -> tuple[memoryview, list[int], list[float]]:
    tot, par = data.shape
    if datatype in ("F", "D"):
        if bits is not None:
            raise UsageError("bits applies to datatype 'I' only")
        dtype = np.dtype(f"{endian}f{4 if datatype == 'F' else 8}")
        with np.errstate(over="ignore"):  # overflow is detected just below
            out = np.ascontiguousarray(data.astype(dtype, copy=False))
        narrowing = data.dtype.kind == "f" and data.dtype.itemsize > dtype.itemsize
        if narrowing and np.count_nonzero(np.isinf(out)) > np.count_nonzero(np.isinf(data)):
            raise UsageError(f"some values overflow {dtype.name} ($DATATYPE/{datatype}/)")
        default_ranges = [_float_range(out[:, j]) for j in range(par)] if tot else [1.0] * par
        return _byte_view(out), [8 * dtype.itemsize] * par, default_ranges

    if data.dtype.kind == "f" and (not np.all(np.isfinite(data)) or np.any(data != np.round(data))):
        raise UsageError("datatype 'I' needs whole, finite values")
    if tot and data.min() < 0:
        raise UsageError("datatype 'I' stores unsigned integers; events hold negative values")
    top_values = data.max(axis=0) if tot else np.zeros(par)
    if bits is None:
        bit_list = [16 if float(t) < 2**16 else 32 for t in top_values]
    elif isinstance(bits, (int, np.integer)):
        bit_list = [int(bits)] * par
    else:
        bit_list = [int(b) for b in bits]
    if len(bit_list) != par or any(b not in (8, 16, 24, 32, 64) for b in bit_list):
        raise UsageError(f"bits must be 8, 16, 24, 32 or 64 per channel, got {bits!r}")
    for j, (b, t) in enumerate(zip(bit_list, top_values)):
        if float(t) >= 2.0**b:
            raise UsageError(f"channel {j + 1} holds {t}, which does not fit in {b} bits")
    values = data.astype(np.uint64)
    widths = [b // 8 for b in bit_list]
    if len(set(widths)) == 1 and widths[0] != 3:
        out = np.ascontiguousarray(values.astype(f"{endian}u{widths[0]}"))
        return _byte_view(out), bit_list, [float(2**b) for b in bit_list]
    rows = np.empty((tot, sum(widths)), dtype=np.uint8)
    offset = 0
    for j, w in enumerate(widths):
        for k in range(w):  # byte k counted from the least significant
            col = offset + (k if endian == "<" else w - 1 - k)
            rows[:, col] = (values[:, j] >> np.uint64(8 * k)) & np.uint64(0xFF)
        offset += w
    return _byte_view(rows), bit_list, [float(2**b) for b in bit_list]


def _byte_view(array: npt.NDArray[Any]) -> memoryview:
    """The bytes of a C-contiguous array, without copying (also for zero events)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _float_range(column: npt.NDArray[Any]) -> float:
    """Smallest power of two at or above the largest finite magnitude (at least 1)."""
    top = max(abs(float(np.fmax.reduce(column))), abs(float(np.fmin.reduce(column))))
    if not math.isfinite(top):
        finite = column[np.isfinite(column)]
        top = float(np.abs(finite).max()) if finite.size else 1.0
    return float(2 ** max(0, math.ceil(math.log2(max(top, 1.0)))))


def _choose_delimiter(text: Mapping[str, str], forced: str | None) -> str:
    if forced is not None:
        if len(forced) != 1 or not 1 <= ord(forced) <= 126:
            raise UsageError("delimiter must be one ASCII character (1-126)")
        for key, value in text.items():
            if key.startswith(forced) or value.startswith(forced):
                raise UsageError(
                    f"keyword {key!r} or its value starts with the delimiter {forced!r}, which "
                    "cannot be escaped unambiguously"
                )
        return forced
    joined = "".join(f"{k}{v}" for k, v in text.items())
    for candidate in _DELIMITERS:
        if candidate not in joined:
            return candidate
    return _choose_delimiter(text, "/")


def _layout_file(text: Mapping[str, str], delim: str, n_data: int) -> tuple[bytes, bytes, int]:
    """Place TEXT after the HEADER and DATA 8-byte aligned; iterate until offsets settle."""
    escaped = delim * 2
    begin = end = 0
    for _ in range(20):
        fields = dict(text)
        fields["$BEGINDATA"] = str(begin)
        fields["$ENDDATA"] = str(end)
        body = delim + "".join(
            f"{k.replace(delim, escaped)}{delim}{v.replace(delim, escaped)}{delim}"
            for k, v in fields.items()
        )
        text_bytes = body.encode("utf-8")
        text_end = HEADER_SIZE + len(text_bytes) - 1
        if n_data:
            new_begin = (text_end + 1 + 7) // 8 * 8
            new_end = new_begin + n_data - 1
        else:
            new_begin = new_end = 0
        if (new_begin, new_end) == (begin, end):
            break
        begin, end = new_begin, new_end
    else:  # pragma: no cover - offsets only grow, so this converges in a few rounds
        raise RuntimeError("FCS writer could not settle the DATA offsets")
    if text_end > _HEADER_LIMIT:
        raise UsageError("TEXT segment would exceed 99,999,999 bytes")
    data_begin = max(begin, text_end + 1)
    if end > _HEADER_LIMIT:  # FCS 3.x: offsets that do not fit go only in TEXT
        head_data = (0, 0)
    else:
        head_data = (begin, end)
    header = "FCS3.1    " + "".join(f"{v:>8d}" for v in (HEADER_SIZE, text_end, *head_data, 0, 0))
    return header.encode("ascii"), text_bytes, data_begin
