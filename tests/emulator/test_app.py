"""Basic and OAuth2 authentication, /id discovery and pod moves."""

from __future__ import annotations

import base64

import pytest
import requests

from airflow_provider_eloqua.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    EmulatorServer,
)
from airflow_provider_eloqua.emulator.state import DEFAULT_REDIRECT_URI
from airflow_provider_eloqua.urls import bulk_base_from_discovery

from .conftest import BASIC_AUTH

CLIENT_AUTH = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def _token(emulator: EmulatorServer, auth=CLIENT_AUTH, **body) -> requests.Response:
    return requests.post(emulator.url + "/auth/oauth2/token", auth=auth, json=body, timeout=10)


def test_basic_auth_accepted(emulator, bulk):
    assert bulk.get("/contacts/imports").status_code == 200


def test_bad_or_missing_basic_auth_is_401_not_authenticated(emulator):
    url = emulator.url + "/api/bulk/2.0/contacts/imports"
    for auth in [(BASIC_AUTH[0], "wrong"), ("OtherSite\\API.User", BASIC_AUTH[1]), None]:
        response = requests.get(url, auth=auth, timeout=10)
        assert response.status_code == 401
        assert response.json() == "Not authenticated."


def test_id_discovery_shape_and_capitalised_bulk_prefix(emulator):
    body = requests.get(emulator.url + "/id", auth=BASIC_AUTH, timeout=10).json()
    assert body["site"] == {"id": 42, "name": "AcmeCorp"}
    assert body["user"]["username"] == "API.User"
    assert body["urls"]["base"] == emulator.url
    assert body["urls"]["apis"]["rest"]["bulk"] == emulator.url + "/API/Bulk/{version}/"
    base = bulk_base_from_discovery(body)
    assert base == emulator.url + "/API/Bulk/2.0"
    for prefix in (base, emulator.url + "/api/bulk/2.0"):
        assert requests.get(prefix + "/contacts/fields", auth=BASIC_AUTH, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic " + base64.b64encode(f"{BASIC_AUTH[0]}:nope".encode()).decode()},
        {"Authorization": "Bearer not-a-token"},
        {},
    ],
    ids=["wrong-password", "unknown-token", "no-credentials"],
)
def test_id_answers_bad_credentials_with_200_not_authenticated(emulator, headers):
    """Oracle's "Determining base URLs": a failure is ``HTTP/1.1 200 OK`` with ``"Not authenticated."``."""
    response = requests.get(emulator.url + "/id", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == b'"Not authenticated."'


def test_pod_move(emulator, bulk):
    emulator.control.configure(pod="p02")
    old = bulk.get("/contacts/imports")
    assert old.status_code == 401 and old.json() == "Not authenticated."
    body = requests.get(emulator.url + "/id", auth=BASIC_AUTH, timeout=10).json()
    assert body["urls"]["base"] == emulator.url + "/p02"
    new_base = bulk_base_from_discovery(body)
    assert requests.get(new_base + "/contacts/imports", auth=BASIC_AUTH, timeout=10).status_code == 200
    emulator.control.configure(pod=None)
    assert bulk.get("/contacts/imports").status_code == 200


def test_password_grant_then_bearer(emulator, bulk):
    response = _token(emulator, grant_type="password", scope="full", username=BASIC_AUTH[0], password=BASIC_AUTH[1])
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 28800
    assert token["refresh_token"] != DEFAULT_REFRESH_TOKEN
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = bulk.base + "/contacts/imports"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert requests.get(emulator.url + "/id", headers=headers, timeout=10).status_code == 200


def test_refresh_tokens_rotate_and_are_single_use(emulator):
    first = emulator.control.refresh_token()
    assert first == DEFAULT_REFRESH_TOKEN
    granted = _token(
        emulator, grant_type="refresh_token", refresh_token=first, redirect_uri=DEFAULT_REDIRECT_URI, scope="full"
    )
    assert granted.status_code == 200
    second = granted.json()["refresh_token"]
    assert second != first and emulator.control.refresh_token() == second
    reused = _token(
        emulator, grant_type="refresh_token", refresh_token=first, redirect_uri=DEFAULT_REDIRECT_URI, scope="full"
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert _token(emulator, grant_type="refresh_token", refresh_token=second).status_code == 200


def test_refresh_grant_redirect_uri_must_match_the_registered_one(emulator):
    wrong = _token(emulator, grant_type="refresh_token", refresh_token=DEFAULT_REFRESH_TOKEN, redirect_uri=emulator.url)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant" and "redirect_uri" in wrong.json()["error_description"]
    assert emulator.control.refresh_token() == DEFAULT_REFRESH_TOKEN  # a refused grant spends nothing

    assert emulator.control.configure(redirect_uri="https://app.example.com/cb")["redirect_uri"] == (
        "https://app.example.com/cb"
    )
    default = _token(
        emulator, grant_type="refresh_token", refresh_token=DEFAULT_REFRESH_TOKEN, redirect_uri=DEFAULT_REDIRECT_URI
    )
    assert default.status_code == 400  # the registered value is configurable: the default no longer matches
    configured = _token(
        emulator,
        grant_type="refresh_token",
        refresh_token=DEFAULT_REFRESH_TOKEN,
        redirect_uri="https://app.example.com/cb",
    )
    assert configured.status_code == 200 and configured.json()["refresh_token"] != DEFAULT_REFRESH_TOKEN


def test_issued_tokens_are_remembered_until_reset(emulator):
    first = _token(emulator, grant_type="refresh_token", refresh_token=DEFAULT_REFRESH_TOKEN).json()
    second = _token(emulator, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert emulator.state.issued_tokens == [
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
    ]
    emulator.control.reset()
    assert emulator.state.issued_tokens == []


def test_token_endpoint_accepts_form_encoding(emulator):
    response = requests.post(
        emulator.url + "/auth/oauth2/token",
        auth=CLIENT_AUTH,
        data={"grant_type": "refresh_token", "refresh_token": DEFAULT_REFRESH_TOKEN},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["access_token"]


def test_token_errors(emulator):
    bad_client = _token(emulator, auth=(DEFAULT_CLIENT_ID, "wrong"), grant_type="refresh_token")
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_password = _token(emulator, grant_type="password", username=BASIC_AUTH[0], password="wrong")
    assert bad_password.status_code == 400 and bad_password.json()["error"] == "invalid_grant"


def test_expired_access_tokens_and_password_change(emulator, bulk):
    token = _token(emulator, grant_type="refresh_token", refresh_token=DEFAULT_REFRESH_TOKEN).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    emulator.control.configure(expire_access_tokens=True, password="new-password")
    assert requests.get(bulk.base + "/contacts/imports", headers=headers, timeout=10).status_code == 401
    assert bulk.get("/contacts/imports").status_code == 401
    new_auth = (BASIC_AUTH[0], "new-password")
    assert requests.get(bulk.base + "/contacts/imports", auth=new_auth, timeout=10).status_code == 200
