"""load/checkpoint.py: a typed view of the task state store (pure: a dict stands in for the store)."""

from __future__ import annotations

from airflow_provider_eloqua.load.checkpoint import Batch, Checkpoint, LoadSync, Totals
from airflow_provider_eloqua.sync.checkpoint import StartedSync


class Store(dict):
    """What the task state store offers a task: get, set, delete (values JSON-plain)."""

    def set(self, key, value):
        import json

        self[key] = json.loads(json.dumps(value))  # the store keeps JSON, not objects

    def delete(self, key):
        self.pop(key, None)


def test_a_started_sync_is_found_again_as_it_was_noted():
    store = Store()
    checkpoint = Checkpoint(store)
    batch = Batch(index=1, first_row=31, rows=30, chunks=2, bytes=2000, last=False)
    checkpoint.requesting_sync("/contacts/imports/3")
    assert checkpoint.sync_requested is not None
    checkpoint.started_load_sync(LoadSync("/syncs/7", Totals("/contacts/imports/3", 60, 4, 4000, 2), batch, "Email"))
    assert checkpoint.sync_requested is None  # the answer arrived: nothing to look for
    again = Checkpoint(store)
    assert again.sync_uri == "/syncs/7"
    assert again.load_sync("/syncs/7") == LoadSync(
        "/syncs/7", Totals("/contacts/imports/3", 60, 4, 4000, 2), batch, "Email"
    )
    again.forget_sync()
    assert again.sync_uri is None and not store


def test_the_load_noted_before_asking_is_found_with_a_sync_whose_answer_was_lost():
    """``syncing`` notes the batch before ``POST /syncs``; a retry that finds the sync reads it back."""
    store = Store()
    batch = Batch(index=0, first_row=1, rows=30, chunks=2, bytes=2000, last=False)
    Checkpoint(store).syncing(Totals("/contacts/imports/3", 30, 2, 2000, 1), batch, "Email")
    assert store["eloqua_upload"]["batch"]["rows"] == 30  # the load's slot, a key of its own
    found = Checkpoint(store).load_sync("/syncs/9")
    assert (found.sync_uri, found.totals.rows, found.batch, found.identifier) == ("/syncs/9", 30, batch, "Email")


def test_a_sync_noted_without_a_load_reads_back_as_an_empty_load():
    """A sync whose payload names nothing (started by a task that loads nothing) has empty totals."""
    found = LoadSync.of(StartedSync("/syncs/4"))
    assert (found.totals, found.batch, found.identifier) == (Totals(definition_uri=""), None, None)


def test_progress_belongs_to_its_definition():
    checkpoint = Checkpoint(Store())
    progress = checkpoint.progress("/contacts/imports/3")
    progress.add(Batch(0, 1, 30, 2, 2000, last=False), {"sync_uri": "/syncs/7", "status": "success"})
    checkpoint.save_progress(progress)
    resumed = checkpoint.progress("/contacts/imports/3")
    assert (resumed.next, resumed.rows, resumed.done[0]["first_row"]) == (1, 30, 1)
    assert checkpoint.progress("/contacts/imports/4").next == 0
    checkpoint.forget_load()
    assert checkpoint.progress("/contacts/imports/3").next == 0


def test_without_a_store_nothing_is_remembered():
    checkpoint = Checkpoint(None)
    checkpoint.created_definition("/contacts/imports/3")
    checkpoint.requesting_sync("/contacts/imports/3")
    assert checkpoint.definition_uri is None and checkpoint.sync_requested is None


def test_read_load_reads_every_key_of_the_load_once():
    """What ``Load.begin`` looks at is read in one go (overlapping the input's fingerprint), then never again."""
    store = Store()
    store.set("eloqua_batches", {"source": "abc", "next": 1, "rows": 5})
    reads: list[str] = []
    get = store.get
    store.get = lambda key, default=None: reads.append(key) or get(key, default)  # type: ignore[method-assign]
    checkpoint = Checkpoint(store)
    checkpoint.read_load()
    assert len(reads) == len(set(reads)) == 8
    assert checkpoint.progress("abc").next == 1 and checkpoint.earlier_work() == ["batches 1-1"]
    assert checkpoint.load_identity is None and checkpoint.loaded_before is None and checkpoint.sync_uri is None
    assert checkpoint.refused is None
    assert len(reads) == 8
