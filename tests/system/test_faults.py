"""Fault matrix: every failure Eloqua (or the network) can throw at a load, through the real operators
running in Airflow (``dag.test()``) against the emulator over loopback HTTP.

Each case checks what the user sees (task and DAG state, the error text) and what Eloqua ends up
with: exactly the input's records (nothing lost, nothing doubled), the rows each sync took, and
how many requests were made. Activities never update, so a doubled upload of them would show as
doubled records: the ambiguous-POST cases use them.
"""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.dag_runner import connection_json
from tests.system.dags.matrix import (
    ACTIVITY_FIELDS,
    Site,
    activities,
    api_requests,
    captured,
    contacts,
    data_posts,
    eventually,
    run_matrix,
    skip_first,
    staged_rows,
    syncs,
    when,
)

SYNC_GET = r"/syncs/\d+$"  # request-log paths are full (/api/bulk/2.0/syncs/100)
FAULT_SYNC_GET = r"^/syncs/\d+$"  # fault paths are relative to the Bulk base
SMALL_CHUNKS = 1024


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def _activities_spec(n: int, **spec):
    return {
        "mode": "import",
        "entity": "activities",
        "fields": ACTIVITY_FIELDS,
        "identifier": "ExternalId",
        # Rows of text go as CSV: padded so that 30 rows still make three 1 KiB chunks.
        "data": [dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in activities(n)],
        "chunk_bytes": SMALL_CHUNKS,
        # Restarts after an ambiguous data POST wait the policy's backoff: kept short here.
        "http_retry_policy": {"initial_wait": 0.01, "max_wait": 0.05},
        **spec,
    }


# ------------------------------------------------------------------ throttling and 5xx on GETs


def test_429_with_retry_after_is_waited_out_and_the_post_resent(env, monkeypatch):
    env.control.add_fault(method="POST", path=r"/data$", times=1, status=429, headers={"Retry-After": "1"})

    result = run_matrix(monkeypatch, mode="import", data=contacts(20))

    assert result.state == "success", result.tasks
    assert result["import"].return_value["created"] == 20
    assert len(env.control.records("/contacts")) == 20
    assert [p["status"] for p in data_posts(env)] == [429, 204]
    # A 429 staged nothing, so it is resent as is: no clear-and-restart.
    assert api_requests(env, "DELETE", r"/data$") == []
    assert [s["rows"] for s in syncs(env)] == [20]


@pytest.mark.parametrize(
    ("fault_path", "log_path"),
    [
        (r"^/contacts/imports/\d+$", r"/contacts/imports/\d+$"),
        (FAULT_SYNC_GET, SYNC_GET),
        (r"/logs$", r"/logs$"),
    ],
    ids=["definition", "sync", "sync-logs"],
)
def test_500_with_retry_after_on_a_get_is_retried(env, monkeypatch, fault_path, log_path):
    env.control.add_fault(method="GET", path=fault_path, times=1, status=500, headers={"Retry-After": "1"})

    # The upload reads its template definition (to copy it); the one-task import never reads one.
    result = run_matrix(monkeypatch, mode="split" if "imports" in fault_path else "import", data=contacts(10))

    assert result.state == "success", result.tasks
    assert [r["status"] for r in api_requests(env, "GET", log_path)][:2] == [500, 200]
    assert len(env.control.records("/contacts")) == 10
    assert [s["rows"] for s in syncs(env)] == [10]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_on_gets_are_retried(env, monkeypatch, status):
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=status)

    result = run_matrix(monkeypatch, mode="import", data=contacts(10))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 1  # absorbed by the hook, not by an Airflow retry
    assert [r["status"] for r in api_requests(env, "GET", SYNC_GET)][:2] == [status, 200]
    assert len(env.control.records("/contacts")) == 10
    assert len(api_requests(env, "POST", r"/syncs$")) == 1


def test_gateway_error_in_the_deferrable_trigger_is_retried(env, monkeypatch):
    skip_first(env, "GET", FAULT_SYNC_GET)  # the sensor's own first poke, before it defers
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=503)

    result = run_matrix(monkeypatch, mode="split", data=contacts(10), deferrable=True)

    assert result.state == "success", result.tasks
    assert 503 in [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert result["wait"].return_value["created"] == 10
    assert len(env.control.records("/contacts")) == 10


# ------------------------------------------------------------------ ambiguous data POSTs


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_data_post_clears_staging_and_restarts_the_upload(env, monkeypatch, status):
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", times=1, status=status)

    result = run_matrix(monkeypatch, **_activities_spec(30))

    assert result.state == "success", result.tasks
    upload = result["import"].return_value
    chunks = upload["chunks"]
    assert chunks >= 3 and upload["rows"] == 30
    # chunk 1, chunk 2 (5xx), then a clear and every chunk again
    assert [p["status"] for p in data_posts(env)] == [204, status] + [204] * chunks
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30


@pytest.mark.parametrize("action", ["drop", "drop_after"])
def test_connection_dropped_mid_upload_never_doubles_rows(env, monkeypatch, action):
    """``drop_after`` stages the rows and then drops the connection: the client cannot tell, so it
    must clear staging before resending, or every activity in that chunk would be created twice."""
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", times=1, action=action)

    result = run_matrix(monkeypatch, **_activities_spec(30))

    assert result.state == "success", result.tasks
    chunks = result["import"].return_value["chunks"]
    uploads = [u["rows"] for u in env.control.state()["uploads"]]
    staged_by_fault = 1 if action == "drop_after" else 0
    assert len(uploads) == 1 + staged_by_fault + chunks
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30
    assert result["import"].return_value["created"] == 30


def test_read_timeout_on_a_get_is_retried(env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, extra={"timeout": 1}))
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, action="delay", delay=2.5)

    result = run_matrix(monkeypatch, mode="import", data=contacts(10))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 1  # the hook retried the timed-out GET itself
    assert env.control.faults() == []
    # The timed-out GET is logged once the emulator finishes it, after the client gave up.
    assert eventually(lambda: api_requests(env, "GET", SYNC_GET)[0].get("fault") == "delay")
    assert len(env.control.records("/contacts")) == 10


def test_read_timeout_on_a_data_post_restarts_the_upload_without_doubling(env, monkeypatch, capfd, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, extra={"timeout": 1}))
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="delay", delay=2.5)

    result = run_matrix(monkeypatch, **_activities_spec(30))

    assert result.state == "success", result.tasks
    assert "read timeout after 1.0s" in captured(capfd, caplog)
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30


# ------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    "spec",
    [
        {"mode": "import", "deferrable": False},
        {"mode": "import", "deferrable": True},
        {"mode": "split", "deferrable": False},
        {"mode": "split", "deferrable": True},
    ],
    ids=["operator-poll", "operator-deferred", "sensor-poke", "sensor-deferred"],
)
def test_sync_stuck_in_pending_fails_at_the_deadline(env, monkeypatch, capfd, caplog, spec):
    env.control.configure(pending_polls=1_000_000)

    result = run_matrix(monkeypatch, data=contacts(5), timeout=0.5, poll_interval=0.05, **spec)

    assert result.state == "failed"
    waiting = result["import"] if spec["mode"] == "import" else result["wait"]
    assert waiting.state == "failed"
    output = captured(capfd, caplog)
    assert "at the deadline" in output or "timed out" in output
    assert [s["status"] for s in syncs(env)] == ["pending"]  # one sync, never a second
    assert env.control.records("/contacts") == []


# ------------------------------------------------------------------ authentication


def _oauth_connection(env, **extra):
    return connection_json(
        env,
        extra={"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **extra},
    )


def _expire_tokens_then_release(env, sync_gets_before: int):
    """Once the waiting side has polled the sync, expire every access token; after the 401 it causes,
    let the sync finish."""

    def polled() -> bool:
        return len([r for r in api_requests(env, "GET", SYNC_GET) if r["status"] == 200]) >= sync_gets_before

    def expire_and_release() -> None:
        env.control.configure(expire_access_tokens=True)
        when(
            lambda: any(r["status"] == 401 for r in api_requests(env, "GET", SYNC_GET)),
            lambda: env.control.configure(pending_polls=0, active_polls=0),
        ).join()

    return when(polled, expire_and_release)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferred"])
def test_expired_oauth_token_is_refreshed_and_the_wait_goes_on(env, monkeypatch, deferrable):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", _oauth_connection(env))
    env.control.configure(pending_polls=1_000_000)
    # Poll mode: expire after the operator's first poll. Deferred: after the trigger's first poll
    # (the operator polls once itself before deferring), so the trigger's async path refreshes.
    watcher = _expire_tokens_then_release(env, sync_gets_before=2 if deferrable else 1)

    result = run_matrix(monkeypatch, mode="import", data=contacts(10), deferrable=deferrable)
    watcher.join(5)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 1
    statuses = [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert statuses.count(401) == 1
    tokens = api_requests(env, "POST", r"/auth/oauth2/token$")
    assert all(t["status"] == 200 for t in tokens)
    # the password grant and one renewal after the 401, in both modes: under dag.test() the operator,
    # its trigger and execute_complete run in this one process and share one session (hooks/session.py);
    # in a deployment the triggerer is a process of its own with its own session, so one grant more
    assert len(tokens) == 2
    assert len(env.control.records("/contacts")) == 10


def test_rotated_password_fails_fast_with_a_clear_message(env, monkeypatch, capfd, caplog):
    env.control.configure(password="rotated-by-an-admin")

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=0)

    assert result.state == "failed"
    output = captured(capfd, caplog)
    # /id refuses the rotated password with 200 "Not authenticated." (Oracle): the same clear message
    assert "Eloqua answered 200 to GET /id; body: Not authenticated. Check the user and password" in output
    assert "changed or rotated?" in output
    # one discovery, one renewal after its refusal, then stop: no retry storm
    assert [(r["method"], r["path"], r["status"]) for r in env.control.requests()] == [
        ("GET", "/id", 200),
        ("GET", "/id", 200),
    ]
    assert staged_rows(env) == {}


# ------------------------------------------------------------------ 409 and reattaching


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferred"])
def test_retry_of_the_one_task_import_reattaches_to_its_running_sync(env, monkeypatch, capfd, caplog, deferrable):
    # The first try's first look at its sync fails (400, not retried), with the sync still running.
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)

    result = run_matrix(monkeypatch, mode="import", data=contacts(12), retries=1, deferrable=deferrable)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "Reattaching to sync /syncs/100" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 1  # no second sync
    assert len(data_posts(env)) == 1  # nothing uploaded again
    assert api_requests(env, "DELETE", r"/data$") == []  # staging not touched: no 409
    assert len(api_requests(env, "POST", r"/contacts/imports$")) == 1  # definition reused
    assert [s["rows"] for s in syncs(env)] == [12]
    assert result["import"].return_value["created"] == 12
    assert len(env.control.records("/contacts")) == 12


def test_a_restart_never_touches_another_load_syncing_the_same_template(env, monkeypatch):
    """Another client staged in the template and its sync runs. Our upload copies the template and
    stages in its copy, so the clear-and-restart after its dropped POST clears only its own staging
    (no 409, nobody else's rows deleted) and both syncs take exactly their own rows."""
    site = Site(env)
    uri = site.create_import()
    site.stage(uri, contacts(3, start=100))
    env.control.configure(pending_polls=1_000_000)
    site.start_sync(uri)
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="drop")

    result = run_matrix(monkeypatch, mode="upload", definition_uri=uri, data=contacts(5))

    assert result.state == "success", result.tasks
    copy = result["upload"].return_value["definition_uri"]
    assert copy != uri
    assert [r["path"].endswith(copy + "/data") for r in api_requests(env, "DELETE", r"/data$")] == [True]
    assert [(s["syncedInstanceUri"], s["rows"]) for s in syncs(env)] == [(uri, 3), (copy, 5)]


def test_sync_start_answer_lost_after_creation_is_found_and_reattached(env, monkeypatch, capfd, caplog):
    """POST /syncs creates the sync but the answer is lost. The retry finds that sync among the
    site's syncs and waits for it, instead of staging the rows (and syncing them) a second time."""
    env.control.add_fault(method="POST", path=r"^/syncs$", times=1, action="drop_after")

    result = run_matrix(
        monkeypatch,
        mode="import",
        data=activities(6),
        entity="activities",
        fields=ACTIVITY_FIELDS,
        identifier="ExternalId",
        retries=1,
    )

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "whose creation answer an earlier try lost" in captured(capfd, caplog)
    assert [s["rows"] for s in syncs(env)] == [6]
    assert len(data_posts(env)) == 1
    assert len(env.control.records("/activities")) == 6  # activities never update: doubling would show
    # the found sync is checked against the rows staged for it, as a sync whose answer arrived is
    assert result["import"].return_value["sync_rows"] == 6


def test_retry_after_an_errored_sync_loads_once_more(env, monkeypatch):
    env.control.configure(force_status=["error"])

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=1)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert [s["status"] for s in syncs(env)] == ["error", "success"]
    assert len(env.control.records("/contacts")) == 5


def test_upload_retry_that_reattaches_pushes_the_sync_uri_again(env, monkeypatch):
    """Airflow clears a task's XComs when it retries; the downstream sensor still needs ``sync_uri``."""
    # The upload task's first try dies after starting its sync: its XCom push fails once.
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)

    result = run_matrix(monkeypatch, mode="import", data=contacts(3), retries=1, deferrable=True)

    assert result["import"].try_number == 2
    assert result["import"].xcoms["sync_uri"] == result["import"].return_value["sync_uri"]
    assert len(api_requests(env, "POST", r"/syncs$")) == 1


# ------------------------------------------------------------------ sync errors


def test_definition_deleted_before_the_sync_finished_fails_naming_it(env, monkeypatch, capfd, caplog):
    env.control.configure(pending_polls=1_000_000)
    site = Site(env)

    def delete_definition_then_release() -> None:
        (sync,) = syncs(env)
        site.call("DELETE", sync["syncedInstanceUri"])
        env.control.configure(pending_polls=0, active_polls=0)

    watcher = when(lambda: bool(syncs(env)), delete_definition_then_release)
    result = run_matrix(monkeypatch, mode="split", data=contacts(4))
    watcher.join(5)

    assert result.state == "failed"
    assert result["upload"].state == "success"
    assert result["wait"].state == "failed"
    output = captured(capfd, caplog)
    assert "ended with status 'error'" in output
    assert "ELQ-00143" in output and "Definition deleted before sync finished" in output
    assert env.control.records("/contacts") == []


# ------------------------------------------------------------------ Airflow task retries


@pytest.mark.parametrize(
    "fault",
    [{"action": "drop", "times": 3}, {"action": "drop_after", "times": 3}, {"action": "status", "status": 400}],
    ids=["drop-exhausts-restarts", "drop_after-exhausts-restarts", "400-mid-upload"],
)
def test_task_retry_after_a_failed_upload_clears_staging_and_loads_once(env, monkeypatch, capfd, caplog, fault):
    """The first try fails after chunks were staged (restarts exhausted, or a non-ambiguous 400); the
    Airflow retry clears staging and uploads everything once."""
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", **fault)

    result = run_matrix(monkeypatch, **_activities_spec(30, retries=1))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "Retry: clearing" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30
    assert result["import"].return_value["rows"] == 30
