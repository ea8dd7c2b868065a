"""load/checkpoint.py: a typed view of the task state store (pure: a dict stands in for the store)."""

from __future__ import annotations

from airflow_provider_eloqua.load.checkpoint import Batch, Checkpoint, StartedSync, Totals


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
    checkpoint.started_sync(StartedSync("/syncs/7", Totals("/contacts/imports/3", 60, 4, 4000, 2), batch, "Email"))
    assert checkpoint.sync_requested is None  # the answer arrived: nothing to look for
    again = Checkpoint(store)
    assert again.sync_uri == "/syncs/7"
    assert again.started("/syncs/7") == StartedSync(
        "/syncs/7", Totals("/contacts/imports/3", 60, 4, 4000, 2), batch, "Email"
    )
    again.forget_sync()
    assert again.sync_uri is None and not store


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
