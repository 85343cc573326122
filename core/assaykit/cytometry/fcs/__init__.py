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

Modules, in reading order: ``source`` (file access), ``header``, ``text``
(the TEXT segment and keyword accessors), ``datasets`` (``$NEXTDATA``),
``keywords`` (channels, spillover, metadata), ``layout`` (``$DATATYPE``,
``$PnB``, masks, ``$BYTEORD``), ``locate`` (where DATA is), ``decode`` (the
events), ``deviations`` (repairs), ``spillover``, ``acquired``, ``results``
(:class:`FCSMetadata`, :class:`FCSData`), ``read`` (the public reader API)
and ``writer``. The spillover matrix type is
:class:`assaykit.cytometry.compensation.SpilloverMatrix`.
"""

from __future__ import annotations

from assaykit.cytometry.fcs.decode import MMAP_THRESHOLD
from assaykit.cytometry.fcs.deviations import Deviation
from assaykit.cytometry.fcs.read import read_conformance, read_fcs, read_fcs_all, read_fcs_metadata
from assaykit.cytometry.fcs.results import FCSData, FCSMetadata
from assaykit.cytometry.fcs.writer import write_fcs
from assaykit.errors import FCSError  # what every reader failure raises

__all__ = [
    "MMAP_THRESHOLD",
    "Deviation",
    "FCSData",
    "FCSError",
    "FCSMetadata",
    "read_conformance",
    "read_fcs",
    "read_fcs_all",
    "read_fcs_metadata",
    "write_fcs",
]
