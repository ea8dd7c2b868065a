"""The split export path in a real DAG run against the emulator: the export starts the sync, the sensor
waits for it and the download writes it, each task given what the one before returned through XCom.
The example export DAGs (a run's data interval as the window, a deferred wait, a day split over
Eloqua's activity limit, a round trip): tests/system/test_example_dags.py; a retry mid-download and an
import then an export: tests/operators/test_export.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.dag_runner import DagResult, run_dag

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
