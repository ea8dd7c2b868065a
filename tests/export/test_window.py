"""export/window.py: half-open UTC windows, the lag rule and the split (pure, no HTTP)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pendulum
import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.export.window import (
    DEFAULT_LAG,
    Window,
    bound_text,
    close,
    parse_bound,
    parse_lag,
    ready_at,
    timestamp_statement,
)

D1 = datetime(2026, 12, 1, tzinfo=UTC)
D2 = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T00:00:00+00:00",  # {{ data_interval_start }}
        "2026-12-01T01:00:00+01:00",
        "2026-12-01",  # {{ ds }}: a naive value is UTC
        "2026-12-01T00:00:00.999999Z",  # floored to the second
        pendulum.datetime(2026, 12, 1, tz="UTC"),
        datetime(2026, 11, 30, 19, tzinfo=timezone(timedelta(hours=-5))),
        date(2026, 12, 1),
    ],
)
def test_bounds_are_utc_whole_seconds_whatever_form_airflow_renders(value):
    assert parse_bound(value, "since") == D1


def test_empty_bounds_are_open_and_bad_ones_name_the_argument():
    assert parse_bound(None, "since") is None and parse_bound("", "until") is None
    with pytest.raises(EloquaInputError, match=r"^until must be a date-time"):
        parse_bound("yesterday", "until")
    with pytest.raises(EloquaInputError, match=r"^since must be a date-time"):
        parse_bound(12, "since")


def test_a_window_is_half_open_on_the_entitys_timestamp():
    window = Window.of("2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")
    assert [criterion.text() for criterion in window.criteria("{{Activity.CreatedAt}}")] == [
        "'{{Activity.CreatedAt}}' >= '2026-12-01 00:00:00'",
        "'{{Activity.CreatedAt}}' < '2026-12-02 00:00:00'",
    ]
    assert [criterion.text() for criterion in Window.of(None, D2).criteria("{{X}}")] == [
        "'{{X}}' < '2026-12-02 00:00:00'"
    ]
    assert Window().criteria("{{X}}") == [] and not Window().bounded


def test_consecutive_daily_windows_share_their_boundary_text():
    """A record stamped exactly at one run's until is in the next run's window, never both."""
    statement = timestamp_statement("contacts")
    days = [D1 + timedelta(days=n) for n in range(4)]
    windows = [Window(start, end) for start, end in itertools.pairwise(days)]
    for earlier, later in itertools.pairwise(windows):
        assert earlier.criteria(statement)[1].text().replace("<", ">=") == later.criteria(statement)[0].text()


def test_since_must_not_come_after_until_and_equal_bounds_are_an_empty_window():
    with pytest.raises(EloquaInputError, match="since must not be after until"):
        Window.of(D2, D1)
    assert Window.of(D1, D1).empty and not Window.of(D1, D2).empty and not Window().empty
    with pytest.raises(EloquaInputError, match="whole seconds"):
        Window(D1.replace(microsecond=5))


def test_each_entity_has_its_system_timestamp():
    assert timestamp_statement("contacts") == "{{Contact.Field(C_DateModified)}}"
    assert timestamp_statement("accounts") == "{{Account.Field(M_DateModified)}}"
    assert timestamp_statement("activities") == "{{Activity.CreatedAt}}"
    assert timestamp_statement("customObjects", 12) == "{{CustomObject[12].UpdatedAt}}"
    assert timestamp_statement("events", 7) == "{{Event[7].UpdatedAt}}"


def test_lag_accepts_durations_seconds_and_timedeltas():
    assert parse_lag("PT1H") == DEFAULT_LAG == timedelta(hours=1)
    assert parse_lag(90) == parse_lag("90") == timedelta(seconds=90)
    assert parse_lag(timedelta(0)) == timedelta(0)
    for bad in ("one hour", -1, True, None):
        with pytest.raises(EloquaInputError, match=r"^lag must"):
            parse_lag(bad)


def test_a_daily_dag_exports_yesterday_once_the_lag_has_passed():
    """The run of data interval [D1, D2) starts at D2; it creates its sync at D2 + lag, no earlier."""
    window = Window(D1, D2)
    assert ready_at(window, DEFAULT_LAG) == D2 + timedelta(hours=1)
    assert ready_at(Window(D1), DEFAULT_LAG) is None


def test_an_open_until_ends_lag_before_now():
    now = datetime(2026, 12, 3, 10, 30, 15, 500_000, tzinfo=UTC)
    closed = close(Window(D1), now, DEFAULT_LAG)
    assert closed == Window(D1, datetime(2026, 12, 3, 9, 30, 15, tzinfo=UTC))
    assert close(Window(D1, D2), now, DEFAULT_LAG) == Window(D1, D2)


def test_halves_cover_the_window_exactly():
    first, second = Window(D1, D2).halves()
    assert first == Window(D1, D1 + timedelta(hours=12)) and second == Window(D1 + timedelta(hours=12), D2)
    odd = Window(D1, D1 + timedelta(seconds=3))
    assert [w.until - w.since for w in odd.halves()] == [timedelta(seconds=1), timedelta(seconds=2)]
    with pytest.raises(EloquaInputError, match="cannot be split further"):
        Window(D1, D1 + timedelta(seconds=1)).halves()
    with pytest.raises(EloquaInputError, match="since and until are both set"):
        Window(D1).halves()


def test_json_round_trip():
    window = Window(D1, D2)
    assert window.as_json() == {"since": "2026-12-01T00:00:00+00:00", "until": "2026-12-02T00:00:00+00:00"}
    assert Window.from_json(window.as_json()) == window
    assert Window.from_json(Window().as_json()) == Window()
    assert bound_text(D1) == "2026-12-01 00:00:00"
    assert window.describe() == "[2026-12-01 00:00:00, 2026-12-02 00:00:00) UTC"
