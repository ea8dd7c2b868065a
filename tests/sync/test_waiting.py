"""sync/waiting.py: statuses, the worker's wait (over loopback HTTP, a fake clock) and the trigger's event contract."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaAuthError,
    EloquaError,
    EloquaInputError,
    EloquaProxyError,
    EloquaSyncTimeout,
    EloquaTransportError,
)
from airflow_provider_eloqua.retry import RetryPolicy
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
from tests.sync.helpers import emulator_hook, requests_to, staged_definition


@pytest.fixture
def clock(worker_clock):
    """The waiting module's and the retry policy's clock, faked (see tests/conftest.py)."""
    return worker_clock


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
    assert clock.slept  # it polled, pausing between looks


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
    assert clock.slept == []


def test_a_retry_after_longer_than_the_timeout_is_never_slept(emulator, monkeypatch, clock):
    """Every look answers 503 with Retry-After: 600; the wait has 15 s and polls every 30 s. The
    hook's retries (up to 60 s each by the default policy) stop before the deadline, the wait sleeps
    the 15 s left, looks once more and fails naming the sync and the 503."""
    hook = emulator_hook(emulator, monkeypatch, retry_policy=None)  # the default: Retry-After honoured up to 60 s
    sync_uri = start_sync(hook, SyncCheckpoint(None), staged_definition(hook), None)
    emulator.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", status=503, times=None, headers={"Retry-After": "600"}
    )
    emulator.control.clear_requests()

    with pytest.raises(EloquaSyncTimeout) as info:
        wait_for_sync(hook, sync_uri, poll_interval=30, deadline=clock.now + 15)

    assert clock.slept == [15]
    assert [r["status"] for r in requests_to(emulator, "GET", sync_uri)] == [503, 503]
    assert sync_uri in str(info.value) and "503" in str(info.value)


def test_a_retry_after_longer_than_the_poll_interval_spaces_the_looks(emulator, monkeypatch, clock):
    """A look that failed with Retry-After: 20 (the hook makes one attempt here) is followed by the
    next look 20 s later, not after the 1 s poll interval; then the wait goes on as usual."""
    hook = emulator_hook(emulator, monkeypatch, retry_policy=RetryPolicy(max_attempts=1))
    sync_uri = start_sync(hook, SyncCheckpoint(None), staged_definition(hook), None)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, headers={"Retry-After": "20"})
    emulator.control.clear_requests()

    assert wait_for_sync(hook, sync_uri, poll_interval=1, deadline=clock.now + 600) == "success"

    assert [r["status"] for r in requests_to(emulator, "GET", sync_uri)][:2] == [503, 200]
    assert clock.slept[0] == 20
    assert set(clock.slept[1:]) == {1}


def test_the_event_contract_round_trips():
    assert status_from_event(terminal_event("/syncs/3", "warning")) == ("/syncs/3", "warning")
    watch = SyncWatch("/syncs/3", deadline=0)
    watch.status, watch.last_error = "active", "503 Service Unavailable"
    with pytest.raises(EloquaSyncTimeout, match=r"/syncs/3 \(last seen 'active'\).*503"):
        status_from_event(timeout_event(watch))
    with pytest.raises(EloquaError, match="Waiting for /syncs/3 failed: the query broke"):
        status_from_event(error_event("/syncs/3", RuntimeError("the query broke")))


@pytest.mark.parametrize(
    "failure",
    [
        EloquaAuthError("GET", "/syncs/3", 401, "Not authenticated.", hint="Check the user and password"),
        EloquaApiError("GET", "/syncs/3", 404, {"failures": [{"field": "uri", "constraint": "Must exist."}]}),
        EloquaApiError("GET", "/syncs/3", 503, b"down", retry_after=20.0),
        EloquaProxyError("GET", "/syncs/3", 407, hint="Check the proxy's credentials"),
        EloquaTransportError("GET", "/syncs/3", "read timeout after 30s"),
        EloquaInputError("connection 'eloqua_default' (basic auth) is missing: password"),
        EloquaError("Eloqua reported an unknown status 'paused' for /syncs/3"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_an_error_event_raises_the_failure_of_the_wait_itself(failure):
    """The event is plain JSON, and the task raises the same class with the same text: a failure the
    worker's wait would fail without retries (an AirflowFailException) fails so after deferral too."""
    event = json.loads(json.dumps(error_event("/syncs/3", failure)))

    with pytest.raises(EloquaError) as raised:
        status_from_event(event)

    assert type(raised.value) is type(failure)
    assert str(raised.value) == str(failure)
    assert isinstance(raised.value, AirflowFailException) == isinstance(failure, AirflowFailException)
    assert getattr(raised.value, "status", None) == getattr(failure, "status", None)


@pytest.mark.parametrize("event", [None, {}, {"status": "terminal", "sync_uri": "/syncs/3"}, {"status": "other"}])
def test_an_unusable_event_fails_clearly(event):
    with pytest.raises(EloquaError, match="trigger returned"):
        status_from_event(event)
