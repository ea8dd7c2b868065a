"""The end of a sync task, the same for every capability and every way of waiting.

Once a sync has ended, the task that waited for it (an operator, in the worker or on resuming
after deferral, or the sensor) calls :func:`end_sync` with its capability's part: the report of
the ended sync (an import's counts, rows checked and rejects; an export's rows), how to delete
the definition the task made for itself, and how to record its Asset. The routine turns the
sync's status into the task's outcome (``error`` fails, ``warning`` follows ``on_warning``),
deletes the definition whatever the outcome, then forgets the checkpoint and records the Asset
once the outcome is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_eloqua.exceptions import EloquaInputError, EloquaOutcomeRefused, EloquaSyncError
from airflow_provider_eloqua.sync.checkpoint import SyncCheckpoint
from airflow_provider_eloqua.sync.waiting import FAILED_STATUSES, WARNING

ON_WARNING_CHOICES = ("succeed", "fail", "skip")
#: What to do about an ended sync whose outcome the task refuses (:class:`EloquaOutcomeRefused`).
REFUSED_HINT = (
    "A retry cannot change what Eloqua did, so the task is not retried. Fix the input or the mapping (see the "
    "sync log and rejects above), then Clear the task that loaded the rows: it loads them again, as a new load. "
    "To accept this sync instead, change on_warning (or max_rejected_rows / max_rejected_ratio) and Clear: the "
    "sync is judged again and nothing is loaded again"
)


class SyncOutcome(Protocol):
    """What a capability's report of an ended sync offers the end of the task."""

    @property
    def sync_uri(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def errors(self) -> list[str]: ...

    def issues(self) -> str:
        """What went wrong, counted, for the task's error (``"3 rejected"``); empty when nothing is."""
        ...

    def summary(self) -> dict[str, Any]:
        """The task's XCom value: small, JSON-plain, never bulk data."""
        ...


def check_on_warning(on_warning: str) -> str:
    if on_warning not in ON_WARNING_CHOICES:
        raise EloquaInputError(f"on_warning must be one of {', '.join(ON_WARNING_CHOICES)}; got {on_warning!r}")
    return on_warning


def enforce_outcome(report: SyncOutcome, on_warning: str) -> dict[str, Any]:
    """Turn the sync's end into the task's: fail on error, follow ``on_warning``; return the summary."""
    issues = report.issues()
    if report.status in FAILED_STATUSES:
        reasons = "; ".join(report.errors[:5])
        raise EloquaSyncError(
            f"Eloqua sync {report.sync_uri} ended with status {report.status!r}"
            + (f" ({reasons})" if reasons else "")
            + (f": {issues}" if issues else "")
            + ", see the sync log above"
        )
    if report.status == WARNING:
        if on_warning == "fail":
            counted = f" ({issues})" if issues else ""
            raise EloquaOutcomeRefused(
                f"Eloqua sync {report.sync_uri} ended with warnings{counted} and on_warning='fail'. {REFUSED_HINT}"
            )
        if on_warning == "skip":
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"Eloqua sync {report.sync_uri} ended with warnings; on_warning='skip'")
    return report.summary()


def end_sync(
    report: Callable[[], SyncOutcome],
    *,
    on_warning: str,
    delete_definition: Callable[[], None] | None = None,
    checkpoint: SyncCheckpoint | None = None,
    record_asset: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """Report an ended sync, apply its outcome, delete the task's definition, forget, record; return the summary.

    :param report: the capability's report of the ended sync; it may raise (rows that do not check out).
    :param on_warning: what a ``warning`` does to the task: ``succeed``, ``fail`` or ``skip``.
    :param delete_definition: deletes the definition the task made for itself (best effort); called
        once the sync is reported, whatever the outcome: the definition has served. None: nothing to delete.
    :param checkpoint: forgotten (:meth:`SyncCheckpoint.forget`) once the outcome is accepted, so that
        a later run starts over; kept when the task fails, so that its retry reattaches and reports again.
    :param record_asset: records the task's Asset event from the summary, once the outcome is accepted.
    """
    try:
        summary = enforce_outcome(report(), on_warning)
    finally:
        if delete_definition is not None:
            delete_definition()
    if checkpoint is not None:
        checkpoint.forget()
    if record_asset is not None:
        record_asset(summary)
    return summary
