"""EloquaSyncTrigger: waits for a Bulk API sync in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.sync.waiting import (
    TERMINAL_STATUSES,
    SyncWatch,
    error_event,
    terminal_event,
    timeout_event,
)

#: How long a look at the sync may take once the deadline is (nearly) reached: one last look is
#: still made, so a sync that ended just in time is reported, but its retries stop here.
LAST_LOOK_SECONDS = 5.0
#: While the status stays the same, a "still ..." line is logged about this often (every
#: ``max(1, round(STILL_LOG_SECONDS / poll_interval))`` polls): a six-hour wait logs tens of lines,
#: not thousands. Every change of status is logged as it is seen.
STILL_LOG_SECONDS = 600.0
#: The first pause is shortened by up to this fraction of ``poll_interval``, by an amount fixed per
#: sync (a hash of its URI); later pauses are the full interval. Triggers that started together (a
#: triggerer restart, a batch of tasks deferring at once) then poll spread over the interval instead
#: of in the same millisecond for the rest of their waits, which would block the triggerer's loop
#: and burst at Eloqua. No pause is longer than ``poll_interval`` unless Eloqua asks for a longer
#: wait (``Retry-After``), so no end is noticed later.
FIRST_PAUSE_SPREAD = 0.5


class EloquaSyncTrigger(BaseTrigger):
    """Polls ``GET /syncs/{id}`` every ``poll_interval`` seconds until the sync ends or ``end_time`` passes,
    then yields exactly one event (the contract: :mod:`airflow_provider_eloqua.sync.waiting`).

    Transient failures are retried with the hook's policy and the wait goes on until the deadline; nothing
    runs past it (each look is bounded by the time left, at least ``LAST_LOOK_SECONDS``). A permanent failure
    (404, refused credentials) is the error event, which carries the failure as plain JSON: the task
    raises it as the worker's wait would. Why: README, "Operators, sensor, trigger" ("A thousand
    waits, one session").

    :param sync_uri: the sync to wait for, e.g. ``/syncs/66100``.
    :param eloqua_conn_id: the Airflow connection to Eloqua.
    :param poll_interval: seconds between looks at the sync.
    :param end_time: absolute deadline in seconds since the epoch (a triggerer restart keeps it).
    :param retry_policy: :class:`~airflow_provider_eloqua.retry.RetryPolicy` fields as a plain dict (None: the default).
    :param request_timeout: seconds per HTTP request (None: the connection's ``timeout`` extra).
    """

    def __init__(
        self,
        sync_uri: str,
        eloqua_conn_id: str,
        poll_interval: float,
        end_time: float,
        retry_policy: dict[str, Any] | None = None,
        request_timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.sync_uri = sync_uri
        self.eloqua_conn_id = eloqua_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)
        self.retry_policy = retry_policy
        self.request_timeout = request_timeout

    @classmethod
    def for_hook(cls, hook: EloquaHook, *, sync_uri: str, poll_interval: float, end_time: float) -> EloquaSyncTrigger:
        """The trigger that waits as ``hook`` would: the same connection, request timeout and retry
        policy, so a task's deferred wait behaves as its wait in the worker does.

        :param hook: the task's hook (its settings are copied as plain JSON types; nothing is fetched).
        :param sync_uri: the sync to wait for.
        :param poll_interval: seconds between looks at the sync.
        :param end_time: absolute deadline, seconds since the epoch.
        """
        return cls(
            sync_uri=sync_uri,
            eloqua_conn_id=hook.eloqua_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            retry_policy=hook.retry_policy.to_dict(),
            request_timeout=hook.request_timeout,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "sync_uri": self.sync_uri,
                "eloqua_conn_id": self.eloqua_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "retry_policy": self.retry_policy,
                "request_timeout": self.request_timeout,
            },
        )

    def _log_status(self, status: str, previous: str | None, polls: int, since: int) -> int:
        """Log a status the wait sees: each change, then a periodic reminder; returns the polls
        counted towards the next reminder."""
        if status != previous:
            self.log.info("Sync %s is %s (poll %d)", self.sync_uri, status, polls)
            return 0
        since += 1
        if since >= max(1, round(STILL_LOG_SECONDS / max(self.poll_interval, 1e-3))):
            self.log.info("Sync %s still %s after %d polls", self.sync_uri, status, polls)
            return 0
        return since

    def _pause(self, pauses: int) -> float:
        """Length of the ``pauses``-th pause between looks: the first is spread (``FIRST_PAUSE_SPREAD``)."""
        if pauses > 1:
            return self.poll_interval
        fraction = zlib.crc32(self.sync_uri.encode("utf-8")) / 2**32
        return self.poll_interval * (1 - FIRST_PAUSE_SPREAD * fraction)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The hook holds no client of its own: every trigger of the connection in this triggerer
        # shares one session (pool, pod, token); see hooks/session.py.
        hook = EloquaHook(self.eloqua_conn_id, retry_policy=self.retry_policy, timeout=self.request_timeout)
        watch = SyncWatch(self.sync_uri, self.end_time)
        pauses = polls = since_logged = 0
        try:
            while True:
                try:
                    sync = await asyncio.wait_for(
                        hook.aget_sync(self.sync_uri, deadline=self.end_time),
                        timeout=max(watch.remaining(), LAST_LOOK_SECONDS),
                    )
                except TimeoutError:
                    watch.last_error = (
                        "no answer from Eloqua before the deadline; its requests were still being retried"
                    )
                    yield TriggerEvent(timeout_event(watch))
                    return
                except Exception as exc:
                    watch.missed(exc)  # transient: the wait goes on until the deadline; otherwise re-raised
                else:
                    previous = watch.status
                    status = watch.saw(sync)
                    polls += 1
                    since_logged = self._log_status(status, previous, polls, since_logged)
                    if status in TERMINAL_STATUSES:
                        yield TriggerEvent(terminal_event(self.sync_uri, status))
                        return
                if watch.remaining() <= 0:
                    yield TriggerEvent(timeout_event(watch))
                    return
                pauses += 1
                await asyncio.sleep(watch.pause(self._pause(pauses)))
        except Exception as exc:  # every failure becomes the one event; the task decides what it means
            yield TriggerEvent(error_event(self.sync_uri, exc))
        finally:
            await hook.aclose()
