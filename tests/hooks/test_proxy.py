"""The connection's ``proxy_url`` extra against a real forward proxy on loopback
(``tests/hooks/forward_proxy.py``): every request of both clients (the hook's requests session in a
worker, the trigger's httpx client in the triggerer) goes through it, https through a ``CONNECT``
tunnel with TLS verified end to end, proxy credentials work, are refused clearly when missing, and
never leak; a bad ``proxy_url`` fails before any request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorServer
from airflow_provider_eloqua.exceptions import (
    EloquaError,
    EloquaInputError,
    EloquaProxyError,
    EloquaTransportError,
)
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.dag_runner import connection_json
from tests.hooks.forward_proxy import ForwardProxy, forward_proxy
from tests.hooks.recording_server import RecordingServer, recording_server
from tests.hooks.test_eloqua import FAST, OAUTH_EXTRA, body
from tests.hooks.tls import make_test_ca

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


# ---------------------------------------------------------------------------------------- plain http (the emulator)


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
        trigger = EloquaSyncTrigger(sync_uri, conn_id, 0.05, time.time() + 120, FAST.to_dict())

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
