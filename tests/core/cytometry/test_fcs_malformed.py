"""Hand-built FCS files that break the standard in the ways real instruments do.

Each file is assembled byte by byte here (not with write_fcs) so that the
HEADER, TEXT and DATA can be made wrong on purpose. Each test states the
rule of the standard involved and what the reader must do: repair with a
recorded warning, or refuse with an FCSError that names the problem.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from assaykit.cytometry.compensation import CompensationError, SpilloverMatrix
from assaykit.cytometry.fcs import read_fcs, read_fcs_all, read_fcs_metadata
from assaykit.errors import FCSError

Pairs = Sequence[tuple[str, str]]
EVENTS = np.array([[1.5, 2.0], [3.0, -4.25], [5.0, 6.0]], dtype="<f4")


def build(
    pairs: Pairs,
    data: bytes,
    *,
    version: str = "FCS3.1",
    delim: str = "/",
    offsets_in_text: bool = True,
    header: dict[int, object] | None = None,
    text_pad: bytes = b"",
    trailer: bytes = b"",
) -> bytes:
    """HEADER + TEXT (+ padding) + DATA, offsets computed from the standard.

    ``header`` overrides HEADER fields by index (0 TEXT start ... 5 ANALYSIS
    end); ``text_pad`` goes after the TEXT's final delimiter but inside the
    HEADER's TEXT range, like MACSQuant's trailing space.
    """
    items = list(pairs)
    if offsets_in_text:
        items += [("$BEGINDATA", "{B}"), ("$ENDDATA", "{E}")]

    def render(begin: int, end: int) -> bytes:
        body = delim + "".join(f"{k}{delim}{v}{delim}" for k, v in items)
        return body.replace("{B}", f"{begin:010d}").replace("{E}", f"{end:010d}").encode("latin-1")

    text = render(0, 0) + text_pad
    text_end = 58 + len(text) - 1
    begin = text_end + 1 if data else 0
    end = begin + len(data) - 1 if data else 0
    text = render(begin, end) + text_pad
    fields: list[object] = [58, text_end, begin, end, 0, 0]
    for index, value in (header or {}).items():
        fields[index] = value
    head = version.encode() + b"    " + b"".join(f"{v!s:>8}".encode() for v in fields)
    assert len(head) == 58
    return head + text + data + trailer


def keywords(
    par: int = 2,
    tot: int = 3,
    datatype: str = "F",
    byteord: str = "1,2,3,4",
    bits: int | str = 32,
    ranges: Sequence[str] | None = None,
    extra: Pairs = (),
    drop: Sequence[str] = (),
) -> list[tuple[str, str]]:
    pairs = [
        ("$BYTEORD", byteord),
        ("$DATATYPE", datatype),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", str(par)),
        ("$TOT", str(tot)),
    ]
    for n in range(1, par + 1):
        pairs += [
            (f"$P{n}N", f"CH{n}"),
            (f"$P{n}B", str(bits)),
            (f"$P{n}E", "0,0"),
            (f"$P{n}R", ranges[n - 1] if ranges else "262144"),
        ]
    pairs = [(k, v) for k, v in pairs if k not in drop]
    return pairs + list(extra)


def write(tmp_path: Path, content: bytes, name: str = "t.fcs") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def refuse(path: Path, *fragments: str) -> FCSError:
    with pytest.raises(FCSError) as err:
        read_fcs(path)
    for fragment in fragments:
        assert fragment in err.value.reason, err.value.reason
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    return err.value


def test_builder_makes_a_valid_file(tmp_path: Path) -> None:
    data = read_fcs(write(tmp_path, build(keywords(), EVENTS.tobytes())))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert data.channels == ["CH1", "CH2"] and data.labels == ["", ""]
    assert data.warnings == []


# -- DATA offsets ---------------------------------------------------------------


@pytest.mark.parametrize(("delta", "word"), [(1, "one past the last byte"), (-1, "short")])
def test_data_end_off_by_one_is_repaired(tmp_path: Path, delta: int, word: str) -> None:
    raw = EVENTS.tobytes()
    probe = build(keywords(), raw + b" ", offsets_in_text=False)
    text_end = int(probe[18:26])
    end = text_end + len(raw) + delta  # correct end is text_end + len(raw)
    content = build(keywords(), raw + b" ", offsets_in_text=False, header={3: end})
    data = read_fcs(write(tmp_path, content))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any(word in w for w in data.warnings), data.warnings


def test_data_off_by_two_is_refused(tmp_path: Path) -> None:
    raw = EVENTS.tobytes()
    text_end = int(build(keywords(), raw, offsets_in_text=False)[18:26])
    content = build(keywords(), raw + b"  ", offsets_in_text=False, header={3: text_end + 26})
    refuse(write(tmp_path, content), "$TOT=3 × 8 bytes per event = 24 bytes", "= 26 bytes")


def test_header_and_text_disagree_use_the_one_that_fits(tmp_path: Path) -> None:
    """FCS 3.0 $BEGINDATA/$ENDDATA: below 99,999,999 bytes they "duplicate the offset
    contained in the HEADER". When they differ the file breaks that rule and
    neither copy is authoritative; the one whose size equals $TOT × bytes per
    event is used, with a warning. (fcsparser always takes a non-zero HEADER
    start and reads $TOT events from it, so with a wrong HEADER start it
    returns shifted events without a word.)
    """
    raw = EVENTS.tobytes()
    content = bytearray(build(keywords(), raw))
    good_begin = int(content[26:34])
    # Break the TEXT copy: $ENDDATA now claims 100 more bytes.
    fixed = f"{good_begin + 23:010d}".encode()
    content = content.replace(
        b"$ENDDATA/" + fixed, b"$ENDDATA/" + f"{good_begin + 123:010d}".encode()
    )
    data = read_fcs(write(tmp_path, bytes(content)))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any("disagree" in w and "used HEADER" in w for w in data.warnings)
    # Now break the HEADER instead (MACSQuant-style mismatch): TEXT wins.
    content = bytearray(build(keywords(), raw))
    content[34:42] = f"{good_begin + 500:>8}".encode()
    data = read_fcs(write(tmp_path, bytes(content)))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any("disagree" in w and "used TEXT" in w for w in data.warnings)


def test_both_offsets_wrong_is_refused(tmp_path: Path) -> None:
    content = build(keywords(tot=4), EVENTS.tobytes())  # $TOT claims one event too many
    refuse(write(tmp_path, content), "$TOT=4", "= 32 bytes", "HEADER gives", "= 24 bytes")


def test_segment_longer_than_tot_is_refused_not_cut(tmp_path: Path) -> None:
    """Disagreement with fcsparser: it reads the first $TOT events and ignores $ENDDATA.

    FCS 3.0 defines $TOT as the total number of events and the HEADER/TEXT
    offsets as the first and last byte of the DATA segment. A segment holding
    three events under $TOT/2/ contradicts itself; which number is stale
    cannot be known, so returning two of the three events would be a silent
    guess. We refuse and say why.
    """
    content = build(keywords(tot=2), EVENTS.tobytes())
    refuse(write(tmp_path, content), "$TOT=2 × 8 bytes per event = 16 bytes", "= 24 bytes")


def test_two_plausible_data_segments_with_split_evidence_are_refused(tmp_path: Path) -> None:
    """HEADER and TEXT name two segments that both hold $TOT events. The one right
    after TEXT holds values far outside $PnR, the other values inside it: the
    signs point opposite ways, so the reader must refuse rather than pick one."""
    raw = EVENTS.tobytes()
    outside = (EVENTS * 1e6).astype("<f4").tobytes()  # |values| up to 6e6 > $PnR 262144
    content = bytearray(build(keywords(), outside + raw))
    begin = int(content[26:34])
    content[34:42] = f"{begin + 23:>8}".encode()  # HEADER: the first (adjacent) copy
    content = content.replace(
        b"$BEGINDATA/" + f"{begin:010d}".encode(), b"$BEGINDATA/" + f"{begin + 24:010d}".encode()
    )
    err = refuse(write(tmp_path, bytes(content)), "evidence is split", "refusing to guess")
    assert "values outside $PnR" in err.reason and "starts right after TEXT" in err.reason


def test_fcs3_header_zero_means_text_offsets(tmp_path: Path) -> None:
    """FCS 3.0 §3.1.1: '0's in the HEADER send the reader to $BEGINDATA/$ENDDATA."""
    content = build(keywords(), EVENTS.tobytes(), header={2: 0, 3: 0})
    data = read_fcs(write(tmp_path, content))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert data.warnings == []
    content = build(keywords(), EVENTS.tobytes(), header={2: 0, 3: 0}, offsets_in_text=False)
    refuse(write(tmp_path, content), "no DATA segment offsets")


def test_truncated_data_is_refused(tmp_path: Path) -> None:
    content = build(keywords(), EVENTS.tobytes())[:-5]
    refuse(write(tmp_path, content), "24 bytes", "truncated")


def test_absurd_event_count_fails_fast_without_allocating(tmp_path: Path) -> None:
    content = build(keywords(tot=10**12), EVENTS.tobytes())
    path = write(tmp_path, content)
    tracemalloc.start()
    started = time.perf_counter()
    err = refuse(path, "$TOT=1000000000000", "8000000000000 bytes")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 10_000_000, (elapsed, peak, err)
    # The metadata can still be read: the claim is reported, not acted on.
    meta = read_fcs_metadata(path)
    assert meta.n_events == 10**12
    assert any("events cannot be read" in w for w in meta.warnings)


def test_absurd_parameter_count_fails_fast(tmp_path: Path) -> None:
    pairs = [(k, "1000000000" if k == "$PAR" else v) for k, v in keywords()]
    refuse(write(tmp_path, build(pairs, EVENTS.tobytes())), "$PAR=1000000000", "only")
    pairs = [(k, "0" if k == "$PAR" else v) for k, v in keywords()]
    refuse(write(tmp_path, build(pairs, EVENTS.tobytes())), "$PAR='0' must be at least 1")


def test_fcs20_without_tot_derives_it_with_a_warning(tmp_path: Path) -> None:
    content = build(
        keywords(drop=["$TOT"]), EVENTS.tobytes(), version="FCS2.0", offsets_in_text=False
    )
    data = read_fcs(write(tmp_path, content))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any("$TOT is missing; derived 3 events" in w for w in data.warnings)
    content = build(keywords(drop=["$TOT"]), EVENTS.tobytes())
    refuse(write(tmp_path, content), "required keyword $TOT")


# -- keywords that describe the data ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"drop": ["$P2B"]}, "$P2B"),
        ({"drop": ["$DATATYPE"]}, "$DATATYPE"),
        ({"datatype": "X"}, "$DATATYPE='X' is invalid"),
        ({"drop": ["$BYTEORD"]}, "$BYTEORD"),
        ({"byteord": "3,4,1,2"}, "mixed byte order"),
        ({"byteord": "1,2,x,4"}, "not a comma-separated list"),
        ({"datatype": "I", "bits": 10}, "bit-packed DATA is not supported"),
        ({"datatype": "I", "bits": 128}, "only widths up to 64 bits"),
        ({"bits": "many"}, "$P1B='many' is not an integer"),
        ({"extra": [("$P2DATATYPE", "D")]}, "$PnDATATYPE"),
    ],
)
def test_bad_data_description_is_refused(
    tmp_path: Path, change: dict[str, object], fragment: str
) -> None:
    content = build(keywords(**change), EVENTS.tobytes())  # type: ignore[arg-type]
    refuse(write(tmp_path, content), fragment)


def test_histogram_mode_is_refused_and_missing_mode_assumed_list(tmp_path: Path) -> None:
    pairs = [(k, "U" if k == "$MODE" else v) for k, v in keywords()]
    refuse(write(tmp_path, build(pairs, EVENTS.tobytes())), "$MODE='U'")
    data = read_fcs(write(tmp_path, build(keywords(drop=["$MODE"]), EVENTS.tobytes())))
    assert any("$MODE is missing" in w for w in data.warnings)


@pytest.mark.parametrize(("byteord", "code"), [("1,2", "<u2"), ("2,1", ">u2"), ("4,3,2,1", ">u2")])
def test_integer_byte_orders_including_fcs20_forms(tmp_path: Path, byteord: str, code: str) -> None:
    values = np.array([[1, 2], [1023, 7], [4, 600]])
    pairs = keywords(datatype="I", bits=16, byteord=byteord, ranges=["1024", "1024"])
    data = read_fcs(write(tmp_path, build(pairs, values.astype(code).tobytes(), version="FCS2.0")))
    np.testing.assert_array_equal(data.events, values)
    assert data.events.dtype == np.float32


def test_integer_without_usable_range_is_not_masked(tmp_path: Path) -> None:
    values = np.array([[65535, 2], [3, 4], [5, 6]])
    pairs = keywords(datatype="I", bits=16, ranges=["junk", "0"])
    data = read_fcs(write(tmp_path, build(pairs, values.astype("<u2").tobytes())))
    np.testing.assert_array_equal(data.events, values)
    assert np.isnan(data.ranges[0]) and data.ranges[1] == 0.0
    assert any("not bit-masked" in w for w in data.warnings)
    assert any("$P1R='junk'" in w for w in data.warnings)


def test_float_with_wrong_pnb_reads_32_bits_with_warning(tmp_path: Path) -> None:
    data = read_fcs(write(tmp_path, build(keywords(bits=16), EVENTS.tobytes())))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any("$PnB gives [16]" in w for w in data.warnings)


def test_double_big_endian(tmp_path: Path) -> None:
    pairs = keywords(datatype="D", bits=64, byteord="4,3,2,1")
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.astype(">f8").tobytes())))
    assert data.events.dtype == np.float64
    np.testing.assert_array_equal(data.events, EVENTS)


def test_ascii_data_fixed_and_free_format(tmp_path: Path) -> None:
    """FCS 3.0 $DATATYPE/A/: $PnB is characters per value, or '*' for delimited values."""
    fixed = b"  12 345   1  -2 1.5  60"
    data = read_fcs(write(tmp_path, build(keywords(datatype="A", bits=4), fixed)))
    np.testing.assert_array_equal(data.events, [[12, 345], [1, -2], [1.5, 60]])
    free = b"12,345\r\n1 -2\t1.5,60\n"
    data = read_fcs(write(tmp_path, build(keywords(datatype="A", bits="*"), free)))
    np.testing.assert_array_equal(data.events, [[12, 345], [1, -2], [1.5, 60]])
    refuse(write(tmp_path, build(keywords(datatype="A", bits="*"), b"1 2 3 4 5")), "holds 5")
    refuse(write(tmp_path, build(keywords(datatype="A", bits=2), b" 1 2 3 4 5 x")), "non-numeric")


# -- HEADER and TEXT ---------------------------------------------------------------


@pytest.mark.parametrize("delim", ["/", "|", "\\", "\x0c", "*", "\x1e", "a"])
def test_any_delimiter(tmp_path: Path, delim: str) -> None:
    """FCS 3.0 §2.2.15: the delimiter is the first TEXT character and can be any ASCII character."""
    pairs = [(k, v) for k, v in keywords() if delim not in k + v]
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.tobytes(), delim=delim)))
    np.testing.assert_array_equal(data.events, EVENTS)


def test_escaped_delimiters(tmp_path: Path) -> None:
    """FCS 3.0 §3.2.7: "$SYS/RSX-11//M/" is the value RSX-11/M for $SYS."""
    pairs = keywords(extra=[("$SYS", "RSX-11//M"), ("TRAIL", "x//"), ("$P1S", "CD3//CD28")])
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.tobytes())))
    assert data.keywords["$SYS"] == "RSX-11/M"
    assert data.keywords["TRAIL"] == "x/"
    assert data.labels[0] == "CD3/CD28"
    assert data.warnings == []


def test_empty_values_written_as_doubled_delimiters(tmp_path: Path) -> None:
    """Zero-length values are not allowed (FCS 3.0 §3.2.9), but some writers emit them.

    Read strictly, "/$P1S//$P2S//" would swallow the following keyword; the
    reader notices the broken pairing and reads the doubled delimiters as
    empty values, with a warning. (fcsparser reads strictly and ends up with
    a keyword named "$P1S/$P2S/$CYT" and no $CYT.)
    """
    pairs = keywords(extra=[("$P1S", ""), ("$P2S", ""), ("$CYT", "X")])
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.tobytes())))
    assert data.labels == ["", ""] and data.instrument == "X"
    assert any("empty keyword values" in w for w in data.warnings)
    np.testing.assert_array_equal(data.events, EVENTS)


def test_keywords_are_case_insensitive_values_are_not(tmp_path: Path) -> None:
    """FCS 3.0 §3.2.10: "an FCS file reader must ignore keyword case"; values are case sensitive.

    Disagreement with fcsparser, which looks up "$PAR" verbatim and raises
    KeyError on a file written with lower-case keywords.
    """
    pairs = [(k.lower(), v) for k, v in keywords(extra=[("$Cyt", "MiXeD")])]
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.tobytes())))
    assert data.keywords["$CYT"] == "MiXeD" and data.channels == ["CH1", "CH2"]
    np.testing.assert_array_equal(data.events, EVENTS)


def test_text_encoding(tmp_path: Path) -> None:
    utf8 = "Zürich µ".encode().decode("latin-1")  # the UTF-8 bytes, passed through
    data = read_fcs(write(tmp_path, build(keywords(extra=[("$INST", utf8)]), EVENTS.tobytes())))
    assert data.keywords["$INST"] == "Zürich µ" and data.warnings == []
    data = read_fcs(write(tmp_path, build(keywords(extra=[("$INST", "Zürich")]), EVENTS.tobytes())))
    assert data.keywords["$INST"] == "Zürich"  # latin-1 bytes: decoded as latin-1
    assert any("not valid UTF-8 ($INST)" in w for w in data.warnings)


def test_repeated_keyword_with_different_values_keeps_the_last(tmp_path: Path) -> None:
    data = read_fcs(
        write(tmp_path, build(keywords(extra=[("$CYT", "A"), ("$CYT", "B")]), EVENTS.tobytes()))
    )
    assert data.instrument == "B"
    assert any("$CYT appears more than once" in w for w in data.warnings)


def test_text_end_offsets(tmp_path: Path) -> None:
    content = build(keywords(), EVENTS.tobytes(), text_pad=b"  ")
    data = read_fcs(write(tmp_path, content))
    assert any("2 byte(s) of padding" in w for w in data.warnings)
    # End offset one short: the final delimiter lies just after the TEXT range.
    content = bytearray(build(keywords(), EVENTS.tobytes()))
    content[18:26] = f"{int(content[18:26]) - 1:>8}".encode()
    data = read_fcs(write(tmp_path, bytes(content)))
    assert any("one byte short of the final delimiter" in w for w in data.warnings)
    np.testing.assert_array_equal(data.events, EVENTS)


def test_text_end_equal_to_data_start(tmp_path: Path) -> None:
    """Some writers give the DATA start as TEXT end (fcsparser special-cases this).

    The byte after the final delimiter is the first DATA byte; it must not be
    glued onto the last keyword value.
    """
    pairs = keywords(extra=[("LAST", "value")])
    content = bytearray(build(pairs, EVENTS.tobytes()))
    content[18:26] = content[26:34]  # TEXT end := DATA start
    data = read_fcs(write(tmp_path, bytes(content)))
    assert data.keywords["LAST"] == "value"
    assert any(
        "after the final delimiter" in w or "past the final delimiter" in w for w in data.warnings
    )
    np.testing.assert_array_equal(data.events, EVENTS)
    big = EVENTS.astype(">f4")  # first DATA byte 0x3F, not padding
    content = bytearray(build(keywords(byteord="4,3,2,1", extra=[("LAST", "v")]), big.tobytes()))
    content[18:26] = content[26:34]
    data = read_fcs(write(tmp_path, bytes(content)))
    assert data.keywords["LAST"] == "v"
    assert any("one past the final delimiter" in w and "b'?'" in w for w in data.warnings)
    np.testing.assert_array_equal(data.events, EVENTS)


def test_whitespace_delimiter_is_not_mistaken_for_padding(tmp_path: Path) -> None:
    pairs = [(k, v) for k, v in keywords() if "\t" not in k + v]
    data = read_fcs(write(tmp_path, build(pairs, EVENTS.tobytes(), delim="\t")))
    np.testing.assert_array_equal(data.events, EVENTS)
    assert data.warnings == []


def test_data_offsets_inside_the_text_are_refused(tmp_path: Path) -> None:
    """A damaged offset that points DATA into the TEXT is not read as events."""
    content = bytearray(build(keywords(), EVENTS.tobytes(), offsets_in_text=False))
    content[26:42] = f"{100:>8}{123:>8}".encode()  # right size, wrong place
    refuse(write(tmp_path, bytes(content)), "overlaps the TEXT segment")


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ({0: 0, 1: 0}, "no offsets for the TEXT"),
        ({0: 10}, "inside the 58-byte HEADER"),
        ({1: 50}, "is not after its start"),
        ({1: 99999}, "extends beyond the end of the file"),
        ({2: "12a"}, "HEADER field 'DATA start'"),
    ],
)
def test_bad_text_offsets_are_refused(
    tmp_path: Path, header: dict[int, object], fragment: str
) -> None:
    refuse(write(tmp_path, build(keywords(), EVENTS.tobytes(), header=header)), fragment)


def test_text_must_start_with_a_delimiter(tmp_path: Path) -> None:
    content = bytearray(build(keywords(), EVENTS.tobytes()))
    content[58] = 0
    refuse(write(tmp_path, bytes(content)), "does not start with a delimiter")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "shorter than the 58-byte FCS HEADER"),
        (b"GIF89a" + b" " * 100, "not an FCS file"),
        (b"FCS1.0" + b" " * 100, "unsupported FCS version 'FCS1.0'"),
    ],
)
def test_not_fcs(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = write(tmp_path, content)
    for reader in (read_fcs, read_fcs_metadata, read_fcs_all):
        with pytest.raises(FCSError, match=fragment):
            reader(path)  # type: ignore[operator]


def test_unopenable_paths(tmp_path: Path) -> None:
    with pytest.raises(FCSError, match="cannot open file"):
        read_fcs(tmp_path / "missing.fcs")
    with pytest.raises(FCSError, match="cannot open file"):
        read_fcs(tmp_path)


def test_missing_names_and_labels(tmp_path: Path) -> None:
    data = read_fcs(write(tmp_path, build(keywords(drop=["$P2N"]), EVENTS.tobytes())))
    assert data.channels == ["CH1", "P2"]
    assert any("$PnN (channel name) missing for parameter(s) [2]" in w for w in data.warnings)


# -- supplemental TEXT ----------------------------------------------------------------


def _with_stext(stext: bytes, begin_offset: int | None = None, version: str = "FCS3.0") -> bytes:
    raw = EVENTS.tobytes()
    extra = [("$BEGINSTEXT", "0" * 10), ("$ENDSTEXT", "0" * 10), ("$CYT", "primary")]
    probe = build(keywords(extra=extra), raw, version=version)
    start = len(probe) if begin_offset is None else begin_offset
    pairs = keywords(
        extra=[("$BEGINSTEXT", f"{start:010d}"), ("$ENDSTEXT", f"{start + len(stext) - 1:010d}"),
               ("$CYT", "primary")]
    )  # fmt: skip
    return build(pairs, raw, version=version) + stext


def test_supplemental_text_adds_keywords(tmp_path: Path) -> None:
    data = read_fcs(write(tmp_path, _with_stext(b"/$OP/Dave/$CYT/supplemental/")))
    assert data.keywords["$OP"] == "Dave"
    assert data.instrument == "primary"  # primary TEXT wins
    assert any("$CYT differs between primary" in w for w in data.warnings)
    # FCS 2.0 has no supplemental TEXT: the keywords are ordinary, the segment is not read.
    data = read_fcs(write(tmp_path, _with_stext(b"/$OP/Dave/", version="FCS2.0")))
    assert "$OP" not in data.keywords


def test_bad_supplemental_text_is_ignored_with_a_warning(tmp_path: Path) -> None:
    data = read_fcs(write(tmp_path, _with_stext(b"PK\x03\x04 zip bytes")))
    assert any("not a TEXT segment" in w for w in data.warnings)
    data = read_fcs(write(tmp_path, _with_stext(b"/$OP/Dave/", begin_offset=10**6)))
    assert any("supplemental" in w and "beyond the end" in w for w in data.warnings)
    np.testing.assert_array_equal(data.events, EVENTS)


# -- several data sets ------------------------------------------------------------------


def _chain(*datasets: bytes, nextdata: Sequence[int] | None = None) -> bytes:
    """Concatenate data sets, patching $NEXTDATA (fixed width, so offsets do not move)."""
    out = b""
    for i, ds in enumerate(datasets):
        if nextdata is not None:
            value = nextdata[i]
        else:
            value = len(ds) if i < len(datasets) - 1 else 0
        out += ds.replace(
            b"/$NEXTDATA/0000000000/", b"/$NEXTDATA/" + f"{value:010d}".encode() + b"/"
        )
    return out


def _dataset(scale: float) -> bytes:
    pairs = [(k, "0000000000" if k == "$NEXTDATA" else v) for k, v in keywords()]
    return build(pairs, (EVENTS * scale).astype("<f4").tobytes())


def test_nextdata_chain(tmp_path: Path) -> None:
    path = write(tmp_path, _chain(_dataset(1), _dataset(2), _dataset(3)))
    every = read_fcs_all(path)
    assert len(every) == 3
    for k, d in enumerate(every):
        np.testing.assert_array_equal(d.events, EVENTS * (k + 1))
    np.testing.assert_array_equal(read_fcs(path, dataset=2).events, EVENTS * 3)
    np.testing.assert_array_equal(read_fcs(path, dataset=-3).events, EVENTS)
    with pytest.raises(FCSError, match="holds 3"):
        read_fcs(path, dataset=-4)


def test_nextdata_that_points_nowhere(tmp_path: Path) -> None:
    first, second = _dataset(1), _dataset(2)
    # Into the middle of the first data set: no HEADER there.
    path = write(tmp_path, _chain(first, second, nextdata=[10, 0]))
    with pytest.raises(FCSError, match="no FCS HEADER"):
        read_fcs_all(path)
    data = read_fcs(path)  # the first data set alone is still fine
    np.testing.assert_array_equal(data.events, EVENTS)
    assert any("$NEXTDATA=10 announces further data sets" in w for w in data.warnings)
    # Past the end of the file (a truncated multi-data-set file).
    path = write(tmp_path, _chain(first, second, nextdata=[len(first) + len(second), 0]))
    with pytest.raises(FCSError, match="truncated file or bad pointer"):
        read_fcs_all(path)
    with pytest.raises(FCSError, match="truncated file or bad pointer"):
        read_fcs(path, dataset=1)


def test_nextdata_cannot_loop(tmp_path: Path) -> None:
    """Offsets are relative and non-negative, so a chain can only move forward.

    A pointer that would lead back (here: data set 1 names its own absolute
    offset, which read relatively lands beyond its HEADER) is an error, not a
    loop.
    """
    first, second = _dataset(1), _dataset(2)
    path = write(tmp_path, _chain(first, second, second, nextdata=[len(first), len(first), 0]))
    started = time.perf_counter()
    every = read_fcs_all(path)  # relative: 0 -> len(first) -> 2*len(first); then end
    assert len(every) == 3
    path = write(tmp_path, _chain(first, second, nextdata=[len(first), len(first)]))
    with pytest.raises(FCSError, match="no FCS HEADER"):
        read_fcs_all(path)
    assert time.perf_counter() - started < 1.0


def test_nextdata_written_as_absolute_offset(tmp_path: Path) -> None:
    a, b, c = _dataset(1), _dataset(2), _dataset(3)
    # The writer of this file used absolute offsets: data set 1 says "len(a)+len(b)".
    path = write(tmp_path, _chain(a, b, c, nextdata=[len(a), len(a) + len(b), 0]))
    every = read_fcs_all(path)
    assert len(every) == 3
    np.testing.assert_array_equal(every[2].events, EVENTS * 3)
    assert any("absolute file offset" in w for w in every[1].warnings)


# -- spillover and dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("$SPILLOVER", "2,CH1,CH2,1,0.1,0.2,1", [[1, 0.1], [0.2, 1]]),
        ("spill", "2,CH1,CH2,1,0.1,0.2,1,", [[1, 0.1], [0.2, 1]]),  # BD key, trailing comma
        ("$SPILL", " 2, CH1, CH2, 1, 0, 0, 1", [[1, 0], [0, 1]]),
        ("$SPILLOVER", "0", None),
        ("$SPILLOVER", "two,CH1,CH2,1,0,0,1", "channel count"),
        ("$SPILLOVER", "2,CH1,CH2,1,0,0", "1 + n + n² = 7"),
        ("$SPILLOVER", "2,CH1,CH2,1,x,0,1", "non-numeric"),
        ("$SPILLOVER", "2,CH1,CH2,1,nan,0,1", "NaN"),
        ("$SPILLOVER", "-3,CH1", "1 + n + n²"),
        ("$SPILLOVER", "999999999999,CH1", "1 + n + n²"),
        ("$SPILLOVER", ",", "channel count"),  # no items at all (was an IndexError)
    ],
)
def test_spillover_parsing(tmp_path: Path, key: str, value: str, expect: object) -> None:
    meta = read_fcs_metadata(
        write(tmp_path, build(keywords(extra=[(key, value)]), EVENTS.tobytes()))
    )
    if isinstance(expect, str):
        assert meta.spillover is None
        assert any(expect in w for w in meta.warnings), meta.warnings
    elif expect is None:
        assert meta.spillover is None and meta.warnings == []
    else:
        assert meta.spillover is not None
        assert meta.spillover.detectors == ("CH1", "CH2")
        np.testing.assert_array_equal(meta.spillover.matrix, expect)


def test_spillover_is_the_one_compensation_type(tmp_path: Path) -> None:
    pairs = keywords(extra=[("$SPILL", "2,CH1,CH2,1,0.1,0,1")])
    spill = read_fcs_metadata(write(tmp_path, build(pairs, EVENTS.tobytes()))).spillover
    assert isinstance(spill, SpilloverMatrix)
    assert spill.keyword == "$SPILL" and spill.problem is None
    # one CH1 event of 1 with no CH2 dye is seen as (1, 0.1); compensation gives it back
    np.testing.assert_allclose(spill.unmix(np.array([[1.0, 0.1]])), [[1.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize(
    ("value", "why"), [("2,CH1,CH2,1,1,1,1", "singular"), ("2,CH1,CH1,1,0,0,1", "twice")]
)
def test_unusable_spillover_is_read_and_refused_when_used(
    tmp_path: Path, value: str, why: str
) -> None:
    """The file stays readable; compensating with its matrix fails and names the keyword."""
    pairs = keywords(extra=[("$SPILLOVER", value)])
    spill = read_fcs_metadata(write(tmp_path, build(pairs, EVENTS.tobytes()))).spillover
    assert spill is not None and spill.problem is not None
    assert why in spill.problem and "$SPILLOVER" in spill.problem
    with pytest.raises(CompensationError, match=why):
        SpilloverMatrix.coerce(spill)
    with pytest.raises(CompensationError, match=why):
        spill.unmix(np.ones((1, 2)))


def test_spillover_naming_unknown_channels_is_flagged(tmp_path: Path) -> None:
    pairs = keywords(extra=[("$SPILLOVER", "2,CH1,FITC-A,1,0,0,1")])
    meta = read_fcs_metadata(write(tmp_path, build(pairs, EVENTS.tobytes())))
    assert meta.spillover is not None
    assert any("['FITC-A']" in w for w in meta.warnings)


@pytest.mark.parametrize(
    ("date", "btim", "expected"),
    [
        ("01-OCT-1994", "14:22:10:47", "1994-10-01T14:22:10"),  # FCS 3.0 form, 1/60 s dropped
        ("22-Jul-2020", "18:39:40.59", "2020-07-22T18:39:40"),  # FCS 3.1 form, 1/100 s dropped
        ("24-Apr-12", "12:49:28", "2012-04-24T12:49:28"),  # FCS 2.0 two-digit year
        ("01-JAN-99", "00:00:00", "1999-01-01T00:00:00"),
        ("2013-Jul-19", "13:16:08", "2013-07-19T13:16:08"),  # MACSQuant
        ("2020-07-22", "", "2020-07-22"),
        ("31-FEB-2020", "10:00:00", None),
        ("yesterday", "10:00:00", None),
        ("01-OCT-1994", "25:99", "1994-10-01"),
    ],
)
def test_acquired_at_formats(tmp_path: Path, date: str, btim: str, expected: str | None) -> None:
    extra = [("$DATE", date)] + ([("$BTIM", btim)] if btim else [])
    meta = read_fcs_metadata(write(tmp_path, build(keywords(extra=extra), EVENTS.tobytes())))
    assert meta.acquired_at == expected


def test_fcs32_begindatetime(tmp_path: Path) -> None:
    extra = [("$BEGINDATETIME", "2021-05-04T03:02:01Z"), ("$DATE", "01-JAN-2000")]
    meta = read_fcs_metadata(
        write(tmp_path, build(keywords(extra=extra), EVENTS.tobytes(), version="FCS3.2"))
    )
    assert meta.acquired_at == "2021-05-04T03:02:01+00:00"
