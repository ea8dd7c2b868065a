"""Staging input rows in Eloqua, all or nothing.

A data POST that fails ambiguously (a 5xx, a read timeout, a connection dropped mid-request) may
or may not have staged its rows; resending it could stage them twice, and for activities, which
never update, that would create every activity twice. So the hook does not resend such a POST.
Instead this module clears the definition's staging area and starts the whole upload over from
the first chunk, a bounded number of times. Any failure that ends the upload also clears what was
staged, so a failed task leaves nothing half-loaded behind for a later sync to pick up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.chunking import Chunk
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError, EloquaTransportError

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

DEFAULT_MAX_RESTARTS = 2


@dataclass
class StagingResult:
    rows: int = 0
    chunks: int = 0
    bytes: int = 0
    restarts: int = 0
    #: Syncs Eloqua started itself (definitions with ``isSyncTriggeredOnImport``), one per POST.
    syncs: list[dict[str, Any]] = field(default_factory=list)


def _is_ambiguous(exc: EloquaError) -> bool:
    """The POST may have staged its rows although it failed (see the module docstring)."""
    if isinstance(exc, EloquaTransportError):
        return not exc.connect_phase
    return isinstance(exc, EloquaApiError) and exc.status >= 500


def _post_all(hook: EloquaHook, definition_uri: str, chunks: Iterator[Chunk], result: StagingResult) -> None:
    for chunk in chunks:
        answer = hook.upload_data(definition_uri, chunk.body, chunk.content_type)
        result.rows += chunk.rows
        result.chunks += 1
        result.bytes += len(chunk.body)
        if answer and answer.get("uri"):
            result.syncs.append(answer)
        log.info(
            "Staged chunk %d: rows %d-%d (%d bytes)",
            result.chunks,
            chunk.first_row,
            chunk.first_row + chunk.rows - 1,
            len(chunk.body),
        )


def _clear_after_failure(hook: EloquaHook, definition_uri: str, result: StagingResult, exc: EloquaError) -> None:
    if result.chunks == 0 and result.restarts == 0 and not _is_ambiguous(exc):
        return  # nothing can have been staged
    try:
        hook.clear_staged_data(definition_uri)
        log.warning("Cleared the staging area of %s so that no partial upload is left behind", definition_uri)
    except EloquaError as exc:
        log.error("Could not clear the staging area of %s after a failed upload: %s", definition_uri, exc)


def stage_input(
    hook: EloquaHook,
    definition_uri: str,
    make_chunks: Callable[[], Iterator[Chunk]],
    *,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    restartable: bool = True,
) -> StagingResult:
    """POST every chunk ``make_chunks()`` yields to ``definition_uri``'s staging area.

    ``make_chunks`` is called again for each restart, so it must re-open its input.
    ``restartable=False`` (a definition whose POSTs start syncs themselves) disables the
    clear-and-restart path: rows already synced cannot be taken back.
    """
    attempt = 0
    while True:
        result = StagingResult(restarts=attempt)
        try:
            _post_all(hook, definition_uri, make_chunks(), result)
            return result
        except EloquaError as exc:
            if restartable and _is_ambiguous(exc) and attempt < max_restarts:
                attempt += 1
                log.warning(
                    "Upload to %s failed ambiguously after %d chunk(s) (%s); clearing staging and starting "
                    "over (restart %d of %d) so that no row is staged twice",
                    definition_uri,
                    result.chunks,
                    exc,
                    attempt,
                    max_restarts,
                )
                hook.clear_staged_data(definition_uri)
                continue
            if restartable:
                _clear_after_failure(hook, definition_uri, result, exc)
            raise
