"""Damaged real files: the reader either reads them or raises FCSError, quickly.

Mutations are seeded, so a failure reproduces. They concentrate on the HEADER
and TEXT, where a flipped byte changes how the DATA is interpreted; flips in
the DATA itself only change event values. Besides "only FCSError", the test
checks that no failure came from the reader's last-resort guard (its reason
starts with the marker below): every way these files break must have an
explicit check with a precise reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from assaykit.cytometry.fcs import read_fcs, read_fcs_all, read_fcs_metadata, write_fcs
from assaykit.cytometry.fcs.read import _UNEXPECTED
from assaykit.errors import FCSError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOURCES = {
    "cyflow_cube_8/cyflow_cube_8.fcs": None,
    "MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs": None,
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs": None,
    "FACSCaliburHTS/Sample_Well_A02.fcs": None,
    "Cytek_xP5/Cytek_xP5.fcs": None,
    "fake_large_fcs/fake_large_fcs.fcs": None,
    # The first two Guava Muse data sets plus the HEADER of the third.
    "GuavaMuse/Guava Muse.fcs": 2_014_343 + 3_400,
}
MUTANTS_PER_FILE = 120
TIME_LIMIT = 2.0  # seconds per read; a healthy read of these files takes milliseconds

STRUCTURAL = (
    b"$TOT", b"$PAR", b"$P1B", b"$NEXTDATA", b"$BEGINDATA", b"$P2R", b"$BYTEORD", b"$DATATYPE",
    b"SPILL", b"$SPILLOVER", b"$BEGINSTEXT",
)  # fmt: skip
HOSTILE = (
    "-1", "0", "99999999999999999999", "1e400", "nan", "²", "1,2,3", "4,3,2,1", "I", "D", "A",
    "3", "24", "7766", "x" * 300,
)  # fmt: skip

Reader = Callable[[Path], Any]
READERS: list[Reader] = [read_fcs_metadata, read_fcs, read_fcs_all]


def _text_end(content: bytes) -> int:
    field = content[18:26].strip()
    return int(field) if field.isdigit() else 2048


def _mutate(content: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    buf = bytearray(content)
    hot = min(len(buf), _text_end(content) + 64)  # HEADER + TEXT (+ a little DATA)
    kind = int(rng.integers(0, 7))
    if kind == 0:
        cut = int(rng.integers(0, hot if rng.random() < 0.6 else len(buf)))
        return f"truncate@{cut}", bytes(buf[:cut])
    if kind == 1:
        where = rng.integers(0, hot, size=int(rng.integers(1, 7)))
        for i in where:
            buf[int(i)] = int(rng.integers(0, 256))
        return f"flip{sorted(int(i) for i in where)}", bytes(buf)
    if kind == 2:
        digits = [i for i in range(hot) if 48 <= buf[i] <= 57]
        if digits:
            i = int(rng.choice(digits))
            buf[i] = int(rng.choice([*range(48, 58), 32, 45, 46, 0]))
            return f"digit@{i}", bytes(buf)
        return "unchanged", bytes(buf)
    if kind == 3:
        i = int(rng.integers(58, max(hot, 59)))
        return f"delete@{i}", bytes(buf[:i] + buf[i + 1 :])
    if kind == 4:
        i = int(rng.integers(58, max(hot, 59)))
        return f"insert@{i}", bytes(buf[:i]) + bytes([int(rng.integers(0, 256))]) + bytes(buf[i:])
    if kind == 5:
        field = int(rng.integers(0, 6))
        value = int(rng.choice([0, 1, 57, 58, len(buf) - 1, len(buf), len(buf) + 1, 10**7]))
        value = max(0, value + int(rng.integers(-2, 3)))
        buf[10 + 8 * field : 18 + 8 * field] = f"{value:>8}"[-8:].encode()
        return f"header[{field}]={value}", bytes(buf)
    # Replace the value of a structural keyword with something hostile.
    delim = buf[_safe_text_start(content)] if len(buf) > 58 else 47
    key = STRUCTURAL[int(rng.integers(0, len(STRUCTURAL)))]
    needle = bytes([delim]) + key + bytes([delim])
    at = content.find(needle)
    if at < 0:
        return "unchanged", bytes(buf)
    start = at + len(needle)
    stop = content.find(bytes([delim]), start)
    if stop < 0:
        return "unchanged", bytes(buf)
    hostile = HOSTILE[int(rng.integers(0, len(HOSTILE)))]
    return f"{key.decode()}={hostile!r}", bytes(buf[:start]) + str(hostile).encode() + bytes(
        buf[stop:]
    )


def _safe_text_start(content: bytes) -> int:
    field = content[10:18].strip()
    start = int(field) if field.isdigit() else 58
    return start if start < len(content) else 58


def _check(path: Path, label: str) -> None:
    succeeded: dict[str, Any] = {}
    for reader in READERS:
        started = time.perf_counter()
        try:
            result = reader(path)
        except FCSError as exc:
            assert _UNEXPECTED not in exc.reason, f"{label}: {exc.reason}"
            assert exc.path == str(path)
            result = None
        elapsed = time.perf_counter() - started
        assert elapsed < TIME_LIMIT, f"{label}: {reader.__name__} took {elapsed:.1f}s"
        if result is not None:
            succeeded[reader.__name__] = result
    data = succeeded.get("read_fcs")
    if data is not None:
        assert "read_fcs_metadata" in succeeded, f"{label}: events readable, metadata not"
        assert data.events.shape == (data.n_events, len(data.channels)), label
        assert data.events.dtype.isnative and data.events.dtype.kind == "f", label
        assert succeeded["read_fcs_metadata"].channels == data.channels, label
    for every in [succeeded.get("read_fcs_all")]:
        if every is not None:
            assert [d.dataset_index for d in every] == list(range(len(every))), label


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_damaged_real_files_only_raise_fcserror(
    name: str, shared_data: Path, tmp_path: Path
) -> None:
    content = (shared_data / "fcs-instruments" / name).read_bytes()
    limit = SOURCES[name]
    if limit is not None:
        content = content[:limit]
    rng = np.random.default_rng(sum(name.encode()))
    path = tmp_path / "mutant.fcs"
    seen = set()
    for n in range(MUTANTS_PER_FILE):
        label, mutant = _mutate(content, rng)
        seen.add(label.split("@")[0].split("[")[0].split("=")[0])
        path.write_bytes(mutant)
        _check(path, f"{name} mutant {n} ({label})")
    assert len(seen) >= 5  # the mutations really were varied


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(st.integers(0, 5000), min_size=6, max_size=6),
    version=st.sampled_from([b"FCS2.0", b"FCS3.0", b"FCS3.1"]),
    body=st.binary(max_size=600),
)
def test_random_bytes_after_a_header(
    tmp_path_factory: pytest.TempPathFactory, header: list[int], version: bytes, body: bytes
) -> None:
    path = tmp_path_factory.mktemp("rand") / "r.fcs"
    path.write_bytes(version + b"    " + b"".join(f"{v:>8}".encode() for v in header) + body)
    _check(path, f"header={header} body={body[:40]!r}")


keyword_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(["$TOT", "$PAR", "$P1B", "$P2R", "$BYTEORD", "$DATATYPE", "$MODE",
                         "$BEGINDATA", "$ENDDATA", "$NEXTDATA", "$SPILLOVER", "$DATE", "$P1N"]),
    value=keyword_text,
    delimiter=st.sampled_from(["/", "|", "\x0c"]),
)  # fmt: skip
def test_hostile_keyword_values(
    tmp_path_factory: pytest.TempPathFactory, key: str, value: str, delimiter: str
) -> None:
    """Valid file, then one keyword's value replaced by arbitrary text."""
    folder = tmp_path_factory.mktemp("kw")
    path = folder / "k.fcs"
    write_fcs(
        path,
        np.arange(12, dtype=np.float32).reshape(4, 3),
        ["A", "B", "C"],
        keywords={"$DATE": "01-JAN-2020"},
        spillover=(["A", "B"], np.eye(2)),
        delimiter=delimiter,
    )
    raw = path.read_bytes()
    d = delimiter.encode()
    needle = d + key.encode() + d
    at = raw.find(needle)
    assert at >= 0
    start = at + len(needle)
    stop = raw.find(d, start)
    encoded = value.encode("utf-8").replace(d, d + d) or b"0"
    if encoded.startswith(d):
        encoded = b"x" + encoded
    mutated = raw[:start] + encoded + raw[stop:]
    # Keep the HEADER's TEXT end offset in step with the new TEXT length.
    shift = len(encoded) - (stop - start)
    text_end = int(raw[18:26]) + shift
    mutated = mutated[:18] + f"{text_end:>8}".encode() + mutated[26:]
    path.write_bytes(mutated)
    _check(path, f"{key}={value!r}")
