"""A sync's data into one file: paged, counted, and written whole or not at all.

* :func:`write_parts`: every part of a plan, in window order, into one :class:`~.writer.ExportFile`
  that appears at the path only once every part's rows equal its count; :class:`DataGone` when a
  part's data expired or was deleted meanwhile (the engine syncs that part again).
* :func:`pages`: ``GET /syncs/{id}/data`` until ``hasMore: false`` or an empty page, whichever
  first, never asking past ``totalResults``; :func:`check_rows`: the rows read against Eloqua's counts.
* :func:`download_sync`: an ended export sync started elsewhere (the split path), into a file.

:class:`ExportResult` is what an export wrote, whichever way it was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.definitions import discard_definition
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaError,
    EloquaInputError,
    EloquaRowCountError,
    EloquaSyncError,
    EloquaSyncGone,
)
from airflow_provider_eloqua.export.plan import Part, created_by_export, is_gone
from airflow_provider_eloqua.export.spec import ACTIVITY_SYNC_LIMIT, OutputSpec
from airflow_provider_eloqua.export.window import Window
from airflow_provider_eloqua.export.writer import ExportFile
from airflow_provider_eloqua.links import Links
from airflow_provider_eloqua.prefetch import prefetched
from airflow_provider_eloqua.sync.logs import SyncLog, read_sync_log
from airflow_provider_eloqua.sync.waiting import FAILED_STATUSES, TERMINAL_STATUSES, sync_status

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

#: "Successfully exported members to csv file.": the log entry that counts an export's rows.
EXPORTED_CODE = "ELQ-00102"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    :param sync_uri: the sync of the last part (the only one unless the window was split); None for
        an empty window.
    :param path: the file, as given.
    :param rows: the rows written, equal to what Eloqua says it exported.
    :param bytes: the file's size.
    :param window: the window exported.
    :param syncs: every part's sync, in window order.
    :param definition_uri: the definition the last sync synced (deleted once the file is written, unless
        the provider did not create it).
    """

    sync_uri: str | None
    path: str
    rows: int
    bytes: int
    window: Window
    syncs: tuple[str, ...] = ()
    definition_uri: str | None = None

    @classmethod
    def of(cls, out: ExportFile, parts: list[Part], window: Window, definition_uri: str | None = None) -> ExportResult:
        syncs = tuple(part.sync_uri for part in parts if part.sync_uri)
        return cls(
            sync_uri=syncs[-1] if syncs else None,
            path=out.path,
            rows=out.rows,
            bytes=out.bytes,
            window=window,
            syncs=syncs,
            definition_uri=definition_uri,
        )

    def summary(self) -> dict[str, Any]:
        """``{sync_uri, path, rows, bytes, since, until}``: the operator's XCom value (plus ``syncs`` when split)."""
        summary: dict[str, Any] = {"sync_uri": self.sync_uri, "path": self.path, "rows": self.rows, "bytes": self.bytes}
        summary.update(self.window.as_json())
        if len(self.syncs) > 1:
            summary["syncs"] = list(self.syncs)
        return summary


def exported_count(sync_log: SyncLog) -> int | None:
    """The rows an export sync's log says it exported (ELQ-00102); None when the log does not say."""
    return sync_log.count([EXPORTED_CODE]) if sync_log.has(EXPORTED_CODE) else None


class DataGone(EloquaError):
    """A part's sync or its data is gone (404, 410) while it is downloaded."""

    def __init__(self, part: Part, error: EloquaApiError) -> None:
        super().__init__(str(error))
        self.part = part
        self.error = error


def write_parts(
    hook: EloquaHook, parts: list[Part], output: OutputSpec, labels: tuple[str, ...], key: str
) -> ExportFile:
    """Page every part's sync, in order, into one file that appears at the path only if every part's
    rows equal its count; raises :class:`DataGone` (nothing written) when a part's data is gone."""
    with ExportFile(output, labels, key) as out:
        for part in parts:
            try:
                download_part(hook, part, out, output.page_size)
            except EloquaApiError as exc:
                if is_gone(exc):
                    raise DataGone(part, exc) from exc
                raise
            except EloquaRowCountError as exc:
                exc.part = part  # type: ignore[attr-defined]
                raise
        out.commit()
    return out


def download_part(hook: EloquaHook, part: Part, out: ExportFile, page_size: int) -> None:
    """Page one part's sync into ``out``: the next page is read while this one is written (at most
    two pages in memory); the rows read must equal what Eloqua says it exported."""
    sync_uri = part.sync_uri
    assert sync_uri is not None
    before = out.rows
    total: int | None = None
    for items, page_total in prefetched(pages(hook, sync_uri, page_size)):
        out.write_rows(items)
        total = page_total
    written = out.rows - before
    check_rows(sync_uri, written, {EXPORTED_CODE: part.count, "totalResults": total})
    hook.log.info("Sync %s: %d row(s) written (%s)", sync_uri, written, part.window.describe())


def pages(hook: EloquaHook, sync_uri: str, page_size: int) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """The pages of a sync's data, with ``totalResults`` once known: stops at ``hasMore`` false or an
    empty page, whichever comes first, moves on by the rows received, never asks past ``totalResults``."""
    offset, total = 0, None
    while total is None or offset < total:
        page = hook.get_sync_data(sync_uri, offset=offset, limit=page_size)
        items = page.get("items") or []
        if total is None and isinstance(page.get("totalResults"), int):
            total = page["totalResults"]
        yield items, total
        offset += len(items)
        if not items or not page.get("hasMore"):
            return


def check_rows(sync_uri: str, written: int, counts: dict[str, int | None]) -> None:
    """Fail unless ``written`` equals every count Eloqua gave (ELQ-00102 in the log, ``totalResults``)."""
    known = {name: value for name, value in counts.items() if value is not None}
    if not known:
        raise EloquaRowCountError(
            f"Eloqua's log of export sync {sync_uri} has no ELQ-00102 count and its data no totalResults, so "
            f"the {written} row(s) read cannot be confirmed complete"
        )
    if any(value != written for value in known.values()):
        said = " and ".join(f"{value} ({name})" for name, value in known.items())
        raise EloquaRowCountError(
            f"Eloqua says export sync {sync_uri} exported {said}, but {written} row(s) were read from its data; "
            "the file was not written. To sync the window again, clear the task that started the sync "
            "(EloquaExportOperator)"
        )


# ------------------------------------------------------------------ a sync started elsewhere (the split path)


def ended_export_sync(hook: EloquaHook, sync: dict[str, Any], sync_uri: str, status: str) -> tuple[str, int | None]:
    """An ended export sync's definition and ELQ-00102 count, its log shown; fails unless it succeeded.

    :param sync: the answer of ``GET /syncs/{id}``.
    """
    definition_uri = str(sync.get("syncedInstanceUri") or "")
    if urls.parse_definition_uri(definition_uri).kind != "exports":
        raise EloquaInputError(
            f"{sync_uri} syncs {definition_uri}, not an export definition: there is nothing to download"
        )
    sync_log = read_sync_log(hook, sync_uri, status)
    if status in FAILED_STATUSES:
        reasons = "; ".join(sync_log.errors[:5])
        raise EloquaSyncError(
            f"Eloqua export sync {sync_uri} ended with status {status!r}" + (f" ({reasons})" if reasons else "")
        )
    return definition_uri, exported_count(sync_log)


def download_sync(
    hook: EloquaHook,
    sync_uri: str,
    output: OutputSpec,
    *,
    key: str,
    window: Window | None = None,
    row_limit: int = ACTIVITY_SYNC_LIMIT,
    links: Links | None = None,
) -> ExportResult:
    """Write an ended export sync started elsewhere (``EloquaExportOperator(wait=False)``) to ``output``.

    The column labels are the definition's ``fields``; the rows must equal the log's ELQ-00102 count
    and ``totalResults``. An activity sync that exported ``row_limit`` rows (Eloqua stopped there) is
    refused: it cannot be split here. A definition the provider created for an export (its name ends
    ``[airflow-export <key>]``) is deleted once the file is written. ``links`` is told the sync, then its
    definition, as soon as each is known.
    """
    links = links or Links()
    links.sync(sync_uri)
    sync = hook.get_sync(sync_uri)
    links.definition(str(sync.get("syncedInstanceUri") or ""))
    status = sync_status(sync, sync_uri)
    if status not in TERMINAL_STATUSES:
        raise EloquaError(
            f"Eloqua sync {sync_uri} is still {status}: wait for it (EloquaSyncSensor) before downloading"
        )
    definition_uri, count = ended_export_sync(hook, sync, sync_uri, status)
    definition = hook.get_definition(definition_uri)
    activities = urls.parse_definition_uri(definition_uri).entity == "activities"
    if activities and count is not None and count >= row_limit and definition.get("maxRecords") is None:
        raise EloquaRowCountError(
            f"Export sync {sync_uri} exported {count:,} activities, Eloqua's limit for one activity sync: it may "
            "hold only part of its window. Export the window with EloquaExportOperator (wait=True), which splits it"
        )
    labels = tuple(definition.get("fields") or ())
    part = Part(window or Window(), definition_uri, sync_uri, count)
    try:
        out = write_parts(hook, [part], output, labels, key)
    except DataGone as gone:
        raise EloquaSyncGone(
            f"The data of export sync {sync_uri} is gone ({gone.error}): it expired (the definition's "
            "dataRetentionDuration) or was deleted, so a retry would find it gone too; start the export again"
        ) from gone
    if created_by_export(str(definition.get("name") or "")):
        discard_definition(hook, definition_uri, "export definition")
    return ExportResult.of(out, [part], part.window, definition_uri)
