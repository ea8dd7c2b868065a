"""emulator/validation.py, over real HTTP: definition create/list/get/put/delete and the validation
failures Eloqua answers with, Oracle's required statements, sync-action identifiers and string booleans."""

from __future__ import annotations

import pytest

from .conftest import EMAIL, FIRST_NAME, LINK, OPPORTUNITY_FIELDS

VALID = {"name": "n", "fields": {"Email": EMAIL}, "identifierFieldName": "Email"}


def test_create_returns_full_definition_with_defaults(bulk):
    definition = bulk.create()
    assert definition["uri"] == "/contacts/imports/1"
    assert definition["createdBy"] == definition["updatedBy"] == "API.User"
    assert definition["createdAt"].endswith("Z")
    assert definition["dataRetentionDuration"] == "P7D"
    assert definition["updateRule"] == "always"
    assert definition["isUpdatingMultipleMatchedRecords"] is False
    assert bulk.create("/customObjects/9/imports")["uri"] == "/customObjects/9/imports/2"
    assert bulk.get(definition["uri"]).json() == definition


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"fields": {}}, "fields"),
        ({"fields": {f"c{i}": "{{Contact.Field(X)}}" for i in range(101)}, "identifierFieldName": "c0"}, "fields"),
        ({"fields": {"Email": "C_EmailAddress"}}, "fields.Email"),
        ({"identifierFieldName": "Nope"}, "identifierFieldName"),
        ({"updateRule": "sometimes"}, "updateRule"),
        ({"dataRetentionDuration": "P15D"}, "dataRetentionDuration"),
        ({"dataRetentionDuration": "PT30M"}, "dataRetentionDuration"),
        ({"autoDeleteDuration": "PT59M"}, "autoDeleteDuration"),
        ({"syncActions": [{"action": "add", "destination": "{{ContactList[1]}}"}] * 11}, "syncActions"),
        ({"syncActions": [{"action": "explode", "destination": "{{ContactList[1]}}"}]}, "syncActions[0].action"),
        ({"syncActions": [{"action": "setStatus", "destination": "{{EmailGroup[5]}}"}]}, "syncActions[0].status"),
    ],
)
def test_create_validation_failures(bulk, change, field):
    response = bulk.post("/contacts/imports", json=VALID | change)
    assert response.status_code == 400
    assert field in [f["field"] for f in response.json()["failures"]]
    assert bulk.get("/contacts/imports").json()["totalResults"] == 0


def test_invalid_json_and_unknown_collection(bulk):
    response = bulk.post("/contacts/imports", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["failures"]
    assert bulk.post("/widgets/imports", json=VALID).status_code == 404
    assert bulk.post("/activities/syncActions", json=VALID).status_code == 404


def test_sync_action_definition_rules(bulk):
    action = [{"action": "add", "destination": "{{ContactList[7]}}"}]
    two_fields = VALID | {"fields": {"Email": EMAIL, "First": FIRST_NAME}, "syncActions": action}
    assert bulk.post("/contacts/syncActions", json=two_fields).status_code == 400
    assert bulk.post("/contacts/syncActions", json=VALID).status_code == 400  # no action
    created = bulk.post("/contacts/syncActions", json=VALID | {"syncActions": action})
    assert created.status_code == 201 and created.json()["uri"].startswith("/contacts/syncActions/")


def test_list_paging_and_name_filter(bulk):
    for index in range(5):
        bulk.create(name=f"import {index}")
    page = bulk.get("/contacts/imports", params={"limit": 2, "offset": 2}).json()
    assert [d["name"] for d in page["items"]] == ["import 2", "import 3"]
    assert (page["totalResults"], page["count"], page["hasMore"], page["limit"], page["offset"]) == (5, 2, True, 2, 2)
    last = bulk.get("/contacts/imports", params={"limit": 2, "offset": 4}).json()
    assert last["count"] == 1 and last["hasMore"] is False
    assert bulk.get("/contacts/imports", params={"limit": 1001}).status_code == 400
    assert bulk.get("/accounts/imports").json()["totalResults"] == 0
    found = bulk.get("/contacts/imports", params={"q": "name='import 3'"}).json()
    assert [d["name"] for d in found["items"]] == ["import 3"]


def test_put_requires_every_required_property(bulk):
    definition = bulk.create()
    partial = bulk.put(definition["uri"], json={"name": "renamed"})
    assert partial.status_code == 400
    assert {f["field"] for f in partial.json()["failures"]} >= {"fields", "identifierFieldName"}
    full = bulk.put(definition["uri"], json=VALID | {"name": "renamed"})
    assert full.status_code == 200
    assert full.json()["name"] == "renamed" and full.json()["createdAt"] == definition["createdAt"]
    assert bulk.get(definition["uri"]).json()["name"] == "renamed"
    assert bulk.put("/contacts/imports/999", json=VALID).status_code == 404


def test_delete(bulk):
    definition = bulk.create()
    assert bulk.delete(definition["uri"]).status_code == 204
    assert bulk.get(definition["uri"]).status_code == 404
    assert bulk.delete(definition["uri"]).status_code == 404


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
