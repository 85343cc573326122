"""The fuzz campaign's quick mode (``-m fuzz``; CI deselects it by default).

The same mutators and accounting as ``bench/fuzz_campaign.py``, with a few
hundred cases per target and a few runs of the real CLI. Each must end with
no crash (untyped exception), no case over 5 s, no peak-memory growth over
its bound, no wrong result, and no CLI exit 3 or traceback; and both outcomes
must occur, or the mutations did not reach the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import fuzzing

pytestmark = pytest.mark.fuzz

N = 300


def _assert_clean(t: fuzzing.Tally) -> None:
    detail = "\n".join([*t.crashes, *t.slow, *t.overalloc, *t.wrong][:20])
    assert not t.failed, f"{t.row()}\n{detail}"


def test_fcs_quick(shared_data: Path, repo_root: Path, tmp_path: Path) -> None:
    t = fuzzing.fcs_campaign(N, 11, shared_data, repo_root, tmp_path)
    _assert_clean(t)
    assert not t.guarded, t.guarded[:5]
    assert t.ok > N // 5 and t.n_typed > N // 5, t.row()
    # $TOT/$PAR/offsets set to huge values: memory stays that of the real file
    assert t.kinds["huge"] >= 10 and t.kind_peak_mib["huge"] < 64, t.kind_peak_mib


def test_image_quick(shared_data: Path, tmp_path: Path) -> None:
    t = fuzzing.image_campaign(N, 11, shared_data, tmp_path)
    _assert_clean(t)
    assert t.ok > N // 10 and t.n_typed > N // 5, t.row()
    # dimensions edited to 0, 65535, 2**31-1 ...: refused before the claimed image exists
    assert t.kinds["tiff_tag"] >= 30 and t.kind_peak_mib["tiff_tag"] < 96, t.kind_peak_mib


def test_sheet_quick(repo_root: Path, tmp_path: Path) -> None:
    t = fuzzing.sheet_campaign(N, 11, repo_root, tmp_path)
    _assert_clean(t)
    assert t.n_typed > N // 2, t.row()


def test_cli_quick(shared_data: Path, repo_root: Path, tmp_path: Path) -> None:
    t = fuzzing.cli_cases(3, 11, shared_data, repo_root, tmp_path)
    _assert_clean(t)
    assert t.cases == 3
