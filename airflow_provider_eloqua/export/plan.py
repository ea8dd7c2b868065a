"""What one export remembers across the tries of its task, and the definitions it makes for itself.

* :class:`Plan`: the export's window as :class:`Part`\\ s in window order, each with the definition
  and sync that exported it and the count its log reports; :func:`origin_of` names the export a
  plan belongs to.
* :class:`ExportCheckpoint`: the task state store's view of the export (the sync in flight, the
  plan, the definition being synced or asked for, the resolved window).
* The export's own definitions: named by :func:`export_name` with a key of their own
  (:func:`new_definition_key`), recognized by :func:`created_by_export`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_eloqua.definitions import MAX_NAME_LENGTH, RequestedDefinition
from airflow_provider_eloqua.exceptions import EloquaApiError
from airflow_provider_eloqua.export.spec import ExportSpec
from airflow_provider_eloqua.export.window import Window, close
from airflow_provider_eloqua.sync.checkpoint import SyncCheckpoint

#: Answers that mean a sync, its data or a definition no longer exists (expired, deleted).
GONE_STATUSES = frozenset({404, 410})
_MARKER = "airflow-export"
_MARKER_SUFFIX = re.compile(r"\[" + _MARKER + r" [0-9a-f]{12}\]$")


@dataclass
class Part:
    """One window of the plan: pending until its sync has ended and been counted."""

    window: Window
    definition_uri: str | None = None
    sync_uri: str | None = None
    count: int | None = None

    @property
    def synced(self) -> bool:
        return self.sync_uri is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "window": self.window.as_json(),
            "definition_uri": self.definition_uri,
            "sync_uri": self.sync_uri,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Part:
        return cls(
            Window.from_json(value["window"]), value.get("definition_uri"), value.get("sync_uri"), value.get("count")
        )


@dataclass
class Plan:
    """The parts of one export, in window order; ``origin`` names the export they belong to."""

    origin: str
    parts: list[Part] = field(default_factory=list)
    resyncs: int = 0

    def next_pending(self) -> int | None:
        return next((index for index, part in enumerate(self.parts) if not part.synced), None)

    def as_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "parts": [part.as_json() for part in self.parts], "resyncs": self.resyncs}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Plan:
        return cls(
            value["origin"], [Part.from_json(part) for part in value.get("parts") or []], value.get("resyncs", 0)
        )


def origin_of(spec: ExportSpec) -> str:
    """A digest of what the export asks Eloqua for (its window included): a plan counts only for it."""
    body = json.dumps({"entity": spec.entity, "parent": spec.parent, **spec.body()}, sort_keys=True, default=str)
    return "export " + hashlib.sha256(body.encode()).hexdigest()[:16]


class ExportCheckpoint(SyncCheckpoint):
    """What one task's export remembers across its tries: the sync in flight (the sync layer's keys,
    with the part's window and definition as payload), the plan, and the definition being synced (or, until
    its create is answered, asked for)."""

    payload_key = "eloqua_export_sync"
    _PLAN = "eloqua_export_plan"
    _DEFINITION = "eloqua_export_definition"
    _WINDOW = "eloqua_export_window"
    _TEMPLATE = "eloqua_export_template"

    def window(self, given: Window, now: datetime, lag: timedelta) -> Window:
        """The window to export: ``given``; with ``since`` but no ``until``, ``until`` is ``now - lag``
        at the first try, kept so that every later try (and the resumed deferred task) exports the same
        window. Without either bound the export is everything as it is now."""
        if given.until is not None or given.since is None:
            return given
        stored = self._get(self._WINDOW)
        if isinstance(stored, dict) and stored.get("given") == given.as_json():
            return Window.from_json(stored["resolved"])
        resolved = close(given, now, lag)
        self._set(self._WINDOW, {"given": given.as_json(), "resolved": resolved.as_json()})
        return resolved

    def plan(self, origin: str) -> Plan | None:
        stored = self._get(self._PLAN)
        if isinstance(stored, dict) and stored.get("origin") == origin:
            return Plan.from_json(stored)
        return None

    def other_plan(self, origin: str) -> Plan | None:
        """A plan an earlier try made for another export (the DAG changed): its definitions are cleaned up."""
        stored = self._get(self._PLAN)
        if isinstance(stored, dict) and stored.get("origin") != origin:
            return Plan.from_json(stored)
        return None

    def save_plan(self, plan: Plan) -> None:
        self._set(self._PLAN, plan.as_json())

    @property
    def definition(self) -> tuple[str, Window] | None:
        """``(uri, window)`` of the definition created for the part being synced."""
        stored = self._get(self._DEFINITION)
        if isinstance(stored, dict) and stored.get("uri"):
            return stored["uri"], Window.from_json(stored["window"])
        return None

    def created_definition(self, uri: str, window: Window) -> None:
        self._set(self._DEFINITION, {"uri": uri, "window": window.as_json()})

    @property
    def requested_definition(self) -> tuple[RequestedDefinition, Window] | None:
        """The definition an earlier try asked for the part over ``window`` (its ``source``: the export's
        origin), if the answer (the URI) never arrived."""
        stored = self._get(self._DEFINITION)
        if isinstance(stored, dict) and not stored.get("uri") and isinstance(stored.get("requested"), dict):
            return RequestedDefinition(**stored["requested"]), Window.from_json(stored["window"])
        return None

    def requesting_definition(self, requested: RequestedDefinition, window: Window) -> None:
        """Note the definition about to be asked for the part over ``window``, so that a later try finds it
        if the answer is lost (the URI replaces the note once it arrives)."""
        self._set(self._DEFINITION, {"requested": asdict(requested), "window": window.as_json()})

    def forget_definition(self) -> None:
        self._delete(self._DEFINITION)

    def created_template(self, body: dict[str, Any]) -> str | None:
        """The definition an earlier try of EloquaCreateExportOperator created with ``body``, if any."""
        stored = self._get(self._TEMPLATE)
        if isinstance(stored, dict) and stored.get("body") == json.loads(json.dumps(body)):
            return str(stored["uri"])
        return None

    def note_template(self, uri: str, body: dict[str, Any]) -> None:
        self._set(self._TEMPLATE, {"uri": uri, "body": body})

    def forget_export(self) -> None:
        """Drop everything: the export is done, a later run of the task exports again."""
        self.forget_sync()
        self.forget_definition()
        self._delete(self._PLAN, self._WINDOW)


# ------------------------------------------------------------------ the export's own definitions


def new_definition_key() -> str:
    """12 hex digits drawn at random for one create of a part's definition (48 bits): the name
    :func:`export_name` makes with it is that create's alone, not another task's, another part's or an
    earlier create's of the same part, so that a definition found by it is the one asked for."""
    return secrets.token_hex(6)


def export_name(name: str, key: str) -> str:
    """The user's name (cut to fit) plus ``[airflow-export <key>]`` (:func:`new_definition_key`): at most
    100 characters."""
    suffix = f" [{_MARKER} {key}]"
    return (name.strip() or "Airflow export")[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix


def created_by_export(name: str) -> bool:
    """Whether a definition of this name is one an export made for itself (see :func:`export_name`)."""
    return _MARKER_SUFFIX.search(name) is not None


def is_gone(exc: BaseException) -> bool:
    """Whether ``exc`` is Eloqua's answer that the sync, its data or the definition no longer exists."""
    return isinstance(exc, EloquaApiError) and exc.status in GONE_STATUSES
