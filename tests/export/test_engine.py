"""export/engine.py against the emulator over loopback HTTP, with a dict for the task state store (no Airflow).

Each test runs the engine as one or more tries of a task: a try is a new Export over the same store.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_eloqua.exceptions import EloquaRowCountError, EloquaSyncError, EloquaTransportError
from airflow_provider_eloqua.export.engine import Clock, Export, WaitForSync, WaitUntil
from airflow_provider_eloqua.export.plan import ExportCheckpoint, created_by_export
from airflow_provider_eloqua.export.spec import ExportSpec, OutputSpec
from airflow_provider_eloqua.export.window import Window
from tests.sync.helpers import Store, emulator_hook, requests_to
from tests.system.dags.matrix import captured

EMAIL = "{{Contact.Field(C_EmailAddress)}}"
FIELDS = {"Id": "{{Contact.Id}}", "Email": EMAIL, "First": "{{Contact.Field(C_FirstName)}}"}


class FakeClock(Clock):
    """A clock that moves only when slept on."""

    def __init__(self, now: datetime) -> None:
        self.moment = now
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def hook(emulator, monkeypatch):
    return emulator_hook(emulator, monkeypatch)


def seed_contacts(emulator, count: int, **spec: Any) -> None:
    emulator.control.seed(
        "/contacts",
        count=count,
        template={EMAIL: "person{n}@example.com", "{{Contact.Field(C_FirstName)}}": "First {n}"},
        **spec,
    )


def export(hook, store, path, *, spec: ExportSpec | None = None, page_size: int = 50_000, **kwargs: Any) -> Export:
    spec = spec or ExportSpec(entity="contacts", name="Engine test", fields=FIELDS)
    kwargs.setdefault("poll_interval", 0.01)
    kwargs.setdefault("lag", timedelta(0))
    return Export(
        hook, ExportCheckpoint(store), spec, OutputSpec(str(path), page_size=page_size), key="a1b2c3d4e5f6", **kwargs
    )


def read_csv(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_every_record_is_written_once_and_the_definition_cleaned_up(hook, emulator, tmp_path):
    seed_contacts(emulator, 25)
    store = Store()
    result = export(hook, store, tmp_path / "contacts.csv", page_size=10).run()

    rows = read_csv(tmp_path / "contacts.csv")
    assert rows[0] == ["Id", "Email", "First"]
    assert sorted(r[1] for r in rows[1:]) == sorted(f"person{n}@example.com" for n in range(1, 26))
    assert len({r[0] for r in rows[1:]}) == 25
    summary = result.summary()
    assert summary == {
        "sync_uri": summary["sync_uri"],
        "path": str(tmp_path / "contacts.csv"),
        "rows": 25,
        "bytes": (tmp_path / "contacts.csv").stat().st_size,
        "since": None,
        "until": None,
    }
    # three pages of 10, 10 and 5; none asked past totalResults
    pages = requests_to(emulator, "GET", summary["sync_uri"] + "/data")
    assert [p["query"] for p in pages] == [f"offset={o}&limit=10" for o in (0, 10, 20)]
    # the export's own definition, named for the task, is deleted; nothing is left in the store
    created = requests_to(emulator, "POST", "/contacts/exports")
    assert len(created) == 1
    assert [d for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]] == []
    assert store == {}


def test_the_definition_asks_for_the_window_in_utc_and_auto_deletes(hook, emulator, tmp_path):
    window = Window.of("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
    spec = ExportSpec(entity="contacts", name="Engine test", fields=FIELDS, window=window)
    run = export(hook, Store(), tmp_path / "c.ndjson", spec=spec)
    uri = run._definition(window)
    body = hook.get_definition(uri)
    assert re.fullmatch(r"Engine test \[airflow-export [0-9a-f]{12}\]", body["name"])
    assert body["areSystemTimestampsInUTC"] is True
    assert body["autoDeleteDuration"] == "P2D" and body["dataRetentionDuration"] == "P2D"
    again = hook.get_definition(export(hook, Store(), tmp_path / "c.ndjson", spec=spec)._definition(window))
    assert again["name"] != body["name"] and created_by_export(again["name"])  # each create's name is its own
    assert body["filter"] == (
        "'{{Contact.Field(C_DateModified)}}' >= '2026-12-01 00:00:00' AND "
        "'{{Contact.Field(C_DateModified)}}' < '2026-12-02 00:00:00'"
    )


def test_a_retry_reattaches_to_its_sync_and_syncs_nothing_again(hook, emulator, tmp_path):
    seed_contacts(emulator, 12)
    store = Store()
    waiting = export(hook, store, tmp_path / "c.csv").run(block=False)
    assert isinstance(waiting, WaitForSync)
    # the next try (or the deferred task resuming) finds the sync in the store
    result = export(hook, store, tmp_path / "c.csv").run()
    assert result.sync_uri == waiting.sync_uri and result.rows == 12
    assert len(requests_to(emulator, "POST", "/syncs")) == 1
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 1


def test_a_sync_whose_creation_answer_was_lost_is_found_again(hook, emulator, tmp_path):
    seed_contacts(emulator, 3)
    store = Store()
    emulator.control.add_fault(method="POST", path="^/syncs$", action="drop_after")
    with pytest.raises(EloquaTransportError):
        export(hook, store, tmp_path / "c.csv").run()
    assert not (tmp_path / "c.csv").exists()
    result = export(hook, store, tmp_path / "c.csv").run()
    assert result.rows == 3
    assert len(requests_to(emulator, "POST", "/syncs")) == 1  # the lost one, found through GET /syncs
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 1  # its definition reused


def test_a_sync_that_failed_is_synced_again_by_the_retry(hook, emulator, tmp_path):
    seed_contacts(emulator, 4)
    store = Store()
    emulator.control.configure(force_status="error")
    with pytest.raises(EloquaSyncError, match="ended with status 'error'"):
        export(hook, store, tmp_path / "c.csv").run()
    assert not (tmp_path / "c.csv").exists()
    assert export(hook, store, tmp_path / "c.csv").run().rows == 4
    assert len(requests_to(emulator, "POST", "/syncs")) == 2


def test_data_gone_before_the_download_is_synced_again(hook, emulator, tmp_path):
    seed_contacts(emulator, 5)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/data$", action="status", status=404, times=1)
    result = export(hook, Store(), tmp_path / "c.csv").run()
    assert result.rows == 5 and len(read_csv(tmp_path / "c.csv")) == 6
    assert len(requests_to(emulator, "POST", "/syncs")) == 2
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 2
    assert [d for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]] == []


def test_data_that_keeps_going_away_fails_naming_the_retention(hook, emulator, tmp_path):
    seed_contacts(emulator, 5)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/data$", action="status", status=410, times=None)
    with pytest.raises(Exception, match="dataRetentionDuration"):
        export(hook, Store(), tmp_path / "c.csv").run()
    assert not (tmp_path / "c.csv").exists()


def test_a_try_after_the_data_kept_going_away_syncs_again_instead_of_failing_forever(hook, emulator, tmp_path):
    seed_contacts(emulator, 5)
    store = Store()
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/data$", action="status", status=410, times=None)
    with pytest.raises(Exception, match="dataRetentionDuration"):
        export(hook, store, tmp_path / "c.csv").run()
    emulator.control.clear_faults()
    emulator.control.set_clock(advance=3 * 24 * 3600)  # the last sync's data expires for real
    result = export(hook, store, tmp_path / "c.csv").run()  # the retry, or the try after a Clear
    assert result.rows == 5 and len(read_csv(tmp_path / "c.csv")) == 6
    assert [d for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]] == []


def test_fewer_rows_than_eloqua_exported_fail_naming_both_numbers(hook, emulator, tmp_path):
    seed_contacts(emulator, 30)
    # Eloqua says hasMore on an empty page (a peer looped on it): paging stops, the count check fails
    emulator.control.add_fault(
        method="GET",
        path=r"^/syncs/\d+/data$",
        action="status",
        status=200,
        body={"items": [], "hasMore": True, "totalResults": 30, "count": 0, "offset": 0, "limit": 50000},
    )
    store = Store()
    with pytest.raises(EloquaRowCountError, match=r"exported 30 \(ELQ-00102\) and 30 \(totalResults\), but 0 row"):
        export(hook, store, tmp_path / "c.csv").run()
    assert not (tmp_path / "c.csv").exists()
    assert len(requests_to(emulator, "GET", "/data")) == 1
    # not retried by Airflow; the try after a Clear syncs the window again
    assert export(hook, store, tmp_path / "c.csv").run().rows == 30
    assert len(requests_to(emulator, "POST", "/syncs")) == 2


def test_the_lag_holds_the_sync_until_the_window_has_settled(hook, emulator, tmp_path):
    until = datetime(2026, 12, 2, tzinfo=UTC)
    spec = ExportSpec(entity="contacts", name="n", fields=FIELDS, window=Window(until - timedelta(days=1), until))
    clock = FakeClock(until + timedelta(minutes=5))
    store = Store()
    waiting = export(hook, store, tmp_path / "c.csv", spec=spec, lag=timedelta(hours=1), clock=clock).run(block=False)
    assert waiting == WaitUntil(until + timedelta(hours=1))
    assert requests_to(emulator, "POST", "/contacts/exports") == []  # nothing asked of Eloqua yet
    result = export(hook, store, tmp_path / "c.csv", spec=spec, lag=timedelta(hours=1), clock=clock).run()
    assert clock.slept == [55 * 60]
    assert result.summary()["until"] == "2026-12-02T00:00:00+00:00"


def test_start_only_starts_the_sync_and_leaves_it_to_the_caller(hook, emulator, tmp_path):
    seed_contacts(emulator, 7)
    store = Store()
    started = export(hook, store, tmp_path / "unused.csv").start()
    assert isinstance(started, WaitForSync) and store == {}  # the sync is the caller's now
    status = "pending"
    while status not in ("success", "warning", "error"):  # what EloquaSyncSensor does
        status = (sync := hook.get_sync(started.sync_uri))["status"]
    assert status == "success" and not (tmp_path / "unused.csv").exists()
    definition = hook.get_definition(sync["syncedInstanceUri"])  # export/download.py deletes it once written
    assert definition["name"].startswith("Engine test [") and created_by_export(definition["name"])
    assert len(requests_to(emulator, "POST", "/syncs")) == 1


D1, D2, D3 = (datetime(2026, 12, d, tzinfo=UTC) for d in (1, 2, 3))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_record_stamped_exactly_at_until_is_in_the_next_window_only(hook, emulator, tmp_path):
    for name, moment in [
        ("before", D1 - timedelta(seconds=1)),
        ("first", D1),
        ("day1", D1 + timedelta(hours=10)),
        ("boundary", D2),
        ("day2", D2 + timedelta(hours=5)),
        ("after", D3),
    ]:
        emulator.control.seed("/contacts", records=[{EMAIL: f"{name}@example.com"}], updatedAt=_stamp(moment))

    def day(since: datetime, until: datetime, name: str) -> set[str]:
        spec = ExportSpec(entity="contacts", name="n", fields=FIELDS, window=Window(since, until))
        export(hook, Store(), tmp_path / name, spec=spec).run()
        return {row[1].split("@")[0] for row in read_csv(tmp_path / name)[1:]}

    assert day(D1, D2, "d1.csv") == {"first", "day1"}
    assert day(D2, D3, "d2.csv") == {"boundary", "day2"}


def test_member_of_exports_only_the_segments_members_in_the_window(hook, emulator, tmp_path):
    seed_contacts(emulator, 6, updatedAt=_stamp(D1 + timedelta(hours=1)))
    emulator.control.define_container("ContactSegment", 3, ["person2@example.com", "person5@example.com"])
    spec = ExportSpec(entity="contacts", name="n", fields=FIELDS, member_of="ContactSegment[3]", window=Window(D1, D2))
    result = export(hook, Store(), tmp_path / "seg.csv", spec=spec).run()
    assert result.rows == 2
    assert sorted(r[1] for r in read_csv(tmp_path / "seg.csv")[1:]) == ["person2@example.com", "person5@example.com"]


def _sends(emulator, count: int) -> None:
    """``count`` EmailSend activities spread over D1 (one every 15 minutes)."""
    emulator.control.seed("/activities", count=count, activityType="EmailSend", createdAt=_stamp(D1), stepSeconds=900)


SEND_FIELDS = {
    "ActivityId": "{{Activity.Id}}",
    "Email": "{{Activity.Field(EmailAddress)}}",
    "At": "{{Activity.CreatedAt}}",
}


@pytest.mark.parametrize("outcome", ["truncate", "error"])
def test_an_activity_window_over_eloquas_limit_is_split_into_one_file_with_every_row_once(
    hook, emulator, tmp_path, outcome
):
    _sends(emulator, 40)
    emulator.control.configure(activity_sync_cap=15, activity_sync_cap_outcome=outcome)
    spec = ExportSpec(
        entity="activities", activity_type="EmailSend", name="n", fields=SEND_FIELDS, window=Window(D1, D2)
    )
    # Eloqua's own limit is 5,000,000: a sync that holds exactly the limit was cut there (truncate)
    result = export(hook, Store(), tmp_path / "sends.csv", spec=spec, row_limit=15).run()

    ids = [row[0] for row in read_csv(tmp_path / "sends.csv")[1:]]
    assert result.rows == len(ids) == len(set(ids)) == 40
    assert len(result.syncs) >= 3  # 40 rows at most 14 per part
    assert result.summary()["syncs"] == list(result.syncs)
    # every window synced once: each split window (its sync too large), then each part written
    assert len(requests_to(emulator, "POST", "/syncs")) == 2 * len(result.syncs) - 1
    assert [d for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]] == []


def test_a_window_that_cannot_be_split_further_fails_clearly(hook, emulator, tmp_path):
    emulator.control.seed("/activities", count=5, activityType="EmailSend", createdAt=_stamp(D1))  # one second
    emulator.control.configure(activity_sync_cap=2, activity_sync_cap_outcome="error")
    spec = ExportSpec(
        entity="activities",
        activity_type="EmailSend",
        name="n",
        fields=SEND_FIELDS,
        window=Window(D1, D1 + timedelta(seconds=1)),
    )
    with pytest.raises(Exception, match="cannot be split further"):
        export(hook, Store(), tmp_path / "sends.csv", spec=spec).run()
    assert not (tmp_path / "sends.csv").exists()


def test_a_retry_resumes_a_split_export_at_its_first_part_not_synced(hook, emulator, tmp_path):
    _sends(emulator, 30)
    emulator.control.configure(activity_sync_cap=20, activity_sync_cap_outcome="error")
    spec = ExportSpec(
        entity="activities", activity_type="EmailSend", name="n", fields=SEND_FIELDS, window=Window(D1, D2)
    )
    store = Store()
    run = export(hook, store, tmp_path / "sends.csv", spec=spec)
    assert isinstance(run.run(block=False), WaitForSync)  # the whole day's sync, started
    status = "pending"
    while status not in ("success", "error"):
        status = hook.get_sync(run.checkpoint.sync_uri)["status"]
    # the next try finds the whole day too large, splits it, and goes on from there
    result = export(hook, store, tmp_path / "sends.csv", spec=spec).run()
    ids = [row[0] for row in read_csv(tmp_path / "sends.csv")[1:]]
    assert result.rows == len(set(ids)) == 30
    # every window synced once: each split window (its sync too large) and each part written
    leaves = len(result.syncs)
    assert len(requests_to(emulator, "POST", "/syncs")) == 2 * leaves - 1


def test_a_retry_after_the_data_expired_syncs_again_and_writes_every_row(hook, emulator, tmp_path):
    seed_contacts(emulator, 6)
    store = Store()
    first = export(hook, store, tmp_path / "c.csv").run(block=False)
    assert isinstance(first, WaitForSync)
    while hook.get_sync(first.sync_uri)["status"] not in ("success", "error"):
        pass
    emulator.control.set_clock(advance=3 * 24 * 3600)  # past the definition's P2D retention
    result = export(hook, store, tmp_path / "c.csv").run()
    assert result.rows == 6 and result.sync_uri != first.sync_uri
    statuses = [p["status"] for p in requests_to(emulator, "GET", first.sync_uri + "/data")]
    assert statuses and statuses[0] in (404, 410)  # the expired data, then a new sync


# ------------------------------------------------------------------ an export definition whose create answer was lost

EXPORTS = r"^/contacts/exports$"


def _export_definitions(emulator) -> list[str]:
    return [d["uri"] for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]]


def _lost_create(emulator, attempt) -> str:
    """``attempt()`` (a try) fails: Eloqua creates the part's definition and the connection drops before
    the answer (the hook does not send that POST again). Returns the definition Eloqua made."""
    before = set(_export_definitions(emulator))
    emulator.control.add_fault(method="POST", path=EXPORTS, times=1, action="drop_after")
    with pytest.raises(EloquaTransportError):
        attempt()
    (lost,) = set(_export_definitions(emulator)) - before
    return lost


def _synced_definition(hook, sync_uri: str) -> str:
    return hook.get_sync(sync_uri)["syncedInstanceUri"]


def test_an_export_definition_whose_create_answer_was_lost_is_synced_by_the_retry_not_orphaned(
    hook, emulator, tmp_path, capfd, caplog
):
    """The retry finds the part's definition by the name noted before the create and its properties, and
    syncs it: one definition for the part, every record once in the file, and it is deleted at the end."""
    caplog.set_level("INFO")
    seed_contacts(emulator, 25)
    store = Store()
    lost = _lost_create(emulator, lambda: export(hook, store, tmp_path / "c.csv").run())
    name = hook.get_definition(lost)["name"]

    waiting = export(hook, store, tmp_path / "c.csv").run(block=False)
    assert isinstance(waiting, WaitForSync) and _synced_definition(hook, waiting.sync_uri) == lost
    assert _export_definitions(emulator) == [lost]
    result = export(hook, store, tmp_path / "c.csv", page_size=10).run()

    rows = read_csv(tmp_path / "c.csv")
    assert result.rows == 25 and len(rows) == 26 and len({r[0] for r in rows[1:]}) == 25
    assert sorted(r[1] for r in rows[1:]) == sorted(f"person{n}@example.com" for n in range(1, 26))
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 1  # the lost one, never created twice
    assert _export_definitions(emulator) == [] and store == {}
    output = captured(capfd, caplog)
    assert f"Found export definition {lost} ({name}) again: an earlier try created it for" in output
    assert f"Deleted export definition {lost}" in output


def test_the_split_path_finds_its_lost_definition_and_never_another_tasks(hook, emulator, tmp_path):
    """``start`` (EloquaExportOperator with wait=False) creates the definition the same way: the retry syncs
    the one whose answer was lost. Another task's definition for the same export, same properties, is
    neither reused nor deleted (its name is its own)."""
    seed_contacts(emulator, 3)
    other = export(hook, Store(), tmp_path / "other.csv").start()
    assert isinstance(other, WaitForSync)
    theirs = _synced_definition(hook, other.sync_uri)
    store = Store()
    lost = _lost_create(emulator, lambda: export(hook, store, tmp_path / "c.csv").start())

    started = export(hook, store, tmp_path / "c.csv").start()

    assert isinstance(started, WaitForSync) and _synced_definition(hook, started.sync_uri) == lost
    assert sorted(_export_definitions(emulator)) == sorted([theirs, lost]) and store == {}
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 2


def test_a_lost_definition_of_another_export_is_deleted(hook, emulator, tmp_path, capfd, caplog):
    """The create answer was lost, then the DAG changed (other fields): the retry exports the new export
    and deletes the definition asked for the old one, found by the name noted, instead of leaving it."""
    caplog.set_level("INFO")
    seed_contacts(emulator, 4)
    store = Store()
    lost = _lost_create(emulator, lambda: export(hook, store, tmp_path / "c.csv").run())
    changed = ExportSpec(entity="contacts", name="Engine test", fields={"Id": "{{Contact.Id}}", "Email": EMAIL})

    waiting = export(hook, store, tmp_path / "c.csv", spec=changed).run(block=False)

    assert isinstance(waiting, WaitForSync)
    ours = _synced_definition(hook, waiting.sync_uri)
    assert _export_definitions(emulator) == [ours] and ours != lost
    output = captured(capfd, caplog)
    assert f"Found export definition {lost} (" in output and f"Deleted export definition {lost}" in output
    result = export(hook, store, tmp_path / "c.csv", spec=changed).run()
    assert result.rows == 4 and read_csv(tmp_path / "c.csv")[0] == ["Id", "Email"]
    assert _export_definitions(emulator) == []


def test_a_lost_definition_of_another_part_is_deleted_not_synced(hook, emulator, tmp_path):
    """Same export, another window (another part): the definition asked for the first part is deleted
    before the second part's is created; it is never synced for a window it does not filter on."""
    window = Window.of("2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z")
    spec = ExportSpec(entity="contacts", name="Engine test", fields=FIELDS, window=window)
    first, second = window.halves()
    store = Store()
    lost = _lost_create(emulator, lambda: export(hook, store, tmp_path / "c.csv", spec=spec)._definition(first))

    uri = export(hook, store, tmp_path / "c.csv", spec=spec)._definition(second)

    assert uri != lost and _export_definitions(emulator) == [uri]
    assert "'2026-12-02 00:00:00'" in hook.get_definition(uri)["filter"]
    assert ExportCheckpoint(store).definition == (uri, second)
