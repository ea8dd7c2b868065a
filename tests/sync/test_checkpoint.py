"""sync/checkpoint.py: the sync part of the task state store, with an opaque payload (a dict is the store)."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_provider_eloqua.sync.checkpoint import (
    STATE_SYNC,
    STATE_SYNC_REQUESTED,
    StartedSync,
    SyncCheckpoint,
    task_key,
)
from tests.sync.helpers import Store


class ExportCheckpoint(SyncCheckpoint):
    payload_key = "eloqua_export_test"


def test_a_started_sync_comes_back_with_its_payload_untouched():
    store = Store()
    checkpoint = SyncCheckpoint(store)
    checkpoint.requesting_sync("/contacts/exports/3")
    definition_uri, at = checkpoint.sync_requested or ("", None)
    assert definition_uri == "/contacts/exports/3" and at is not None and at.tzinfo is not None
    checkpoint.started_sync(StartedSync("/syncs/7", {"since": "2026-01-01T00:00:00Z", "pages": [1, 2]}))
    assert checkpoint.sync_requested is None  # the answer arrived: nothing to look for
    again = SyncCheckpoint(store)
    assert again.sync_uri == "/syncs/7"
    assert again.started("/syncs/7") == StartedSync("/syncs/7", {"since": "2026-01-01T00:00:00Z", "pages": [1, 2]})
    again.forget_sync()
    assert again.sync_uri is None and not store


def test_the_payload_noted_before_asking_survives_a_lost_answer():
    store = Store()
    SyncCheckpoint(store).note_payload({"rows": 30})
    SyncCheckpoint(store).requesting_sync("/contacts/imports/3")
    assert SyncCheckpoint(store).started("/syncs/9").payload == {"rows": 30}
    assert STATE_SYNC not in store and STATE_SYNC_REQUESTED in store


def test_each_capability_keeps_its_payload_in_a_slot_of_its_own():
    store = Store()
    ExportCheckpoint(store).started_sync(StartedSync("/syncs/5", {"export": True}))
    assert store["eloqua_export_test"] == {"export": True} and "eloqua_sync_payload" not in store
    assert SyncCheckpoint(store).started("/syncs/5").payload == {}  # another capability's slot is not read
    ExportCheckpoint(store).forget_sync()
    assert not store


def test_without_a_store_nothing_is_remembered():
    checkpoint = SyncCheckpoint(None)
    checkpoint.requesting_sync("/contacts/imports/3")
    checkpoint.started_sync(StartedSync("/syncs/7", {"rows": 1}))
    assert checkpoint.sync_uri is None and checkpoint.sync_requested is None
    assert checkpoint.started("/syncs/7") == StartedSync("/syncs/7", {})


def test_of_reads_the_task_state_store_from_the_context():
    store = Store()
    ExportCheckpoint.of({"task_state_store": store}).started_sync(StartedSync("/syncs/2"))
    assert isinstance(ExportCheckpoint.of({"task_state_store": store}), ExportCheckpoint)
    assert store[STATE_SYNC] == "/syncs/2"


class CountingStore(Store):
    """The store, counting the calls a task would make to Airflow's execution API."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def get(self, key, default=None):  # type: ignore[override]
        self.calls.append(("get", key))
        return super().get(key, default)

    def set(self, key, value):
        self.calls.append(("set", key))
        super().set(key, value)

    def delete(self, key):
        self.calls.append(("delete", key))
        super().delete(key)


def test_a_try_reads_each_key_once_and_sees_its_own_writes():
    store = CountingStore()
    store.set(STATE_SYNC, "/syncs/7")
    store.calls.clear()
    checkpoint = SyncCheckpoint(store)
    assert checkpoint.sync_uri == "/syncs/7" and checkpoint.sync_uri == "/syncs/7"
    assert checkpoint.sync_requested is None and checkpoint.sync_requested is None
    assert store.calls == [("get", STATE_SYNC), ("get", STATE_SYNC_REQUESTED)]
    checkpoint.started_sync(StartedSync("/syncs/8", {"rows": [1, 2]}))
    assert checkpoint.sync_uri == "/syncs/8" and checkpoint.started("/syncs/8").payload == {"rows": [1, 2]}
    checkpoint.started("/syncs/8").payload["rows"].append(3)  # a caller's copy: what was noted is unchanged
    assert checkpoint.started("/syncs/8").payload == {"rows": [1, 2]}
    assert ("get", "eloqua_sync_payload") not in store.calls  # written on this try: known without a read
    checkpoint.forget_sync()
    assert checkpoint.sync_uri is None and SyncCheckpoint(store).sync_uri is None and not store


def test_deleting_a_key_known_absent_sends_nothing():
    store = CountingStore()
    checkpoint = SyncCheckpoint(store)
    checkpoint.read(STATE_SYNC, STATE_SYNC_REQUESTED)
    store.calls.clear()
    checkpoint.forget_sync()  # the sync and the request were read absent; the payload was never read
    assert store.calls == [("delete", "eloqua_sync_payload")]
    checkpoint.forget_sync()
    assert store.calls == [("delete", "eloqua_sync_payload")]  # everything is known absent now


def _context(**ti) -> dict:
    values = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1} | ti
    return {"ti": SimpleNamespace(**values)}


def test_the_task_key_names_one_task_instance_the_same_on_every_try():
    key = task_key(_context())
    assert len(key) == 12 and int(key, 16) >= 0
    assert task_key(_context(try_number=2)) == key
    others = [task_key(_context(**{name: "x"})) for name in ("dag_id", "task_id", "run_id")]
    others.append(task_key(_context(map_index=3)))
    assert len({key, *others}) == 5
