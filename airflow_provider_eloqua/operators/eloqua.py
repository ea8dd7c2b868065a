"""Operators that create Eloqua import definitions, stage data, start syncs, and do it all in one task.

Every load stages into a definition of its own, its *load definition* (see
:mod:`airflow_provider_eloqua.load_definition`): a definition the user gives is a template that is
copied, never staged into, so no other run or task can mix, double or delete this load's rows.

Retries never double anything. Each operator keeps what it created in Airflow's task state store
(``context["task_state_store"]``, which outlives a try, unlike XCom): a retried task reuses the
load definition it created, reattaches to a sync that is still running or already succeeded instead
of starting a second one, and clears the load definition's staging area before uploading again.
After every sync the rows Eloqua processed are checked against the rows staged for it.

An input bigger than one sync may take (Oracle: about 250 MB and 500 uploads) is loaded in batches,
one sync each (see :mod:`airflow_provider_eloqua.staging`). The syncs of all but the last batch are
waited for in the worker; the batches whose syncs ended are noted in the task state store, so a
retry resumes at the first unfinished batch instead of loading earlier ones again.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import pendulum
from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.sdk import BaseOperator, Context
from airflow.sdk.configuration import conf

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.chunking import (
    DEFAULT_CHUNK_BYTES,
    Chunk,
    infer_format,
    iter_file_chunks,
    iter_file_rows,
    iter_json_chunks,
)
from airflow_provider_eloqua.chunking.columns import blank_creates_records
from airflow_provider_eloqua.definitions import same_definition
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError, EloquaInputError, EloquaSyncError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.spec import IMPORTS, SYNC_ACTIONS, DefinitionSpec, InputSpec, UploadSpec
from airflow_provider_eloqua.load_definition import (
    DEFAULT_LOAD_AUTO_DELETE,
    LoadDefinition,
    check_auto_delete,
    copy_body,
    delete_load_definition,
    ensure_load_definition,
    forget_load_definition,
    load_key,
    load_name,
)
from airflow_provider_eloqua.retry import may_have_taken_effect
from airflow_provider_eloqua.staging import MAX_STAGED_BYTES_PER_SYNC, stage_input
from airflow_provider_eloqua.storage import check_input_path, open_path, output_format
from airflow_provider_eloqua.sync_report import (
    RowLocator,
    build_report,
    check_on_warning,
    check_rows_processed,
    finish_sync,
)
from airflow_provider_eloqua.syncs import (
    DEFAULT_WAIT_TIMEOUT,
    FAILED_STATUSES,
    TERMINAL_STATUSES,
    SyncWatch,
    look,
    status_from_event,
    sync_status,
    wait_for_sync,
)
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger

STATE_DEFINITION = "eloqua_definition_uri"
STATE_SYNC = "eloqua_sync_uri"
STATE_UPLOAD = "eloqua_upload"
STATE_SYNC_REQUESTED = "eloqua_sync_requested"
#: Progress of a load in batches: the batches whose syncs ended, and their reports.
STATE_BATCHES = "eloqua_batches"


def _state(context: Context) -> Any:
    """The task state store (Airflow 3.3+), or None where the runtime has none."""
    return context.get("task_state_store")


def _check_entity(entity: str, parent_id: Any, kind: str) -> None:
    """Fail at DAG parse time for an entity that can never work (parent ids are checked after templating)."""
    allowed = urls.IMPORT_ENTITIES if kind == "imports" else urls.SYNC_ACTION_ENTITIES
    if entity not in allowed:
        raise EloquaInputError(f"entity must be one of {', '.join(allowed)}; got {entity!r}")
    if entity in urls.PARENTED_ENTITIES and parent_id is None:
        raise EloquaInputError(f"parent_id is required for entity {entity!r} (the custom object or event id)")


def find_or_create_definition(hook: EloquaHook, context: Context, spec: DefinitionSpec, reuse_existing: bool) -> str:
    """Return the URI of a definition matching ``spec``: the one this task made on an earlier try,
    an existing one of the same name and properties when ``reuse_existing``, or a new one."""
    body = spec.body()
    state = _state(context)
    previous = state.get(STATE_DEFINITION) if state else None
    if previous:
        try:
            if same_definition(hook.get_definition(previous), body):
                hook.log.info("Reusing %s, created by an earlier try of this task", previous)
                return previous
        except EloquaApiError as exc:
            if exc.status != 404:
                raise
    if reuse_existing:
        for existing in hook.list_definitions(spec.entity, spec.parent_id, spec.kind, name=spec.name):
            if same_definition(existing, body):
                hook.log.info("Reusing existing definition %s (%s)", existing["uri"], existing["name"])
                return existing["uri"]
    created = hook.create_definition(spec.entity, body, spec.parent_id, spec.kind)
    uri = created["uri"]
    if state:
        state.set(STATE_DEFINITION, uri)
    hook.log.info("Created %s definition %s (%s)", spec.kind, uri, spec.name)
    return uri


class _EloquaOperator(BaseOperator):
    """Holds the connection id and builds the hook lazily (never at DAG parse time)."""

    def __init__(self, *, eloqua_conn_id: str = EloquaHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eloqua_conn_id = eloqua_conn_id

    @cached_property
    def hook(self) -> EloquaHook:
        return EloquaHook(self.eloqua_conn_id)


#: ``fields``, ``sync_actions`` and ``definition_extra`` are deliberately not templated: Eloqua's markup
#: (``{{Contact.Field(C_EmailAddress)}}``) is Jinja syntax too, and rendering it would destroy it.
_DEFINITION_TEMPLATE_FIELDS = ("name", "identifier_field_name", "parent_id")


class _DefinitionOperator(_EloquaOperator):
    """Keeps the definition arguments as given until ``execute`` (templates render first), then
    describes the definition once, as a validated :class:`DefinitionSpec`.

    ``_kind`` says which definition the operator makes: an import or a sync action.
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
            _check_entity(entity, parent_id, self._kind)
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

    def definition_spec(self) -> DefinitionSpec:
        """The definition, validated; raises EloquaInputError naming the bad argument."""
        if self.name is None or self.fields is None or self.identifier_field_name is None:
            raise EloquaInputError("name, fields and identifier_field_name are needed to create the definition")
        return DefinitionSpec(
            kind=self._kind,
            entity=self.entity,
            name=self.name,
            fields=self.fields,
            identifier_field_name=self.identifier_field_name,
            parent_id=self.parent_id,
            update_rule=self.update_rule,
            sync_actions=self.sync_actions,
            is_sync_triggered_on_import=self.is_sync_triggered_on_import,
            data_retention_duration=self.data_retention_duration,
            auto_delete_duration=self.auto_delete_duration,
            definition_extra=self.definition_extra,
        )

    def ensure_definition(self, hook: EloquaHook, context: Context) -> str:
        return find_or_create_definition(hook, context, self.definition_spec(), self.reuse_existing)


class EloquaCreateImportOperator(_DefinitionOperator):
    """Create (or reuse) an import definition; return its URI (e.g. ``/contacts/imports/30``).

    Everything Eloqua would reject is checked first, naming the argument: the entity and its
    parent id (``customObjects`` and ``events`` need one), the identifier among the fields, at most
    100 fields, every field a ``{{...}}`` statement, the update rule, the durations and at most 10
    sync actions. With ``reuse_existing`` a definition of the same name, fields and identifier is
    used instead of creating another.

    :param entity: ``contacts``, ``accounts``, ``customObjects``, ``events``, ``activities``, ...
    :param name: the definition's name, at most 100 characters (templated).
    :param fields: column name -> Eloqua statement, e.g. ``{"Email": "{{Contact.Field(C_EmailAddress)}}"}``
        (not templated: Eloqua's markup is Jinja syntax too).
    :param identifier_field_name: the column that identifies records, one of ``fields`` (templated).
    :param parent_id: the custom object or event id, for ``customObjects`` and ``events`` (templated).
    :param update_rule: ``always`` (default), ``ifNewIsNotNull``, ``ifExistingIsNull`` or ``useFieldRule``.
    :param sync_actions: up to 10 actions run after the import, e.g.
        ``{"action": "add", "destination": "{{ContactList[123]}}"}``.
    :param is_sync_triggered_on_import: let Eloqua start a sync on every data POST (the provider's
        uploads refuse such a definition: a failed upload could not be undone).
    :param data_retention_duration: how long Eloqua keeps staged data, ``PT1H`` to ``P14D``.
    :param auto_delete_duration: delete the definition this long after its last use (at least ``PT1H``).
    :param definition_extra: other documented definition properties, e.g.
        ``{"isUpdatingMultipleMatchedRecords": True}``.
    :param reuse_existing: reuse a definition of the same name and properties instead of creating one.
    :param eloqua_conn_id: the Airflow connection to Eloqua.
    """

    template_fields: Sequence[str] = _DEFINITION_TEMPLATE_FIELDS
    ui_color = "#f4d9c6"

    def __init__(
        self, *, entity: str, name: str, fields: Mapping[str, str], identifier_field_name: str, **kwargs: Any
    ) -> None:
        super().__init__(entity=entity, name=name, fields=fields, identifier_field_name=identifier_field_name, **kwargs)

    def execute(self, context: Context) -> str:
        return self.ensure_definition(self.hook, context)


class EloquaCreateSyncActionOperator(_DefinitionOperator):
    """Create (or reuse) a sync-action definition (``/contacts/syncActions``); return its URI.

    A sync-action definition has exactly one field, which identifies the records (for contacts
    ``{{Contact.Id}}``, ``{{Contact.Field(C_EmailAddress)}}`` or ``{{Contact.Field(ContactIDExt)}}``),
    and 1 to 10 actions such as ``{"action": "add", "destination": "{{ContactList[123]}}"}``.
    The other arguments are those of :class:`EloquaCreateImportOperator` (but ``update_rule``).

    :param name: the definition's name, at most 100 characters (templated).
    :param fields: the one column, e.g. ``{"Email": "{{Contact.Field(C_EmailAddress)}}"}``.
    :param identifier_field_name: that column's name (templated).
    :param sync_actions: 1 to 10 actions.
    :param entity: ``contacts`` (default), ``accounts`` or ``customObjects``.
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

    def execute(self, context: Context) -> str:
        return self.ensure_definition(self.hook, context)


def _forget_sync(state: Any) -> None:
    """Drop what this task remembered of its sync (it failed, or the task succeeded with it)."""
    if state:
        for key in (STATE_SYNC, STATE_UPLOAD, STATE_SYNC_REQUESTED):
            state.delete(key)


def _forget_load(context: Context) -> None:
    """Drop everything this task remembered of its load: it is done, a later run loads again."""
    state = _state(context)
    _forget_sync(state)
    if state:
        state.delete(STATE_BATCHES)
    forget_load_definition(context)


def _load_progress(state: Any, source: str) -> dict[str, Any]:
    """Which batches an earlier try loaded: ``next`` batch index, their totals, and ``done`` (one
    summary per batch whose sync ended, with its ``sync_uri`` and ``first_row``). ``source`` names
    what the load is made from (template URI or spec): progress of another source does not count."""
    progress = state.get(STATE_BATCHES) if state else None
    if progress and progress.get("source") == source:
        return dict(progress)
    return {"source": source, "next": 0, "rows": 0, "chunks": 0, "bytes": 0, "done": []}


def _find_lost_sync(hook: EloquaHook, requested: Mapping[str, Any]) -> str | None:
    """The sync an earlier try asked for but never heard back about, if Eloqua created it.

    Only syncs of that definition created since the request (less a margin for clock skew between
    the worker and Eloqua) count; the newest is the one.
    """
    cutoff = datetime.fromisoformat(requested["at"]) - timedelta(minutes=10)
    try:
        syncs = hook.find_syncs(requested["definition_uri"], since=cutoff)
        return syncs[0].get("uri") if syncs else None
    except EloquaApiError as exc:
        raise EloquaError(
            f"An earlier try asked Eloqua to sync {requested['definition_uri']} but its answer was lost, and "
            f"the syncs could not be listed to find out whether it started ({exc}). Loading again could "
            "load the rows twice, so this try stops; check the definition's syncs in Eloqua."
        ) from exc


def _reattach(hook: EloquaHook, context: Context) -> dict[str, Any] | None:
    """On a retry: the sync an earlier try started, unless it failed (then the data is loaded again).

    The sync URI is pushed to XCom again: Airflow clears a task's XComs at the start of each try.
    """
    state = _state(context)
    if not state:
        return None
    sync_uri = state.get(STATE_SYNC)
    requested = state.get(STATE_SYNC_REQUESTED)
    if not sync_uri and requested:
        sync_uri = _find_lost_sync(hook, requested)
        state.delete(STATE_SYNC_REQUESTED)
        if sync_uri:
            hook.log.info("Found sync %s, whose creation answer an earlier try lost", sync_uri)
    if not sync_uri:
        return None
    status = sync_status(hook.get_sync(sync_uri), sync_uri)
    if status in FAILED_STATUSES:
        hook.log.warning("The earlier try's sync %s ended %r; loading the data again", sync_uri, status)
        _forget_sync(state)
        return None
    hook.log.info("Reattaching to sync %s (%s) started by an earlier try; nothing is uploaded again", sync_uri, status)
    upload = dict(state.get(STATE_UPLOAD) or {})
    _remember_sync(context, sync_uri, upload, push=(upload.get("batch") or {}).get("last", True))
    return {**upload, "sync_uri": sync_uri, "sync_status": status}


def _start_sync(hook: EloquaHook, context: Context, definition_uri: str, callback_url: str | None) -> str:
    """POST /syncs, noting the request first so that a retry can find a sync whose answer was lost."""
    state = _state(context)
    if state:
        state.set(STATE_SYNC_REQUESTED, {"definition_uri": definition_uri, "at": pendulum.now("UTC").isoformat()})
    try:
        sync_uri = hook.create_sync(definition_uri, callback_url)["uri"]
    except EloquaError as exc:
        if state and not may_have_taken_effect(exc):
            state.delete(STATE_SYNC_REQUESTED)  # certainly not created: nothing to look for
        raise
    return sync_uri


def _remember_sync(context: Context, sync_uri: str, upload: dict[str, Any], *, push: bool = True) -> None:
    """Note the sync in the task state store; ``push`` its URI to XCom unless an earlier batch's
    (only the last batch's sync is the one downstream tasks wait for)."""
    state = _state(context)
    if state:
        state.set(STATE_UPLOAD, upload)
        state.set(STATE_SYNC, sync_uri)
        state.delete(STATE_SYNC_REQUESTED)
    if push:
        context["ti"].xcom_push(key="sync_uri", value=sync_uri)


def _push_load_keys(context: Context, result: Mapping[str, Any]) -> None:
    """Push ``definition_uri`` and ``sync_rows`` as XCom keys of their own, so that downstream tasks
    can template ``upload.output["definition_uri"]`` (for EloquaCreateSyncOperator) and
    ``upload.output["sync_rows"]`` (for the sensor's ``expected_rows``), as they do ``sync_uri``."""
    for key in ("definition_uri", "sync_rows"):
        context["ti"].xcom_push(key=key, value=result.get(key))


class _UploadArgs:
    """Upload arguments and the upload itself, shared by the upload and one-task import operators."""

    def _set_upload_args(
        self,
        *,
        data: Sequence[Mapping[str, Any]] | None,
        path: str | None,
        format: str | None,
        chunk_bytes: int,
        callback_url: str | None,
        max_bytes_per_sync: int,
        poll_interval: float,
        timeout: float,
        auto_delete_duration: str,
    ) -> None:
        self.load_auto_delete_duration = check_auto_delete(auto_delete_duration)
        self.data = data
        self.path = path
        self.format = format
        self.upload_spec = UploadSpec(chunk_bytes=chunk_bytes, max_bytes_per_sync=max_bytes_per_sync)
        self.callback_url = callback_url
        self.poll_interval = poll_interval
        self.timeout = timeout

    def input_spec(self) -> InputSpec:
        """What to upload, validated once the templates have rendered (a file must exist: checked
        here, before anything is created in Eloqua, so that a wrong path leaves nothing behind)."""
        spec = InputSpec(data=self.data, path=self.path, format=self.format)
        if spec.path is not None:
            check_input_path(spec.path)
        return spec

    def _chunk_factory(
        self, source: InputSpec, fields: Sequence[str], identifier: str, blank_identifiers: bool = False
    ) -> Callable[[], Iterator[Chunk]]:
        chunk_bytes = self.upload_spec.chunk_bytes
        blank = {"blank_identifiers": blank_identifiers}
        if source.data is not None:
            rows = source.data
            return lambda: iter_json_chunks(rows, fields, identifier, chunk_bytes, **blank)

        def from_file() -> Iterator[Chunk]:
            with open_path(source.path, "rb") as stream:
                yield from iter_file_chunks(stream, source.format, fields, identifier, chunk_bytes, **blank)

        return from_file

    def _row_locator(self, sync_uri: str, offset: int = 0) -> RowLocator | None:
        """Map a reject of ``sync_uri`` (whose batch starts after input row ``offset``) to its input row."""
        return None

    def _load_source(self) -> str:
        """What this load's definition is made from (a template URI, or a spec); see ``_ensure_load``."""
        raise NotImplementedError

    def _ensure_load(self, hook: EloquaHook, context: Context) -> LoadDefinition:
        """This load's own definition, created (or found again on a retry) before the first POST."""
        raise NotImplementedError

    def _copy_template(self, hook: EloquaHook, context: Context, template_uri: str) -> LoadDefinition:
        """The load definition copied from ``template_uri``, which is read only when a copy is made."""
        template = urls.parse_definition_uri(template_uri)

        def make_body() -> dict[str, Any]:
            body = hook.get_definition(template.uri)
            if body.get("isSyncTriggeredOnImport"):
                raise EloquaInputError(
                    f"{template.uri} has isSyncTriggeredOnImport=true, so Eloqua would start a sync for every "
                    "chunk and a failed upload could not be undone; use a definition with "
                    "is_sync_triggered_on_import=False"
                )
            hook.log.info("Copying %s (%s) into a load definition of this load's own", template.uri, body.get("name"))
            return copy_body(body, load_key(context), self.load_auto_delete_duration)

        return ensure_load_definition(
            hook,
            context,
            source=template.uri,
            entity=template.entity,
            parent_id=template.parent_id,
            kind=template.kind,
            make_body=make_body,
        )

    def _upload(self, hook: EloquaHook, context: Context, start_sync: bool) -> dict[str, Any]:
        """Stage the input (all or nothing per batch) into this load's own definition and start a
        sync per batch, waiting for (and checking) every sync but the last; on a retry reattach,
        resume at the first unfinished batch, or clear the load definition's staging.

        Returns the load definition's ``definition_uri``, the totals over all batches, ``syncs``, the
        last batch's ``sync_uri`` and ``sync_rows`` (the rows staged for it; ``sync_status`` too when
        reattached), and ``batch``: where the last batch sits in the input.
        """
        state = _state(context)
        source = self._load_source()
        progress = _load_progress(state, source)
        reattached = _reattach(hook, context) if start_sync else None
        if reattached and reattached["sync_uri"] in {done["sync_uri"] for done in progress["done"]}:
            _forget_sync(state)  # the earlier try ended this batch but died before forgetting its sync
            reattached = None
        if reattached and (reattached.get("batch") or {}).get("last", True):
            return {**reattached, "sync_rows": (reattached.get("batch") or {}).get("rows")}
        source_input = self.input_spec()
        load = self._ensure_load(hook, context)
        fields = list(load.body.get("fields") or {})
        identifier = str(load.body["identifierFieldName"])
        blank_ok = blank_creates_records((load.body.get("fields") or {}).get(identifier))
        make_chunks = self._chunk_factory(source_input, fields, identifier, blank_ok)
        if reattached:
            hook.log.info("Resuming at batch %d: waiting for its sync first", reattached["batch"]["index"] + 1)
            self._end_batch(hook, context, progress, reattached["sync_uri"], reattached["batch"])
        elif load.reused:
            # Nobody else stages there: whatever an earlier try left staged is this load's own.
            hook.log.info("Retry: clearing %s's staging area before uploading again", load.uri)
            hook.clear_staged_data(load.uri)
        parsed = urls.parse_definition_uri(load.uri)
        cut = self.upload_spec.cut
        if progress["next"] and progress.setdefault("cut", cut) != cut:
            raise EloquaInputError(
                f"an earlier try loaded batches 1-{progress['next']} cut with chunk_bytes and max_bytes_per_sync "
                f"{progress['cut']}, now {cut}: the batches would not line up, so rows could be lost or doubled. "
                "Restore the earlier values, or clear the task's state to load everything again"
            )
        progress["cut"] = cut
        if progress["next"]:
            hook.log.info(
                "Batches 1-%d are loaded (syncs %s), so they are skipped; resuming at batch %d",
                progress["next"],
                ", ".join(done["sync_uri"] for done in progress["done"]),
                progress["next"] + 1,
            )
        while True:
            index = progress["next"]
            staged = stage_input(
                hook, parsed.uri, make_chunks, batch=index, max_bytes=self.upload_spec.max_bytes_per_sync
            )
            if staged.more and not start_sync:
                hook.clear_staged_data(parsed.uri)
                raise EloquaInputError(
                    f"the input is bigger than one sync takes ({self.upload_spec.max_bytes_per_sync} bytes or 500 uploads); "
                    "with start_sync=False it cannot be loaded in batches: set start_sync=True, or split the input"
                )
            batch = {
                "index": index,
                "first_row": staged.first_row,
                "rows": staged.rows,
                "chunks": staged.chunks,
                "bytes": staged.bytes,
                "last": not staged.more,
            }
            upload = {
                "definition_uri": parsed.uri,
                "rows": progress["rows"] + staged.rows,
                "chunks": progress["chunks"] + staged.chunks,
                "bytes": progress["bytes"] + staged.bytes,
                "syncs": len(progress["done"]),
            }
            if staged.rows == 0 and index:
                raise EloquaInputError(
                    f"the input ended before batch {index + 1}, which an earlier try of this task found: the input "
                    "changed between tries, so the batches already loaded cannot be matched to it"
                )
            if staged.rows == 0 or not start_sync:
                if staged.rows == 0:
                    hook.log.warning("The input has no rows: nothing was staged and no sync was started")
                # A downstream ``upload.output["sync_uri"]`` must resolve rather than fail on a missing
                # XCom (Airflow treats a None XCom as missing), so "" is pushed; the sensor skips on it.
                context["ti"].xcom_push(key="sync_uri", value="")
                return {**upload, "sync_uri": None, "sync_rows": staged.rows, "batch": batch}
            sync_uri = _start_sync(hook, context, parsed.uri, self.callback_url)
            upload["syncs"] += 1
            _remember_sync(context, sync_uri, {**upload, "batch": batch}, push=batch["last"])
            if batch["last"]:
                hook.log.info("Started sync %s over %d staged row(s)", sync_uri, staged.rows)
                return {**upload, "sync_uri": sync_uri, "sync_rows": staged.rows, "batch": batch}
            hook.log.info(
                "Started sync %s for batch %d (input rows %d-%d); the input goes on past what one sync takes, "
                "so the next batch is staged once this sync has ended",
                sync_uri,
                index + 1,
                staged.first_row,
                staged.first_row + staged.rows - 1,
            )
            self._end_batch(hook, context, progress, sync_uri, batch)

    def _end_batch(
        self, hook: EloquaHook, context: Context, progress: dict[str, Any], sync_uri: str, batch: dict[str, Any]
    ) -> None:
        """Wait for an earlier batch's sync, report it, and note the batch done (or fail on ``error``).

        Its rejects are logged here; the rejects file, if any, is written once the whole load ends.
        """
        status = wait_for_sync(hook, sync_uri, poll_interval=self.poll_interval, deadline=time.time() + self.timeout)
        report = build_report(hook, sync_uri, status, locate_row=self._row_locator(sync_uri, batch["first_row"] - 1))
        state = _state(context)
        rows = f"input rows {batch['first_row']}-{batch['first_row'] + batch['rows'] - 1}"
        if status in FAILED_STATUSES:
            _forget_sync(state)  # a retry stages this batch again
            reasons = "; ".join(report.errors[:5])
            raise EloquaSyncError(
                f"Eloqua sync {sync_uri} of batch {batch['index'] + 1} ({rows}) ended with status {status!r}"
                + (f" ({reasons})" if reasons else "")
                + f": {report.rejected} rejected, see the sync log above. "
                + (f"Batches 1-{batch['index']} were loaded; " if batch["index"] else "")
                + "a retry of this task resumes at this batch"
            )
        check_rows_processed(report, batch["rows"])  # a retry reattaches to this sync and fails the same way
        hook.log.info("Batch %d (%s) loaded by sync %s (%s)", batch["index"] + 1, rows, sync_uri, status)
        progress["done"] = [
            *progress["done"],
            {**report.summary(), "first_row": batch["first_row"], "batch_rows": batch["rows"]},
        ]
        progress["next"] = batch["index"] + 1
        for name in ("rows", "chunks", "bytes"):
            progress[name] += batch[name]
        if state:
            state.set(STATE_BATCHES, progress)  # before forgetting the sync: a crash between is detected
        _forget_sync(state)


class EloquaUploadDataOperator(_UploadArgs, _EloquaOperator):
    """Stage rows in a private copy of an import or sync-action definition and (by default) sync it.

    ``definition_uri`` is a template, never staged into, so it may be shared (by runs of one DAG,
    backfills, other DAGs): the task reads it once and creates a copy of its own, the *load
    definition* (same fields, identifier, update rule, sync actions and every other property; its
    name plus ``[airflow-load <key>]``; ``auto_delete_duration``), stages there and syncs that. The
    result's ``definition_uri`` is the copy: with ``start_sync=False`` give it to
    :class:`EloquaCreateSyncOperator`, and pass ``sync_rows`` to the sensor's ``expected_rows``.
    :class:`EloquaSyncSensor` deletes the copy once the sync has ended; otherwise Eloqua does when
    ``auto_delete_duration`` has passed.

    :param definition_uri: the template, e.g. ``/contacts/imports/30`` (templated; typically the
        create task's XCom).
    :param data: a list of row dicts, e.g. an upstream task's XCom (templated).
    :param path: a local path or ObjectStoragePath URL (``file://``, ``s3://``, ...) of a CSV, JSON
        array or NDJSON file (templated). Exactly one of ``data`` and ``path``.
    :param format: ``csv``, ``json`` or ``ndjson``; inferred from the extension when not given.
    :param chunk_bytes: the most bytes per POST (Eloqua refuses more than 32 MB per POST).
    :param start_sync: start a sync once everything is staged.
    :param max_bytes_per_sync: the most bytes staged for one sync (Oracle's figure by default); a
        bigger input, or one of more than 500 chunks, is loaded in batches, one sync each.
    :param poll_interval: seconds between checks of an earlier batch's sync, waited for in the worker.
    :param timeout: the most seconds to wait for each earlier batch's sync.
    :param callback_url: passed to Eloqua with each sync (``callbackUrl``).
    :param auto_delete_duration: the load definition's ``autoDeleteDuration`` (ISO-8601, at least
        ``PT1H``): long enough to outlive the load, its retries and the wait for its last sync.

    The input is streamed in chunks, never held whole. The header (or the rows' keys) is checked
    against the definition's fields before the first POST. Returns
    ``{definition_uri, rows, chunks, bytes, syncs, sync_uri, sync_rows}``: the load definition, the
    totals over all batches, how many syncs were started, and the last batch's sync, which is the
    one left to wait for, with the rows staged for it (the earlier syncs ended, and were checked,
    before the next batch was staged; their reports are in this task's log).
    ``sync_uri`` is None when no sync was started. Empty input is not an error: nothing is staged,
    no sync is started, and the task logs a warning and returns ``rows=0``; its ``sync_uri`` XCom
    is then ``""``, on which :class:`EloquaSyncSensor` skips.
    """

    template_fields: Sequence[str] = ("definition_uri", "data", "path", "format", "callback_url")
    ui_color = "#e8d4f4"

    def __init__(
        self,
        *,
        definition_uri: str,
        data: Sequence[Mapping[str, Any]] | None = None,
        path: str | None = None,
        format: str | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        start_sync: bool = True,
        callback_url: str | None = None,
        max_bytes_per_sync: int = MAX_STAGED_BYTES_PER_SYNC,
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        auto_delete_duration: str = DEFAULT_LOAD_AUTO_DELETE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.definition_uri = definition_uri
        self.start_sync = start_sync
        self._set_upload_args(
            data=data,
            path=path,
            format=format,
            chunk_bytes=chunk_bytes,
            callback_url=callback_url,
            max_bytes_per_sync=max_bytes_per_sync,
            poll_interval=poll_interval,
            timeout=timeout,
            auto_delete_duration=auto_delete_duration,
        )

    def _load_source(self) -> str:
        return urls.parse_definition_uri(self.definition_uri).uri

    def _ensure_load(self, hook: EloquaHook, context: Context) -> LoadDefinition:
        return self._copy_template(hook, context, self.definition_uri)

    def execute(self, context: Context) -> dict[str, Any]:
        result = self._upload(self.hook, context, self.start_sync)
        result.pop("sync_status", None)
        result.pop("batch", None)
        if self.start_sync and not result["sync_uri"]:
            # Empty input: no sync will ever use the load definition.
            delete_load_definition(self.hook, result["definition_uri"])
        _push_load_keys(context, result)
        # Done: a later run of this task instance (a manual clear) must load again, not reattach.
        _forget_load(context)
        return result


class EloquaCreateSyncOperator(_EloquaOperator):
    """Start a sync of a definition whose data is staged; return the sync URI (``/syncs/66100``).

    After ``EloquaUploadDataOperator(start_sync=False)``, sync the upload's load definition
    (``upload.output["definition_uri"]``), not the template it was copied from: the rows are staged
    in the copy. On a retry it returns the sync an earlier try started unless that sync failed.

    :param synced_instance_uri: the definition to sync (templated).
    :param callback_url: passed to Eloqua (``callbackUrl``).
    """

    template_fields: Sequence[str] = ("synced_instance_uri", "callback_url")

    def __init__(self, *, synced_instance_uri: str, callback_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.synced_instance_uri = synced_instance_uri
        self.callback_url = callback_url

    def execute(self, context: Context) -> str:
        urls.parse_definition_uri(self.synced_instance_uri)
        if reattached := _reattach(self.hook, context):
            sync_uri = reattached["sync_uri"]
        else:
            sync_uri = _start_sync(self.hook, context, self.synced_instance_uri, self.callback_url)
            _remember_sync(context, sync_uri, {"definition_uri": self.synced_instance_uri})
        _forget_sync(_state(context))
        return sync_uri


class EloquaImportOperator(_UploadArgs, _DefinitionOperator):
    """The one-task path: create a load definition, stage the data, sync, wait, check, report.

    Give either the create-import arguments (``entity``, ``name``, ``fields``,
    ``identifier_field_name``, ...) or ``definition_uri`` of an existing definition, then the upload
    arguments (``data`` or ``path``). Either way the task stages into a definition of its own (the
    *load definition*: created from the arguments, or a private copy of ``definition_uri``, which
    is never staged into), named ``name`` plus ``[airflow-load <key>]`` and carrying
    ``auto_delete_duration``; it deletes it once the last sync has ended and been reported. After
    every sync it checks that Eloqua processed exactly the rows staged for it, and fails naming both
    numbers when not. ``reuse_existing`` is deprecated and ignored: a load never shares its
    definition. With ``wait`` the task waits for the sync, in the worker
    (``poll_interval``) or, with ``deferrable``, in the triggerer; ``timeout`` bounds the wait.
    ``on_warning`` and ``rejects_path`` work as on :class:`EloquaSyncSensor`.

    An input bigger than ``max_bytes_per_sync`` (Oracle's 250 MB by default) or 500 chunks is
    loaded in batches, one sync each; every sync but the last is waited for in the worker (each
    bounded by ``timeout``) before the next batch is staged, and an ``error`` there fails the task,
    whose retry resumes at that batch. The counts then add up over all syncs, a warning in any of
    them makes the status ``warning``, and ``rejects_path`` gets the rejects of every batch.

    Returns ``{sync_uri, status, rows_processed, created, updated, linked, rejected, log_warnings,
    other_counts, actions}`` (see :class:`~airflow_provider_eloqua.sync_report.SyncReport`) plus
    ``definition_uri, rows, chunks, bytes, syncs, sync_rows``; ``sync_uri`` is the last batch's sync
    and ``definition_uri`` the load definition (deleted once reported). With ``wait=False`` nothing
    is checked or deleted: wait with :class:`EloquaSyncSensor` (``expected_rows=...["sync_rows"]``),
    which deletes the load definition; otherwise Eloqua deletes it after ``auto_delete_duration``.

    :param auto_delete_duration: the load definition's ``autoDeleteDuration`` (ISO-8601, at least
        ``PT1H``): long enough to outlive the load, its retries and the wait for its last sync.
    :param reuse_existing: deprecated, ignored (every load stages into a definition of its own).
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
        auto_delete_duration: str = DEFAULT_LOAD_AUTO_DELETE,
        reuse_existing: bool = False,
        definition_uri: str | None = None,
        data: Sequence[Mapping[str, Any]] | None = None,
        path: str | None = None,
        format: str | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_bytes_per_sync: int = MAX_STAGED_BYTES_PER_SYNC,
        callback_url: str | None = None,
        wait: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_warning: str = "succeed",
        rejects_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        # kwargs: the definition arguments of EloquaCreateImportOperator, then BaseOperator's.
        super().__init__(
            check_entity=definition_uri is None,
            is_sync_triggered_on_import=False,
            auto_delete_duration=auto_delete_duration,
            **kwargs,
        )
        if definition_uri is None and (self.name is None or self.fields is None or self.identifier_field_name is None):
            raise EloquaInputError(
                "give definition_uri, or name, fields and identifier_field_name to create the definition"
            )
        if reuse_existing:
            warnings.warn(
                "EloquaImportOperator(reuse_existing=True) is ignored and deprecated: every load stages into a "
                "definition of its own, so that no other run or task can mix, double or delete its rows",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
        self._set_upload_args(
            data=data,
            path=path,
            format=format,
            chunk_bytes=chunk_bytes,
            callback_url=callback_url,
            max_bytes_per_sync=max_bytes_per_sync,
            poll_interval=poll_interval,
            timeout=timeout,
            auto_delete_duration=auto_delete_duration,
        )
        self.definition_uri = definition_uri
        self.wait = wait
        self.deferrable = deferrable
        self.on_warning = check_on_warning(on_warning)
        self.rejects_path = rejects_path
        if rejects_path:
            output_format(rejects_path, "rejects_path")

    def _load_source(self) -> str:
        if self.definition_uri is not None:
            return urls.parse_definition_uri(self.definition_uri).uri
        spec = json.dumps(self.definition_spec().body(), sort_keys=True, default=str)
        return "spec " + hashlib.sha256(spec.encode()).hexdigest()[:16]

    def _ensure_load(self, hook: EloquaHook, context: Context) -> LoadDefinition:
        if self.definition_uri is not None:
            return self._copy_template(hook, context, self.definition_uri)
        spec = self.definition_spec()
        body = {**spec.body(), "name": load_name(spec.name, load_key(context))}
        return ensure_load_definition(
            hook,
            context,
            source=self._load_source(),
            entity=spec.entity,
            parent_id=spec.parent_id,
            kind=spec.kind,
            make_body=lambda: body,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        upload = self._upload(hook, context, start_sync=True)
        status = upload.pop("sync_status", "pending")
        batch = upload.pop("batch", None) or {}
        sync_uri = upload["sync_uri"]
        if not sync_uri:
            return {**upload, "status": None}
        if not self.wait:
            if state := _state(context):
                state.delete(STATE_BATCHES)  # earlier batches are done; the last sync is the caller's to watch
            _push_load_keys(context, upload)
            return {**upload, "status": status}
        deadline = time.time() + self.timeout
        if self.deferrable:
            status = look(hook, SyncWatch(sync_uri, deadline)) or status  # None: transient, the trigger looks again
            if status not in TERMINAL_STATUSES:
                self.defer(
                    trigger=EloquaSyncTrigger(
                        sync_uri=sync_uri,
                        eloqua_conn_id=self.eloqua_conn_id,
                        poll_interval=self.poll_interval,
                        end_time=deadline,
                    ),
                    method_name="execute_complete",
                )
        else:
            status = wait_for_sync(hook, sync_uri, poll_interval=self.poll_interval, deadline=deadline)
        return self._finish(context, upload, sync_uri, status, batch)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        sync_uri, status = status_from_event(event)
        # The upload counts were kept in the task state store before deferring (defer kwargs are
        # not carried through every runtime, e.g. dag.test()).
        state = _state(context)
        upload = dict(state.get(STATE_UPLOAD) or {}) if state else {}
        batch = upload.pop("batch", None) or {}
        upload["sync_uri"] = sync_uri
        return self._finish(context, upload, sync_uri, status, batch)

    def _finish(
        self, context: Context, upload: dict[str, Any], sync_uri: str, status: str, batch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Report the last sync, with the counts and rejects of the earlier batches' syncs added in."""
        state = _state(context)
        earlier = _load_progress(state, self._load_source())["done"] if state else []
        earlier_rejects = (
            [(done["sync_uri"], self._row_locator(done["sync_uri"], done["first_row"] - 1)) for done in earlier]
            if self.rejects_path
            else []
        )
        try:
            summary = finish_sync(
                self.hook,
                sync_uri,
                status,
                on_warning=self.on_warning,
                rejects_path=self.rejects_path,
                locate_row=self._row_locator(sync_uri, max(int(batch.get("first_row") or 1) - 1, 0)),
                earlier=earlier,
                earlier_rejects=earlier_rejects,
                expected_rows=batch.get("rows"),
                sync_actions=None if self.definition_uri else self.sync_actions,
            )
        finally:
            # The last sync has ended and is reported (whatever it says): the load definition has
            # served. A retry that loads again creates a new one.
            if upload.get("definition_uri"):
                delete_load_definition(self.hook, upload["definition_uri"])
            forget_load_definition(context)
        _forget_load(context)  # reported: a later run of this task instance loads again
        return {**upload, **summary}

    def _row_locator(self, sync_uri: str, offset: int = 0) -> RowLocator | None:
        """Map a reject back to its input row.

        Eloqua's ``recordIndex`` counts within one sync, so the rows of earlier batches (``offset``)
        are added. Its base is not documented either, so the row is confirmed by its identifier
        value before it is reported; an unconfirmed reject gets no row number. For a file the
        identifiers of just the rejected positions are read back in one pass over the file.
        """
        identifier = self.identifier_field_name or self.hook.get_definition(self.definition_uri).get(
            "identifierFieldName"
        )
        if not identifier:
            return None
        if self.data is not None:
            rows = self.data

            def value_at(row_number: int) -> Any:
                return rows[row_number - 1].get(identifier) if 1 <= row_number <= len(rows) else None

        else:
            wanted: set[int] = set()
            for reject in self.hook.iter_sync_rejects(sync_uri):
                if isinstance(reject.get("recordIndex"), int):
                    wanted.update((offset + reject["recordIndex"], offset + reject["recordIndex"] + 1))
            if not wanted:
                return None
            found: dict[int, Any] = {}
            last = max(wanted)
            with open_path(self.path, "rb") as stream:
                for row_number, row in enumerate(iter_file_rows(stream, infer_format(str(self.path), self.format)), 1):
                    if row_number in wanted:
                        found[row_number] = row.get(identifier)
                    if row_number >= last:
                        break
            value_at = found.get

        def locate(reject: Mapping[str, Any]) -> int | None:
            index = reject.get("recordIndex")
            if not isinstance(index, int):
                return None
            value = (reject.get("fieldValues") or {}).get(identifier)
            for row_number in (offset + index, offset + index + 1):
                if value_at(row_number) is not None and str(value_at(row_number)) == str(value):
                    return row_number
            return None

        return locate
