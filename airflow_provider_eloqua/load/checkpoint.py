"""A typed view of Airflow's task state store: what a load keeps across the tries of its task.

The store (``context["task_state_store"]``, Airflow 3.3+) outlives a try and a Clear, unlike XCom.
Beside the sync part (:mod:`airflow_provider_eloqua.sync.checkpoint`: the sync asked for and
started), a load notes there what it is (its input and definition, see :mod:`.identity`), the
definition it created, what its sync loads (the sync's payload: totals, batch, identifier) and the
batches whose syncs ended, so that a later try of the same load reuses the definition, reattaches
to the sync instead of starting a second one, and resumes at the first unfinished batch. Where a
runtime has no store, the checkpoint remembers nothing and every try starts over. Only this module
knows the load's keys and value shapes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Self

from airflow_provider_eloqua.definitions import RequestedDefinition
from airflow_provider_eloqua.load.identity import LoadIdentity
from airflow_provider_eloqua.sync.checkpoint import STATE_SYNC, STATE_SYNC_REQUESTED, StartedSync, SyncCheckpoint

STATE_DEFINITION = "eloqua_definition_uri"
#: The sync's payload: what the sync loads (``Totals`` fields, ``batch``, ``identifier``).
STATE_UPLOAD = "eloqua_upload"
#: Progress of a load in batches: the batches whose syncs ended, and their reports.
STATE_BATCHES = "eloqua_batches"
#: ``{"uri": <load definition>, "source": <the key of the load it was made for>}``; before the create's
#: answer, ``{"requested": {"name", "entity", "parent_id", "kind"}, "source": ...}`` instead of ``uri``.
STATE_LOAD_DEFINITION = "eloqua_load_definition"
#: The load the other keys belong to (:class:`~.identity.LoadIdentity` as JSON).
STATE_LOAD = "eloqua_load"
#: ``{"sync_uri": ...}`` of the last load this task instance finished (a Clear loads again).
STATE_LOADED = "eloqua_loaded"
#: The ``max_tries`` the task instance had on its last try (it grows with every Clear).
STATE_MAX_TRIES = "eloqua_max_tries"
#: ``{"sync_uri": ..., "judged_by": {...}}``: the load's last sync ended, and the task refused its outcome.
STATE_REFUSED = "eloqua_refused"
#: What an earlier try of a load leaves behind for a later try of the same load.
_LOAD_WORK = (STATE_SYNC, STATE_UPLOAD, STATE_SYNC_REQUESTED, STATE_BATCHES, STATE_LOAD_DEFINITION, STATE_REFUSED)


@dataclass(frozen=True)
class Batch:
    """Where one batch (one sync's worth of chunks) sits in the input."""

    index: int
    first_row: int
    rows: int
    chunks: int
    bytes: int
    #: No batch follows: this batch's sync is the one downstream tasks wait for.
    last: bool = True

    @property
    def offset(self) -> int:
        """Input rows before this batch (Eloqua's ``recordIndex`` counts within one sync)."""
        return max(self.first_row - 1, 0)

    def describe(self) -> str:
        return f"input rows {self.first_row}-{self.first_row + self.rows - 1}"


@dataclass(frozen=True)
class Totals:
    """What a load staged so far, over all its batches: the upload's part of the task's result."""

    definition_uri: str
    rows: int = 0
    chunks: int = 0
    bytes: int = 0
    syncs: int = 0

    def plus(self, batch: Batch) -> Totals:
        """These totals and ``batch``'s rows, chunks and bytes."""
        return replace(
            self, rows=self.rows + batch.rows, chunks=self.chunks + batch.chunks, bytes=self.bytes + batch.bytes
        )

    def plus_sync(self) -> Totals:
        return replace(self, syncs=self.syncs + 1)


@dataclass(frozen=True)
class LoadSync:
    """A sync this load started (on this try or an earlier one), with what it loads."""

    sync_uri: str
    totals: Totals
    batch: Batch | None
    #: The definition's identifier column, for mapping rejects back to input rows.
    identifier: str | None = None

    @staticmethod
    def payload(totals: Totals, batch: Batch | None, identifier: str | None) -> dict[str, Any]:
        """What the sync loads, as the sync checkpoint's payload (plain JSON)."""
        upload: dict[str, Any] = asdict(totals)
        if batch is not None:
            upload["batch"] = asdict(batch)
        if identifier is not None:
            upload["identifier"] = identifier
        return upload

    @classmethod
    def of(cls, started: StartedSync) -> LoadSync:
        """The load's view of a sync found again (a task that only started a sync noted its definition)."""
        upload = dict(started.payload)
        batch = upload.pop("batch", None)
        identifier = upload.pop("identifier", None)
        totals = Totals(**upload) if upload else Totals(definition_uri="")
        return cls(started.sync_uri, totals, Batch(**batch) if batch else None, identifier)

    def started(self) -> StartedSync:
        """The sync as the sync checkpoint keeps it."""
        return StartedSync(self.sync_uri, self.payload(self.totals, self.batch, self.identifier))


@dataclass
class Progress:
    """A load in batches: the next batch to stage, the totals of the batches done, and their reports.

    ``source`` is the key of the load (:attr:`~.identity.LoadIdentity.key`): the progress of
    another load does not count.
    """

    source: str
    next: int = 0
    rows: int = 0
    chunks: int = 0
    bytes: int = 0
    #: One summary per batch whose sync ended, with its ``sync_uri``, ``first_row`` and ``batch_rows``.
    done: list[dict[str, Any]] = field(default_factory=list)
    #: ``[chunk_bytes, max_bytes_per_sync, cutting rules]`` the batches were cut with: a resumed load must match.
    cut: list[int] | None = None

    def totals(self, definition_uri: str, syncs: int) -> Totals:
        return Totals(definition_uri, self.rows, self.chunks, self.bytes, syncs)

    def add(self, batch: Batch, summary: dict[str, Any]) -> None:
        """Note ``batch`` done, its sync reported as ``summary``."""
        self.done.append({**summary, "first_row": batch.first_row, "batch_rows": batch.rows})
        self.next = batch.index + 1
        self.rows += batch.rows
        self.chunks += batch.chunks
        self.bytes += batch.bytes


class Checkpoint(SyncCheckpoint):
    """What one task's load remembers across its tries: its sync (see :class:`SyncCheckpoint`) and
    the load's own keys.

    :param store: the task state store (``get``, ``set``, ``delete``), or None where there is none.
    """

    payload_key = STATE_UPLOAD
    #: This try is the first of a series: the task's first, or the first after a Clear (a user's
    #: decision to run it again), not an automatic retry.
    after_clear: bool = False

    @classmethod
    def of(cls, context: Any) -> Self:
        """The checkpoint of the running task (``context`` is Airflow's task context).

        A Clear sets the task instance's ``max_tries`` to the try number reached plus the task's
        retries, so it grows with every Clear and never on an automatic retry: each try notes it,
        and a try that sees it grown (or is the task's first) follows a Clear.
        """
        checkpoint = super().of(context)
        max_tries = getattr(context.get("ti"), "max_tries", None)
        if isinstance(max_tries, int) and not isinstance(max_tries, bool):
            seen = checkpoint._get(STATE_MAX_TRIES)
            checkpoint.after_clear = not isinstance(seen, int) or max_tries > seen
            if seen != max_tries:
                checkpoint._set(STATE_MAX_TRIES, max_tries)
        return checkpoint

    # ------------------------------------------------------------------ the load

    def read_load(self) -> None:
        """Read every key of the load at once (see :meth:`read`): what a try looks at before it stages."""
        self.read(STATE_LOAD, *_LOAD_WORK, STATE_LOADED)

    @property
    def load_identity(self) -> LoadIdentity | None:
        """The load an earlier try of this task noted (and the other keys belong to)."""
        return LoadIdentity.from_json(self._get(STATE_LOAD))

    def begin_load(self, identity: LoadIdentity) -> None:
        self._set(STATE_LOAD, identity.to_json())

    def earlier_work(self) -> list[str]:
        """What an earlier try left for a later try of its load to reuse, in words (empty: nothing)."""
        work = []
        if self.sync_uri:
            work.append(f"sync {self.sync_uri}")
        elif self.sync_requested:
            work.append("a sync it asked for")
        if self.load_definition:
            work.append(f"load definition {self.load_definition[0]}")
        elif self.requested_load_definition:
            work.append(f"load definition {self.requested_load_definition.name!r} it asked for")
        batches = self._get(STATE_BATCHES) or {}
        if batches.get("next"):
            work.append(f"batches 1-{batches['next']}")
        return work

    @property
    def loaded_before(self) -> str | None:
        """The last sync of a load this task instance finished on an earlier try, if any."""
        loaded = self._get(STATE_LOADED)
        return loaded.get("sync_uri") if isinstance(loaded, dict) else None

    def loaded(self) -> None:
        """The load is done: forget it (a later try, after a Clear, loads again), noting its last sync."""
        self._set(STATE_LOADED, {"sync_uri": self.sync_uri})
        self.forget_load()

    @property
    def refused(self) -> dict[str, Any] | None:
        """``{"sync_uri", "judged_by"}`` when an earlier try refused the outcome of the load's last sync."""
        refused = self._get(STATE_REFUSED)
        return refused if isinstance(refused, dict) else None

    def refused_outcome(self, sync_uri: str, judged_by: dict[str, Any]) -> None:
        """The task refused what sync ``sync_uri`` did, judged by the settings ``judged_by``."""
        self._set(STATE_REFUSED, {"sync_uri": sync_uri, "judged_by": judged_by})

    def forget_refusal(self) -> None:
        self._delete(STATE_REFUSED)

    # ------------------------------------------------------------------ the definition

    @property
    def definition_uri(self) -> str | None:
        """The definition an earlier try of this task created."""
        return self._get(STATE_DEFINITION)

    def created_definition(self, uri: str) -> None:
        self._set(STATE_DEFINITION, uri)

    @property
    def load_definition(self) -> tuple[str, str] | None:
        """``(uri, load key)`` of the load definition an earlier try created (see :mod:`.load_definition`)."""
        value = self._get(STATE_LOAD_DEFINITION)
        if isinstance(value, dict) and isinstance(value.get("uri"), str):
            return value["uri"], str(value.get("source"))
        return None

    def created_load_definition(self, uri: str, source: str) -> None:
        self._set(STATE_LOAD_DEFINITION, {"uri": uri, "source": source})

    @property
    def requested_load_definition(self) -> RequestedDefinition | None:
        """The load definition an earlier try asked for, if its answer (the URI) never arrived."""
        value = self._get(STATE_LOAD_DEFINITION)
        if isinstance(value, dict) and "uri" not in value and isinstance(value.get("requested"), dict):
            return RequestedDefinition(**value["requested"], source=str(value.get("source")))
        return None

    def requesting_load_definition(self, requested: RequestedDefinition) -> None:
        """Note a load definition about to be asked for, so that a later try finds it if the answer is lost."""
        where = asdict(requested)
        source = where.pop("source")
        self._set(STATE_LOAD_DEFINITION, {"requested": where, "source": source})

    def forget_load_definition(self) -> None:
        self._delete(STATE_LOAD_DEFINITION)

    # ------------------------------------------------------------------ the sync

    def syncing(self, totals: Totals, batch: Batch | None, identifier: str | None) -> None:
        """Note what the sync about to be requested loads, before asking (with ``requesting_sync``).

        If the answer is lost, a retry that finds the sync (``load_sync``) still knows its batch: the
        rows to check it processed, and whether later batches follow it.
        """
        self.note_payload(LoadSync.payload(totals, batch, identifier))

    def started_load_sync(self, sync: LoadSync) -> None:
        self.started_sync(sync.started())

    def load_sync(self, sync_uri: str) -> LoadSync:
        """What was noted with ``sync_uri``."""
        return LoadSync.of(self.started(sync_uri))

    # ------------------------------------------------------------------ batches

    def progress(self, source: str) -> Progress:
        """Which batches an earlier try of load ``source`` (its key) loaded (none for another load)."""
        stored = self._get(STATE_BATCHES)
        if stored and stored.get("source") == source:
            return Progress(**stored)
        return Progress(source)

    def progress_of_load(self) -> Progress:
        """The batches loaded so far by the load an earlier try noted (see :meth:`begin_load`)."""
        identity = self.load_identity
        return self.progress(identity.key) if identity else Progress("")

    def save_progress(self, progress: Progress) -> None:
        self._set(STATE_BATCHES, asdict(progress))

    def forget_load(self) -> None:
        """Drop everything this task remembered of its load (it is done, or another load replaces it)."""
        self._delete(*_LOAD_WORK, STATE_LOAD)

    def forget(self) -> None:
        """The load's last sync has ended and been reported (:func:`~airflow_provider_eloqua.sync.ending.end_sync`)."""
        self.loaded()
