"""Unit tests of urls.py: every path the provider builds."""

from __future__ import annotations

import re

import pytest

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.exceptions import EloquaInputError


@pytest.mark.parametrize(
    ("uri", "entity", "parent_id", "kind", "id_"),
    [
        ("/contacts/imports/30", "contacts", None, "imports", 30),
        ("/accounts/imports/1", "accounts", None, "imports", 1),
        ("/activities/imports/2", "activities", None, "imports", 2),
        ("/opportunities/imports/3", "opportunities", None, "imports", 3),
        ("/opportunities/contacts/imports/4", "opportunities/contacts", None, "imports", 4),
        ("/customObjects/12/imports/5", "customObjects", 12, "imports", 5),
        ("/events/12/imports/14", "events", 12, "imports", 14),
        ("/contacts/syncActions/5", "contacts", None, "syncActions", 5),
        ("/customObjects/3/syncActions/9", "customObjects", 3, "syncActions", 9),
        ("/contacts/exports/3", "contacts", None, "exports", 3),
        ("/accounts/exports/4", "accounts", None, "exports", 4),
        ("/activities/exports/8", "activities", None, "exports", 8),
        ("/customObjects/12/exports/6", "customObjects", 12, "exports", 6),
        ("/events/7/exports/2", "events", 7, "exports", 2),
    ],
)
def test_parse_definition_uri_valid(uri, entity, parent_id, kind, id_):
    parsed = urls.parse_definition_uri(uri)
    assert (parsed.uri, parsed.entity, parsed.parent_id, parsed.kind, parsed.id) == (uri, entity, parent_id, kind, id_)
    assert parsed.data_path == uri + "/data"
    assert urls.data_path(uri) == uri + "/data"


@pytest.mark.parametrize(
    "uri",
    [
        "",
        None,
        "contacts/imports/30",  # no leading slash
        "/contacts/imports/",
        "/contacts/imports/abc",
        "/contacts/exports/",
        "/opportunities/exports/3",  # no export definitions
        "/events/4/syncActions/3",  # no sync-action definitions
        "/customObjects/exports/5",  # parent id missing
        "/customObjects/imports/5",  # parent id missing
        "/events/x/imports/5",
        "/leads/imports/3",
        "/contacts/imports/30/data",
        "/contacts/imports/30?x=1",
        "https://secure.p03.eloqua.com/api/bulk/2.0/contacts/imports/30",
        "/syncs/100",
    ],
)
def test_parse_definition_uri_invalid_names_the_argument(uri):
    with pytest.raises(ValueError, match="definition_uri") as info:
        urls.parse_definition_uri(uri)
    assert repr(uri) in str(info.value)


@pytest.mark.parametrize("value", [5, 5.0, None, ["/contacts/imports/30"]])
def test_uris_that_are_not_strings_name_the_argument_they_came_from(value):
    with pytest.raises(
        EloquaInputError, match=rf"^synced_instance_uri must look like .*; got {re.escape(repr(value))}$"
    ):
        urls.parse_definition_uri(value, "synced_instance_uri")
    with pytest.raises(EloquaInputError, match=rf"^sync_uri must look like /syncs/123; got {re.escape(repr(value))}$"):
        urls.check_sync_uri(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://secure.p03.eloqua.com", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("https://secure.p03.eloqua.com/", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("secure.p03.eloqua.com", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("  secure.p03.eloqua.com  ", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("https://secure.p03.eloqua.com/api/bulk/2.0", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("https://secure.p03.eloqua.com/api/bulk/2.0/", "https://secure.p03.eloqua.com/api/bulk/2.0"),
        ("https://secure.p03.eloqua.com/API/Bulk/2.0", "https://secure.p03.eloqua.com/API/Bulk/2.0"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/bulk/2.0"),
        ("http://127.0.0.1:8080/p02", "http://127.0.0.1:8080/p02/api/bulk/2.0"),
    ],
)
def test_bulk_base_from_host(host, expected):
    assert urls.bulk_base_from_host(host) == expected


def test_bulk_base_from_discovery_fills_the_version():
    body = {
        "site": {"id": 1, "name": "AcmeCorp"},
        "urls": {
            "base": "https://secure.p03.eloqua.com",
            "apis": {
                "rest": {
                    "standard": "https://secure.p03.eloqua.com/API/REST/{version}/",
                    "bulk": "https://secure.p03.eloqua.com/API/Bulk/{version}/",
                }
            },
        },
    }
    assert urls.bulk_base_from_discovery(body) == "https://secure.p03.eloqua.com/API/Bulk/2.0"


@pytest.mark.parametrize("body", [{}, {"urls": {}}, {"urls": {"apis": {"rest": {}}}}, {"urls": None}, []])
def test_bulk_base_from_discovery_without_template(body):
    with pytest.raises(ValueError, match=r"urls\.apis\.rest\.bulk"):
        urls.bulk_base_from_discovery(body)


def test_login_endpoints():
    assert urls.token_url("https://login.eloqua.com") == "https://login.eloqua.com/auth/oauth2/token"
    assert urls.token_url("https://login.eloqua.com/") == "https://login.eloqua.com/auth/oauth2/token"
    assert urls.id_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/id"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("contacts",), "/contacts/imports"),
        (("opportunities/contacts",), "/opportunities/contacts/imports"),
        (("customObjects", 12), "/customObjects/12/imports"),
        (("events", "7"), "/events/7/imports"),
    ],
)
def test_imports_path(args, expected):
    assert urls.imports_path(*args) == expected
    assert urls.definitions_path(*args) == expected


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("leads",), "entity must be one of"),
        (("customObjects",), "parent_id"),
        (("events", 0), "parent_id"),
        (("events", -3), "parent_id"),
        (("events", "abc"), "parent_id"),
        (("contacts", 5), "parent_id is only used"),
    ],
)
def test_entity_root_errors_name_the_argument(args, match):
    with pytest.raises(ValueError, match=match):
        urls.entity_root(*args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("contacts",), "/contacts/exports"),
        (("accounts",), "/accounts/exports"),
        (("activities",), "/activities/exports"),
        (("customObjects", 12), "/customObjects/12/exports"),
        (("events", "7"), "/events/7/exports"),
    ],
)
def test_exports_path(args, expected):
    assert urls.definitions_path(*args, kind="exports") == expected


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ("opportunities",),
            r"entity must be one of contacts, accounts, activities, customObjects, events for exports; got 'opportunities'",
        ),
        (("events",), "parent_id"),
        (("activities", 3), "parent_id is only used"),
    ],
)
def test_exports_path_errors_name_the_argument(args, match):
    with pytest.raises(ValueError, match=match):
        urls.definitions_path(*args, kind="exports")


def test_sync_action_and_field_paths():
    assert urls.definitions_path("contacts", kind="syncActions") == "/contacts/syncActions"
    assert urls.sync_actions_path("customObjects", 4) == "/customObjects/4/syncActions"
    with pytest.raises(ValueError, match="entity must be one of contacts, accounts, customObjects for sync actions"):
        urls.sync_actions_path("events", 4)
    with pytest.raises(ValueError, match="definition kind must be one of"):
        urls.definitions_path("contacts", kind="exportz")
    assert urls.fields_path("events", 3) == "/events/3/fields"
    with pytest.raises(ValueError, match="fields can be listed"):
        urls.fields_path("opportunities/contacts")


def test_sync_paths():
    assert urls.check_sync_uri("/syncs/66100") == "/syncs/66100"
    assert urls.sync_logs_path("/syncs/1") == "/syncs/1/logs"
    assert urls.sync_rejects_path("/syncs/1") == "/syncs/1/rejects"
    for bad in ("", None, "/syncs/", "/syncs/1/logs", "syncs/1", "/contacts/imports/1"):
        with pytest.raises(ValueError, match="sync_uri"):
            urls.check_sync_uri(bad)


@pytest.mark.parametrize(
    "url",
    ["https://login.eloqua.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "http://127.1.2.3"],
)
def test_require_safe_url_accepts_https_and_loopback(url):
    assert urls.require_safe_url(url, "login_url") == url


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://127.0.0.1.evil.com", "ftp://127.0.0.1", "//login.eloqua.com", "login"]
)
def test_require_safe_url_refuses_the_rest(url):
    with pytest.raises(ValueError, match="login_url must be an https URL"):
        urls.require_safe_url(url, "login_url")
