"""sync/lifecycle.py against the emulator over loopback HTTP, a dict standing in for the task state store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_eloqua.exceptions import EloquaError, EloquaTransportError
from airflow_provider_eloqua.sync.checkpoint import STATE_SYNC_REQUESTED, StartedSync, SyncCheckpoint
from airflow_provider_eloqua.sync.lifecycle import find_lost_sync, reattach, start_sync
from tests.sync.helpers import Store, emulator_hook, requests_to, staged_definition


@pytest.fixture
def hook(emulator, monkeypatch):
    return emulator_hook(emulator, monkeypatch)


def test_a_started_sync_is_reattached_on_a_retry_with_its_payload(hook, emulator):
    store = Store()
    definition = staged_definition(hook)
    checkpoint = SyncCheckpoint(store)
    sync_uri = start_sync(hook, checkpoint, definition, None)
    checkpoint.started_sync(StartedSync(sync_uri, {"what": "the capability's"}))
    posts = requests_to(emulator, "POST", "/syncs")
    assert len(posts) == 1

    found = reattach(hook, SyncCheckpoint(store))

    assert found is not None
    started, status = found
    assert started == StartedSync(sync_uri, {"what": "the capability's"})
    assert status in ("pending", "active", "success")
    assert requests_to(emulator, "POST", "/syncs") == posts  # nothing synced again


def test_a_sync_whose_answer_was_lost_is_found_and_reattached(hook, emulator):
    store = Store()
    definition = staged_definition(hook)
    emulator.control.add_fault(method="POST", path="^/syncs$", action="drop_after")
    with pytest.raises(EloquaTransportError):
        start_sync(hook, SyncCheckpoint(store), definition, None)
    assert SyncCheckpoint(store).sync_requested is not None  # the POST may have taken effect: look on retry

    found = reattach(hook, SyncCheckpoint(store))

    assert found is not None
    [created] = hook.find_syncs(definition, since=datetime.now(UTC) - timedelta(hours=1))
    assert found[0].sync_uri == created["uri"]
    assert SyncCheckpoint(store).sync_uri == created["uri"] and STATE_SYNC_REQUESTED not in store


def test_a_refused_request_is_not_looked_for(hook, emulator):
    """Eloqua answered 400: no sync was created, so a retry has nothing to find."""
    store = Store()
    definition = staged_definition(hook)
    emulator.control.add_fault(method="POST", path="^/syncs$", status=400, body={"failures": []})
    with pytest.raises(EloquaError):
        start_sync(hook, SyncCheckpoint(store), definition, None)
    assert not store
    assert reattach(hook, SyncCheckpoint(store)) is None


def test_a_failed_sync_is_forgotten_so_the_retry_syncs_again(hook, emulator):
    store = Store()
    emulator.control.configure(force_status="error", pending_polls=0, active_polls=0)
    checkpoint = SyncCheckpoint(store)
    sync_uri = start_sync(hook, checkpoint, staged_definition(hook), None)
    checkpoint.started_sync(StartedSync(sync_uri, {"rows": 2}))
    assert hook.get_sync(sync_uri)["status"] == "error"

    assert reattach(hook, SyncCheckpoint(store)) is None
    assert not store


def test_nothing_to_reattach_without_an_earlier_sync(hook, emulator):
    assert reattach(hook, SyncCheckpoint(Store())) is None
    assert not [r for r in emulator.control.requests() if "/syncs" in r["path"]]


def test_find_lost_sync_ignores_syncs_older_than_the_request(hook):
    definition = staged_definition(hook)
    start_sync(hook, SyncCheckpoint(None), definition, None)
    assert find_lost_sync(hook, definition, datetime.now(UTC) + timedelta(hours=1)) is None


def test_find_lost_sync_stops_when_the_syncs_cannot_be_listed(hook, emulator):
    """Not knowing whether the sync started, the retry must not start another: it fails, saying why."""
    definition = staged_definition(hook)
    emulator.control.add_fault(method="GET", path="^/syncs$", status=404, times=None)
    with pytest.raises(EloquaError, match="answer was lost") as info:
        find_lost_sync(hook, definition, datetime.now(UTC))
    assert definition in str(info.value)
