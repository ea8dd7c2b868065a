"""load/engine.py: what the engine decides before it talks to Eloqua, and the engine against the emulator
over loopback HTTP with a dict-backed checkpoint (no Airflow).

Input is refused before a definition is created (the first chunk is read and checked first), or the
load's own definition is deleted when a bad row is found only while streaming: either way nothing is
left in Eloqua. A later try of another load drops the earlier try's load definition only where that is
safe: deleting a definition under a running sync would end that sync in ``error`` part-way, so the
earlier definition is left to Eloqua's auto-delete while its sync runs, and deleted once it has ended.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from types import SimpleNamespace

import pytest

from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError, EloquaTransportError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint, Progress
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.load_definition import from_spec
from airflow_provider_eloqua.load.spec import DefinitionSpec, InputSpec, UploadSpec
from airflow_provider_eloqua.sync.waiting import wait_for_sync
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store
from tests.system.dags.matrix import captured


def _load(upload: UploadSpec, checkpoint: Checkpoint | None = None) -> Load:
    return Load(
        SimpleNamespace(log=logging.getLogger("test_engine")),  # type: ignore[arg-type]  # only its log is used
        checkpoint or Checkpoint(None),
        blueprint=lambda: pytest.fail("no definition may be read"),
        source=InputSpec(data=[{"Email": "a@x.io"}]),
        upload=upload,
    )


@pytest.mark.parametrize(
    "earlier_cut",
    [
        [1024, 4096],  # an older provider: no cutting-rules version in its cut
        [2048, 4096, "rules"],  # other settings
    ],
)
def test_a_batched_load_cut_another_way_is_not_resumed(earlier_cut):
    """Batches an earlier try loaded under other settings or cutting rules would not line up with
    today's: resuming could skip or repeat rows, so the engine refuses, naming both cuts."""
    upload = UploadSpec(chunk_bytes=1024, max_bytes_per_sync=4096)
    earlier = Progress(source="spec:1", next=1, cut=earlier_cut)
    with pytest.raises(EloquaInputError, match=r"cutting rules\] .*, now \[1024, 4096, \d+\]"):
        _load(upload)._check_cut(earlier)
    assert earlier.cut == earlier_cut


def test_the_try_after_a_clear_loads_batches_cut_another_way_again(caplog):
    """The way out of the refusal above: Clear the task. Its next try starts the batches over, saying so."""
    checkpoint = Checkpoint(None)
    checkpoint.after_clear = True
    earlier = Progress(
        source="spec:1", next=2, cut=[2048, 4096, 1], done=[{"sync_uri": "/syncs/1"}, {"sync_uri": "/syncs/2"}]
    )
    with caplog.at_level(logging.WARNING):
        resumed = _load(UploadSpec(chunk_bytes=1024, max_bytes_per_sync=4096), checkpoint)._check_cut(earlier)
    assert (resumed.source, resumed.next, resumed.done, resumed.cut[:2]) == ("spec:1", 0, [], [1024, 4096])
    assert "New load: batches 1-2 (syncs /syncs/1, /syncs/2) were cut with [2048, 4096, 1]" in caplog.text


FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
}
SPEC = DefinitionSpec("imports", "contacts", "read ahead", FIELDS, "Email")


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_READ_AHEAD", connection_json(emulator))
    return EloquaHook("eloqua_read_ahead")


def _emulated_load(hook: EloquaHook, source: InputSpec, chunk_bytes: int = 30 * 1024 * 1024) -> Load:
    return Load(
        hook,
        Checkpoint(Store()),
        blueprint=lambda: from_spec(SPEC, "0123456789ab"),
        source=source,
        upload=UploadSpec(chunk_bytes=chunk_bytes),
        poll_interval=0.05,
    )


def _csv(tmp_path, text: str, name: str = "contacts.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _nothing_created(emulator) -> None:
    assert emulator.control.state()["definitions"] == []
    assert [r for r in emulator.control.requests() if r["method"] == "POST"] == []


def test_an_empty_identifier_in_row_2_fails_before_a_definition_is_created(hook, emulator):
    rows = [{"Email": "a@x.io", "FirstName": "A"}, {"Email": " ", "FirstName": "B"}]
    with pytest.raises(EloquaInputError, match="row 2: the identifier 'Email' is empty"):
        _emulated_load(hook, InputSpec(data=rows)).run()
    _nothing_created(emulator)


def test_an_unclosed_quote_fails_before_a_definition_is_created(hook, emulator, tmp_path):
    path = _csv(tmp_path, 'Email,FirstName\na@x.io,"Ann\nb@x.io,Bob\n')
    with pytest.raises(EloquaInputError, match="quote"):
        _emulated_load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


def test_a_field_the_input_has_no_column_for_is_named_before_anything_is_created(hook, emulator, tmp_path, caplog):
    """Not refused (a load may send some of a shared template's fields), but named at once, before the
    definition is created, with what follows (Eloqua's ELQ-00121, a warning sync) and the way to fail on it."""
    created_before_warning = []

    def note(record: logging.LogRecord) -> bool:
        if "has no column" in record.getMessage():
            created_before_warning.append(emulator.control.state()["definitions"])
        return True

    logger = logging.getLogger("airflow_provider_eloqua.load.engine")
    logger.addFilter(note)
    try:
        with caplog.at_level(logging.WARNING):
            result = _emulated_load(hook, InputSpec(path=_csv(tmp_path, "Email\na@x.io\n"))).run()
            complete = _emulated_load(hook, InputSpec(data=[{"Email": "b@x.io", "FirstName": "B"}])).run()
    finally:
        logger.removeFilter(note)

    assert "The input has no column for the definition's field(s) 'FirstName'" in caplog.text
    assert "on_warning='fail'" in caplog.text
    assert created_before_warning == [[]]  # once, for the file only, and before any definition existed
    assert result.sync_uri and complete.sync_uri  # both loads go on


def test_a_column_that_is_no_field_fails_before_a_definition_is_created(hook, emulator, tmp_path):
    path = _csv(tmp_path, "Email,Shoe\na@x.io,42\n")
    with pytest.raises(EloquaInputError, match="'Shoe'"):
        _emulated_load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


def _prefetching() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "eloqua-chunk-prefetch"]


def test_a_definition_refused_stops_the_chunk_producer(hook, emulator, tmp_path):
    lines = [f"p{i}@example.com,First{i}" for i in range(1, 201)]
    path = _csv(tmp_path, "Email,FirstName\n" + "\n".join(lines) + "\n")
    emulator.control.add_fault(method="POST", path=r"^/contacts/imports$", status=400, body={"failures": []})
    with pytest.raises(EloquaApiError):
        _emulated_load(hook, InputSpec(path=path), chunk_bytes=1024).run()
    assert not _prefetching()
    assert emulator.control.state()["definitions"] == []


def test_a_bad_row_found_while_streaming_deletes_the_load_definition(hook, emulator, tmp_path):
    """Row 150 lies beyond the first chunk: the definition exists by then, so it is deleted."""
    lines = [f"p{i}@example.com,First{i}" if i != 150 else ",Nobody" for i in range(1, 201)]
    path = _csv(tmp_path, "Email,FirstName\n" + "\n".join(lines) + "\n")
    with pytest.raises(EloquaInputError, match="row 150"):
        _emulated_load(hook, InputSpec(path=path), chunk_bytes=1024).run()
    assert [r["status"] for r in emulator.control.requests() if r["method"] == "POST" and "/data" in r["path"]]
    assert emulator.control.state()["definitions"] == []
    assert emulator.control.state()["syncs"] == []


@pytest.mark.parametrize(("name", "what"), [("empty.csv", "not even a header line"), ("empty.json", "not even")])
def test_a_0_byte_csv_or_json_file_fails_before_a_definition_is_created(hook, emulator, tmp_path, name, what):
    path = _csv(tmp_path, "", name)
    with pytest.raises(EloquaInputError, match=f"is empty \\(0 bytes, {what}"):
        _emulated_load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


@pytest.mark.parametrize(
    ("name", "text"), [("empty.ndjson", ""), ("header.csv", "Email,FirstName\n"), ("array.json", "[]")]
)
def test_input_without_rows_loads_nothing_and_leaves_no_definition(hook, emulator, tmp_path, name, text):
    result = _emulated_load(hook, InputSpec(path=_csv(tmp_path, text, name))).run()
    assert (result.totals.rows, result.sync_uri) == (0, None)
    assert emulator.control.state()["definitions"] == []  # created, then deleted: no sync will use it


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(EloquaInputError, match="is not a file"):
        InputSpec(path=str(tmp_path))


def _try(hook: EloquaHook, store: Store, first_names: str, judged_by: dict | None = None) -> Load:
    rows = [{"Email": f"p{i}@x.io", "FirstName": f"{first_names}{i}"} for i in range(3)]
    return Load(
        hook,
        Checkpoint(store),
        blueprint=lambda: from_spec(SPEC, "0123456789ab"),
        source=InputSpec(data=rows),
        upload=UploadSpec(),
        judged_by=judged_by,
    )


def _definitions(emulator) -> list[str]:
    return [d["uri"] for d in emulator.control.state()["definitions"]]


def test_a_new_load_leaves_the_definition_of_a_sync_still_running(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=1_000_000)
    store = Store()
    first = _try(hook, store, "old").run()  # try 1 started its sync, then died

    second = _try(hook, store, "new").run()
    output = captured(capfd, caplog)

    assert "New load: the input changed" in output
    assert f"Load definition {first.totals.definition_uri} is left to Eloqua's auto-delete" in output
    assert f"sync {first.sync_uri} is still pending" in output
    assert _definitions(emulator) == [first.totals.definition_uri, second.totals.definition_uri]
    assert second.sync_uri != first.sync_uri


def test_a_new_load_deletes_the_definition_of_a_sync_that_ended(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=0, active_polls=0)  # a sync ends at its first look
    store = Store()
    first = _try(hook, store, "old").run()

    second = _try(hook, store, "new").run()
    output = captured(capfd, caplog)

    assert "New load: the input changed" in output
    assert _definitions(emulator) == [second.totals.definition_uri]
    assert [s["status"] for s in emulator.control.state()["syncs"]] == ["success", "pending"]
    assert first.totals.definition_uri != second.totals.definition_uri


def test_the_same_load_on_a_later_try_reattaches(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=1_000_000)
    store = Store()
    first = _try(hook, store, "same").run()

    again = _try(hook, store, "same").run()
    output = captured(capfd, caplog)

    assert "New load" not in output
    assert (again.sync_uri, again.totals) == (first.sync_uri, first.totals)
    assert _definitions(emulator) == [first.totals.definition_uri]


FAIL_ON_WARNING = {"on_warning": "fail", "max_rejected_rows": None, "max_rejected_ratio": None}


@pytest.mark.parametrize(
    ("judged_by", "new_load", "says"),
    [
        (FAIL_ON_WARNING, True, "New load: an earlier try refused the outcome of sync"),
        ({**FAIL_ON_WARNING, "on_warning": "succeed"}, False, "is judged again by"),
    ],
    ids=["same-settings-load-again", "settings-changed-judge-again"],
)
def test_after_a_refused_outcome_a_later_try_judges_again_only_when_the_settings_changed(
    hook, emulator, capfd, caplog, judged_by, new_load, says
):
    """The task refused what its sync did (a warning with on_warning='fail'); the user Clears the task.
    Judging the same sync by the same settings would refuse it again, so the input is loaded again;
    with other settings the sync is judged again and nothing is loaded again."""
    emulator.control.configure(pending_polls=0, active_polls=0)
    store = Store()
    first = _try(hook, store, "same", FAIL_ON_WARNING).run()
    Checkpoint(store).refused_outcome(first.sync_uri, FAIL_ON_WARNING)  # what the operator notes

    again = _try(hook, store, "same", judged_by).run()
    output = captured(capfd, caplog)

    assert says in output
    assert (again.sync_uri != first.sync_uri) is new_load
    assert len(emulator.control.state()["syncs"]) == (2 if new_load else 1)
    assert Checkpoint(store).refused is None


# ------------------------------------------------------------------ a load definition whose create answer was lost


def _try_whose_create_answer_is_lost(hook: EloquaHook, emulator, store: Store, first_names: str) -> str:
    """A try whose load definition Eloqua creates, the connection dropping before the answer (the hook
    does not send that POST again): the try fails. Returns the definition's URI."""
    emulator.control.configure(pending_polls=0, active_polls=0)  # later syncs end at their first look
    emulator.control.add_fault(method="POST", path=r"^/contacts/imports$", times=1, action="drop_after")
    with pytest.raises(EloquaTransportError):
        _try(hook, store, first_names).run()
    (lost,) = _definitions(emulator)
    return lost


def _loaded_once(hook: EloquaHook, emulator, result) -> None:
    """The load's sync succeeded, processed each of its 3 rows once, and the site holds each once."""
    assert wait_for_sync(hook, result.sync_uri, poll_interval=0.01, deadline=time.time() + 30) == "success"
    (sync,) = [s for s in emulator.control.state()["syncs"] if s["uri"] == result.sync_uri]
    assert result.totals.rows == 3 and sync["syncedInstanceUri"] == result.totals.definition_uri
    logs = hook.iter_sync_logs(result.sync_uri)
    assert [log["count"] for log in logs if log.get("statusCode") == "ELQ-00004"] == [3]  # processed
    assert sorted(r["identifier"] for r in emulator.control.records("/contacts")) == ["p0@x.io", "p1@x.io", "p2@x.io"]


def test_a_load_definition_whose_create_answer_was_lost_is_found_again_not_orphaned(hook, emulator, capfd, caplog):
    """The retry of the same load finds the definition whose create answer was lost by its name (which
    names the task instance and the load) and properties, and stages there: one definition, rows once."""
    store = Store()
    lost = _try_whose_create_answer_is_lost(hook, emulator, store, "same")

    result = _try(hook, store, "same").run()
    output = captured(capfd, caplog)

    assert _definitions(emulator) == [lost] and result.totals.definition_uri == lost
    assert re.search(rf"Found load definition {lost} \(read ahead \[airflow-load [0-9a-f]{{12}}\]\) again", output)
    assert (
        len([r for r in emulator.control.requests() if r["method"] == "POST" and r["path"].endswith("/imports")]) == 1
    )
    _loaded_once(hook, emulator, result)


def test_a_lost_load_definition_of_another_load_is_deleted(hook, emulator, capfd, caplog):
    """The create answer of load ``old`` was lost; the next try loads other input (a new load): the
    definition ``old``'s try created is found by its name and deleted, not left for the auto-delete."""
    store = Store()
    lost = _try_whose_create_answer_is_lost(hook, emulator, store, "old")

    result = _try(hook, store, "same").run()
    output = captured(capfd, caplog)

    assert _definitions(emulator) == [result.totals.definition_uri] and result.totals.definition_uri != lost
    assert "New load: the input changed" in output and f"Deleted load definition {lost}" in output
    _loaded_once(hook, emulator, result)
