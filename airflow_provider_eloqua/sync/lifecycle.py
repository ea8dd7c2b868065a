"""Starting a sync, finding one whose creation answer was lost, and reattaching to it on a retry.

Any definition syncs this way (import, export or sync action): what the sync is for travels as the
checkpoint's opaque payload (see :mod:`.checkpoint`), so this module knows no capability.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError
from airflow_provider_eloqua.retry import may_have_taken_effect
from airflow_provider_eloqua.sync.checkpoint import StartedSync, SyncCheckpoint
from airflow_provider_eloqua.sync.waiting import FAILED_STATUSES, sync_status
from airflow_provider_eloqua.urls import DefinitionUri

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

#: How far back (before the request, for clock skew) a sync whose creation answer was lost is looked for.
LOST_SYNC_MARGIN_MINUTES = 10


def find_lost_sync(hook: EloquaHook, definition_uri: str, requested_at: datetime) -> str | None:
    """The sync an earlier try asked for but never heard back about, if Eloqua created it.

    Only syncs of that definition created since the request (less a margin for clock skew between
    the worker and Eloqua) count; the newest is the one.
    """
    cutoff = requested_at - timedelta(minutes=LOST_SYNC_MARGIN_MINUTES)
    try:
        syncs = hook.find_syncs(definition_uri, since=cutoff)
        return syncs[0].get("uri") if syncs else None
    except EloquaApiError as exc:
        raise EloquaError(
            f"An earlier try asked Eloqua to sync {definition_uri} but its answer was lost, and "
            f"the syncs could not be listed to find out whether it started ({exc}). Syncing again could "
            "move the rows twice, so this try stops; check the definition's syncs in Eloqua."
        ) from exc


def reattach(hook: EloquaHook, checkpoint: SyncCheckpoint) -> tuple[StartedSync, str] | None:
    """On a retry: the sync an earlier try started and its status, unless it failed (then the
    caller syncs again)."""
    sync_uri = checkpoint.sync_uri
    requested = checkpoint.sync_requested
    if not sync_uri and requested:
        sync_uri = find_lost_sync(hook, *requested)
        checkpoint.sync_not_requested()
        if sync_uri:
            hook.log.info("Found sync %s, whose creation answer an earlier try lost", sync_uri)
    if not sync_uri:
        return None
    status = sync_status(hook.get_sync(sync_uri), sync_uri)
    if status in FAILED_STATUSES:
        hook.log.warning("The earlier try's sync %s ended %r; syncing again", sync_uri, status)
        checkpoint.forget_sync()
        return None
    hook.log.info("Reattaching to sync %s (%s) started by an earlier try; nothing is synced again", sync_uri, status)
    started = checkpoint.started(sync_uri)
    checkpoint.started_sync(started)
    return started, status


def start_sync(
    hook: EloquaHook, checkpoint: SyncCheckpoint, definition: str | DefinitionUri, callback_url: str | None
) -> str:
    """POST /syncs, noting the request first so that a retry can find a sync whose answer was lost."""
    uri = urls.as_definition_uri(definition)
    checkpoint.requesting_sync(uri.uri)
    try:
        return hook.create_sync(uri, callback_url)["uri"]
    except EloquaError as exc:
        if not may_have_taken_effect(exc):
            checkpoint.sync_not_requested()  # certainly not created: nothing to look for
        raise
