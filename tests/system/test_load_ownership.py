"""Nothing lost, nothing doubled across runs and concurrent tasks: every load owns its staging area.

Real DAG runs (``dag.test()``) against the emulator, in the shapes that would mix, double or
delete rows if loads shared a definition's staging area and that need a second process: a run
killed mid-upload followed by the next run, overlapping runs of one DAG on a reused definition (with
a dropped data POST in one of them), and two DAGs on one definition. Each ends with every input
record exactly once in Eloqua. A run that failed (its sync never started) followed by the next run,
and one task's tries (a retry, rows staged behind a load's back): tests/operators/test_eloqua.py.

Activities never update (each row creates a record), so a row loaded twice shows as two records.
Concurrent loads run in two processes (two Airflow workers on one Eloqua site); the emulator's
``hold`` fault stops one of them at an exact request until the test releases it, so which load
does what when is decided by the test, never by timing.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.dag_runner import DagProcess, connection_json, start_dag_process
from tests.system.dags.matrix import (
    ACTIVITY_FIELDS,
    DAG_FILE,
    activities,
    api_requests,
    run_matrix,
    skip_first,
    staged_rows,
    syncs,
)

CHUNK_BYTES = 1024  # 30 activities make 3 chunks (padded: rows of text go as CSV, see _spec)
TEMPLATE = "/activities/imports/1"  # the first definition created: the shared template
EXTERNAL_ID = ACTIVITY_FIELDS["ExternalId"]


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def _spec(rows, **spec):
    """The nightly shape of example_eloqua_accounts.py: a template found again by name
    (``reuse_existing=True``) and a one-task import from it."""
    return {
        "mode": "template",
        "entity": "activities",
        "name": "nightly activities",
        "fields": ACTIVITY_FIELDS,
        "identifier": "ExternalId",
        # Rows of text go as CSV, about half the bytes of JSON: padded so that 30 still make 3 chunks.
        "data": [dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in rows],
        "chunk_bytes": CHUNK_BYTES,
        **spec,
    }


def _loaded(env) -> Counter:
    """How many records each input row became (activities: one per load of the row)."""
    return Counter(record[EXTERNAL_ID] for record in env.control.records("/activities"))


def _exactly_once(rows) -> Counter:
    return Counter(row["ExternalId"] for row in rows)


def _wait_until(condition, what: str, process: DagProcess | None = None) -> None:
    """Wait for a state of the emulator. No clock: a run that ends first fails here, and a hang is
    ended by pytest-timeout (its traceback shows ``what``)."""
    while not condition():
        if process is not None and process.process.poll() is not None:
            raise AssertionError(f"the other run ended before {what}:\n{process.log[-5000:]}")
        time.sleep(0.02)


def _start_other_run(env, spec) -> DagProcess:
    """The other run, in a process of its own. Its requests may be held as long as the test needs:
    its per-request timeout is long enough not to give up on a held one."""
    connection = connection_json(env, extra={"timeout": 300})
    variables = {"ELOQUA_MATRIX_SPEC": json.dumps(spec), "AIRFLOW_CONN_ELOQUA_DEFAULT": connection}
    return start_dag_process(DAG_FILE, spec.get("dag_id", "eloqua_matrix"), variables)


# ------------------------------------------------------------------ a killed run, then the next run


def _kill_after_two_chunks(env, rows) -> None:
    """Run 1 is SIGKILLed while its 3rd of 3 chunks is on the wire: no cleanup runs at all."""
    skip_first(env, "POST", r"/data$", count=2)
    env.control.add_fault(method="POST", path=r"/data$", action="hold")
    run = _start_other_run(env, _spec(rows))
    _wait_until(lambda: env.control.held() == 1, "the 3rd chunk held", run)
    run.kill()
    env.control.release_held()  # its client is gone
    _wait_until(lambda: env.control.held() == 0, "the held chunk released")


def test_a_killed_runs_leftovers_never_reach_the_next_run(env, monkeypatch):
    rows = activities(30)
    _kill_after_two_chunks(env, rows)
    leftovers = {uri: n for uri, n in staged_rows(env).items() if n}
    assert leftovers and TEMPLATE not in leftovers  # run 1's rows sit in its own load definition
    assert syncs(env) == []

    second = run_matrix(monkeypatch, **_spec(rows))

    assert second.state == "success", second.tasks
    assert second["create"].return_value == TEMPLATE  # the template was found again and reused
    summary = second["import"].return_value
    assert (summary["rows"], summary["rows_processed"], summary["created"]) == (30, 30, 30)
    (sync,) = syncs(env)
    assert sync["rows"] == 30 and sync["syncedInstanceUri"] not in leftovers
    assert _loaded(env) == _exactly_once(rows)
    # Run 1's leftovers were never synced; its load definition expires (autoDeleteDuration).
    assert {uri: n for uri, n in staged_rows(env).items() if uri in leftovers} == leftovers


# ------------------------------------------------------------------ two loads at once


@pytest.mark.parametrize(
    ("other", "drop_in_ours"),
    [({}, True), ({"dag_id": "eloqua_matrix_other_dag", "mode": "split", "reuse_existing": True}, False)],
    ids=["overlapping-runs-of-one-dag-one-with-a-dropped-post", "two-dags-on-one-definition"],
)
def test_two_loads_on_one_template_never_mix_or_delete_each_others_rows(env, monkeypatch, other, drop_in_ours):
    """The other load (another run of this DAG with ``reuse_existing=True``, or another DAG on the
    same definition name) has staged its first chunk and is held before its second; ours runs from
    start to end meanwhile (with a dropped data POST: it clears its staging and starts over), then
    the other goes on. Before load definitions, ours synced the other's chunk with its own and, on
    the dropped POST, cleared it."""
    theirs, ours = activities(30, start=1001), activities(30)
    their_load = "/activities/imports/2"  # the template is created first, then their copy
    skip_first(env, "POST", f"^{their_load}/data$")
    env.control.add_fault(method="POST", path=f"^{their_load}/data$", action="hold")
    run = _start_other_run(env, _spec(theirs, **other))
    _wait_until(lambda: env.control.held() == 1, "their second chunk held", run)
    their_first_chunk = staged_rows(env)[their_load]
    assert 0 < their_first_chunk < 30
    if drop_in_ours:
        our_load = "/activities/imports/3"
        skip_first(env, "POST", f"^{our_load}/data$", count=1)
        env.control.add_fault(method="POST", path=f"^{our_load}/data$", action="drop")

    mine = run_matrix(monkeypatch, **_spec(ours))
    assert staged_rows(env)[their_load] == their_first_chunk  # their chunk is still there, untouched
    env.control.release_held()
    result = run.result()

    assert mine.state == "success", mine.tasks
    assert result["state"] == "success", run.log[-5000:]
    assert mine["create"].return_value == TEMPLATE
    assert result["tasks"]["create"]["return_value"] == TEMPLATE  # both found the same definition
    ours_synced = mine["import"].return_value
    assert (ours_synced["rows"], ours_synced["rows_processed"], ours_synced["created"]) == (30, 30, 30)
    by_definition = {s["syncedInstanceUri"]: s["rows"] for s in syncs(env)}
    assert by_definition == {their_load: 30, ours_synced["definition_uri"]: 30}
    assert _loaded(env) == _exactly_once(ours + theirs)
    clears = [r["path"] for r in api_requests(env, "DELETE", r"/data$")]
    assert all(path.endswith(f"{ours_synced['definition_uri']}/data") for path in clears)
    assert len(clears) == (1 if drop_in_ours else 0)
    # Both load definitions were deleted once their syncs were reported; the template stays.
    assert [d["uri"] for d in env.control.state()["definitions"]] == [TEMPLATE]
