"""EloquaSyncSensor: waits for a Bulk API sync to end, in poke, reschedule or deferrable mode."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property, partial
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.definitions.xcom_arg import PlainXComArg
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_eloqua import assets, urls
from airflow_provider_eloqua.definitions import discard_definition
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaError,
    EloquaInputError,
    EloquaSyncGone,
    EloquaSyncTimeout,
)
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS, persist_links
from airflow_provider_eloqua.load.load_definition import is_load_definition
from airflow_provider_eloqua.load.report import RejectThreshold, SyncReport, report_import_sync
from airflow_provider_eloqua.load.rows import check_staged_input
from airflow_provider_eloqua.settings import task_http_settings
from airflow_provider_eloqua.sync.ending import SyncOutcome, check_on_warning, end_sync
from airflow_provider_eloqua.sync.logs import report_sync_log
from airflow_provider_eloqua.sync.waiting import (
    DEFAULT_WAIT_TIMEOUT,
    TERMINAL_STATUSES,
    SyncWatch,
    look,
    status_from_event,
)
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from airflow_provider_eloqua.urls import check_sync_uri

log = logging.getLogger(__name__)


class EloquaSyncSensor(BaseSensorOperator):
    """Wait until an Eloqua sync (of an import, sync-action or export definition) ends, then report it: check
    its rows against ``expected_rows``, delete its load definition and record the Asset it loaded.

    ``success`` succeeds, ``error`` fails the task, ``warning`` follows ``on_warning``. Returns an import sync's
    report (README, "Reporting"), or an export sync's ``{sync_uri, status, counts, log_warnings}``. Why and how:
    README, "Operators, sensor, trigger", "Assets and lineage" and "Nothing lost, nothing doubled: the guarantees".
    ``eloqua_conn_id``, ``request_timeout`` and ``http_retry_policy`` are those of
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`; ``max_rejected_rows`` and
    ``max_rejected_ratio`` the fields of :class:`~airflow_provider_eloqua.load.report.RejectThreshold`.

    :param sync_uri: e.g. ``/syncs/66100`` (templated; typically ``upload.output["sync_uri"]``); empty: the task skips.
    :param expected_rows: the rows staged for the sync (templated; ``upload.output["sync_rows"]``); None: not checked.
    :param on_warning: what a ``warning`` sync does to the task: ``succeed``, ``fail`` or ``skip``.
    :param rejects_path: where to write the rejected rows, ``.csv``, ``.ndjson`` or ``.json`` (an array), local or object storage (templated).
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poke_interval: seconds between looks at the sync, in every mode.
    :param timeout: wall-clock seconds to wait in every mode, and then to list the sync's logs and rejects.
    :param delete_load_definition: delete the sync's load definition once the sync is reported.
    :param staged_input: the upload's XCom ``staged_input`` (templated; found by itself from an upload's ``sync_uri``).
    """

    template_fields: Sequence[str] = ("sync_uri", "rejects_path", "expected_rows", "staged_input")
    operator_extra_links = EXTRA_LINKS
    ui_color = "#c5e3f6"

    def __init__(
        self,
        *,
        sync_uri: str,
        on_warning: str = "succeed",
        rejects_path: str | None = None,
        eloqua_conn_id: str = EloquaHook.default_conn_name,
        request_timeout: float | None = None,
        http_retry_policy: dict[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        expected_rows: int | str | None = None,
        delete_load_definition: bool = True,
        staged_input: Any = None,
        max_rejected_rows: int | None = None,
        max_rejected_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.max_rejected_rows = max_rejected_rows
        self.max_rejected_ratio = max_rejected_ratio
        self.reject_threshold = RejectThreshold(max_rejected_rows, max_rejected_ratio)
        self.sync_uri = sync_uri
        self.expected_rows = expected_rows
        self.staged_input = staged_input if staged_input is not None else _staged_input(sync_uri)
        self.delete_load_definition = delete_load_definition
        self.on_warning = check_on_warning(on_warning)
        self.rejects_path = rejects_path
        self.eloqua_conn_id = eloqua_conn_id
        self.request_timeout, self.http_retry_policy = task_http_settings(request_timeout, http_retry_policy)
        self.deferrable = deferrable
        self.outlets = assets.with_alias(self)

    @cached_property
    def hook(self) -> EloquaHook:
        return EloquaHook(self.eloqua_conn_id, timeout=self.request_timeout, retry_policy=self.http_retry_policy)

    def _expected_rows(self) -> int | None:
        """``expected_rows`` after templating (a rendered template is a string); None: not checked."""
        value = self.expected_rows
        if value is None or value == "":
            return None
        try:
            rows = int(value)
        except (TypeError, ValueError):
            rows = -1
        if isinstance(value, bool) or rows < 0 or (isinstance(value, float) and value != rows):
            raise EloquaInputError(f"expected_rows must be a whole number of rows, or None; got {value!r}")
        return rows

    def _finish(self, context: Context, status: str, definition_uri: str | None = None) -> dict[str, Any]:
        """End the sync (:func:`~airflow_provider_eloqua.sync.ending.end_sync`): report it by what its
        definition syncs, delete its load definition, then record the Asset it loaded
        (``definition_uri`` is the sync's ``syncedInstanceUri`` when the caller has just read the sync)."""
        expected = self._expected_rows()
        if not definition_uri:  # resumed from a deferral, or the look did not say: read it, and link it
            definition_uri = self._synced_instance_uri()
            persist_links(context, self.hook, sync_uri=self.sync_uri, definition_uri=definition_uri)
        definition = (
            self._synced_definition(definition_uri)
            if definition_uri and self._needs_definition(definition_uri)
            else None
        )
        delete = None
        if self.delete_load_definition and definition and is_load_definition(definition):
            delete = partial(discard_definition, self.hook, definition["uri"], "load definition")
        return end_sync(
            self._report(status, definition_uri, definition, expected),
            on_warning=self.on_warning,
            delete_definition=delete,
            record_asset=lambda summary: assets.record_load(
                context,
                self,
                site=self.hook.settings.site,
                definition_uri=definition_uri,
                summary=summary,
            ),
        )

    def _report(
        self, status: str, definition_uri: str | None, definition: dict[str, Any] | None, expected: int | None
    ) -> Callable[[], SyncOutcome]:
        """The report of the ended sync: an export's is its log; an import's (or a sync action's, or
        one whose definition is unknown) has its rows checked, its rejects and its actions."""
        deadline = time.time() + self.timeout
        if _kind(definition_uri) == "exports":
            if expected is not None or self.rejects_path:
                raise EloquaInputError(
                    f"expected_rows and rejects_path apply to import syncs; {self.sync_uri} synced the export "
                    f"definition {definition_uri}"
                )
            return partial(report_sync_log, self.hook, self.sync_uri, status, deadline=deadline)

        def report() -> SyncReport:
            staged = check_staged_input(self.staged_input)
            rows = _row_source(staged)
            try:
                reported = report_import_sync(
                    self.hook,
                    self.sync_uri,
                    status,
                    rejects_path=self.rejects_path,
                    expected_rows=expected,
                    sync_actions=(definition or {}).get("syncActions"),
                    deadline=deadline,
                    staged=staged,
                    rows=rows,
                )
            finally:
                if rows is not None:
                    rows.close()
            return self.reject_threshold.check(reported, self.rejects_path)

        return report

    def _needs_definition(self, uri: str) -> bool:
        """The definition is read to delete a load definition, and to report a sync action's actions."""
        return self.delete_load_definition or "/syncActions/" in uri

    def _synced_instance_uri(self) -> str | None:
        """The ended sync's definition URI, read from the sync (best effort: None when it cannot be)."""
        try:
            return self.hook.get_sync(self.sync_uri).get("syncedInstanceUri") or None
        except EloquaError as exc:
            self._lookup_failed(exc)
        return None

    def _synced_definition(self, uri: str) -> dict[str, Any] | None:
        """The ended sync's definition (best effort: None when it cannot be read)."""
        try:
            return {"uri": uri, **self.hook.get_definition(uri)}
        except EloquaError as exc:
            self._lookup_failed(exc)
        return None

    def _lookup_failed(self, exc: EloquaError) -> None:
        """A definition gone (404) is no news; any other failed look-up is logged, not raised: the
        sync has ended, only the clean-up, the actions' report or the asset event lose it."""
        if not (isinstance(exc, EloquaApiError) and exc.status == 404):
            self.log.warning("Could not look up the definition of %s: %s", self.sync_uri, exc)

    @cached_property
    def _watch(self) -> SyncWatch:
        return SyncWatch(self.sync_uri)

    def _start_watch(self, context: Context) -> float:
        """Set and return the wait's deadline: ``timeout`` after the wait began (in reschedule mode,
        the first poke of this try), as Airflow's sensor counts it."""
        started = context["ti"].get_first_reschedule_date(context) if self.reschedule else None
        return self._watch.start(self.timeout, started.timestamp() if started else None)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        # The pause before the next poke (poke and reschedule modes): Airflow's, or the Retry-After
        # Eloqua asked for if longer, never past the deadline.
        return self._watch.pause(super()._get_next_poke_interval(started_at, run_duration, poke_count))

    def poke(self, context: Context) -> PokeReturnValue | bool:
        check_sync_uri(self.sync_uri, "sync_uri")
        first_sight = self._watch.status is None
        with self._not_gone():
            status = look(self.hook, self._watch)  # None: a transient failure, the next poke tries again
        if status is not None:
            self.log.info("Eloqua sync %s is %s", self.sync_uri, status)
            if first_sight:  # this try's links: the sync and the definition it syncs
                persist_links(
                    context, self.hook, sync_uri=self.sync_uri, definition_uri=self._watch.synced_instance_uri
                )
        if status not in TERMINAL_STATUSES:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, status, self._watch.synced_instance_uri))

    def execute(self, context: Context) -> Any:
        if self.sync_uri is None or self.sync_uri == "":
            # The upload staged no rows (an empty input is not an error), so it started no sync.
            raise AirflowSkipException("Eloqua: no sync to wait for (the upstream upload staged no rows)")
        check_sync_uri(self.sync_uri, "sync_uri")
        self._expected_rows()  # bad values fail now, not after the wait
        check_staged_input(self.staged_input)
        persist_links(context, self.hook, sync_uri=self.sync_uri)  # the definition follows once the sync is read
        deadline = self._start_watch(context)
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                # Airflow's own message ("Sensor has timed out; run duration ...") names neither.
                raise AirflowSensorTimeout(self._watch.timeout_message(self.timeout)) from exc
        result = self.poke(context)
        if isinstance(result, PokeReturnValue):
            return result.xcom_value
        self.defer(
            trigger=EloquaSyncTrigger.for_hook(
                self.hook, sync_uri=self.sync_uri, poll_interval=self.poke_interval, end_time=deadline
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            with self._not_gone():
                self.sync_uri, status = status_from_event(event)
        except EloquaSyncTimeout as exc:
            raise AirflowSensorTimeout(str(exc)) from exc
        return self._finish(context, status)

    @contextmanager
    def _not_gone(self) -> Iterator[None]:
        """Around a look at the sync: a 404 for it fails the sensor without retries, as a retry would
        find it gone again."""
        try:
            yield
        except EloquaApiError as exc:
            if exc.status != 404:
                raise
            raise EloquaSyncGone(
                f"{self.sync_uri} is gone from Eloqua ({exc}) while this sensor waited for it, so whether it "
                "ended, and what it loaded, is unknown; a retry would find it gone again, so the sensor is not "
                "retried. Look at the records in Eloqua; to load the input again, Clear the task that started "
                "the sync, with this sensor downstream: the try after a Clear starts a new load"
            ) from exc


def _kind(definition_uri: str | None) -> str | None:
    """The kind of definition a sync synced (``imports``, ``exports``, ``syncActions``); None when unknown."""
    try:
        return urls.parse_definition_uri(definition_uri or "").kind
    except ValueError:
        return None


def _row_source(staged: dict[str, Any] | None) -> Any:
    """The query ``staged_input`` describes (SqlToEloquaOperator's), to run again for the rows of the
    sync's rejects; None when there is none, or when it cannot be opened here (logged: the rejects then
    carry Eloqua's index only)."""
    if not staged or not isinstance(staged.get("row_source"), dict):
        return None
    from airflow_provider_eloqua.transfers.sql_to_eloqua import open_query

    try:
        return open_query(staged["row_source"])
    except Exception as exc:
        log.warning("The query of the upload cannot be run here (%s); the rejects carry Eloqua's index only", exc)
        return None


def _staged_input(sync_uri: Any) -> Any:
    """The upload's ``staged_input`` XCom when ``sync_uri`` is an Eloqua upload task's ``sync_uri``
    XCom (a task whose ``pushes_staged_input`` is true); None otherwise."""
    if not (isinstance(sync_uri, PlainXComArg) and sync_uri.key == "sync_uri"):
        return None
    upload = sync_uri.operator
    return PlainXComArg(upload, key="staged_input") if getattr(upload, "pushes_staged_input", False) else None
