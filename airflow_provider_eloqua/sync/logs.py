"""A finished sync's log (``GET /syncs/{id}/logs``): read once, shown as a table, its entries counted.

What each status code counts is the capability's to say (an import's created and updated records,
an export's exported rows); this module reads the log, logs it and offers its entries, their
counts by code, its warnings and its errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

#: ELQ-00101 "Sync processed for sync ..., resulting in <status> status.": it restates the status.
STATUS_CODE = "ELQ-00101"


def entry_count(item: Mapping[str, Any]) -> int:
    """An entry's ``count`` (0 when missing or not a number)."""
    try:
        return int(item.get("count") or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class SyncLog:
    """The entries of one finished sync's log, as Eloqua listed them."""

    sync_uri: str
    entries: tuple[Mapping[str, Any], ...]

    def has(self, code: str) -> bool:
        """The log carries an entry of status code ``code``."""
        return any(str(item.get("statusCode") or "") == code for item in self.entries)

    def count(self, codes: Iterable[str]) -> int:
        """The counts of the entries whose status code is one of ``codes``, added up."""
        wanted = frozenset(codes)
        return sum(entry_count(item) for item in self.entries if str(item.get("statusCode") or "") in wanted)

    @property
    def warnings(self) -> int:
        """Entries of severity ``warning`` (one entry may stand for many rows, or none: not a row count)."""
        return sum(1 for item in self.entries if item.get("severity") == "warning")

    @property
    def errors(self) -> list[str]:
        """``"ELQ-00143 Definition deleted before sync finished."``: the entries of severity ``error``
        (ELQ-00101 only restates the status and is left out)."""
        return [
            f"{item.get('statusCode') or '?'} {item.get('message') or ''}".strip()
            for item in self.entries
            if item.get("severity") == "error" and item.get("statusCode") != STATUS_CODE
        ]


def log_table(sync_uri: str, status: str, entries: Iterable[Mapping[str, Any]]) -> str:
    """The log as the task log shows it: one line per entry (code, severity, count, message)."""
    lines = [f"Eloqua sync {sync_uri} ended with status {status!r}. Sync log:"]
    lines += [
        f"  {item.get('statusCode', '?'):<10} {item.get('severity', ''):<11} {entry_count(item):>9}  "
        f"{item.get('message', '')}"
        for item in entries
    ]
    if len(lines) == 1:
        lines.append("  (no log entries)")
    return "\n".join(lines)


def read_sync_log(hook: EloquaHook, sync_uri: str, status: str, *, deadline: float | None = None) -> SyncLog:
    """Fetch a finished sync's log and write it to the task log as a table; ``deadline`` (seconds
    since the epoch) bounds the listing."""
    sync_log = SyncLog(sync_uri, tuple(hook.iter_sync_logs(sync_uri, deadline=deadline)))
    log.info(log_table(sync_uri, status, sync_log.entries))
    return sync_log


@dataclass
class LogReport:
    """An ended sync reported by its log alone: its status and every status code's count.

    The report of a sync whose capability adds nothing of its own (see
    :func:`~airflow_provider_eloqua.sync.ending.end_sync`).
    """

    sync_uri: str
    status: str
    #: Status code -> its entries' counts added up (``{"ELQ-00102": 7}``); ELQ-00101 left out.
    counts: dict[str, int] = field(default_factory=dict)
    log_warnings: int = 0
    errors: list[str] = field(default_factory=list)

    def issues(self) -> str:
        return ""

    def summary(self) -> dict[str, Any]:
        return {
            "sync_uri": self.sync_uri,
            "status": self.status,
            "counts": self.counts,
            "log_warnings": self.log_warnings,
        }


def report_sync_log(hook: EloquaHook, sync_uri: str, status: str, *, deadline: float | None = None) -> LogReport:
    """Read, log and count a finished sync's log (:func:`read_sync_log`)."""
    sync_log = read_sync_log(hook, sync_uri, status, deadline=deadline)
    codes = {str(item.get("statusCode") or "") for item in sync_log.entries} - {"", STATUS_CODE}
    report = LogReport(
        sync_uri, status, {code: sync_log.count({code}) for code in sorted(codes)}, sync_log.warnings, sync_log.errors
    )
    log.info("Eloqua sync summary: %s", json.dumps(report.summary()))
    return report
