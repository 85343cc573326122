"""One qPCR reaction per :class:`Well`, read from RDML or an instrument's result export.

Formats (content decides, not the suffix — see :func:`sniff`):

- **RDML** (RDML consortium, schema 1.0–1.3): plain XML or the zipped ``.rdml``
  (``rdml_data.xml`` inside; a zip is recognised by that member name in its
  header, or else by an ``.rdml`` file name). Read: ``sample`` (``type`` ``unkn``/``ntc``/``nrt``/
  ``std``/… and ``quantity/value``), ``target`` (``type`` ``ref``/``toi``),
  ``experiment/run/react`` (``id`` → well through ``pcrFormat``) with
  ``data/tar`` and ``data/cq``; ``excl`` marks an excluded reaction. A missing or
  negative ``cq`` (``-1`` is how RDML tools write "no Cq") is *not detected*.
  Parsed with :mod:`defusedxml` (no DTDs, no entities).
- **Thermo QuantStudio "Results" export** (``.txt``/``.csv``, tab or comma):
  ``* key = value`` header lines, a ``[Results]`` section whose first row is the
  header (``Well Position``, ``Sample Name``, ``Target Name``, ``Task``, ``CT``
  or ``Cq``, ``Quantity``). ``Undetermined`` is *not detected*. Task
  ``NTC``/``STANDARD``/``UNKNOWN``; thousands separators in ``Quantity`` are removed.
- **Bio-Rad CFX "Quantification Cq Results"** CSV: header ``Well, Fluor, Target,
  Content, Sample, Cq, …, Starting Quantity (SQ)`` (the export starts each line
  with an empty column). ``Content`` ``Unkn-01``/``Std-02``/``NTC``/``NRT``/
  ``Pos Ctrl``; ``NaN``/``N/A`` Cq is *not detected*.

Why a reader of our own instead of ``rdmlpython`` (RDML consortium, MIT): its last
release (1.7.2) is from May 2023, it is one 700 kB module that imports lxml,
scipy and matplotlib at import time, and we need only samples, targets and Cq's.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeET

from assaykit.errors import InputError

#: sample roles a well can have
ROLES = ("unknown", "ntc", "nrt", "standard", "positive", "other")

_UNDETECTED = {"", "undetermined", "n/a", "na", "nan", "no ct", "no cq", "-"}


@dataclass(frozen=True)
class Well:
    """One reaction. ``cq`` is ``None`` when the target was not detected."""

    well: str
    sample: str
    target: str
    cq: float | None
    role: str = "unknown"
    quantity: float | None = None
    excluded: bool = False

    @property
    def detected(self) -> bool:
        return self.cq is not None


def parse_cq(text: str | None, path: str | Path = "<Cq>") -> float | None:
    """A Cq cell → float, or ``None`` for "Undetermined", "N/A", "NaN", empty or ≤ 0."""
    if text is None:
        return None
    t = text.strip()
    if t.lower() in _UNDETECTED:
        return None
    try:
        v = float(t.replace(",", ""))
    except ValueError as exc:
        raise InputError(
            path, f"Cq value {text!r} is neither a number nor 'Undetermined'/'N/A'"
        ) from exc
    if not math.isfinite(v) or v <= 0:
        return None
    return v


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    t = text.strip().replace(",", "")
    if not t or t.lower() in _UNDETECTED:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def normalise_well(name: str) -> str:
    """``A01``/``a1``/``A1`` → ``A1``; anything else is returned stripped."""
    m = re.fullmatch(r"\s*([A-Za-z]{1,2})0*(\d{1,3})\s*", name)
    return f"{m.group(1).upper()}{int(m.group(2))}" if m else name.strip()


# ---------------------------------------------------------------- sniffing


_QS_KEY_LINE = re.compile(r"^\* .+ = ")


def sniff(head: bytes, name: str | None = None) -> str | None:
    """The format of a file from its first bytes: ``rdml``, ``quantstudio``, ``cfx`` or None.

    Strict on purpose: the qPCR reader claims ``.csv``/``.txt``/``.xml`` beside the
    table and plate readers, so it must not take a file only because it looks like
    text. A zip is RDML only when its local header names ``rdml_data.xml`` (the
    first member's name is in the head) or the file ``name`` ends in ``.rdml``; a
    QuantStudio export has a ``* key = value`` header line or a ``[Results]`` line.
    """
    if head[:2] == b"PK":
        if b"rdml_data.xml" in head or (name or "").lower().endswith(".rdml"):
            return "rdml"
        return None
    text = head.decode("utf-8-sig", errors="replace")
    if "<rdml" in text[:4000]:
        return "rdml"
    lines = text.splitlines()
    if any(_QS_KEY_LINE.match(ln) or ln.rstrip("\r\n\t ") == "[Results]" for ln in lines):
        return "quantstudio"
    first = lines[0] if lines else ""
    cells = [c.strip() for c in re.split(r"[,\t;]", first)]
    if {"Well", "Target", "Content", "Sample", "Cq"} <= set(cells):
        return "cfx"
    return None


def read_wells(path: str | Path) -> list[Well]:
    """Read any supported file, choosing the reader by content."""
    p = Path(path)
    kind = sniff(p.read_bytes()[:8192], p.name)
    if kind == "rdml":
        return read_rdml(p)
    if kind == "quantstudio":
        return read_quantstudio(p)
    if kind == "cfx":
        return read_cfx(p)
    raise InputError(
        p, "not an RDML file, a QuantStudio Results export or a CFX 'Quantification Cq Results' CSV"
    )


# ---------------------------------------------------------------- RDML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: object, name: str) -> object | None:
    for c in el:  # type: ignore[attr-defined]
        if _local(c.tag) == name:
            return c
    return None


def _children(el: object, name: str) -> list[object]:
    return [c for c in el if _local(c.tag) == name]  # type: ignore[attr-defined]


def _text(el: object | None) -> str | None:
    return None if el is None else (el.text or "").strip()  # type: ignore[attr-defined]


_RDML_ROLE = {"unkn": "unknown", "ntc": "ntc", "nrt": "nrt", "std": "standard", "pos": "positive"}


def _rdml_xml(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] != b"PK":
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            name = (
                "rdml_data.xml"
                if "rdml_data.xml" in names
                else next((n for n in names if n.endswith(".xml")), None)
            )
            if name is None:
                raise InputError(path, "zip without rdml_data.xml")
            return z.read(name)
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"broken zipped RDML ({exc})") from exc


def _react_well(react_id: str, rows: int, cols: int, row_label: str, col_label: str) -> str:
    """RDML numbers reactions 1… row by row; ``pcrFormat`` labels give A1-style names."""
    try:
        n = int(react_id)
    except ValueError:
        return react_id
    if rows <= 0 or cols <= 0 or n < 1:
        return react_id
    r, c = divmod(n - 1, cols)
    if row_label == "ABC" and r < 26:
        rname = chr(ord("A") + r)
    else:
        rname = str(r + 1)
    cname = chr(ord("A") + c) if col_label == "ABC" and c < 26 else str(c + 1)
    return f"{rname}{cname}"


def read_rdml(path: str | Path) -> list[Well]:
    p = Path(path)
    try:
        root = SafeET.fromstring(_rdml_xml(p))
    except defusedxml.DefusedXmlException as exc:
        raise InputError(p, f"RDML with a DTD or entities is refused ({exc})") from exc
    except SafeET.ParseError as exc:
        raise InputError(p, f"not well-formed XML ({exc})") from exc
    if _local(root.tag) != "rdml":
        raise InputError(p, f"root element is <{_local(root.tag)}>, not <rdml>")
    roles: dict[str, str] = {}
    quantities: dict[str, float | None] = {}
    for s in _children(root, "sample"):
        sid = s.get("id", "")  # type: ignore[attr-defined]
        roles[sid] = _RDML_ROLE.get(_text(_child(s, "type")) or "unkn", "other")
        q = _child(s, "quantity")
        quantities[sid] = _number(_text(_child(q, "value"))) if q is not None else None
    wells: list[Well] = []
    for exp in _children(root, "experiment"):
        for run in _children(exp, "run"):
            fmt = _child(run, "pcrFormat")
            rows = int(_number(_text(_child(fmt, "rows"))) or 0) if fmt is not None else 0
            cols = int(_number(_text(_child(fmt, "columns"))) or 0) if fmt is not None else 0
            rl = (_text(_child(fmt, "rowLabel")) or "ABC") if fmt is not None else "ABC"
            cl = (_text(_child(fmt, "columnLabel")) or "123") if fmt is not None else "123"
            for react in _children(run, "react"):
                rid = react.get("id", "")  # type: ignore[attr-defined]
                se = _child(react, "sample")
                sid = se.get("id", "") if se is not None else ""  # type: ignore[attr-defined]
                for data in _children(react, "data"):
                    tar = _child(data, "tar")
                    wells.append(
                        Well(
                            well=_react_well(rid, rows, cols, rl, cl),
                            sample=sid,
                            target=tar.get("id", "") if tar is not None else "",  # type: ignore[attr-defined]
                            cq=parse_cq(_text(_child(data, "cq")), p),
                            role=roles.get(sid, "unknown"),
                            quantity=quantities.get(sid),
                            excluded=_child(data, "excl") is not None,
                        )
                    )
    return wells


def rdml_target_types(path: str | Path) -> dict[str, str]:
    """Target id → RDML target ``type`` (``ref`` reference, ``toi`` target of interest)."""
    root = SafeET.fromstring(_rdml_xml(Path(path)))
    return {t.get("id", ""): _text(_child(t, "type")) or "toi" for t in _children(root, "target")}  # type: ignore[attr-defined]


# ---------------------------------------------------------------- QuantStudio

_QS_ROLE = {"unknown": "unknown", "ntc": "ntc", "standard": "standard", "nrt": "nrt"}


def _rows(lines: list[str]) -> list[list[str]]:
    sample = "\n".join(lines[:5])
    delim = "\t" if sample.count("\t") >= sample.count(",") else ","
    return [r for r in csv.reader(lines, delimiter=delim)]


def read_quantstudio(path: str | Path) -> list[Well]:
    p = Path(path)
    lines = p.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("[Results]")), None)
    if start is None:
        # a results-only export without the section marker: header is the first non-* line
        start = next(
            (i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("*")), None
        )
        if start is None:
            raise InputError(p, "no [Results] table")
        start -= 1
    body: list[str] = []
    for ln in lines[start + 1 :]:
        if ln.strip().startswith("["):
            break
        if ln.strip():
            body.append(ln)
    rows = _rows(body)
    if not rows:
        raise InputError(p, "empty [Results] table")
    header = [h.strip() for h in rows[0]]

    def col(*names: str) -> int | None:
        for n in names:
            if n in header:
                return header.index(n)  # the first: QuantStudio repeats Target Name/Task at the end
        return None

    iw, isa, it = col("Well Position"), col("Sample Name"), col("Target Name")
    icq, itask, iq = col("CT", "Cq", "Ct"), col("Task"), col("Quantity")
    iomit = col("Omit")
    if None in (iw, isa, it, icq):
        raise InputError(p, "[Results] lacks Well Position, Sample Name, Target Name or CT")
    out = []
    for r in rows[1:]:
        r = r + [""] * (len(header) - len(r))
        task = r[itask].strip().lower() if itask is not None else "unknown"
        out.append(
            Well(
                well=normalise_well(r[iw]),  # type: ignore[index]
                sample=r[isa].strip(),  # type: ignore[index]
                target=r[it].strip(),  # type: ignore[index]
                cq=parse_cq(r[icq], p),  # type: ignore[index]
                role=_QS_ROLE.get(task, "other"),
                quantity=_number(r[iq]) if iq is not None else None,
                excluded=iomit is not None and r[iomit].strip().lower() == "true",
            )
        )
    return out


# ---------------------------------------------------------------- Bio-Rad CFX


def _cfx_role(content: str) -> str:
    c = content.strip().lower()
    if c.startswith("unkn"):
        return "unknown"
    if c.startswith("std"):
        return "standard"
    if c.startswith("ntc"):
        return "ntc"
    if c.startswith("nrt"):
        return "nrt"
    if c.startswith("pos"):
        return "positive"
    return "other"


def read_cfx(path: str | Path) -> list[Well]:
    p = Path(path)
    rows = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8-sig", errors="replace"))))
    if not rows:
        raise InputError(p, "empty file")
    header = [h.strip() for h in rows[0]]
    need = ("Well", "Target", "Content", "Sample", "Cq")
    if not set(need) <= set(header):
        raise InputError(p, f"a CFX Cq Results CSV needs the columns {', '.join(need)}")
    ix = {n: header.index(n) for n in need}
    isq = header.index("Starting Quantity (SQ)") if "Starting Quantity (SQ)" in header else None
    # A multiplex run whose targets were never named in CFX Maestro exports an empty
    # Target; the dye (Fluor) is then what tells the targets of one well apart.
    ifl = header.index("Fluor") if "Fluor" in header else None
    out = []
    for r in rows[1:]:
        if not any(c.strip() for c in r):
            continue
        r = r + [""] * (len(header) - len(r))
        target = r[ix["Target"]].strip() or (r[ifl].strip() if ifl is not None else "")
        out.append(
            Well(
                well=normalise_well(r[ix["Well"]]),
                sample=r[ix["Sample"]].strip(),
                target=target,
                cq=parse_cq(r[ix["Cq"]], p),
                role=_cfx_role(r[ix["Content"]]),
                quantity=_number(r[isq]) if isq is not None else None,
            )
        )
    return out
