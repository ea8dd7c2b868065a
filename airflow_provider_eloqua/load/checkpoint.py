"""A typed view of Airflow's task state store: what a load keeps across the tries of its task.

The store (``context["task_state_store"]``, Airflow 3.3+) outlives a try, unlike XCom. Beside the
sync part (:mod:`airflow_provider_eloqua.sync.checkpoint`: the sync asked for and started), a load
notes there the definition it created, what its sync loads (the sync's payload: totals, batch,
identifier) and the batches whose syncs ended, so that a retry reuses the definition, reattaches
to the sync instead of starting a second one, and resumes at the first unfinished batch. Where a
runtime has no store, the checkpoint remembers nothing and every try starts over. Only this module
knows the load's keys and value shapes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airflow_provider_eloqua.sync.checkpoint import StartedSync, SyncCheckpoint

STATE_DEFINITION = "eloqua_definition_uri"
#: The sync's payload: what the sync loads (``Totals`` fields, ``batch``, ``identifier``).
STATE_UPLOAD = "eloqua_upload"
#: Progress of a load in batches: the batches whose syncs ended, and their reports.
STATE_BATCHES = "eloqua_batches"
#: ``{"uri": <load definition>, "source": <what it was made from>}``.
STATE_LOAD_DEFINITION = "eloqua_load_definition"


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

    ``source`` names what the load's definition is made from (a template URI, or a spec): the
    progress of another source does not count.
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

    # ------------------------------------------------------------------ the definition

    @property
    def definition_uri(self) -> str | None:
        """The definition an earlier try of this task created."""
        return self._get(STATE_DEFINITION)

    def created_definition(self, uri: str) -> None:
        self._set(STATE_DEFINITION, uri)

    @property
    def load_definition(self) -> tuple[str, str] | None:
        """``(uri, source)`` of the load definition an earlier try created (see :mod:`.load_definition`)."""
        value = self._get(STATE_LOAD_DEFINITION)
        if isinstance(value, dict) and isinstance(value.get("uri"), str):
            return value["uri"], str(value.get("source"))
        return None

    def created_load_definition(self, uri: str, source: str) -> None:
        self._set(STATE_LOAD_DEFINITION, {"uri": uri, "source": source})

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
        """Which batches an earlier try loaded from ``source`` (none for another source)."""
        stored = self._get(STATE_BATCHES)
        if stored and stored.get("source") == source:
            return Progress(**stored)
        return Progress(source)

    def save_progress(self, progress: Progress) -> None:
        self._set(STATE_BATCHES, asdict(progress))

    def forget_batches(self) -> None:
        self._delete(STATE_BATCHES)

    def forget_load(self) -> None:
        """Drop everything this task remembered of its load: it is done, a later run loads again."""
        self.forget_sync()
        self.forget_batches()
        self.forget_load_definition()

    def forget(self) -> None:
        self.forget_load()
