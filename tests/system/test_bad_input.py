"""Bad input in Airflow itself: a DAG whose task is impossible does not import, and an empty input
skips the downstream sensor of a real DAG run. Every malformed input or definition is refused at
the operator (tests/operators, through ``execute(context)``) before anything is staged.
"""

from __future__ import annotations

import json

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.dag_runner import install_dag_file
from tests.system.dags.matrix import DAG_FILE, api_requests, assert_nothing_staged, captured, contacts, run_matrix


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def test_an_impossible_entity_is_an_import_error_of_the_dag_file(env, monkeypatch):
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "split", "data": contacts(1), "entity": "leads"}))

    bag = DagBag(dag_folder=str(install_dag_file(DAG_FILE)))

    (error,) = bag.import_errors.values()
    assert "EloquaInputError" in error and "entity must be one of contacts, accounts, activities" in error
    assert api_requests(env) == []


def test_empty_input_skips_the_downstream_sensor(env, monkeypatch, capfd, caplog):
    """In the create -> upload -> sensor DAG an empty input must not fail the sensor on a None sync_uri."""
    result = run_matrix(monkeypatch, mode="split", data=[])

    assert result["upload"].state == "success"
    assert result["upload"].return_value["sync_uri"] is None
    assert result["wait"].state == "skipped"
    assert result.state == "success"
    assert "no sync to wait for" in captured(capfd, caplog)
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)
