"""What every Eloqua operator shares: the connection, the HTTP settings and a hook built lazily."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS
from airflow_provider_eloqua.settings import task_http_settings


class EloquaBaseOperator(BaseOperator):
    """The base of every Eloqua operator: the connection, the HTTP settings and the hook built from them
    when first used (never at DAG parse time). Every Eloqua operator shows the links "Eloqua sync" and
    "Eloqua definition". Why: README, "Per-task HTTP timeouts and retries" and "Links to Eloqua".

    :param eloqua_conn_id: the Airflow connection to Eloqua (type ``eloqua``).
    :param request_timeout: seconds one HTTP request may take (None: the connection's ``timeout`` extra).
    :param http_retry_policy: ``{max_attempts, initial_wait, max_wait}`` for 429, 502-504 and dropped connections.
    """

    operator_extra_links = EXTRA_LINKS

    def __init__(
        self,
        *,
        eloqua_conn_id: str = EloquaHook.default_conn_name,
        request_timeout: float | None = None,
        http_retry_policy: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.eloqua_conn_id = eloqua_conn_id
        self.request_timeout, self.http_retry_policy = task_http_settings(request_timeout, http_retry_policy)

    @cached_property
    def hook(self) -> EloquaHook:
        return EloquaHook(self.eloqua_conn_id, timeout=self.request_timeout, retry_policy=self.http_retry_policy)
