"""Sample sheets and planning: which files are inputs, and how they group into experiments.

A sample sheet is a CSV a lab edits in Excel. Columns ``file``, ``assay``,
``experiment``, ``sample_id``, ``role`` and ``lane`` have fixed meanings
(case-insensitive); every other column is a free condition column that is
joined onto every record of that row's sample.

Defaults: an empty ``experiment`` puts the row in one experiment per assay,
named after the assay; an empty ``sample_id`` is the file stem (with
``_lane<N>`` appended when a lane is given); an empty ``role`` is the
assay's default role (``sample``).

A file (with its lane, and its ``strip`` when that optional column is given)
may appear only once per experiment.

Every problem found names the sheet file, the spreadsheet row (the header is
row 1) and the column; all problems are reported at once.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from assaykit.config import CONFIG_NAME, did_you_mean
from assaykit.errors import InputError, SampleSheetError, UsageError
from assaykit.experiment import Input
from assaykit.plugins import PluginHost
from assaykit.readers import decode_text, header_delimiter

SHEET_NAME = "samples.csv"
RESERVED = ("file", "assay", "experiment", "sample_id", "role", "lane")
#: A free condition column that also locates a row in its file: one image may hold
#: several membrane strips stacked one above another (1 = top), each with its own
#: lanes, so the same file and lane may appear once per strip.
STRIP_COLUMN = "strip"
_MAX_SHEET_BYTES = 64 * 1024 * 1024
_WINDOWS_ABS = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")


@dataclass
class SheetRow:
    """One row of a sample sheet, before files are hashed."""

    row: int
    file: str
    assay: str
    experiment: str
    sample_id: str
    role: str
    lane: int | None
    conditions: dict[str, str]


@dataclass
class PlannedExperiment:
    """An experiment the batch will run: its assay, name and input rows."""

    assay: str
    name: str
    rows: list[SheetRow] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.assay, self.name)


@dataclass
class Plan:
    """The result of planning: experiments, the files they use, and the files ignored."""

    experiments: list[PlannedExperiment]
    sheet: Path | None
    ignored: list[str]
    has_sheet: bool


def _norm_header(h: str) -> str:
    return h.strip().lstrip("\ufeff").strip()


def read_sheet_rows(sheet: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (row number, cells) of a CSV sheet, delimiter sniffed, Excel encodings."""
    try:
        size = sheet.stat().st_size
        if size > _MAX_SHEET_BYTES:
            raise SampleSheetError([f"{sheet}: {size} bytes; a sample sheet may be at most 64 MiB"])
        raw = sheet.read_bytes()
    except OSError as exc:
        raise SampleSheetError([f"{sheet}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = decode_text(raw, sheet)
    except InputError as exc:
        raise SampleSheetError([str(exc)]) from None
    delim = header_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    except csv.Error as exc:
        raise SampleSheetError([f"{sheet}: malformed CSV: {exc}"]) from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise SampleSheetError([f"{sheet}, row 1: empty header; expected a 'file' column"])
    header = [_norm_header(h) for h in rows[0]]
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    return header, body


def check_relpath(folder: Path, rel: str) -> str | None:
    """Why ``rel`` may not be used as an input path (None when it is fine).

    Refuses absolute paths, drive letters, ``..`` components and symlinks
    that resolve outside the folder: a sheet may only name files inside the
    batch folder.
    """
    if not rel:
        return "empty; expected a path relative to the folder"
    if rel.startswith("/") or _WINDOWS_ABS.match(rel):
        return f"{rel!r} is absolute; expected a path relative to the folder"
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        return f"{rel!r} leaves the folder ('..'); expected a path inside it"
    try:
        resolved = (folder / rel).resolve()
        resolved.relative_to(folder.resolve())
    except ValueError:
        return (
            f"{rel!r} is a symlink that leaves the folder (to {resolved}); "
            "expected a file inside the folder"
        )
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        return f"{rel!r} cannot be resolved: {exc}"
    return None


def _misspelt_columns(header: list[str]) -> list[tuple[str, str]]:
    """(header, fixed column it was surely meant to be) for each near-miss of an absent
    fixed column: the same letters ('Sample ID', 'sampleid') or one slip ('sampel_id').

    Why strict: any other column is a free condition column, so only a name this close
    to a fixed one that the sheet lacks is taken for a typo.
    """
    present = {h.lower() for h in header}
    absent = [c for c in (*RESERVED, STRIP_COLUMN) if c not in present]
    out = []
    for h in header:
        low = h.lower()
        if not h or low in RESERVED or low == STRIP_COLUMN:
            continue
        squashed = re.sub(r"[^a-z0-9]", "", low)
        same = [c for c in absent if squashed == c.replace("_", "")]
        near = difflib.get_close_matches(low, absent, n=1, cutoff=0.85)
        want = same[0] if same else (near[0] if near else None)
        if want is not None:
            out.append((h, want))
    return out


def parse_sheet(
    sheet: Path,
    folder: Path,
    host: PluginHost,
    *,
    default_assay: str | None,
) -> list[SheetRow]:
    """Parse and validate a sample sheet against the installed assays.

    Raises SampleSheetError listing every bad cell (file, row, column).
    """
    header, body = read_sheet_rows(sheet)
    problems: list[str] = []
    lower = [h.lower() for h in header]
    dup = sorted({h for h in lower if h and lower.count(h) > 1})
    if dup:
        problems.append(f"{sheet}, row 1: duplicate column(s) {', '.join(dup)}")
    misspelt = _misspelt_columns(header)
    if misspelt:  # 'sampel_id' would silently become a condition column, and ids the stems
        raise SampleSheetError(
            [
                f"{sheet}, row 1, column {h!r}: not a known column; did you mean {want!r}? "
                f"(the fixed columns are {', '.join(RESERVED)}; rename it, or give it a "
                "name further from them if it is a condition column)"
                for h, want in misspelt
            ]
        )
    if "file" not in lower:
        raise SampleSheetError([f"{sheet}, row 1, column 'file': missing; the header is {header}"])
    idx = {h: lower.index(h) for h in RESERVED if h in lower}
    if "assay" not in idx and not default_assay:
        raise SampleSheetError(
            [
                f"{sheet}, row 1, column 'assay': missing, and no default assay was given "
                f"(add an 'assay' column, pass --assay, or set default_assay in {CONFIG_NAME})"
            ]
        )
    cond_cols = [(j, h) for j, h in enumerate(header) if h.lower() not in RESERVED and h]

    def cell(cells: list[str], name: str) -> str:
        j = idx.get(name)
        return cells[j].strip() if j is not None and j < len(cells) else ""

    out: list[SheetRow] = []
    seen: dict[tuple[str, str, str, int | None, str], int] = {}
    for n, cells in body:
        where = f"{sheet}, row {n}"
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(f"{where}: {len(cells)} cells but the header has {len(header)} columns")
        rel = cell(cells, "file").replace("\\", "/")
        bad = check_relpath(folder, rel)
        if bad:
            problems.append(f"{where}, column 'file': {bad}")
            continue
        rel = PurePosixPath(rel).as_posix()
        assay_name = cell(cells, "assay") or (default_assay or "")
        if not assay_name:
            problems.append(
                f"{where}, column 'assay': empty, and no default assay was given "
                f"(use --assay or default_assay in {CONFIG_NAME})"
            )
            continue
        assay = host.assays.get(assay_name)
        if assay is None:
            known = ", ".join(sorted(host.assays)) or "none installed"
            guess = did_you_mean(assay_name, sorted(host.assays))
            hint = f"did you mean {guess!r}? " if guess else ""
            problems.append(
                f"{where}, column 'assay': unknown assay {assay_name!r}; {hint}"
                f"expected one of: {known}"
            )
            continue
        choice = host.choose_reader(folder / rel, kinds=assay.input_kinds)
        if choice.reader is None and not choice.conflict:  # a conflict: an error record
            want = ", ".join(host.suffixes_for_kinds(assay.input_kinds)) or "none installed"
            other = host.reader_for(folder / rel)
            got = f"a {other.kind!r} file" if other is not None else "an unknown file type"
            problems.append(
                f"{where}, column 'file': {rel!r} is {got}; assay {assay_name!r} reads {want}"
            )
        role = cell(cells, "role") or assay.default_role
        if role not in assay.roles:
            guess = did_you_mean(role, assay.roles)
            hint = f"did you mean {guess!r}? " if guess else ""
            problems.append(
                f"{where}, column 'role': unknown role {role!r} for assay {assay_name!r}; "
                f"{hint}expected one of: {', '.join(assay.roles)}"
            )
        lane_s = cell(cells, "lane")
        lane: int | None = None
        if lane_s:
            try:
                lane = int(float(lane_s)) if float(lane_s).is_integer() else -1
            except ValueError:
                lane = -1
            if lane < 1:
                problems.append(
                    f"{where}, column 'lane': {lane_s!r} is not a lane number; "
                    "expected a whole number from 1"
                )
                lane = None
        conditions = {h: (cells[j].strip() if j < len(cells) else "") for j, h in cond_cols}
        for req in assay.required_columns:
            if not conditions.get(req, "") and not any(
                k.lower() == req.lower() and v for k, v in conditions.items()
            ):
                problems.append(
                    f"{where}, column {req!r}: required by assay {assay_name!r} "
                    "and empty or missing"
                )
        stem = PurePosixPath(rel).stem
        sample_id = cell(cells, "sample_id") or (stem if lane is None else f"{stem}_lane{lane}")
        experiment = cell(cells, "experiment") or assay_name
        strip = next((v for k, v in conditions.items() if k.lower() == STRIP_COLUMN), "")
        key = (assay_name, experiment, rel, lane, strip)
        if key in seen:
            problems.append(
                f"{where}, column 'file': {rel!r}"
                + (f" lane {lane}" if lane is not None else "")
                + (f" strip {strip}" if strip else "")
                + f" is already listed for experiment {experiment!r} on row {seen[key]}"
            )
            continue
        seen[key] = n
        out.append(SheetRow(n, rel, assay_name, experiment, sample_id, role, lane, conditions))
    if problems:
        raise SampleSheetError(problems)
    if not out:
        raise SampleSheetError([f"{sheet}: no rows; expected one row per input file"])
    return out


def walk_files(folder: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """Every regular file under ``folder`` as a relative posix path, sorted.

    Hidden files and folders (``.name``) are skipped, as are ``exclude``
    folders (the output folder when it sits inside the input folder).
    """
    excl = {p.resolve() for p in exclude}
    out: list[str] = []
    root_res = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder):
        d = Path(dirpath)
        dirnames[:] = sorted(
            n for n in dirnames if not n.startswith(".") and (d / n).resolve() not in excl
        )
        for name in filenames:
            if name.startswith("."):
                continue
            p = d / name
            if not p.is_file():
                continue
            try:  # a symlink leading out of the folder is not an input: it is never walked
                p.resolve().relative_to(root_res)
            except (ValueError, OSError, RuntimeError):
                continue
            out.append(p.relative_to(folder).as_posix())
    return sorted(out)


def plan(
    folder: Path,
    host: PluginHost,
    *,
    sheet: Path | None,
    assay: str | None,
    default_assay: str | None,
    exclude: Iterable[Path] = (),
) -> Plan:
    """Group inputs into experiments.

    With a sheet, only the files it lists are inputs; every other file is
    ignored and listed. Without a sheet, each file that a reader of the
    assay's input kinds claims (by suffix and sniff, ranked as in
    :meth:`PluginHost.choose_reader`; a file two readers claim equally too,
    so that its run reports the conflict) is its own experiment (named by its
    relative path without suffix).
    """
    all_files = walk_files(folder, exclude)
    admin = {SHEET_NAME, CONFIG_NAME}
    if sheet is not None:
        rows = parse_sheet(sheet, folder, host, default_assay=assay or default_assay)
        experiments: dict[tuple[str, str], PlannedExperiment] = {}
        for r in rows:
            experiments.setdefault(
                (r.assay, r.experiment), PlannedExperiment(r.assay, r.experiment)
            )
            experiments[(r.assay, r.experiment)].rows.append(r)
        listed = {r.file for r in rows}
        try:
            sheet_rel = sheet.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            sheet_rel = ""
        ignored = [f for f in all_files if f not in listed and f not in admin and f != sheet_rel]
        return Plan(list(experiments.values()), sheet, ignored, True)

    name = assay or default_assay
    if not name:
        raise UsageError(
            f"{folder}: no {SHEET_NAME} and no assay given; pass --assay NAME, a --sheet, "
            f"or set default_assay in {CONFIG_NAME}"
        )
    a = host.get_assay(name)
    suffixes = set(host.suffixes_for_kinds(a.input_kinds))
    exps: list[PlannedExperiment] = []
    ignored = []
    for f in all_files:
        if f in admin:
            continue
        choice = host.choose_reader(folder / f, kinds=a.input_kinds)
        if choice.reader is None and not choice.conflict:  # a conflict: an error record
            ignored.append(f)
            continue
        exp_name = str(PurePosixPath(f).with_suffix(""))
        row = SheetRow(0, f, name, exp_name, PurePosixPath(f).stem, a.default_role, None, {})
        exps.append(PlannedExperiment(name, exp_name, [row]))
    if not exps:
        raise UsageError(
            f"{folder}: no input files for assay {name!r}; it reads "
            f"{', '.join(sorted(suffixes)) or 'no known file type'}"
        )
    return Plan(exps, None, ignored, False)


def build_inputs(
    folder: Path,
    rows: list[SheetRow],
    host: PluginHost,
    hashes: dict[str, str | None],
    metadata: dict[str, dict[str, str | None]],
) -> list[Input]:
    """Turn planned rows into Inputs with their hash, kind, reader and metadata."""
    out = []
    for r in rows:
        assay = host.assays.get(r.assay)
        choice = host.choose_reader(
            folder / r.file, kinds=assay.input_kinds if assay is not None else None
        )
        reader = choice.reader
        out.append(
            Input(
                path=(folder / r.file).resolve(),
                relpath=r.file,
                kind=reader.kind if reader is not None else "",
                reader=choice.key,
                unreadable=choice.conflict,
                role=r.role,
                sample_id=r.sample_id,
                lane=r.lane,
                sha256=hashes.get(r.file),
                conditions=dict(r.conditions),
                metadata=metadata.get(r.file, {}),
                row=r.row or None,
            )
        )
    return out
