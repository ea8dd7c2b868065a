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
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.definitions import MAX_NAME_LENGTH, check_durations
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError, EloquaInputError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from airflow_provider_eloqua.load.checkpoint import Checkpoint
    from airflow_provider_eloqua.load.spec import DefinitionSpec
    from airflow_provider_eloqua.urls import DefinitionUri

log = logging.getLogger(__name__)

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
    checkpoint: Checkpoint,
    source: str,
    where: DefinitionUri | DefinitionSpec,
    make_body: Callable[[], Mapping[str, Any]],
) -> LoadDefinition:
    """The load definition of this task instance: the one an earlier try created (if it still exists
    and was made from the same ``source``), else a new one created from ``make_body()``.

    ``source`` says what the definition is made from (the template's URI, or the operator's spec),
    so that a retry whose DAG changed in between gets a new one. ``where`` gives its entity, parent
    and kind. ``make_body`` is only called when a definition is created (a template is read only then).
    """
    known = checkpoint.load_definition
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
    created = hook.create_definition(where.entity, body, where.parent_id, where.kind)
    uri = created["uri"]
    checkpoint.created_load_definition(uri, source)
    log.info("Created load definition %s (%s); this load stages only there", uri, body.get("name"))
    return LoadDefinition(uri=uri, body={**body, **created}, reused=False)


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


def template_origin(template: DefinitionUri) -> str:
    """The origin of a load definition copied from ``template``: its URI."""
    return template.uri


def spec_origin(spec: DefinitionSpec) -> str:
    """The origin of a load definition created from ``spec``: a digest of the body it asks for."""
    body = json.dumps(spec.body(), sort_keys=True, default=str)
    return "spec " + hashlib.sha256(body.encode()).hexdigest()[:16]


def mapped_origin(arguments: Mapping[str, Any]) -> str:
    """The origin of a load definition whose fields are mapped from the input's columns when it is
    created: a digest of the other definition arguments (the origin is needed before the mapping is
    made, and on a retry that never makes it)."""
    body = json.dumps(dict(arguments), sort_keys=True, default=str)
    return "mapped " + hashlib.sha256(body.encode()).hexdigest()[:16]


def copy_template(
    hook: EloquaHook, checkpoint: Checkpoint, template: DefinitionUri, key: str, auto_delete_duration: str
) -> LoadDefinition:
    """The load definition copied from ``template``, which is read only when a copy is made.

    :param hook: the worker's hook.
    :param checkpoint: the task's checkpoint (remembers the copy across tries).
    :param template: the definition the DAG names; never staged into.
    :param key: the load's key (see :func:`load_key`).
    :param auto_delete_duration: the copy's ``autoDeleteDuration``.
    """

    def make_body() -> dict[str, Any]:
        body = hook.get_definition(template)
        if body.get("isSyncTriggeredOnImport"):
            raise EloquaInputError(
                f"{template.uri} has isSyncTriggeredOnImport=true, so Eloqua would start a sync for every "
                "chunk and a failed upload could not be undone; use a definition with "
                "is_sync_triggered_on_import=False"
            )
        log.info("Copying %s (%s) into a load definition of this load's own", template.uri, body.get("name"))
        return copy_body(body, key, auto_delete_duration)

    return ensure_load_definition(hook, checkpoint, template_origin(template), template, make_body)


def create_from_spec(hook: EloquaHook, checkpoint: Checkpoint, spec: DefinitionSpec, key: str) -> LoadDefinition:
    """The load definition created from ``spec`` (named for the load), or found again on a retry."""
    body = {**spec.body(), "name": load_name(spec.name, key)}
    return ensure_load_definition(hook, checkpoint, spec_origin(spec), spec, lambda: body)
