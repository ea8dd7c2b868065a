"""Security and wall-clock checks: no secret in any log, XCom, DB row, exception or repr on any error
path; TLS verification on by default; plain http refused off loopback; redirects never followed
with credentials; every request carries a timeout.

The DAG runs are real (``dag.test()`` against the emulator); a second loopback HTTP server stands in
for "another host" so a followed redirect would be seen.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import requests

from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_SITE, DEFAULT_USER
from airflow_provider_eloqua.exceptions import EloquaError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.dag_runner import connection_json
from tests.system.dags.matrix import api_requests, captured, contacts, run_matrix, skip_first, syncs

FAULT_SYNC_GET = r"^/syncs/\d+$"


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


# ------------------------------------------------------------------ secrets


@pytest.fixture
def fernet_key():
    """A Fernet key, as every production Airflow has: Variables (the refresh-token store among them)
    are then encrypted in the metadata DB. Without one Airflow keeps them in plain text, which is
    why the README asks for a Fernet key or a secrets backend for ``token_store_variable``."""
    from airflow.models.crypto import get_fernet
    from cryptography.fernet import Fernet

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
        get_fernet.cache_clear()
        yield
    get_fernet.cache_clear()


@pytest.fixture
def secret_site(env, fernet_key, monkeypatch):
    """The emulator with unique secrets, and eloqua_default (OAuth2) holding every one of them."""
    values = {
        "password": "pw-" + secrets.token_hex(12),
        "client_secret": "cs-" + secrets.token_hex(12),
        "refresh_token": "rt-" + secrets.token_hex(12),
    }
    saved = env.state.client_secret  # not part of reset(): restored below
    env.state.client_secret = values["client_secret"]
    env.control.configure(password=values["password"], refresh_token=values["refresh_token"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELOQUA_DEFAULT",
        connection_json(
            env,
            password=values["password"],
            extra={
                "auth_type": "oauth2",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": values["client_secret"],
                "refresh_token": values["refresh_token"],
                # Refresh tokens rotate on use: without a store only a DAG's first task could refresh.
                "token_store_variable": "eloqua_refresh_token_" + secrets.token_hex(4),
            },
        ),
    )
    yield values
    env.state.client_secret = saved


def _all_secret_forms(values: dict[str, str], access_tokens: set[str]) -> set[str]:
    raw = set(values.values()) | access_tokens
    basic = f"{DEFAULT_SITE}\\{DEFAULT_USER}:{values['password']}".encode()
    client = f"{DEFAULT_CLIENT_ID}:{values['client_secret']}".encode()
    return raw | {base64.b64encode(basic).decode(), base64.b64encode(client).decode()}


def _database_bytes() -> bytes:
    from airflow.settings import engine

    engine.dispose()  # flush nothing pending; the file is read as is
    return Path(engine.url.database).read_bytes()


def _xcom_text() -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return "\n".join(repr(XComModel.deserialize_value(row)) for row in session.scalars(select(XComModel)))


def test_no_secret_appears_anywhere_on_any_error_path(env, secret_site, monkeypatch, capfd, caplog):
    from airflow.models import Variable

    outcomes: dict[str, str] = {}

    def run(case: str, **spec):
        forget_sessions()  # each run as a fresh worker process: it obtains (and can leak) its own tokens
        result = run_matrix(monkeypatch, data=contacts(3), retries=0, **spec)
        outcomes[case] = result.state
        return result

    # 1. auth failure: the token endpoint refuses the refresh token
    env.control.add_fault(
        method="POST",
        path=r"^/auth/oauth2/token$",
        times=1,
        status=400,
        body={"error": "invalid_grant", "error_description": "The refresh token is invalid."},
    )
    run("auth", mode="import")
    # 2. 400 validation error on create
    env.control.add_fault(
        method="POST",
        path=r"^/contacts/imports$",
        times=1,
        status=400,
        body={"failures": [{"field": "name", "value": "matrix import", "constraint": "Must be unique."}]},
    )
    run("validation", mode="import")
    # 3. 5xx until the retries are exhausted
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=None, status=503, headers={"Retry-After": "0"})
    run("5xx", mode="import")
    env.control.clear_faults()
    # 4. the sync ends in error
    env.control.configure(force_status="error")
    run("sync-error", mode="split")
    # 5. the trigger's error event (deferred sensor; its first poke happens before deferring)
    skip_first(env, "GET", FAULT_SYNC_GET)
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400, body="bad sync request")
    run("trigger-error", mode="split", deferrable=True)
    # 6. the refresh-token grant alone (no password): each task, the sensor's poke and the trigger
    # start from the Variable's refresh token and store the one Eloqua rotates to; the sync ends in error
    store = "eloqua_refresh_only_" + secrets.token_hex(4)
    env.control.configure(refresh_token=secret_site["refresh_token"], force_status="error")
    refresh_only = {
        "auth_type": "oauth2",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": secret_site["client_secret"],
        "refresh_token": secret_site["refresh_token"],  # the seed, while the Variable is empty
        "token_store_variable": store,
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, login=None, password=None, extra=refresh_only)
    )
    issued_before = len(env.state.issued_tokens)
    result = run("refresh-only", mode="split", deferrable=True)
    assert (result["create"].state, result["upload"].state) == ("success", "success"), result.tasks
    # create, upload, the poke, the trigger and the resumed sensor all run in this one process under
    # dag.test(), so they share one session (hooks/session.py): its grant serves them all, none refused
    assert (len(env.state.issued_tokens) - issued_before) // 2 >= 1
    assert Variable.get(store) == env.state.refresh_token != secret_site["refresh_token"]
    # 7. basic auth with a rotated password (the password goes out in every Authorization header)
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, password=secret_site["password"]))
    env.control.configure(password="rotated-" + secrets.token_hex(4))
    run("basic-401", mode="import")

    assert outcomes == dict.fromkeys(outcomes, "failed"), outcomes
    # every token the emulator ever issued: access tokens, live or expired, and every refresh token,
    # including those rotated away since (in-process state, kept since the emulator's reset)
    issued = set(env.state.issued_tokens) | env.state.access_tokens
    assert len(issued) >= 10, "the OAuth runs obtained and rotated tokens"
    output = captured(capfd, caplog)
    for expected in (
        "invalid_grant",  # each error path really ran and was reported...
        "Must be unique.",
        "Eloqua answered 503",
        "ended with status 'error'",
        "Waiting for /syncs/",
        "body: Not authenticated. Check the user",  # /id's 200 refusal of the rotated password
    ):
        assert expected in output, expected

    # ...and nothing anywhere carries a secret.
    haystacks = {"console and logging": output, "xcom": _xcom_text()}
    logs_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    haystacks["log files"] = "\n".join(p.read_text(errors="replace") for p in logs_dir.rglob("*") if p.is_file())
    database = _database_bytes()
    hook = EloquaHook()
    exc_texts = []
    for call in (lambda: hook.get_sync("/syncs/999999"), lambda: hook.get_definition("/contacts/imports/999999")):
        try:
            call()
        except EloquaError as exc:
            exc_texts.append(f"{exc!s} {exc!r} {exc.args!r}")
    assert exc_texts
    trigger = EloquaSyncTrigger(sync_uri="/syncs/1", eloqua_conn_id="eloqua_default", poll_interval=1, end_time=1)
    haystacks["exceptions and reprs"] = " ".join(
        [*exc_texts, repr(hook), repr(hook.settings), str(hook.settings), repr(trigger), repr(trigger.serialize())]
    )
    for secret in _all_secret_forms(secret_site, issued):
        for where, text in haystacks.items():
            assert secret not in text, f"a secret leaked into {where}"
        assert secret.encode() not in database, "a secret leaked into the metadata DB"


def test_proxy_credentials_appear_nowhere_and_every_request_passes_the_proxy(
    env, fernet_key, monkeypatch, capfd, caplog
):
    """Real DAG runs (tasks, the sensor's poke and its trigger) through an authenticating forward proxy:
    one succeeds with every request the emulator logged having passed the proxy; one with a wrong proxy
    password fails with the proxy's 407 named. Neither proxy password appears in any output."""
    from collections import Counter
    from urllib.parse import quote, urlsplit

    from tests.hooks.forward_proxy import forward_proxy

    user, password, wrong = "egress", "px-" + secrets.token_hex(10) + "@:/", "px-wrong-" + secrets.token_hex(10)
    leaks = {password, quote(password, safe=""), wrong}
    leaks |= {base64.b64encode(f"{user}:{p}".encode()).decode() for p in (password, wrong)}
    with forward_proxy((user, password)) as proxy:
        for secret, expected in ((quote(password, safe=""), "success"), (wrong, "failed")):
            proxy_url = proxy.url(user, secret)
            monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, extra={"proxy_url": proxy_url}))
            forget_sessions()
            env.control.clear_requests()
            proxy.seen.clear()
            result = run_matrix(monkeypatch, data=contacts(3), retries=0, mode="split", deferrable=True)
            assert result.state == expected, result.tasks
            seen = Counter((r["method"], r["path"]) for r in api_requests(env))
            assert seen == Counter((e["method"], urlsplit(e["target"]).path) for e in proxy.passed())
        assert proxy.refused(), "the wrong password was refused by the proxy"
        assert len(syncs(env)) == 1, "the successful run synced, through the proxy"
    output = captured(capfd, caplog)
    assert "answered 407 to GET /id" in output
    haystacks = {"console and logging": output, "xcom": _xcom_text()}
    logs_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    haystacks["log files"] = "\n".join(p.read_text(errors="replace") for p in logs_dir.rglob("*") if p.is_file())
    hook = EloquaHook()
    trigger = EloquaSyncTrigger(sync_uri="/syncs/1", eloqua_conn_id="eloqua_default", poll_interval=1, end_time=1)
    haystacks["reprs"] = " ".join([repr(hook), repr(hook.settings), repr(trigger), repr(trigger.serialize())])
    database = _database_bytes()
    for secret in leaks:
        for where, text in haystacks.items():
            assert secret not in text, f"a proxy credential leaked into {where}"
        assert secret.encode() not in database, "a proxy credential leaked into the metadata DB"


# ------------------------------------------------------------------ TLS and plain http


def test_tls_verification_is_on_by_default(env, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELOQUA_DEFAULT",
        '{"conn_type": "eloqua", "login": "u", "password": "p", "host": "https://secure.p01.eloqua.com",'
        ' "extra": {"site": "S"}}',
    )
    hook = EloquaHook()
    assert hook.settings.verify_tls is True
    assert hook.session.verify is True
    assert hook.session.trust_env is False  # no proxy or netrc from the environment gets the credentials

    async def client_ssl_context() -> ssl.SSLContext:
        client = await hook._aprepare()
        try:
            return client._transport._pool._ssl_context
        finally:
            await hook.aclose()

    context = asyncio.run(client_ssl_context())
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "http://secure.p01.eloqua.com"}, "connection host (Bulk API base URL) must be an https URL"),
        ({"extra": {"login_url": "http://login.eloqua.com"}}, "login_url must be an https URL"),
        ({"extra": {"login_url": "http://10.20.30.40:8080"}}, "login_url must be an https URL"),
    ],
    ids=["http-host", "http-login-url", "http-private-ip"],
)
def test_plain_http_off_loopback_is_refused_before_any_request(env, monkeypatch, capfd, caplog, overrides, message):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, **overrides))
    sent = []
    real_request = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        sent.append(url)
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)

    result = run_matrix(monkeypatch, mode="import", data=contacts(2))

    assert result.state == "failed"
    assert message in captured(capfd, caplog)
    assert [u for u in sent if "/_emulator" not in u] == []
    assert api_requests(env) == []


# ------------------------------------------------------------------ redirects


class _OtherHost:
    """A tiny loopback HTTP server on another port: the redirect target that must never be called."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                hits.append((self.command, self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_DELETE = _record

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_host():
    host = _OtherHost()
    requests.get(host.url + "/alive", timeout=5)  # proves the server answers
    host.hits.clear()
    yield host
    host.close()


@pytest.mark.parametrize(
    ("fault", "spec"),
    [
        ({"method": "GET", "path": r"^/id$", "status": 302}, {"mode": "import"}),
        ({"method": "POST", "path": r"/data$", "status": 307}, {"mode": "import"}),
        ({"method": "GET", "path": FAULT_SYNC_GET, "status": 302, "skip": 1}, {"mode": "split", "deferrable": True}),
    ],
    ids=["discovery-302", "data-post-307", "trigger-302"],
)
def test_redirects_are_refused_and_never_followed(env, monkeypatch, capfd, caplog, other_host, fault, spec):
    fault = dict(fault)
    if fault.pop("skip", 0):
        skip_first(env, fault["method"], fault["path"])  # the sensor's own poke before deferring
    env.control.add_fault(times=1, headers={"Location": other_host.url + "/steal"}, **fault)

    result = run_matrix(monkeypatch, data=contacts(3), **spec)

    assert result.state == "failed"
    output = captured(capfd, caplog)
    assert f"was redirected ({fault['status']}) to {other_host.url}/steal" in output
    assert "the redirect is not followed" in output
    assert other_host.hits == []
    assert env.control.records("/contacts") == []


# ------------------------------------------------------------------ wall clock


def test_every_request_carries_a_timeout(env, monkeypatch):
    """Every requests call (worker side) and every httpx call (triggerer side) has finite timeouts.
    (The delay faults in test_faults.py prove the timeouts are enforced.)"""
    seen_sync: list[tuple[str, object]] = []
    seen_async: list[tuple[str, dict]] = []
    real_request = requests.Session.request
    real_send = httpx.AsyncClient.send

    def spy_request(self, method, url, *args, **kwargs):
        if "/_emulator" not in url:
            seen_sync.append((f"{method} {url}", kwargs.get("timeout")))
        return real_request(self, method, url, *args, **kwargs)

    async def spy_send(self, request, *args, **kwargs):
        seen_async.append((f"{request.method} {request.url}", dict(request.extensions.get("timeout") or {})))
        return await real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy_request)
    monkeypatch.setattr(httpx.AsyncClient, "send", spy_send)
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, extra={"timeout": 7}))
    env.control.configure(pending_polls=2)

    result = run_matrix(monkeypatch, mode="split", data=contacts(4), deferrable=True)

    assert result.state == "success", result.tasks
    assert len(seen_sync) >= 5 and seen_async  # create, upload, sync start, sensor poke...; trigger polls
    for call, timeout in seen_sync:
        assert timeout == (7.0, 7.0), call
    for call, timeouts in seen_async:
        assert set(timeouts) == {"connect", "read", "write", "pool"}, call
        assert all(value is not None and value <= 7.0 for value in timeouts.values()), call
    assert [s["rows"] for s in syncs(env)] == [4]
