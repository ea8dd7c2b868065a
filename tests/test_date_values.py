"""date_values.py: dates and datetimes written as Eloqua's imports read them (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_eloqua.date_values import eloqua_date_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.date(2026, 11, 29), "2026-11-29"),
        (dt.datetime(2026, 11, 29, 15, 4, 5), "2026-11-29 15:04:05"),
        (dt.datetime(2026, 11, 29, 15, 4, 5, 999_999), "2026-11-29 15:04:05"),  # no fraction Eloqua could refuse
        (dt.datetime(2026, 1, 2), "2026-01-02 00:00:00"),
    ],
)
def test_dates_and_naive_datetimes(value, text):
    assert eloqua_date_text(value) == text


@pytest.mark.parametrize("zone", [dt.UTC, ZoneInfo("America/New_York"), dt.timezone(dt.timedelta(hours=2))])
def test_a_datetime_with_a_time_zone_is_refused_saying_how_to_convert_it(zone):
    value = dt.datetime(2026, 11, 29, 15, 4, 5, tzinfo=zone)
    with pytest.raises(ValueError, match=r"carries a time zone, which Eloqua's import cannot be told") as caught:
        eloqua_date_text(value)
    assert value.isoformat() in str(caught.value)
    assert ".astimezone(ZoneInfo('America/New_York')).replace(tzinfo=None)" in str(caught.value)
