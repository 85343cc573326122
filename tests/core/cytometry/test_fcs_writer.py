"""write_fcs: the file it writes follows FCS 3.1, and read_fcs gives back what went in.

The layout checks parse the written bytes by hand, straight from the
standard (HEADER fields, TEXT pairs, DATA bytes), so they do not trust our
own reader. The round trips then check the reader against known values.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest
from assaykit.cytometry.compensation import SpilloverMatrix
from assaykit.cytometry.fcs import decode, read_fcs, read_fcs_metadata, write_fcs
from assaykit.cytometry.fcs.writer import _layout_file
from assaykit.errors import UsageError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

RNG_SEED = 20240611


def _raw_parse(path: Path) -> tuple[list[int], dict[str, str], bytes, str]:
    """Independent reading of a single-data-set file: HEADER offsets, TEXT pairs, DATA."""
    raw = path.read_bytes()
    assert raw[:10] == b"FCS3.1    "
    fields = [int(raw[10 + 8 * i : 18 + 8 * i]) for i in range(6)]
    text = raw[fields[0] : fields[1] + 1].decode("utf-8")
    delim = text[0]
    assert text[-1] == delim
    items = text[1:-1].replace(delim * 2, "\0").split(delim)
    items = [item.replace("\0", delim) for item in items]
    pairs = dict(zip(items[0::2], items[1::2]))
    begin, end = int(pairs["$BEGINDATA"]), int(pairs["$ENDDATA"])
    return fields, pairs, raw[begin : end + 1] if end else b"", delim


def _root(array: np.ndarray) -> object:
    """What finally holds an array's memory: an owning ndarray, or e.g. an mmap."""
    obj: object = array
    while isinstance(obj, np.ndarray) and obj.base is not None:
        obj = obj.base
    return obj.obj if isinstance(obj, memoryview) else obj


def _events(rows: int, cols: int, seed: int = RNG_SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(1000.0, 400.0, size=(rows, cols))


def test_layout_follows_the_standard(tmp_path: Path) -> None:
    path = tmp_path / "a.fcs"
    events = _events(100, 3).astype(np.float32)
    write_fcs(path, events, ["FSC-A", "SSC-A", "FL1-A"], labels=["", "", "CD45 FITC"])
    fields, text, data, delim = _raw_parse(path)
    raw = path.read_bytes()
    # HEADER: TEXT right after it; DATA offsets duplicated in TEXT (FCS 3.0 $BEGINDATA).
    assert fields[0] == 58
    assert fields[2:4] == [int(text["$BEGINDATA"]), int(text["$ENDDATA"])]
    assert fields[4:] == [0, 0]
    assert fields[2] % 8 == 0, "DATA is 8-byte aligned so it can be mapped without a copy"
    assert raw[fields[1] + 1 : fields[2]] == b" " * (fields[2] - fields[1] - 1)
    assert raw[fields[3] + 1 :] == b"00000000"  # no CRC: eight ASCII zeros (FCS 3.0 §3.5)
    required = {
        "$BEGINANALYSIS", "$BEGINDATA", "$BEGINSTEXT", "$BYTEORD", "$DATATYPE", "$ENDANALYSIS",
        "$ENDDATA", "$ENDSTEXT", "$MODE", "$NEXTDATA", "$PAR", "$TOT",
    }  # fmt: skip
    required |= {f"$P{n}{x}" for n in (1, 2, 3) for x in "BENR"}
    assert required <= set(text)
    assert (text["$PAR"], text["$TOT"], text["$DATATYPE"], text["$BYTEORD"]) == (
        "3", "100", "F", "1,2,3,4",
    )  # fmt: skip
    assert text["$P3S"] == "CD45 FITC" and "$P1S" not in text
    assert delim == "/"
    assert data == events.astype("<f4").tobytes()


@pytest.mark.parametrize("datatype", ["F", "D"])
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_float_round_trip(tmp_path: Path, datatype: str, byteorder: str) -> None:
    path = tmp_path / "f.fcs"
    events = _events(257, 5)
    events[3, 1] = np.nan
    events[4, 2] = -0.0
    events[5, 0] = np.inf
    write_fcs(path, events, [f"C{i}" for i in range(5)], datatype=datatype, byteorder=byteorder)  # type: ignore[arg-type]
    expected = events.astype(np.float32 if datatype == "F" else np.float64)
    _, text, data, _ = _raw_parse(path)
    code = ("<" if byteorder == "little" else ">") + ("f4" if datatype == "F" else "f8")
    assert data == expected.astype(code).tobytes()
    assert text["$BYTEORD"] == ("1,2,3,4" if byteorder == "little" else "4,3,2,1")
    back = read_fcs(path)
    assert back.events.dtype == expected.dtype and back.events.dtype.isnative
    np.testing.assert_array_equal(back.events, expected)
    assert np.signbit(back.events[4, 2])
    assert back.warnings == []


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_integer_round_trip(tmp_path: Path, bits: int, byteorder: str) -> None:
    path = tmp_path / "i.fcs"
    rng = np.random.default_rng(bits)
    events = rng.integers(0, 2**bits, size=(300, 4), dtype=np.uint64)
    events[0] = 2**bits - 1  # the largest value must survive
    write_fcs(path, events, list("ABCD"), datatype="I", bits=bits, byteorder=byteorder)  # type: ignore[arg-type]
    _, text, data, _ = _raw_parse(path)
    assert text["$P1B"] == str(bits) and text["$P1R"] == str(2**bits)
    # Independent decode of the first value of the second event.
    width = bits // 8
    first = data[4 * width : 5 * width]
    assert int.from_bytes(first, byteorder) == int(events[1, 0])  # type: ignore[arg-type]
    back = read_fcs(path)
    assert back.events.dtype == (np.float32 if bits <= 24 else np.float64)
    np.testing.assert_array_equal(back.events, events.astype(np.float64))
    assert back.warnings == []


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_mixed_integer_widths_round_trip(tmp_path: Path, byteorder: str) -> None:
    path = tmp_path / "mixed.fcs"
    bits = [8, 16, 24, 32, 64]
    rng = np.random.default_rng(7)
    cols = [rng.integers(0, min(2**b, 2**53), size=64, dtype=np.uint64) for b in bits]
    events = np.stack(cols, axis=1)
    write_fcs(path, events, list("VWXYZ"), datatype="I", bits=bits, byteorder=byteorder)  # type: ignore[arg-type]
    _, _, data, _ = _raw_parse(path)
    assert len(data) == 64 * sum(bits) // 8
    back = read_fcs(path)
    assert back.events.dtype == np.float64  # 32- and 64-bit channels do not fit float32
    np.testing.assert_array_equal(back.events, events.astype(np.float64))


def test_pnr_that_is_not_a_power_of_two_masks_to_the_next_one(tmp_path: Path) -> None:
    """$PnR/1000/: values 0-999 expected; the mask is 1023 (next power of two, minus 1)."""
    path = tmp_path / "mask.fcs"
    events = np.array([[5, 999], [1000, 1023], [1024, 1500], [65535, 2048]])
    write_fcs(path, events, ["A", "B"], datatype="I", bits=16, ranges=[1000, 1000])
    back = read_fcs(path)
    np.testing.assert_array_equal(back.events, events & 1023)
    assert any("masked" in w and "A: 2" in w and "B: 2" in w for w in back.warnings)


def test_spillover_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "spill.fcs"
    rng = np.random.default_rng(3)
    matrix = np.eye(3) + rng.uniform(0, 0.3, size=(3, 3)) * (1 - np.eye(3))
    names = ["FITC-A", "PE-A", "APC-A"]
    spill = SpilloverMatrix(tuple(names), matrix)
    write_fcs(path, _events(10, 5), ["FSC-A", "SSC-A", *names], spillover=spill)
    _, text, _, _ = _raw_parse(path)
    items = text["$SPILLOVER"].split(",")
    assert items[:4] == ["3", *names] and len(items) == 1 + 3 + 9
    back = read_fcs(path)
    assert back.spillover is not None
    assert back.spillover.detectors == tuple(names)
    assert back.spillover.keyword == "$SPILLOVER"
    np.testing.assert_array_equal(back.spillover.matrix, matrix)  # repr() round-trips exactly
    assert [back.channel_index(n) for n in back.spillover.detectors] == [2, 3, 4]
    # A (names, matrix) pair is accepted too.
    write_fcs(path, _events(10, 5), ["FSC-A", "SSC-A", *names], spillover=(names, matrix))
    np.testing.assert_array_equal(read_fcs(path).spillover.matrix, matrix)  # type: ignore[union-attr]


def test_keywords_and_escaping(tmp_path: Path) -> None:
    path = tmp_path / "kw.fcs"
    keywords = {
        "$CYT": "Synthetic/Cytometer|v1",
        "$DATE": "01-OCT-1994",
        "$BTIM": "14:22:10:47",
        "$SRC": "Zürich µ-lab",
        "my_keyword": "ends with a slash/",
        "$P1E": "4.0,1.0",
    }
    write_fcs(path, _events(4, 2), ["FSC-A", "FL1-A"], keywords=keywords)
    _, text, _, delim = _raw_parse(path)
    assert delim not in "".join(keywords.values())  # chose an unused delimiter
    assert text["MY_KEYWORD"] == "ends with a slash/"  # keywords are written upper-case
    back = read_fcs(path)
    assert back.instrument == "Synthetic/Cytometer|v1"
    assert back.acquired_at == "1994-10-01T14:22:10"
    assert back.keywords["$SRC"] == "Zürich µ-lab"
    assert back.keywords["$P1E"] == "4.0,1.0"
    # Forcing '/' makes the writer escape it by doubling (FCS 3.0 §3.2.7).
    write_fcs(path, _events(4, 2), ["FSC/A", "FL1-A"], keywords=keywords, delimiter="/")
    raw = path.read_bytes()
    assert b"/$P1N/FSC//A/" in raw and b"/MY_KEYWORD/ends with a slash///" in raw
    back = read_fcs(path)
    assert back.channels == ["FSC/A", "FL1-A"]
    assert back.keywords["MY_KEYWORD"] == "ends with a slash/"
    assert back.keywords["$CYT"] == "Synthetic/Cytometer|v1"
    assert back.warnings == []


def test_zero_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.fcs"
    write_fcs(path, np.empty((0, 3)), ["A", "B", "C"])
    fields, text, data, _ = _raw_parse(path)
    assert fields[2:4] == [0, 0] and text["$TOT"] == "0" and data == b""
    back = read_fcs(path)
    assert back.events.shape == (0, 3) and back.n_events == 0
    assert read_fcs_metadata(path).n_events == 0


def test_duplicate_channel_names_are_kept_and_addressed_by_position(tmp_path: Path) -> None:
    path = tmp_path / "dup.fcs"
    events = _events(20, 3)
    write_fcs(path, events, ["FSC-A", "FL1-A", "FL1-A"], labels=["", "CD3", "CD4"])
    back = read_fcs(path)
    assert back.channels == ["FSC-A", "FL1-A", "FL1-A"]
    assert back.channel_indices("FL1-A") == [1, 2]
    with pytest.raises(KeyError, match=r"ambiguous.*\[1, 2\]"):
        back.channel_index("FL1-A")
    assert back.channel_index("CD4") == 2  # the label is unique
    assert back.channel_index(2) == 2 and back.channel_index(-1) == 2
    np.testing.assert_array_equal(back.column(2), events[:, 2].astype(np.float32))
    with pytest.raises(KeyError, match="no channel named"):
        back.channel_index("PE-A")
    with pytest.raises(KeyError, match="out of range"):
        back.channel_index(3)


def test_large_native_file_is_memory_mapped_copy_on_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "MMAP_THRESHOLD", 1024)
    path = tmp_path / "big.fcs"
    events = _events(1000, 4).astype(np.float32)
    write_fcs(path, events, list("ABCD"))
    before = path.read_bytes()
    back = read_fcs(path)
    assert isinstance(_root(back.events), mmap.mmap)  # a view of the mapped file, not a copy
    assert back.events.flags.writeable and back.events.flags.aligned
    back.events[0, 0] = -1.0  # private to this process; never written back
    assert path.read_bytes() == before
    np.testing.assert_array_equal(back.events[1:], events[1:])
    owned = read_fcs(path, copy=True)
    assert isinstance(_root(owned.events), np.ndarray)
    assert read_fcs(path, copy=False).events.base is not None
    path.unlink()  # an owned copy outlives the file
    np.testing.assert_array_equal(owned.events, events)


def test_big_endian_is_swapped_in_place_not_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "MMAP_THRESHOLD", 1024)
    path = tmp_path / "be.fcs"
    events = _events(1000, 4)
    write_fcs(path, events, list("ABCD"), datatype="D", byteorder="big")
    back = read_fcs(path)
    assert isinstance(_root(back.events), np.ndarray)
    assert back.events.dtype == np.dtype("=f8")
    np.testing.assert_array_equal(back.events, events)


def test_writer_refuses_a_matrix_spillover_keyword_cannot_hold(tmp_path: Path) -> None:
    unmixing = SpilloverMatrix(("A", "B"), np.eye(2), ("FITC", "PE"))  # Gating-ML style names
    with pytest.raises(UsageError, match="cannot hold"):
        write_fcs(tmp_path / "x.fcs", np.zeros((2, 2)), ["A", "B"], spillover=unmixing)


def test_header_data_offsets_become_zero_past_99999999() -> None:
    """FCS 3.0 §3.1.1: a segment beyond byte 99,999,999 gets '0's in the HEADER."""
    text = {"$PAR": "1", "$TOT": "1"}
    header, text_bytes, begin = _layout_file(text, "/", 100_000_000)
    assert header[26:42] == b"       0       0"
    assert b"/$BEGINDATA/" + str(begin).encode() + b"/" in text_bytes
    assert b"/$ENDDATA/" + str(begin + 100_000_000 - 1).encode() + b"/" in text_bytes
    header, _, begin = _layout_file(text, "/", 1000)
    assert int(header[26:34]) == begin


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": np.zeros(3)}, "2-D"),
        ({"channels": ["A"]}, "2 columns"),
        ({"channels": ["A", "B,C"]}, "comma"),
        ({"channels": ["A", " "]}, "empty"),
        ({"labels": ["x"]}, "1 labels"),
        ({"datatype": "A"}, "datatype"),
        ({"byteorder": "middle"}, "byteorder"),
        ({"datatype": "I", "events": np.array([[1.5, 2]])}, "whole"),
        ({"datatype": "I", "events": np.array([[-1, 2]])}, "negative"),
        ({"datatype": "I", "events": np.array([[256, 2]]), "bits": 8}, "does not fit"),
        ({"datatype": "I", "bits": 12}, "bits must be"),
        ({"bits": 16}, "datatype 'I' only"),
        ({"keywords": {"$TOT": "5"}}, "set by write_fcs"),
        ({"keywords": {"$p1n": "x"}}, "set by write_fcs"),
        ({"keywords": {"$COM": ""}}, "empty value"),
        ({"spillover": (["Z"], [[1.0]])}, "not channel names"),
        ({"spillover": (["A", "B"], [[1.0]])}, "shape"),
        ({"ranges": [1, -1]}, "positive"),
        ({"events": np.array([[1e300, 0]])}, "overflow"),
        ({"delimiter": "ab"}, "delimiter"),
        ({"keywords": {"X": "/leading"}, "delimiter": "/"}, "starts with the delimiter"),
    ],
)
def test_writer_refuses_misuse(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"events": np.ones((2, 2)), "channels": ["A", "B"]}
    args.update(kwargs)
    with pytest.raises(UsageError, match=message):
        write_fcs(tmp_path / "x.fcs", **args)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=hnp.arrays(
        np.float32,
        st.tuples(st.integers(0, 40), st.integers(1, 6)),
        elements=finite_floats,
    ),
    datatype=st.sampled_from(["F", "D"]),
    byteorder=st.sampled_from(["little", "big"]),
)
def test_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, events: np.ndarray, datatype: str, byteorder: str
) -> None:
    path = tmp_path_factory.mktemp("prop") / "p.fcs"
    names = [f"P{i}" for i in range(events.shape[1])]
    write_fcs(path, events, names, datatype=datatype, byteorder=byteorder)  # type: ignore[arg-type]
    back = read_fcs(path)
    assert back.channels == names and back.warnings == []
    np.testing.assert_array_equal(back.events, events.astype(back.events.dtype))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.lists(st.sampled_from([8, 16, 24, 32]), min_size=1, max_size=5),
    rows=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
    byteorder=st.sampled_from(["little", "big"]),
)
def test_integer_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, bits: list[int], rows: int, seed: int, byteorder: str
) -> None:
    rng = np.random.default_rng(seed)
    events = np.stack([rng.integers(0, 2**b, size=rows, dtype=np.uint64) for b in bits], axis=1)
    path = tmp_path_factory.mktemp("iprop") / "i.fcs"
    write_fcs(path, events, [f"P{i}" for i in range(len(bits))], datatype="I", bits=bits,
              byteorder=byteorder)  # type: ignore[arg-type]  # fmt: skip
    np.testing.assert_array_equal(read_fcs(path).events, events.astype(np.float64))
