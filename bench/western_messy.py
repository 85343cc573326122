"""``western_blot`` on the messy generated blots (tests/helpers/messy_blots.CASES).

Plain script: ``python bench/western_messy.py [--case NAME ...] [--json] [--detail]``.

Why: issue 10 — a wrong number that says ``pass`` is the worst outcome this
tool can have. Each case is written as a lab would hand it over (image,
``samples.csv``, ``assaykit.toml``) and run through :func:`assaykit.run`, the
path of ``assaykit run FOLDER``. Every expected number is the generator's
truth (``write_case``), never the plugin's.

Columns, per case (ratios are the target rows' ``normalized_ratio``):

``samples``      target rows in the sheet (one ratio each expected)
``ratios``       ratios reported (a value, whatever its QC status)
``ok5``          ratios within 5 % of the truth
``wrong_pass``   ratios off by more than 5 % with qc_status pass (THE defect)
``wrong_warn``   ratios off by more than 5 % with qc_status warn (also a defect)
``fail``         ratios with qc_status fail (flagged: the tool says do not trust)
``missing``      target rows without a ratio value
``vol ok5``      band and loading volumes within 5 % (of 2 x samples)
``vol worst``    worst |error| of a volume not flagged fail (%)
``s``            seconds for the case
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import assaykit
from assaykit import HostConfig, PluginHost, Record
from helpers.messy_blots import CASES, CASES_BY_NAME, BandTruth, MessyCase, write_case

TOLERANCE = 0.05
#: metrics that are never negative (rotation_deg may be)
NON_NEGATIVE = frozenset(
    {"band_volume", "loading_volume", "detection_limit", "normalized_ratio", "fold_change"}
)


@dataclass
class Row:
    """One (sample, target) row: truth, what was reported, and its QC."""

    sample_id: str
    target: str
    metric: str
    truth: float
    value: float | None
    status: str
    flags: tuple[str, ...]

    @property
    def error(self) -> float:
        if self.value is None:
            return math.nan
        if self.truth == 0:
            return math.inf if self.value else 0.0
        return self.value / self.truth - 1.0


@dataclass
class CaseScore:
    name: str
    samples: int
    ratios: int = 0
    ok5: int = 0
    wrong_pass: int = 0
    wrong_warn: int = 0
    fail: int = 0
    missing: int = 0
    volumes: int = 0
    vol_ok5: int = 0
    vol_wrong_unflagged: int = 0
    vol_worst_unflagged: float = 0.0
    negative: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def _find(records: list[Record], sid: str, target: str, metric: str) -> Record | None:
    hits = [
        r
        for r in records
        if r.sample_id == sid and r.metric == metric and r.entity.endswith(f":{target}")
    ]
    return hits[0] if len(hits) == 1 else None


def run_messy_case(
    case: MessyCase, folder: Path, host: PluginHost | None = None
) -> tuple[dict[tuple[str, str], BandTruth], list[Record], float]:
    """Write ``case`` into ``folder`` and run it as ``assaykit run`` would; returns
    (truth, records, seconds of the run)."""
    truth = write_case(case, folder / "in")
    t0 = time.perf_counter()
    res = assaykit.run(folder / "in", folder / "out", figures=False, report=False, host=host)
    return truth, res.records, time.perf_counter() - t0


def score(
    case: MessyCase, truth: dict[tuple[str, str], BandTruth], records: list[Record]
) -> CaseScore:
    """Compare the records with the truth (see the module docs for the columns)."""
    sc = CaseScore(case.name, case.n_lanes)
    sc.errors = [str(r.value) for r in records if r.metric == "error"]
    for r in records:
        v = r.value
        if r.metric not in NON_NEGATIVE:
            continue
        if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
            sc.negative += 1
    for (sid, target), t in sorted(truth.items()):
        if t.loading:
            rec = _find(records, sid, target, "loading_volume")
            want = t.volume
            metric = "loading_volume"
        else:
            rec = _find(records, sid, target, "band_volume")
            want = t.volume
            metric = "band_volume"
        rows = [(metric, want, rec)]
        if not t.loading:
            rows.append(
                ("normalized_ratio", t.ratio, _find(records, sid, target, "normalized_ratio"))
            )
        for m, w, rc in rows:
            val = rc.value if rc is not None and isinstance(rc.value, int | float) else None
            row = Row(
                sid, target, m, float(w), None if val is None else float(val),
                rc.qc_status if rc is not None else "missing", rc.qc_flags if rc else (),
            )  # fmt: skip
            sc.rows.append(row)
            e = row.error
            bad = not (abs(e) <= TOLERANCE)  # nan (missing) counts as not within
            if m == "normalized_ratio":
                if row.value is None:
                    sc.missing += 1
                    continue
                sc.ratios += 1
                if row.status == "fail":
                    sc.fail += 1
                if not bad:
                    sc.ok5 += 1
                elif row.status == "pass":
                    sc.wrong_pass += 1
                elif row.status == "warn":
                    sc.wrong_warn += 1
            else:
                sc.volumes += 1
                if not bad:
                    sc.vol_ok5 += 1
                if row.value is not None and row.status != "fail":
                    sc.vol_worst_unflagged = max(sc.vol_worst_unflagged, abs(e))
                    if bad:
                        sc.vol_wrong_unflagged += 1
    return sc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", nargs="+", choices=sorted(CASES_BY_NAME), help="only these cases")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--detail", action="store_true", help="every row that is not within 5 %%")
    args = ap.parse_args(argv)
    cases = [CASES_BY_NAME[n] for n in args.case] if args.case else CASES
    host = PluginHost(HostConfig(autoload=False, load=("western",)))
    scores: list[CaseScore] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            truth, records, secs = run_messy_case(case, Path(tmp) / case.name, host)
            sc = score(case, truth, records)
            sc.seconds = secs
            scores.append(sc)
    if args.json:
        out: list[dict[str, Any]] = []
        for sc in scores:
            d = asdict(sc)
            d["rows"] = [
                {**asdict(r), "error": None if math.isnan(r.error) else r.error} for r in sc.rows
            ]
            out.append(d)
        print(json.dumps(out, indent=1))
        return 0
    head = (
        f"{'case':28s} {'samples':>7s} {'ratios':>6s} {'ok5':>4s} {'wrong_pass':>10s} "
        f"{'wrong_warn':>10s} {'fail':>4s} {'missing':>7s} {'vol ok5':>9s} {'vol worst':>9s} "
        f"{'neg':>3s} {'s':>5s}"
    )
    print(head)
    print("-" * len(head))
    tot = dict.fromkeys(("samples", "ratios", "ok5", "wrong_pass", "wrong_warn", "fail",
                         "missing", "volumes", "vol_ok5", "negative"), 0)  # fmt: skip
    for sc in scores:
        for k in tot:
            tot[k] += getattr(sc, k)
        print(
            f"{sc.name:28s} {sc.samples:7d} {sc.ratios:6d} {sc.ok5:4d} {sc.wrong_pass:10d} "
            f"{sc.wrong_warn:10d} {sc.fail:4d} {sc.missing:7d} {sc.vol_ok5:4d}/{sc.volumes:<4d} "
            f"{100 * sc.vol_worst_unflagged:8.1f}% {sc.negative:3d} {sc.seconds:5.1f}"
        )
        for msg in sc.errors:
            print(f"    error: {msg[:300]}")
        if args.detail:
            for r in sc.rows:
                e = r.error
                if abs(e) <= TOLERANCE:
                    continue
                es = "missing" if math.isnan(e) else f"{100 * e:+.1f}%"
                print(
                    f"    {r.sample_id} {r.target:6s} {r.metric:16s} {es:>8s} {r.status:5s} "
                    f"{','.join(r.flags)}"
                )
    print("-" * len(head))
    print(
        f"{'all':28s} {tot['samples']:7d} {tot['ratios']:6d} {tot['ok5']:4d} "
        f"{tot['wrong_pass']:10d} {tot['wrong_warn']:10d} {tot['fail']:4d} {tot['missing']:7d} "
        f"{tot['vol_ok5']:4d}/{tot['volumes']:<4d} {'':9s} {tot['negative']:3d} "
        f"{sum(s.seconds for s in scores):5.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
