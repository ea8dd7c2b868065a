"""Load definitions: every load stages into a definition it created itself and nobody else knows.

A load (one task instance, ``dag_id, task_id, run_id, map_index``, across its tries) creates its *load
definition* and stages only there. Its name is the user's plus ``[airflow-load <key>]``, the key naming the
task instance and the load, so no other definition has it; it carries ``autoDeleteDuration``. The create is
noted in the task state store before it is sent, and the URI before the first data POST: a later try of the
same load (see :mod:`.identity`) finds it again and clears its staging first, or, if the create's answer was
lost, finds it by its name and properties and stages there; a later try of another load deletes it. A
definition the user gives (``definition_uri``) is a *template*: read once per try and copied, every property
but the read-only ones. A :class:`Blueprint` is what a load definition is made from. Why: README, "Nothing
lost, nothing doubled: the guarantees"; Oracle's advice it follows: docs/eloqua-behaviour.md, "Staging areas,
definition reuse and auto-delete".
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.definitions import (
    MAX_NAME_LENGTH,
    RequestedDefinition,
    check_durations,
    delete_lost_definition,
    discard_definition,
    find_same_definition,
)
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError

if TYPE_CHECKING:
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


def definition_key(task: str, load: str) -> str:
    """12 hex digits naming one load (its key, see :mod:`.identity`) of one task instance (its key, see
    :func:`~airflow_provider_eloqua.sync.checkpoint.task_key`): what its load definition's name carries."""
    return hashlib.sha256(f"{task}\x1f{load}".encode()).hexdigest()[:12]


def load_name(name: str, key: str) -> str:
    """The user's name (cut to fit, without an earlier load's suffix) plus the suffix of ``key``
    (:func:`definition_key`): at most 100 characters."""
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


def copy_body(template: Mapping[str, Any], auto_delete_duration: str) -> dict[str, Any]:
    """A private copy of ``template``: every property it has but the read-only ones (fields,
    identifier, update rule, sync actions, data retention, its name, …), with the load's auto-delete."""
    body = {name: value for name, value in template.items() if name not in READ_ONLY_PROPERTIES}
    body["autoDeleteDuration"] = auto_delete_duration
    return body


class Blueprint:
    """What a load definition is made from: its version, known at once, and where and how it is
    created, made on first use (before anything is created; never on a try that reattaches).

    :param version: identifies what it is made from: a later try whose blueprint has another
        version is a new load (see :mod:`.identity`).
    :param name: what it is made from, in words, for the log.
    :param make: ``(where, body)``: ``where`` gives the definition's entity, parent and kind;
        ``body`` is what it is created with (its auto-delete included), named as the user named it.
    :param key: the task instance's key (see :func:`~airflow_provider_eloqua.sync.checkpoint.task_key`).
    """

    def __init__(
        self,
        version: str,
        name: str,
        make: Callable[[], tuple[DefinitionUri | DefinitionSpec, dict[str, Any]]],
        key: str,
    ) -> None:
        self.version = version
        self.name = name
        self._make = make
        self.key = key

    @cached_property
    def _made(self) -> tuple[DefinitionUri | DefinitionSpec, dict[str, Any]]:
        return self._make()

    @property
    def where(self) -> DefinitionUri | DefinitionSpec:
        return self._made[0]

    @property
    def body(self) -> dict[str, Any]:
        return self._made[1]

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.body.get("fields") or {}

    @property
    def identifier(self) -> str:
        return str(self.body.get("identifierFieldName") or "")

    def body_for(self, load: str) -> dict[str, Any]:
        """What the definition of load ``load`` (its key) is created with: :attr:`body`, named for the
        task instance and the load (:func:`load_name`), so that no other definition has that name."""
        return {**self.body, "name": load_name(str(self.body.get("name") or ""), definition_key(self.key, load))}


def ensure_load_definition(
    hook: EloquaHook,
    checkpoint: Checkpoint,
    load: str,
    blueprint: Blueprint,
    *,
    before_create: Callable[[], None] | None = None,
) -> LoadDefinition:
    """The load definition of this task instance: the one an earlier try of the same load created
    (if it still exists, or if its create answer was lost and Eloqua has it), else a new one created
    from ``blueprint``, after ``before_create()`` (which checks what can be checked before anything is
    created). The create is noted in ``checkpoint`` before it is sent.

    ``load`` is the load's key (see :class:`~airflow_provider_eloqua.load.identity.LoadIdentity`):
    a definition an earlier try created for another load is deleted, not reused.
    """
    known, requested = checkpoint.load_definition, checkpoint.requested_load_definition
    if known and known[1] == load:
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
        discard_definition(hook, known[0], "load definition")  # made for another load by an earlier try
    where, body = blueprint.where, blueprint.body_for(load)
    if requested and requested.source == load:
        found = find_same_definition(hook, where.entity, where.parent_id, where.kind, body)
        if found is not None:
            checkpoint.created_load_definition(found["uri"], load)
            log.info(
                "Found load definition %s (%s) again: an earlier try of this load created it but never heard "
                "Eloqua's answer; this load stages there, nothing is created twice",
                found["uri"],
                body["name"],
            )
            return LoadDefinition(uri=found["uri"], body={**body, **found}, reused=True)
    if requested:  # asked for another load, or made otherwise (the name given changed): never staged into
        delete_lost_definition(hook, requested, "load definition")
    if before_create is not None:
        before_create()
    checkpoint.requesting_load_definition(
        RequestedDefinition(body["name"], where.entity, where.parent_id, where.kind, load)
    )
    created = hook.create_definition(where.entity, body, where.parent_id, where.kind)
    uri = created["uri"]
    checkpoint.created_load_definition(uri, load)
    log.info("Created load definition %s (%s); this load stages only there", uri, body["name"])
    return LoadDefinition(uri=uri, body={**body, **created}, reused=False)


def _properties_digest(body: Mapping[str, Any]) -> str:
    """A digest of a definition's properties (the read-only ones and its name left out)."""
    kept = {name: value for name, value in body.items() if name not in READ_ONLY_PROPERTIES and name != "name"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def from_template(hook: EloquaHook, template: DefinitionUri, key: str, auto_delete_duration: str) -> Blueprint:
    """The blueprint of a private copy of ``template``, which is read here (once per try).

    Its version is the template's URI, ``updatedAt`` and a digest of its properties, so that a
    template changed between two tries (a mapping fixed, a column added) makes a new load.

    :param hook: the worker's hook.
    :param template: the definition the DAG names; never staged into.
    :param key: the task instance's key (see :func:`~airflow_provider_eloqua.sync.checkpoint.task_key`).
    :param auto_delete_duration: the copy's ``autoDeleteDuration``.
    """
    try:
        body = hook.get_definition(template)
    except EloquaApiError as exc:
        if exc.status != 404:
            raise
        raise EloquaInputError(
            f"definition_uri {template.uri} does not exist in Eloqua ({exc}): give the URI of an existing "
            "import definition to copy"
        ) from exc
    if body.get("isSyncTriggeredOnImport"):
        raise EloquaInputError(
            f"{template.uri} has isSyncTriggeredOnImport=true, so Eloqua would start a sync for every "
            "chunk and a failed upload could not be undone; use a definition with "
            "is_sync_triggered_on_import=False"
        )
    version = f"{template.uri} updatedAt {body.get('updatedAt')}, properties {_properties_digest(body)}"
    copy = copy_body(body, auto_delete_duration)
    return Blueprint(version, f"the template {template.uri}", lambda: (template, copy), key)


def from_spec(spec: DefinitionSpec, key: str) -> Blueprint:
    """The blueprint of a load definition created from ``spec``.

    :param spec: the definition arguments, validated.
    :param key: the task instance's key (see :func:`~airflow_provider_eloqua.sync.checkpoint.task_key`).
    """
    body = spec.body()
    return Blueprint(f"properties {_properties_digest(body)}", "the definition arguments", lambda: (spec, body), key)


def mapped_origin(arguments: Mapping[str, Any]) -> str:
    """The version of a load definition whose fields are mapped from the input's columns when it is
    created: a digest of the other definition arguments (the input's columns are the input's part
    of the load's identity, and a try that reattaches never makes the mapping)."""
    body = json.dumps(dict(arguments), sort_keys=True, default=str)
    return "mapped " + hashlib.sha256(body.encode()).hexdigest()[:16]


def from_mapping(make_spec: Callable[[], DefinitionSpec], version: str, key: str) -> Blueprint:
    """The blueprint of a load definition whose spec is made when it is first needed (a mapping of
    the input's columns to the site's fields), identified by ``version`` (see :func:`mapped_origin`)."""

    def make() -> tuple[DefinitionSpec, dict[str, Any]]:
        spec = make_spec()
        return spec, spec.body()

    return Blueprint(version, "the definition arguments", make, key)
