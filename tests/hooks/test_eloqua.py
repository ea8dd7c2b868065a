"""EloquaHook against the emulator over real loopback HTTP: every endpoint, both auth modes,
pod discovery, the retry rules and the secrecy of credentials.

Connections come from ``AIRFLOW_CONN_<ID>`` env JSON, as Airflow resolves them in production.
Retry policies are short (10 ms first wait, 0.5 s cap) so no test sleeps for long.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import socket
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_provider_eloqua import __version__
from airflow_provider_eloqua.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SITE,
    DEFAULT_USER,
    EmulatorServer,
)
from airflow_provider_eloqua.emulator.state import DEFAULT_REDIRECT_URI
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaAuthError,
    EloquaError,
    EloquaInputError,
    EloquaTransportError,
)
from airflow_provider_eloqua.hooks import eloqua as hook_module
from airflow_provider_eloqua.hooks.eloqua import USER_AGENT, EloquaHook
from airflow_provider_eloqua.retry import RetryPolicy
from tests.dag_runner import connection_json
from tests.hooks.recording_server import recording_server
from tests.hooks.tls import CA_NAME, make_test_ca
from tests.system.dags.matrix import eventually, only_held_requests_time_out

FAST = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.5)
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
FIRST = "{{Contact.Field(C_FirstName)}}"
CHANGED_PASSWORD = "a-brand-new-password-42"
OAUTH_EXTRA = {"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
ALL_SECRETS = (
    DEFAULT_PASSWORD,
    CHANGED_PASSWORD,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    base64.b64encode(f"{DEFAULT_SITE}\\{DEFAULT_USER}:{DEFAULT_PASSWORD}".encode()).decode(),
    base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode(),
)

#: A valid import body per entity root (statements from the emulator's field catalogue).
ENTITY_BODIES: dict[tuple[str, int | None], dict[str, Any]] = {
    ("contacts", None): {"fields": {"Email": EMAIL, "First": FIRST}, "identifierFieldName": "Email"},
    ("accounts", None): {
        "fields": {"ExtId": "{{Account.Field(CompanyIDExt)}}", "Name": "{{Account.Field(M_CompanyName)}}"},
        "identifierFieldName": "ExtId",
    },
    ("customObjects", 5): {
        "fields": {"ExtId": "{{CustomObject[5].ExternalId}}", "Email": "{{CustomObject[5].Field[1]}}"},
        "identifierFieldName": "ExtId",
    },
    ("events", 7): {
        "fields": {"ExtId": "{{Event[7].ExternalId}}", "Email": "{{Event[7].Field[1]}}"},
        "identifierFieldName": "ExtId",
    },
    ("activities", None): {
        "fields": {"ExtId": "{{Activity.Field(ExternalId)}}", "Type": "{{Activity.Type}}"},
        "identifierFieldName": "ExtId",
    },
    ("opportunities", None): {
        # Oracle's opportunity import tutorial: Id, Name, Stage and Amount are required, keyed on the Id
        "fields": {
            "OppId": "{{Opportunity.Id}}",
            "Name": "{{Opportunity.Field(Name)}}",
            "Stage": "{{Opportunity.Field(Stage)}}",
            "Amount": "{{Opportunity.Field(Amount)}}",
        },
        "identifierFieldName": "OppId",
    },
    ("opportunities/contacts", None): {
        "fields": {"OppId": "{{Opportunity.Id}}", "Email": "{{Opportunity.Contact.Field(C_EmailAddress)}}"},
        "identifierFieldName": "Email",
        "linkOpportunitiesEntityType": "Contact",
        "linkOpportunitiesMatchFieldName": "OppId",
        "linkOpportunitiesSourceField": "Email",
        "linkOpportunitiesCaseSensitiveMatchField": False,
        "linkOpportunitiesCaseSensitiveSourceField": False,
        "linkOpportunitiesMultipleSourceMatches": True,
    },
}


# ---------------------------------------------------------------------------------------- helpers


@pytest.fixture
def make_hook(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch):
    """Build a hook on a fresh env connection to the emulator (basic auth, pod discovery by default)."""
    counter = iter(range(1000))

    def make(retry: RetryPolicy | None = FAST, timeout: float | None = None, **overrides: Any) -> EloquaHook:
        conn_id = f"eloqua_hook_test_{next(counter)}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(emulator, **overrides))
        return EloquaHook(conn_id, retry_policy=retry, timeout=timeout)

    return make


def body(name: str = "hook test", entity: str = "contacts", parent_id: int | None = None, **extra: Any) -> dict:
    return {"name": name, "isSyncTriggeredOnImport": False, **ENTITY_BODIES[(entity, parent_id)], **extra}


def calls(emulator: EmulatorServer, method: str | None = None, suffix: str | None = None) -> list[dict[str, Any]]:
    """The emulator's request log, filtered by method and by the end of the path."""
    return [
        r
        for r in emulator.control.requests()
        if (method is None or r["method"] == method) and (suffix is None or r["path"].endswith(suffix))
    ]


def logged(emulator: EmulatorServer, method: str, suffix: str, at_least: int = 1) -> list[dict[str, Any]]:
    """Like ``calls``, for requests held by a fault after their client timed out: the emulator logs
    those when they are released. Waits until ``at_least`` entries are logged (bounded, generously:
    a bound on a hung run, not on how fast the machine is)."""
    deadline = time.monotonic() + 60
    found = calls(emulator, method, suffix)
    while len(found) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
        found = calls(emulator, method, suffix)
    return found


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text, f"a secret leaked into: {text[:200]}"


def new_contacts_definition(hook: EloquaHook, **extra: Any) -> str:
    return hook.create_import("contacts", body(**extra))["uri"]


def run_sync(hook: EloquaHook, definition_uri: str) -> dict[str, Any]:
    sync = hook.create_sync(definition_uri)
    for _ in range(20):
        sync = hook.get_sync(sync["uri"])
        if sync["status"] not in ("pending", "active"):
            return sync
    raise AssertionError(f"sync did not finish: {sync}")


# ---------------------------------------------------------------------------------------- definitions


@pytest.mark.parametrize(("entity", "parent_id"), list(ENTITY_BODIES))
def test_definition_lifecycle_for_every_entity(make_hook, emulator, entity, parent_id):
    hook = make_hook()
    root = f"/{entity}" + (f"/{parent_id}" if parent_id else "")

    created = hook.create_import(entity, body(f"{entity} import", entity, parent_id), parent_id)
    uri = created["uri"]
    assert uri.startswith(f"{root}/imports/")
    assert created["isSyncTriggeredOnImport"] is False

    assert hook.get_definition(uri)["name"] == f"{entity} import"
    assert [d["uri"] for d in hook.list_definitions(entity, parent_id)] == [uri]

    updated = hook.update_definition(uri, body("renamed", entity, parent_id, updateRule="ifNewIsNotNull"))
    assert updated["name"] == "renamed"
    assert hook.get_definition(uri)["updateRule"] == "ifNewIsNotNull"

    hook.delete_definition(uri)
    with pytest.raises(EloquaApiError) as info:
        hook.get_definition(uri)
    assert info.value.status == 404
    assert list(hook.list_definitions(entity, parent_id)) == []

    # every call went to the entity's collection or the definition itself, under the discovered base
    paths = {r["path"] for r in calls(emulator) if r["path"] != "/id"}
    assert paths == {f"/API/Bulk/2.0{root}/imports", f"/API/Bulk/2.0{uri}"}


@pytest.mark.parametrize(("entity", "parent_id"), [("contacts", None), ("accounts", None), ("customObjects", 5)])
def test_sync_action_definitions(make_hook, entity, parent_id):
    hook = make_hook()
    statement = {
        "contacts": EMAIL,
        "accounts": "{{Account.Field(CompanyIDExt)}}",
        "customObjects": "{{CustomObject[5].ExternalId}}",
    }[entity]
    definition = {
        "name": f"{entity} list adds",
        "fields": {"Id": statement},
        "identifierFieldName": "Id",
        "syncActions": [{"action": "add", "destination": "{{ContactList[123]}}"}],
        "isSyncTriggeredOnImport": False,
    }
    created = hook.create_sync_action(entity, definition, parent_id)
    root = f"/{entity}" + (f"/{parent_id}" if parent_id else "")
    assert created["uri"].startswith(f"{root}/syncActions/")
    assert [d["uri"] for d in hook.list_definitions(entity, parent_id, kind="syncActions")] == [created["uri"]]
    assert list(hook.list_definitions(entity, parent_id)) == []  # imports are a separate collection
    assert hook.get_definition(created["uri"])["syncActions"] == definition["syncActions"]
    hook.delete_definition(created["uri"])
    assert list(hook.list_definitions(entity, parent_id, kind="syncActions")) == []


def test_list_definitions_follows_pages(make_hook, emulator, monkeypatch):
    monkeypatch.setattr(hook_module, "PAGE_LIMIT", 2)
    hook = make_hook()
    uris = [hook.create_import("contacts", body(f"def {i}"))["uri"] for i in range(5)]
    emulator.control.clear_requests()

    assert [d["uri"] for d in hook.list_definitions("contacts")] == uris
    assert len(calls(emulator, "GET", "/contacts/imports")) == 3  # offsets 0, 2, 4


def test_bad_entity_and_definition_uri_are_refused_before_any_request(make_hook, emulator):
    hook = make_hook()
    with pytest.raises(ValueError, match="entity"):
        hook.create_import("leads", body())
    with pytest.raises(ValueError, match="parent_id"):
        hook.create_import("customObjects", body())
    with pytest.raises(ValueError, match="definition_uri"):
        hook.get_definition("/contacts/imports/abc")
    with pytest.raises(ValueError, match="sync_uri"):
        hook.get_sync("/syncs/x")
    assert calls(emulator) == []


def test_list_fields(make_hook):
    hook = make_hook()
    contact_fields = {f["internalName"]: f["statement"] for f in hook.list_fields("contacts")}
    assert contact_fields["C_EmailAddress"] == EMAIL
    custom = [f["statement"] for f in hook.list_fields("customObjects", 9)]
    assert "{{CustomObject[9].ExternalId}}" in custom


# ---------------------------------------------------------------------------------------- staging and syncs


def test_upload_json_rows_then_sync_updates_contacts(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    assert (
        hook.upload_rows(
            uri, [{"Email": "ann@example.com", "First": "Ann"}, {"Email": "bob@example.com", "First": None}]
        )
        is None
    )

    sync = run_sync(hook, uri)
    assert sync["status"] == "success"
    assert sync["syncedInstanceUri"] == uri
    records = {r["identifier"]: r for r in emulator.control.records("/contacts")}
    assert records["ann@example.com"][FIRST] == "Ann"
    assert set(records) == {"ann@example.com", "bob@example.com"}
    logs = list(hook.iter_sync_logs(sync["uri"]))
    assert {"ELQ-00001", "ELQ-00004", "ELQ-00101"} <= {log["statusCode"] for log in logs}
    assert next(log for log in logs if log["statusCode"] == "ELQ-00001")["count"] == 2


def test_upload_csv_bytes_and_file_object(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerows([["Email", "First"], ["zoë@example.com", "Zoë"]])
    hook.upload_csv(uri, text.getvalue().encode("utf-8"))
    hook.upload_csv(uri, io.BytesIO(b"Email,First\r\ncarl@example.com,Carl\r\n"))

    uploads = emulator.control.state()["uploads"]
    assert [u["content_type"] for u in uploads] == ["text/csv", "text/csv"]
    assert run_sync(hook, uri)["status"] == "success"
    records = {r["identifier"]: r for r in emulator.control.records("/contacts")}
    assert records["zoë@example.com"][FIRST] == "Zoë"
    assert records["carl@example.com"][FIRST] == "Carl"


def test_upload_to_a_sync_on_import_definition_returns_the_sync(make_hook):
    hook = make_hook()
    uri = new_contacts_definition(hook, isSyncTriggeredOnImport=True)
    sync = hook.upload_rows(uri, [{"Email": "dee@example.com"}])
    assert sync is not None
    assert sync["uri"].startswith("/syncs/")
    assert sync["syncedInstanceUri"] == uri


def test_clear_staged_data_and_409_while_a_sync_runs(make_hook, emulator):
    hook = make_hook()
    emulator.control.configure(pending_polls=50)
    uri = new_contacts_definition(hook)
    hook.upload_rows(uri, [{"Email": "a@example.com"}])
    assert emulator.control.state()["definitions"][0]["staged_rows"] == 1
    hook.clear_staged_data(uri)
    assert emulator.control.state()["definitions"][0]["staged_rows"] == 0
    assert calls(emulator, "DELETE", uri + "/data")[0]["status"] == 204

    hook.create_sync(uri)  # stays pending
    with pytest.raises(EloquaApiError) as info:
        hook.clear_staged_data(uri)
    assert info.value.status == 409
    assert "still running" in str(info.value)
    assert len(calls(emulator, "DELETE", uri + "/data")) == 2  # 409 is not retried


def test_create_sync_with_callback_and_get_sync(make_hook):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    sync = hook.create_sync(uri, callback_url="https://example.com/callback")
    assert sync["status"] == "pending"
    assert sync["callbackUrl"] == "https://example.com/callback"
    assert hook.get_sync(sync["uri"])["uri"] == sync["uri"]
    with pytest.raises(EloquaApiError) as info:
        hook.get_sync("/syncs/999999")
    assert info.value.status == 404


def test_iter_sync_rejects_over_several_pages(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    rows = [{"Email": f"not-an-email-{i}"} for i in range(2500)] + [{"Email": "ok@example.com"}]
    hook.upload_rows(uri, rows)
    sync = run_sync(hook, uri)
    assert sync["status"] == "warning"
    emulator.control.clear_requests()

    rejects = list(hook.iter_sync_rejects(sync["uri"]))
    assert len(rejects) == 2500
    assert {r["statusCode"] for r in rejects} == {"ELQ-00002"}
    assert rejects[-1]["fieldValues"]["Email"] == "not-an-email-2499"  # the last page was read
    assert len(calls(emulator, "GET", sync["uri"] + "/rejects")) == 3  # 1000 + 1000 + 500


def test_a_list_answering_has_more_forever_stops_at_total_results(make_hook, emulator):
    hook = make_hook()
    page = {"items": [{"statusCode": "ELQ-00001", "count": 1}], "hasMore": True, "totalResults": 3}
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/logs$", status=200, body=page, times=None)
    assert len(list(hook.iter_sync_logs("/syncs/5"))) == 3
    assert len(calls(emulator, "GET", "/syncs/5/logs")) == 3


def test_a_list_answering_has_more_with_an_empty_page_stops_there(make_hook, emulator):
    hook = make_hook()
    page = {"items": [], "hasMore": True}
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/rejects$", status=200, body=page, times=None)
    assert list(hook.iter_sync_rejects("/syncs/5")) == []
    assert len(calls(emulator, "GET", "/syncs/5/rejects")) == 1


def test_a_list_answering_has_more_forever_without_a_total_fails_at_the_deadline(make_hook, emulator, monkeypatch):
    """No totalResults and a new item on every page: the deadline (three pages away on a fake clock
    that moves one second per look) ends the listing with an error naming the list."""
    hook = make_hook()
    page = {"items": [{"statusCode": "ELQ-00001", "count": 1}], "hasMore": True}
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/logs$", status=200, body=page, times=None)
    clock = iter(range(1_800_000_000, 1_800_001_000))
    monkeypatch.setattr(hook_module, "time", type("Clock", (), {"time": staticmethod(lambda: next(clock))}))
    with pytest.raises(EloquaError, match=r"list /syncs/5/logs still answered hasMore after 3 item\(s\)"):
        list(hook.iter_sync_logs("/syncs/5", deadline=1_800_000_002))
    assert len(calls(emulator, "GET", "/syncs/5/logs")) == 3


def test_retries_of_a_look_never_sleep_past_the_deadline(make_hook, emulator):
    """Retry-After: 600 (capped at the policy's 60 s) with 15 s left: the hook raises the 503 at once
    instead of sleeping; without a deadline, or with time to spare, it retries as before."""
    hook = make_hook(retry=RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=60))
    sync_uri = hook.create_sync(new_contacts_definition(hook))["uri"]
    emulator.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", status=503, times=None, headers={"Retry-After": "600"}
    )
    emulator.control.clear_requests()
    with pytest.raises(EloquaApiError) as info:
        hook.get_sync(sync_uri, deadline=time.time() + 15)
    assert info.value.status == 503 and info.value.retry_after == 600
    assert [r["status"] for r in calls(emulator, "GET", sync_uri)] == [503]

    emulator.control.clear_faults()
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=503, headers={"Retry-After": "0"})
    emulator.control.clear_requests()
    assert hook.get_sync(sync_uri, deadline=time.time() + 15)["uri"] == sync_uri
    assert [r["status"] for r in calls(emulator, "GET", sync_uri)] == [503, 200]


# ---------------------------------------------------------------------------------------- searches


def _query(entry: dict[str, Any]) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(entry["query"]).items()}


def test_find_syncs_asks_for_one_definitions_syncs_newest_first(make_hook, emulator):
    hook = make_hook()
    mine, other = new_contacts_definition(hook, name="mine"), new_contacts_definition(hook, name="other")
    older = hook.create_sync(mine)
    hook.create_sync(other)
    newer = hook.create_sync(mine)
    emulator.control.clear_requests()

    found = hook.find_syncs(mine, since=datetime(2000, 1, 1, tzinfo=UTC))
    assert [s["uri"] for s in found] == [newer["uri"], older["uri"]]
    # the documented search and order on GET /syncs, not a scan of every sync of the site
    [listing] = [_query(r) for r in calls(emulator, "GET", "/syncs")]
    assert (listing["q"], listing["orderBy"]) == (f"syncedInstanceUri='{mine}'", "createdAt DESC")
    since = datetime.fromisoformat(newer["createdAt"].replace("Z", "+00:00"))
    assert [s["uri"] for s in hook.find_syncs(mine, since=since)] == [newer["uri"]]


def test_find_syncs_asks_with_less_when_eloqua_refuses_the_search(make_hook, emulator):
    hook = make_hook()
    mine, other = new_contacts_definition(hook, name="mine"), new_contacts_definition(hook, name="other")
    wanted = hook.create_sync(mine)
    hook.create_sync(other)
    emulator.control.clear_requests()
    body = {"failures": [{"field": "q", "value": "?", "constraint": "Unsupported search term."}]}
    emulator.control.add_fault(method="GET", path="^/syncs$", status=400, body=body, times=1)

    assert [s["uri"] for s in hook.find_syncs(mine, since=datetime(2000, 1, 1, tzinfo=UTC))] == [wanted["uri"]]
    asked = [_query(r) for r in calls(emulator, "GET", "/syncs")]
    assert [("q" in q, q.get("orderBy")) for q in asked] == [(True, "createdAt DESC"), (False, "createdAt DESC")]


def test_find_syncs_reads_every_page_when_eloqua_answers_in_another_order(make_hook, emulator):
    """Both searches refused: the plain listing comes oldest first, so an old sync at its head must
    not end the scan (only an answer seen newest first may be cut short)."""
    hook = make_hook()
    mine, other = new_contacts_definition(hook, name="mine"), new_contacts_definition(hook, name="other")
    hook.create_sync(other)
    wanted = hook.create_sync(mine)
    emulator.control.add_fault(method="GET", path="^/syncs$", status=400, times=2)

    since = datetime.fromisoformat(wanted["createdAt"].replace("Z", "+00:00"))
    assert [s["uri"] for s in hook.find_syncs(mine, since=since)] == [wanted["uri"]]
    asked = [_query(r) for r in calls(emulator, "GET", "/syncs")]
    assert [sorted(set(q) - {"limit", "offset"}) for q in asked] == [["orderBy", "q"], ["orderBy"], []]


def test_list_definitions_by_name_uses_the_documented_name_search(make_hook, emulator):
    hook = make_hook()
    for name in ("nightly", "O'Brien's import", "nightly copy"):
        new_contacts_definition(hook, name=name)
    emulator.control.clear_requests()
    assert [d["name"] for d in hook.list_definitions("contacts", name="nightly")] == ["nightly"]
    # Oracle documents no escape for a quote: it becomes the "*" wildcard, callers compare names
    assert [d["name"] for d in hook.list_definitions("contacts", name="O'Brien's import")] == ["O'Brien's import"]
    assert [_query(r)["q"] for r in calls(emulator, "GET", "/contacts/imports")] == [
        "name='nightly'",
        "name='O*Brien*s import'",
    ]


# ---------------------------------------------------------------------------------------- auth


def test_basic_auth_with_site_user_login(make_hook, emulator):
    hook = make_hook(login=f"{DEFAULT_SITE}\\{DEFAULT_USER}", extra={"site": None})
    assert hook.settings.site == DEFAULT_SITE
    assert hook.settings.user == DEFAULT_USER
    assert hook.test_connection()[0] is True
    assert calls(emulator, "GET", "/contacts/imports")[0]["status"] == 200


def test_oauth2_password_grant(make_hook, emulator):
    hook = make_hook(extra=OAUTH_EXTRA)
    uri = new_contacts_definition(hook)
    assert hook.get_definition(uri)["uri"] == uri
    tokens = calls(emulator, "POST", "/auth/oauth2/token")
    assert [t["status"] for t in tokens] == [200]  # one token serves every call


def test_oauth2_refresh_grant_keeps_the_rotated_token(make_hook, emulator, airflow_db):
    from airflow.models import Variable

    Variable.set("eloqua_hook_rotation", DEFAULT_REFRESH_TOKEN)
    extra = {**OAUTH_EXTRA, "token_store_variable": "eloqua_hook_rotation"}
    try:
        hook = make_hook(login=None, password=None, extra=extra)
        new_contacts_definition(hook)
        rotated = emulator.control.refresh_token()
        assert rotated != DEFAULT_REFRESH_TOKEN
        assert hook._tokens.refresh_token == rotated

        # access tokens expire: the 401 renews with the rotated refresh token (the seed is spent now)
        emulator.control.configure(expire_access_tokens=True)
        assert list(hook.list_definitions("contacts"))
        tokens = calls(emulator, "POST", "/auth/oauth2/token")
        assert [t["status"] for t in tokens] == [200, 200]
        assert hook._tokens.refresh_token == emulator.control.refresh_token() != rotated

        # a hook seeded with a spent token fails, without leaking it
        Variable.set("eloqua_hook_rotation", DEFAULT_REFRESH_TOKEN)
        stale = make_hook(login=None, password=None, extra=extra)
        with pytest.raises(EloquaAuthError) as info:
            stale.get_sync("/syncs/1")
        assert "refresh_token grant was refused" in str(info.value)
        assert_no_secret(str(info.value), repr(info.value), rotated)
    finally:
        Variable.delete("eloqua_hook_rotation")


def test_refresh_token_without_a_store_is_refused_before_any_call(make_hook, emulator):
    hook = make_hook(login=None, password=None, extra={**OAUTH_EXTRA, "refresh_token": DEFAULT_REFRESH_TOKEN})
    with pytest.raises(EloquaInputError, match="token_store_variable"):
        hook.get_sync("/syncs/1")
    assert emulator.control.requests() == []


def test_password_grant_is_used_again_when_the_refresh_token_is_refused(make_hook, emulator):
    hook = make_hook(extra=OAUTH_EXTRA)
    new_contacts_definition(hook)
    # The refresh token Eloqua issued is revoked, and the access token expires.
    emulator.control.configure(refresh_token="revoked-elsewhere", expire_access_tokens=True)
    assert list(hook.list_definitions("contacts"))
    grants = [t["status"] for t in calls(emulator, "POST", "/auth/oauth2/token")]
    assert grants == [200, 400, 200]  # password, refused refresh, password again


def test_token_store_variable_persists_the_newest_refresh_token(make_hook, emulator, airflow_db):
    from airflow.models import Variable

    Variable.set("eloqua_hook_test_refresh", DEFAULT_REFRESH_TOKEN)
    extra = {**OAUTH_EXTRA, "token_store_variable": "eloqua_hook_test_refresh"}
    try:
        first = make_hook(login=None, password=None, extra=extra)
        assert first.test_connection()[0] is True
        stored = Variable.get("eloqua_hook_test_refresh")
        assert stored == emulator.control.refresh_token() != DEFAULT_REFRESH_TOKEN

        # the next run (a new hook) starts from the stored token and stores the next one
        second = make_hook(login=None, password=None, extra=extra)
        assert second.test_connection()[0] is True
        assert Variable.get("eloqua_hook_test_refresh") == emulator.control.refresh_token() != stored
    finally:
        Variable.delete("eloqua_hook_test_refresh")


@pytest.fixture
def token_store(airflow_db):
    """A fresh Variable name for a token store, deleted afterwards."""
    from airflow.models import Variable

    name = f"eloqua_hook_store_{time.monotonic_ns()}"
    yield name
    Variable.delete(name)


def token_grants(emulator: EmulatorServer) -> list[int]:
    return [t["status"] for t in calls(emulator, "POST", "/auth/oauth2/token")]


def test_hooks_sharing_a_token_store_recover_from_each_others_rotation(make_hook, emulator, token_store):
    """Hook B holds a refresh token in memory that hook A has since rotated: B's refresh is refused,
    B re-reads the store, finds A's newer token and carries on with it."""
    from airflow.models import Variable

    Variable.set(token_store, DEFAULT_REFRESH_TOKEN)
    extra = {**OAUTH_EXTRA, "token_store_variable": token_store}
    hook_b = make_hook(login=None, password=None, extra=extra)
    new_contacts_definition(hook_b)  # B rotates the seed and keeps the new token in memory
    held_by_b = hook_b._tokens.refresh_token
    hook_a = make_hook(login=None, password=None, extra=extra)
    assert list(hook_a.list_definitions("contacts"))  # A starts from the store and rotates B's token away
    rotated_by_a = Variable.get(token_store)
    assert rotated_by_a != held_by_b
    emulator.control.configure(expire_access_tokens=True)
    emulator.control.clear_requests()

    assert len(list(hook_b.list_definitions("contacts"))) == 1

    assert token_grants(emulator) == [400, 200]  # B's spent token, then A's from the store
    assert hook_b._tokens.refresh_token == emulator.control.refresh_token() == Variable.get(token_store)
    assert Variable.get(token_store) not in (held_by_b, rotated_by_a)


def test_rereading_the_token_store_is_bounded_to_once(make_hook, emulator, token_store):
    from airflow.models import Variable

    Variable.set(token_store, DEFAULT_REFRESH_TOKEN)
    hook = make_hook(login=None, password=None, extra={**OAUTH_EXTRA, "token_store_variable": token_store})
    new_contacts_definition(hook)
    # Both the token the hook holds and the (different) one now in the store are refused.
    Variable.set(token_store, DEFAULT_REFRESH_TOKEN)  # spent by the first grant
    emulator.control.configure(refresh_token="revoked-elsewhere", expire_access_tokens=True)
    emulator.control.clear_requests()

    with pytest.raises(EloquaAuthError) as info:
        list(hook.list_definitions("contacts"))

    assert "refresh_token grant was refused" in str(info.value)
    assert token_grants(emulator) == [400, 400]  # the held token, the stored one, then the error


def test_refused_refresh_token_with_an_unchanged_store_falls_back_to_the_password_grant(
    make_hook, emulator, token_store
):
    hook = make_hook(extra={**OAUTH_EXTRA, "token_store_variable": token_store})
    new_contacts_definition(hook)  # password grant; the issued refresh token is stored
    emulator.control.configure(refresh_token="revoked-elsewhere", expire_access_tokens=True)
    emulator.control.clear_requests()
    assert list(hook.list_definitions("contacts"))
    assert token_grants(emulator) == [400, 200]  # refused refresh; the store had nothing newer; password


@pytest.mark.parametrize("redirect_uri", [None, "https://app.example.com/eloqua/callback"])
def test_refresh_grant_sends_redirect_uri_only_when_configured(monkeypatch, token_store, redirect_uri):
    from airflow.models import Variable

    Variable.set(token_store, "rt-seed")
    with recording_server() as server:
        server.route("POST", "/auth/oauth2/token", body={"access_token": "at-1", "refresh_token": "rt-2"})
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "success"})
        extra = {**OAUTH_EXTRA, "login_url": server.url, "token_store_variable": token_store}
        if redirect_uri:
            extra["redirect_uri"] = redirect_uri
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_WIRE", json.dumps({"conn_type": "eloqua", "extra": extra}))
        assert EloquaHook("eloqua_wire", retry_policy=FAST).get_sync("/syncs/5")["status"] == "success"

    grant = json.loads(server.requests_to("/auth/oauth2/token")[0]["body"])
    expected = {"grant_type": "refresh_token", "refresh_token": "rt-seed", "scope": "full"}
    if redirect_uri:
        expected["redirect_uri"] = redirect_uri
    assert grant == expected  # without the extra there is no redirect_uri at all (never the login URL)
    assert Variable.get(token_store) == "rt-2"


@pytest.mark.parametrize(
    ("redirect_uri", "accepted"), [(DEFAULT_REDIRECT_URI, True), ("https://other.example/cb", False)]
)
def test_emulator_checks_the_registered_redirect_uri(make_hook, emulator, token_store, redirect_uri, accepted):
    from airflow.models import Variable

    Variable.set(token_store, DEFAULT_REFRESH_TOKEN)
    extra = {**OAUTH_EXTRA, "token_store_variable": token_store, "redirect_uri": redirect_uri}
    hook = make_hook(login=None, password=None, extra=extra)
    if accepted:
        assert hook.test_connection()[0] is True
        assert Variable.get(token_store) == emulator.control.refresh_token() != DEFAULT_REFRESH_TOKEN
    else:
        with pytest.raises(EloquaAuthError, match="invalid_grant: The redirect_uri does not match"):
            hook.get_sync("/syncs/1")
        assert token_grants(emulator) == [400]  # the store holds the same token: no second try
        assert emulator.control.refresh_token() == DEFAULT_REFRESH_TOKEN


# ---------------------------------------------------------------------------------------- TLS


def test_tls_verification_is_on_by_default(monkeypatch):
    import ssl

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


def test_verify_tls_can_name_a_ca_bundle_for_both_clients(monkeypatch, tmp_path):
    """A server whose certificate a private CA signed: trusted with that CA's PEM as ``verify_tls``
    (requests and httpx alike), refused with the default trust store."""
    ca = make_test_ca(tmp_path)
    with recording_server(tls=ca.server_context()) as server:
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "active"})
        conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD}
        conn["extra"] = {"site": DEFAULT_SITE, "login_url": server.url, "verify_tls": str(ca.ca_pem)}
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_CORP_CA", json.dumps(conn))
        conn["extra"] = {**conn["extra"], "verify_tls": True}
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_PUBLIC_CA", json.dumps(conn))

        hook = EloquaHook("eloqua_corp_ca", retry_policy=FAST)
        assert hook.settings.verify_tls == str(ca.ca_pem)
        assert hook.session.verify == str(ca.ca_pem)
        assert hook.get_sync("/syncs/5")["status"] == "active"

        async def async_look() -> tuple[dict, list]:
            client = await hook._aprepare()
            try:
                return await hook.aget_sync("/syncs/5"), client._transport._pool._ssl_context.get_ca_certs()
            finally:
                await hook.aclose()

        sync, ca_certs = asyncio.run(async_look())
        assert sync["status"] == "active"
        # the triggerer's client trusts exactly the given bundle
        assert [dict(item[0] for item in cert["subject"])["commonName"] for cert in ca_certs] == [CA_NAME]
        answered = len(server.seen)
        assert [r["path"] for r in server.seen] == ["/id", "/API/Bulk/2.0/syncs/5", "/API/Bulk/2.0/syncs/5"]

        with pytest.raises(EloquaTransportError):
            EloquaHook("eloqua_public_ca", retry_policy=FAST).get_sync("/syncs/5")
        assert len(server.seen) == answered  # the handshake failed: no request reached the server


# ---------------------------------------------------------------------------------------- base URL


def test_discovery_via_id_happens_once(make_hook, emulator):
    hook = make_hook()
    new_contacts_definition(hook)
    list(hook.list_definitions("contacts"))
    assert len(calls(emulator, "GET", "/id")) == 1
    assert hook.base_url == emulator.url + "/API/Bulk/2.0"


@pytest.mark.parametrize("suffix", ["", "/api/bulk/2.0", "/api/bulk/2.0/"])
def test_host_override_skips_discovery(make_hook, emulator, suffix):
    hook = make_hook(host=emulator.url + suffix)
    new_contacts_definition(hook)
    assert calls(emulator, "GET", "/id") == []
    assert calls(emulator, "POST")[0]["path"] == "/api/bulk/2.0/contacts/imports"


def test_pod_move_is_rediscovered_once(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    emulator.control.configure(pod="p02")
    emulator.control.clear_requests()

    assert hook.get_definition(uri)["uri"] == uri
    assert hook.get_definition(uri)["uri"] == uri
    log = [(r["method"], r["path"], r["status"]) for r in calls(emulator)]
    assert log == [
        ("GET", f"/API/Bulk/2.0{uri}", 401),
        ("GET", "/id", 200),
        ("GET", f"/p02/API/Bulk/2.0{uri}", 200),
        ("GET", f"/p02/API/Bulk/2.0{uri}", 200),
    ]


def test_pod_move_with_host_override_fails_without_discovery(make_hook, emulator):
    hook = make_hook(host=emulator.url)
    uri = new_contacts_definition(hook)
    emulator.control.configure(pod="p02")
    with pytest.raises(EloquaAuthError):
        hook.get_definition(uri)
    assert calls(emulator, "GET", "/id") == []


# ---------------------------------------------------------------------------------------- 401 fails fast


def test_changed_password_fails_fast_after_one_renewal(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    emulator.control.configure(password=CHANGED_PASSWORD)
    emulator.control.clear_requests()

    with pytest.raises(EloquaAuthError) as info:
        hook.get_definition(uri)
    assert "not retried" in str(info.value)
    # the call, then one renewal (re-discovery, which Eloqua refuses with 200 "Not authenticated."),
    # then the error: no retry storm
    assert [(r["path"], r["status"]) for r in calls(emulator)] == [(f"/API/Bulk/2.0{uri}", 401), ("/id", 200)]
    assert_no_secret(str(info.value), repr(info.value))


def test_wrong_password_on_a_fresh_hook_fails_fast(make_hook, emulator):
    emulator.control.configure(password=CHANGED_PASSWORD)
    hook = make_hook()
    with pytest.raises(EloquaAuthError) as info:
        list(hook.list_definitions("contacts"))
    # /id refuses bad credentials with 200 "Not authenticated." (Oracle's "Determining base URLs"):
    # the hook takes it for the 401 it means, renews once, then fails with the auth hint
    assert [(r["path"], r["status"]) for r in calls(emulator)] == [("/id", 200), ("/id", 200)]
    assert str(info.value) == (
        "Eloqua answered 200 to GET /id; body: Not authenticated. Check the user and password (changed or "
        "rotated?), the site name, the OAuth client and tokens, the site's IP allow-list, and that the user "
        "is enabled; not retried"
    )
    assert_no_secret(str(info.value), repr(info.value))


def test_a_bulk_401_message_has_one_full_stop_before_the_hint(make_hook, emulator):
    hook = make_hook(host=emulator.url)  # no discovery: the Bulk call's own 401 is the error
    emulator.control.configure(password=CHANGED_PASSWORD)
    with pytest.raises(EloquaAuthError) as info:
        list(hook.list_definitions("contacts"))
    assert info.value.status == 401
    assert "body: Not authenticated. Check the user and password" in str(info.value)
    assert ".." not in str(info.value)


def test_oauth2_changed_password_fails_fast(make_hook, emulator):
    hook = make_hook(extra=OAUTH_EXTRA)
    uri = new_contacts_definition(hook)
    # the password changed and an admin revoked the app's tokens
    emulator.control.configure(password=CHANGED_PASSWORD, expire_access_tokens=True, refresh_token="revoked")
    emulator.control.clear_requests()

    with pytest.raises(EloquaAuthError) as info:
        hook.get_definition(uri)
    assert "password grant was refused" in str(info.value)
    assert "invalid_grant" in str(info.value)
    # the revoked refresh token, then one password grant: no retry storm
    assert [(r["path"], r["status"]) for r in calls(emulator)] == [
        (f"/API/Bulk/2.0{uri}", 401),
        ("/auth/oauth2/token", 400),
        ("/auth/oauth2/token", 400),
    ]
    assert_no_secret(str(info.value), repr(info.value))


# ---------------------------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [429, 503, 502, 504])
def test_transient_status_with_retry_after_is_retried(make_hook, emulator, worker_clock, status):
    hook = make_hook(retry=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=60))
    emulator.control.add_fault(
        method="GET", path="^/contacts/imports$", status=status, times=2, headers={"Retry-After": "7"}
    )
    assert list(hook.list_definitions("contacts")) == []
    assert [r["status"] for r in calls(emulator, "GET", "/contacts/imports")] == [status, status, 200]
    assert worker_clock.slept == [7.0, 7.0]  # what Eloqua asked for, before each retry


def test_retries_stop_at_max_attempts(make_hook, emulator):
    hook = make_hook(retry=RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05))
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=503, times=None)
    with pytest.raises(EloquaApiError) as info:
        list(hook.list_definitions("contacts"))
    assert info.value.status == 503
    assert len(calls(emulator, "GET", "/contacts/imports")) == 4


def test_500_with_retry_after_is_retried(make_hook, emulator):
    hook = make_hook()
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=500, headers={"Retry-After": "0"})
    assert list(hook.list_definitions("contacts")) == []
    assert [r["status"] for r in calls(emulator, "GET", "/contacts/imports")] == [500, 200]


def test_500_without_retry_after_is_not_retried(make_hook, emulator):
    hook = make_hook()
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=500, body={"error": "boom"})
    with pytest.raises(EloquaApiError) as info:
        list(hook.list_definitions("contacts"))
    assert info.value.status == 500
    assert "boom" in str(info.value)
    assert len(calls(emulator, "GET", "/contacts/imports")) == 1


def test_400_is_not_retried_and_names_the_field(make_hook, emulator):
    hook = make_hook()
    bad = body(identifierFieldName="Phone")
    with pytest.raises(EloquaApiError) as info:
        hook.create_import("contacts", bad)
    error = info.value
    assert error.status == 400
    assert [f["field"] for f in error.failures] == ["identifierFieldName"]
    assert error.failures[0]["value"] == "Phone"
    assert "identifierFieldName" in str(error)
    assert len(calls(emulator, "POST", "/contacts/imports")) == 1


@pytest.mark.parametrize("status", [403, 404, 409])
def test_other_4xx_are_not_retried(make_hook, emulator, status):
    hook = make_hook()
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=status)
    with pytest.raises(EloquaApiError) as info:
        list(hook.list_definitions("contacts"))
    assert info.value.status == status
    assert isinstance(info.value, EloquaAuthError) == (status == 403)
    assert len(calls(emulator, "GET", "/contacts/imports")) == 1


@pytest.mark.parametrize("fault", [{"action": "status", "status": 503}, {"action": "drop"}])
def test_data_post_is_not_resent_after_an_ambiguous_failure(make_hook, emulator, fault):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    emulator.control.add_fault(method="POST", path="/data$", **fault)
    expected = EloquaApiError if fault["action"] == "status" else EloquaTransportError
    with pytest.raises(expected):
        hook.upload_rows(uri, [{"Email": "a@example.com"}])
    assert len(calls(emulator, "POST", "/data")) == 1


def test_data_post_dropped_after_it_took_effect_is_not_resent(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    emulator.control.add_fault(method="POST", path="/data$", action="drop_after")
    with pytest.raises(EloquaTransportError) as info:
        hook.upload_rows(uri, [{"Email": "a@example.com"}])
    assert info.value.connect_phase is False
    # Eloqua staged the rows although the client never heard back: a resend would stage them twice
    assert emulator.control.state()["definitions"][0]["staged_rows"] == 1
    assert len(calls(emulator, "POST", "/data")) == 1


def test_data_post_is_resent_after_429(make_hook, emulator, worker_clock):
    hook = make_hook(retry=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=60))
    uri = new_contacts_definition(hook)
    emulator.control.add_fault(method="POST", path="/data$", status=429, headers={"Retry-After": "7"})
    hook.upload_rows(uri, [{"Email": "a@example.com"}])
    assert [r["status"] for r in calls(emulator, "POST", "/data")] == [429, 204]
    assert worker_clock.slept == [7.0]
    assert emulator.control.state()["definitions"][0]["staged_rows"] == 1


def test_create_sync_is_not_resent_after_503(make_hook, emulator):
    hook = make_hook()
    uri = new_contacts_definition(hook)
    emulator.control.add_fault(method="POST", path="^/syncs$", status=503)
    with pytest.raises(EloquaApiError):
        hook.create_sync(uri)
    assert len(calls(emulator, "POST", "/syncs")) == 1


def test_dropped_get_is_retried(make_hook, emulator):
    hook = make_hook()
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", action="drop")
    assert list(hook.list_definitions("contacts")) == []
    assert len(calls(emulator, "GET", "/contacts/imports")) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_retried_then_raises_transport_error(make_hook, mocker):
    hook = make_hook(host=f"http://127.0.0.1:{_closed_port()}")
    sent = mocker.spy(hook.session, "request")  # counts attempts; the requests are real
    with pytest.raises(EloquaTransportError) as info:
        hook.get_sync("/syncs/1")
    assert info.value.connect_phase is True
    assert "failed before Eloqua answered" in str(info.value)
    assert sent.call_count == FAST.max_attempts


def test_read_timeout_raises_transport_error(make_hook, emulator, monkeypatch):
    hook = make_hook(retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.05), timeout=0.05)
    only_held_requests_time_out(monkeypatch, emulator, hook.session, {("GET", "/contacts/imports$"): None})
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", action="hold", times=None)
    with pytest.raises(EloquaTransportError) as info:
        list(hook.list_definitions("contacts"))
    assert "read timeout after 0.05s" in str(info.value)
    assert info.value.connect_phase is False
    # Both attempts were held until the client had given up on them; released, they are logged.
    assert eventually(lambda: emulator.control.held() == 2)
    assert emulator.control.release_held() == 2
    assert len(logged(emulator, "GET", "/contacts/imports", at_least=2)) == 2


def test_read_timeout_of_a_get_is_retried(make_hook, emulator, monkeypatch):
    hook = make_hook(timeout=0.05)
    only_held_requests_time_out(monkeypatch, emulator, hook.session, {("GET", "/contacts/imports$"): {1}})
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", action="hold", times=1)
    assert list(hook.list_definitions("contacts")) == []
    assert emulator.control.release_held() == 1  # held until the client had given up on it
    assert len(logged(emulator, "GET", "/contacts/imports", at_least=2)) == 2  # the timed-out one, then the retry


def test_redirect_is_refused(make_hook, emulator):
    hook = make_hook()
    elsewhere = emulator.url + "/elsewhere"
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=302, headers={"Location": elsewhere})
    with pytest.raises(EloquaError, match="redirected") as info:
        list(hook.list_definitions("contacts"))
    assert "not followed" in str(info.value)
    assert calls(emulator, suffix="/elsewhere") == []
    assert len(calls(emulator, "GET", "/contacts/imports")) == 1
    assert_no_secret(str(info.value))


# ---------------------------------------------------------------------------------------- wire details


def test_user_agent_and_basic_credentials_on_the_wire(monkeypatch):
    with recording_server() as server:
        server.route("GET", "/API/Bulk/2.0/contacts/imports", body={"items": [], "hasMore": False})
        conn = {
            "conn_type": "eloqua",
            "login": DEFAULT_USER,
            "password": DEFAULT_PASSWORD,
            "extra": {"site": DEFAULT_SITE, "login_url": server.url},
        }
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_WIRE", json.dumps(conn))
        hook = EloquaHook("eloqua_wire", retry_policy=FAST)
        assert list(hook.list_definitions("contacts")) == []

    assert [r["path"] for r in server.seen] == ["/id", "/API/Bulk/2.0/contacts/imports"]
    expected_auth = "Basic " + base64.b64encode(f"{DEFAULT_SITE}\\{DEFAULT_USER}:{DEFAULT_PASSWORD}".encode()).decode()
    for request in server.seen:
        assert request["headers"]["User-Agent"] == f"airflow-provider-eloqua/{__version__}" == USER_AGENT
        assert request["headers"]["Authorization"] == expected_auth
        assert request["headers"]["Accept"] == "application/json"


def test_export_definitions_go_through_the_generic_definition_calls(monkeypatch):
    """Every definition kind urls knows (exports here) is created, listed, read, updated and deleted
    with the same hook calls as imports, at Oracle's paths."""
    with recording_server() as server:
        bulk = "/API/Bulk/2.0"
        export = {"uri": "/activities/exports/8", "name": "sends", "fields": {"Id": "{{Activity.Id}}"}}
        server.route("POST", f"{bulk}/activities/exports", status=201, body=export)
        server.route(
            "GET", f"{bulk}/customObjects/12/exports", body={"items": [{"uri": "/customObjects/12/exports/6"}]}
        )
        server.route("GET", f"{bulk}/activities/exports/8", body=export)
        server.route("PUT", f"{bulk}/activities/exports/8", body=export)
        server.route("DELETE", f"{bulk}/activities/exports/8", status=204)
        conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD}
        monkeypatch.setenv(
            "AIRFLOW_CONN_ELOQUA_WIRE", json.dumps({**conn, "extra": {"site": DEFAULT_SITE, "login_url": server.url}})
        )
        hook = EloquaHook("eloqua_wire", retry_policy=FAST)
        assert hook.create_definition("activities", {"name": "sends"}, kind="exports")["uri"] == "/activities/exports/8"
        listed = list(hook.list_definitions("customObjects", 12, "exports"))
        assert listed == [{"uri": "/customObjects/12/exports/6"}]
        assert hook.get_definition("/activities/exports/8")["name"] == "sends"
        hook.update_definition("/activities/exports/8", export)
        hook.delete_definition("/activities/exports/8")
        with pytest.raises(ValueError, match="for exports"):
            hook.create_definition("opportunities", {"name": "x"}, kind="exports")

    assert [(r["method"], r["path"].removeprefix(bulk)) for r in server.seen if r["path"] != "/id"] == [
        ("POST", "/activities/exports"),
        ("GET", "/customObjects/12/exports"),
        ("GET", "/activities/exports/8"),
        ("PUT", "/activities/exports/8"),
        ("DELETE", "/activities/exports/8"),
    ]


def test_oauth_token_request_on_the_wire(monkeypatch):
    with recording_server() as server:
        server.route("POST", "/auth/oauth2/token", body={"access_token": "at-1", "refresh_token": "rt-2"})
        server.route("GET", "/API/Bulk/2.0/syncs/5", body={"uri": "/syncs/5", "status": "success"})
        extra = {**OAUTH_EXTRA, "site": DEFAULT_SITE, "login_url": server.url}
        conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_WIRE", json.dumps(conn))
        hook = EloquaHook("eloqua_wire", retry_policy=FAST)
        assert hook.get_sync("/syncs/5")["status"] == "success"

    token_request = server.requests_to("/auth/oauth2/token")[0]
    client = base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
    assert token_request["headers"]["Authorization"] == f"Basic {client}"
    assert json.loads(token_request["body"]) == {
        "grant_type": "password",
        "scope": "full",
        "username": f"{DEFAULT_SITE}\\{DEFAULT_USER}",
        "password": DEFAULT_PASSWORD,
    }
    assert server.requests_to("/API/Bulk/2.0/syncs/5")[0]["headers"]["Authorization"] == "Bearer at-1"
    assert hook._tokens.refresh_token == "rt-2"


def test_discovered_base_url_must_be_https_or_loopback(monkeypatch):
    with recording_server() as server:
        server.route(
            "GET",
            "/id",
            body={"urls": {"apis": {"rest": {"bulk": "http://secure.p03.eloqua.com/API/Bulk/{version}/"}}}},
        )
        conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD}
        conn["extra"] = {"site": DEFAULT_SITE, "login_url": server.url}
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_WIRE", json.dumps(conn))
        with pytest.raises(ValueError, match="discovered Bulk API base URL must be an https URL"):
            EloquaHook("eloqua_wire", retry_policy=FAST).get_sync("/syncs/1")
    assert [r["path"] for r in server.seen] == ["/id"]  # credentials never went to the http host


# ---------------------------------------------------------------------------------------- secrets and test_connection


def test_secrets_stay_out_of_reprs_errors_and_logs(make_hook, emulator, caplog):
    caplog.set_level("DEBUG")
    hook = make_hook(extra={**OAUTH_EXTRA, "refresh_token": DEFAULT_REFRESH_TOKEN})
    texts = [repr(hook), repr(hook.settings), str(hook.settings)]
    new_contacts_definition(hook)
    texts.append(repr(hook._tokens.__dict__.keys()))

    errors: list[BaseException] = []
    emulator.control.configure(expire_access_tokens=True, refresh_token="something-else", password=CHANGED_PASSWORD)
    for action in (
        lambda: hook.get_sync("/syncs/1"),  # refresh grant refused, then the password grant
        lambda: make_hook(extra={"site": DEFAULT_SITE, "login_url": "http://example.com"}).settings,
        lambda: make_hook().get_sync("/syncs/1"),  # 401: the password changed
    ):
        with pytest.raises(EloquaError) as info:
            action()
        errors.append(info.value)
    assert [type(e) for e in errors] == [EloquaAuthError, EloquaInputError, EloquaAuthError]
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__ or "")]
    texts.append(caplog.text)
    assert_no_secret(*texts)
    assert CHANGED_PASSWORD not in "".join(texts)


def test_test_connection_succeeds(make_hook, emulator):
    ok, message = make_hook().test_connection()
    assert ok is True
    assert DEFAULT_SITE in message
    assert emulator.url in message


def test_test_connection_with_a_bad_password_reports_without_the_password(make_hook):
    ok, message = make_hook(password=CHANGED_PASSWORD).test_connection()
    assert ok is False
    assert "Not authenticated. Check the user and password" in message
    assert_no_secret(message)


def test_test_connection_with_an_incomplete_connection_names_what_is_missing(make_hook):
    ok, message = make_hook(password=None).test_connection()
    assert ok is False
    assert "missing: password" in message


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_test_connection_names_an_unreachable_login_url(make_hook, auth):
    login_url = f"http://127.0.0.1:{_closed_port()}"
    extra = {"login_url": login_url, **(OAUTH_EXTRA if auth == "oauth2" else {})}
    ok, message = make_hook(extra=extra).test_connection()
    assert ok is False
    assert message.startswith(f"The login URL {login_url} (extra login_url) could not be reached (")
    assert "Check the login URL" in message
    assert_no_secret(message)


def test_test_connection_names_a_login_url_that_is_not_eloquas(make_hook, emulator):
    login_url = emulator.url + "/not-eloqua"
    ok, message = make_hook(extra={"login_url": login_url}).test_connection()
    assert ok is False
    assert message.startswith(f"The login URL {login_url} (extra login_url) did not answer as Eloqua's login host")
    assert "404" in message and message.endswith("Check the login URL")


def test_test_connection_names_an_unreachable_host(make_hook):
    host = f"http://127.0.0.1:{_closed_port()}"
    ok, message = make_hook(host=host).test_connection()
    assert ok is False
    assert message.startswith(f"The Bulk API base URL {host}/api/bulk/2.0 (the connection's Host) could not be")
    assert message.endswith("Check the Host, or leave it empty to discover the site's pod from the login URL")


def test_test_connection_names_an_unreachable_discovered_pod(make_hook, emulator):
    pod = f"http://127.0.0.1:{_closed_port()}"
    emulator.control.add_fault(
        method="GET",
        path="^/id$",
        status=200,
        body={"site": {"name": DEFAULT_SITE}, "urls": {"apis": {"rest": {"bulk": pod + "/api/bulk/{version}/"}}}},
    )
    ok, message = make_hook().test_connection()
    assert ok is False
    assert message.startswith(f"The Bulk API base URL {pod}/api/bulk/2.0, which {emulator.url}/id named, could not")
    assert "set the Host to its Bulk API base URL" in message


def test_retry_policy_can_be_given_as_a_dict(make_hook, emulator):
    hook = make_hook(retry={"max_attempts": 2, "initial_wait": 0.01, "max_wait": 0.05})
    assert hook.retry_policy == RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.05)
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", status=503, times=None)
    with pytest.raises(EloquaApiError):
        list(hook.list_definitions("contacts"))
    assert len(calls(emulator, "GET", "/contacts/imports")) == 2


def test_oauth2_wrong_password_is_refused_by_the_token_endpoint(make_hook, emulator):
    hook = make_hook(password=CHANGED_PASSWORD, extra=OAUTH_EXTRA)
    with pytest.raises(EloquaAuthError) as info:
        hook.get_sync("/syncs/1")
    assert "password grant was refused" in str(info.value)
    assert [(r["path"], r["status"]) for r in calls(emulator)] == [("/auth/oauth2/token", 400)]
    assert_no_secret(str(info.value), repr(info.value))


def test_a_page_cut_off_mid_body_is_read_again(monkeypatch):
    """A connection dropped after the headers (Content-Length not reached) is a transport error, retried."""
    import http.server
    import threading

    page = json.dumps({"items": [{"Email": "a@example.com"}], "hasMore": False, "totalResults": 1}).encode()
    answers = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            cut = not answers
            answers.append(self.path)
            self.wfile.write(page[:10] if cut else page)
            if cut:
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, *args: Any) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_ELOQUA_CUT",
            json.dumps({"conn_type": "eloqua", "login": "u", "password": "p", "host": url, "extra": {"site": "S"}}),
        )
        hook = EloquaHook("eloqua_cut", retry_policy=FAST)
        assert hook.get_sync_data("/syncs/9", offset=0, limit=10)["items"] == [{"Email": "a@example.com"}]
        assert answers == ["/api/bulk/2.0/syncs/9/data?offset=0&limit=10"] * 2
    finally:
        httpd.shutdown()
        httpd.server_close()
