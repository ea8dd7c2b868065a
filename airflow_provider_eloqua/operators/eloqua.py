"""The import operators: create a definition, upload, start a sync, or all of it in one task.

Each keeps its arguments (templated ones render before ``execute``), describes the work as typed specs
(:mod:`airflow_provider_eloqua.load.spec`) and hands it to the load engine (:mod:`airflow_provider_eloqua.load.engine`).
Why every load stages into a definition of its own: README, "Nothing lost, nothing doubled: the guarantees".
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.sdk import Context
from airflow.sdk.configuration import conf

from airflow_provider_eloqua import assets, urls
from airflow_provider_eloqua.content import DEFAULT_CHUNK_BYTES
from airflow_provider_eloqua.definitions import discard_definition
from airflow_provider_eloqua.exceptions import EloquaInputError, EloquaOutcomeRefused
from airflow_provider_eloqua.links import TaskLinks
from airflow_provider_eloqua.load.checkpoint import Checkpoint, LoadSync
from airflow_provider_eloqua.load.engine import Load, LoadResult, ensure_definition, not_gone
from airflow_provider_eloqua.load.field_mapping import (
    FieldMapping,
    MappedDefinition,
    check_source_columns,
    fetch_field_mapping,
)
from airflow_provider_eloqua.load.load_definition import (
    DEFAULT_LOAD_AUTO_DELETE,
    Blueprint,
    check_auto_delete,
    from_mapping,
    from_spec,
    from_template,
    mapped_origin,
)
from airflow_provider_eloqua.load.report import RejectThreshold, SyncReport, report_load
from airflow_provider_eloqua.load.rows import staged_input
from airflow_provider_eloqua.load.spec import (
    IMPORTS,
    SYNC_ACTIONS,
    DefinitionSpec,
    InputSpec,
    UploadSpec,
    check_entity_choice,
    template_uri,
)
from airflow_provider_eloqua.operators.base import EloquaBaseOperator as _EloquaOperator
from airflow_provider_eloqua.operators.data_rows import DataRows
from airflow_provider_eloqua.operators.export import (
    EloquaCreateExportOperator,
    EloquaDownloadSyncOperator,
    EloquaExportOperator,
)
from airflow_provider_eloqua.staging import MAX_STAGED_BYTES_PER_SYNC
from airflow_provider_eloqua.storage import output_format
from airflow_provider_eloqua.sync.checkpoint import StartedSync, SyncCheckpoint, is_retry, task_key
from airflow_provider_eloqua.sync.ending import check_on_warning, end_sync
from airflow_provider_eloqua.sync.lifecycle import reattach, start_sync
from airflow_provider_eloqua.sync.waiting import (
    DEFAULT_WAIT_TIMEOUT,
    TERMINAL_STATUSES,
    SyncWatch,
    look,
    status_from_event,
    wait_for_sync,
)
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger

__all__ = [
    "EloquaCreateExportOperator",
    "EloquaCreateImportOperator",
    "EloquaCreateSyncActionOperator",
    "EloquaCreateSyncOperator",
    "EloquaDownloadSyncOperator",
    "EloquaExportOperator",
    "EloquaImportOperator",
    "EloquaUploadDataOperator",
]

#: ``fields``, ``sync_actions`` and ``definition_extra`` are deliberately not templated: Eloqua's markup
#: (``{{Contact.Field(C_EmailAddress)}}``) is Jinja syntax too, and rendering it would destroy it.
_DEFINITION_TEMPLATE_FIELDS = ("name", "identifier_field_name", "parent_id")


def _push_sync_uri(context: Context, result: LoadResult) -> None:
    """Push the last batch's sync as XCom ``sync_uri`` (``""`` when none was started).

    A downstream ``upload.output["sync_uri"]`` must resolve rather than fail on a missing XCom
    (Airflow treats a None XCom as missing), so ``""`` is pushed; the sensor skips on it. It is
    pushed again on a retry that reattaches: Airflow clears a task's XComs at the start of each try.
    """
    context["ti"].xcom_push(key="sync_uri", value=result.sync_uri or "")


def _push_load_keys(context: Context, load: Load, result: LoadResult, row_source: dict[str, Any] | None) -> None:
    """Push ``definition_uri``, ``sync_rows`` and ``staged_input`` as XCom keys of their own, so that
    downstream tasks can template ``upload.output["definition_uri"]`` (for EloquaCreateSyncOperator),
    ``upload.output["sync_rows"]`` (for the sensor's ``expected_rows``) and ``staged_input`` (which
    the sensor reads by itself when its ``sync_uri`` is this task's), as they do ``sync_uri``.
    Called before the checkpoint forgets the load: ``staged_input`` carries its earlier batches."""
    context["ti"].xcom_push(key="definition_uri", value=result.totals.definition_uri)
    context["ti"].xcom_push(key="sync_rows", value=result.sync_rows)
    earlier = load.checkpoint.progress_of_load().done
    staged = staged_input(load.source, result.identifier, result.batch, earlier=earlier, row_source=row_source)
    context["ti"].xcom_push(key="staged_input", value=staged)


class _DefinitionOperator(_EloquaOperator):
    """The definition arguments, kept as given until ``execute``, then described once as a validated
    :class:`DefinitionSpec` (``_kind`` says which: an import or a sync action). What is checked before
    anything is sent: README, "Operators, sensor, trigger".

    :param entity: ``contacts``, ``accounts``, ``customObjects``, ``events``, ``activities``, ... (Oracle's kinds).
    :param name: the definition's name, at most 100 characters (templated).
    :param fields: column name -> statement, e.g. ``{"Email": "{{Contact.Field(C_EmailAddress)}}"}`` (not templated).
    :param identifier_field_name: the column that identifies records, one of ``fields`` (templated).
    :param parent_id: the custom object or event id, for ``customObjects`` and ``events`` (templated).
    :param update_rule: ``always`` (the default), ``ifNewIsNotNull``, ``ifExistingIsNull`` or ``useFieldRule``.
    :param sync_actions: up to 10 actions run after the import, e.g. ``{"action": "add", "destination": ...}``.
    :param is_sync_triggered_on_import: Eloqua starts a sync on every data POST (the upload operators refuse it).
    :param data_retention_duration: how long Eloqua keeps staged data, ``PT1H`` to ``P14D``.
    :param auto_delete_duration: Eloqua deletes the definition this long after its last use (at least ``PT1H``).
    :param definition_extra: other documented properties, e.g. ``{"isUpdatingMultipleMatchedRecords": True}``.
    :param reuse_existing: use an existing definition of the same name and properties instead of creating another.
    :param check_entity: check ``entity`` and ``parent_id`` when the task is defined (off for a template's).
    """

    _kind = IMPORTS

    def __init__(
        self,
        *,
        entity: str = "contacts",
        name: str | None = None,
        fields: Mapping[str, str] | None = None,
        identifier_field_name: str | None = None,
        parent_id: int | str | None = None,
        update_rule: str | None = None,
        sync_actions: list[dict[str, Any]] | None = None,
        is_sync_triggered_on_import: bool = False,
        data_retention_duration: str | None = None,
        auto_delete_duration: str | None = None,
        definition_extra: Mapping[str, Any] | None = None,
        reuse_existing: bool = False,
        check_entity: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if check_entity:
            check_entity_choice(entity, parent_id, self._kind)
        self.entity = entity
        self.name = name
        self.fields = fields
        self.identifier_field_name = identifier_field_name
        self.parent_id = parent_id
        self.update_rule = update_rule
        self.sync_actions = sync_actions
        self.is_sync_triggered_on_import = is_sync_triggered_on_import
        self.data_retention_duration = data_retention_duration
        self.auto_delete_duration = auto_delete_duration
        self.definition_extra = definition_extra
        self.reuse_existing = reuse_existing

    def _definition_arguments(self) -> dict[str, Any]:
        """The definition's arguments but its fields and identifier."""
        return {
            "kind": self._kind,
            "entity": self.entity,
            "name": self.name,
            "parent_id": self.parent_id,
            "update_rule": self.update_rule,
            "sync_actions": self.sync_actions,
            "is_sync_triggered_on_import": self.is_sync_triggered_on_import,
            "data_retention_duration": self.data_retention_duration,
            "auto_delete_duration": self.auto_delete_duration,
            "definition_extra": self.definition_extra,
        }

    def definition_spec(self, mapping: FieldMapping | None = None) -> DefinitionSpec:
        """The definition, validated; raises EloquaInputError naming the bad argument.

        :param mapping: the input's columns mapped to the site's fields, when ``fields`` was left out.
        """
        fields, identifier = (
            (mapping.fields, mapping.identifier) if mapping else (self.fields, self.identifier_field_name)
        )
        if self.name is None or fields is None or identifier is None:
            raise EloquaInputError("name, fields and identifier_field_name are needed to create the definition")
        return DefinitionSpec(fields=fields, identifier_field_name=identifier, **self._definition_arguments())

    def mapped_definition(self) -> MappedDefinition:
        """The definition whose fields are the input's columns mapped to the site's fields."""
        arguments = {**self._definition_arguments(), "identifier_field_name": self.identifier_field_name}
        return MappedDefinition(
            self.entity, self.parent_id, self.identifier_field_name, self.definition_spec, mapped_origin(arguments)
        )

    def execute(self, context: Context) -> Any:
        uri = ensure_definition(
            self.hook,
            Checkpoint.of(context),
            self.definition_spec(),
            reuse_existing=self.reuse_existing,
            retry=is_retry(context),
        )
        TaskLinks(context, self.hook).definition(uri.uri)
        return uri.uri


class EloquaCreateImportOperator(_DefinitionOperator):
    """Create (or reuse) an import definition; return its URI (e.g. ``/contacts/imports/30``).

    Everything Eloqua would refuse is checked first, naming the argument; a retry returns the definition an
    earlier try created. Its other arguments are documented on :class:`_DefinitionOperator` and
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`; see the README's "Operators, sensor, trigger".

    :param columns: instead of ``fields``, column names mapped to the site's fields (templated; see the README).
    """

    template_fields: Sequence[str] = (*_DEFINITION_TEMPLATE_FIELDS, "columns")
    ui_color = "#f4d9c6"

    def __init__(
        self,
        *,
        entity: str,
        name: str,
        fields: Mapping[str, str] | None = None,
        columns: Sequence[str] | None = None,
        identifier_field_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(entity=entity, name=name, fields=fields, identifier_field_name=identifier_field_name, **kwargs)
        if (fields is None) == (columns is None):
            raise EloquaInputError("give exactly one of fields (column -> statement) or columns (mapped to the site's)")
        if fields is not None and identifier_field_name is None:
            raise EloquaInputError("identifier_field_name is needed with fields (one of its columns)")
        self.columns = columns

    def definition_spec(self, mapping: FieldMapping | None = None) -> DefinitionSpec:
        if mapping is None and self.columns is not None:
            if isinstance(self.columns, str) or not isinstance(self.columns, Sequence):
                raise EloquaInputError(f"columns must be a list of column names; got {self.columns!r}")
            mapping = fetch_field_mapping(
                self.hook, self.entity, self.parent_id, list(self.columns), self.identifier_field_name
            )
        return super().definition_spec(mapping)


class EloquaCreateSyncActionOperator(_DefinitionOperator):
    """Create (or reuse) a sync-action definition (e.g. ``/contacts/syncActions/5``); return its URI.

    Its ``fields`` is the one column that identifies the records, ``sync_actions`` holds 1 to 10 actions and
    ``update_rule`` is refused; its arguments are documented on :class:`_DefinitionOperator` and
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`. The identifiers Oracle allows:
    docs/eloqua-behaviour.md, "Sync-action identifiers".
    """

    template_fields: Sequence[str] = _DEFINITION_TEMPLATE_FIELDS
    ui_color = "#f4d9c6"
    _kind = SYNC_ACTIONS

    def __init__(
        self,
        *,
        name: str,
        fields: Mapping[str, str],
        identifier_field_name: str,
        sync_actions: list[dict[str, Any]],
        entity: str = "contacts",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            entity=entity,
            name=name,
            fields=fields,
            identifier_field_name=identifier_field_name,
            sync_actions=sync_actions,
            **kwargs,
        )


class _LoadOperator(_EloquaOperator):
    """The upload arguments of :class:`EloquaUploadDataOperator` and :class:`EloquaImportOperator`, kept as given
    until ``execute`` (templates render first), and the load they describe. How the input is read, cut into chunks
    and loaded in batches: README, "Operators, sensor, trigger".

    :param definition_uri: a definition to copy (templated): a template, never staged into.
    :param data: a list of row dicts, e.g. an upstream task's XCom (templated; shown as its row count and columns).
    :param path: instead of ``data``, a local path or ObjectStoragePath URL of a CSV, JSON or NDJSON file (templated).
    :param format: ``csv``, ``json`` or ``ndjson`` (templated; None: from the extension).
    :param chunk_bytes: the most bytes per data POST (Eloqua refuses more than 32 MB).
    :param max_bytes_per_sync: the most bytes staged for one sync (Oracle's 250 MB); more goes in batches.
    :param callback_url: passed to Eloqua with each sync (``callbackUrl``, templated).
    :param poll_interval: seconds between looks at a sync.
    :param timeout: the most seconds to wait for each sync, and then to list its logs and rejects.
    :param auto_delete_duration: the load definition's ``autoDeleteDuration`` (at least ``PT1H``).
    """

    definition_uri: str | None

    @property
    def data(self) -> Sequence[Mapping[str, Any]] | None:
        """The rows to upload: kept as :class:`DataRows`, which Airflow stores and shows as a summary."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        # Set at __init__, and again by Airflow once the template (e.g. an XComArg) has rendered.
        self._data = DataRows.of(value)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider: the file in, the Eloqua entity out."""
        from airflow_provider_eloqua.openlineage import import_lineage

        return import_lineage(self)

    def __init__(
        self,
        *,
        definition_uri: str | None = None,
        data: Sequence[Mapping[str, Any]] | None = None,
        path: str | None = None,
        format: str | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_bytes_per_sync: int = MAX_STAGED_BYTES_PER_SYNC,
        callback_url: str | None = None,
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        auto_delete_duration: str = DEFAULT_LOAD_AUTO_DELETE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.definition_uri = definition_uri
        self.data = data
        self.path = path
        self.format = format
        self.upload_spec = UploadSpec(chunk_bytes=chunk_bytes, max_bytes_per_sync=max_bytes_per_sync)
        self.callback_url = callback_url
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.load_auto_delete_duration = check_auto_delete(auto_delete_duration)

    #: This task pushes the XCom ``staged_input``: a sensor whose ``sync_uri`` is this task's reads it.
    pushes_staged_input = True

    def input_spec(self) -> InputSpec:
        """What to upload, validated once the templates have rendered."""
        return InputSpec(data=self.data, path=self.path, format=self.format)

    def _load(
        self, context: Context, checkpoint: Checkpoint, spec: DefinitionSpec | MappedDefinition | None = None
    ) -> Load:
        """The load: into a definition made from ``spec`` (its fields mapped from the input's columns for a
        :class:`MappedDefinition`), or else a private copy of ``definition_uri``."""
        hook, key, source = self.hook, task_key(context), self.input_spec()
        if isinstance(spec, MappedDefinition):
            mapped = spec

            def blueprint() -> Blueprint:
                return from_mapping(lambda: mapped.spec_for(hook, source), mapped.origin, key)

        elif spec is not None:
            made_from = spec

            def blueprint() -> Blueprint:
                check_source_columns(source, made_from.fields, made_from.identifier_field_name)
                return from_spec(made_from, key)

        else:
            template = template_uri(self.definition_uri or "")

            def blueprint() -> Blueprint:
                return from_template(hook, template, key, self.load_auto_delete_duration)

        return Load(
            hook,
            checkpoint,
            blueprint=blueprint,
            source=source,
            upload=self.upload_spec,
            callback_url=self.callback_url,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            judged_by=self.judged_by(),
            # The task's links: each sync, and the template it was given (once read; else its load definition).
            links=TaskLinks(context, hook, template=self.definition_uri),
        )

    def judged_by(self) -> dict[str, Any] | None:
        """The settings the task judges its load's last sync by (None: it does not judge it)."""
        return None

    def staged_rows(self) -> dict[str, Any] | None:
        """A row source's input as plain JSON, which the sensor opens again to find the rows of the
        sync's rejects (None: the input is data or a file, which ``staged_input`` names itself)."""
        return None


class EloquaUploadDataOperator(_LoadOperator):
    """Stage rows in a private copy of an import or sync-action definition and (by default) sync it; return
    ``{definition_uri, rows, chunks, bytes, syncs, sync_uri, sync_rows}``.

    ``definition_uri`` is a template: the task stages into a copy of its own, the *load definition*, returned
    as ``definition_uri``. It waits, in the worker, only for the syncs of earlier batches; wait for the last
    with :class:`EloquaSyncSensor`. Why and how: README, "Operators, sensor, trigger" and "Nothing lost,
    nothing doubled: the guarantees". Its other arguments are documented on :class:`_LoadOperator` and
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`.

    :param start_sync: start a sync once everything is staged (False: sync the result's ``definition_uri`` later).
    """

    template_fields: Sequence[str] = ("definition_uri", "data", "path", "format", "callback_url")
    ui_color = "#e8d4f4"

    def __init__(self, *, definition_uri: str, start_sync: bool = True, **kwargs: Any) -> None:
        # kwargs: the upload arguments above (kept by _LoadOperator), then BaseOperator's.
        super().__init__(definition_uri=definition_uri, **kwargs)
        self.start_sync = start_sync

    def execute(self, context: Context) -> dict[str, Any]:
        checkpoint = Checkpoint.of(context)
        load = self._load(context, checkpoint)
        result = load.run(start=self.start_sync)
        _push_sync_uri(context, result)
        _push_load_keys(context, load, result, self.staged_rows())
        # Done: a later run of this task instance (a manual clear) must load again, not reattach.
        checkpoint.loaded()
        return result.upload_summary()


class EloquaCreateSyncOperator(_EloquaOperator):
    """Start a sync of a definition whose data is staged; return the sync URI (e.g. ``/syncs/66100``).

    After ``EloquaUploadDataOperator(start_sync=False)``, give it ``upload.output["definition_uri"]``, the load
    definition the rows are staged in, not the template. A retry returns the sync an earlier try started unless
    that sync failed. The connection's arguments are
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`'s.

    :param synced_instance_uri: the definition to sync, e.g. ``/contacts/imports/30`` (templated).
    :param callback_url: passed to Eloqua with the sync (``callbackUrl``, templated).
    """

    template_fields: Sequence[str] = ("synced_instance_uri", "callback_url")

    def __init__(self, *, synced_instance_uri: str, callback_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.synced_instance_uri = synced_instance_uri
        self.callback_url = callback_url

    def execute(self, context: Context) -> str:
        uri = urls.parse_definition_uri(self.synced_instance_uri, "synced_instance_uri")
        checkpoint = SyncCheckpoint.of(context)
        links = TaskLinks(context, self.hook)
        links.definition(uri.uri)
        if reattached := reattach(self.hook, checkpoint):
            sync_uri = reattached[0].sync_uri
        else:
            sync_uri = start_sync(self.hook, checkpoint, uri, self.callback_url)
            checkpoint.started_sync(StartedSync(sync_uri))
        links.sync(sync_uri)
        context["ti"].xcom_push(key="sync_uri", value=sync_uri)
        checkpoint.forget_sync()
        return sync_uri


class EloquaImportOperator(_LoadOperator, _DefinitionOperator):
    """The one-task load: create a load definition, stage the input, sync, wait, check the rows Eloqua
    processed, report, and delete the load definition.

    The load definition is made from the definition arguments (with ``fields`` left out, the input's columns
    mapped to the site's fields) or copied from ``definition_uri``. Returns the upload's keys and the
    sync's report (README, "Reporting"). Why and how: README, "Operators, sensor, trigger" and "Nothing
    lost, nothing doubled: the guarantees". Its other arguments are documented on :class:`_DefinitionOperator`,
    :class:`_LoadOperator`, :class:`~airflow_provider_eloqua.load.report.RejectThreshold` and
    :class:`~airflow_provider_eloqua.operators.base.EloquaBaseOperator`.

    :param wait: wait for the last sync, check and report it (False: return once it has started; wait with the sensor).
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param on_warning: what a ``warning`` load does to the task: ``succeed``, ``fail`` or ``skip``.
    :param rejects_path: where to write the rejected rows, ``.csv``, ``.ndjson`` or ``.json`` (an array), local or object storage (templated).
    :param reuse_existing: deprecated and ignored: every load stages into a definition of its own.
    :param max_rejected_rows: see :class:`~airflow_provider_eloqua.load.report.RejectThreshold`.
    :param max_rejected_ratio: see :class:`~airflow_provider_eloqua.load.report.RejectThreshold`.
    """

    template_fields: Sequence[str] = (
        *_DEFINITION_TEMPLATE_FIELDS,
        "definition_uri",
        "data",
        "path",
        "format",
        "callback_url",
        "rejects_path",
    )
    ui_color = "#d4f4dc"

    def __init__(
        self,
        *,
        definition_uri: str | None = None,
        auto_delete_duration: str = DEFAULT_LOAD_AUTO_DELETE,
        reuse_existing: bool = False,
        wait: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        on_warning: str = "succeed",
        rejects_path: str | None = None,
        max_rejected_rows: int | None = None,
        max_rejected_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        # kwargs: the upload arguments (kept by _LoadOperator), the definition arguments of
        # EloquaCreateImportOperator (kept by _DefinitionOperator), then BaseOperator's.
        super().__init__(
            definition_uri=definition_uri,
            auto_delete_duration=auto_delete_duration,
            check_entity=definition_uri is None,
            is_sync_triggered_on_import=False,
            **kwargs,
        )
        self.auto_delete_duration = auto_delete_duration  # the load definition's, in its spec too
        if definition_uri is None and self.name is None:
            raise EloquaInputError(
                "give definition_uri, or name (with fields and identifier_field_name, or neither: the input's "
                "columns are then mapped to the site's fields) to create the definition"
            )
        if definition_uri is None and self.fields is not None and self.identifier_field_name is None:
            raise EloquaInputError("identifier_field_name is needed with fields (one of its columns)")
        if reuse_existing:
            warnings.warn(
                "EloquaImportOperator(reuse_existing=True) is ignored and deprecated: every load stages into a "
                "definition of its own, so that no other run or task can mix, double or delete its rows",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
        self.wait = wait
        self.pushes_staged_input = not wait  # its load keys are pushed only when it returns at the sync
        self.deferrable = deferrable
        self.on_warning = check_on_warning(on_warning)
        self.rejects_path = rejects_path
        if rejects_path:
            output_format(rejects_path, "rejects_path")
        self.max_rejected_rows = max_rejected_rows
        self.max_rejected_ratio = max_rejected_ratio
        self.reject_threshold = RejectThreshold(max_rejected_rows, max_rejected_ratio)
        # The site is known only from the connection at run time: the Asset is attached there.
        self.outlets = assets.with_alias(self)

    def judged_by(self) -> dict[str, Any]:
        return {
            "on_warning": self.on_warning,
            "max_rejected_rows": self.max_rejected_rows,
            "max_rejected_ratio": self.max_rejected_ratio,
        }

    def _import_load(self, context: Context, checkpoint: Checkpoint) -> Load:
        if self.definition_uri:
            return self._load(context, checkpoint)
        if self.fields is None:
            return self._load(context, checkpoint, self.mapped_definition())
        return self._load(context, checkpoint, self.definition_spec())

    def execute(self, context: Context) -> dict[str, Any]:
        checkpoint = Checkpoint.of(context)
        load = self._import_load(context, checkpoint)
        result = load.run()
        _push_sync_uri(context, result)
        status = result.sync_status or "pending"
        if not result.sync_uri:
            checkpoint.loaded()  # empty input: nothing to wait for
            return {**result.upload_summary(), "status": None}
        if not self.wait:
            # Done, as for the upload operator: the last sync is the caller's to watch, and a later run
            # of this task instance (a manual clear) must load again, not reattach to this sync.
            _push_load_keys(context, load, result, self.staged_rows())
            checkpoint.loaded()
            return {**result.upload_summary(), "status": status}
        deadline = time.time() + self.timeout
        with not_gone(result.sync_uri, result.totals.rows):
            if self.deferrable:
                status = look(self.hook, SyncWatch(result.sync_uri, deadline)) or status  # None: transient
                if status not in TERMINAL_STATUSES:
                    self.defer(
                        trigger=EloquaSyncTrigger.for_hook(
                            self.hook, sync_uri=result.sync_uri, poll_interval=self.poll_interval, end_time=deadline
                        ),
                        method_name="execute_complete",
                    )
            else:
                status = wait_for_sync(self.hook, result.sync_uri, poll_interval=self.poll_interval, deadline=deadline)
        return self._finish(context, checkpoint, result.started(), status)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # What was started is read back from the task state store (defer kwargs are not carried
        # through every runtime, e.g. dag.test()).
        checkpoint = Checkpoint.of(context)
        waited = checkpoint.sync_uri or ""
        with not_gone(waited, checkpoint.load_sync(waited).totals.rows if waited else None):
            sync_uri, status = status_from_event(event)
        return self._finish(context, checkpoint, checkpoint.load_sync(sync_uri), status)

    def _finish(self, context: Context, checkpoint: Checkpoint, started: LoadSync, status: str) -> dict[str, Any]:
        """End the load's last sync (:func:`~airflow_provider_eloqua.sync.ending.end_sync`) with the
        load's report: every batch's counts and rejects, its rows checked."""
        load = self._import_load(context, checkpoint)
        definition_uri = started.totals.definition_uri

        def report() -> SyncReport:
            loaded = report_load(
                self.hook,
                checkpoint,
                load.source,
                started,
                status,
                rejects_path=self.rejects_path,
                sync_actions=None if self.definition_uri else self.sync_actions,
                deadline=time.time() + self.timeout,
            )
            return self.reject_threshold.check(loaded, self.rejects_path)

        def delete_definition() -> None:
            # A retry that loads again creates a new load definition.
            if definition_uri:
                discard_definition(self.hook, definition_uri, "load definition")
            checkpoint.forget_load_definition()

        try:
            summary = end_sync(
                report,
                on_warning=self.on_warning,
                delete_definition=delete_definition,
                checkpoint=checkpoint,
                record_asset=lambda summary: assets.record_load(
                    context,
                    self,
                    site=self.hook.settings.site,
                    definition_uri=definition_uri,
                    summary=summary,
                ),
            )
        except EloquaOutcomeRefused:
            # Not retried; the try after a Clear judges the sync again, or loads again (see Load).
            checkpoint.refused_outcome(started.sync_uri, self.judged_by())
            raise
        return {**LoadResult(started.totals, started.sync_uri, started.batch).upload_summary(), **summary}
