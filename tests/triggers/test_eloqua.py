"""EloquaSyncTrigger and the hook's async path, against the emulator over real loopback HTTP.

The connection comes from ``AIRFLOW_CONN_<ID>``: in a plain pytest process the trigger resolves
it through ``get_async_connection`` exactly as the triggerer does.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import socket
import threading
import time
import types
from typing import Any

import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_eloqua import __version__
from airflow_provider_eloqua import retry as retry_module
from airflow_provider_eloqua.emulator import (
    DEFAULT_PASSWORD,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SITE,
    DEFAULT_USER,
    EmulatorServer,
)
from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaAuthError, EloquaError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions
from airflow_provider_eloqua.retry import RetryPolicy
from airflow_provider_eloqua.sync import waiting as waiting_module
from airflow_provider_eloqua.sync.waiting import status_from_event
from airflow_provider_eloqua.triggers import eloqua as trigger_module
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.hooks.recording_server import recording_server
from tests.system.dags.matrix import only_held_async_requests_time_out
from tests.triggers.helpers import CONN_ID, EMAIL, FAST, OAUTH_EXTRA


def start_sync(emulator: EmulatorServer) -> str:
    """A definition with one staged row and a started sync; returns the sync URI (setup, sync hook)."""
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    uri = hook.create_import(
        "contacts",
        {
            "name": "trigger test",
            "fields": {"Email": EMAIL},
            "identifierFieldName": "Email",
            "isSyncTriggeredOnImport": False,
        },
    )["uri"]
    hook.upload_rows(uri, [{"Email": "ann@example.com"}])
    sync_uri = hook.create_sync(uri)["uri"]
    emulator.control.clear_requests()
    forget_sessions()  # the triggerer is another process: it shares nothing with the task's hook
    return sync_uri


def make_trigger(sync_uri: str, **overrides: Any) -> EloquaSyncTrigger:
    kwargs: dict[str, Any] = {
        "sync_uri": sync_uri,
        "eloqua_conn_id": CONN_ID,
        "poll_interval": 0.01,
        "end_time": time.time() + 60,
        "retry_policy": FAST,
    }
    kwargs.update(overrides)
    return EloquaSyncTrigger(**kwargs)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """The trigger's clock and sleeps, emulated: a sleep advances the clock at once, so a deadline is
    reached by the trigger's own arithmetic, never by how fast the machine is. (Each look is still
    bounded in real time by ``asyncio.wait_for``: at least ``LAST_LOOK_SECONDS``.)"""
    clock = types.SimpleNamespace(now=1_800_000_000.0, slept=[])
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        clock.slept.append(seconds)
        clock.now += seconds
        await real_sleep(0)

    # The deadline arithmetic lives in sync.waiting.SyncWatch (shared by every wait mode); the hook's
    # retries stop before the deadline by retry.py's clock.
    monkeypatch.setattr(waiting_module, "time", types.SimpleNamespace(time=lambda: clock.now, sleep=time.sleep))
    monkeypatch.setattr(retry_module, "time", types.SimpleNamespace(time=lambda: clock.now))
    monkeypatch.setattr(trigger_module, "FIRST_PAUSE_SPREAD", 0.0)  # every pause the full interval
    monkeypatch.setattr(trigger_module, "asyncio", types.SimpleNamespace(sleep=sleep, wait_for=asyncio.wait_for))
    return clock


async def collect(trigger: EloquaSyncTrigger) -> list[dict[str, Any]]:
    """Every event the trigger yields (run() must end by itself after the first)."""
    return [event.payload async for event in trigger.run()]


def sync_gets(emulator: EmulatorServer, sync_uri: str) -> list[int]:
    return [r["status"] for r in emulator.control.requests() if r["method"] == "GET" and r["path"].endswith(sync_uri)]


# ---------------------------------------------------------------------------------------- serialization


def test_serialize_is_classpath_and_plain_json():
    trigger = EloquaSyncTrigger(
        sync_uri="/syncs/7",
        eloqua_conn_id="eloqua_default",
        poll_interval=15,
        end_time=1_900_000_000.5,
        retry_policy=RetryPolicy(max_attempts=4).to_dict(),
        request_timeout=30,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_eloqua.triggers.eloqua.EloquaSyncTrigger"
    module, _, name = classpath.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert cls is EloquaSyncTrigger

    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs == {
        "sync_uri": "/syncs/7",
        "eloqua_conn_id": "eloqua_default",
        "poll_interval": 15.0,
        "end_time": 1_900_000_000.5,
        "retry_policy": {"max_attempts": 4, "initial_wait": 1.0, "max_wait": 60.0},
        "request_timeout": 30,
    }
    again = cls(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (classpath, kwargs)


def test_serialized_kwargs_survive_airflow_serde():
    from airflow.sdk.serde import deserialize, serialize

    _, kwargs = make_trigger("/syncs/7").serialize()
    assert deserialize(serialize(kwargs)) == kwargs


# ---------------------------------------------------------------------------------------- outcomes


async def test_success_yields_one_terminal_event_with_one_get_per_poll(conn, emulator):
    sync_uri = start_sync(emulator)
    events = await collect(make_trigger(sync_uri))
    assert events == [
        {
            "status": "terminal",
            "sync_status": "success",
            "sync_uri": sync_uri,
            "message": f"Sync {sync_uri} ended: success",
        }
    ]
    assert sync_gets(emulator, sync_uri) == [200, 200, 200]  # pending, active, success
    assert emulator.control.requests()[0]["path"] == "/id"  # the trigger discovered the pod


@pytest.mark.parametrize("forced", ["warning", "error", "errored"])
async def test_forced_outcomes(conn, emulator, forced):
    emulator.control.configure(force_status=forced)
    sync_uri = start_sync(emulator)
    events = await collect(make_trigger(sync_uri))
    assert len(events) == 1
    assert events[0]["status"] == "terminal"
    assert events[0]["sync_status"] == forced


async def test_deadline_already_passed_yields_timeout_after_one_look(conn, emulator):
    emulator.control.configure(pending_polls=1000)
    sync_uri = start_sync(emulator)
    events = await collect(make_trigger(sync_uri, end_time=time.time() - 1))
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", "pending")]
    assert "deadline" in events[0]["message"]
    assert sync_gets(emulator, sync_uri) == [200]


async def test_short_deadline_on_a_sync_that_never_ends(conn, emulator, fake_clock):
    emulator.control.configure(pending_polls=1000)
    sync_uri = start_sync(emulator)
    events = await collect(make_trigger(sync_uri, poll_interval=0.25, end_time=fake_clock.now + 1))
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", "pending")]
    assert "at the deadline" in events[0]["message"]
    # looks at 0, 0.25, 0.5, 0.75 and 1 s: the last one is made at the deadline itself
    assert sync_gets(emulator, sync_uri) == [200] * 5
    assert fake_clock.slept == [0.25] * 4


async def test_polls_sleep_the_full_interval_between_gets(conn, emulator, monkeypatch):
    """With sleeps recorded (not waited), each poll is one GET followed by one poll_interval sleep."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(trigger_module, "asyncio", types.SimpleNamespace(sleep=record_sleep, wait_for=asyncio.wait_for))
    emulator.control.configure(pending_polls=5, active_polls=0)
    sync_uri = start_sync(emulator)
    events = await collect(make_trigger(sync_uri, poll_interval=60, end_time=time.time() + 3600))
    assert events[0]["sync_status"] == "success"
    assert len(sync_gets(emulator, sync_uri)) == 6 == len(slept) + 1
    # the first pause is shortened by a fixed amount per sync (up to half), so that triggers started
    # together spread their polls; every later pause is the full interval
    assert slept[1:] == [60.0] * 4
    assert slept[0] == trigger_module.EloquaSyncTrigger(sync_uri, CONN_ID, 60, 0)._pause(1)
    assert 30.0 <= slept[0] <= 60.0


def test_first_pauses_spread_over_half_the_interval():
    pauses = [EloquaSyncTrigger(f"/syncs/{n}", CONN_ID, 10, 0)._pause(1) for n in range(1000, 2000)]
    assert all(5.0 <= p <= 10.0 for p in pauses)
    # a thousand syncs numbered in a row land spread: every half-second slot of the range is used
    assert len({int(p * 2) for p in pauses}) == 10
    assert EloquaSyncTrigger("/syncs/1500", CONN_ID, 10, 0)._pause(2) == 10.0


async def test_transient_503s_are_survived(conn, emulator):
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, times=2, headers={"Retry-After": "0"})
    events = await collect(make_trigger(sync_uri))
    assert [(e["status"], e["sync_status"]) for e in events] == [("terminal", "success")]
    assert sync_gets(emulator, sync_uri) == [503, 503, 200, 200, 200]


async def test_retries_never_outlast_the_deadline(conn, emulator, fake_clock):
    """Every GET answers 503 with Retry-After: 600, which the default policy would honour for 60 s
    four times; the wait has 15 s and polls every 30 s. No retry is slept: the trigger pauses the
    15 s left, looks once more at the deadline, and the one event is the timeout naming the 503."""
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", status=503, times=None, headers={"Retry-After": "600"}
    )
    trigger = make_trigger(sync_uri, retry_policy=None, poll_interval=30, end_time=fake_clock.now + 15)
    events = await collect(trigger)
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", None)]
    assert "503" in events[0]["message"]
    assert fake_clock.slept == [15]
    assert sync_gets(emulator, sync_uri) == [503, 503]


async def test_a_look_still_unanswered_at_the_deadline_ends_the_wait(conn, emulator, monkeypatch, fake_clock):
    """A GET held past the deadline (its answer never comes in time) is cut after LAST_LOOK_SECONDS."""
    monkeypatch.setattr(trigger_module, "LAST_LOOK_SECONDS", 0.05)
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", action="hold", times=None)
    try:
        events = await collect(make_trigger(sync_uri, end_time=fake_clock.now + 0.01))
    finally:
        emulator.control.release_held()
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", None)]
    assert "no answer from Eloqua before the deadline" in events[0]["message"]


async def test_deadline_reached_while_retrying_reports_the_last_status_seen(conn, emulator, monkeypatch, fake_clock):
    monkeypatch.setattr(trigger_module, "LAST_LOOK_SECONDS", 0.5)
    emulator.control.configure(pending_polls=1000)
    sync_uri = start_sync(emulator)
    skip_one = {"method": "GET", "path": r"^/syncs/\d+$", "times": 1, "action": "delay", "delay": 0}
    emulator.control.add_fault(**skip_one)  # the first look answers normally: "pending"
    emulator.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", status=503, times=None, headers={"Retry-After": "30"}
    )
    patient = {"max_attempts": 5, "initial_wait": 30, "max_wait": 60}
    trigger = make_trigger(sync_uri, retry_policy=patient, poll_interval=0.05, end_time=fake_clock.now + 3)
    events = await collect(trigger)
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", "pending")]
    assert "last seen 'pending'" in events[0]["message"]
    assert sync_gets(emulator, sync_uri) == [200, 503, 503]  # no retry slept; the last look at the deadline


async def test_dropped_connection_is_survived(conn, emulator):
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", action="drop")
    events = await collect(make_trigger(sync_uri))
    assert events[0]["sync_status"] == "success"
    assert len(sync_gets(emulator, sync_uri)) == 4  # the dropped GET, then pending, active, success


async def test_unknown_sync_yields_an_error_event(conn, emulator):
    events = await collect(make_trigger("/syncs/424242"))
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert "404" in events[0]["message"]
    assert sync_gets(emulator, "/syncs/424242") == [404]  # not retried


async def test_an_outage_longer_than_the_retry_policy_is_waited_out(conn, emulator):
    """Eight 503s in a row: more than two looks' worth of the policy's 3 attempts each."""
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, times=8, headers={"Retry-After": "0"})
    events = await collect(make_trigger(sync_uri))
    assert [(e["status"], e["sync_status"]) for e in events] == [("terminal", "success")]
    assert sync_gets(emulator, sync_uri) == [503] * 8 + [200, 200, 200]


async def test_persistent_503_ends_in_a_timeout_event_at_the_deadline_naming_it(conn, emulator):
    sync_uri = start_sync(emulator)
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, times=None)
    events = await collect(make_trigger(sync_uri, poll_interval=0.05, end_time=time.time() + 1))
    assert [(e["status"], e["sync_status"]) for e in events] == [("timeout", None)]
    assert f"Eloqua sync {sync_uri} (status never read) had not ended at the deadline" in events[0]["message"]
    assert "503" in events[0]["message"]
    assert len(sync_gets(emulator, sync_uri)) > 3  # looked again after the policy's 3 attempts gave up
    assert set(sync_gets(emulator, sync_uri)) == {503}


async def test_bad_password_yields_an_error_event_without_the_password(conn, emulator):
    emulator.control.configure(password="changed-password-123")
    events = await collect(make_trigger("/syncs/100"))
    assert [e["status"] for e in events] == ["error"]
    assert "Not authenticated. Check the user and password" in events[0]["message"]
    assert DEFAULT_PASSWORD not in json.dumps(events)
    # /id refuses bad credentials with 200 "Not authenticated." (Oracle): one renewal, then the error
    assert [(r["path"], r["status"]) for r in emulator.control.requests()] == [("/id", 200), ("/id", 200)]


@pytest.mark.parametrize(
    ("case", "kind", "retried"),
    [("credentials-refused", EloquaAuthError, False), ("unknown-sync", EloquaApiError, True)],
)
async def test_a_failure_in_the_triggerer_is_raised_by_the_task_as_the_worker_raises_it(
    conn, emulator, case, kind, retried
):
    """A deferred wait and a wait in the worker fail the same way: refused credentials are an
    EloquaAuthError (not retried by Airflow), an unknown sync a 404 EloquaApiError, word for word."""
    sync_uri = start_sync(emulator)
    if case == "credentials-refused":
        emulator.control.configure(password="changed-password-123")
    else:
        sync_uri = "/syncs/424242"
    with pytest.raises(kind) as in_worker:
        EloquaHook(CONN_ID, retry_policy=FAST).get_sync(sync_uri)
    forget_sessions()

    events = await collect(make_trigger(sync_uri))
    with pytest.raises(kind) as in_task:
        status_from_event(json.loads(json.dumps(events[0])))  # the event is plain JSON

    assert type(in_task.value) is type(in_worker.value)
    assert (in_task.value.status, str(in_task.value)) == (in_worker.value.status, str(in_worker.value))
    assert isinstance(in_task.value, AirflowFailException) is not retried
    assert DEFAULT_PASSWORD not in json.dumps(events)


async def test_missing_connection_yields_an_error_event():
    events = await collect(make_trigger("/syncs/1", eloqua_conn_id="eloqua_no_such_connection"))
    assert [e["status"] for e in events] == ["error"]
    assert "eloqua_no_such_connection" in events[0]["message"]


async def test_refresh_token_without_a_store_is_an_error_event_before_any_grant(conn, emulator):
    sync_uri = start_sync(emulator)
    conn(login=None, password=None, extra={**OAUTH_EXTRA, "refresh_token": DEFAULT_REFRESH_TOKEN})
    events = await collect(make_trigger(sync_uri))
    assert [e["status"] for e in events] == ["error"]
    assert "token_store_variable" in events[0]["message"]
    assert [r for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"] == []
    assert DEFAULT_REFRESH_TOKEN not in events[0]["message"]


async def test_trigger_stores_the_rotated_token_in_the_variable(conn, emulator, airflow_db):
    from airflow.models import Variable

    sync_uri = start_sync(emulator)
    Variable.set("eloqua_trigger_refresh", DEFAULT_REFRESH_TOKEN)
    conn(login=None, password=None, extra={**OAUTH_EXTRA, "token_store_variable": "eloqua_trigger_refresh"})
    try:
        events = await collect(make_trigger(sync_uri))
        assert events[0]["sync_status"] == "success"
        assert Variable.get("eloqua_trigger_refresh") == emulator.control.refresh_token() != DEFAULT_REFRESH_TOKEN
    finally:
        Variable.delete("eloqua_trigger_refresh")


# ---------------------------------------------------------------------------------------- async hook


async def test_async_hook_recovers_a_refresh_token_rotated_by_another_hook(conn, emulator, airflow_db):
    """The trigger's hook holds a refresh token a task's hook has since rotated through the shared
    store: the refused refresh sends it back to the store once, and it carries on."""
    from airflow.models import Variable

    sync_uri = start_sync(emulator)
    Variable.set("eloqua_trigger_shared", DEFAULT_REFRESH_TOKEN)
    conn(login=None, password=None, extra={**OAUTH_EXTRA, "token_store_variable": "eloqua_trigger_shared"})
    in_trigger = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        await in_trigger.aget_sync(sync_uri)
        held = in_trigger._tokens.refresh_token
        forget_sessions()  # the task runs in another process: its hook shares nothing with the trigger's
        await asyncio.to_thread(EloquaHook(CONN_ID, retry_policy=FAST).get_sync, sync_uri)  # a task rotates it
        emulator.control.configure(expire_access_tokens=True)
        emulator.control.clear_requests()

        assert (await in_trigger.aget_sync(sync_uri))["uri"] == sync_uri

        grants = [r["status"] for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"]
        assert grants == [400, 200]
        stored = Variable.get("eloqua_trigger_shared")
        assert in_trigger._tokens.refresh_token == stored == emulator.control.refresh_token() != held
    finally:
        await in_trigger.aclose()
        Variable.delete("eloqua_trigger_shared")


async def test_async_hook_logs_the_renewal_after_a_401(conn, emulator, capfd, caplog):
    sync_uri = start_sync(emulator)
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    caplog.set_level(logging.INFO)
    capfd.readouterr()
    try:
        await hook.aget_sync(sync_uri)
        emulator.control.configure(pod="p03")
        await hook.aget_sync(sync_uri)
    finally:
        await hook.aclose()
    output = "".join(capfd.readouterr()) + caplog.text  # the hook logs through structlog or logging
    assert f"Eloqua answered 401 to GET {sync_uri}; renewing authentication once" in output


async def test_async_hook_rediscovers_a_moved_pod_once(conn, emulator):
    sync_uri = start_sync(emulator)
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        await hook.aget_sync(sync_uri)
        emulator.control.configure(pod="p02")
        emulator.control.clear_requests()
        await hook.aget_sync(sync_uri)
        await hook.aget_sync(sync_uri)
    finally:
        await hook.aclose()
    assert [(r["path"], r["status"]) for r in emulator.control.requests()] == [
        (f"/API/Bulk/2.0{sync_uri}", 401),
        ("/id", 200),
        (f"/p02/API/Bulk/2.0{sync_uri}", 200),
        (f"/p02/API/Bulk/2.0{sync_uri}", 200),
    ]


async def test_async_hook_changed_password_fails_after_one_renewal(conn, emulator):
    sync_uri = start_sync(emulator)
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        await hook.aget_sync(sync_uri)
        emulator.control.configure(password="changed-password-123")
        emulator.control.clear_requests()
        with pytest.raises(EloquaAuthError):
            await hook.aget_sync(sync_uri)
    finally:
        await hook.aclose()
    assert [(r["path"], r["status"]) for r in emulator.control.requests()] == [
        (f"/API/Bulk/2.0{sync_uri}", 401),
        ("/id", 200),  # "Not authenticated."
    ]


async def test_async_hook_renews_an_expired_oauth_token(conn, emulator):
    sync_uri = start_sync(emulator)
    conn(extra=OAUTH_EXTRA)
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        await hook.aget_sync(sync_uri)
        emulator.control.configure(expire_access_tokens=True)
        assert (await hook.aget_sync(sync_uri))["uri"] == sync_uri
    finally:
        await hook.aclose()
    tokens = [r["status"] for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"]
    assert tokens == [200, 200]


async def test_async_hook_refuses_redirects(conn, emulator):
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=307, headers={"Location": "/elsewhere"})
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        with pytest.raises(EloquaError, match="redirected"):
            await hook.aget_sync("/syncs/1")
    finally:
        await hook.aclose()
    assert not [r for r in emulator.control.requests() if r["path"] == "/elsewhere"]


async def test_async_hook_sends_the_user_agent(monkeypatch):
    with recording_server() as server:
        server.route("GET", "/API/Bulk/2.0/syncs/3", body={"uri": "/syncs/3", "status": "active"})
        extra = {"site": DEFAULT_SITE, "login_url": server.url}
        conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_ASYNC_WIRE", json.dumps(conn))
        hook = EloquaHook("eloqua_async_wire", retry_policy=FAST)
        try:
            assert (await hook.aget_sync("/syncs/3"))["status"] == "active"
        finally:
            await hook.aclose()
    assert [r["path"] for r in server.seen] == ["/id", "/API/Bulk/2.0/syncs/3"]
    assert {r["headers"]["User-Agent"] for r in server.seen} == {f"airflow-provider-eloqua/{__version__}"}


# ---------------------------------------------------------------------------------------- no blocking I/O


async def test_run_does_not_block_the_event_loop(conn, emulator, mocker, monkeypatch):
    """No blocking call on the event loop's thread while the trigger runs: no socket operation in
    blocking mode, no DNS lookup, no ``time.sleep``, no ``requests``, no synchronous connection lookup.

    Checked by what is called, not by how long callbacks took: a duration check fails on a busy machine.
    """
    emulator.control.configure(pending_polls=3, active_polls=3)
    sync_uri = start_sync(emulator)
    blocking_http = mocker.spy(requests.Session, "request")
    sync_lookup = mocker.spy(EloquaHook, "get_connection")
    loop_thread = threading.get_ident()
    blocking: list[str] = []

    def watch_socket(patch: pytest.MonkeyPatch, name: str) -> None:
        original = getattr(socket.socket, name)

        def watched(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread and sock.gettimeout() != 0.0:
                blocking.append(f"socket.{name}")
            return original(sock, *args, **kwargs)

        patch.setattr(socket.socket, name, watched)

    def watch_function(patch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        original = getattr(module, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread:
                blocking.append(f"{module.__name__}.{name}")
            return original(*args, **kwargs)

        patch.setattr(module, name, watched)

    with monkeypatch.context() as patch:
        for name in ("connect", "connect_ex", "recv", "recv_into", "send", "sendall", "accept"):
            watch_socket(patch, name)
        watch_function(patch, socket, "getaddrinfo")
        watch_function(patch, time, "sleep")
        events = await collect(make_trigger(sync_uri, poll_interval=0.02))

    assert events[0]["sync_status"] == "success"
    assert blocking == []
    assert blocking_http.call_count == 0
    assert sync_lookup.call_count == 0


# ---------------------------------------------------------------------------------------- the task's settings


async def test_for_hook_waits_with_the_tasks_request_timeout_and_retry_policy(conn, emulator, monkeypatch):
    """A deferred wait uses the settings the task gave its hook: a look held by Eloqua is abandoned
    after the task's ``request_timeout`` (0.05 s) and retried by the task's policy, and a later look sees
    the end. The connection's own timeout is an hour: a trigger that ignored the task's would hang until
    pytest-timeout fails the test. The requests Eloqua answers wait as long as they need."""
    conn(extra={"timeout": 3600})
    sync_uri = start_sync(emulator)
    policy = {"max_attempts": 3, "initial_wait": 0.01, "max_wait": 0.1}
    hook = EloquaHook(CONN_ID, timeout=0.05, retry_policy=policy)
    only_held_async_requests_time_out(monkeypatch, emulator, {("GET", r"/syncs/\d+$"): {1}})
    trigger = EloquaSyncTrigger.for_hook(hook, sync_uri=sync_uri, poll_interval=0.01, end_time=time.time() + 600)
    _, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert (kwargs["eloqua_conn_id"], kwargs["request_timeout"]) == (CONN_ID, 0.05)
    assert kwargs["retry_policy"] == policy
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", action="hold", times=1)
    try:
        events = await collect(EloquaSyncTrigger(**kwargs))
        assert events[0]["sync_status"] == "success"
        assert emulator.control.held() == 1  # the first look is still parked: it was given up, not answered
    finally:
        emulator.control.release_held()
