"""Exports in real DAG runs: what only a DAG run shows (retries across tries, templated windows over
consecutive runs, an import then an export, the split, deferral), against the emulator."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dag_runner import EXAMPLE_DAGS, DagResult, run_dag
from tests.system.dags.matrix import api_requests

DAG_FILE = Path(__file__).parent / "dags" / "eloqua_exports.py"
EMAIL = "{{Contact.Field(C_EmailAddress)}}"


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def run_exports(monkeypatch, **spec: Any) -> DagResult:
    monkeypatch.setenv("ELOQUA_EXPORT_SPEC", json.dumps(spec))
    return run_dag(DAG_FILE, "eloqua_exports")


def read_csv(path: str | Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"), newline="")))


def test_a_retry_mid_download_reattaches_to_its_sync_and_the_file_is_exact(env, monkeypatch, tmp_path):
    env.control.seed("/contacts", count=25, template={EMAIL: "person{n}@example.com"}, updatedAt="2026-11-01T00:00:00")
    # the second page fails past the hook's retries: the first try fails mid-download
    env.control.add_fault(method="GET", path=r"^/syncs/\d+/data$", query="offset=10(&|$)", status=503, times=2)
    target = tmp_path / "contacts.csv"
    result = run_exports(
        monkeypatch,
        retries=1,
        export={
            "path": str(target),
            "page_size": 10,
            "http_retry_policy": {"max_attempts": 2, "initial_wait": 0.01, "max_wait": 0.05},
        },
    )

    assert result.state == "success", result.tasks
    assert result["export"].try_number == 2
    summary = result["export"].return_value
    emails = [row["Email"] for row in read_csv(target)]
    assert summary["rows"] == len(emails) == len(set(emails)) == 25
    assert len(api_requests(env, "POST", r"/syncs$")) == 1  # the retry reattached, nothing synced again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]  # no unfinished file left


def test_a_record_stamped_exactly_at_until_lands_in_the_next_runs_file_never_both(env, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    day1, day2, day3 = (datetime(2026, 11, d, tzinfo=UTC) for d in (10, 11, 12))
    for name, moment in [
        ("first", day1),
        ("midday", day1 + timedelta(hours=12)),
        ("last", day2 - timedelta(seconds=1)),
        ("boundary", day2),
        ("next", day2 + timedelta(hours=3)),
        ("later", day3),
    ]:
        env.control.seed(
            "/contacts", records=[{EMAIL: f"{name}@example.com"}], updatedAt=moment.strftime("%Y-%m-%dT%H:%M:%S")
        )
    dag_file = EXAMPLE_DAGS / "example_eloqua_export_contacts.py"

    first = run_dag(dag_file, "eloqua_export_contacts", logical_date=day2)  # data interval [day1, day2)
    second = run_dag(dag_file, "eloqua_export_contacts", logical_date=day3)  # [day2, day3)

    assert first.state == second.state == "success"
    names = [
        {row["Email"].split("@")[0] for row in read_csv(run["export_changed_contacts"].return_value["path"])}
        for run in (first, second)
    ]
    assert names == [{"first", "midday", "last"}, {"boundary", "next"}]
    assert (
        first["export_changed_contacts"].return_value["until"]
        == second["export_changed_contacts"].return_value["since"]
    )


def test_an_import_followed_by_an_export_round_trips_exactly(env, monkeypatch, tmp_path):
    rows = [
        {"Email": f"person{n}@example.com", "FirstName": f'Ann "{n}", Jr.', "LastName": f"Müller-Ñúñez {n}"}
        for n in range(1, 31)
    ]
    target = tmp_path / "contacts.ndjson"
    result = run_exports(monkeypatch, import_rows=rows, export={"path": str(target)})

    assert result.state == "success", result.tasks
    assert result["import"].return_value["created"] == 30
    exported = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert sorted(exported, key=lambda r: r["Email"]) == sorted(rows, key=lambda r: r["Email"])


def test_a_day_over_eloquas_activity_limit_is_exported_in_parts_into_one_file(env, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    day = datetime(2026, 11, 20, tzinfo=UTC)
    env.control.seed(
        "/activities", count=60, activityType="EmailSend", createdAt=day.strftime("%Y-%m-%dT%H:%M:%S"), stepSeconds=1200
    )
    env.control.configure(activity_sync_cap=25, activity_sync_cap_outcome="error")

    result = run_dag(
        EXAMPLE_DAGS / "example_eloqua_export_email_sends.py",
        "eloqua_export_email_sends",
        logical_date=day + timedelta(days=1),
    )

    assert result.state == "success", result.tasks
    summary = result["export_email_sends"].return_value
    ids = [json.loads(line)["ActivityId"] for line in Path(summary["path"]).read_text().splitlines()]
    assert summary["rows"] == len(ids) == len(set(ids)) == 60
    assert len(summary["syncs"]) >= 3
    failed = [s for s in env.control.state()["syncs"] if s["status"] == "error"]
    assert len(failed) == len(summary["syncs"]) - 1  # each window too large once, then split


def test_a_deferrable_export_waits_for_its_sync_in_the_triggerer(env, monkeypatch, tmp_path, caplog):
    caplog.set_level("INFO")
    env.control.seed("/contacts", count=5, template={EMAIL: "person{n}@example.com"}, updatedAt="2026-11-01T00:00:00")
    target = tmp_path / "c.csv"
    result = run_exports(
        monkeypatch,
        retries=2,  # apache/airflow#67287: a trigger that fires within seconds can fail the task once
        export={"path": str(target), "deferrable": True},
    )

    assert result.state == "success", result.tasks
    assert result["export"].return_value["rows"] == 5 and len(read_csv(target)) == 5
    assert "[DAG TEST] running trigger in line" in caplog.text  # the task deferred, its trigger ran


def test_the_split_path_starts_waits_and_downloads_in_three_tasks(env, monkeypatch, tmp_path):
    env.control.seed("/contacts", count=12, template={EMAIL: "person{n}@example.com"}, updatedAt="2026-11-01T10:00:00")
    target = tmp_path / "split.csv"
    result = run_exports(
        monkeypatch,
        export={"wait": False, "since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"},
        download=str(target),
    )

    assert result.state == "success", result.tasks
    started = result["export"].return_value
    assert started["sync_uri"].startswith("/syncs/") and started["rows"] is None
    assert result["wait"].return_value["status"] == "success"
    summary = result["download"].return_value
    assert summary["sync_uri"] == started["sync_uri"] and summary["rows"] == 12 == len(read_csv(target))
    assert summary["since"] == "2026-11-01T00:00:00+00:00"
    assert [d for d in env.control.state()["definitions"] if "/exports/" in d["uri"]] == []  # deleted after
