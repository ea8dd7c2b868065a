"""Date and datetime values as Eloqua's imports read them.

Oracle's Bulk API pages do not say how a date value is written; Oracle's data import help says
``YYYY-MM-DD`` and no milliseconds (a value with them "would be ignored and not imported"), and
Eloqua users report that more than three fractional digits fail. Python's ``isoformat()`` gives
microseconds and a UTC offset, which no source shows Eloqua reading. So a date goes out as
``YYYY-MM-DD`` and a datetime as ``YYYY-MM-DD HH:MM:SS`` (the form Eloqua's own exports use), and
a datetime that carries a time zone is refused: Eloqua reads imported times in the site's time
zone (its servers run on US Eastern time) and documents no way to send an offset, so converting
silently could shift every value by hours. Sources: docs/eloqua-behaviour.md, "Date values".
"""

from __future__ import annotations

import datetime as _dt

DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def eloqua_date_text(value: _dt.date) -> str:
    """``2026-11-29`` for a date, ``2026-11-29 15:04:05`` for a naive datetime (fractions dropped).

    :param value: a ``date`` or a naive ``datetime``.
    :raises ValueError: for a datetime with a time zone, saying how to convert it.
    """
    if not isinstance(value, _dt.datetime):
        return value.strftime(DATE_FORMAT)
    if value.utcoffset() is not None:
        raise ValueError(
            f"{value.isoformat()} carries a time zone, which Eloqua's import cannot be told: it reads times "
            "in the site's time zone. Convert it to that zone and drop the zone, e.g. "
            "value.astimezone(ZoneInfo('America/New_York')).replace(tzinfo=None)"
        )
    return value.strftime(DATETIME_FORMAT)
