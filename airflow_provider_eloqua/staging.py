"""Staging input rows in Eloqua, all or nothing.

A data POST that fails ambiguously (a 5xx, a read timeout, a connection dropped mid-request) may
or may not have staged its rows; resending it could stage them twice, and for activities, which
never update, that would create every activity twice. So the hook does not resend such a POST.
Instead this module clears the definition's staging area and starts the whole upload over from
the first chunk, a bounded number of times. Any failure that ends the upload also clears what was
staged, so a failed task leaves nothing half-loaded behind for a later sync to pick up.

Oracle's import limits (docs/eloqua-behaviour.md, "Import limits") allow about 250 MB and at most
500 uploads per sync. An input bigger than that is loaded in batches: batch ``k`` is the ``k``-th run of whole chunks that fits both
limits, cut greedily from the start of the chunk stream. The cut depends only on the input,
``chunk_bytes`` and the byte limit, so re-reading the input always yields the same batches; a restart of batch ``k``
(or an Airflow retry resuming at it) re-reads the input and skips the chunks of earlier batches
without POSTing them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_eloqua.content import Chunk
from airflow_provider_eloqua.exceptions import EloquaError
from airflow_provider_eloqua.prefetch import prefetched
from airflow_provider_eloqua.retry import may_have_taken_effect

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from airflow_provider_eloqua.urls import DefinitionUri

log = logging.getLogger(__name__)

DEFAULT_MAX_RESTARTS = 2
#: Oracle's import limits per sync (docs/eloqua-behaviour.md, "Import limits"); a bigger input is cut
#: into batches, one sync each.
MAX_STAGED_BYTES_PER_SYNC = 250_000_000
MAX_UPLOADS_PER_SYNC = 500


@dataclass
class StagingResult:
    rows: int = 0
    chunks: int = 0
    bytes: int = 0
    restarts: int = 0
    #: 1-based input row of the batch's first row (0 when nothing was staged).
    first_row: int = 0
    #: The input goes on past this batch: it needs another batch (and sync) after this one.
    more: bool = False


def iter_batches(
    chunks: Iterator[Chunk], max_bytes: int, max_uploads: int = MAX_UPLOADS_PER_SYNC
) -> Iterator[tuple[int, Chunk]]:
    """Yield ``(batch index, chunk)``: chunks grouped greedily, in order, so that each batch holds at
    most ``max_uploads`` chunks and ``max_bytes`` bytes (a batch always takes at least one chunk)."""
    batch = count = size = 0
    for chunk in chunks:
        if count and (count + 1 > max_uploads or size + len(chunk.body) > max_bytes):
            batch += 1
            count = size = 0
        count += 1
        size += len(chunk.body)
        yield batch, chunk


def _chunks_of_batch(
    chunks: Iterator[Chunk], batch: int, max_bytes: int, max_uploads: int, result: StagingResult
) -> Iterator[Chunk]:
    """The chunks of batch ``batch`` only; earlier ones are read and dropped, never POSTed."""
    for index, chunk in iter_batches(chunks, max_bytes, max_uploads):
        if index < batch:
            continue
        if index > batch:
            result.more = True
            return
        yield chunk


def _post_all(
    hook: EloquaHook, definition_uri: str | DefinitionUri, chunks: Iterator[Chunk], result: StagingResult
) -> None:
    # The next chunk is read, validated and encoded in a thread while this one is on the wire.
    sending = prefetched(chunks, sends=True)
    try:
        for chunk in sending:
            hook.upload_data(definition_uri, chunk.body, chunk.content_type)
            if not result.chunks:
                result.first_row = chunk.first_row
            result.rows += chunk.rows
            result.chunks += 1
            result.bytes += len(chunk.body)
            log.info(
                "Staged chunk %d: rows %d-%d (%d bytes, %s)",
                result.chunks,
                chunk.first_row,
                chunk.first_row + chunk.rows - 1,
                len(chunk.body),
                chunk.content_type.split(";")[0],
            )
            # Let the sent body go before the chunk after next is built: at most two chunks in memory.
            del chunk
    finally:
        sending.close()  # stops the producer thread and closes the input now, not when the frame is freed


def _clear_after_failure(
    hook: EloquaHook, definition_uri: str | DefinitionUri, result: StagingResult, exc: BaseException
) -> None:
    if result.chunks == 0 and result.restarts == 0 and not may_have_taken_effect(exc):
        return  # nothing can have been staged
    try:
        hook.clear_staged_data(definition_uri)
        log.warning("Cleared the staging area of %s so that no partial upload is left behind", definition_uri)
    except EloquaError as clear_exc:
        log.error("Could not clear the staging area of %s after a failed upload: %s", definition_uri, clear_exc)


def stage_input(
    hook: EloquaHook,
    definition_uri: str | DefinitionUri,
    make_chunks: Callable[[], Iterator[Chunk]],
    *,
    batch: int = 0,
    max_bytes: int = MAX_STAGED_BYTES_PER_SYNC,
    max_uploads: int = MAX_UPLOADS_PER_SYNC,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    sleep: Callable[[float], None] | None = None,
) -> StagingResult:
    """POST the chunks of batch ``batch`` of ``make_chunks()`` to ``definition_uri``'s staging area.

    ``make_chunks`` is called again for each restart, so it must re-open its input. The definition
    must not start a sync per POST (``isSyncTriggeredOnImport``): rows already synced could not be
    taken back by a restart. ``result.more`` says whether a later batch follows. Restarts are
    spaced as the hook's retry policy spaces retries (``Retry-After``, else its backoff), so that
    a brief outage is ridden out within the try; ``sleep`` waits (None: :func:`time.sleep`).
    """
    attempt = 0
    while True:
        result = StagingResult(restarts=attempt)
        try:
            chunks = _chunks_of_batch(make_chunks(), batch, max_bytes, max_uploads, result)
            _post_all(hook, definition_uri, chunks, result)
            return result
        except EloquaError as exc:
            if may_have_taken_effect(exc) and attempt < max_restarts:
                attempt += 1
                wait = hook.retry_policy.wait_after(exc, attempt)
                log.warning(
                    "Upload to %s failed ambiguously after %d chunk(s) (%s); in %.1fs clearing staging and "
                    "starting over (restart %d of %d) so that no row is staged twice",
                    definition_uri,
                    result.chunks,
                    exc,
                    wait,
                    attempt,
                    max_restarts,
                )
                (sleep or time.sleep)(wait)
                hook.clear_staged_data(definition_uri)
                continue
            _clear_after_failure(hook, definition_uri, result, exc)
            raise
        except BaseException as exc:
            # Not Eloqua's doing (the input store failed, the task timed out or was killed): still
            # leave nothing half-staged for the next sync of this definition to pick up.
            _clear_after_failure(hook, definition_uri, result, exc)
            raise
