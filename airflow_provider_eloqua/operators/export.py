"""The export operators: create an export definition, export to a file in one task, or write a sync
started elsewhere to a file.

Each keeps its arguments, describes the export once as typed specs (:mod:`airflow_provider_eloqua.export.spec`)
and hands it to the export engine (:mod:`airflow_provider_eloqua.export.engine`), or, for a sync started
elsewhere, to :mod:`airflow_provider_eloqua.export.download`. Why and how: docs/exports.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Context
from airflow.sdk.configuration import conf

from airflow_provider_eloqua import assets, urls
from airflow_provider_eloqua.definitions import find_same_definition
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError
from airflow_provider_eloqua.export.download import ExportResult, download_sync
from airflow_provider_eloqua.export.engine import Export, WaitForSync, WaitUntil
from airflow_provider_eloqua.export.plan import ExportCheckpoint
from airflow_provider_eloqua.export.spec import (
    ACTIVITY_SYNC_LIMIT,
    DEFAULT_EXPORT_AUTO_DELETE,
    DEFAULT_EXPORT_RETENTION,
    MAX_PAGE_SIZE,
    ExportSpec,
    OutputSpec,
    check_row_limit,
)
from airflow_provider_eloqua.export.window import DEFAULT_LAG, Window, parse_lag
from airflow_provider_eloqua.links import TaskLinks
from airflow_provider_eloqua.operators.base import EloquaBaseOperator
from airflow_provider_eloqua.sync.checkpoint import is_retry, task_key
from airflow_provider_eloqua.sync.waiting import DEFAULT_WAIT_TIMEOUT, status_from_event
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger

__all__ = ["EloquaCreateExportOperator", "EloquaDownloadSyncOperator", "EloquaExportOperator"]


class _ExportDefinitionOperator(EloquaBaseOperator):
    """The export definition's arguments, kept as given until ``execute``, then described once. What is checked
    before anything is sent: docs/exports.md, "Checked before anything is sent".

    :param entity: ``contacts``, ``accounts``, ``activities``, ``customObjects`` or ``events``.
    :param name: the definition's name, at most 100 characters (templated).
    :param fields: column label -> Eloqua statement, 1 to 250 (not templated).
    :param filter: a filter in Eloqua's language (not templated), e.g. ``"'{{Contact.Field(C_Country)}}' = 'BE'"``.
    :param parent_id: the custom object or event id, for ``customObjects`` and ``events`` (templated).
    :param activity_type: activities only, and required there: ``EmailSend``, ``EmailOpen``, ...
    :param member_of: only members of a list, segment or filter, e.g. ``ContactList[12]`` or ``AccountList[4]``.
    :param max_records: Eloqua's ``maxRecords``: export at most this many records.
    :param auto_delete_duration: the definition's ``autoDeleteDuration`` (at least ``PT1H``).
    :param data_retention_duration: how long Eloqua keeps a sync's data, ``PT1H`` to ``P14D``.
    :param definition_extra: other documented export properties (``crmAccountIdField``, ``syncActions``, ...).
    """

    def __init__(
        self,
        *,
        entity: str | None = None,
        name: str | None = None,
        fields: Mapping[str, str] | None = None,
        filter: str | None = None,
        parent_id: int | str | None = None,
        activity_type: str | None = None,
        member_of: str | None = None,
        max_records: int | None = None,
        auto_delete_duration: str | None = DEFAULT_EXPORT_AUTO_DELETE,
        data_retention_duration: str = DEFAULT_EXPORT_RETENTION,
        definition_extra: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entity = entity
        self.name = name
        self.fields = fields
        self.filter = filter
        self.parent_id = parent_id
        self.activity_type = activity_type
        self.member_of = member_of
        self.max_records = max_records
        self.auto_delete_duration = auto_delete_duration
        self.data_retention_duration = data_retention_duration
        self.definition_extra = definition_extra

    def export_spec(self, window: Window | None = None) -> ExportSpec:
        """The export, validated; raises EloquaInputError naming the bad argument."""
        if self.entity is None or self.name is None or self.fields is None:
            raise EloquaInputError("entity, name and fields are needed to describe the export")
        return ExportSpec(
            entity=self.entity,
            name=self.name,
            fields=self.fields,
            filter=self.filter,
            parent_id=self.parent_id,
            activity_type=self.activity_type,
            member_of=self.member_of,
            window=window or Window(),
            max_records=self.max_records,
            auto_delete_duration=self.auto_delete_duration or DEFAULT_EXPORT_AUTO_DELETE,
            data_retention_duration=self.data_retention_duration,
            definition_extra=self.definition_extra,
        )


class EloquaCreateExportOperator(_ExportDefinitionOperator):
    """Create an export definition; return its URI (e.g. ``/contacts/exports/12``), a template for
    :class:`EloquaExportOperator`'s ``definition_uri``.

    Everything Eloqua would refuse is checked first, naming the argument; a retry returns the definition an
    earlier try created. Its arguments are documented on :class:`_ExportDefinitionOperator` (here
    ``auto_delete_duration`` defaults to None: never auto-deleted) and
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`. See docs/exports.md, "The operators".
    """

    template_fields: Sequence[str] = ("name", "parent_id")
    ui_color = "#f4e6c6"

    def __init__(self, *, entity: str, name: str, fields: Mapping[str, str], **kwargs: Any) -> None:
        kwargs.setdefault("auto_delete_duration", None)
        super().__init__(entity=entity, name=name, fields=fields, **kwargs)

    def execute(self, context: Context) -> str:
        spec = self.export_spec()
        body = spec.body()
        if self.auto_delete_duration is None:
            body.pop("autoDeleteDuration", None)
        checkpoint = ExportCheckpoint.of(context)
        known = checkpoint.created_template(body)
        if known is not None:
            try:
                self.hook.get_definition(known)
                self.log.info("Returning %s, created by an earlier try of this task", known)
                TaskLinks(context, self.hook).definition(known)
                return known
            except EloquaApiError as exc:
                if exc.status not in (404, 410):
                    raise
        found = (
            find_same_definition(self.hook, spec.entity, spec.parent, "exports", body) if is_retry(context) else None
        )
        if found is not None:
            # An earlier try's POST may have created it and lost its answer: it is not created twice.
            self.log.info("Returning %s, of the same name and properties, found on this retry", found["uri"])
            checkpoint.note_template(found["uri"], body)
            TaskLinks(context, self.hook).definition(found["uri"])
            return str(found["uri"])
        uri = self.hook.create_definition(spec.entity, body, spec.parent, "exports")["uri"]
        checkpoint.note_template(uri, body)
        self.log.info("Created export definition %s (%s)", uri, spec.name)
        TaskLinks(context, self.hook).definition(uri)
        return uri


class EloquaExportOperator(_ExportDefinitionOperator):
    """The one-task export: sync an export definition of the task's own over a window, wait, and write every
    row to ``path``; return ``{sync_uri, path, rows, bytes, since, until}``.

    Give the definition arguments (documented on :class:`_ExportDefinitionOperator`) or ``definition_uri``;
    the connection's are :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`'s. The file appears
    only once every row Eloqua says it exported is in it. Why and how (windows, lag, retries, the 5,000,000-row
    split): docs/exports.md.

    :param definition_uri: an export definition to copy (templated), instead of the definition arguments.
    :param path: a local path or ObjectStoragePath URL of the file to write (templated).
    :param format: ``csv``, ``ndjson`` or ``json`` (one array) (templated; None: from the extension).
    :param page_size: rows per ``GET /syncs/{id}/data``, 1 to 50,000.
    :param since: the window's start, inclusive, on the entity's system timestamp in UTC (templated; None: open).
    :param until: the window's end, exclusive (templated; None: the first try's time less ``lag`` if ``since`` is set).
    :param lag: the sync is created no earlier than ``until + lag``: a timedelta, seconds or ISO-8601 (``PT1H``).
    :param wait: wait for the sync and write the file (False: return once it has started; see the split path).
    :param deferrable: wait (for the lag and for each sync) in the triggerer instead of a worker slot.
    :param poll_interval: seconds between looks at a sync.
    :param timeout: the most seconds to wait for each sync, in every mode.
    :param row_limit: an activity sync that exports this many rows is split in two halves of its window.
    """

    template_fields: Sequence[str] = ("name", "parent_id", "definition_uri", "path", "format", "since", "until")
    ui_color = "#c6e8f4"

    def __init__(
        self,
        *,
        path: str,
        definition_uri: str | None = None,
        format: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        since: Any = None,
        until: Any = None,
        lag: Any = DEFAULT_LAG,
        wait: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        row_limit: int = ACTIVITY_SYNC_LIMIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if definition_uri is None and (self.entity is None or self.name is None or self.fields is None):
            raise EloquaInputError("give definition_uri, or entity, name and fields to describe the export")
        self.definition_uri = definition_uri
        self.path = path
        self.format = format
        self.page_size = page_size
        self.since = since
        self.until = until
        self.lag: timedelta = parse_lag(lag)
        self.wait = wait
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.row_limit = check_row_limit(row_limit)
        # The file's URI is known only once ``path`` has rendered: the Asset is attached then.
        self.outlets = assets.with_alias(self, assets.export_alias)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider: the Eloqua entity in, the file out."""
        from airflow_provider_eloqua.openlineage import export_lineage

        return export_lineage(self)

    # ------------------------------------------------------------------ describing the export

    def _spec(self, checkpoint: ExportCheckpoint) -> ExportSpec:
        """The export over its window (an open ``until`` closed at now - lag, the same on every try)."""
        given = Window.of(self.since, self.until)
        spec = self._template_spec(given) if self.definition_uri else self.export_spec(given)
        return spec.with_window(checkpoint.window(given, datetime.now(UTC), self.lag))

    def _template_spec(self, window: Window) -> ExportSpec:
        """The export ``definition_uri`` describes, with this task's window and durations."""
        template = urls.parse_definition_uri(str(self.definition_uri))
        if template.kind != "exports":
            raise EloquaInputError(f"definition_uri must be an export definition; got {template.uri}")
        return ExportSpec.from_template(
            template,
            self.hook.get_definition(template),
            name=self.name,
            activity_type=self.activity_type,
            member_of=self.member_of,
            window=window,
            max_records=self.max_records,
            auto_delete_duration=self.auto_delete_duration or DEFAULT_EXPORT_AUTO_DELETE,
            data_retention_duration=self.data_retention_duration,
            definition_extra=self.definition_extra,
        )

    def _engine(self, context: Context, resumed_sync: str | None) -> Export:
        output = OutputSpec(self.path, self.format, self.page_size)  # checked before the template is read
        checkpoint = ExportCheckpoint.of(context)
        spec = self._spec(checkpoint)
        # The task's links: each sync, and the template it was given (once read; else the definition synced).
        links = TaskLinks(context, self.hook, template=self.definition_uri)
        links.template_read()
        return Export(
            self.hook,
            checkpoint,
            spec,
            output,
            key=task_key(context),
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            lag=self.lag,
            row_limit=self.row_limit,
            resumed_sync=resumed_sync,
            links=links,
        )

    # ------------------------------------------------------------------ running it

    def execute(self, context: Context) -> dict[str, Any]:
        return self._go(context)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        if isinstance(event, Mapping) and "sync_uri" in event:
            # A timeout or a failed wait raises here; an ended sync is judged by the engine as this try's.
            sync_uri, _ = status_from_event(event)
            return self._go(context, resumed_sync=sync_uri)
        return self._go(context)

    def _go(self, context: Context, resumed_sync: str | None = None) -> dict[str, Any]:
        engine = self._engine(context, resumed_sync)
        outcome = engine.run(block=not self.deferrable) if self.wait else engine.start(block=not self.deferrable)
        if isinstance(outcome, WaitUntil):
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            self.log.info("Deferring until %s (until + lag) before the export's sync is created", outcome.moment)
            self.defer(trigger=DateTimeTrigger(moment=outcome.moment), method_name="execute_complete")
        if not self.wait and not isinstance(outcome, ExportResult):
            # The sync is the sensor's to wait for; "" (an empty window, no sync) makes the sensor skip.
            sync_uri = outcome.sync_uri if outcome else ""
            window = engine.spec.window.as_json()
            # Keys of their own, so that later tasks can template output["sync_uri"], ["since"], ["until"]
            # ("" stands for None, which Airflow would take for a missing XCom).
            for key, value in {"sync_uri": sync_uri, **window}.items():
                context["ti"].xcom_push(key=key, value=value or "")
            return {"sync_uri": sync_uri, "path": None, "rows": None, "bytes": None, **window}
        if isinstance(outcome, WaitForSync):
            self.defer(
                trigger=EloquaSyncTrigger.for_hook(
                    self.hook,
                    sync_uri=outcome.sync_uri,
                    poll_interval=self.poll_interval,
                    end_time=time.time() + self.timeout,
                ),
                method_name="execute_complete",
            )
        assert isinstance(outcome, ExportResult)
        return _finish(self, context, engine.spec, outcome, self.definition_uri)


class EloquaDownloadSyncOperator(EloquaBaseOperator):
    """Write an export sync started elsewhere (``EloquaExportOperator(wait=False)``, once the sensor has seen it
    end) to ``path``; return ``{sync_uri, path, rows, bytes, since, until}``.

    The rows must equal Eloqua's count, else the task fails and nothing appears at ``path``; an export
    definition the provider created is deleted once the file is written. See docs/exports.md, "The operators";
    the connection's arguments are :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`'s.

    :param sync_uri: the export sync (templated), e.g. ``start.output["sync_uri"]``.
    :param path: a local path or ObjectStoragePath URL of the file to write (templated).
    :param format: ``csv``, ``ndjson`` or ``json`` (one array) (templated; None: from the extension).
    :param page_size: rows per ``GET /syncs/{id}/data``, 1 to 50,000.
    :param since: the sync's window start, only reported (templated).
    :param until: the sync's window end, only reported (templated).
    :param row_limit: an activity sync that exported this many rows is refused (Eloqua may have stopped there).
    """

    template_fields: Sequence[str] = ("sync_uri", "path", "format", "since", "until")
    ui_color = "#c6e8f4"

    def __init__(
        self,
        *,
        sync_uri: str,
        path: str,
        format: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        since: Any = None,
        until: Any = None,
        row_limit: int = ACTIVITY_SYNC_LIMIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.row_limit = check_row_limit(row_limit)
        self.sync_uri = sync_uri
        self.path = path
        self.format = format
        self.page_size = page_size
        self.since = since
        self.until = until
        self.outlets = assets.with_alias(self, assets.export_alias)

    def execute(self, context: Context) -> dict[str, Any]:
        urls.check_sync_uri(self.sync_uri)
        window = Window.of(self.since, self.until)
        output = OutputSpec(self.path, self.format, self.page_size)
        result = download_sync(
            self.hook,
            self.sync_uri,
            output,
            key=task_key(context),
            window=window,
            row_limit=self.row_limit,
            links=TaskLinks(context, self.hook),
        )
        parsed = urls.parse_definition_uri(result.definition_uri or "")
        return _finish(self, context, (parsed.entity, parsed.parent_id), result)


def _finish(
    operator: EloquaBaseOperator,
    context: Context,
    source: ExportSpec | tuple[str, int | None],
    result: ExportResult,
    template: str | None = None,
) -> dict[str, Any]:
    """Record the file's Asset event (the Eloqua entity named as its source); return the summary."""
    entity, parent_id = (source.entity, source.parent) if isinstance(source, ExportSpec) else source
    summary = result.summary()
    asset = assets.record_export(
        context,
        operator,
        site=operator.hook.settings.site,
        entity=entity,
        parent_id=parent_id,
        path=result.path,
        summary=summary,
    )
    _hook_lineage(operator, entity, parent_id, target=asset.uri)
    return summary


def _hook_lineage(operator: EloquaBaseOperator, entity: str, parent_id: int | None, *, target: str) -> None:
    """The Eloqua entity read and the file written, for Airflow's hook-level lineage (which the
    OpenLineage provider reads when it is enabled); a failure here never fails the export."""
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector

        collector = get_hook_lineage_collector()
        collector.add_input_asset(
            context=operator.hook, uri=assets.asset_uri(operator.hook.settings.site, entity, parent_id)
        )
        collector.add_output_asset(context=operator.hook, uri=target)
    except Exception as exc:
        operator.log.warning("Hook lineage not recorded: %s", exc)
