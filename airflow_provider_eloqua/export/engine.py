"""The export engine: sync a definition of the export's own per window, wait, page the rows into one file.

It knows nothing of operators: it is given a hook, the task's :class:`~.plan.ExportCheckpoint`, the
validated :class:`~.spec.ExportSpec` and :class:`~.spec.OutputSpec`, and returns an
:class:`~.download.ExportResult`, or, when told not to block, what it is waiting for (:class:`WaitForSync`,
:class:`WaitUntil`) so that the operator can defer and call it again.

An export runs in two phases, both resumable from the checkpoint:

1. **Sync.** The window is a *plan* of parts (:mod:`.plan`), first one part. Each part gets an export
   definition of its own (the spec over the part's window, under a name no other definition has,
   auto-deleted; the create is noted before it is sent, so that a retry finds it if the answer is
   lost), synced through :mod:`airflow_provider_eloqua.sync` and waited for, one after another
   (Oracle's advice for activities). A finished part notes its sync and the count its log reports
   (ELQ-00102). An activity part that reaches Oracle's 5,000,000 rows per sync is split in two
   halves of its window, each synced again. A retry reattaches to the part's sync; a sync that
   failed or is gone is synced again.
2. **Download.** Every part's pages go, in window order, into one file (:mod:`.download`), which
   appears at the path only once every part's rows equal its count. Data that expired or was
   deleted in the meantime (404, 410) sends that part back to phase 1 and the download starts over.

Nothing is ever read twice into the file: a retried download starts a new file from the first
part (the parts' syncs are reattached, not synced again).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_eloqua.definitions import (
    RequestedDefinition,
    delete_lost_definition,
    discard_definition,
    find_same_definition,
)
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError, EloquaRowCountError, EloquaSyncError
from airflow_provider_eloqua.export.download import DataGone, ExportResult, exported_count, write_parts
from airflow_provider_eloqua.export.plan import (
    ExportCheckpoint,
    Part,
    Plan,
    export_name,
    is_gone,
    new_definition_key,
    origin_of,
)
from airflow_provider_eloqua.export.spec import ACTIVITY_SYNC_LIMIT, ExportSpec, OutputSpec
from airflow_provider_eloqua.export.window import DEFAULT_LAG, Window, ready_at
from airflow_provider_eloqua.export.writer import ExportFile
from airflow_provider_eloqua.links import Links
from airflow_provider_eloqua.sync.checkpoint import StartedSync
from airflow_provider_eloqua.sync.lifecycle import reattach, start_sync
from airflow_provider_eloqua.sync.logs import SyncLog, read_sync_log
from airflow_provider_eloqua.sync.waiting import (
    DEFAULT_WAIT_TIMEOUT,
    FAILED_STATUSES,
    TERMINAL_STATUSES,
    sync_status,
    wait_for_sync,
)

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

#: A part whose data is gone while it is downloaded is synced again this many times, no more.
MAX_RESYNCS = 2


class Clock:
    """Wall-clock time and sleeping; tests give the engine a clock of their own."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class WaitForSync:
    """The engine waits for ``sync_uri`` to end (the operator defers and calls :meth:`Export.run` again)."""

    sync_uri: str


@dataclass(frozen=True)
class WaitUntil:
    """The engine waits until ``moment`` (the lag rule: ``until + lag`` has not passed yet)."""

    moment: datetime


class Export:
    """One export of one spec into one file, across the tries of its task.

    :param hook: the worker's hook.
    :param checkpoint: the task's checkpoint.
    :param spec: the export, its window resolved (see :func:`~.window.close`).
    :param output: where the rows go.
    :param key: names the task's hidden file (the same on every try).
    :param poll_interval: seconds between looks at a sync while waiting in the worker.
    :param timeout: the most seconds to wait for each sync.
    :param lag: a window is synced no earlier than ``until + lag`` (see :mod:`.window`).
    :param row_limit: an activity sync that exports this many rows is split (Oracle's 5,000,000).
    :param clock: the time and sleeping (tests give their own).
    :param resumed_sync: the sync this try deferred on and resumed from: its end is this try's to
        judge (a failure fails the task), not an earlier try's (a failure is synced again).
    :param links: told each part's definition and sync as soon as they are known.
    """

    def __init__(
        self,
        hook: EloquaHook,
        checkpoint: ExportCheckpoint,
        spec: ExportSpec,
        output: OutputSpec,
        *,
        key: str,
        poll_interval: float = 30,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        lag: timedelta = DEFAULT_LAG,
        row_limit: int = ACTIVITY_SYNC_LIMIT,
        clock: Clock | None = None,
        resumed_sync: str | None = None,
        links: Links | None = None,
    ) -> None:
        self.hook = hook
        self.links = links or Links()
        self.checkpoint = checkpoint
        self.spec = spec
        self.output = output
        self.key = key
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.lag = lag
        self.row_limit = row_limit
        self.clock = clock or Clock()
        self.resumed_sync = resumed_sync
        self.origin = origin_of(spec)

    # ------------------------------------------------------------------ the whole export

    def run(self, *, block: bool = True) -> ExportResult | WaitForSync | WaitUntil:
        """Sync every part, then download them into the file; resumes from the checkpoint.

        :param block: wait in this process (for the lag and for each sync); otherwise return what
            is waited for at the first wait, and be called again once it is over.
        """
        if self.spec.window.empty:
            return self._nothing()
        plan = self._plan()
        while True:
            index = plan.next_pending()
            if index is not None:
                waiting = self._sync_part(plan, index, block)
                if waiting is not None:
                    return waiting
                continue
            result = self._download(plan)
            if result is not None:
                self._clean_up(plan)
                return result

    def _nothing(self) -> ExportResult:
        """An empty window (``since == until``): an empty file, and nothing asked of Eloqua."""
        self.hook.log.warning(
            "The window %s is empty (since equals until): nothing is exported. A manual run has no data interval, "
            "nor does a run of a plain cron schedule in Airflow 3: schedule with CronDataIntervalTimetable",
            self.spec.window.describe(),
        )
        with ExportFile(self.output, self.spec.labels, self.key) as out:
            out.commit()
        return ExportResult.of(out, [], self.spec.window)

    def start(self, *, block: bool = True) -> WaitForSync | WaitUntil | None:
        """Only start the sync (the split path: a sensor waits for it, a download task writes the file).

        The window is exported by one sync, never split: :meth:`run` splits an activity window at
        Eloqua's limit, a sync started here cannot be. Returns the sync (:class:`WaitForSync`), or
        what to wait for before it may be started (:class:`WaitUntil`, only when not blocking), or
        None for an empty window (nothing to sync).
        """
        if self.spec.window.empty:
            self.hook.log.warning("The window %s is empty: no sync is started", self.spec.window.describe())
            return None
        plan = self._plan()
        part = plan.parts[0]
        while True:
            found = self._reattach(part)
            if found is not None:
                break
            waiting = self._lag_wait(block)
            if waiting is not None:
                return waiting
            if self._ready():
                found = self._start(part), None
                break
        self.checkpoint.forget_export()  # started: the sync is the caller's now, a later run starts another
        return WaitForSync(found[0])

    def _ready(self) -> bool:
        moment = ready_at(self.spec.window, self.lag)
        return moment is None or self.clock.now() >= moment

    def _lag_wait(self, block: bool) -> WaitUntil | None:
        """Before the first sync of a window: wait until ``until + lag`` (sleeping, or returned to the caller)."""
        moment = ready_at(self.spec.window, self.lag)
        now = self.clock.now()
        if moment is None or now >= moment:
            return None
        if not block:
            return WaitUntil(moment)
        self.hook.log.info(
            "Waiting until %s (until %s + lag %s) before exporting, so that late records are in",
            moment.isoformat(),
            self.spec.window.until,
            self.lag,
        )
        self.clock.sleep((moment - now).total_seconds())
        return None

    def _plan(self) -> Plan:
        plan = self.checkpoint.plan(self.origin)
        if plan is not None:
            done = sum(part.synced for part in plan.parts)
            if done:
                self.hook.log.info("Resuming the export: %d of %d part(s) already synced", done, len(plan.parts))
            return plan
        stale = self.checkpoint.other_plan(self.origin)
        if stale is not None:
            self.hook.log.info("An earlier try exported something else (the DAG changed); its definitions go")
            self._clean_up(stale)
        plan = Plan(self.origin, [Part(self.spec.window)])
        self.checkpoint.save_plan(plan)
        return plan

    # ------------------------------------------------------------------ phase 1: sync each part

    def _sync_part(self, plan: Plan, index: int, block: bool) -> WaitForSync | WaitUntil | None:
        """Bring part ``index`` to a counted, finished sync (or split it); None when the plan moved on."""
        part = plan.parts[index]
        found = self._reattach(part)
        if found is None:
            waiting = self._lag_wait(block)
            if waiting is not None or not self._ready():
                return waiting
            found = self._start(part), None
        sync_uri, status = found
        reattached = status is not None and sync_uri != self.resumed_sync
        if status not in TERMINAL_STATUSES:
            if not block:
                return WaitForSync(sync_uri)
            deadline = time.time() + self.timeout
            status = wait_for_sync(self.hook, sync_uri, poll_interval=self.poll_interval, deadline=deadline)
        assert status is not None
        self._ended(plan, index, sync_uri, status, reattached=reattached)
        return None

    def _reattach(self, part: Part) -> tuple[str, str | None] | None:
        """The part's sync an earlier try (or call) started, with its status (a failed one too: it
        may have failed for holding too many rows, which splits the part); None to sync anew."""
        started = self.checkpoint.sync_uri or self.checkpoint.sync_requested
        if not started:
            return None
        payload = self.checkpoint.started(self.checkpoint.sync_uri or "").payload
        if payload and Window.from_json(payload.get("window") or {}) != part.window:
            self.checkpoint.forget_sync()  # a sync of a window the plan no longer has
            return None
        try:
            if self.checkpoint.sync_uri:
                sync_uri = self.checkpoint.sync_uri
                status: str | None = sync_status(self.hook.get_sync(sync_uri), sync_uri)
                if sync_uri != self.resumed_sync:
                    self.hook.log.info("Reattaching to sync %s (%s), started by an earlier try", sync_uri, status)
            else:  # the earlier try's POST /syncs lost its answer: the sync layer looks for the sync
                found = reattach(self.hook, self.checkpoint)
                if found is None:
                    return None
                sync_uri, status = found[0].sync_uri, found[1]
        except EloquaApiError as exc:
            if not is_gone(exc):
                raise
            self.hook.log.warning("The earlier try's sync is gone (%s); syncing again", exc)
            self.checkpoint.forget_sync()
            return None
        part.definition_uri = payload.get("definition_uri") or part.definition_uri
        self.links.definition(part.definition_uri)
        self.links.sync(sync_uri)
        return sync_uri, status

    def _start(self, part: Part) -> str:
        """Create (or find again) the part's definition and start its sync."""
        definition_uri = self._definition(part.window)
        part.definition_uri = definition_uri
        payload = {"window": part.window.as_json(), "definition_uri": definition_uri}
        self.checkpoint.note_payload(payload)
        try:
            sync_uri = start_sync(self.hook, self.checkpoint, definition_uri, None)
        except EloquaApiError as exc:
            if not is_gone(exc):
                raise
            # The definition went (auto-deleted, or deleted by someone): make another one.
            self.checkpoint.forget_definition()
            definition_uri = self._definition(part.window)
            part.definition_uri = definition_uri
            payload["definition_uri"] = definition_uri
            self.checkpoint.note_payload(payload)
            sync_uri = start_sync(self.hook, self.checkpoint, definition_uri, None)
        self.links.sync(sync_uri)
        self.checkpoint.started_sync(StartedSync(sync_uri, payload))
        self.hook.log.info("Started sync %s of %s over %s", sync_uri, definition_uri, part.window.describe())
        return sync_uri

    def _definition(self, window: Window) -> str:
        """The part's own definition: the one an earlier try created for this window (or asked for and
        never heard the answer of, if Eloqua has it), or a new one, its create noted before it is sent."""
        known = self.checkpoint.definition
        if known is not None and known[1] == window:
            self.links.definition(known[0])
            return known[0]
        if known is not None:
            self._delete_definition(known[0])
        spec = self.spec.with_window(window)
        uri = self._lost_definition(spec)
        if uri is None:
            name = export_name(spec.name, new_definition_key())
            requested = RequestedDefinition(name, spec.entity, spec.parent, "exports", self.origin)
            self.checkpoint.requesting_definition(requested, window)
            spec = spec.with_name(name)
            uri = self.hook.create_definition(spec.entity, spec.body(), spec.parent, "exports")["uri"]
            self.hook.log.info("Created export definition %s (%s), filter %s", uri, name, spec.filter_text())
        self.checkpoint.created_definition(uri, window)
        self.links.definition(uri)
        return uri

    def _lost_definition(self, spec: ExportSpec) -> str | None:
        """The definition an earlier try asked for this part (``spec``'s window, this export) and never heard
        the answer of, if Eloqua has it: found by the name noted and its properties. One asked for another
        part or export, or made otherwise, is deleted."""
        lost = self.checkpoint.requested_definition
        if lost is None:
            return None
        requested, window = lost
        if requested.source == self.origin and window == spec.window:
            body = spec.with_name(requested.name).body()
            found = find_same_definition(self.hook, spec.entity, spec.parent, "exports", body)
            if found is not None:
                self.hook.log.info(
                    "Found export definition %s (%s) again: an earlier try created it for %s but never heard "
                    "Eloqua's answer; it is synced, nothing is created twice",
                    found["uri"],
                    requested.name,
                    window.describe(),
                )
                return str(found["uri"])
        delete_lost_definition(self.hook, requested, "export definition")
        return None

    def _ended(self, plan: Plan, index: int, sync_uri: str, status: str, *, reattached: bool = False) -> None:
        """Judge a part's ended sync: note it counted, split it, or fail (a retry syncs it again).

        A failed sync an earlier try started and never judged is synced again at once instead.
        """
        part = plan.parts[index]
        sync_log = read_sync_log(self.hook, sync_uri, status)
        count = exported_count(sync_log)
        if self._too_large(status, sync_log, count):
            first, second = part.window.halves()
            self.hook.log.warning(
                "Sync %s of %s exported %s rows, Eloqua's limit for an activity sync: splitting the window into %s "
                "and %s",
                sync_uri,
                part.window.describe(),
                f"{count:,}" if count is not None else "too many",
                first.describe(),
                second.describe(),
            )
            plan.parts[index : index + 1] = [Part(first), Part(second)]
            self._forget_part(part)
            self.checkpoint.save_plan(plan)
            return
        if status in FAILED_STATUSES:
            self._forget_part(part)
            if reattached:
                self.hook.log.warning(
                    "The earlier try's sync %s ended %r; syncing %s again", sync_uri, status, part.window.describe()
                )
                return
            reasons = "; ".join(sync_log.errors[:5])
            raise EloquaSyncError(
                f"Eloqua export sync {sync_uri} over {part.window.describe()} ended with status {status!r}"
                + (f" ({reasons})" if reasons else "")
                + ": see the sync log above; a retry of this task syncs it again"
            )
        part.sync_uri, part.count = sync_uri, count
        self.checkpoint.save_plan(plan)  # before forgetting the sync: a crash between reattaches to it
        self.checkpoint.forget_sync()
        self.checkpoint.forget_definition()

    def _too_large(self, status: str, sync_log: SyncLog, count: int | None) -> bool:
        if self.spec.entity != "activities" or self.spec.max_records is not None:
            return False
        if count is not None and count >= self.row_limit:
            return True
        return status in FAILED_STATUSES and any(
            "5,000,000" in error or "5000000" in error or "too many" in error.lower() for error in sync_log.errors
        )

    def _forget_part(self, part: Part) -> None:
        """A part's sync is no use (failed, too large): forget it and delete its definition."""
        self.checkpoint.forget_sync()
        self.checkpoint.forget_definition()
        if part.definition_uri:
            self._delete_definition(part.definition_uri)

    # ------------------------------------------------------------------ phase 2: download into the file

    def _download(self, plan: Plan) -> ExportResult | None:
        """Every part's rows into one file; None when a part's data is gone (it is synced again)."""
        try:
            out = write_parts(self.hook, plan.parts, self.output, self.spec.labels, self.key)
        except DataGone as gone:
            self._resync(plan, gone.part, gone.error)
            return None
        except EloquaRowCountError as wrong:
            # Not retried by Airflow (reading the same sync again finds the same rows); the try after
            # a Clear syncs the part's window again.
            part = getattr(wrong, "part", None)
            if isinstance(part, Part):
                if part.definition_uri:
                    self._delete_definition(part.definition_uri)
                plan.parts[plan.parts.index(part)] = Part(part.window)
                self.checkpoint.save_plan(plan)
            raise
        return ExportResult.of(out, plan.parts, self.spec.window, plan.parts[-1].definition_uri)

    def _resync(self, plan: Plan, part: Part, exc: EloquaApiError) -> None:
        if plan.resyncs >= MAX_RESYNCS:
            self._clean_up(plan)  # the next try (a retry, or the try after a Clear) syncs the window anew
            raise EloquaError(
                f"The data of export sync {part.sync_uri} was gone ({exc}) {plan.resyncs + 1} times while it was "
                "downloaded; check the definition's dataRetentionDuration against the time the download takes"
            ) from exc
        self.hook.log.warning(
            "The data of sync %s is gone (%s): syncing %s again", part.sync_uri, exc, part.window.describe()
        )
        if part.definition_uri:
            self._delete_definition(part.definition_uri)
        index = plan.parts.index(part)
        plan.parts[index] = Part(part.window)
        plan.resyncs += 1
        self.checkpoint.save_plan(plan)

    # ------------------------------------------------------------------ clean-up

    def _clean_up(self, plan: Plan) -> None:
        """Delete the plan's definitions (best effort: their autoDeleteDuration is the backstop), forget it."""
        uris = {part.definition_uri for part in plan.parts if part.definition_uri}
        known, lost = self.checkpoint.definition, self.checkpoint.requested_definition
        if known is not None:
            uris.add(known[0])
        for uri in sorted(uris):
            self._delete_definition(uri)
        if lost is not None:
            delete_lost_definition(self.hook, lost[0], "export definition")
        self.checkpoint.forget_export()

    def _delete_definition(self, uri: str) -> None:
        discard_definition(self.hook, uri, "export definition")
