"""The emulator against Oracle's documented shapes (docs/eloqua-behaviour.md): every import kind,
opportunities and their contact links, sync-action identifiers, status codes, date values, blank
custom object identifiers, and its independence from the provider's client modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_eloqua.emulator as emulator_package

from .conftest import EMAIL

OPPORTUNITY_FIELDS = {
    "OpportunityID": "{{Opportunity.Id}}",
    "OpportunityName": "{{Opportunity.Field(Name)}}",
    "Stage": "{{Opportunity.Field(Stage)}}",
    "Amount": "{{Opportunity.Field(Amount)}}",
    "CloseDate": "{{Opportunity.Field(CloseDate)}}",
}
LINK = {
    "fields": {"EmailAddress": "{{Opportunity.Contact.Field(C_EmailAddress)}}", "OpportunityID": "{{Opportunity.Id}}"},
    "identifierFieldName": "EmailAddress",
    "linkOpportunitiesEntityType": "Contact",
    "linkOpportunitiesMatchFieldName": "OpportunityID",
    "linkOpportunitiesSourceField": "EmailAddress",
    "linkOpportunitiesCaseSensitiveMatchField": False,
    "linkOpportunitiesCaseSensitiveSourceField": "false",  # Oracle's examples also send strings
    "linkOpportunitiesMultipleSourceMatches": True,
}


def _codes(bulk, sync_uri):
    return {log["statusCode"]: log["count"] for log in bulk.items(sync_uri + "/logs")}


def test_the_emulator_imports_nothing_from_the_provider_client():
    """It parses what it receives on its own: a client parsing bug must not be mirrored."""
    offenders = []
    for path in Path(emulator_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith("airflow_provider_eloqua")
                and not name.startswith("airflow_provider_eloqua.emulator")
                and name != "airflow_provider_eloqua"  # the package itself (for __version__) is no client code
            ]
    assert offenders == []


@pytest.mark.parametrize(
    "collection",
    ["/emailAddresses/imports", "/phoneNumbers/imports", "/campaignResponses/imports", "/opportunities/imports"],
)
def test_every_import_kind_of_the_reference_is_a_collection(bulk, collection):
    assert bulk.get(collection).status_code == 200
    assert bulk.get(collection.replace("/imports", "/syncActions")).status_code == 404  # no sync actions there


def test_email_address_import_unsubscribes_and_logs_addresses_not_records(emulator, bulk):
    definition = bulk.create(
        "/emailAddresses/imports",
        fields={"UnsubEmail": "{{EmailAddress.Field(EmailAddress)}}"},
        identifierFieldName="UnsubEmail",
        syncActions=[{"action": "add", "destination": "{{ContactList[7]}}"}],
    )
    sync = bulk.sync(definition["uri"], [{"UnsubEmail": "A@Example.com"}, {"UnsubEmail": "b@example.com"}])
    assert sync["status"] == "success"
    codes = _codes(bulk, sync["uri"])
    assert (codes["ELQ-00033"], codes["ELQ-00035"]) == (2, 0)  # "Email addresses created./updated."
    assert "ELQ-00004" not in codes  # no contact was created
    again = bulk.sync(definition["uri"], [{"UnsubEmail": "a@example.com"}])
    assert _codes(bulk, again["uri"])["ELQ-00035"] == 1  # matched case-insensitively
    assert emulator.control.lists()["7"] == ["a@example.com", "b@example.com"]


def test_opportunity_import_requires_oracles_statements(bulk):
    missing_stage = {k: v for k, v in OPPORTUNITY_FIELDS.items() if k != "Stage"}
    response = bulk.post(
        "/opportunities/imports", json={"name": "o", "fields": missing_stage, "identifierFieldName": "OpportunityID"}
    )
    assert response.status_code == 400
    assert response.json()["failures"] == [
        {
            "field": "fields",
            "value": "{{Opportunity.Field(Stage)}}",
            "constraint": "Is required for an opportunity import.",
        }
    ]
    keyed_on_name = {"name": "o", "fields": OPPORTUNITY_FIELDS, "identifierFieldName": "OpportunityName"}
    response = bulk.post("/opportunities/imports", json=keyed_on_name)
    assert response.status_code == 400 and response.json()["failures"][0]["field"] == "identifierFieldName"


def test_opportunity_fields_are_oracles_statements(bulk):
    statements = {item["statement"] for item in bulk.items("/opportunities/fields")}
    assert {"{{Opportunity.Id}}", "{{Opportunity.Field(Name)}}", "{{Opportunity.Field(Stage)}}"} <= statements
    assert "{{Opportunity.Field(OpportunityID)}}" not in statements


def test_opportunities_are_created_then_linked_to_contacts(emulator, bulk):
    contacts = bulk.create()["uri"]
    bulk.sync(contacts, [{"Email": "ann@example.com", "First": "Ann"}])
    opportunities = bulk.create(
        "/opportunities/imports", fields=OPPORTUNITY_FIELDS, identifierFieldName="OpportunityID"
    )["uri"]
    row = {"OpportunityName": "Deal", "Stage": "Open", "Amount": "100", "CloseDate": "2026-12-31"}
    sync = bulk.sync(opportunities, [{"OpportunityID": "OPP-1", **row}])
    assert sync["status"] == "success" and _codes(bulk, sync["uri"])["ELQ-00049"] == 1  # "Total new records."

    link = bulk.create("/opportunities/contacts/imports", **LINK)["uri"]
    rows = [
        {"EmailAddress": "ANN@example.com", "OpportunityID": "OPP-1"},
        {"EmailAddress": "ann@example.com", "OpportunityID": "OPP-404"},
        {"EmailAddress": "nobody@example.com", "OpportunityID": "OPP-1"},
    ]
    linked = bulk.sync(link, rows)
    assert linked["status"] == "warning"
    codes = _codes(bulk, linked["uri"])
    assert (codes["ELQ-00084"], codes["ELQ-00085"], codes["ELQ-00060"]) == (1, 1, 2)
    assert [r["statusCode"] for r in bulk.items(linked["uri"] + "/rejects")] == ["ELQ-00084", "ELQ-00085"]
    assert [r["identifier"] for r in emulator.control.records("/opportunities/contacts")] == ["OPP-1|ann@example.com"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"linkOpportunitiesEntityType": "Company"}, "linkOpportunitiesEntityType"),
        ({"linkOpportunitiesSourceField": None}, "linkOpportunitiesSourceField"),
        ({"linkOpportunitiesMultipleSourceMatches": "yes"}, "linkOpportunitiesMultipleSourceMatches"),
        ({"fields": {"EmailAddress": "{{Opportunity.Contact.Field(C_EmailAddress)}}"}}, "fields"),
    ],
)
def test_opportunity_link_definitions_are_checked(bulk, change, field):
    response = bulk.post("/opportunities/contacts/imports", json={"name": "l", **LINK, **change})
    assert response.status_code == 400
    assert field in [f["field"] for f in response.json()["failures"]]


@pytest.mark.parametrize(
    ("collection", "statement", "ok"),
    [
        ("/accounts/syncActions", "{{Account.Field(CompanyIDExt)}}", True),
        ("/accounts/syncActions", "{{Account.Field(M_City)}}", False),
        ("/customObjects/5/syncActions", "{{CustomObject[5].ExternalId}}", True),
        ("/customObjects/5/syncActions", "{{CustomObject[5].Field[1]}}", False),
        ("/contacts/syncActions", "{{Contact.Field(C_FirstName)}}", False),
    ],
)
def test_sync_action_identifiers_are_oracles(bulk, collection, statement, ok):
    body = {
        "name": "s",
        "fields": {"Id": statement},
        "identifierFieldName": "Id",
        "syncActions": [{"action": "add", "destination": "{{ContactList[1]}}"}],
    }
    response = bulk.post(collection, json=body)
    assert response.status_code == (201 if ok else 400), response.text


def test_use_field_rule_without_rules_is_refused(bulk):
    body = {"name": "n", "fields": {"Email": EMAIL}, "identifierFieldName": "Email", "updateRule": "useFieldRule"}
    response = bulk.post("/contacts/imports", json=body)
    assert response.status_code == 400
    assert response.json()["failures"][0]["field"] == "updateRuleByField"
    with_rules = body | {"updateRuleByField": {"Email": "ifNewIsNotNull"}}
    assert bulk.post("/contacts/imports", json=with_rules).status_code == 201


def test_booleans_may_be_strings_as_in_oracles_examples(bulk):
    body = {"name": "n", "fields": {"Email": EMAIL}, "identifierFieldName": "Email"}
    assert bulk.post("/contacts/imports", json=body | {"isUpdatingMultipleMatchedRecords": "false"}).status_code == 201
    assert bulk.post("/contacts/imports", json=body | {"isUpdatingMultipleMatchedRecords": "nope"}).status_code == 400


def test_blank_custom_object_record_id_creates_new_records(emulator, bulk):
    """Oracle's "Creating new custom object records": identifier = record Id, left blank."""
    fields = {"Id": "{{CustomObject[9].Id}}", "Email": "{{CustomObject[9].Field[1]}}"}
    uri = bulk.create("/customObjects/9/imports", fields=fields, identifierFieldName="Id")["uri"]
    sync = bulk.sync(uri, [{"Id": "", "Email": "a@example.com"}, {"Id": None, "Email": "b@example.com"}])
    assert sync["status"] == "success"
    assert _codes(bulk, sync["uri"])["ELQ-00007"] == 2
    assert len(emulator.control.records("/customObjects/9")) == 2
    # a blank identifier that is not a record id still cannot match anything
    contacts = bulk.create()["uri"]
    assert bulk.sync(contacts, [{"Email": "", "First": "x"}])["status"] == "warning"
