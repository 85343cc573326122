"""The 58-byte HEADER of a data set: version and segment offsets."""

from __future__ import annotations

from assaykit.cytometry.fcs.source import _Source

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


_PADDING = b" \x00\r\n\t"

RULE_OFFSETS = "FCS 3.1 §3.1: offsets give the first and the last byte of a segment"


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
