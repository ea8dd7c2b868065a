"""A later try of another load drops the earlier try's load definition only where that is safe.

The engine against the emulator over loopback HTTP, with a dict-backed checkpoint shared by two
tries whose inputs differ: the second is a new load. Deleting a definition under a running sync
would end that sync in ``error`` part-way, so the earlier definition is left to Eloqua's
auto-delete while its sync runs, and deleted once it has ended.
"""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.load_definition import from_spec
from airflow_provider_eloqua.load.spec import InputSpec, UploadSpec
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store
from tests.load.test_read_ahead import SPEC
from tests.system.dags.matrix import captured


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_NEW_LOAD", connection_json(emulator))
    return EloquaHook("eloqua_new_load")


def _load(hook: EloquaHook, store: Store, first_names: str) -> Load:
    rows = [{"Email": f"p{i}@x.io", "FirstName": f"{first_names}{i}"} for i in range(3)]
    return Load(
        hook,
        Checkpoint(store),
        blueprint=lambda: from_spec(SPEC, "0123456789ab"),
        source=InputSpec(data=rows),
        upload=UploadSpec(),
    )


def _definitions(emulator) -> list[str]:
    return [d["uri"] for d in emulator.control.state()["definitions"]]


def test_a_new_load_leaves_the_definition_of_a_sync_still_running(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=1_000_000)
    store = Store()
    first = _load(hook, store, "old").run()  # try 1 started its sync, then died

    second = _load(hook, store, "new").run()
    output = captured(capfd, caplog)

    assert "New load: the input changed" in output
    assert f"Load definition {first.totals.definition_uri} is left to Eloqua's auto-delete" in output
    assert f"sync {first.sync_uri} is still pending" in output
    assert _definitions(emulator) == [first.totals.definition_uri, second.totals.definition_uri]
    assert second.sync_uri != first.sync_uri


def test_a_new_load_deletes_the_definition_of_a_sync_that_ended(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=0, active_polls=0)  # a sync ends at its first look
    store = Store()
    first = _load(hook, store, "old").run()

    second = _load(hook, store, "new").run()
    output = captured(capfd, caplog)

    assert "New load: the input changed" in output
    assert _definitions(emulator) == [second.totals.definition_uri]
    assert [s["status"] for s in emulator.control.state()["syncs"]] == ["success", "pending"]
    assert first.totals.definition_uri != second.totals.definition_uri


def test_the_same_load_on_a_later_try_reattaches(hook, emulator, capfd, caplog):
    emulator.control.configure(pending_polls=1_000_000)
    store = Store()
    first = _load(hook, store, "same").run()

    again = _load(hook, store, "same").run()
    output = captured(capfd, caplog)

    assert "New load" not in output
    assert (again.sync_uri, again.totals) == (first.sync_uri, first.totals)
    assert _definitions(emulator) == [first.totals.definition_uri]
