"""What a sync's status means and how to wait for it; the trigger's event contract.

Shared by every capability (imports and exports) and every wait mode: the engines and operators
(waiting in the worker), the sensor (poke and reschedule) and the trigger (waiting in the
triggerer) read statuses, treat transient failures and word their deadline the same way.

Waiting survives Eloqua's bad moments: a transient answer (429, 5xx, a dropped or refused
connection) that outlasts the hook's own retries is noted and the wait goes on until its
deadline; only then does it fail, naming the sync, the status last seen and the last error.
A permanent answer (404, 401, ...) ends the wait at once. Nothing sleeps past the deadline: the
hook's retries of a look stop before it, and a ``Retry-After`` longer than the poll interval
spaces the next look, at most until the deadline.

The trigger's event contract (the one JSON dict the trigger yields and ``execute_complete``
reads) is written here too: :func:`terminal_event`, :func:`timeout_event`, :func:`error_event`
build it and :func:`status_from_event` reads it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.exceptions import EloquaError, EloquaSyncTimeout, failure_from_json, failure_to_json
from airflow_provider_eloqua.retry import is_transient

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

SUCCESS = "success"
WARNING = "warning"
#: Oracle's documented failure status is ``error``; ``errored`` is seen in the wild and means the same.
FAILED_STATUSES = frozenset({"error", "errored"})
RUNNING_STATUSES = frozenset({"pending", "active"})
TERMINAL_STATUSES = frozenset({SUCCESS, WARNING}) | FAILED_STATUSES
KNOWN_STATUSES = RUNNING_STATUSES | TERMINAL_STATUSES
#: Six hours: a sync that has not ended by then needs a person, not another poll.
DEFAULT_WAIT_TIMEOUT = 6 * 60 * 60

#: Kinds of the trigger's one event (its ``"status"`` key).
EVENT_TERMINAL = "terminal"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"


def sync_status(sync: Mapping[str, Any], sync_uri: str) -> str:
    """The sync's status, lower-cased; an unknown one fails clearly instead of waiting forever.

    :param sync: the answer of ``GET /syncs/{id}``.
    :param sync_uri: the sync, for the message.
    """
    status = str(sync.get("status") or "").strip().lower()
    if status not in KNOWN_STATUSES:
        raise EloquaError(
            f"Eloqua reported an unknown status {sync.get('status')!r} for {sync_uri}; expected one of "
            f"{', '.join(sorted(KNOWN_STATUSES))}"
        )
    return status


@dataclass
class SyncWatch:
    """One wait for one sync: what it last saw, so that the deadline's message can say it.

    :param sync_uri: the sync waited for, e.g. ``/syncs/66100``.
    :param deadline: wall-clock end of the wait (seconds since the epoch), or None for none.
    """

    sync_uri: str
    deadline: float | None = None
    status: str | None = None
    last_error: str | None = None
    #: The definition the sync syncs (``syncedInstanceUri``), once seen: the sensor reports the ended
    #: sync by that definition's kind, and deletes it when a task made it for itself.
    synced_instance_uri: str | None = None
    #: Seconds Eloqua asked to wait (``Retry-After``) in its answer to the last look, if it failed so.
    retry_after: float | None = None

    def saw(self, sync: Mapping[str, Any]) -> str:
        """Note an answer of ``GET /syncs/{id}``; return the sync's status."""
        self.status = sync_status(sync, self.sync_uri)
        self.synced_instance_uri = sync.get("syncedInstanceUri") or self.synced_instance_uri
        self.last_error = None
        self.retry_after = None
        return self.status

    def missed(self, exc: BaseException) -> None:
        """Note a failed look at the sync if it was transient (the wait goes on); re-raise it otherwise."""
        if not is_transient(exc):
            raise exc
        self.last_error = str(exc)
        self.retry_after = getattr(exc, "retry_after", None)
        log.warning("Could not read %s (%s); the wait goes on until its deadline", self.sync_uri, exc)

    def start(self, timeout: float, began: float | None = None) -> float:
        """Set the deadline ``timeout`` seconds after ``began`` (seconds since the epoch; now when
        None) and return it."""
        self.deadline = (time.time() if began is None else began) + timeout
        return self.deadline

    def remaining(self) -> float:
        """Seconds left before the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.time()

    def pause(self, interval: float) -> float:
        """Seconds to wait before the next look: ``interval``, or the ``Retry-After`` Eloqua asked for
        if longer, never past the deadline."""
        return max(0.0, min(max(interval, self.retry_after or 0.0), self.remaining()))

    def timeout_message(self, timeout: float | None = None) -> str:
        """Why the wait ended at its deadline: the sync, its last status and the last error, if any."""
        seen = f"last seen {self.status!r}" if self.status else "status never read"
        when = f"when the wait timed out after {timeout:g}s" if timeout is not None else "at the deadline"
        error = f"; the last look failed: {self.last_error}" if self.last_error else ""
        return f"Eloqua sync {self.sync_uri} ({seen}) had not ended {when}{error}"


def look(hook: EloquaHook, watch: SyncWatch) -> str | None:
    """One look at the sync through the worker's hook: its status, or None after a transient failure."""
    try:
        return watch.saw(hook.get_sync(watch.sync_uri, deadline=watch.deadline))
    except EloquaError as exc:
        watch.missed(exc)
        return None


def wait_for_sync(hook: EloquaHook, sync_uri: str, *, poll_interval: float, deadline: float) -> str:
    """Poll a sync from the worker until it ends; raise :class:`EloquaSyncTimeout` at the deadline.

    :param hook: the worker's hook.
    :param sync_uri: e.g. ``/syncs/66100``.
    :param poll_interval: seconds between looks.
    :param deadline: wall-clock end of the wait, seconds since the epoch.
    """
    watch = SyncWatch(sync_uri, deadline)
    while True:
        status = look(hook, watch)
        if status in TERMINAL_STATUSES:
            return status
        if watch.remaining() <= 0:
            raise EloquaSyncTimeout(watch.timeout_message())
        pause = watch.pause(poll_interval)
        if status:
            log.info("Eloqua sync %s is %s; next check in %.0fs", sync_uri, status, pause)
        time.sleep(pause)


# ------------------------------------------------------------------ the trigger's event contract


def terminal_event(sync_uri: str, sync_status: str) -> dict[str, Any]:
    """The sync ended (``success``, ``warning``, ``error`` or ``errored``)."""
    return {
        "status": EVENT_TERMINAL,
        "sync_uri": sync_uri,
        "message": f"Sync {sync_uri} ended: {sync_status}",
        "sync_status": sync_status,
    }


def timeout_event(watch: SyncWatch) -> dict[str, Any]:
    """The deadline passed first; the message names the last status seen and the last error."""
    return {
        "status": EVENT_TIMEOUT,
        "sync_uri": watch.sync_uri,
        "message": watch.timeout_message(),
        "sync_status": watch.status,
    }


def error_event(sync_uri: str, exc: BaseException) -> dict[str, Any]:
    """Waiting failed for good (the sync is unknown, the credentials were refused, ...): the event
    carries the failure itself (``failure``, see :func:`failure_to_json`), so that the task raises
    what a wait in the worker raises, and Airflow retries it (or not) the same way."""
    return {
        "status": EVENT_ERROR,
        "sync_uri": sync_uri,
        "message": f"Waiting for {sync_uri} failed: {exc}",
        "failure": failure_to_json(exc),
    }


def status_from_event(event: Mapping[str, Any] | None) -> tuple[str, str]:
    """Validate the trigger's event; return ``(sync_uri, sync status)`` or raise what it reports: the
    failure of the wait as the worker would have raised it (an event without ``failure``, from an
    earlier version of the trigger, raises :class:`EloquaError`)."""
    if not isinstance(event, Mapping) or "status" not in event:
        raise EloquaError(f"The Eloqua sync trigger returned no usable event: {event!r}")
    kind = event["status"]
    if kind == EVENT_TERMINAL and event.get("sync_status") in TERMINAL_STATUSES and event.get("sync_uri"):
        return event["sync_uri"], event["sync_status"]
    if kind == EVENT_TIMEOUT:
        raise EloquaSyncTimeout(event.get("message") or "The Eloqua sync did not end before the deadline")
    if kind == EVENT_ERROR:
        raise failure_from_json(event.get("failure"), event.get("message") or "Waiting for the Eloqua sync failed")
    raise EloquaError(f"The Eloqua sync trigger returned an unknown event: {event!r}")
