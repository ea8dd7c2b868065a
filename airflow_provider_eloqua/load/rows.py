"""Rejects of a sync, listed once, and mapped back to the input rows they came from.

Eloqua's ``recordIndex`` counts within one sync and its base is not documented, so a reject is
mapped to input row ``offset + recordIndex`` or the next one, whichever holds the reject's
identifier value; a reject that cannot be confirmed so gets no row number. Per sync the rejects
are listed once (kept in a spool file, so memory stays small however many there are) and the
input is read at most once, for the identifiers of just the rejected positions.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airflow_provider_eloqua.chunking import iter_file_rows
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.checkpoint import Batch
from airflow_provider_eloqua.load.spec import InputSpec, RowSource
from airflow_provider_eloqua.storage import open_path

#: Rejects kept in memory before the spool moves to a temporary file.
_SPOOL_BYTES = 4 * 1024 * 1024


class RejectList:
    """One listing of a sync's rejects, readable as often as needed.

    :param items: the rejects as Eloqua lists them (``GET /syncs/{id}/rejects``, every page).
    """

    def __init__(self, items: Iterable[Mapping[str, Any]]) -> None:
        # Closed by close() (a context manager's exit), or here if listing fails.
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0
        #: The rejects' ``recordIndex`` values (the positions to look up in the input).
        self.record_indexes: set[int] = set()
        try:
            for item in items:
                self._spool.write(json.dumps(item, ensure_ascii=False) + "\n")
                self.count += 1
                if isinstance(item.get("recordIndex"), int):
                    self.record_indexes.add(item["recordIndex"])
        except BaseException:
            self._spool.close()
            raise

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._spool.seek(0)
        for line in self._spool:
            yield json.loads(line)

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> RejectList:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RowLocator:
    """Maps a reject of one sync to its 1-based input row, confirmed by the identifier's value.

    :param identifier: the definition's identifier column.
    :param offset: input rows before the sync's batch.
    :param values: input row number -> identifier value, for (at least) the rows rejects may be.
    """

    identifier: str
    offset: int
    values: Mapping[int, Any] | Sequence[Mapping[str, Any]]

    def _value_at(self, row: int) -> Any:
        if isinstance(self.values, Mapping):
            return self.values.get(row)
        rows = self.values
        return rows[row - 1].get(self.identifier) if 1 <= row <= len(rows) else None

    def row_of(self, reject: Mapping[str, Any]) -> int | None:
        """The input row ``reject`` came from, or None when it cannot be confirmed."""
        index = reject.get("recordIndex")
        if not isinstance(index, int):
            return None
        value = (reject.get("fieldValues") or {}).get(self.identifier)
        for row in (self.offset + index, self.offset + index + 1):
            found = self._value_at(row)
            if found is not None and str(found) == str(value):
                return row
        return None


def locate_rows(source: InputSpec, identifier: str | None, offset: int, rejects: RejectList) -> RowLocator | None:
    """The locator of one sync's rejects: from the rows themselves, or one pass over the input file
    or row source (a query runs again).

    :param source: the load's input.
    :param identifier: the definition's identifier column (None: rows cannot be confirmed).
    :param offset: input rows before the sync's batch.
    :param rejects: the sync's rejects, listed once.
    """
    if not identifier or not rejects.count:
        return None
    if source.data is not None:
        return RowLocator(identifier, offset, source.data)
    wanted = {offset + index + step for index in rejects.record_indexes for step in (0, 1)}
    if not wanted:
        return None
    found: dict[int, Any] = {}
    last = max(wanted)
    with _streamed_rows(source) as rows:
        for row_number, row in enumerate(rows, 1):
            if row_number in wanted:
                found[row_number] = row.get(identifier)
            if row_number >= last:
                break
    return RowLocator(identifier, offset, found)


@contextmanager
def _streamed_rows(source: InputSpec) -> Iterator[Iterator[Mapping[str, Any]]]:
    """The rows of a file or a row source, read afresh from the start."""
    if source.rows is not None:
        with source.rows.open() as rows:
            yield rows
        return
    assert source.path is not None and source.format is not None  # InputSpec: exactly one input
    with open_path(source.path, "rb") as stream:
        yield iter_file_rows(stream, source.format)


# ------------------------------------------------------------------ the split path: another task maps the rejects


def staged_input(
    source: InputSpec,
    identifier: str | None,
    batch: Batch | None,
    *,
    earlier: Sequence[Mapping[str, Any]] = (),
    row_source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a task that sees only the sync (the sensor) needs to report the load as the load's own
    task does, as the upload's XCom ``staged_input`` (plain JSON; ``{}`` when nothing can be given).

    A file is named (``path``, ``format``) and read again there, for just the rejected positions;
    rows given as ``data`` travel as the identifier values of the sync's batch (``values``), since
    the other task cannot read them; a row source (a query) travels as ``row_source``, which the
    other task opens again (the query runs again). ``earlier`` lists the syncs of the batches before
    the last, each with its counts and its rejects' input rows (``reject_rows``), so that the other
    task's report and rejects file cover every batch.

    :param source: the load's input.
    :param identifier: the definition's identifier column.
    :param batch: the batch of the last sync (its offset and rows).
    :param earlier: the summaries of the earlier batches' syncs (the load's progress).
    :param row_source: ``source.rows`` described as plain JSON by the task that knows how to open it.
    """
    staged: dict[str, Any] = {"earlier": [dict(done) for done in earlier]} if earlier else {}
    if not identifier or batch is None:
        return staged
    where: dict[str, Any] = {**staged, "identifier": identifier, "offset": batch.offset}
    if source.path is not None:
        return {**where, "path": str(source.path), "format": source.format}
    if source.data is not None:
        rows = source.data[batch.offset : batch.offset + batch.rows]
        return {**where, "values": [None if (v := row.get(identifier)) is None else str(v) for row in rows]}
    if source.rows is not None and row_source is not None:
        return {**where, "row_source": dict(row_source)}
    return staged


def staged_locator(
    staged: Mapping[str, Any] | None, rejects: RejectList, rows: RowSource | None = None
) -> RowLocator | None:
    """The locator of a sync's rejects from the upload's ``staged_input`` (None: rows cannot be found).

    :param rows: the row source ``staged["row_source"]`` describes, opened by the caller (who knows how).
    """
    if not staged or not rejects.count or "identifier" not in staged:
        return None
    identifier, offset = staged["identifier"], staged["offset"]
    if "values" in staged:
        return RowLocator(identifier, offset, {offset + i: value for i, value in enumerate(staged["values"], 1)})
    if "path" in staged:
        return locate_rows(InputSpec(path=staged["path"], format=staged["format"]), identifier, offset, rejects)
    return locate_rows(InputSpec(rows=rows), identifier, offset, rejects) if rows is not None else None


def check_staged_input(staged: Any) -> dict[str, Any] | None:
    """``staged_input`` as a task received it (an upload's XCom), checked; raises EloquaInputError naming it."""
    if staged is None or staged == {} or staged == "":
        return None
    ok = isinstance(staged, Mapping)
    if ok and set(staged) - {"earlier"}:  # where the last sync's input rows are
        ok = (
            isinstance(staged.get("identifier"), str)
            and isinstance(staged.get("offset"), int)
            and (
                isinstance(staged.get("values"), list)
                or isinstance(staged.get("path"), str)
                or isinstance(staged.get("row_source"), Mapping)
            )
        )
    earlier = staged.get("earlier", []) if ok else None
    ok = ok and isinstance(earlier, list) and all(isinstance(e, Mapping) and e.get("sync_uri") for e in earlier)
    if not ok:
        raise EloquaInputError(
            "staged_input must be the staged_input XCom of an Eloqua upload (identifier, offset, and path, values "
            f"or row_source; earlier batches); got {staged!r:.200}"
        )
    return dict(staged)
