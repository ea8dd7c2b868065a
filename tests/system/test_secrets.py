"""No secret reaches what Airflow keeps of a real DAG run (``dag.test()`` against the emulator): task
logs, XCom rows, rendered fields, Variables and every other byte of the metadata DB. One run signs
in with a rotating refresh token alone (stored encrypted in a Variable), one with a password through
an authenticating proxy; both fail on an error path. Every error path, with its logs, exceptions,
XComs and task state, is scanned at the operators (tests/operators/test_eloqua.py).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_SITE, DEFAULT_USER
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.hooks.session import forget_sessions
from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger
from tests.dag_runner import connection_json
from tests.system.dags.matrix import api_requests, captured, contacts, refuse_next_definition, run_matrix


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


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


def _airflow_records() -> dict[str, str]:
    """Everything Airflow kept: XComs, task log files, and (as text) the metadata DB's bytes."""
    from airflow.models.xcom import XComModel
    from airflow.settings import engine
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        xcoms = "\n".join(repr(XComModel.deserialize_value(row)) for row in session.scalars(select(XComModel)))
    logs_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    engine.dispose()  # flush nothing pending; the file is read as is
    return {
        "xcom": xcoms,
        "log files": "\n".join(p.read_text(errors="replace") for p in logs_dir.rglob("*") if p.is_file()),
        "metadata DB": Path(engine.url.database).read_bytes().decode("latin-1"),
    }


def _assert_nowhere(leaks: set[str], haystacks: dict[str, str]) -> None:
    hook = EloquaHook()
    trigger = EloquaSyncTrigger(sync_uri="/syncs/1", eloqua_conn_id="eloqua_default", poll_interval=1, end_time=1)
    haystacks = {
        **haystacks,
        "reprs": " ".join(
            [repr(hook), repr(hook.settings), str(hook.settings), repr(trigger), repr(trigger.serialize())]
        ),
    }
    for secret in leaks:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret leaked into {where}"


def test_a_rotating_refresh_token_reaches_no_log_xcom_or_db_row_of_a_failed_run(
    env, fernet_key, monkeypatch, capfd, caplog
):
    """Each task, the sensor's poke and the trigger start from the Variable's refresh token and store
    the one Eloqua rotates to; the sync ends in error, so the sensor's failure path runs too."""
    from airflow.models import Variable

    values = {"client_secret": "cs-" + secrets.token_hex(12), "refresh_token": "rt-" + secrets.token_hex(12)}
    saved = env.state.client_secret  # not part of reset(): restored below
    env.state.client_secret = values["client_secret"]
    store = "eloqua_refresh_only_" + secrets.token_hex(4)
    env.control.configure(refresh_token=values["refresh_token"], force_status="error")
    extra = {
        "auth_type": "oauth2",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": values["client_secret"],
        "refresh_token": values["refresh_token"],  # the seed, while the Variable is empty
        "token_store_variable": store,
    }
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, login=None, password=None, extra=extra))
    forget_sessions()
    try:
        result = run_matrix(monkeypatch, mode="split", data=contacts(3), retries=0, deferrable=True)
    finally:
        env.state.client_secret = saved

    assert result.state == "failed"
    assert (result["create"].state, result["upload"].state, result["wait"].state) == ("success", "success", "failed")
    assert Variable.get(store) == env.state.refresh_token != values["refresh_token"]
    issued = set(env.state.issued_tokens) | env.state.access_tokens
    assert len(issued) >= 2, "the run obtained an access token and rotated its refresh token"
    output = captured(capfd, caplog)
    assert "ended with status 'error'" in output
    leaks = set(values.values()) | issued
    leaks.add(base64.b64encode(f"{DEFAULT_CLIENT_ID}:{values['client_secret']}".encode()).decode())
    _assert_nowhere(leaks, {"console and logging": output, **_airflow_records()})


def test_a_password_and_proxy_credentials_reach_no_log_xcom_or_db_row_of_a_failed_run(
    env, fernet_key, monkeypatch, capfd, caplog
):
    """Basic auth (the password goes out in every Authorization header) through an authenticating
    forward proxy: every request the emulator logged passed the proxy, and the run fails on a
    definition Eloqua refuses."""
    from collections import Counter

    from tests.hooks.forward_proxy import forward_proxy

    password = "pw-" + secrets.token_hex(12)
    env.control.configure(password=password)
    refuse_next_definition(env)
    user, proxy_password = "egress", "px-" + secrets.token_hex(10) + "@:/"
    with forward_proxy((user, proxy_password)) as proxy:
        proxy_url = proxy.url(user, quote(proxy_password, safe=""))
        monkeypatch.setenv(
            "AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, password=password, extra={"proxy_url": proxy_url})
        )
        forget_sessions()
        result = run_matrix(monkeypatch, mode="import", data=contacts(3), retries=0)
        passed = Counter((e["method"], urlsplit(e["target"]).path) for e in proxy.passed())

    assert result.state == "failed"
    assert Counter((r["method"], r["path"]) for r in api_requests(env)) == passed
    output = captured(capfd, caplog)
    assert "Must be unique." in output
    leaks = {password, base64.b64encode(f"{DEFAULT_SITE}\\{DEFAULT_USER}:{password}".encode()).decode()}
    leaks |= {
        proxy_password,
        quote(proxy_password, safe=""),
        base64.b64encode(f"{user}:{proxy_password}".encode()).decode(),
    }
    _assert_nowhere(leaks, {"console and logging": output, **_airflow_records()})
