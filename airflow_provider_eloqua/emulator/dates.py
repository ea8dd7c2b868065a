"""Which date values an import accepts, as far as Oracle and Eloqua users document it.

Oracle's Bulk API pages say nothing about the text of date values. Oracle's data import help says
date values are ``YYYY-MM-DD`` and may not carry milliseconds; an Eloqua community test of the
upload wizard lists the text Eloqua reads (``YYYY-MM-DD HH:mm:ss``, ``YYYY/MM/DD``, ``YYYY.MM.DD``,
``MM/DD/YYYY``, ``MM/DD/YY``, with a time of day), accepts at most three fractional digits
("2014-10-15 15:21:14.254" works, "2014-10-15 15:21:14.2545" fails) and refuses impossible months.
The emulator accepts exactly those shapes and refuses the rest, including ISO ``T`` separators and
UTC offsets, which no source shows Eloqua reading (docs/eloqua-behaviour.md, "Date values").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_TIME = r"(?: (?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.(?P<fraction>\d+))?)?)(?: ?(?P<ampm>[AaPp][Mm]))?)?"
_SHAPES = (
    (re.compile(r"^(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})" + _TIME + "$"), 4),
    (re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})" + _TIME + "$"), 4),
    (re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2})" + _TIME + "$"), 2),
)
MAX_FRACTION_DIGITS = 3


def is_accepted_date(value: Any) -> bool:
    """True for an empty value (it clears the field) or date text Eloqua reads."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    for shape, year_digits in _SHAPES:
        match = shape.match(text)
        if match:
            return _valid(match, year_digits)
    return False


def _valid(match: re.Match[str], year_digits: int) -> bool:
    year = int(match["y"]) + (2000 if year_digits == 2 else 0)
    try:
        datetime(year, int(match["m"]), int(match["d"]))
    except ValueError:
        return False
    fraction = match["fraction"]
    if fraction is not None and len(fraction) > MAX_FRACTION_DIGITS:
        return False
    time = match["time"]
    if time is None:
        return True
    hour, minute, *rest = time.split(":")
    second = float(rest[0]) if rest else 0.0
    limit = 12 if match["ampm"] else 23
    return int(hour) <= limit and int(minute) <= 59 and second < 60
