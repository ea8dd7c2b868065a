"""Many waits, one session: triggers in one event loop (as in the triggerer) and hooks in one worker
process share pod discovery, tokens and connections, against the emulator over real loopback HTTP.

Every assertion is a count or an outcome; nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_eloqua.emulator import (
    DEFAULT_REFRESH_TOKEN,
    EmulatorServer,
)
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions, registered_sessions, site_session
from airflow_provider_eloqua.settings import EloquaSettings
from airflow_provider_eloqua.triggers import eloqua as trigger_module
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.triggers.helpers import CONN_ID, EMAIL, FAST, OAUTH_EXTRA

N = 20


@pytest.fixture
def token_store(airflow_db, conn):
    """A refresh-token-only connection whose rotated token lives in a fresh Variable."""
    from airflow.models import Variable

    name = f"eloqua_shared_store_{time.monotonic_ns()}"
    Variable.set(name, DEFAULT_REFRESH_TOKEN)
    conn(login=None, password=None, extra={**OAUTH_EXTRA, "token_store_variable": name})
    yield name
    Variable.delete(name)


def start_syncs(emulator: EmulatorServer, count: int) -> list[str]:
    """``count`` started syncs (one definition each, one staged row); the setup's session is then
    forgotten, as the triggerer is another process, and the request log cleared."""
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    uris = []
    for i in range(count):
        definition = hook.create_import(
            "contacts",
            {"name": f"shared {i}", "fields": {"Email": EMAIL}, "identifierFieldName": "Email"},
        )["uri"]
        hook.upload_rows(definition, [{"Email": f"person{i}@example.com"}])
        uris.append(hook.create_sync(definition)["uri"])
    forget_sessions()
    emulator.control.clear_requests()
    return uris


def trigger(sync_uri: str, poll_interval: float = 0.05) -> EloquaSyncTrigger:
    return EloquaSyncTrigger(sync_uri, CONN_ID, poll_interval, time.time() + 120, FAST)


async def run_one(t: EloquaSyncTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in t.run()]


def count(emulator: EmulatorServer, path_end: str, status: int | None = None) -> int:
    return sum(
        1
        for r in emulator.control.requests()
        if r["path"].endswith(path_end) and (status is None or r["status"] == status)
    )


def gets_of(emulator: EmulatorServer, sync_uri: str) -> list[int]:
    return [r["status"] for r in emulator.control.requests() if r["method"] == "GET" and r["path"].endswith(sync_uri)]


async def wait_until(predicate, what: str) -> None:
    """Poll the emulator's log off the loop until ``predicate()``; a generous bound only against hangs."""
    for _ in range(3000):
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw: {what}")


def every_sync_polled(emulator: EmulatorServer, uris: list[str]) -> bool:
    requests = emulator.control.requests()
    return all(any(r["path"].endswith(u) and r["status"] == 200 for r in requests) for u in uris)


# ---------------------------------------------------------------------------------------- triggers


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
async def test_many_triggers_make_one_discovery_and_one_grant(conn, emulator, auth):
    if auth == "oauth2":
        conn(extra=OAUTH_EXTRA)
    uris = start_syncs(emulator, N)
    results = await asyncio.gather(*(run_one(trigger(u)) for u in uris))

    assert [[(e["status"], e["sync_status"]) for e in events] for events in results] == [[("terminal", "success")]] * N
    assert count(emulator, "/id") == 1
    assert count(emulator, "/auth/oauth2/token") == (1 if auth == "oauth2" else 0)
    assert all(gets_of(emulator, u) == [200, 200, 200] for u in uris)  # one GET per poll, nothing else
    assert list(registered_sessions()) == [CONN_ID]


async def test_an_expired_token_mid_wait_is_renewed_once_for_all(conn, emulator):
    conn(extra=OAUTH_EXTRA)
    emulator.control.configure(pending_polls=1000)
    uris = start_syncs(emulator, N)
    waits = asyncio.gather(*(run_one(trigger(u)) for u in uris))
    await wait_until(lambda: every_sync_polled(emulator, uris), "a first poll of every sync")
    await asyncio.to_thread(emulator.control.configure, expire_access_tokens=True, pending_polls=0, active_polls=0)
    results = await waits

    assert all(events[0]["sync_status"] == "success" for events in results)
    assert [r["status"] for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"] == [200, 200]
    assert count(emulator, "/id") == 2  # the first discovery, and one more after the 401s (pods move)
    assert sum(gets_of(emulator, u).count(401) for u in uris) >= 1
    assert all(gets_of(emulator, u).count(401) <= 1 for u in uris)  # each trigger renewed at most once


async def test_rotating_refresh_tokens_with_a_store_rotate_once_per_renewal(conn, emulator, token_store):
    from airflow.models import Variable

    emulator.control.configure(pending_polls=1000)
    uris = start_syncs(emulator, N)  # the setup's own grant rotates the seed once
    after_setup = emulator.control.refresh_token()
    assert Variable.get(token_store) == after_setup
    issued_before = len(emulator.state.issued_tokens)

    waits = asyncio.gather(*(run_one(trigger(u)) for u in uris))
    await wait_until(lambda: every_sync_polled(emulator, uris), "a first poll of every sync")
    await asyncio.to_thread(emulator.control.configure, expire_access_tokens=True, pending_polls=0, active_polls=0)
    results = await waits

    assert all(events[0]["sync_status"] == "success" for events in results)
    grants = [r["status"] for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"]
    assert grants == [200, 200]  # the first grant and one renewal, both accepted: nobody held a spent token
    assert len(emulator.state.issued_tokens) - issued_before == 4  # two access and two refresh tokens
    assert Variable.get(token_store) == emulator.control.refresh_token() not in (after_setup, DEFAULT_REFRESH_TOKEN)


async def test_cancelled_triggers_during_the_grant_break_nothing(conn, emulator, token_store):
    """Half the triggers are cancelled while the one shared refresh grant is in flight: the grant
    finishes, its rotated token is stored, and the other half carry on with it."""
    from airflow.models import Variable

    uris = start_syncs(emulator, N)
    emulator.control.add_fault(method="POST", path=r"^/auth/oauth2/token$", action="delay", delay=1.0, times=1)
    tasks = [asyncio.create_task(run_one(trigger(u))) for u in uris]

    def grant_in_flight() -> bool:
        sessions = registered_sessions()
        shared = sessions.get(CONN_ID)
        return shared is not None and shared.access_token._task is not None

    await wait_until(grant_in_flight, "the shared grant in flight")
    assert not registered_sessions()[CONN_ID].access_token._task.done()
    for task in tasks[: N // 2]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(r, asyncio.CancelledError) for r in results[: N // 2])
    assert [events[0]["sync_status"] for events in results[N // 2 :]] == ["success"] * (N - N // 2)
    assert [r["status"] for r in emulator.control.requests() if r["path"] == "/auth/oauth2/token"] == [200]
    assert Variable.get(token_store) == emulator.control.refresh_token()

    # and the session still serves a new trigger: no new grant, no new discovery
    emulator.control.clear_requests()
    late = start_syncs_keeping_session(emulator, uris[0])
    assert (await run_one(trigger(late)))[0]["sync_status"] == "success"
    assert count(emulator, "/auth/oauth2/token") == 0
    assert count(emulator, "/id") == 0


def start_syncs_keeping_session(emulator: EmulatorServer, earlier_sync: str) -> str:
    """Start another sync of the definition behind ``earlier_sync`` straight on the emulator."""
    import requests

    from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER

    base = emulator.url + "/api/bulk/2.0"
    auth = (f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD)
    definition = requests.get(base + earlier_sync, auth=auth, timeout=10).json()["syncedInstanceUri"]
    requests.post(base + definition + "/data", json=[{"Email": "late@example.com"}], auth=auth, timeout=10)
    sync_uri = requests.post(base + "/syncs", json={"syncedInstanceUri": definition}, auth=auth, timeout=10)
    emulator.control.clear_requests()
    return sync_uri.json()["uri"]


async def test_one_failing_trigger_leaves_the_others_alone(conn, emulator):
    uris = start_syncs(emulator, N)
    results = await asyncio.gather(*(run_one(trigger(u)) for u in [*uris, "/syncs/424242"]))

    assert [e["status"] for e in results[-1]] == ["error"]
    assert "404" in results[-1][0]["message"]
    assert all(events == [{**events[0], "sync_status": "success"}] for events in results[:-1])
    assert count(emulator, "/id") == 1


async def test_the_client_is_closed_by_its_last_holder_and_rebuilt_for_the_next(conn, emulator):
    uris = start_syncs(emulator, 2)
    first, second = EloquaHook(CONN_ID, retry_policy=FAST), EloquaHook(CONN_ID, retry_policy=FAST)
    await first.aget_sync(uris[0])
    await second.aget_sync(uris[1])
    shared = registered_sessions()[CONN_ID]
    client = await shared.client()
    await first.aclose()
    assert not client.is_closed  # the other hook still holds it
    await second.aclose()
    await asyncio.sleep(0.05)  # the close runs in a task of its own
    assert client.is_closed

    again = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        assert (await again.aget_sync(uris[0]))["uri"] == uris[0]
    finally:
        await again.aclose()
    assert count(emulator, "/id") == 1  # the pod outlived the client


async def test_a_changed_connection_gets_a_new_session(conn, emulator):
    uris = start_syncs(emulator, 1)
    hook = EloquaHook(CONN_ID, retry_policy=FAST)
    try:
        await hook.aget_sync(uris[0])
    finally:
        await hook.aclose()
    before = registered_sessions()[CONN_ID]

    emulator.control.configure(password="a-rotated-password-77")
    conn(password="a-rotated-password-77")
    events = await run_one(trigger(uris[0]))

    assert events[0]["status"] == "terminal"
    assert registered_sessions()[CONN_ID] is not before
    assert count(emulator, "/id") == 2  # the new session discovered the pod with the new password


def test_the_session_key_covers_credentials_and_endpoint_but_not_the_timeout():
    base = EloquaSettings(site="Acme", user="u", password="p")
    same = site_session("c", base)
    assert site_session("c", EloquaSettings(site="Acme", user="u", password="p", timeout=5)) is same
    for changed in (
        EloquaSettings(site="Acme", user="u", password="p2"),
        EloquaSettings(site="Acme", user="u2", password="p"),
        EloquaSettings(site="Acme", user="u", password="p", login_url="https://login.example"),
        EloquaSettings(site="Acme", user="u", password="p", base_url="https://secure.p03.eloqua.com/api/bulk/2.0"),
        EloquaSettings(site="Acme", user="u", password="p", verify_tls=False),
        EloquaSettings(site="Acme", user="u", password="p", auth_type="oauth2", client_id="i", client_secret="s"),
    ):
        assert site_session("c", changed) is not same
    assert site_session("other", base) is not site_session("c", base)
    assert "p2" not in repr(registered_sessions())


async def test_the_trigger_logs_every_change_and_a_reminder_while_unchanged(conn, emulator, monkeypatch, caplog, capfd):
    monkeypatch.setattr(trigger_module, "STILL_LOG_SECONDS", 0.1)  # a reminder every 2 polls at 0.05 s
    emulator.control.configure(pending_polls=5, active_polls=1)
    uris = start_syncs(emulator, 1)
    caplog.set_level(logging.INFO)
    capfd.readouterr()
    events = await run_one(trigger(uris[0]))
    assert events[0]["sync_status"] == "success"

    output = "".join(capfd.readouterr()) + caplog.text
    lines = [line for line in output.splitlines() if uris[0] in line and ("Sync " in line)]
    said = [line.split(f"Sync {uris[0]} ", 1)[1].split(" [")[0].strip() for line in lines]
    assert said == [
        "is pending (poll 1)",
        "still pending after 3 polls",
        "still pending after 5 polls",
        "is active (poll 6)",
        "is success (poll 7)",
    ]


# ---------------------------------------------------------------------------------------- sync hooks


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_hooks_in_worker_threads_share_one_session(conn, emulator, auth):
    """A task waiting on several syncs from several threads: one discovery, one grant, one pool;
    an expired token is renewed once for all threads."""
    if auth == "oauth2":
        conn(extra=OAUTH_EXTRA)
    emulator.control.configure(pending_polls=1000)
    uris = start_syncs(emulator, 8)

    def look(uri: str) -> str:
        return EloquaHook(CONN_ID, retry_policy=FAST).get_sync(uri)["status"]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(look, uris)) == ["pending"] * 8
        emulator.control.configure(expire_access_tokens=True)
        assert list(pool.map(look, uris)) == ["pending"] * 8

    grants = count(emulator, "/auth/oauth2/token")
    assert grants == (2 if auth == "oauth2" else 0)
    assert count(emulator, "/id") == (2 if auth == "oauth2" else 1)
    sessions = {id(EloquaHook(CONN_ID).session) for _ in range(3)}
    assert len(sessions) == 1
