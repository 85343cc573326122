"""Fuzz campaign: mutated FCS files, images and sample sheets through the readers
and through ``assaykit run`` (issue 11).

Run with the project's Python (one process; about 10 minutes for the full campaign):

    python bench/fuzz_campaign.py                 # 10,000 per target + 30 CLI runs
    python bench/fuzz_campaign.py --quick         # a few hundred per target, seconds
    python bench/fuzz_campaign.py --target fcs --n 2000 --seed 3 --json out.json

Seeds are the real files of the shared data folder (``ASSAYKIT_SHARED_DATA``,
default ``../shared/data``; read in place, never copied), the example folder's
generated files and the repo's generators (``write_fcs``, ``make_gel``,
``make_blot``). Every mutation comes from a seeded generator, so the counts
reproduce. What each count means: ``tests/helpers/fuzzing.py``.

The exit status is 1 when any case crashed (untyped exception), took over 5 s,
grew the peak resident memory beyond its bound, gave a wrong result, or when a
CLI run exited 3 or printed a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import fuzzing  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", choices=["fcs", "image", "sheet", "cli", "all"], default="all")
    ap.add_argument("--n", type=int, default=None, help="cases per target (default 10000)")
    ap.add_argument("--cli", type=int, default=None, help="CLI subprocess runs (default 30)")
    ap.add_argument("--quick", action="store_true", help="300 cases per target, 6 CLI runs")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", type=Path, help="write the counts and every failure here")
    ap.add_argument("--show", type=int, default=10, help="failures listed per kind")
    args = ap.parse_args(argv)
    n = args.n if args.n is not None else (300 if args.quick else 10_000)
    n_cli = args.cli if args.cli is not None else (6 if args.quick else 30)
    env = os.environ.get("ASSAYKIT_SHARED_DATA")
    shared = Path(env) if env else REPO.parent / "shared" / "data"
    if not shared.is_dir():
        print(f"shared data not found at {shared}; set ASSAYKIT_SHARED_DATA", file=sys.stderr)
        return 2
    tallies = []

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    targets = ["fcs", "image", "sheet", "cli"] if args.target == "all" else [args.target]
    for target in targets:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
            work = Path(tmp)
            if target == "fcs":
                t = fuzzing.fcs_campaign(n, args.seed, shared, REPO, work, say)
            elif target == "image":
                t = fuzzing.image_campaign(n, args.seed, shared, work, say)
            elif target == "sheet":
                t = fuzzing.sheet_campaign(n, args.seed, REPO, work, say)
            else:
                t = fuzzing.cli_cases(n_cli, args.seed, shared, REPO, work, say)
        tallies.append(t)
        say(f"{target}: done in {t.seconds:.0f}s")
    for line in fuzzing.iter_lines(tallies):
        print(line)
    for t in tallies:
        print(f"\n[{t.target}] typed errors by class: {dict(t.typed.most_common())}")
        print(f"[{t.target}] cases by mutation: {dict(sorted(t.kinds.items()))}")
        print(f"[{t.target}] peak-RSS growth by mutation (MiB): {t.kind_peak_mib}")
        print(f"[{t.target}] slowest: {t.max_seconds:.3f}s ({t.max_seconds_case[:150]})")
        print(f"[{t.target}] largest peak-RSS growth: {t.peak_growth_mib:.1f} MiB "
              f"({t.peak_growth_case[:150]})")  # fmt: skip
        for what in ("crashes", "slow", "overalloc", "wrong", "guarded"):
            items = getattr(t, what)
            for item in items[: args.show]:
                print(f"  {what}: {item[:400]}")
            if len(items) > args.show:
                print(f"  ... {len(items) - args.show} more {what}")
    if args.json:
        args.json.write_text(json.dumps(
            {"seed": args.seed, "rows": [t.row() for t in tallies],
             "kind_peak_mib": {t.target: t.kind_peak_mib for t in tallies},
             "failures": {t.target: {k: getattr(t, k) for k in
                                     ("crashes", "slow", "overalloc", "wrong", "guarded")}
                          for t in tallies}}, indent=1))  # fmt: skip
    return 1 if any(t.failed for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
