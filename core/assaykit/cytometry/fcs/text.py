"""The TEXT segment: delimiters, keywords and values, supplemental TEXT.

Also the small keyword accessors (:func:`_kw`, :func:`_int_kw`) the later
stages interpret the TEXT with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from assaykit.cytometry.fcs.deviations import _Notes
from assaykit.cytometry.fcs.header import _PADDING, HEADER_SIZE, RULE_OFFSETS, _parse_header
from assaykit.cytometry.fcs.source import _Source


@dataclass
class _Dataset:
    """One data set's HEADER offsets and parsed TEXT, before interpretation."""

    index: int
    base: int
    version: str
    offsets: list[int]
    keywords: dict[str, str]
    warnings: _Notes
    text_range: tuple[int, int] = (0, 0)  # primary TEXT as repaired, relative offsets
    nextdata_hint: int = 0


def _split_tokens(body: bytes, delim: bytes, lenient: bool) -> list[bytes]:
    """Split TEXT into alternating keys and values.

    Strict (the standard): a doubled delimiter is an escaped delimiter, read
    left to right, since empty keywords and values are not allowed.
    Lenient (non-conformant writers): every delimiter separates, so a doubled
    delimiter is an empty value.
    """
    if lenient:
        tokens = body.split(delim)
    else:
        tokens = []
        for i, chunk in enumerate(body.split(delim + delim)):
            pieces = chunk.split(delim)
            if i:
                tokens[-1] += delim + pieces[0]
                tokens.extend(pieces[1:])
            else:
                tokens.extend(pieces)
    if tokens and tokens[-1] == b"":
        tokens.pop()  # after the final delimiter
    return tokens


def _tokens_ok(tokens: list[bytes], delim: bytes) -> bool:
    if len(tokens) % 2:
        return False
    return all(key.strip(_PADDING) and delim not in key for key in tokens[0::2])


def _trailing_run(raw: bytes, delim: bytes) -> int:
    """How many delimiters the TEXT ends with (its leading delimiter excluded)."""
    body = raw[1:]
    return len(body) - len(body.rstrip(delim))


def _parse_text(raw: bytes, delim: bytes, what: str, warnings: _Notes) -> dict[str, str]:
    """Parse one TEXT segment (starting with its delimiter) into a keyword dict."""
    run = _trailing_run(raw, delim)
    if run >= 2 and run % 2 == 0 and len(raw) > run + 1:
        # A doubled delimiter is an escape, so an even run at the end would leave
        # the TEXT without its final delimiter and the last value ending in a
        # delimiter ('1567/'). The TEXT must end with a delimiter, so one of the
        # run is a stray extra delimiter (Accuri C6 ends TEXT with '//').
        last = raw[1:].rstrip(delim).rsplit(delim, 1)[-1][-20:]
        warnings.deviate(
            f"{what} ends with {run} delimiters ({raw[-(run + 8) :]!r}): an even run would make "
            f"the last value end in {delim!r} and leave TEXT without its final delimiter; read "
            "the last delimiter as a stray extra one",
            field="TEXT end",
            rule="FCS 3.1 §3.2.7: TEXT ends with one delimiter; a doubled delimiter is an escape",
            found=f"TEXT ending {raw[-(len(last) + run) :].decode('latin-1')!r}",
            expected=f"one final delimiter {delim.decode('latin-1')!r}",
            repair=f"dropped one trailing {delim.decode('latin-1')!r}; last value read as "
            f"{last.decode('latin-1')!r}",
        )
        raw = raw[:-1]
    tokens = _split_tokens(raw[1:], delim, lenient=False)
    if not _tokens_ok(tokens, delim):
        lenient = _split_tokens(raw[1:], delim, lenient=True)
        if _tokens_ok(lenient, delim):
            warnings.deviate(
                f"{what} has empty keyword values written as doubled delimiters (not allowed "
                "by the standard, where a doubled delimiter is an escape); read them as empty",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: keyword values may not be empty; a doubled delimiter is "
                "an escape",
                found="empty values written as doubled delimiters",
                expected="non-empty values",
                repair="read every delimiter as a separator, giving empty values",
            )
            tokens = lenient
        elif len(tokens) % 2:
            warnings.deviate(
                f"{what} has an odd number of keyword/value items; the trailing item "
                f"{tokens[-1][:40]!r} was ignored",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: TEXT is a list of keyword/value pairs",
                found=f"an odd number of items, the last {tokens[-1][:40]!r}",
                expected="an even number of items",
                repair="ignored the trailing item",
            )
            tokens = tokens[:-1]

    result: dict[str, str] = {}
    not_utf8: list[str] = []
    padded: list[str] = []
    for i in range(0, len(tokens), 2):
        token = tokens[i]
        stripped = token.strip(_PADDING)
        key = stripped.decode("latin-1").upper()
        if not key:
            warnings.deviate(
                f"{what} has an empty keyword; its value was ignored",
                field="TEXT",
                rule="FCS 3.1 §3.2.7: keywords may not be empty",
                found=f"an empty keyword with value {tokens[i + 1][:40]!r}",
                expected="a keyword name",
                repair="ignored the value",
            )
            continue
        if len(stripped) != len(token):
            padded.append(token.decode("latin-1"))
        try:
            value = tokens[i + 1].decode("utf-8")
        except UnicodeDecodeError:
            value = tokens[i + 1].decode("latin-1")
            not_utf8.append(key)
        if key in result and result[key] != value:
            warnings.deviate(
                f"keyword {key} appears more than once in {what} with different values "
                f"({result[key]!r}, {value!r}); the last one is used",
                field=key,
                rule="FCS 3.1 §3.2.9: each keyword occurs once",
                found=f"two values {result[key]!r} and {value!r}",
                expected="one value",
                repair="used the last value",
            )
        result[key] = value
    if padded:
        shown = ", ".join(repr(p) for p in padded[:5]) + (" …" if len(padded) > 5 else "")
        warnings.deviate(
            f"{len(padded)} keyword name(s) in {what} have blanks or control characters around "
            f"them ({shown}); stripped them",
            field=", ".join(p.strip(_PADDING.decode()) for p in padded[:5]),
            rule="FCS 3.1 §3.2.9: a keyword is exactly the text between two delimiters",
            found=shown,
            expected="keyword names without surrounding blanks",
            repair="stripped the blanks",
        )
    if not_utf8:
        shown = ", ".join(not_utf8[:5]) + (" …" if len(not_utf8) > 5 else "")
        warnings.deviate(
            f"{len(not_utf8)} value(s) in {what} are not valid UTF-8 ({shown}); decoded as latin-1",
            field=shown,
            rule="FCS 3.1 §3.2.8: TEXT is UTF-8",
            found="bytes that are not valid UTF-8",
            expected="UTF-8 text",
            repair="decoded those values as latin-1",
        )
    return result


def _read_text_segment(
    src: _Source,
    ds_base: int,
    start: int,
    end: int,
    what: str,
    warnings: _Notes,
    delim: bytes | None,
) -> tuple[bytes, bytes] | None:
    """Return (raw TEXT ending with its delimiter, delimiter); repairs trailing offsets.

    With ``delim`` given (supplemental TEXT) problems are warnings and None is
    returned; for the primary TEXT they raise.
    """
    primary = delim is None
    if ds_base + end == src.size:
        warnings.deviate(
            f"{what} end offset {end} is one past the last byte of the file; used {end - 1}",
            field=f"{what} end offset",
            rule=RULE_OFFSETS,
            found=str(end),
            expected=f"at most {src.size - ds_base - 1} (the last byte of the file)",
            repair=f"used {end - 1}",
        )
        end -= 1
    if ds_base + end >= src.size:
        msg = (
            f"{what} (bytes {start}-{end}) extends beyond the end of the file "
            f"({src.size} bytes): truncated?"
        )
        if primary:
            raise src.fail(msg)
        warnings.deviate(
            msg + "; ignored",
            field=f"{what} offsets",
            rule=RULE_OFFSETS,
            found=f"{start}-{end}",
            expected=f"a segment inside the file ({src.size} bytes)",
            repair="ignored the supplemental TEXT",
        )
        return None
    raw = src.read(ds_base + start, end - start + 1, what)
    first = raw[:1]
    if primary:
        if not first or not 1 <= first[0] <= 126:
            raise src.fail(
                f"{what} does not start with a delimiter (an ASCII character 1-126): "
                f"found {first!r} at byte {start}"
            )
        delim = first
    elif first != delim:
        warnings.deviate(
            f"{what} at bytes {start}-{end} does not start with the TEXT delimiter {delim!r} "
            f"(found {raw[:8]!r}); it is not a TEXT segment and was ignored",
            field="$BEGINSTEXT/$ENDSTEXT",
            rule="FCS 3.1 §3.2: supplemental TEXT starts with the TEXT delimiter",
            found=repr(raw[:8]),
            expected=repr((delim or b"").decode("latin-1")),
            repair="ignored the supplemental TEXT",
        )
        return None
    assert delim is not None
    if raw[-1:] != delim:
        stripped = raw.rstrip(_PADDING.replace(delim, b""))
        if len(stripped) > 1 and stripped[-1:] == delim:
            warnings.deviate(
                f"{what} end offset {end} includes {len(raw) - len(stripped)} byte(s) of padding "
                f"after the final delimiter (off by {len(raw) - len(stripped)}); ignored them",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=str(start + len(stripped) - 1) + " (the final delimiter)",
                repair="ignored the padding",
            )
            raw = stripped
        elif len(raw) > 2 and raw[-2:-1] == delim:
            # The end offset names the byte after the final delimiter, often the
            # first DATA byte (TEXT end == DATA start, as some writers do).
            warnings.deviate(
                f"{what} end offset {end} is one past the final delimiter (off by one); "
                f"ignored the extra byte {raw[-1:]!r}",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=f"{end - 1} (the final delimiter)",
                repair=f"ignored the extra byte {raw[-1:]!r}",
            )
            raw = raw[:-1]
        elif ds_base + end + 1 < src.size and src.read(ds_base + end + 1, 1, what) == delim:
            warnings.deviate(
                f"{what} end offset {end} is one byte short of the final delimiter; used {end + 1}",
                field=f"{what} end offset",
                rule=RULE_OFFSETS,
                found=str(end),
                expected=f"{end + 1} (the final delimiter)",
                repair=f"used {end + 1}",
            )
            raw += delim
        else:
            warnings.deviate(
                f"{what} does not end with its delimiter; the last keyword value may be truncated",
                field=f"{what} end",
                rule="FCS 3.1 §3.2.7: TEXT ends with its delimiter",
                found=repr(raw[-8:]),
                expected=f"a final {delim.decode('latin-1')!r}",
                repair="read the last value up to the end offset (it may be truncated)",
            )
            raw += delim
    return raw, delim


def _read_dataset_text(src: _Source, base: int, index: int) -> _Dataset:
    version, offsets = _parse_header(src, base, index)
    warnings = _Notes(src.path, index, src.strict)
    where = "TEXT" if index == 0 else f"TEXT of data set {index}"
    start, end = offsets[0], offsets[1]
    if start == 0 and end == 0:
        raise src.fail(f"HEADER gives no offsets for the {where} segment")
    if start < HEADER_SIZE:
        raise src.fail(f"{where} start offset {start} lies inside the {HEADER_SIZE}-byte HEADER")
    if end <= start:
        raise src.fail(f"{where} end offset {end} is not after its start offset {start}")
    got = _read_text_segment(src, base, start, end, where, warnings, None)
    assert got is not None
    raw, delim = got
    keywords = _parse_text(raw, delim, where, warnings)
    text_range = (start, min(end, start + len(raw) - 1))

    if version != "FCS2.0":
        _merge_supplemental(src, base, keywords, delim, where, warnings)
    return _Dataset(index, base, version, offsets, keywords, warnings, text_range)


def _merge_supplemental(
    src: _Source, base: int, keywords: dict[str, str], delim: bytes, where: str, warnings: _Notes
) -> None:
    b = _plain_int(keywords.get("$BEGINSTEXT"))
    e = _plain_int(keywords.get("$ENDSTEXT"))
    if b is None or e is None:
        if keywords.get("$BEGINSTEXT", "").strip() or keywords.get("$ENDSTEXT", "").strip():
            warnings.deviate(
                "$BEGINSTEXT/$ENDSTEXT are not integers; supplemental TEXT ignored",
                field="$BEGINSTEXT/$ENDSTEXT",
                rule="FCS 3.1 §3.2.20: $BEGINSTEXT/$ENDSTEXT are byte offsets",
                found=f"{keywords.get('$BEGINSTEXT')!r}, {keywords.get('$ENDSTEXT')!r}",
                expected="two non-negative integers",
                repair="ignored the supplemental TEXT",
            )
        return
    if b == 0 and e == 0:
        return
    what = "supplemental " + where
    if b < HEADER_SIZE or e <= b:
        warnings.deviate(
            f"{what} offsets {b}-{e} are invalid; ignored",
            field="$BEGINSTEXT/$ENDSTEXT",
            rule=RULE_OFFSETS,
            found=f"{b}-{e}",
            expected=f"a range after the {HEADER_SIZE}-byte HEADER",
            repair="ignored the supplemental TEXT",
        )
        return
    got = _read_text_segment(src, base, b, e, what, warnings, delim)
    if got is None:
        return
    extra = _parse_text(got[0], delim, what, warnings)
    for key, value in extra.items():
        if key not in keywords:
            keywords[key] = value
        elif keywords[key] != value:
            warnings.deviate(
                f"keyword {key} differs between primary ({keywords[key]!r}) and supplemental "
                f"({value!r}) TEXT; the primary value is used",
                field=key,
                rule="FCS 3.1 §3.2.9: each keyword occurs once",
                found=f"primary {keywords[key]!r}, supplemental {value!r}",
                expected="one value",
                repair="used the primary value",
            )


def _is_uint(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() rejects."""
    return text.isascii() and text.isdigit()


def _plain_int(value: str | None) -> int | None:
    if value is None:
        return None
    s = value.strip()
    return int(s) if _is_uint(s) else None


def _kw(keywords: Mapping[str, str], key: str) -> str | None:
    value = keywords.get(key)
    if value is None or not value.strip():
        return None
    return value.strip()


def _int_kw(src: _Source, keywords: Mapping[str, str], key: str, minimum: int = 0) -> int | None:
    value = _kw(keywords, key)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = math.nan
        if not as_float.is_integer():
            raise src.fail(f"{key}={value!r} is not an integer") from None
        number = int(as_float)
    if number < minimum:
        raise src.fail(f"{key}={value!r} must be at least {minimum}")
    return number
