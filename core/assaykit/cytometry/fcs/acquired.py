"""When a data set was acquired: ``$BEGINDATETIME``, or ``$DATE`` + ``$BTIM``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


def _parse_date(text: str) -> date | None:
    s = text.strip()
    try:
        m = re.fullmatch(r"(\d{1,2})[-/ ]([A-Za-z]{3})[A-Za-z]*[-/ ](\d{4}|\d{2})", s)
        if m:  # dd-mmm-yyyy (3.x) or dd-mmm-yy (2.0)
            year = int(m[3])
            if len(m[3]) == 2:  # POSIX %y pivot: 69-99 -> 19xx, 00-68 -> 20xx
                year += 1900 if year >= 69 else 2000
            month = _MONTHS.get(m[2].upper())
            return date(year, month, int(m[1])) if month else None
        m = re.fullmatch(r"(\d{4})[-/ ]([A-Za-z]{3})[A-Za-z]*[-/ ](\d{1,2})", s)
        if m:  # yyyy-mmm-dd (MACSQuant)
            month = _MONTHS.get(m[2].upper())
            return date(int(m[1]), month, int(m[3])) if month else None
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return None


def _parse_time(text: str) -> time | None:
    m = re.match(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if not m:
        return None
    try:
        return time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        return None


def _acquired_at(kw: Mapping[str, str]) -> str | None:
    stamp = kw.get("$BEGINDATETIME", "").strip()  # FCS 3.2, ISO 8601
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    day = _parse_date(kw.get("$DATE", ""))
    if day is None:
        return None
    clock = _parse_time(kw.get("$BTIM", ""))
    if clock is None:
        return day.isoformat()
    return datetime.combine(day, clock).isoformat()
