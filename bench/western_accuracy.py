"""Accuracy table of ``western_blot`` on generated blots (truth vs measured).

Plain script: ``python bench/western_accuracy.py [--seeds 3 4]``. For every
case of ``tests/helpers/westerndata.ACCURACY_CASES`` (the cases the tests
hold to 5 %) and every seed, it prints the worst and mean absolute errors of
band volumes (target and loading control), normalised ratios and fold
changes against the generator's truth, and whether any QC flag fired.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from assaykit import HostConfig, PluginHost
from helpers.westerndata import ACCURACY_CASES, EXTRA_CASES, errors, make_case, run_case


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    args = ap.parse_args(argv)
    host = PluginHost(HostConfig(autoload=False, load=("western",)))
    head = (
        f"{'case':32s} {'bands':>5s} {'volume err % worst/mean':>24s} "
        f"{'ratio err % worst/mean':>23s} {'fold-change err % worst':>24s}  flags"
    )
    print(head)
    print("-" * len(head))
    all_vol: list[float] = []
    all_ratio: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in {**ACCURACY_CASES, **EXTRA_CASES}.items():
            vol, ratio, fold, fl = [], [], [], set()
            failed = 0
            for seed in args.seeds:
                case = make_case(Path(tmp) / f"{name}_{seed}", seed, **spec)
                result = run_case(host, case)
                errs = list(errors(case, result).values())
                if any(np.isnan(v) for e in errs for v in e.values()):
                    failed += 1  # a band not measured (flagged): reported, not averaged
                    fl |= {f for r in result.records for f in r.qc_flags}
                    continue
                for e in errs:
                    vol += [abs(e["band_volume"]), abs(e["loading_volume"])]
                    ratio.append(abs(e["normalized_ratio"]))
                    fold.append(abs(e["fold_change"]))
                fl |= {f for r in result.records for f in r.qc_flags}
            if name in ACCURACY_CASES:
                all_vol += vol
                all_ratio += ratio
            fails = f"; {failed}/{len(args.seeds)} seeds not measured" if failed else ""
            print(
                f"{name:32s} {len(vol):5d} {100 * max(vol):11.2f} / {100 * np.mean(vol):5.2f}     "
                f"{100 * max(ratio):10.2f} / {100 * np.mean(ratio):5.2f}    "
                f"{100 * max(fold):12.2f}            {','.join(sorted(fl)) or '-'}{fails}"
            )
    print(
        f"\nall tested cases: worst volume error {100 * max(all_vol):.2f} %, "
        f"worst ratio error {100 * max(all_ratio):.2f} % ({len(all_vol)} bands)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
