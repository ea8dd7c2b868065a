"""Incremental windows: ``since`` / ``until`` as a half-open range on the entity's system timestamp.

A window is ``'{{timestamp}}' >= 'since' AND '{{timestamp}}' < 'until'``, with the definition's
``areSystemTimestampsInUTC`` true and both bounds written in UTC as ``YYYY-MM-DD HH:MM:SS``
(whole seconds: a bound is floored to its second, and so is the next run's equal bound). Runs
whose windows meet (this run's ``until`` is the next run's ``since``, as Airflow's data intervals
do) therefore export every record exactly once: a record stamped exactly at ``until`` belongs to
the next run. Why this holds whichever way Eloqua reads the bounds, and the timestamp each entity
uses: docs/exports.md.

Late records: Oracle warns that activities (bouncebacks above all) can become exportable hours
after their timestamp, and advises keeping the upper bound at least an hour before the sync is
created. :func:`ready_at` is that rule: a window may be exported once ``until + lag`` has passed;
before then the operator waits (see :mod:`.engine`). Without ``until`` the window ends at the
sync's creation less ``lag`` (:func:`close`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pendulum

from airflow_provider_eloqua.definitions import parse_duration
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.export.filters import Comparison

#: Oracle's advice for activities: the upper bound at least an hour before the sync is created.
DEFAULT_LAG = timedelta(hours=1)
#: How a bound is written into a filter (the form peers use; Oracle's pages show no other).
BOUND_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The system timestamp a window filters on, per export entity (``<parent>`` is the custom object
#: or event id). Oracle's "System time stamps" page lists these as the ones exported in UTC when
#: ``areSystemTimestampsInUTC`` is true.
TIMESTAMP_STATEMENTS = {
    "contacts": "{{Contact.Field(C_DateModified)}}",
    "accounts": "{{Account.Field(M_DateModified)}}",
    "activities": "{{Activity.CreatedAt}}",
    "customObjects": "{{CustomObject[<parent>].UpdatedAt}}",
    "events": "{{Event[<parent>].UpdatedAt}}",
}


def timestamp_statement(entity: str, parent_id: int | None = None) -> str:
    """The statement a window of ``entity`` filters on, e.g. ``{{CustomObject[12].UpdatedAt}}``."""
    return TIMESTAMP_STATEMENTS[entity].replace("<parent>", str(parent_id))


def parse_bound(value: Any, argument: str) -> datetime | None:
    """A window bound as an aware UTC datetime floored to the second; None for None or ``""``.

    Takes a datetime (pendulum's too), a date (its midnight), or ISO-8601 text as Airflow renders
    ``{{ data_interval_start }}`` or ``{{ ds }}``. A value without a time zone is read as UTC, as
    Airflow reads it.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = pendulum.parse(value.strip(), tz=UTC)
        except (ValueError, TypeError) as exc:  # pendulum's ParserError is a ValueError
            raise EloquaInputError(
                f"{argument} must be a date-time such as 2026-12-01T00:00:00+00:00 or "
                f"'{{{{ data_interval_start }}}}'; got {value!r}"
            ) from exc
        if not isinstance(parsed, datetime):
            raise EloquaInputError(f"{argument} must be a date or a date-time; got {value!r}")
        moment = parsed
    else:
        raise EloquaInputError(f"{argument} must be a date-time (or ISO-8601 text); got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(moment.timestamp() // 1), tz=UTC)


def parse_lag(value: Any) -> timedelta:
    """``lag`` as a timedelta: a timedelta, seconds (a number, or digits), or an ISO-8601 duration such as ``PT1H``."""
    if isinstance(value, timedelta):
        lag = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        lag = timedelta(seconds=value)
    elif isinstance(value, str) and value.strip().isdigit():
        lag = timedelta(seconds=int(value))
    elif isinstance(value, str) and (duration := parse_duration(value.strip())) is not None:
        lag = duration
    else:
        raise EloquaInputError(f"lag must be a timedelta, seconds or an ISO-8601 duration such as PT1H; got {value!r}")
    if lag < timedelta(0):
        raise EloquaInputError(f"lag must not be negative; got {value!r}")
    return lag


def bound_text(moment: datetime) -> str:
    """A bound as it goes into a filter: ``2026-12-01 00:00:00`` (UTC)."""
    return moment.astimezone(UTC).strftime(BOUND_FORMAT)


@dataclass(frozen=True)
class Window:
    """``[since, until)`` in UTC, whole seconds; either end may be open (None).

    :param since: the first moment exported (inclusive).
    :param until: the first moment not exported (exclusive).
    """

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and (moment.tzinfo is None or moment.microsecond):
                raise EloquaInputError(f"{name} must be an aware datetime in whole seconds; got {moment!r}")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise EloquaInputError(
                f"since must not be after until; got since {bound_text(self.since)}, until {bound_text(self.until)} (UTC)"
            )

    @classmethod
    def of(cls, since: Any = None, until: Any = None) -> Window:
        """The window of the operator's ``since`` and ``until`` after templating."""
        return cls(parse_bound(since, "since"), parse_bound(until, "until"))

    @property
    def empty(self) -> bool:
        """``since == until``: nothing can be in it (a manual run's data interval has no length)."""
        return self.since is not None and self.since == self.until

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    def criteria(self, statement: str) -> list[Comparison]:
        """The filter criteria of this window on ``statement`` (none for an open window)."""
        criteria = []
        if self.since is not None:
            criteria.append(Comparison(statement, ">=", bound_text(self.since)))
        if self.until is not None:
            criteria.append(Comparison(statement, "<", bound_text(self.until)))
        return criteria

    def halves(self) -> tuple[Window, Window]:
        """Two windows that cover this one exactly, split at the middle second.

        Used when an activity sync would exceed Oracle's 5 million rows. Both ends must be set and
        at least two seconds apart; otherwise the window cannot be split (raises EloquaInputError).
        """
        if self.since is None or self.until is None:
            raise EloquaInputError(
                "an activity export over Eloqua's 5,000,000-row limit can only be split when since and until "
                "are both set; give a window"
            )
        span = int((self.until - self.since).total_seconds())
        if span < 2:
            raise EloquaInputError(
                f"the window [{bound_text(self.since)}, {bound_text(self.until)}) cannot be split further and still "
                "holds more rows than Eloqua exports in one activity sync"
            )
        middle = self.since + timedelta(seconds=span // 2)
        return Window(self.since, middle), Window(middle, self.until)

    def as_json(self) -> dict[str, str | None]:
        """``{"since": ISO, "until": ISO}`` (None for an open end): the task's result and checkpoint."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_json(cls, value: dict[str, str | None]) -> Window:
        return cls.of(value.get("since"), value.get("until"))

    def describe(self) -> str:
        since = bound_text(self.since) if self.since else "the beginning"
        until = bound_text(self.until) if self.until else "now"
        return f"[{since}, {until}) UTC"


def close(window: Window, now: datetime, lag: timedelta) -> Window:
    """``window`` with an open ``until`` set to ``now - lag`` (floored to the second)."""
    if window.until is not None:
        return window
    until = parse_bound(now - lag, "until")
    return Window(window.since, until)


def ready_at(window: Window, lag: timedelta) -> datetime | None:
    """When ``window`` may be exported: ``until + lag`` (None: at once)."""
    return None if window.until is None else window.until + lag
