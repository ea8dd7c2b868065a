"""EloquaSyncTrigger: waits for a Bulk API sync in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.sync_report import TERMINAL_STATUSES, sync_status

#: How long a look at the sync may take once the deadline is (nearly) reached: one last look is
#: still made, so a sync that ended just in time is reported, but its retries stop here.
LAST_LOOK_SECONDS = 5.0


class EloquaSyncTrigger(BaseTrigger):
    """Polls ``GET /syncs/{id}`` every ``poll_interval`` seconds until the sync ends or ``end_time`` passes.

    Yields exactly one event, then returns:
    ``{"status": "terminal", "sync_status": "success"|"warning"|"error"|"errored", ...}``,
    ``{"status": "timeout", ...}`` at the deadline, or ``{"status": "error", "message": ...}``.
    Transient 429/5xx answers and dropped connections are retried with the hook's retry policy,
    but never past the deadline: each look is bounded by the time left (at least
    ``LAST_LOOK_SECONDS``), and a look still retrying when it runs out ends in the timeout event.

    :param end_time: absolute deadline, seconds since the epoch (the triggerer may restart; a
        relative timeout would start over).
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

    def _event(self, status: str, message: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "sync_uri": self.sync_uri, "message": message, **extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = EloquaHook(self.eloqua_conn_id, retry_policy=self.retry_policy, timeout=self.request_timeout)
        status = None
        try:
            while True:
                remaining = self.end_time - time.time()
                try:
                    sync = await asyncio.wait_for(
                        hook.aget_sync(self.sync_uri), timeout=max(remaining, LAST_LOOK_SECONDS)
                    )
                except TimeoutError:
                    last = f"last seen {status!r}" if status else "status never read"
                    yield self._event(
                        "timeout",
                        f"Sync {self.sync_uri} ({last}): no answer from Eloqua before the deadline; "
                        "its requests were still being retried",
                        sync_status=status,
                    )
                    return
                status = sync_status(sync, self.sync_uri)
                if status in TERMINAL_STATUSES:
                    yield self._event("terminal", f"Sync {self.sync_uri} ended: {status}", sync_status=status)
                    return
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield self._event(
                        "timeout", f"Sync {self.sync_uri} still {status!r} at the deadline", sync_status=status
                    )
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as exc:  # every failure becomes the one event; the task decides what it means
            yield self._event("error", f"Waiting for {self.sync_uri} failed: {exc}")
        finally:
            await hook.aclose()
