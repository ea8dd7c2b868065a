"""hooks/session.py: one session per connection per process, against the emulator over real loopback HTTP.

Many waits, one session: triggers in one event loop (as in the triggerer) and hooks in one worker
process share pod discovery, tokens and connections. The connection's ``proxy_url`` extra against a
real forward proxy on loopback (``tests/hooks/forward_proxy.py``): every request of both clients (the
hook's requests session in a worker, the trigger's httpx client in the triggerer) goes through it,
https through a ``CONNECT`` tunnel with TLS verified end to end, proxy credentials work, are refused
clearly when missing, and never leak; a bad ``proxy_url`` fails before any request.

Every assertion is a count or an outcome; nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from airflow_provider_eloqua.emulator import (
    DEFAULT_PASSWORD,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SITE,
    DEFAULT_USER,
    EmulatorServer,
)
from airflow_provider_eloqua.exceptions import (
    EloquaError,
    EloquaInputError,
    EloquaProxyError,
    EloquaTransportError,
)
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions, registered_sessions, site_session
from airflow_provider_eloqua.settings import EloquaSettings
from airflow_provider_eloqua.triggers import eloqua as trigger_module
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.dag_runner import connection_json
from tests.hooks.forward_proxy import ForwardProxy, forward_proxy
from tests.hooks.recording_server import RecordingServer, recording_server
from tests.hooks.test_eloqua import body
from tests.hooks.tls import make_test_ca
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
    # The grant is held by the emulator (no clock) until the triggers have been cancelled.
    emulator.control.add_fault(method="POST", path=r"^/auth/oauth2/token$", action="hold", times=1)
    tasks = [asyncio.create_task(run_one(trigger(u))) for u in uris]

    def grant_in_flight() -> bool:
        sessions = registered_sessions()
        shared = sessions.get(CONN_ID)
        return shared is not None and shared.access_token._task is not None and emulator.control.held() == 1

    await wait_until(grant_in_flight, "the shared grant in flight")
    assert not registered_sessions()[CONN_ID].access_token._task.done()
    for task in tasks[: N // 2]:
        task.cancel()
    await asyncio.sleep(0)  # the cancellations are delivered
    assert emulator.control.release_held() == 1
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


PROXY_USER = "egress-user"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


def tls_conn(server: RecordingServer, ca_pem: str | bool, proxy_url: str | None) -> str:
    extra: dict[str, Any] = {"site": DEFAULT_SITE, "login_url": server.url, "verify_tls": ca_pem}
    if proxy_url is not None:
        extra["proxy_url"] = proxy_url
    return json.dumps({"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD, "extra": extra})


def async_get_sync(conn_id: str, sync_uri: str) -> dict[str, Any]:
    """One status read the way the trigger reads it: httpx on an event loop."""

    async def read() -> dict[str, Any]:
        hook = EloquaHook(conn_id, retry_policy=FAST)
        try:
            return await hook.aget_sync(sync_uri)
        finally:
            await hook.aclose()

    return asyncio.run(read())


def emulator_requests(emulator: EmulatorServer) -> Counter:
    return Counter((r["method"], r["path"]) for r in emulator.control.requests())


def proxied_requests(proxy: ForwardProxy) -> Counter:
    return Counter((e["method"], urlsplit(e["target"]).path) for e in proxy.passed())


# ---------------------------------------------------------------------------------------- the proxy: plain http (the emulator)


def test_a_load_and_its_deferred_wait_go_entirely_through_the_proxy(emulator, monkeypatch):
    """OAuth2 (so the token endpoint is used too), pod discovery, staging, the sync, and then the
    trigger's wait in a fresh "triggerer" session: the emulator saw exactly what passed the proxy."""
    with forward_proxy((PROXY_USER, "proxy-pass-1")) as proxy:
        conn_id = "eloqua_via_proxy"
        extra = {**OAUTH_EXTRA, "proxy_url": proxy.url(PROXY_USER, "proxy-pass-1")}
        set_conn(monkeypatch, conn_id, connection_json(emulator, extra=extra))

        hook = EloquaHook(conn_id, retry_policy=FAST)
        definition = hook.create_import("contacts", body("through the proxy"))["uri"]
        hook.upload_rows(definition, [{"Email": f"p{i}@example.com", "First": "P"} for i in range(3)])
        sync_uri = hook.create_sync(definition)["uri"]
        worker = emulator_requests(emulator)
        assert {("POST", "/auth/oauth2/token"), ("GET", "/id")} <= set(worker)
        assert ("POST", f"/API/Bulk/2.0{definition}/data") in worker
        assert proxied_requests(proxy) == worker

        # The triggerer is another process: a new session, its own grant and discovery, over httpx.
        forget_sessions()
        emulator.control.clear_requests()
        proxy.seen.clear()
        trigger = EloquaSyncTrigger(sync_uri, conn_id, 0.05, time.time() + 120, FAST)

        async def wait() -> list[dict[str, Any]]:
            return [event.payload async for event in trigger.run()]

        events = asyncio.run(wait())
        assert [e.get("sync_status") for e in events] == ["success"], events
        triggerer = emulator_requests(emulator)
        assert {("POST", "/auth/oauth2/token"), ("GET", "/id"), ("GET", f"/API/Bulk/2.0{sync_uri}")} <= set(triggerer)
        assert proxied_requests(proxy) == triggerer
        # the trigger carries the connection id only: the proxy (and its password) stay in the connection
        kwargs = trigger.serialize()[1]
        assert kwargs["eloqua_conn_id"] == conn_id
        assert "proxy-pass-1" not in json.dumps(kwargs) and f":{proxy.port}" not in json.dumps(kwargs)


@pytest.mark.parametrize("credentials", [None, (PROXY_USER, "the-wrong-one")], ids=["none", "wrong"])
def test_missing_or_wrong_proxy_credentials_fail_clearly_and_are_not_retried(emulator, monkeypatch, credentials):
    with forward_proxy((PROXY_USER, "proxy-pass-2")) as proxy:
        url = proxy.url(*credentials) if credentials else proxy.url()
        set_conn(monkeypatch, "eloqua_proxy_refused", connection_json(emulator, extra={"proxy_url": url}))
        for read in (
            lambda: EloquaHook("eloqua_proxy_refused", retry_policy=FAST).get_sync("/syncs/1"),
            lambda: async_get_sync("eloqua_proxy_refused", "/syncs/1"),
        ):
            refused_before = len(proxy.refused())
            with pytest.raises(EloquaProxyError, match=r"proxy \(connection extra 'proxy_url'\) answered 407") as info:
                read()
            assert info.value.status == 407
            assert "user:password@host:port" in str(info.value)
            assert len(proxy.refused()) == refused_before + 1  # a wrong credential is not retried
        assert emulator.control.requests() == []  # nothing reached Eloqua
        assert proxy.passed() == []


# ---------------------------------------------------------------------------------------- https: CONNECT


def test_https_goes_through_a_connect_tunnel_with_tls_verified_end_to_end(monkeypatch, tmp_path):
    """Both clients tunnel to a TLS server whose private CA the connection trusts: every request the
    server answered came in on one of the proxy's connections, the proxy only saw ``CONNECT``s (it
    cannot read the tunnel), and its credentials stopped at the proxy. A connection trusting only the
    default CAs fails the handshake through the same tunnel: the proxy does not weaken verification."""
    ca = make_test_ca(tmp_path)
    with recording_server(tls=ca.server_context()) as server, forward_proxy((PROXY_USER, "proxy-pass-3")) as proxy:
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "active"})
        proxy_url = proxy.url(PROXY_USER, "proxy-pass-3")
        set_conn(monkeypatch, "eloqua_tls_proxy", tls_conn(server, str(ca.ca_pem), proxy_url))
        set_conn(monkeypatch, "eloqua_tls_proxy_public_ca", tls_conn(server, True, proxy_url))

        assert EloquaHook("eloqua_tls_proxy", retry_policy=FAST).get_sync("/syncs/5")["status"] == "active"
        forget_sessions()  # the async read discovers the pod again, over its own tunnel
        assert async_get_sync("eloqua_tls_proxy", "/syncs/5")["status"] == "active"

        assert [r["path"] for r in server.seen] == ["/id", "/API/Bulk/2.0/syncs/5"] * 2
        assert {r["peer_port"] for r in server.seen} <= proxy.upstream_ports
        host = urlsplit(server.url).netloc
        assert {(e["method"], e["target"]) for e in proxy.passed()} == {("CONNECT", host)}
        assert all("proxy-authorization" not in {k.lower() for k in r["headers"]} for r in server.seen)

        answered, tunnels = len(server.seen), len(proxy.passed())
        with pytest.raises(EloquaTransportError):
            EloquaHook("eloqua_tls_proxy_public_ca", retry_policy=FAST).get_sync("/syncs/5")
        assert len(proxy.passed()) > tunnels  # it did tunnel...
        assert len(server.seen) == answered  # ...and the handshake failed: no request was sent


def test_a_tunnel_the_proxy_refuses_is_retried_even_for_a_post(monkeypatch, tmp_path):
    """The proxy answers the first CONNECT with 503 (it cannot reach Eloqua): nothing reached Eloqua,
    so the data POST is simply sent again, and Eloqua sees it once."""
    ca = make_test_ca(tmp_path)
    with recording_server(tls=ca.server_context()) as server, forward_proxy() as proxy:
        server.route("POST", "/API/Bulk/2.0/contacts/imports/7/data", status=204)
        set_conn(monkeypatch, "eloqua_tls_refused_tunnel", tls_conn(server, str(ca.ca_pem), proxy.url()))
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "active"})
        hook = EloquaHook("eloqua_tls_refused_tunnel", retry_policy=FAST)
        hook.get_sync("/syncs/5")  # the pod is discovered first: the refusal below meets the POST
        before = len(proxy.seen)
        proxy.refuse_tunnels.append(503)
        hook.upload_csv("/contacts/imports/7", b"Email\r\na@example.com\r\n")
        assert [e["status"] for e in proxy.seen[before:]] == [503, None]  # refused, then the POST's tunnel
        assert [r["path"] for r in server.seen].count("/API/Bulk/2.0/contacts/imports/7/data") == 1


def test_an_https_proxy_is_verified_with_the_connections_ca_by_both_clients(monkeypatch, tmp_path):
    """A proxy reached over https whose certificate a corporate CA signed, tunnelling to Eloqua over
    https (TLS inside TLS): the connection's ``verify_tls`` (that CA) verifies the proxy in the worker's
    client and in the triggerer's alike; trusting only the public CAs, both refuse the proxy before
    sending anything."""
    ca = make_test_ca(tmp_path)
    with (
        recording_server(tls=ca.server_context()) as server,
        forward_proxy(tls=ca.server_context()) as proxy,
    ):
        assert proxy.url().startswith("https://")
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "active"})
        set_conn(monkeypatch, "eloqua_https_proxy", tls_conn(server, str(ca.ca_pem), proxy.url()))
        set_conn(monkeypatch, "eloqua_https_proxy_public_ca", tls_conn(server, True, proxy.url()))

        assert EloquaHook("eloqua_https_proxy", retry_policy=FAST).get_sync("/syncs/5")["status"] == "active"
        forget_sessions()
        assert async_get_sync("eloqua_https_proxy", "/syncs/5")["status"] == "active"
        assert [r["path"] for r in server.seen] == ["/id", "/API/Bulk/2.0/syncs/5"] * 2
        assert {r["peer_port"] for r in server.seen} <= proxy.upstream_ports

        tunnels, answered = len(proxy.seen), len(server.seen)
        for read in (
            lambda: EloquaHook("eloqua_https_proxy_public_ca", retry_policy=FAST).get_sync("/syncs/5"),
            lambda: async_get_sync("eloqua_https_proxy_public_ca", "/syncs/5"),
        ):
            with pytest.raises(EloquaError):
                read()
        assert (len(proxy.seen), len(server.seen)) == (tunnels, answered)  # refused at the proxy's handshake


def test_https_proxy_refusal_of_connect_is_a_clear_error(monkeypatch, tmp_path):
    ca = make_test_ca(tmp_path)
    with recording_server(tls=ca.server_context()) as server, forward_proxy((PROXY_USER, "proxy-pass-4")) as proxy:
        set_conn(monkeypatch, "eloqua_tls_no_proxy_auth", tls_conn(server, str(ca.ca_pem), proxy.url()))
        for read in (
            lambda: EloquaHook("eloqua_tls_no_proxy_auth", retry_policy=FAST).get_sync("/syncs/5"),
            lambda: async_get_sync("eloqua_tls_no_proxy_auth", "/syncs/5"),
        ):
            with pytest.raises(EloquaProxyError, match="answered 407 to GET /id") as info:
                read()
            assert "not retried" in str(info.value)
        assert [e["method"] for e in proxy.refused()] == ["CONNECT", "CONNECT"]
        assert server.seen == []


def test_an_unreachable_proxy_is_a_transport_error_before_anything_is_sent(emulator, monkeypatch):
    with forward_proxy() as proxy:
        dead = proxy.url()
    set_conn(monkeypatch, "eloqua_dead_proxy", connection_json(emulator, extra={"proxy_url": dead}))
    for read in (
        lambda: EloquaHook("eloqua_dead_proxy", retry_policy=FAST).get_sync("/syncs/1"),
        lambda: async_get_sync("eloqua_dead_proxy", "/syncs/1"),
    ):
        with pytest.raises(EloquaTransportError) as info:
            read()
        assert info.value.connect_phase  # nothing was sent: safe to resend, and retried as such
    assert emulator.control.requests() == []


# ---------------------------------------------------------------------------------------- secrets and bad input


def test_proxy_credentials_stay_out_of_logs_reprs_errors_and_trigger_kwargs(emulator, monkeypatch, caplog):
    caplog.set_level("DEBUG")
    password = "pp-" + secrets.token_hex(8) + "/:@%"  # characters that must be percent-encoded
    wrong = "wrong-" + secrets.token_hex(8)
    leaks = {password, quote(password, safe=""), wrong}
    leaks |= {base64.b64encode(f"{PROXY_USER}:{p}".encode()).decode() for p in (password, wrong)}
    with forward_proxy((PROXY_USER, password)) as proxy:
        good = proxy.url(PROXY_USER, quote(password, safe=""))
        set_conn(monkeypatch, "eloqua_proxy_secret", connection_json(emulator, extra={"proxy_url": good}))
        set_conn(
            monkeypatch,
            "eloqua_proxy_wrong",
            connection_json(emulator, extra={"proxy_url": proxy.url(PROXY_USER, wrong)}),
        )
        hook = EloquaHook("eloqua_proxy_secret", retry_policy=FAST)
        definition = hook.create_import("contacts", body("secret proxy"))["uri"]
        sync_uri = hook.create_sync(definition)["uri"]
        assert async_get_sync("eloqua_proxy_secret", sync_uri)["uri"] == sync_uri
        texts = [repr(hook), repr(hook.settings), str(hook.settings), repr(hook._site_session())]
        assert {password, quote(password, safe="")} <= set(hook.settings.secrets())  # told to the masker
        trigger = EloquaSyncTrigger("/syncs/1", "eloqua_proxy_secret", 1, time.time() + 60)
        texts += [repr(trigger), json.dumps(trigger.serialize())]

        errors: list[BaseException] = []
        for action in (
            lambda: hook.get_definition(definition + "9"),  # Eloqua's 404, through the proxy
            lambda: EloquaHook("eloqua_proxy_wrong", retry_policy=FAST).get_sync("/syncs/1"),  # 407
            lambda: async_get_sync("eloqua_proxy_wrong", "/syncs/1"),
        ):
            with pytest.raises(EloquaError) as info:
                action()
            errors.append(info.value)
        assert [e.status for e in errors] == [404, 407, 407]  # type: ignore[attr-defined]
        assert {e["auth"] for e in proxy.seen} >= {
            "Basic " + base64.b64encode(f"{PROXY_USER}:{password}".encode()).decode()
        }  # the credentials were really used
    for error in errors:
        texts += [str(error), repr(error), repr(error.args), str(error.__cause__ or ""), repr(error.__cause__)]
    texts.append(caplog.text)
    for text in texts:
        for secret in leaks:
            assert secret not in text, f"a proxy credential leaked into: {text[:200]}"


@pytest.mark.parametrize(
    ("proxy_url", "problem"),
    [
        ("socks5://proxy.corp:1080", "scheme must be http or https"),
        ("proxy.corp:3128", "scheme must be http or https"),
        ("http://", "no host"),
        ("http://egress-user:hunter2-secret@:3128", "no host"),
        ("http://proxy.corp:99999", "Port out of range"),
        ("http://proxy.corp:3128/some/path", "no path"),
        # Mistyped: the credentials must not show in the error whatever the URL parses as.
        ("egress-user:hunter2-secret@proxy.corp:3128", "scheme must be http or https"),
        ("http//egress-user:hunter2-secret@proxy.corp:3128", "scheme must be http or https"),
        ("http://egress-user:hunter2-secret@[proxy.corp:3128", "Invalid IPv6 URL"),
    ],
)
def test_a_bad_proxy_url_is_refused_before_any_request(emulator, monkeypatch, proxy_url, problem):
    set_conn(monkeypatch, "eloqua_bad_proxy", connection_json(emulator, extra={"proxy_url": proxy_url}))
    for read in (
        lambda: EloquaHook("eloqua_bad_proxy", retry_policy=FAST).get_sync("/syncs/1"),
        lambda: async_get_sync("eloqua_bad_proxy", "/syncs/1"),
    ):
        with pytest.raises(EloquaInputError, match=r"connection 'eloqua_bad_proxy': extra 'proxy_url' must") as info:
            read()
        assert problem in str(info.value)
        assert "hunter2-secret" not in str(info.value)
    assert emulator.control.requests() == []
