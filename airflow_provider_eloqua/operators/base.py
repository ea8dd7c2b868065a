"""What every Eloqua operator shares: the connection, the HTTP settings and a hook built lazily."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS
from airflow_provider_eloqua.settings import task_http_settings


class EloquaBaseOperator(BaseOperator):
    """Holds the connection id and the HTTP settings, and builds the hook lazily (never at DAG parse time);
    every Eloqua operator has the links "Eloqua sync" and "Eloqua definition" (see :mod:`airflow_provider_eloqua.links`).

    :param eloqua_conn_id: the Airflow connection to Eloqua.
    :param request_timeout: seconds one HTTP request to Eloqua may take (the connection's ``timeout``
        extra when None).
    :param http_retry_policy: how transient failures are retried: 429, 502, 503 and 504 answers and
        dropped connections (a POST only where Eloqua cannot have acted on it). A dict of
        ``max_attempts``, ``initial_wait`` and ``max_wait`` (5, 1 s and 60 s when None). Airflow's own
        ``retry_policy`` is about retrying the task.
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
