"""Always-on slice of the fuzz campaign: 200 seeded mutations through the FCS reader.

Besides "only FCSError (naming the file, from an explicit check) or a result",
two kinds of mutation have a known answer, worked out from the file's own
HEADER bytes and not from the reader: a file cut inside its 58-byte HEADER
must be refused, and bytes flipped only inside the DATA segment leave the
shape and every event row without a flipped byte exactly as they were.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from assaykit.cytometry import fcs
from assaykit.cytometry.fcs.read import _UNEXPECTED
from assaykit.errors import FCSError
from helpers.fuzzing import fcs_seeds, mutate_fcs

N_CASES = 200


def _data_range(content: bytes) -> tuple[int, int]:
    """DATA start and end from the HEADER (bytes 26-41), independent of the reader."""
    return int(content[26:34]), int(content[34:42])


def test_seeded_mutations_read_or_raise_fcserror(
    shared_data: Path, repo_root: Path, tmp_path: Path
) -> None:
    seeds = [s for s in fcs_seeds(shared_data, repo_root, tmp_path) if len(s[1]) < 1_100_000]
    rng = np.random.default_rng(20261202)
    path = tmp_path / "mutant.fcs"
    outcomes = {"ok": 0, "refused": 0, "header_cut": 0, "data_flip": 0}
    for case in range(N_CASES):
        name, content = seeds[case % len(seeds)]
        kind, label, mutant = mutate_fcs(content, rng)
        where = f"case {case} {name} {label}"
        path.write_bytes(mutant)
        started = time.perf_counter()
        try:
            data = fcs.read_fcs(path)
        except FCSError as exc:
            assert exc.path == str(path), where
            assert _UNEXPECTED not in exc.reason, f"{where}: {exc.reason}"
            data = None
            outcomes["refused"] += 1
        else:
            outcomes["ok"] += 1
            assert data.events.shape == (data.n_events, len(data.channels)), where
        assert time.perf_counter() - started < 5.0, where
        if kind == "truncate" and len(mutant) < 58:
            assert data is None, f"{where}: a file cut inside its HEADER was read"
            outcomes["header_cut"] += 1
        if kind == "flip_data":
            orig_path = tmp_path / "orig.fcs"
            orig_path.write_bytes(content)
            original = fcs.read_fcs(orig_path, copy=True)
            assert data is not None, f"{where}: flips inside DATA made the file unreadable"
            assert data.events.shape == original.events.shape, where
            start, end = _data_range(content)
            row_bytes = (end - start + 1) // original.n_events
            before, after = np.frombuffer(content, np.uint8), np.frombuffer(mutant, np.uint8)
            changed = np.flatnonzero(before != after)
            assert changed.min() >= start and changed.max() <= end, where
            flipped = set(((changed - start) // row_bytes).tolist())
            same = [r for r in range(original.n_events) if r not in flipped]
            np.testing.assert_array_equal(
                np.asarray(data.events)[same], original.events[same], err_msg=where
            )
            assert flipped, where
            outcomes["data_flip"] += 1
    for name, content in seeds:  # a cut inside the HEADER: always refused
        cut = int(rng.integers(0, 58))
        path.write_bytes(content[:cut])
        try:
            fcs.read_fcs(path)
        except FCSError as exc:
            assert exc.path == str(path) and _UNEXPECTED not in exc.reason, exc
            outcomes["header_cut"] += 1
        else:
            raise AssertionError(f"{name} cut to {cut} bytes was read")
    # the slice really exercised both outcomes and the known-answer mutations
    assert outcomes["ok"] > 20 and outcomes["refused"] > 20, outcomes
    assert outcomes["header_cut"] == len(seeds) and outcomes["data_flip"] >= 5, outcomes
