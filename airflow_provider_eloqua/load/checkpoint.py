"""A typed view of Airflow's task state store: what a load keeps across the tries of its task.

The store (``context["task_state_store"]``, Airflow 3.3+) outlives a try, unlike XCom. A load
notes there the definition it created, the sync it asked for (before asking: the answer may be
lost), the sync it started, and the batches whose syncs ended, so that a retry reuses the
definition, reattaches to the sync instead of starting a second one, and resumes at the first
unfinished batch. Where a runtime has no store, the checkpoint remembers nothing and every try
starts over. Only this module knows the store's keys and value shapes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import pendulum

STATE_DEFINITION = "eloqua_definition_uri"
STATE_SYNC = "eloqua_sync_uri"
STATE_UPLOAD = "eloqua_upload"
STATE_SYNC_REQUESTED = "eloqua_sync_requested"
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
class StartedSync:
    """A sync this task started (on this try or an earlier one), with what it loads."""

    sync_uri: str
    totals: Totals
    batch: Batch | None
    #: The definition's identifier column, for mapping rejects back to input rows.
    identifier: str | None = None


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


class Checkpoint:
    """What one task's load remembers across its tries.

    :param store: the task state store (``get``, ``set``, ``delete``), or None where there is none.
    """

    def __init__(self, store: Any | None) -> None:
        self._store = store

    @classmethod
    def of(cls, context: Any) -> Checkpoint:
        """The checkpoint of the running task (``context`` is Airflow's task context)."""
        return cls(context.get("task_state_store"))

    def _get(self, key: str) -> Any:
        return self._store.get(key) if self._store is not None else None

    def _set(self, key: str, value: Any) -> None:
        if self._store is not None:
            self._store.set(key, value)

    def _delete(self, *keys: str) -> None:
        if self._store is not None:
            for key in keys:
                self._store.delete(key)

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

    @property
    def sync_uri(self) -> str | None:
        return self._get(STATE_SYNC)

    @property
    def sync_requested(self) -> tuple[str, datetime] | None:
        """``(definition URI, when)`` of a ``POST /syncs`` whose answer never arrived, if any."""
        requested = self._get(STATE_SYNC_REQUESTED)
        if not requested:
            return None
        return requested["definition_uri"], datetime.fromisoformat(requested["at"])

    def requesting_sync(self, definition_uri: str) -> None:
        """Note a ``POST /syncs`` about to be sent, so that a retry can look for a sync whose answer was lost."""
        self._set(STATE_SYNC_REQUESTED, {"definition_uri": definition_uri, "at": pendulum.now("UTC").isoformat()})

    def sync_not_requested(self) -> None:
        self._delete(STATE_SYNC_REQUESTED)

    def syncing(self, totals: Totals, batch: Batch | None, identifier: str | None) -> None:
        """Note what the sync about to be requested loads, before asking (with ``requesting_sync``).

        If the answer is lost, a retry that finds the sync (``started``) still knows its batch: the
        rows to check it processed, and whether later batches follow it.
        """
        upload: dict[str, Any] = asdict(totals)
        if batch is not None:
            upload["batch"] = asdict(batch)
        if identifier is not None:
            upload["identifier"] = identifier
        self._set(STATE_UPLOAD, upload)

    def started_sync(self, sync: StartedSync) -> None:
        self.syncing(sync.totals, sync.batch, sync.identifier)
        self._set(STATE_SYNC, sync.sync_uri)
        self._delete(STATE_SYNC_REQUESTED)

    def started(self, sync_uri: str) -> StartedSync:
        """What was noted with ``sync_uri`` (a task that only started a sync noted its definition)."""
        upload = dict(self._get(STATE_UPLOAD) or {})
        batch = upload.pop("batch", None)
        identifier = upload.pop("identifier", None)
        totals = Totals(**upload) if upload else Totals(definition_uri="")
        return StartedSync(sync_uri, totals, Batch(**batch) if batch else None, identifier)

    def forget_sync(self) -> None:
        """Drop what this task remembered of its sync (it failed, or the task succeeded with it)."""
        self._delete(STATE_SYNC, STATE_UPLOAD, STATE_SYNC_REQUESTED)

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
