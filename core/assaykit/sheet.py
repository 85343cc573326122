"""Sample sheets and planning: which files are inputs, and how they group into experiments.

A sample sheet is a CSV a lab edits in Excel. Columns ``file``, ``assay``,
``experiment``, ``sample_id``, ``role``, ``lane``, ``well``, ``plate_format``
and ``plate_map`` have fixed meanings (case-insensitive); every other column is
a free condition column that is joined onto every record of that row's sample.

Defaults: an empty ``experiment`` puts the row in one experiment per assay,
named after the assay; an empty ``sample_id`` is the file stem (with
``_lane<N>`` appended when a lane is given, ``_<well>`` when a well is); an
empty ``role`` is the assay's default role (``sample``).

A file (with its lane, its ``strip`` when that optional column is given, its
well and its position) may appear only once per experiment.

Positions: ``position`` names a sample inside a file that is not a plate well
(free text: a data set of a multi-data-set FCS file ``3``, a run's sample name
``sample:Kidney``, a tube index); the assay says how it reads it. A file may be
listed once per position. A row gives a well or a position, never both. An
empty ``sample_id`` is then ``<file stem>_<position>``.

Plates: one file may hold a plate's 96 or 384 samples, one row per well.
``well`` is ``A1`` … ``H12`` or ``A1`` … ``P24`` (``a1`` and ``A01`` are read as
``A1``); ``plate_format`` (96 or 384) checks the wells of that file, which
otherwise are of the smallest plate that holds them. A plate file's rows all
name a well (a file listed with and without wells is an error). A row whose
``plate_map`` names a plate-map CSV in the folder (:mod:`assaykit.platemap`:
grids of sample ids and conditions, drawn as the plate) stands for one row per
used well of the map, its other cells applying to every well; a plate map may
also be the sheet itself (``--sheet plate_map.csv``).

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

from assaykit.assay import Assay
from assaykit.config import CONFIG_NAME, did_you_mean
from assaykit.errors import SampleSheetError, UsageError
from assaykit.experiment import PLATE_FORMATS, Input, normalize_well, plate_format_of
from assaykit.platemap import PlateMap, is_plate_map, parse_plate_map, read_text
from assaykit.plugins import PluginHost, ReaderChoice
from assaykit.readers import header_delimiter

SHEET_NAME = "samples.csv"
RESERVED = (
    "file",
    "assay",
    "experiment",
    "sample_id",
    "role",
    "lane",
    "well",
    "position",
    "plate_format",
    "plate_map",
)
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
    well: str | None = None
    plate_format: int | None = None
    #: the plate map (relative path) the row was drawn from, "" for a sheet row
    plate_map: str = ""
    #: a position inside the file other than a well (free text: "3", "sample:Kidney")
    position: str | None = None


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
    return _table(sheet, _sheet_text(sheet))


def _sheet_text(sheet: Path) -> str:
    return read_text(sheet, str(sheet), _MAX_SHEET_BYTES, "a sample sheet may be at most 64 MiB")


def _table(sheet: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
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


@dataclass
class _RawRow:
    """A sheet row, or one well of a plate map, before validation: its cells by column.

    Fixed columns are keyed in lower case; condition columns as the sheet writes them.
    ``locs`` says where a cell that came from a plate map is (its grid cell or setting
    line); every other cell is at ``where``, in the column of its name.
    """

    n: int
    where: str
    desc: str
    values: dict[str, str]
    locs: dict[str, str] = field(default_factory=dict)
    plate_format: int | None = None
    plate_map: str = ""

    def at(self, name: str) -> str:
        return self.locs.get(name) or f"{self.where}, column {name!r}"

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _put(raw: _RawRow, key: str, value: str, where: str) -> None:
    """Set a cell, matching an existing condition column whatever its case."""
    same = next((k for k in raw.values if k.lower() == key.lower()), key)
    raw.values[same] = value
    raw.locs[same] = where


def _expand_map(pm: PlateMap, base: _RawRow, problems: list[str]) -> list[_RawRow]:
    """One row per used well of a plate map: a grid cell wins over the sheet row's cell,
    which wins over the map's setting line."""
    map_file = pm.settings.get("file")
    if map_file is not None and base.get("file") and map_file.value != base.get("file"):
        problems.append(
            f"{map_file.where}: the plate map is for {map_file.value!r}, but "
            f"{base.at('file')} names {base.get('file')!r}"
        )
        return []
    out = []
    for well, cells in pm.wells.items():
        line = pm.lines[well]
        if base.n:
            where, desc = base.where, f"row {base.n} (plate map {pm.path}, well {well})"
        else:  # the map is the sheet
            where, desc = f"{pm.path}, row {line}", f"row {line} (well {well})"
        raw = _RawRow(
            base.n or line,
            where,
            desc,
            dict(base.values),
            dict(base.locs),
            pm.plate_format,
            pm.path,
        )
        for key, c in pm.settings.items():
            if not any(k.lower() == key.lower() and v for k, v in raw.values.items()):
                _put(raw, key, c.value, c.where)
        for key, c in cells.items():
            _put(raw, key, c.value, c.where)
        _put(raw, "well", well, f"{pm.path}, row {line} (well {well})")
        out.append(raw)
    if not out:
        problems.append(f"{pm.path}: no well has a value in any grid; expected one sample per well")
    return out


def _read_map(folder: Path, rel: str, where: str, problems: list[str]) -> PlateMap | None:
    bad = check_relpath(folder, rel)
    if bad:
        problems.append(f"{where}: {bad}")
        return None
    path = folder / rel
    if not path.is_file():
        problems.append(f"{where}: plate map {rel!r} not found in {folder}")
        return None
    try:
        return parse_plate_map(read_text(path, rel), rel)
    except SampleSheetError as exc:
        problems.extend(exc.problems)
        return None


def _map_sheet_rows(
    sheet: Path, text: str, default_assay: str | None, problems: list[str]
) -> list[_RawRow]:
    """The rows of a plate map given as the sample sheet itself."""
    pm = parse_plate_map(text, str(sheet))
    names = [*pm.settings, *pm.grids]
    misspelt = _misspelt_columns(names)
    if misspelt:
        raise SampleSheetError(
            [
                f"{sheet}: {h!r} is not a known column; did you mean {want!r}?"
                for h, want in misspelt
            ]
        )
    if "file" not in pm.settings:
        raise SampleSheetError(
            [
                f"{sheet}: a plate map used as the sample sheet needs a 'file,<path>' line "
                "naming the plate file, before the grids"
            ]
        )
    if "assay" not in pm.settings and "assay" not in pm.grids and not default_assay:
        raise SampleSheetError(
            [
                f"{sheet}: no 'assay,<name>' line, and no default assay was given "
                f"(add the line, pass --assay, or set default_assay in {CONFIG_NAME})"
            ]
        )
    return _expand_map(pm, _RawRow(0, str(sheet), "", {}), problems)


def _table_rows(
    sheet: Path,
    folder: Path,
    header: list[str],
    body: list[tuple[int, list[str]]],
    default_assay: str | None,
    problems: list[str],
) -> list[_RawRow]:
    """The rows of an ordinary sample sheet (header checks first), plate maps expanded."""
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
    if "assay" not in lower and not default_assay and "plate_map" not in lower:
        raise SampleSheetError(
            [
                f"{sheet}, row 1, column 'assay': missing, and no default assay was given "
                f"(add an 'assay' column, pass --assay, or set default_assay in {CONFIG_NAME})"
            ]
        )
    cols = [(j, h.lower() if h.lower() in RESERVED else h) for j, h in enumerate(header) if h]
    out: list[_RawRow] = []
    for n, cells in body:
        where = f"{sheet}, row {n}"
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(f"{where}: {len(cells)} cells but the header has {len(header)} columns")
        values = {h: (cells[j].strip() if j < len(cells) else "") for j, h in cols}
        raw = _RawRow(n, where, f"row {n}", values)
        map_rel = raw.get("plate_map").replace("\\", "/")
        if not map_rel:
            out.append(raw)
            continue
        if raw.get("well"):
            problems.append(
                f"{raw.at('well')}: the row names a plate map; its wells come from the map "
                "(leave 'well' empty, or drop the plate map)"
            )
            continue
        pm = _read_map(folder, map_rel, raw.at("plate_map"), problems)
        if pm is not None:
            del raw.values["plate_map"]
            out.extend(_expand_map(pm, raw, problems))
    return out


def _plate_format_cell(raw: _RawRow, problems: list[str]) -> int | None:
    """The row's plate format: its ``plate_format`` cell, or its plate map's grid size."""
    text = raw.get("plate_format")
    if not text:
        return raw.plate_format
    try:
        v = float(text)
        fmt = int(v) if v.is_integer() else 0
    except ValueError:
        fmt = 0
    if fmt not in PLATE_FORMATS:
        problems.append(
            f"{raw.at('plate_format')}: {text!r} is not a plate format; expected 96 or 384"
        )
        return raw.plate_format
    if raw.plate_format is not None and fmt != raw.plate_format:
        problems.append(
            f"{raw.at('plate_format')}: {fmt}, but the plate map's grids are "
            f"{raw.plate_format}-well"
        )
        return raw.plate_format
    return fmt


def _not_read_by(folder: Path, rel: str, host: PluginHost, assay: Assay) -> str | None:
    """What the file is when no reader of the assay's kinds claims it (None: one does;
    a conflict between two readers is left to the run, which reports it per file)."""
    choice = host.choose_reader(folder / rel, kinds=assay.input_kinds)
    if choice.reader is not None or choice.conflict:
        return None
    other = host.reader_for(folder / rel)
    return f"a {other.kind!r} file" if other is not None else "an unknown file type"


def _row(
    raw: _RawRow,
    folder: Path,
    host: PluginHost,
    default_assay: str | None,
    problems: list[str],
    kinds_seen: dict[tuple[str, str], str | None],
) -> SheetRow | None:
    """Validate one raw row into a SheetRow (None when it cannot be used at all)."""
    rel = raw.get("file").replace("\\", "/")
    bad = check_relpath(folder, rel)
    if bad:
        problems.append(f"{raw.at('file')}: {bad}")
        return None
    rel = PurePosixPath(rel).as_posix()
    assay_name = raw.get("assay") or (default_assay or "")
    if not assay_name:
        problems.append(
            f"{raw.at('assay')}: empty, and no default assay was given "
            f"(use --assay or default_assay in {CONFIG_NAME})"
        )
        return None
    assay = host.assays.get(assay_name)
    if assay is None:
        known = ", ".join(sorted(host.assays)) or "none installed"
        guess = did_you_mean(assay_name, sorted(host.assays))
        hint = f"did you mean {guess!r}? " if guess else ""
        problems.append(
            f"{raw.at('assay')}: unknown assay {assay_name!r}; {hint}expected one of: {known}"
        )
        return None
    if (rel, assay_name) not in kinds_seen:  # a plate file has 96 rows: sniff it once
        kinds_seen[(rel, assay_name)] = _not_read_by(folder, rel, host, assay)
    got = kinds_seen[(rel, assay_name)]
    if got is not None:
        want = ", ".join(host.suffixes_for_kinds(assay.input_kinds)) or "none installed"
        problems.append(f"{raw.at('file')}: {rel!r} is {got}; assay {assay_name!r} reads {want}")
    role = raw.get("role") or assay.default_role
    if role not in assay.roles:
        guess = did_you_mean(role, assay.roles)
        hint = f"did you mean {guess!r}? " if guess else ""
        problems.append(
            f"{raw.at('role')}: unknown role {role!r} for assay {assay_name!r}; "
            f"{hint}expected one of: {', '.join(assay.roles)}"
        )
    lane_s = raw.get("lane")
    lane: int | None = None
    if lane_s:
        try:
            lane = int(float(lane_s)) if float(lane_s).is_integer() else -1
        except ValueError:
            lane = -1
        if lane < 1:
            problems.append(
                f"{raw.at('lane')}: {lane_s!r} is not a lane number; expected a whole number from 1"
            )
            lane = None
    plate_format = _plate_format_cell(raw, problems)
    well: str | None = None
    well_s = raw.get("well")
    if well_s:
        try:
            well = normalize_well(well_s, plate_format)
        except ValueError as exc:
            problems.append(f"{raw.at('well')}: {exc}")
        if lane is not None:
            problems.append(
                f"{raw.at('well')}: the row gives both lane {lane} and well {well_s!r}; a row "
                "is one lane of a gel or one well of a plate"
            )
    elif raw.get("plate_format"):
        problems.append(
            f"{raw.at('plate_format')}: given without a well; a plate format "
            "says which wells a plate has (put each sample's well in 'well')"
        )
    position = raw.get("position") or None
    if position is not None and well_s:
        problems.append(
            f"{raw.at('position')}: the row gives both well {well_s!r} and position "
            f"{position!r}; a row is one well of a plate or one position inside a file"
        )
    conditions = {h: v for h, v in raw.values.items() if h.lower() not in RESERVED}
    for req in assay.required_columns:
        if not any(k.lower() == req.lower() and v for k, v in conditions.items()):
            problems.append(f"{raw.at(req)}: required by assay {assay_name!r} and empty or missing")
    stem = PurePosixPath(rel).stem
    default_id = stem if lane is None else f"{stem}_lane{lane}"
    if well is not None:
        default_id = f"{stem}_{well}"
    elif position is not None:
        default_id = f"{stem}_{re.sub(r'[^A-Za-z0-9.-]+', '_', position)}"
    sample_id = raw.get("sample_id") or default_id
    experiment = raw.get("experiment") or assay_name
    return SheetRow(
        raw.n,
        rel,
        assay_name,
        experiment,
        sample_id,
        role,
        lane,
        conditions,
        well,
        plate_format if well is not None else None,
        raw.plate_map,
        position,
    )


def _check_positions(pairs: list[tuple[_RawRow, SheetRow]], problems: list[str]) -> list[SheetRow]:
    """Each (file, lane, strip, well) once per experiment; a plate file's rows all have a
    well; one plate format per file. Returns the rows that are not duplicates."""
    out: list[SheetRow] = []
    seen: dict[tuple[str, str, str, int | None, str, str | None, str | None], str] = {}
    with_well: dict[str, _RawRow] = {}
    without: dict[str, _RawRow] = {}
    for raw, r in pairs:
        strip = next((v for k, v in r.conditions.items() if k.lower() == STRIP_COLUMN), "")
        key = (r.assay, r.experiment, r.file, r.lane, strip, r.well, r.position)
        if key in seen:
            col = "well" if r.well else "position" if r.position is not None else "file"
            problems.append(
                f"{raw.at(col)}: {r.file!r}"
                + (f" lane {r.lane}" if r.lane is not None else "")
                + (f" strip {strip}" if strip else "")
                + (f" well {r.well}" if r.well else "")
                + (f" position {r.position!r}" if r.position is not None else "")
                + f" is already listed for experiment {r.experiment!r} on {seen[key]}"
            )
            continue
        seen[key] = raw.desc
        (with_well if r.well is not None or raw.get("well") else without).setdefault(r.file, raw)
        out.append(r)
    for rel, raw in without.items():
        if rel in with_well:
            problems.append(
                f"{raw.at('well')}: {rel!r} has no well here but has wells on "
                f"{with_well[rel].desc}; give every row of a plate file a well, or list the "
                "file without wells"
            )
    by_file: dict[str, list[tuple[_RawRow, SheetRow]]] = {}
    kept = {id(r) for r in out}
    for raw, r in pairs:
        if r.well is not None and id(r) in kept:
            by_file.setdefault(r.file, []).append((raw, r))
    for rel, group in by_file.items():
        # at this point a row's plate_format is the one it gives (cell or plate map)
        explicit: dict[int, _RawRow] = {}
        for raw, r in group:
            if r.plate_format is not None:
                explicit.setdefault(r.plate_format, raw)
        if len(explicit) > 1:
            (a, ra), (b, rb) = list(explicit.items())[:2]
            problems.append(
                f"{rb.at('plate_format')}: {rel!r} is a {b}-well plate here but a "
                f"{a}-well plate on {ra.desc}"
            )
            continue
        fmt = (
            next(iter(explicit))
            if explicit
            else plate_format_of(r.well for _, r in group if r.well)
        )
        for raw, r in group:
            if r.well is None:
                continue
            try:
                normalize_well(r.well, fmt)
            except ValueError as exc:
                problems.append(f"{raw.at('well')}: {exc} (the plate format of {rel!r})")
            r.plate_format = fmt
    return out


def parse_sheet(
    sheet: Path,
    folder: Path,
    host: PluginHost,
    *,
    default_assay: str | None,
) -> list[SheetRow]:
    """Parse and validate a sample sheet (or a plate map) against the installed assays.

    Raises SampleSheetError listing every bad cell (file, row, column).
    """
    text = _sheet_text(sheet)
    problems: list[str] = []
    if is_plate_map(text):
        raws = _map_sheet_rows(sheet, text, default_assay, problems)
    else:
        header, body = _table(sheet, text)
        raws = _table_rows(sheet, folder, header, body, default_assay, problems)
    pairs = []
    kinds_seen: dict[tuple[str, str], str | None] = {}
    for raw in raws:
        r = _row(raw, folder, host, default_assay, problems, kinds_seen)
        if r is not None:
            pairs.append((raw, r))
    out = _check_positions(pairs, problems)
    if problems:
        raise SampleSheetError(list(dict.fromkeys(problems)))
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
        listed = {r.file for r in rows} | {r.plate_map for r in rows if r.plate_map}
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
    chosen: dict[tuple[str, str], ReaderChoice] = {}  # a plate file has a row per well: choose once
    for r in rows:
        if (r.file, r.assay) not in chosen:
            assay = host.assays.get(r.assay)
            chosen[(r.file, r.assay)] = host.choose_reader(
                folder / r.file, kinds=assay.input_kinds if assay is not None else None
            )
        choice = chosen[(r.file, r.assay)]
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
                well=r.well,
                plate_format=r.plate_format,
                position=r.position,
            )
        )
    return out
