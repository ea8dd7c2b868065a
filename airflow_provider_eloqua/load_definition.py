"""Load definitions: every load stages into a definition it created itself and nobody else knows.

Eloqua's staging area belongs to a definition: every data POST to it adds rows, a sync takes all
of them, and ``DELETE …/data`` clears all of them. Two loads staging into one definition therefore
mix their rows (one sync takes both loads' rows, the other takes none), and one load clearing its
staging after a failed POST deletes the other's rows. Nothing can be locked on Eloqua's side, and
checking that a shared definition is idle before using it is a race between two tasks. Oracle's
advice (Bulk API best practices, https://docs.oracle.com/en/cloud/saas/marketing/eloqua-develop/
Developers/BulkAPI/BestPractices/best-practices.htm): "A Bulk API definition can be reused as long
as there is not an active sync using that definition. If there is any chance a definition is
still in an active state in a sync, a new definition should be used."

So a load (one task instance, ``dag_id, task_id, run_id, map_index``, across its tries) creates
its own definition, the *load definition*, and stages only there:

* its URI goes into the task state store as soon as it is created, before the first data POST, so
  a retry of the same task instance finds it again and clears its staging before uploading (safe:
  nobody else stages there). A retry that finds it gone (auto-deleted) creates a new one; its
  staging went with it.
* its name is the user's name plus ``[airflow-load <key>]``, a short key derived from the task
  instance, at most 100 characters in all, so that it can be traced to the run that made it.
* it carries ``autoDeleteDuration``, so that a load that fails for good cleans itself up; after
  the load's last sync has ended and been reported the provider deletes it itself.

A definition the user gives (``definition_uri``) is a *template*: it is read once and copied,
every property but the read-only ones, with the load's name and auto-delete.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.definitions import MAX_NAME_LENGTH, check_durations
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

#: Task state store key: ``{"uri": <load definition>, "source": <what it was made from>}``.
STATE_LOAD_DEFINITION = "eloqua_load_definition"
#: Two days: outlives a nightly DAG's retries (and a six-hour wait) with room to spare. Oracle's
#: minimum is PT1H; the provider deletes the definition itself once the load has ended.
DEFAULT_LOAD_AUTO_DELETE = "P2D"
#: Properties Eloqua computes itself; a copy leaves them out.
READ_ONLY_PROPERTIES = frozenset({"uri", "createdAt", "createdBy", "updatedAt", "updatedBy", "kbUsed"})
_MARKER = "airflow-load"
_SUFFIX = re.compile(r"\s*\[" + _MARKER + r" [0-9a-f]{12}\]$")


@dataclass(frozen=True)
class LoadDefinition:
    """The definition one load stages into; ``reused`` when an earlier try created it."""

    uri: str
    body: dict[str, Any]
    reused: bool


def load_key(context: Context) -> str:
    """12 hex digits naming one task instance (dag, task, run, map index): the same on every try."""
    ti = context["ti"]
    parts = (ti.dag_id, ti.task_id, ti.run_id, str(getattr(ti, "map_index", -1)))
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]


def load_name(name: str, key: str) -> str:
    """The user's name (cut to fit, without an earlier load's suffix) plus this load's suffix."""
    suffix = f" [{_MARKER} {key}]"
    base = _SUFFIX.sub("", name or "").strip() or "Airflow load"
    return base[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix


def is_load_definition(definition: Mapping[str, Any]) -> bool:
    """True for a definition a load created for itself (its name carries the load suffix)."""
    return bool(_SUFFIX.search(str(definition.get("name") or "")))


def check_auto_delete(auto_delete_duration: str) -> str:
    """Validate the load definition's ``autoDeleteDuration`` (at least PT1H); raises naming the argument."""
    check_durations(None, auto_delete_duration)
    return auto_delete_duration


def copy_body(template: Mapping[str, Any], key: str, auto_delete_duration: str) -> dict[str, Any]:
    """A private copy of ``template``: every property it has but the read-only ones (fields,
    identifier, update rule, sync actions, data retention, …), with the load's name and auto-delete."""
    body = {name: value for name, value in template.items() if name not in READ_ONLY_PROPERTIES}
    body["name"] = load_name(str(template.get("name") or ""), key)
    body["autoDeleteDuration"] = auto_delete_duration
    return body


def ensure_load_definition(
    hook: EloquaHook,
    context: Context,
    *,
    source: str,
    entity: str,
    parent_id: int | str | None,
    kind: str,
    make_body: Callable[[], Mapping[str, Any]],
) -> LoadDefinition:
    """The load definition of this task instance: the one an earlier try created (if it still exists
    and was made from the same ``source``), else a new one created from ``make_body()``.

    ``source`` says what the definition is made from (the template's URI, or the operator's spec),
    so that a retry whose DAG changed in between gets a new one. ``make_body`` is only called when a
    definition is created (a template is read only then).
    """
    state = context.get("task_state_store")
    known = _remembered(state)
    if known and known[1] == source:
        try:
            existing = hook.get_definition(known[0])
            log.info("Reusing load definition %s, created by an earlier try of this task", known[0])
            return LoadDefinition(uri=known[0], body=existing, reused=True)
        except EloquaApiError as exc:
            if exc.status != 404:
                raise
            log.warning(
                "Load definition %s is gone (auto-deleted?); creating a new one (what was staged went with it)",
                known[0],
            )
    elif known:
        delete_load_definition(hook, known[0])  # made from another template by an earlier try
    body = dict(make_body())
    created = hook.create_definition(entity, body, parent_id, kind)
    uri = created["uri"]
    if state:
        state.set(STATE_LOAD_DEFINITION, {"uri": uri, "source": source})
    log.info("Created load definition %s (%s); this load stages only there", uri, body.get("name"))
    return LoadDefinition(uri=uri, body={**body, **created}, reused=False)


def _remembered(state: Any) -> tuple[str, str] | None:
    """``(uri, source)`` of the load definition an earlier try noted in the task state store."""
    value = state.get(STATE_LOAD_DEFINITION) if state else None
    if isinstance(value, dict) and isinstance(value.get("uri"), str):
        return value["uri"], str(value.get("source"))
    return None


def delete_load_definition(hook: EloquaHook, uri: str) -> None:
    """Delete a load definition, best effort: its ``autoDeleteDuration`` is the backstop."""
    try:
        hook.delete_definition(uri)
        log.info("Deleted load definition %s", uri)
    except EloquaApiError as exc:
        if exc.status != 404:
            log.warning("Could not delete load definition %s (%s); Eloqua deletes it when it expires", uri, exc)
    except EloquaError as exc:
        log.warning("Could not delete load definition %s (%s); Eloqua deletes it when it expires", uri, exc)


def forget_load_definition(context: Context) -> None:
    """Drop the load definition from the task state store: the load is over."""
    state = context.get("task_state_store")
    if state:
        state.delete(STATE_LOAD_DEFINITION)
