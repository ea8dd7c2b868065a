"""The sync part of a task's checkpoint: the sync it asked for, the sync it started, and a payload.

Airflow's task state store (``context["task_state_store"]``, Airflow 3.3+) outlives a try, unlike
XCom. A task notes there the sync it is about to ask for (before asking: the answer may be lost)
and the sync it started, so that a retry reattaches to it instead of starting a second one (see
:mod:`.lifecycle`). With the sync goes a payload the capability owns (a plain JSON dict, in a slot
of the capability's naming: ``payload_key``): what the sync is for, read back with it on a retry.
This layer never looks inside it. Where a runtime has no store, nothing is remembered and every
try starts over. Only this module knows the sync's keys and value shapes.

A task instance's store belongs to one try at a time, and each call to it is a round trip through
Airflow's execution API (about 10 ms): a checkpoint reads each key at most once, answers later
reads from what it read or wrote since, and skips deleting a key it knows is absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

import msgspec
import pendulum

STATE_SYNC = "eloqua_sync_uri"
#: ``{"definition_uri": ..., "at": <ISO time>}`` of a ``POST /syncs`` whose answer has not arrived.
STATE_SYNC_REQUESTED = "eloqua_sync_requested"


@dataclass(frozen=True)
class StartedSync:
    """A sync this task started (on this try or an earlier one), with its capability's payload."""

    sync_uri: str
    #: What the capability noted with the sync (plain JSON; empty when it noted nothing).
    payload: Mapping[str, Any] = field(default_factory=dict)


class SyncCheckpoint:
    """What one task remembers of its sync across its tries.

    :param store: the task state store (``get``, ``set``, ``delete``), or None where there is none.
    """

    #: The store key of the payload; each capability names its own.
    payload_key: ClassVar[str] = "eloqua_sync_payload"

    def __init__(self, store: Any | None) -> None:
        self._store = store
        #: What this try read from the store or wrote to it, by key, as the JSON the store keeps
        #: (None: the key is absent; the store refuses None as a value).
        self._known: dict[str, bytes | None] = {}

    @classmethod
    def of(cls, context: Any) -> Self:
        """The checkpoint of the running task (``context`` is Airflow's task context)."""
        return cls(context.get("task_state_store"))

    def _get(self, key: str) -> Any:
        if self._store is None:
            return None
        if key not in self._known:
            value = self._store.get(key)
            self._known[key] = None if value is None else msgspec.json.encode(value)
        known = self._known[key]
        return None if known is None else msgspec.json.decode(known)  # a copy the caller may change

    def _set(self, key: str, value: Any) -> None:
        if self._store is not None:
            self._store.set(key, value)
            self._known[key] = msgspec.json.encode(value)

    def _delete(self, *keys: str) -> None:
        if self._store is not None:
            for key in keys:
                if key in self._known and self._known[key] is None:
                    continue  # absent: read so, or deleted, on this try
                self._store.delete(key)
                self._known[key] = None

    def read(self, *keys: str) -> None:
        """Read ``keys`` now, each once (later reads on this try are answered without the store)."""
        for key in keys:
            self._get(key)

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

    def note_payload(self, payload: Mapping[str, Any]) -> None:
        """Note what the sync about to be requested is for, before asking (with ``requesting_sync``).

        If the answer is lost, a retry that finds the sync (``started``) still has its payload.
        """
        self._set(self.payload_key, dict(payload))

    def started_sync(self, sync: StartedSync) -> None:
        self.note_payload(sync.payload)
        self._set(STATE_SYNC, sync.sync_uri)
        self._delete(STATE_SYNC_REQUESTED)

    def started(self, sync_uri: str) -> StartedSync:
        """``sync_uri`` with the payload noted for it (empty if none was)."""
        return StartedSync(sync_uri, dict(self._get(self.payload_key) or {}))

    def forget_sync(self) -> None:
        """Drop what this task remembered of its sync (it failed, or the task succeeded with it)."""
        self._delete(STATE_SYNC, self.payload_key, STATE_SYNC_REQUESTED)

    def forget(self) -> None:
        """Drop everything this task remembered: it is done, a later run starts over."""
        self.forget_sync()


def is_retry(context: Any) -> bool:
    """Whether this is a later try of the task (an earlier one may have sent what it never heard back about)."""
    try_number = getattr(context["ti"], "try_number", 1)
    return isinstance(try_number, int) and try_number > 1


def task_key(context: Any) -> str:
    """12 hex digits naming one task instance (dag, task, run, map index): the same on every try.

    It names what a task creates in Eloqua (its definitions) and beside its output (a hidden file).
    """
    ti = context["ti"]
    parts = (ti.dag_id, ti.task_id, ti.run_id, str(getattr(ti, "map_index", -1)))
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]
