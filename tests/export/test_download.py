"""export/download.py against the emulator over loopback HTTP: an ended export sync's pages into one file.

Each test makes its own sync of an export definition through the hook (named as an export names its
own), then downloads it: no engine, no Airflow.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_eloqua.exceptions import EloquaRowCountError
from airflow_provider_eloqua.export.download import download_sync
from airflow_provider_eloqua.export.plan import export_name
from airflow_provider_eloqua.export.spec import ExportSpec, OutputSpec
from airflow_provider_eloqua.export.window import Window
from tests.sync.helpers import emulator_hook, requests_to

EMAIL = "{{Contact.Field(C_EmailAddress)}}"
FIELDS = {"Id": "{{Contact.Id}}", "Email": EMAIL, "First": "{{Contact.Field(C_FirstName)}}"}
D1, D2 = (datetime(2026, 12, d, tzinfo=UTC) for d in (1, 2))
ENDED = ("success", "warning", "error")


@pytest.fixture
def hook(emulator, monkeypatch):
    return emulator_hook(emulator, monkeypatch)


def seed_contacts(emulator, count: int) -> None:
    emulator.control.seed(
        "/contacts",
        count=count,
        template={EMAIL: "person{n}@example.com", "{{Contact.Field(C_FirstName)}}": "First {n}"},
    )


def sync_of(hook, spec: ExportSpec | None = None, *, own: bool = True, wait: bool = True) -> str:
    """A sync of a new definition of ``spec`` (named as an export names its own unless ``own`` is
    False), waited for until it ends unless ``wait`` is False."""
    spec = spec or ExportSpec(entity="contacts", name="Download test", fields=FIELDS)
    if own:
        spec = spec.with_name(export_name(spec.name, "a1b2c3d4e5f6"))
    definition = hook.create_definition(spec.entity, spec.body(), spec.parent, "exports")["uri"]
    sync_uri = hook.create_sync(definition)["uri"]
    while wait and hook.get_sync(sync_uri)["status"] not in ENDED:
        pass  # what EloquaSyncSensor does
    return sync_uri


def read_csv(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def export_definitions(emulator) -> list[str]:
    return [d["uri"] for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]]


def test_an_ended_sync_is_written_and_only_an_exports_own_definition_deleted(hook, emulator, tmp_path):
    seed_contacts(emulator, 7)
    result = download_sync(hook, sync_of(hook), OutputSpec(str(tmp_path / "c.csv")), key="def456")
    assert result.rows == 7 and read_csv(tmp_path / "c.csv")[0] == ["Id", "Email", "First"]
    assert export_definitions(emulator) == []  # the export's own: deleted
    sync_uri = sync_of(hook, own=False)
    result = download_sync(hook, sync_uri, OutputSpec(str(tmp_path / "kept.csv")), key="def456")
    assert result.rows == 7 and export_definitions(emulator) == [result.definition_uri]  # someone else's: kept


def test_an_empty_sync_writes_a_header_only_file(hook, emulator, tmp_path):
    result = download_sync(hook, sync_of(hook), OutputSpec(str(tmp_path / "none.csv")), key="k")
    assert result.rows == 0
    assert read_csv(tmp_path / "none.csv") == [["Id", "Email", "First"]]
    assert [p["query"] for p in requests_to(emulator, "GET", result.sync_uri + "/data")] == ["offset=0&limit=50000"]


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "status": 429, "headers": {"Retry-After": "0"}},
        {"action": "status", "status": 503},
        {"action": "status", "status": 500, "headers": {"Retry-After": "0"}},
        {"action": "drop"},
        {"action": "truncate", "status": 200},  # half the page's body, then the connection drops
        {"action": "status", "status": 401},  # the token expired: renewed once, then the page again
    ],
)
def test_each_page_survives_a_transient_fault(hook, emulator, tmp_path, fault):
    seed_contacts(emulator, 9)
    sync_uri = sync_of(hook)
    for offset in (0, 4, 8):  # every page fails once, then answers
        emulator.control.add_fault(
            method="GET", path=r"^/syncs/\d+/data$", query=f"offset={offset}(&|$)", times=1, **fault
        )
    result = download_sync(hook, sync_uri, OutputSpec(str(tmp_path / "c.csv"), page_size=4), key="k")
    rows = read_csv(tmp_path / "c.csv")[1:]
    assert result.rows == 9 and sorted(r[1] for r in rows) == sorted(f"person{n}@example.com" for n in range(1, 10))
    assert emulator.control.faults() == []  # each page's fault was met
    pages = requests_to(emulator, "GET", result.sync_uri + "/data")
    assert [p["query"].split("&")[0] for p in pages] == [
        "offset=0",
        "offset=0",
        "offset=4",
        "offset=4",
        "offset=8",
        "offset=8",
    ]


def test_a_download_of_expired_data_fails_without_airflows_retries(hook, emulator, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    seed_contacts(emulator, 3)
    sync_uri = sync_of(hook)
    emulator.control.set_clock(advance=3 * 24 * 3600)  # past the definition's P2D retention
    with pytest.raises(AirflowFailException, match="dataRetentionDuration"):  # a retry would find it gone again
        download_sync(hook, sync_uri, OutputSpec(str(tmp_path / "c.csv")), key="k")
    assert not (tmp_path / "c.csv").exists()


def test_a_download_whose_rows_do_not_add_up_says_to_export_the_window_again(hook, emulator, tmp_path):
    seed_contacts(emulator, 4)
    sync_uri = sync_of(hook)
    emulator.control.add_fault(
        method="GET",
        path=r"^/syncs/\d+/data$",
        action="status",
        status=200,
        body={"items": [], "hasMore": False, "totalResults": 4, "count": 0, "offset": 0, "limit": 50000},
    )
    # Clearing the download reads the same sync again: the way out is a new sync of the window
    with pytest.raises(EloquaRowCountError, match="clear the task that started the sync"):
        download_sync(hook, sync_uri, OutputSpec(str(tmp_path / "c.csv")), key="k")
    assert not (tmp_path / "c.csv").exists()


def test_a_download_refuses_a_running_sync_and_an_import_sync(hook, emulator, tmp_path):
    from airflow_provider_eloqua.exceptions import EloquaError, EloquaInputError
    from tests.sync.helpers import staged_definition

    seed_contacts(emulator, 2)
    running = sync_of(hook, wait=False)
    output = OutputSpec(str(tmp_path / "c.csv"))
    with pytest.raises(EloquaError, match="is still pending: wait for it"):
        download_sync(hook, running, output, key="k")
    import_sync = hook.create_sync(staged_definition(hook))["uri"]
    while hook.get_sync(import_sync)["status"] not in ("success", "warning"):
        pass
    with pytest.raises(EloquaInputError, match="not an export definition"):
        download_sync(hook, import_sync, output, key="k")
    assert not (tmp_path / "c.csv").exists()


def test_a_download_refuses_an_activity_sync_that_stopped_at_eloquas_limit(hook, emulator, tmp_path):
    emulator.control.seed("/activities", count=20, activityType="EmailSend", createdAt="2026-12-01T00:00:00")
    emulator.control.configure(activity_sync_cap=15, activity_sync_cap_outcome="truncate")
    fields = {"ActivityId": "{{Activity.Id}}", "Email": "{{Activity.Field(EmailAddress)}}"}
    spec = ExportSpec(entity="activities", activity_type="EmailSend", name="n", fields=fields, window=Window(D1, D2))
    sync_uri = sync_of(hook, spec)
    with pytest.raises(EloquaRowCountError, match="Eloqua's limit for one activity sync"):
        download_sync(hook, sync_uri, OutputSpec(str(tmp_path / "s.csv")), key="k", row_limit=15)
    assert not (tmp_path / "s.csv").exists()


def _hold_second_page_then(emulator, hook, tmp_path, act) -> Any:
    """Download a sync of 9 contacts in 4-row pages in a thread; while its second page is held, ``act()``."""
    import threading
    import time

    seed_contacts(emulator, 9)
    sync_uri = sync_of(hook)
    emulator.control.add_fault(method="GET", path=r"/syncs/\d+/data$", query="offset=4(&|$)", action="hold")
    outcome: list[Any] = []
    output = OutputSpec(str(tmp_path / "c.csv"), page_size=4)
    worker = threading.Thread(target=lambda: outcome.append(download_sync(hook, sync_uri, output, key="k")))
    worker.start()
    for _ in range(600):
        if emulator.control.held():
            break
        time.sleep(0.05)
    act()
    emulator.control.release_held()
    worker.join(60)
    assert outcome, "the download did not finish"
    assert outcome[0].rows == 9 and len(read_csv(tmp_path / "c.csv")) == 10
    return outcome[0]


def test_the_site_moving_to_another_pod_mid_download_is_followed(hook, emulator, tmp_path):
    result = _hold_second_page_then(emulator, hook, tmp_path, lambda: emulator.control.configure(pod="p07"))
    pages = [(p["path"].split("/API")[0], p["status"]) for p in requests_to(emulator, "GET", result.sync_uri + "/data")]
    assert pages == [("", 200), ("", 401), ("/p07", 200), ("/p07", 200)]  # rediscovered through /id once


def test_an_oauth_token_that_expires_mid_download_is_renewed_and_the_file_is_exact(emulator, monkeypatch, tmp_path):
    from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from tests.dag_runner import connection_json
    from tests.sync.helpers import FAST

    extra = {"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_EXPORT_OAUTH", connection_json(emulator, extra=extra))
    hook = EloquaHook("eloqua_export_oauth", retry_policy=FAST)
    result = _hold_second_page_then(
        emulator, hook, tmp_path, lambda: emulator.control.configure(expire_access_tokens=True)
    )
    pages = [p["status"] for p in requests_to(emulator, "GET", result.sync_uri + "/data")]
    assert pages == [200, 401, 200, 200]  # the held page met the expired token, renewed once
