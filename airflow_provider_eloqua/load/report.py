"""Reporting a finished import sync: its counts by Oracle's codes, its rejects (logged and written to a file).

The import's part of the end of a sync task (:func:`airflow_provider_eloqua.sync.ending.end_sync`),
for the load engine and the sensor alike, so that both report an import sync the same way. Pure
reporting: what a status means, how to wait and how a task ends live in :mod:`airflow_provider_eloqua.sync`.
XCom only ever gets the small summary dict; rejected rows go to a file the user names. A load's
syncs are reported by :func:`report_sync` (one sync, its rejects mapped to input rows) and
:func:`report_load` (its last sync, with the earlier batches' counts added in).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_eloqua.exceptions import EloquaInputError, EloquaRejectedRowsError, EloquaRowCountError
from airflow_provider_eloqua.load.checkpoint import Batch, Checkpoint, LoadSync
from airflow_provider_eloqua.load.rows import RejectList, locate_rows, staged_locator
from airflow_provider_eloqua.storage import open_path, output_format
from airflow_provider_eloqua.sync.ending import REFUSED_HINT
from airflow_provider_eloqua.sync.logs import STATUS_CODE, SyncLog, entry_count, read_sync_log
from airflow_provider_eloqua.sync.waiting import FAILED_STATUSES

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from airflow_provider_eloqua.load.spec import InputSpec, RowSource

log = logging.getLogger(__name__)

#: Oracle's status codes (docs/eloqua-behaviour.md, "Sync logs") whose count is of records created:
#: contacts, accounts, custom object data, opportunities ("Total new records."), activities, event data.
CREATED_CODES = frozenset({"ELQ-00004", "ELQ-00005", "ELQ-00007", "ELQ-00049", "ELQ-00069", "ELQ-00077"})
#: ... of records updated: contacts, accounts, custom object data, event data.
UPDATED_CODES = frozenset({"ELQ-00022", "ELQ-00023", "ELQ-00012", "ELQ-00079"})
#: ... of records linked (custom object data and event data mapped to contacts or accounts).
LINKED_CODES = frozenset({"ELQ-00025", "ELQ-00078"})
#: Codes that restate the status (ELQ-00101) or count rejected rows (kept in ``rejected``, from the
#: rejects themselves): not repeated in ``other_counts``.
_NOT_OTHER = frozenset({STATUS_CODE, "ELQ-00060"})
PROCESSED_CODE = "ELQ-00001"
_COUNTED = CREATED_CODES | UPDATED_CODES | LINKED_CODES | {PROCESSED_CODE}
REJECT_COLUMNS = ("input_row", "record_index", "status_code", "message", "invalid_fields", "field_values")
#: Rejects shown in the task log as examples; the rest are counted and written to rejects_path.
REJECTS_IN_LOG = 10
#: A rejected value is logged only this long (the rejects file keeps it whole).
VALUE_IN_LOG_CHARS = 100
#: A column is secret-like when its name, lower-cased with every run of non-word characters made
#: ``_``, contains one of these words (Airflow's own list for connection extras and Variables) or
#: one of the names in ``[core] sensitive_var_conn_names``: its rejected values are never logged.
SECRET_LIKE_WORDS = (
    "access_key",
    "access_token",
    "api_key",
    "apikey",
    "auth_header",
    "authorization",
    "bearer",
    "connection_string",
    "dsn",
    "keyfile_dict",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "secret",
    "service_account",
    "service_key",
    "token",
)
#: The counts a load of several syncs (one per batch) adds up.
SUMMED_COUNTS = ("rows_processed", "created", "updated", "linked", "rejected", "log_warnings")


class RowFinder(Protocol):
    """Finds the input row a reject came from (see :class:`airflow_provider_eloqua.load.rows.RowLocator`)."""

    def row_of(self, reject: Mapping[str, Any]) -> int | None: ...


@dataclass
class SyncReport:
    """What a sync did, from its log's status codes (never from the words of its messages).

    ``created``, ``updated`` and ``linked`` count records, by Oracle's codes for them;
    ``other_counts`` keeps every other counting code by code (e-mail addresses created, ELQ-00033,
    are addresses, not records); ``rejected`` counts rejected rows; ``log_warnings`` counts the
    *entries* of severity ``warning`` in the sync log (one entry may stand for many rows, or for
    none: it is not a row count); ``actions`` says what each sync action of the definition did.
    """

    sync_uri: str
    status: str
    rows_processed: int = 0
    created: int = 0
    updated: int = 0
    linked: int = 0
    rejected: int = 0
    log_warnings: int = 0
    other_counts: dict[str, int] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    #: ``"ELQ-00143 Definition deleted before sync finished."``: the sync log's errors, for the task's error.
    errors: list[str] = field(default_factory=list)
    #: The log carried ELQ-00001 (Total records processed): ``rows_processed`` is Eloqua's count.
    processed_logged: bool = False

    def issues(self) -> str:
        return f"{self.rejected} rejected"

    def summary(self) -> dict[str, Any]:
        """The XCom value: small, JSON-plain, never bulk data."""
        summary = asdict(self)
        del summary["errors"], summary["processed_logged"]
        return summary


def _tally_logs(report: SyncReport, sync_log: SyncLog) -> None:
    """Count the log's entries by what Oracle's codes say of an import's records."""
    for item in sync_log.entries:
        code = str(item.get("statusCode") or "")
        if code and code not in _COUNTED and code not in _NOT_OTHER:
            report.other_counts[code] = report.other_counts.get(code, 0) + entry_count(item)
    report.processed_logged = sync_log.has(PROCESSED_CODE)
    report.rows_processed = sync_log.count({PROCESSED_CODE})
    report.created = sync_log.count(CREATED_CODES)
    report.updated = sync_log.count(UPDATED_CODES)
    report.linked = sync_log.count(LINKED_CODES)
    report.log_warnings = sync_log.warnings
    report.errors = sync_log.errors


def is_secret_like(column: str) -> bool:
    """Whether a column's values must stay out of the task log (see ``SECRET_LIKE_WORDS``)."""
    from airflow.sdk.configuration import conf

    extra = conf.get("core", "sensitive_var_conn_names", fallback="") or ""
    words = SECRET_LIKE_WORDS + tuple(word.strip().lower() for word in extra.split(",") if word.strip())
    name = re.sub(r"\W+", "_", column.strip().lower())
    return any(word in name for word in words)


def _offending_values(record: Mapping[str, Any]) -> str:
    """``Email='bad-3'``: the reject's invalid fields and the values Eloqua refused, as the log shows
    them (a secret-like column's value hidden, a long one cut)."""
    shown = []
    for column in record["invalid_fields"]:
        value = record["field_values"].get(column)
        if is_secret_like(str(column)):
            shown.append(f"{column}=<hidden: secret-like column>")
        else:
            text = repr(value)
            cut = text if len(text) <= VALUE_IN_LOG_CHARS else text[:VALUE_IN_LOG_CHARS] + "..."
            shown.append(f"{column}={cut}")
    return ", ".join(shown) or "no field named"


def reject_record(item: Mapping[str, Any], rows: RowFinder | None = None) -> dict[str, Any]:
    """One reject as reported (logged, written to ``rejects_path``), with its input row if ``rows`` finds it."""
    return {
        "input_row": rows.row_of(item) if rows else None,
        "record_index": item.get("recordIndex"),
        "status_code": item.get("statusCode"),
        "message": item.get("message"),
        "invalid_fields": list(item.get("invalidFields") or []),
        "field_values": dict(item.get("fieldValues") or {}),
    }


@contextmanager
def _reject_writer(rejects_path: str | None) -> Iterator[Any]:
    """Yield a function writing one reject record, to CSV, NDJSON or a JSON array by the path's extension.

    The file is created with the first reject: a sync that rejected nothing writes no file (no
    header-only CSV, no empty NDJSON or JSON array), so a file at ``rejects_path`` means rows were
    rejected.
    """
    if not rejects_path:
        yield None
        return
    fmt = output_format(rejects_path, "rejects_path")
    with ExitStack() as files:
        sink = None

        def write(record: dict) -> None:
            nonlocal sink
            if sink is None:
                handle = files.enter_context(open_path(rejects_path, "w"))
                sink = _reject_sink(handle, fmt)
                if fmt == "json":
                    files.callback(handle.write, "]\n")
            sink(record)

        yield write


def _reject_sink(handle: Any, fmt: str) -> Callable[[dict], None]:
    """The writer of one reject record into the just-opened ``handle`` (a CSV gets its header first,
    a JSON array its opening bracket; the caller closes the array)."""
    if fmt == "ndjson":
        return lambda record: handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if fmt == "json":
        separator = "["

        def write_item(record: dict) -> None:
            nonlocal separator
            handle.write(separator + json.dumps(record, ensure_ascii=False))
            separator = ",\n"

        return write_item
    writer = csv.writer(handle)
    writer.writerow(REJECT_COLUMNS)

    def write(record: dict) -> None:
        writer.writerow(
            [
                "" if record["input_row"] is None else record["input_row"],
                record["record_index"],
                record["status_code"],
                record["message"],
                ";".join(record["invalid_fields"]),
                json.dumps(record["field_values"], ensure_ascii=False),
            ]
        )

    return write


def _action_results(report: SyncReport, sync_actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each sync action with the number of records it was applied to.

    Oracle's sync log has no per-action code: a sync's actions apply to every record it accepted,
    which is the rows it processed less the rows it rejected.
    """
    applied = max(report.rows_processed - report.rejected, 0)
    return [
        {**{key: action[key] for key in ("action", "destination", "status") if key in action}, "records": applied}
        for action in sync_actions
    ]


def build_report(
    hook: EloquaHook,
    sync_uri: str,
    status: str,
    *,
    rejects: Iterable[Mapping[str, Any]] | None = None,
    rows: RowFinder | None = None,
    rejects_path: str | None = None,
    earlier_records: Iterable[Mapping[str, Any]] = (),
    sync_actions: Sequence[Mapping[str, Any]] | None = None,
    deadline: float | None = None,
) -> SyncReport:
    """Fetch the logs of a finished sync, count and log them and its rejects, write the rejects file.

    :param hook: reads the sync's logs (and its rejects, unless the caller listed them).
    :param sync_uri: the finished sync.
    :param status: its final status.
    :param rejects: the sync's rejects, if the caller listed them already (listed here otherwise).
    :param rows: finds the input row of each reject (none: rejects carry only Eloqua's index).
    :param rejects_path: where to write the rejects (CSV, NDJSON or a JSON array, by extension), or None.
    :param earlier_records: reject records of a load's earlier batches, written first to the same
        file, which is written in one go at the end so that a retried task never leaves a batch's
        rejects in it twice. They were counted and logged when their batch ended.
    :param sync_actions: the synced definition's actions, reported in ``actions`` (see
        :func:`_action_results`).
    :param deadline: when listing the logs and rejects must have ended (seconds since the epoch).
    """
    report = SyncReport(sync_uri=sync_uri, status=status)
    _tally_logs(report, read_sync_log(hook, sync_uri, status, deadline=deadline))
    with _reject_writer(rejects_path) as write:
        if write:
            for record in earlier_records:
                write(record)
        for item in hook.iter_sync_rejects(sync_uri, deadline=deadline) if rejects is None else rejects:
            record = reject_record(item, rows)
            report.rejected += 1
            if report.rejected <= REJECTS_IN_LOG:
                where = (
                    f"input row {record['input_row']}" if record["input_row"] else f"record {record['record_index']}"
                )
                log.warning(
                    "Rejected %s: %s %s (%s)",
                    where,
                    record["status_code"],
                    record["message"],
                    _offending_values(record),
                )
            if write:
                write(record)
    report.actions = _action_results(report, sync_actions or ())
    if report.rejected:
        target = f"; all written to {rejects_path}" if rejects_path else "; set rejects_path to keep them"
        log.warning("%d row(s) rejected by Eloqua%s", report.rejected, target)
    return report


@dataclass(frozen=True)
class RejectThreshold:
    """The rejected-rows threshold of a task that reports import syncs (EloquaImportOperator and
    EloquaSyncSensor, which take its two fields as arguments of the same names): past it the task
    fails naming the count, whatever ``on_warning`` says. Checked when the task is defined; each
    field is off when None.

    :param max_rejected_rows: the most rows Eloqua may reject (over every batch of the load); 0
        fails the task on any reject.
    :param max_rejected_ratio: the largest fraction (0 to 1) of the rows Eloqua processed that it may reject.
    """

    max_rejected_rows: int | None = None
    max_rejected_ratio: float | None = None

    def __post_init__(self) -> None:
        rows, ratio = self.max_rejected_rows, self.max_rejected_ratio
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise EloquaInputError(f"max_rejected_rows must be a whole number >= 0, or None; got {rows!r}")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1):
            raise EloquaInputError(f"max_rejected_ratio must be a number from 0 to 1, or None; got {ratio!r}")

    def check(self, report: SyncReport, rejects_path: str | None = None) -> SyncReport:
        """Fail (:class:`EloquaRejectedRowsError`) when the report's rejects pass a threshold; a failed
        sync is left to its status."""
        if report.status in FAILED_STATUSES or not report.rejected:
            return report
        ratio = report.rejected / report.rows_processed if report.rows_processed else 1.0
        over = []
        if self.max_rejected_rows is not None and report.rejected > self.max_rejected_rows:
            over.append(f"max_rejected_rows={self.max_rejected_rows}")
        if self.max_rejected_ratio is not None and ratio > self.max_rejected_ratio:
            over.append(f"max_rejected_ratio={self.max_rejected_ratio:g}")
        if over:
            kept = f" and written to {rejects_path}" if rejects_path else ""
            raise EloquaRejectedRowsError(
                f"Eloqua rejected {report.rejected} of the {report.rows_processed} row(s) it processed "
                f"({ratio:.1%}; last sync {report.sync_uri}), more than {' and '.join(over)} allows; the "
                f"rejects are logged above{kept}. {REFUSED_HINT}"
            )
        return report


def _staged_rows(staged: Mapping[str, Any] | None, rejects: RejectList, rows: RowSource | None) -> RowFinder | None:
    """The rows of the upload's input for a sync's rejects; None (rejects keep only Eloqua's index)
    when the input cannot be read here, which is logged, not raised: the sync is what is reported."""
    try:
        return staged_locator(staged, rejects, rows)
    except Exception as exc:  # e.g. a file gone, a query that fails when it runs again
        log.warning("The rejected rows' input rows could not be found (%s); the rejects carry Eloqua's index only", exc)
        return None


def earlier_reject_records(
    hook: EloquaHook, earlier: Sequence[Mapping[str, Any]], deadline: float | None
) -> Iterator[dict[str, Any]]:
    """The rejects of a load's earlier batches (their syncs' summaries, each with the input rows of
    its rejects as ``reject_rows``), as records of the rejects file, listed when they are read."""
    for done in earlier:
        reject_rows = done.get("reject_rows") or {}
        for item in hook.iter_sync_rejects(done["sync_uri"], deadline=deadline):
            yield {**reject_record(item), "input_row": reject_rows.get(str(item.get("recordIndex")))}


def check_rows_processed(report: SyncReport, expected_rows: int | None) -> None:
    """Fail unless Eloqua processed exactly the ``expected_rows`` the load staged for this sync.

    A sync takes whatever its definition's staging area holds, so a count that differs means rows
    were staged or cleared there behind the load's back. A log without ELQ-00001 ("Total records
    processed", Oracle's status-code list) cannot confirm anything, and a green task must prove that
    exactly the input arrived, so it fails too. Failed syncs are reported by their status instead.
    """
    if expected_rows is None or report.status in FAILED_STATUSES:
        return
    if not report.processed_logged:
        raise EloquaRowCountError(
            f"Eloqua's log of sync {report.sync_uri} carries no ELQ-00001 (Total records processed) count, so "
            f"the {expected_rows} row(s) this load staged for it cannot be confirmed to have arrived; check the "
            "sync log above before loading again"
        )
    if report.rows_processed != expected_rows:
        raise EloquaRowCountError(
            f"Eloqua sync {report.sync_uri} processed {report.rows_processed} row(s), but this load staged "
            f"{expected_rows} for it: rows were staged in, or cleared from, its definition by someone else. "
            "What Eloqua processed is loaded (see the sync log above); check it before loading again"
        )


def log_summary(report: SyncReport) -> None:
    log.info("Eloqua sync summary: %s", json.dumps(report.summary()))


def _add_earlier(report: SyncReport, summary: Mapping[str, Any]) -> None:
    """Add the counts of an earlier batch's sync (its XCom summary) into the load's report."""
    for name in SUMMED_COUNTS:
        setattr(report, name, getattr(report, name) + int(summary.get(name) or 0))
    for code, count in (summary.get("other_counts") or {}).items():
        report.other_counts[code] = report.other_counts.get(code, 0) + int(count or 0)
    applied = max(int(summary.get("rows_processed") or 0) - int(summary.get("rejected") or 0), 0)
    for result in report.actions:  # the same actions ran on the records each earlier batch accepted
        result["records"] += applied


def add_earlier(report: SyncReport, earlier: Sequence[Mapping[str, Any]]) -> SyncReport:
    """Add the counts of a load's earlier syncs (one summary each) to its last sync's report.

    A warning in any of them makes the load's status ``warning``, so that ``on_warning`` sees the
    whole load, not just its last sync.
    """
    if earlier:
        for summary in earlier:
            _add_earlier(report, summary)
        if report.status == "success" and any(summary.get("status") == "warning" for summary in earlier):
            report.status = "warning"
        log.info("Eloqua load summary over %d syncs: %s", len(earlier) + 1, json.dumps(report.summary()))
    return report


def report_import_sync(
    hook: EloquaHook,
    sync_uri: str,
    status: str,
    *,
    rejects_path: str | None = None,
    expected_rows: int | None = None,
    sync_actions: Sequence[Mapping[str, Any]] | None = None,
    deadline: float | None = None,
    staged: Mapping[str, Any] | None = None,
    rows: RowSource | None = None,
) -> SyncReport:
    """Report a finished import sync started elsewhere (logs, rejects) and check it processed
    ``expected_rows`` (the rows staged for it, when known). ``staged`` is the upload's
    ``staged_input``: with it each reject gets its input row, and the syncs of the load's earlier
    batches are added in (their counts, and their rejects in ``rejects_path``), as on the one-task
    path. ``rows`` is the row source ``staged["row_source"]`` describes, opened by the caller."""
    earlier = list((staged or {}).get("earlier") or ())
    with RejectList(hook.iter_sync_rejects(sync_uri, deadline=deadline)) as rejects:
        report = build_report(
            hook,
            sync_uri,
            status,
            rejects=rejects,
            rows=_staged_rows(staged, rejects, rows),
            rejects_path=rejects_path,
            earlier_records=earlier_reject_records(hook, earlier, deadline) if rejects_path else (),
            sync_actions=sync_actions,
            deadline=deadline,
        )
    log_summary(report)
    check_rows_processed(report, expected_rows)
    return add_earlier(report, earlier)


def report_sync(
    hook: EloquaHook,
    source: InputSpec,
    identifier: str | None,
    sync_uri: str,
    status: str,
    batch: Batch | None,
    *,
    rejects_path: str | None = None,
    earlier_records: Iterable[dict[str, Any]] = (),
    sync_actions: Sequence[Mapping[str, Any]] | None = None,
    deadline: float | None = None,
) -> tuple[SyncReport, dict[str, int]]:
    """Report one finished sync of a load: its rejects listed once, mapped to input rows with one input pass.

    Returns the report and the input rows found, by ``recordIndex`` (kept for a later rejects file).
    ``deadline`` (seconds since the epoch) bounds listing the sync's logs and rejects.
    """
    with RejectList(hook.iter_sync_rejects(sync_uri, deadline=deadline)) as rejects:
        rows = locate_rows(source, identifier, batch.offset if batch else 0, rejects)
        report = build_report(
            hook,
            sync_uri,
            status,
            rejects=rejects,
            rows=rows,
            rejects_path=rejects_path,
            earlier_records=earlier_records,
            sync_actions=sync_actions,
            deadline=deadline,
        )
        found: dict[str, int] = {}
        if rows is not None:
            for item in rejects:
                row = rows.row_of(item)
                if row is not None:
                    found[str(item["recordIndex"])] = row
    return report, found


def report_load(
    hook: EloquaHook,
    checkpoint: Checkpoint,
    source: InputSpec,
    started: LoadSync,
    status: str,
    *,
    rejects_path: str | None = None,
    sync_actions: Sequence[Mapping[str, Any]] | None = None,
    deadline: float | None = None,
) -> SyncReport:
    """Report a load's last sync, check it processed the rows staged for it, and add in the counts
    and rejects of the earlier batches' syncs.

    :param hook: the worker's hook.
    :param checkpoint: the task's checkpoint.
    :param source: the load's input (to find the input rows of rejects).
    :param started: the last sync, as :meth:`Load.run` noted it.
    :param status: its final status.
    :param rejects_path: where to write every batch's rejects, or None.
    :param sync_actions: the definition's sync actions, reported with the records they applied to.
    :param deadline: when listing the syncs' logs and rejects must have ended (seconds since the epoch).
    """
    earlier = checkpoint.progress_of_load().done

    report, _ = report_sync(
        hook,
        source,
        started.identifier,
        started.sync_uri,
        status,
        started.batch,
        rejects_path=rejects_path,
        earlier_records=earlier_reject_records(hook, earlier, deadline) if rejects_path else (),
        sync_actions=sync_actions,
        deadline=deadline,
    )
    log_summary(report)
    check_rows_processed(report, started.batch.rows if started.batch else None)
    return add_earlier(report, earlier)
