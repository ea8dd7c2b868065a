"""The load engine: stage -> sync -> wait per batch into a definition of the load's own, then report.

It knows nothing of operators: it is given a hook, the task's :class:`Checkpoint`, how to choose
the definition to stage into, the input and how to cut it, and returns a :class:`LoadResult`.
Operators decide what to wait for and what the task returns.

Retries never double anything. What a load did is noted in its checkpoint as it goes: a later try
of the same load (see :mod:`.identity`) finds its load definition again (and clears what an earlier
try staged there), reattaches to a sync that is still running or already succeeded instead of starting a second one (finding
even a sync whose creation answer was lost: :mod:`airflow_provider_eloqua.sync.lifecycle`), and
resumes at the first unfinished batch.

An input bigger than one sync may take (Oracle's import limits, docs/eloqua-behaviour.md) is loaded in
batches, one sync each (see :mod:`airflow_provider_eloqua.staging`). The syncs of all but the
last batch are waited for here and checked; the batches whose syncs ended are noted, so a retry
resumes at the first unfinished batch instead of loading earlier ones again.

Where to extend: the ``blueprint`` callable given to :class:`Load` says what the load's definition
is made from (see :mod:`.load_definition`); :meth:`Load.check_finished_sync` and
:func:`~.report.report_load` judge a finished sync.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.chunking import iter_file_chunks, iter_record_chunks, iter_row_chunks
from airflow_provider_eloqua.chunking.columns import blank_creates_records
from airflow_provider_eloqua.content import Chunk
from airflow_provider_eloqua.definitions import (
    delete_lost_definition,
    discard_definition,
    find_same_definition,
    same_definition,
)
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaError,
    EloquaInputError,
    EloquaSyncError,
    EloquaSyncGone,
)
from airflow_provider_eloqua.links import Links
from airflow_provider_eloqua.load.checkpoint import Batch, Checkpoint, LoadSync, Progress, Totals
from airflow_provider_eloqua.load.identity import LoadIdentity, input_fingerprint
from airflow_provider_eloqua.load.load_definition import (
    Blueprint,
    LoadDefinition,
    ensure_load_definition,
)
from airflow_provider_eloqua.load.report import SyncReport, check_rows_processed, report_sync
from airflow_provider_eloqua.load.spec import DefinitionSpec, InputSpec, UploadSpec
from airflow_provider_eloqua.staging import stage_input
from airflow_provider_eloqua.storage import as_path, open_path
from airflow_provider_eloqua.sync.checkpoint import StartedSync
from airflow_provider_eloqua.sync.lifecycle import reattach, start_sync
from airflow_provider_eloqua.sync.waiting import (
    DEFAULT_WAIT_TIMEOUT,
    FAILED_STATUSES,
    RUNNING_STATUSES,
    sync_status,
    wait_for_sync,
)
from airflow_provider_eloqua.urls import DefinitionUri

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ the definition a load stages into


@dataclass(frozen=True)
class Definition:
    """The definition a load stages into: its parsed URI and what the upload needs of it.

    :param uri: the definition's URI, parsed once.
    :param fields: its column names.
    :param identifier: its identifier column.
    :param reused: an earlier try of the task created it (and may have left rows staged there).
    :param blank_identifiers: a blank identifier creates a record (see
        :func:`~airflow_provider_eloqua.chunking.columns.blank_creates_records`) instead of being refused.
    """

    uri: DefinitionUri
    fields: tuple[str, ...]
    identifier: str
    reused: bool = False
    blank_identifiers: bool = False

    @classmethod
    def of(cls, load: LoadDefinition) -> Definition:
        """The load's own definition (see :mod:`.load_definition`), as created or found again."""
        fields = load.body.get("fields") or {}
        identifier = str(load.body.get("identifierFieldName") or "")
        return cls(
            urls.parse_definition_uri(load.uri),
            tuple(fields),
            identifier,
            load.reused,
            blank_creates_records(fields.get(identifier)),
        )


def ensure_definition(
    hook: EloquaHook, checkpoint: Checkpoint, spec: DefinitionSpec, *, reuse_existing: bool, retry: bool = False
) -> DefinitionUri:
    """The URI of a definition matching ``spec``: the one this task made on an earlier try, an
    existing one of the same name and properties when ``reuse_existing`` (or on a retry: an earlier
    try's POST may have created it and lost its answer), or a new one.

    :param hook: the worker's hook.
    :param checkpoint: the task's checkpoint (remembers the definition it creates).
    :param spec: the definition wanted.
    :param reuse_existing: reuse a definition of the same name and properties instead of creating one.
    :param retry: this is a later try of the task.
    """
    body = spec.body()
    previous = checkpoint.definition_uri
    if previous:
        try:
            if same_definition(hook.get_definition(previous), body):
                hook.log.info("Reusing %s, created by an earlier try of this task", previous)
                return urls.parse_definition_uri(previous)
        except EloquaApiError as exc:
            if exc.status != 404:
                raise
    if reuse_existing or retry:
        existing = find_same_definition(hook, spec.entity, spec.parent_id, spec.kind, body)
        if existing is not None:
            if reuse_existing:
                hook.log.info("Reusing existing definition %s (%s)", existing["uri"], existing["name"])
            else:
                hook.log.info(
                    "Reusing %s (%s), of the same name and properties: an earlier try's create may have lost "
                    "its answer, so nothing is created twice",
                    existing["uri"],
                    existing["name"],
                )
                checkpoint.created_definition(existing["uri"])
            return urls.parse_definition_uri(existing["uri"])
    uri = hook.create_definition(spec.entity, body, spec.parent_id, spec.kind)["uri"]
    checkpoint.created_definition(uri)
    hook.log.info("Created %s definition %s (%s)", spec.kind, uri, spec.name)
    return urls.parse_definition_uri(uri)


# ------------------------------------------------------------------ the load


@dataclass(frozen=True)
class LoadResult:
    """What a load staged and the sync left to wait for.

    :param totals: rows, chunks and bytes over all batches, and how many syncs were started.
    :param sync_uri: the last batch's sync (None when no sync was started).
    :param batch: where the last batch sits in the input.
    :param sync_status: the sync's status when it was found again on a retry (reattached).
    :param identifier: the definition's identifier column (to map rejects back to input rows).
    """

    totals: Totals
    sync_uri: str | None
    batch: Batch | None = None
    sync_status: str | None = None
    identifier: str | None = None

    @property
    def sync_rows(self) -> int | None:
        """The rows staged for the last batch's sync (all of them, unless loaded in batches)."""
        return self.batch.rows if self.batch else None

    def upload_summary(self) -> dict[str, Any]:
        """``{definition_uri, rows, chunks, bytes, syncs, sync_uri, sync_rows}``: the upload's XCom value."""
        return {**asdict(self.totals), "sync_uri": self.sync_uri, "sync_rows": self.sync_rows}

    def started(self) -> LoadSync:
        """The last sync, to wait for and report (see :func:`~.report.report_load`)."""
        if self.sync_uri is None:
            raise EloquaError("the load started no sync")
        return LoadSync(self.sync_uri, self.totals, self.batch, self.identifier)


class Load:
    """One load of one input into a definition of its own, across the tries of its task.

    A later try resumes only the same load (see :mod:`.identity`): the same input, and a
    definition made from the same arguments or the same version of the template. Anything else is
    a new load: the earlier try's work is dropped (its load definition deleted, unless a sync of it
    may still be running) and the log says why.

    :param hook: the worker's hook.
    :param checkpoint: the task's checkpoint.
    :param blueprint: reads what the load definition is made from (see
        :class:`~.load_definition.Blueprint`); called once per try, before anything is created.
    :param source: the input.
    :param upload: how the input is cut into POSTs and syncs.
    :param callback_url: passed to Eloqua with each sync.
    :param poll_interval: seconds between looks at an earlier batch's sync.
    :param timeout: the most seconds to wait for each earlier batch's sync, and then to list its
        logs and rejects.
    :param judged_by: the settings the task judges the load's last sync by (``on_warning``, the
        rejects threshold; plain JSON): after a try that refused the sync's outcome, a later try
        judges it again if they changed, and loads the input again if not.
    :param links: told the load definition and each sync as soon as they are known.
    """

    def __init__(
        self,
        hook: EloquaHook,
        checkpoint: Checkpoint,
        *,
        blueprint: Callable[[], Blueprint],
        source: InputSpec,
        upload: UploadSpec,
        callback_url: str | None = None,
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        judged_by: dict[str, Any] | None = None,
        links: Links | None = None,
    ) -> None:
        self.hook = hook
        self.links = links or Links()
        self.judged_by = judged_by or {}
        self.checkpoint = checkpoint
        self._read_blueprint = blueprint
        self._definition: Definition | None = None
        #: The input's first chunk, read (and checked) before the definition was created, and the rest.
        self._ahead: tuple[Chunk | None, Generator[Chunk, None, None]] | None = None
        self.source = source
        self.upload = upload
        self.callback_url = callback_url
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def blueprint(self) -> Blueprint:
        return self._read_blueprint()

    @cached_property
    def identity(self) -> LoadIdentity:
        """This load: its input and what its definition is made from (a missing path fails here)."""
        return LoadIdentity(input_fingerprint(self.source), self.blueprint.version, self.blueprint.name)

    @property
    def definition(self) -> Definition:
        """The definition staged into, chosen on first use. Before one is created, the input's
        first chunk is read and checked against it (see :meth:`_read_ahead`)."""
        if self._definition is None:
            try:
                made = ensure_load_definition(
                    self.hook, self.checkpoint, self.identity.key, self.blueprint, before_create=self._read_ahead
                )
            except BaseException:
                self._drop_read_ahead()
                raise
            self._definition = Definition.of(made)
            self.links.definition(made.uri)
        return self._definition

    def _read_ahead(self) -> None:
        """Read and check the input's first chunk (its header and first rows, a few MiB at most)
        against the definition about to be created, so that input refused there (an empty
        identifier, an unclosed quote, a column that is not a field) fails before anything is
        created. The upload goes on from that chunk: the input is not read twice. (The second
        chunk is not built while the definition is created: the building thread would hold the
        GIL while this one notes the definition and starts the first POST, which then starts later.)"""
        blueprint = self.blueprint
        fields, identifier = blueprint.fields, blueprint.identifier
        rest = self._chunks(tuple(fields), identifier, blank_creates_records(fields.get(identifier)))
        try:
            first = next(rest, None)
            if first is None:
                self._check_not_zero_bytes()
        except BaseException:
            rest.close()
            raise
        if first is not None:
            _warn_of_missing_columns(first, fields)
        self._ahead = (first, rest)

    def _drop_read_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead[1].close()
            self._ahead = None

    def _check_not_zero_bytes(self) -> None:
        """A CSV with no rows still has its header line and a JSON array is ``[]``: a 0-byte file of
        either is a broken upstream, not empty input (an NDJSON file of no rows is 0 bytes)."""
        if self.source.path is None or self.source.format not in ("csv", "json"):
            return
        if as_path(self.source.path).stat().st_size == 0:
            what = "not even a header line" if self.source.format == "csv" else "not even []"
            raise EloquaInputError(
                f"path {self.source.path!r} is empty (0 bytes, {what}): an upstream export that found no rows "
                f"still writes {'its header' if self.source.format == 'csv' else '[]'}, so this looks like a "
                "broken one. Nothing was sent to Eloqua"
            )

    def chunks(self) -> Iterator[Chunk]:
        """The input as POST bodies, read from the start (again on every call but the first after
        :meth:`_read_ahead`, which goes on from the chunk read ahead)."""
        if self._ahead is not None:
            (first, rest), self._ahead = self._ahead, None
            try:
                if first is not None:
                    yield first
                    del first  # the caller is done with it
                yield from rest
            finally:
                rest.close()
            return
        definition = self.definition
        yield from self._chunks(definition.fields, definition.identifier, definition.blank_identifiers)

    def _chunks(self, fields: Sequence[str], identifier: str, blank: bool) -> Generator[Chunk, None, None]:
        """The input as POST bodies for a definition of ``fields`` keyed on ``identifier``."""
        chunk_bytes = self.upload.chunk_bytes
        if self.source.data is not None:
            yield from iter_row_chunks(self.source.data, fields, identifier, chunk_bytes, blank_identifiers=blank)
            return
        if self.source.rows is not None:
            columns = self.source.rows.columns
            with self.source.rows.open_records() as records:
                yield from iter_record_chunks(
                    records, columns, fields, identifier, chunk_bytes, blank_identifiers=blank
                )
            return
        assert self.source.path is not None and self.source.format is not None  # InputSpec: exactly one input
        with open_path(self.source.path, "rb") as stream:
            yield from iter_file_chunks(
                stream, self.source.format, fields, identifier, chunk_bytes, blank_identifiers=blank
            )

    def run(self, *, start: bool = True) -> LoadResult:
        """Stage the input (all or nothing per batch) and start a sync per batch, waiting for (and
        checking) every sync but the last; on a retry of the same load reattach, resume at the
        first unfinished batch, or clear the staging an earlier try left.

        :param start: start a sync once everything is staged (False: stage one batch, start nothing).
        """
        self.begin()
        found = self.reattach() if start else None
        reattached = (LoadSync.of(found[0]), found[1]) if found else None
        progress = self.checkpoint.progress(self.identity.key)
        if reattached and reattached[0].sync_uri in {done["sync_uri"] for done in progress.done}:
            self.checkpoint.forget_sync()  # the earlier try ended this batch but died before forgetting its sync
            reattached = None
        if reattached:
            self.links.definition(reattached[0].totals.definition_uri)
            self.links.sync(reattached[0].sync_uri)
        if reattached and (reattached[0].batch is None or reattached[0].batch.last):
            started, status = reattached
            return LoadResult(started.totals, started.sync_uri, started.batch, status, started.identifier)
        definition = self.definition
        if reattached:
            started, _ = reattached
            assert started.batch is not None  # not the last batch: see above
            self.hook.log.info("Resuming at batch %d: waiting for its sync first", started.batch.index + 1)
            self.end_batch(progress, started.sync_uri, started.batch)
        elif definition.reused:
            # Nobody else stages there: whatever an earlier try left staged is this load's own.
            self.hook.log.info("Retry: clearing %s's staging area before uploading again", definition.uri)
            self.hook.clear_staged_data(definition.uri)
        progress = self._check_cut(progress)
        while True:
            result = self._stage_batch(progress, start)
            if result is not None:
                return result

    def begin(self) -> None:
        """Go on with the load an earlier try noted if it is this one; else start a new load, saying why."""
        identity, checkpoint = self._identify(), self.checkpoint
        self.links.template_read()  # what the load definition is made from has been read (in a thread)
        earlier = checkpoint.load_identity
        if identity.same_as(earlier):
            self._after_refusal()
            return
        work = checkpoint.earlier_work()
        if work:
            why = identity.change_since(earlier) if earlier else "an earlier try left no note of what it loaded"
            self.hook.log.warning(
                "New load: %s, so what an earlier try of this task did (%s) is not reused; loading from the start",
                why,
                ", ".join(work),
            )
            self.drop_earlier_load()
        elif checkpoint.loaded_before:
            self.hook.log.warning(
                "New load: this task loaded its input before (sync %s) and was cleared, so it loads its input again",
                checkpoint.loaded_before,
            )
        checkpoint.begin_load(identity)

    def _identify(self) -> LoadIdentity:
        """The checkpoint's keys, then :attr:`identity` (the input's fingerprint, the template's ``GET``),
        both in the task's thread: each may ask Airflow's supervisor for something (a store key, a
        connection, a token-store Variable), and ``dag.test()``'s in-process supervisor serves one
        thread at a time."""
        self.checkpoint.read_load()
        return self.identity

    def _after_refusal(self) -> None:
        """After a try that refused the outcome of this load's last sync (a Clear followed: the
        refusal is not retried), judge that sync again if the settings it was judged by changed;
        otherwise judging it again would refuse it again, so load the input again."""
        refused = self.checkpoint.refused
        if refused is None:
            return
        sync_uri, judged_by = refused.get("sync_uri"), refused.get("judged_by")
        if judged_by != self.judged_by:
            self.hook.log.warning(
                "Sync %s, whose outcome an earlier try refused (judged by %s), is judged again by %s; nothing is "
                "loaded again",
                sync_uri,
                json.dumps(judged_by),
                json.dumps(self.judged_by),
            )
            self.checkpoint.forget_refusal()
            return
        self.hook.log.warning(
            "New load: an earlier try refused the outcome of sync %s, and the settings it was judged by (%s) are "
            "the same, so judging it again would refuse it again; this try loads the input again",
            sync_uri,
            json.dumps(judged_by),
        )
        self.drop_earlier_load()
        self.checkpoint.begin_load(self.identity)

    def drop_earlier_load(self) -> None:
        """Forget the work of another load an earlier try did, and delete its load definition unless
        a sync of it may still be running (Eloqua deletes that one after its ``autoDeleteDuration``)."""
        known, requested = self.checkpoint.load_definition, self.checkpoint.requested_load_definition
        if known:
            running = self._earlier_sync_running()
            if running:
                self.hook.log.warning(
                    "Load definition %s is left to Eloqua's auto-delete: the earlier try's %s", known[0], running
                )
            else:
                discard_definition(self.hook, known[0], "load definition")
        elif requested:
            delete_lost_definition(self.hook, requested, "load definition")
        self.checkpoint.forget_load()

    def _earlier_sync_running(self) -> str | None:
        """Why the earlier try's sync may still be running (None: it has ended, or there is none)."""
        sync_uri = self.checkpoint.sync_uri
        if not sync_uri:
            return "sync request was never answered" if self.checkpoint.sync_requested else None
        try:
            status = sync_status(self.hook.get_sync(sync_uri), sync_uri)
        except EloquaApiError as exc:
            return None if exc.status == 404 else f"sync {sync_uri} could not be read ({exc})"
        return f"sync {sync_uri} is still {status}" if status in RUNNING_STATUSES else None

    def reattach(self) -> tuple[StartedSync, str] | None:
        """The sync an earlier try of this load started, to go on with (see :func:`reattach`).

        If Eloqua no longer has it (404: deleted, or an emulator restarted), whether it loaded its
        rows is unknown. A retry then fails without further retries, saying so; the try after a
        Clear (the user's decision, after looking at Eloqua) starts a new load.
        """
        try:
            return reattach(self.hook, self.checkpoint)
        except EloquaApiError as exc:
            if exc.status != 404:
                raise
            sync_uri = self.checkpoint.sync_uri or "the sync"
            rows = self.checkpoint.load_sync(sync_uri).totals.rows if self.checkpoint.sync_uri else None
            if not self.checkpoint.after_clear:
                raise sync_gone(sync_uri, rows, exc, earlier_try=True) from exc
        self.hook.log.warning(
            "New load: %s, which an earlier try of this task started, is gone from Eloqua (404) and this try "
            "follows a Clear, so it loads the input again (whether that sync loaded its rows is unknown)",
            sync_uri,
        )
        self.drop_earlier_load()
        self.checkpoint.begin_load(self.identity)
        return None

    def _stage_batch(self, progress: Progress, start: bool) -> LoadResult | None:
        """Stage batch ``progress.next`` and start its sync; the result when the load has no more
        to stage, else None (the batch's sync ended and was noted: the next batch follows)."""
        index = progress.next
        try:
            staged = stage_input(
                self.hook,
                self.definition.uri,
                self.chunks,
                batch=index,
                max_bytes=self.upload.max_bytes_per_sync,
            )
        except EloquaInputError:
            self._delete_definition("the input was refused while it was read")
            raise
        if staged.more and not start:
            self.hook.clear_staged_data(self.definition.uri)
            self._delete_definition("the input cannot be loaded without a sync")
            raise EloquaInputError(
                f"the input is bigger than one sync takes ({self.upload.max_bytes_per_sync} bytes or 500 uploads); "
                "with start_sync=False it cannot be loaded in batches: set start_sync=True, or split the input"
            )
        batch = Batch(index, staged.first_row, staged.rows, staged.chunks, staged.bytes, last=not staged.more)
        totals = progress.totals(self.definition.uri.uri, syncs=len(progress.done)).plus(batch)
        if staged.rows == 0 and index:
            raise EloquaInputError(
                f"the input ended before batch {index + 1}, which an earlier try of this task found: the input "
                "changed between tries, so the batches already loaded cannot be matched to it"
            )
        if staged.rows == 0 or not start:
            if staged.rows == 0:
                self.hook.log.warning("The input has no rows: nothing was staged and no sync was started")
            if staged.rows == 0 and start:
                self._delete_definition("the input has no rows")
            return LoadResult(totals, None, batch, identifier=self.definition.identifier)
        totals = totals.plus_sync()
        # Noted before the request: a retry that finds the sync after a lost answer knows its batch.
        self.checkpoint.syncing(totals, batch, self.definition.identifier)
        sync_uri = start_sync(self.hook, self.checkpoint, self.definition.uri, self.callback_url)
        self.links.sync(sync_uri)
        self.checkpoint.started_load_sync(LoadSync(sync_uri, totals, batch, self.definition.identifier))
        if batch.last:
            self.hook.log.info("Started sync %s over %d staged row(s)", sync_uri, staged.rows)
            return LoadResult(totals, sync_uri, batch, identifier=self.definition.identifier)
        self.hook.log.info(
            "Started sync %s for batch %d (%s); the input goes on past what one sync takes, "
            "so the next batch is staged once this sync has ended",
            sync_uri,
            index + 1,
            batch.describe(),
        )
        self.end_batch(progress, sync_uri, batch)
        return None

    def _delete_definition(self, why: str) -> None:
        """Delete the load's own definition, which no sync will ever use (``why``), and forget it."""
        self.hook.log.info("Deleting load definition %s: %s", self.definition.uri, why)
        discard_definition(self.hook, self.definition.uri.uri, "load definition")
        self.checkpoint.forget_load_definition()

    def _check_cut(self, progress: Progress) -> Progress:
        """The batches to resume: ``progress``, unless its batches were cut another way. Those would
        not line up with today's: a retry refuses to go on; the try after a Clear loads every batch
        again. Logs which batches are skipped."""
        cut = self.upload.cut
        if progress.next and (progress.cut or cut) != cut:
            done = ", ".join(done["sync_uri"] for done in progress.done)
            if not self.checkpoint.after_clear:
                raise EloquaInputError(
                    f"an earlier try loaded batches 1-{progress.next} (syncs {done}) cut with [chunk_bytes, "
                    f"max_bytes_per_sync, cutting rules] {progress.cut}, now {cut}: the batches would not line up, "
                    "so rows could be lost or doubled. Restore the earlier values (or provider version), or Clear "
                    "this task to load every batch again (their rows are then loaded a second time)"
                )
            self.hook.log.warning(
                "New load: batches 1-%d (syncs %s) were cut with %s, now %s, and this try follows a Clear, so it "
                "loads every batch again (their rows are loaded a second time)",
                progress.next,
                done,
                progress.cut,
                cut,
            )
            progress = Progress(progress.source)
        progress.cut = cut
        if progress.next:
            self.hook.log.info(
                "Batches 1-%d are loaded (syncs %s), so they are skipped; resuming at batch %d",
                progress.next,
                ", ".join(done["sync_uri"] for done in progress.done),
                progress.next + 1,
            )
        return progress

    def end_batch(self, progress: Progress, sync_uri: str, batch: Batch) -> None:
        """Wait for an earlier batch's sync, report it, and note the batch done (or fail on ``error``).

        Its rejects are logged here; the rejects file, if any, is written once the whole load ends,
        with the input rows found here (so the input is not read again for them).
        """
        with not_gone(sync_uri, batch.rows):
            status = wait_for_sync(
                self.hook, sync_uri, poll_interval=self.poll_interval, deadline=time.time() + self.timeout
            )
        report, reject_rows = report_sync(
            self.hook,
            self.source,
            self.definition.identifier,
            sync_uri,
            status,
            batch,
            deadline=time.time() + self.timeout,
        )
        self.check_finished_sync(report, batch)
        self.hook.log.info("Batch %d (%s) loaded by sync %s (%s)", batch.index + 1, batch.describe(), sync_uri, status)
        progress.add(batch, {**report.summary(), **({"reject_rows": reject_rows} if reject_rows else {})})
        self.checkpoint.save_progress(progress)  # before forgetting the sync: a crash between is detected
        self.checkpoint.forget_sync()

    def check_finished_sync(self, report: SyncReport, batch: Batch) -> None:
        """Judge the finished sync of a batch that is not the load's last: ``error`` fails the task
        (a retry stages this batch again), so does a sync that did not process exactly the rows
        staged for it; anything else lets the load go on."""
        if report.status in FAILED_STATUSES:
            self.checkpoint.forget_sync()  # a retry stages this batch again
            reasons = "; ".join(report.errors[:5])
            raise EloquaSyncError(
                f"Eloqua sync {report.sync_uri} of batch {batch.index + 1} ({batch.describe()}) ended with status "
                f"{report.status!r}"
                + (f" ({reasons})" if reasons else "")
                + f": {report.rejected} rejected, see the sync log above. "
                + (f"Batches 1-{batch.index} were loaded; " if batch.index else "")
                + "a retry of this task resumes at this batch"
            )
        check_rows_processed(report, batch.rows)  # a retry reattaches to this sync and fails the same way


def _warn_of_missing_columns(chunk: Chunk, fields: Mapping[str, str]) -> None:
    """Warn, before anything is created, of fields of the definition that the input has no column
    for (a CSV chunk's header). They are not refused: a load may send some of a shared template's
    fields. Eloqua reports each (ELQ-00121) and the sync ends in ``warning``. Rows sent as JSON may
    leave keys out row by row, so only a CSV header is looked at."""
    if not chunk.content_type.startswith("text/csv"):
        return
    header = next(csv.reader(io.StringIO(chunk.body[: 64 * 1024].decode("utf-8", "replace"))), [])
    missing = [name for name in fields if name not in header]
    if missing:
        log.warning(
            "The input has no column for the definition's field(s) %s: Eloqua reports each (ELQ-00121) and the "
            "sync ends in warning. Set on_warning='fail' to fail the task on it, or leave them out of the definition",
            ", ".join(map(repr, missing)),
        )


# ------------------------------------------------------------------ a sync gone from Eloqua


def sync_gone(sync_uri: str, rows: int | None, exc: EloquaApiError, *, earlier_try: bool) -> EloquaSyncGone:
    """The failure of a load whose sync Eloqua answers 404 for: whether it loaded its rows is
    unknown, so the task is not retried (that could load them twice); the error names the way out."""
    over = f" over {rows} staged row(s)" if rows else ""
    if earlier_try:
        what = f"{sync_uri}, which an earlier try of this task started{over}, is gone from Eloqua ({exc})"
        retry = "this retry does not load them again on its own"
    else:
        what = f"{sync_uri}, which this task started{over}, is gone from Eloqua ({exc}) while it was waited for"
        retry = "the task is not retried: a retry would not load them again on its own"
    return EloquaSyncGone(
        f"{what}. Whether it loaded its rows is unknown, so {retry}: that could load them twice. Look at the "
        "records in Eloqua; to load the input again, Clear this task: the try after a Clear starts a new load"
    )


@contextmanager
def not_gone(sync_uri: str, rows: int | None) -> Iterator[None]:
    """Around a wait for a sync this try of the load started: a 404 for it fails the task without
    retries (:func:`sync_gone`) instead of failing a try whose retry would fail so anyway."""
    try:
        yield
    except EloquaApiError as exc:
        if exc.status != 404:
            raise
        raise sync_gone(sync_uri, rows, exc, earlier_try=False) from exc
