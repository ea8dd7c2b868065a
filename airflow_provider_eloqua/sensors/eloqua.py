"""EloquaSyncSensor: waits for a Bulk API sync to end, in poke, reschedule or deferrable mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_eloqua.exceptions import EloquaSyncTimeout
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.sync_report import check_on_warning, finish_sync
from airflow_provider_eloqua.syncs import DEFAULT_WAIT_TIMEOUT, TERMINAL_STATUSES, SyncWatch, look, status_from_event
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from airflow_provider_eloqua.urls import check_sync_uri


class EloquaSyncSensor(BaseSensorOperator):
    """Wait until an Eloqua sync ends, then report its logs and rejects.

    ``success`` succeeds; ``error`` (or ``errored``) fails the task; ``warning`` follows
    ``on_warning`` (``succeed``, ``fail`` or ``skip``). The XCom value is a small summary:
    ``sync_uri, status, rows_processed, created, updated, rejected, warnings``.

    :param sync_uri: e.g. ``/syncs/66100`` (templated; typically the upload task's ``sync_uri``).
        Empty (the upload had no rows, so it started no sync): the sensor skips.
    :param on_warning: what a ``warning`` sync does to the task: ``succeed``, ``fail`` or ``skip``.
    :param rejects_path: where to write rejected rows (local path or ObjectStoragePath URL;
        ``.csv`` or ``.ndjson``), templated.
    :param eloqua_conn_id: the Airflow connection to Eloqua.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poke_interval: seconds between looks at the sync, in every mode.
    :param timeout: wall-clock seconds to wait in every mode (default six hours). Transient
        answers (429, 5xx, dropped connections) are retried until then; at the timeout the task
        fails with a message naming the sync and the status last seen.
    """

    template_fields: Sequence[str] = ("sync_uri", "rejects_path")
    ui_color = "#c5e3f6"

    def __init__(
        self,
        *,
        sync_uri: str,
        on_warning: str = "succeed",
        rejects_path: str | None = None,
        eloqua_conn_id: str = EloquaHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.sync_uri = sync_uri
        self.on_warning = check_on_warning(on_warning)
        self.rejects_path = rejects_path
        self.eloqua_conn_id = eloqua_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> EloquaHook:
        return EloquaHook(self.eloqua_conn_id)

    def _finish(self, status: str) -> dict[str, Any]:
        return finish_sync(self.hook, self.sync_uri, status, on_warning=self.on_warning, rejects_path=self.rejects_path)

    @cached_property
    def _watch(self) -> SyncWatch:
        return SyncWatch(self.sync_uri)

    def poke(self, context: Context) -> PokeReturnValue | bool:
        check_sync_uri(self.sync_uri)
        status = look(self.hook, self._watch)  # None: a transient failure, the next poke tries again
        if status is not None:
            self.log.info("Eloqua sync %s is %s", self.sync_uri, status)
        if status not in TERMINAL_STATUSES:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(status))

    def execute(self, context: Context) -> Any:
        if not self.sync_uri:
            # The upload staged no rows (an empty input is not an error), so it started no sync.
            raise AirflowSkipException("Eloqua: no sync to wait for (the upstream upload staged no rows)")
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
            trigger=EloquaSyncTrigger(
                sync_uri=self.sync_uri,
                eloqua_conn_id=self.eloqua_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            self.sync_uri, status = status_from_event(event)
        except EloquaSyncTimeout as exc:
            raise AirflowSensorTimeout(str(exc)) from exc
        return self._finish(status)
