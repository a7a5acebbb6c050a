"""Dates written out in full, as documents print their own date."""

from __future__ import annotations

import datetime as dt
import re

from pipeline.ingest.clean import collapse_spaces

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_DATE_FORMS = [
    (re.compile(rf"^{_WEEKDAY}(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(\d{{4}})$", re.I), "dmy"),
    (re.compile(rf"^{_WEEKDAY}{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})$", re.I), "mdy"),
    (re.compile(rf"^{_MONTH},?\s+(\d{{4}})$", re.I), "my"),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "iso"),
    (re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$"), "uk"),
]


def parse_date(text: str) -> dt.date | None:
    """A date written as a whole: "28 March 2019", "March 28, 2019", "July 2021" (the 1st),
    "2019-03-28", "17/12/2020" (day first, British use); None if ``text`` is anything else."""
    text = collapse_spaces(text).strip(" .,;")
    for pattern, form in _DATE_FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        g = match.groups()
        try:
            if form == "dmy":
                return dt.date(int(g[2]), _MONTHS[g[1].lower()], int(g[0]))
            if form == "mdy":
                return dt.date(int(g[2]), _MONTHS[g[0].lower()], int(g[1]))
            if form == "my":
                return dt.date(int(g[1]), _MONTHS[g[0].lower()], 1)
            if form == "iso":
                return dt.date(int(g[0]), int(g[1]), int(g[2]))
            return dt.date(int(g[2]), int(g[1]), int(g[0]))
        except ValueError:
            return None
    return None
