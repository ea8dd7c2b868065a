"""sync/waiting.py: statuses, the worker's wait (over loopback HTTP, a fake clock) and the trigger's event contract."""

from __future__ import annotations

import types

import pytest

from airflow_provider_eloqua.exceptions import EloquaError, EloquaSyncTimeout
from airflow_provider_eloqua.sync import waiting
from airflow_provider_eloqua.sync.checkpoint import SyncCheckpoint
from airflow_provider_eloqua.sync.lifecycle import start_sync
from airflow_provider_eloqua.sync.waiting import (
    SyncWatch,
    error_event,
    status_from_event,
    sync_status,
    terminal_event,
    timeout_event,
    wait_for_sync,
)
from tests.sync.helpers import emulator_hook, staged_definition


class FakeClock:
    """``time`` for the waiting module: sleeping moves the clock, nothing really sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(waiting, "time", types.SimpleNamespace(time=fake.time, sleep=fake.sleep))
    return fake


@pytest.mark.parametrize(
    ("given", "expected"), [("Success", "success"), (" ERRORED ", "errored"), ("active", "active")]
)
def test_statuses_are_read_lower_cased(given, expected):
    assert sync_status({"status": given}, "/syncs/1") == expected


def test_an_unknown_status_fails_naming_the_sync():
    with pytest.raises(EloquaError, match=r"unknown status 'paused' for /syncs/1"):
        sync_status({"status": "paused"}, "/syncs/1")


def test_the_worker_waits_until_the_sync_ends(emulator, monkeypatch, clock):
    hook = emulator_hook(emulator, monkeypatch)
    emulator.control.configure(pending_polls=2, active_polls=2, force_status="warning")
    sync_uri = start_sync(hook, SyncCheckpoint(None), staged_definition(hook), None)
    assert wait_for_sync(hook, sync_uri, poll_interval=30, deadline=clock.now + 3600) == "warning"
    assert clock.now > 1_000_000.0  # it polled, pausing between looks


def test_transient_failures_are_waited_through_until_the_deadline(emulator, monkeypatch, clock):
    hook = emulator_hook(emulator, monkeypatch)
    sync_uri = start_sync(hook, SyncCheckpoint(None), staged_definition(hook), None)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, times=None)
    with pytest.raises(EloquaSyncTimeout) as info:
        wait_for_sync(hook, sync_uri, poll_interval=60, deadline=clock.now + 300)
    message = str(info.value)
    assert sync_uri in message and "status never read" in message and "503" in message


def test_a_permanent_failure_ends_the_wait_at_once(emulator, monkeypatch, clock):
    hook = emulator_hook(emulator, monkeypatch)
    with pytest.raises(EloquaError) as info:
        wait_for_sync(hook, "/syncs/999999", poll_interval=60, deadline=clock.now + 300)
    assert not isinstance(info.value, EloquaSyncTimeout)
    assert clock.now == 1_000_000.0


def test_the_event_contract_round_trips():
    assert status_from_event(terminal_event("/syncs/3", "warning")) == ("/syncs/3", "warning")
    watch = SyncWatch("/syncs/3", deadline=0)
    watch.status, watch.last_error = "active", "503 Service Unavailable"
    with pytest.raises(EloquaSyncTimeout, match=r"/syncs/3 \(last seen 'active'\).*503"):
        status_from_event(timeout_event(watch))
    with pytest.raises(EloquaError, match="credentials refused"):
        status_from_event(error_event("/syncs/3", "credentials refused"))


@pytest.mark.parametrize("event", [None, {}, {"status": "terminal", "sync_uri": "/syncs/3"}, {"status": "other"}])
def test_an_unusable_event_fails_clearly(event):
    with pytest.raises(EloquaError, match="trigger returned"):
        status_from_event(event)
