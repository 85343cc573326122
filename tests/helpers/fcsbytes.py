"""A tiny byte-exact FCS writer for tests: every HEADER offset and TEXT byte as asked.

Why not ``write_fcs``: it only writes correct files. Reproducing an
instrument's defect (a 16-bit word under ``$PnB/10/``, HEADER and TEXT DATA
offsets 46 bytes apart, a TEXT ending in ``//``) needs each byte placed by
hand, with the offsets computed from the standard (first and last byte of a
segment, relative to the data set's start) unless a test overrides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Pairs = Sequence[tuple[str, str]]


@dataclass
class Dataset:
    """One data set. ``{BEGINDATA}``/``{ENDDATA}``/``{NEXTDATA}`` in values are filled in.

    ``gap`` goes between TEXT and DATA, ``tail`` after DATA (inside this data
    set, before the next). ``header`` overrides HEADER fields by index (0 TEXT
    start … 5 ANALYSIS end); ``text_data_shift`` moves what TEXT's
    ``$BEGINDATA``/``$ENDDATA`` say by that many bytes from the true segment;
    ``text_suffix`` is appended to the rendered TEXT (e.g. a stray delimiter).
    """

    pairs: Pairs
    data: bytes
    version: str = "FCS3.0"
    delim: str = "/"
    gap: bytes = b""
    tail: bytes = b""
    header: dict[int, int] = field(default_factory=dict)
    text_data_shift: int = 0
    text_suffix: bytes = b""


def _render(ds: Dataset, begin: int, end: int, nextdata: int) -> bytes:
    d = ds.delim
    body = d + "".join(f"{k}{d}{v}{d}" for k, v in ds.pairs)
    body = (
        body.replace("{BEGINDATA}", f"{begin + ds.text_data_shift:010d}")
        .replace("{ENDDATA}", f"{end + ds.text_data_shift:010d}")
        .replace("{NEXTDATA}", f"{nextdata:010d}")
    )
    return body.encode("latin-1") + ds.text_suffix


def dataset_bytes(ds: Dataset, nextdata: int = 0) -> bytes:
    """HEADER + TEXT + gap + DATA + tail of one data set, offsets relative to its start."""
    text = _render(ds, 0, 0, nextdata)
    text_end = 58 + len(text) - 1
    begin = text_end + 1 + len(ds.gap)
    end = begin + len(ds.data) - 1
    text = _render(ds, begin, end, nextdata)
    assert 58 + len(text) - 1 == text_end  # fixed-width placeholders keep the length
    fields = [58, text_end, begin, end, 0, 0]
    for index, value in ds.header.items():
        fields[index] = value
    head = ds.version.encode("ascii") + b"    " + b"".join(f"{v:>8}".encode() for v in fields)
    assert len(head) == 58
    return head + text + ds.gap + ds.data + ds.tail


def fcs_file(*datasets: Dataset) -> bytes:
    """Data sets chained through ``$NEXTDATA`` (relative to each data set's start)."""
    sizes = [len(dataset_bytes(d)) for d in datasets]
    out = b""
    for i, d in enumerate(datasets):
        nxt = sizes[i] if i + 1 < len(datasets) else 0
        out += dataset_bytes(d, nxt)
    return out


def int_keywords(
    names: Sequence[str],
    tot: int,
    *,
    bits: int | Sequence[int] = 16,
    ranges: Sequence[int] | int = 1024,
    byteord: str = "1,2",
    version: str = "FCS3.0",
    extra: Pairs = (),
) -> list[tuple[str, str]]:
    """Keywords of an integer (``$DATATYPE/I/``) data set with the offset placeholders."""
    par = len(names)
    bit_list = [bits] * par if isinstance(bits, int) else list(bits)
    range_list = [ranges] * par if isinstance(ranges, int) else list(ranges)
    pairs = [
        ("$BYTEORD", byteord),
        ("$DATATYPE", "I"),
        ("$MODE", "L"),
        ("$PAR", str(par)),
        ("$TOT", str(tot)),
        ("$NEXTDATA", "{NEXTDATA}"),
    ]
    if version != "FCS2.0":
        pairs += [("$BEGINDATA", "{BEGINDATA}"), ("$ENDDATA", "{ENDDATA}")]
        pairs += [("$BEGINANALYSIS", "0"), ("$ENDANALYSIS", "0")]
        pairs += [("$BEGINSTEXT", "0"), ("$ENDSTEXT", "0")]
    for n, (name, b, r) in enumerate(zip(names, bit_list, range_list), 1):
        pairs += [(f"$P{n}N", name), (f"$P{n}B", str(b)), (f"$P{n}E", "0,0"), (f"$P{n}R", str(r))]
    return pairs + list(extra)
