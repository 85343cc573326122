"""The embedded SQLite store: one transaction per experiment.

Why one transaction per experiment: a run killed at any instant (SIGKILL,
power cut of the process) leaves every experiment either wholly stored or not
stored at all. A re-run deletes and re-inserts an experiment's rows in the
same transaction, so nothing is ever lost or duplicated, and an experiment
whose fingerprint is unchanged is skipped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assaykit.records import RECORD_FIELDS, Record, ResultTable

STORE_NAME = "assaykit.sqlite"
STORE_SCHEMA = 1

_REC_COLS = ", ".join(RECORD_FIELDS)
#: One deviation of an input file from its format's standard (see
#: ``Reader.conformance``), as stored and as written to ``run.json``.
CONFORMANCE_FIELDS = ("dataset", "field", "rule", "found", "expected", "repair", "message")
_REC_PLACEHOLDERS = ", ".join("?" for _ in RECORD_FIELDS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    assay TEXT NOT NULL,
    experiment TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    plugin TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    params_sha256 TEXT NOT NULL,
    input_hashes TEXT NOT NULL,
    run_id TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    error TEXT,
    PRIMARY KEY (assay, experiment)
);
CREATE TABLE IF NOT EXISTS records (
    schema_version TEXT NOT NULL,
    record_id TEXT NOT NULL PRIMARY KEY,
    run_id TEXT NOT NULL,
    assay TEXT NOT NULL,
    plugin TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    assaykit_version TEXT NOT NULL,
    experiment TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity TEXT NOT NULL,
    metric TEXT NOT NULL,
    value_num REAL,
    value_str TEXT,
    unit TEXT,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    instrument TEXT,
    acquired_at TEXT,
    params_sha256 TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    qc_status TEXT NOT NULL CHECK (qc_status IN ('pass', 'warn', 'fail')),
    qc_flags TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_experiment ON records (assay, experiment, seq);
CREATE TABLE IF NOT EXISTS conditions (
    assay TEXT NOT NULL,
    experiment TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    conditions TEXT NOT NULL,
    PRIMARY KEY (assay, experiment, sample_id)
);
CREATE TABLE IF NOT EXISTS figures (
    assay TEXT NOT NULL,
    experiment TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    sample_id TEXT,
    path TEXT NOT NULL,
    caption TEXT NOT NULL,
    PRIMARY KEY (assay, experiment, seq)
);
CREATE TABLE IF NOT EXISTS qc_findings (
    assay TEXT NOT NULL,
    experiment TEXT NOT NULL,
    seq INTEGER NOT NULL,
    flag TEXT NOT NULL,
    severity TEXT NOT NULL,
    sample_id TEXT,
    entity TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (assay, experiment, seq)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conformance_checked (
    sha256 TEXT PRIMARY KEY,
    reader TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conformance (
    sha256 TEXT NOT NULL,
    seq INTEGER NOT NULL,
    dataset INTEGER NOT NULL,
    field TEXT NOT NULL,
    rule TEXT NOT NULL,
    found TEXT NOT NULL,
    expected TEXT NOT NULL,
    repair TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (sha256, seq)
);
CREATE VIEW IF NOT EXISTS results AS
    SELECT r.*, c.conditions AS conditions
    FROM records r LEFT JOIN conditions c
      ON c.assay = r.assay AND c.experiment = r.experiment AND c.sample_id = r.sample_id;
"""


@dataclass(frozen=True)
class StoredExperiment:
    assay: str
    experiment: str
    fingerprint: str
    status: str
    run_id: str
    duration_s: float
    error: str | None


@dataclass(frozen=True)
class QCFinding:
    """A QC flag with its scope and message, as raised by the assay.

    Records carry only flag names (``qc_flags``); the findings keep the words
    that explain them, for the report and for anyone querying the store.
    """

    assay: str
    experiment: str
    flag: str
    severity: str
    sample_id: str | None
    entity: str | None
    message: str


@dataclass(frozen=True)
class StoredFigure:
    assay: str
    experiment: str
    name: str
    sample_id: str | None
    path: str
    caption: str


class Store:
    """A SQLite results store (WAL mode; safe against a killed process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(_SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE key='store_schema'").fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('store_schema', ?)", (str(STORE_SCHEMA),)
            )
        elif int(row[0]) != STORE_SCHEMA:
            raise RuntimeError(
                f"{path}: store schema {row[0]} is not {STORE_SCHEMA}; use a new --out folder"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- experiments -------------------------------------------------------------------
    def experiment(self, assay: str, name: str) -> StoredExperiment | None:
        row = self.conn.execute(
            "SELECT assay, experiment, fingerprint, status, run_id, duration_s, error "
            "FROM experiments WHERE assay=? AND experiment=?",
            (assay, name),
        ).fetchone()
        return StoredExperiment(*row) if row else None

    def write_experiment(
        self,
        *,
        assay: str,
        experiment: str,
        fingerprint: str,
        status: str,
        plugin: str,
        plugin_version: str,
        params_sha256: str,
        input_hashes: Sequence[str],
        run_id: str,
        completed_at: str,
        duration_s: float,
        error: str | None,
        records: Sequence[Record],
        conditions: dict[str, dict[str, str]],
        figures: Sequence[StoredFigure],
        findings: Sequence[QCFinding] = (),
    ) -> None:
        """Replace everything stored for one experiment, atomically."""
        c = self.conn
        key = (assay, experiment)
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("DELETE FROM records WHERE assay=? AND experiment=?", key)
            c.execute("DELETE FROM conditions WHERE assay=? AND experiment=?", key)
            c.execute("DELETE FROM figures WHERE assay=? AND experiment=?", key)
            c.execute("DELETE FROM qc_findings WHERE assay=? AND experiment=?", key)
            c.executemany(
                "INSERT INTO qc_findings (assay, experiment, seq, flag, severity, sample_id, "
                "entity, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (assay, experiment, n, f.flag, f.severity, f.sample_id, f.entity, f.message)
                    for n, f in enumerate(findings)
                ],
            )
            c.executemany(
                f"INSERT INTO records ({_REC_COLS}, seq) VALUES ({_REC_PLACEHOLDERS}, ?)",  # noqa: S608 (constant column names)
                [
                    (*r.as_row()[:-1], json.dumps(list(r.qc_flags)), n)
                    for n, r in enumerate(records)
                ],
            )
            c.executemany(
                "INSERT INTO conditions (assay, experiment, sample_id, conditions) "
                "VALUES (?, ?, ?, ?)",
                [
                    (assay, experiment, sid, json.dumps(cond, sort_keys=True))
                    for sid, cond in conditions.items()
                ],
            )
            c.executemany(
                "INSERT INTO figures (assay, experiment, seq, name, sample_id, path, caption) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (assay, experiment, n, f.name, f.sample_id, f.path, f.caption)
                    for n, f in enumerate(figures)
                ],
            )
            c.execute(
                "INSERT OR REPLACE INTO experiments (assay, experiment, fingerprint, status, "
                "plugin, plugin_version, params_sha256, input_hashes, run_id, completed_at, "
                "duration_s, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    assay,
                    experiment,
                    fingerprint,
                    status,
                    plugin,
                    plugin_version,
                    params_sha256,
                    json.dumps(list(input_hashes)),
                    run_id,
                    completed_at,
                    duration_s,
                    error,
                ),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    # -- runs --------------------------------------------------------------------------
    def start_run(self, run_id: str, started_at: str) -> None:
        self.conn.execute(
            "INSERT INTO runs (run_id, started_at) VALUES (?, ?)", (run_id, started_at)
        )

    def finish_run(self, run_id: str, finished_at: str, exit_code: int, summary: Any) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at=?, exit_code=?, summary=? WHERE run_id=?",
            (finished_at, exit_code, json.dumps(summary), run_id),
        )

    # -- file hash cache ---------------------------------------------------------------
    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM file_hashes WHERE path=? AND size=? AND mtime_ns=?",
            (path, size, mtime_ns),
        ).fetchone()
        return row[0] if row else None

    def remember_hashes(self, rows: Iterable[tuple[str, int, int, str]]) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(
                "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) "
                "VALUES (?, ?, ?, ?)",
                list(rows),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    # -- file-format conformance -------------------------------------------------------
    # Keyed by content hash: a file's deviations from its format's standard do
    # not depend on the run, so an unchanged file is checked once.
    def conformance(self, sha256: str) -> list[dict[str, Any]] | None:
        """The deviations recorded for a file's content ([] = checked, clean; None = never)."""
        c = self.conn
        if c.execute("SELECT 1 FROM conformance_checked WHERE sha256=?", (sha256,)).fetchone():
            return [
                dict(zip(CONFORMANCE_FIELDS, row))
                for row in c.execute(
                    f"SELECT {', '.join(CONFORMANCE_FIELDS)} FROM conformance "  # noqa: S608
                    "WHERE sha256=? ORDER BY seq",
                    (sha256,),
                )
            ]
        return None

    def remember_conformance(
        self, sha256: str, reader: str, checked_at: str, deviations: Sequence[dict[str, Any]]
    ) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("DELETE FROM conformance WHERE sha256=?", (sha256,))
            c.execute(
                "INSERT OR REPLACE INTO conformance_checked (sha256, reader, checked_at) "
                "VALUES (?, ?, ?)",
                (sha256, reader, checked_at),
            )
            c.executemany(
                f"INSERT INTO conformance (sha256, seq, {', '.join(CONFORMANCE_FIELDS)}) "  # noqa: S608
                f"VALUES (?, ?, {', '.join('?' for _ in CONFORMANCE_FIELDS)})",
                [
                    (sha256, n, *(str(d.get(k, "")) if k != "dataset" else int(d.get(k, 0))
                                  for k in CONFORMANCE_FIELDS))
                    for n, d in enumerate(deviations)
                ],
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    # -- reading back ------------------------------------------------------------------
    def table(self, keys: Sequence[tuple[str, str]] | None = None) -> ResultTable:
        """Records of the given experiments (all when None) with conditions joined on."""
        sql = f"SELECT {_REC_COLS}, conditions FROM results"  # noqa: S608 (constant column names)
        args: list[Any] = []
        if keys is not None:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _keys (assay TEXT, experiment TEXT)")
            self.conn.execute("DELETE FROM _keys")
            self.conn.executemany("INSERT INTO _keys VALUES (?, ?)", list(keys))
            sql += " WHERE (assay, experiment) IN (SELECT assay, experiment FROM _keys)"
        sql += " ORDER BY assay, experiment, seq"
        raw = self.conn.execute(sql, args).fetchall()
        cond_rows = [json.loads(r[-1]) if r[-1] else {} for r in raw]
        cond_cols = sorted({k for d in cond_rows for k in d} - set(RECORD_FIELDS))
        nrec = len(RECORD_FIELDS)
        rows = []
        for r, cond in zip(raw, cond_rows):
            rec = list(r[:nrec])
            rec[nrec - 1] = json.loads(rec[nrec - 1])
            rows.append(tuple(rec) + tuple(cond.get(k, "") for k in cond_cols))
        return ResultTable(columns=[*RECORD_FIELDS, *cond_cols], rows=rows)

    def findings(self, keys: Sequence[tuple[str, str]]) -> list[QCFinding]:
        out = []
        for assay, exp in keys:
            for row in self.conn.execute(
                "SELECT assay, experiment, flag, severity, sample_id, entity, message "
                "FROM qc_findings WHERE assay=? AND experiment=? ORDER BY seq",
                (assay, exp),
            ):
                out.append(QCFinding(*row))
        return out

    def figures(self, keys: Sequence[tuple[str, str]]) -> list[StoredFigure]:
        out = []
        for assay, exp in keys:
            for row in self.conn.execute(
                "SELECT assay, experiment, name, sample_id, path, caption FROM figures "
                "WHERE assay=? AND experiment=? ORDER BY seq",
                (assay, exp),
            ):
                out.append(StoredFigure(*row))
        return out


def records_from_table(table: ResultTable) -> list[Record]:
    n = len(RECORD_FIELDS)
    names = RECORD_FIELDS[: n - 1]
    return [Record(**dict(zip(names, r)), qc_flags=tuple(r[n - 1])) for r in table.rows]
