"""Airflow Assets for what an import loads: ``eloqua://<site>/<entity>``, e.g. ``eloqua://AcmeCorp/contacts``
or ``eloqua://AcmeCorp/customObjects/12``.

The provider registers the ``eloqua`` scheme (``asset-uris`` in get_provider_info.py) with
:func:`sanitize_uri` (Airflow calls it on every such URI, so a malformed one fails where it is
written), :func:`create_asset` and :func:`convert_asset_to_openlineage`. The task that sees a load end
declares an alias of its own, ``AssetAlias("eloqua:<conn id>:<dag id>.<task id>")`` (:func:`alias_for`,
:func:`with_alias`), and attaches the concrete Asset once the sync has ended without error
(:func:`record_load`). One alias per task because Airflow records an alias's first event of an Asset by
reading, then inserting, the pair into ``asset_alias_asset``: two tasks doing so at once through one alias
make one of them fail on the ``asset_alias_asset_pkey`` unique constraint. Why an alias, and what a
downstream DAG schedules on: README, "Assets and lineage".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from airflow.sdk import Asset, AssetAlias

from airflow_provider_eloqua import urls

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

log = logging.getLogger(__name__)

SCHEME = "eloqua"
#: Eloqua site (company) names: letters, digits and a few separators; no "/" "@" ":" or spaces.
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _entity_path(entity: str, parent_id: int | str | None = None) -> str:
    """``contacts`` or ``customObjects/12``; raises ValueError naming a bad entity or parent id."""
    if entity not in urls.IMPORT_ENTITIES:
        raise ValueError(
            f"an eloqua:// asset names an import entity ({', '.join(urls.IMPORT_ENTITIES)}); got {entity!r}"
        )
    if entity in urls.PARENTED_ENTITIES:
        if parent_id is None or not str(parent_id).isdigit():
            raise ValueError(f"an eloqua:// asset of {entity} needs the numeric parent id; got {parent_id!r}")
        return f"{entity}/{int(parent_id)}"
    if parent_id is not None:
        raise ValueError(f"{entity} has no parent id; got {parent_id!r}")
    return entity


def _check_site(site: str) -> str:
    if not isinstance(site, str) or not _SITE.match(site):
        raise ValueError(f"an eloqua:// asset needs the Eloqua site (company) name; got {site!r}")
    return site


def asset_uri(site: str, entity: str, parent_id: int | str | None = None) -> str:
    """``eloqua://AcmeCorp/contacts``, ``eloqua://AcmeCorp/customObjects/12``."""
    return f"{SCHEME}://{_check_site(site)}/{_entity_path(entity, parent_id)}"


def eloqua_asset(site: str, entity: str, parent_id: int | str | None = None, **kwargs: Any) -> Asset:
    """The Asset an import of ``entity`` (and ``parent_id``) into ``site`` updates; schedule on it.

    :param site: the Eloqua site (company) name, as in the connection.
    :param entity: an import entity: ``contacts``, ``accounts``, ``customObjects``, ``events``, ...
    :param parent_id: the custom object or event id (``customObjects`` and ``events`` only).
    :param kwargs: passed to :class:`~airflow.sdk.Asset` (``extra``, ``group``, ...).
    """
    return Asset(uri=asset_uri(site, entity, parent_id), **kwargs)


def _task_alias(kind: str, eloqua_conn_id: str, dag_id: str, task_id: str, map_index: int | None) -> AssetAlias:
    """``<kind>:<conn id>:<dag id>.<task id>``, and ``[<map index>]`` for an instance of a mapped task."""
    index = f"[{map_index}]" if map_index is not None and map_index >= 0 else ""
    return AssetAlias(f"{kind}:{eloqua_conn_id}:{dag_id}.{task_id}{index}")


def alias_for(eloqua_conn_id: str, dag_id: str, task_id: str, map_index: int | None = -1) -> AssetAlias:
    """The outlet alias of the import task ``dag_id.task_id`` (its ``map_index`` instance, when mapped)."""
    return _task_alias(SCHEME, eloqua_conn_id, dag_id, task_id, map_index)


def export_alias(eloqua_conn_id: str, dag_id: str, task_id: str, map_index: int | None = -1) -> AssetAlias:
    """The outlet alias of the export task ``dag_id.task_id``: the file's Asset is attached to it once
    ``path`` has rendered and the file is written."""
    return _task_alias(f"{SCHEME}-export", eloqua_conn_id, dag_id, task_id, map_index)


AliasOf = Callable[..., AssetAlias]


def with_alias(task: Any, alias_of: AliasOf = alias_for) -> list[Any]:
    """``task``'s outlets plus its alias, when its DAG is known (built inside ``with DAG``/``@dag``, or
    unmapped on the worker); a task given its DAG later declares it when it records the event."""
    outlets = list(task.outlets or [])
    if not task.has_dag():
        return outlets
    return [*outlets, alias_of(task.eloqua_conn_id, task.dag_id, task.task_id)]


def _recording_alias(context: Any, task: Any, alias_of: AliasOf) -> AssetAlias:
    """The alias the running task instance records through, added to ``task``'s outlets if missing.

    Named after the task instance (``map_index`` included): Airflow builds the success payload's outlets
    from the running task's, and accepts an alias event only for an alias among them, creating the alias
    on its first event. An instance of a mapped task thus has one alias per map index (as many as the
    task's widest expansion), and two instances never share an (alias, asset) pair.
    """
    ti = context["ti"]
    alias = alias_of(task.eloqua_conn_id, ti.dag_id, ti.task_id, ti.map_index)
    if alias not in (task.outlets or []):
        task.outlets = [*(task.outlets or []), alias]
    return alias


def asset_for_definition(site: str, definition_uri: str) -> Asset | None:
    """The Asset a sync of ``definition_uri`` updates; None for a sync-action definition."""
    parsed = urls.parse_definition_uri(definition_uri)
    if parsed.kind != "imports":
        return None
    return eloqua_asset(site, parsed.entity, parsed.parent_id)


#: Summary keys carried as the asset event's extra (a downstream DAG reads them from
#: ``triggering_asset_events``).
_EVENT_KEYS = ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")


def record_load(
    context: Any, task: Any, *, site: str, definition_uri: str | None, summary: dict[str, Any]
) -> Asset | None:
    """Attach the Asset a finished load updated to the task instance's alias outlet; return it.

    Called once the last sync has ended and been accepted (an ``error``, or a warning with
    ``on_warning="fail"``, raises before). Nothing is attached for a sync-action definition or when
    nothing was synced.

    :param context: the task's context (its ``ti`` and ``outlet_events``).
    :param task: the running operator (its ``eloqua_conn_id`` and ``outlets``).
    :param site: the Eloqua site of the connection, as the hook read it.
    :param definition_uri: the definition the sync ran on (``/contacts/imports/30``).
    :param summary: the load's summary; its counts go into the event's extra.
    """
    if not definition_uri or not site:
        return None
    try:
        asset = asset_for_definition(site, definition_uri)
    except ValueError as exc:  # the load is done: a site name the scheme cannot hold must not fail it
        log.warning("No asset event for %s in site %r: %s", definition_uri, site, exc)
        return None
    if asset is None:
        return None
    extra = {key: summary[key] for key in _EVENT_KEYS if key in summary}
    context["outlet_events"][_recording_alias(context, task, alias_for)].add(asset, extra=extra)
    return asset


def sanitize_uri(parts: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``eloqua://``: the site, then an import entity (and its parent id)."""
    _check_site(parts.netloc)
    if parts.query:
        raise ValueError(f"an eloqua:// asset takes no query; got {parts.geturl()!r}")
    path = parts.path.strip("/")
    if path not in urls.IMPORT_ENTITIES or path in urls.PARENTED_ENTITIES:
        entity, _, parent_id = path.rpartition("/")  # customObjects/12, events/7
        _entity_path(entity or path, parent_id if entity else None)
    return parts


def create_asset(*, site: str, entity: str, parent_id: int | str | None = None, extra: Any = None) -> Asset:
    """Airflow's asset factory for ``eloqua://``."""
    return eloqua_asset(site, entity, parent_id, extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """OpenLineage dataset of an ``eloqua://`` Asset: namespace ``eloqua://<site>``, name the entity."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    site, _, path = asset.uri.removeprefix(f"{SCHEME}://").partition("/")
    return OpenLineageDataset(namespace=f"{SCHEME}://{site}", name=path)


# ------------------------------------------------------------------ exports: the file written


def file_asset_uri(path: Any) -> str:
    """The URI of the file at ``path``: ``file:///abs/path``, or ``s3://bucket/key`` (no connection id)."""
    from pathlib import Path

    from airflow_provider_eloqua.storage import as_path

    target = as_path(path)
    if isinstance(target, Path):
        return target.resolve().as_uri()
    if target.protocol in ("file", "local"):
        return Path(target.path).resolve().as_uri()
    return f"{target.protocol}://{target.bucket}/{target.key}"


def record_export(
    context: Any,
    task: Any,
    *,
    site: str,
    entity: str,
    parent_id: int | str | None,
    path: str,
    summary: dict[str, Any],
) -> Asset:
    """Attach the Asset of the file an export wrote to the task instance's alias outlet; return it.

    The event's extra carries the export's summary (``sync_uri``, ``rows``, ``bytes``, ``since``,
    ``until``) and its ``source``, the ``eloqua://<site>/<entity>`` Asset the rows came from.
    """
    extra: dict[str, Any] = {
        key: summary[key] for key in ("sync_uri", "rows", "bytes", "since", "until") if key in summary
    }
    try:
        extra["source"] = asset_uri(site, entity, parent_id)
    except ValueError as exc:  # the file is written: a site name the scheme cannot hold must not fail it
        log.warning("The export's source cannot be named as an eloqua:// asset: %s", exc)
    asset = Asset(uri=file_asset_uri(path), extra={})
    context["outlet_events"][_recording_alias(context, task, export_alias)].add(asset, extra=extra)
    return asset
