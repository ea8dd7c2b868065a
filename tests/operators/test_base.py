"""operators/base.py: what every Eloqua operator shares: the connection, the HTTP settings checked when the
task is defined, the hook built from them on first use, and the links to Eloqua (no DAG run)."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.exceptions import EloquaApiError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS
from airflow_provider_eloqua.operators.base import EloquaBaseOperator
from airflow_provider_eloqua.retry import RetryPolicy


class Probe(EloquaBaseOperator):
    """The smallest Eloqua operator: it only asks its hook for a definition."""

    def execute(self, context):
        return self.hook.get_definition("/contacts/imports/1")


def test_the_hook_is_built_on_first_use_with_the_tasks_http_settings(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOT_DEFINED_YET", raising=False)
    operator = Probe(
        task_id="probe",
        eloqua_conn_id="not_defined_yet",  # never read while the DAG is parsed
        request_timeout=12,
        http_retry_policy={"max_attempts": 2},
    )
    assert (operator.request_timeout, operator.http_retry_policy) == (
        12.0,
        {"max_attempts": 2, "initial_wait": 1.0, "max_wait": 60.0},
    )
    hook = operator.hook
    assert isinstance(hook, EloquaHook) and operator.hook is hook
    assert (hook.eloqua_conn_id, hook.request_timeout, hook.retry_policy) == (
        "not_defined_yet",
        12.0,
        RetryPolicy(max_attempts=2),
    )


def test_defaults_are_the_default_connection_and_the_default_policy():
    operator = Probe(task_id="probe")
    assert (operator.eloqua_conn_id, operator.hook.eloqua_conn_id) == ("eloqua_default", "eloqua_default")
    assert operator.hook.request_timeout is None and operator.hook.retry_policy == RetryPolicy()


def test_the_hook_asks_eloqua_through_the_tasks_connection(eloqua_conn):
    eloqua_conn.control.add_fault(method="GET", path="^/contacts/imports/1$", status=503, times=1)
    operator = Probe(task_id="probe", http_retry_policy={"max_attempts": 1})
    with pytest.raises(EloquaApiError, match="503"):  # one attempt: the task's policy, not the default
        operator.execute({})


def test_every_eloqua_operator_shows_the_links_to_eloqua():
    assert Probe.operator_extra_links == EXTRA_LINKS
    assert sorted(link.name for link in Probe(task_id="probe").operator_extra_links) == [
        "Eloqua definition",
        "Eloqua sync",
    ]


def test_a_bad_http_retry_policy_fails_when_the_task_is_defined_naming_the_setting():
    from airflow_provider_eloqua.exceptions import EloquaInputError
    from airflow_provider_eloqua.operators.eloqua import EloquaUploadDataOperator
    from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

    with pytest.raises(EloquaInputError, match=r"http_retry_policy has unknown key\(s\) \['attempts'\]"):
        EloquaUploadDataOperator(
            task_id="up", definition_uri="/contacts/imports/1", data=[], http_retry_policy={"attempts": 3}
        )
    with pytest.raises(EloquaInputError, match="http_retry_policy: retry max_attempts must be >= 1; got 0"):
        EloquaSyncSensor(task_id="wait", sync_uri="/syncs/1", http_retry_policy={"max_attempts": 0})
