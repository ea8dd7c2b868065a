"""emulator/dates.py: the date values an import accepts, as far as Oracle and Eloqua users document them."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.emulator.dates import is_accepted_date

from .conftest import EMAIL


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("2026-11-29", True),
        ("2026-11-29 15:04:05", True),
        ("2026-11-29 15:04:05.123", True),  # three fractional digits: Eloqua reads them
        ("11/29/2026 3:04:05 PM", True),
        ("2026/11/29", True),
        ("", True),  # clears the field
        ("2026-11-29 15:04:05.1234", False),  # four: Eloqua refuses
        ("2026-11-29T15:04:05.123456+00:00", False),  # Python's isoformat(): microseconds and an offset
        ("2026-13-01", False),  # no 13th month
        ("yesterday", False),
    ],
)
def test_date_values_eloqua_would_not_read_are_rejected(bulk, value, accepted):
    fields = {"Email": EMAIL, "Bought": "{{Contact.Field(C_Last_Purchase_Date1)}}"}
    uri = bulk.create(fields=fields)["uri"]
    sync = bulk.sync(uri, [{"Email": "a@example.com", "Bought": value}])
    rejects = bulk.items(sync["uri"] + "/rejects")
    if accepted:
        assert sync["status"] == "success" and rejects == []
    else:
        assert sync["status"] == "warning"
        assert [(r["statusCode"], r["invalidFields"]) for r in rejects] == [("ELQ-00032", ["Bought"])]


@pytest.mark.parametrize(
    "value",
    [
        None,
        "  ",
        "2026-11-29",
        "2026/1/9",
        "2026.11.29",
        "11/29/2026",
        "11/29/26",
        "2026-11-29 15:04",
        "2026-11-29 23:59:59.999",
        "11/29/2026 3:04 pm",
        " 2026-11-29 ",
    ],
)
def test_the_shapes_eloqua_reads_are_accepted(value):
    assert is_accepted_date(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",  # no such day
        "02/29/2025",  # not a leap year
        "2026-11-29 24:00:00",
        "2026-11-29 12:60",
        "11/29/2026 13:00 PM",  # a 12-hour clock goes to 12
        "2026-11-29 15:04:60",
        "2026-11/29",  # mixed separators
        "29.11.2026",
        "2026-11-29T15:04:05",
        "2026-11-29 15:04:05+01:00",
        20261129,  # not text
    ],
)
def test_other_values_are_refused(value):
    assert not is_accepted_date(value)
