"""Activity types: their field lists, and seeded activities exported with every field of their type."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.emulator.activities import ACTIVITY_TYPES
from tests.emulator.conftest import EMAIL


@pytest.mark.parametrize("activity_type", ACTIVITY_TYPES)
def test_each_type_lists_its_fields_and_exports_them_all(emulator, bulk, activity_type):
    listed = bulk.get("/activities/fields", params={"activityType": activity_type}).json()
    statements = {item["name"]: item["statement"] for item in listed["items"]}
    assert statements["ActivityId"] == "{{Activity.Id}}"
    assert statements["ActivityType"] == "{{Activity.Type}}"
    assert statements["ActivityDate"] == "{{Activity.CreatedAt}}"
    assert listed["totalResults"] == len(statements)

    emulator.control.seed("/activities", count=2, activityType=activity_type, createdAt="2026-01-05T10:00:00Z")
    body = {
        "name": f"all {activity_type}",
        "fields": statements,
        "filter": f"'{{{{Activity.Type}}}}' = '{activity_type}'",
        "areSystemTimestampsInUTC": True,
    }
    response = bulk.post("/activities/exports", json=body)
    assert response.status_code == 201, response.text
    sync = bulk.wait(bulk.start_sync(response.json()["uri"]))
    items = bulk.get(sync["uri"] + "/data").json()["items"]
    assert [(item["ActivityId"], item["ActivityType"], item["ActivityDate"]) for item in items] == [
        ("1", activity_type, "2026-01-05 10:00:00.000"),
        ("2", activity_type, "2026-01-05 10:00:00.000"),
    ]
    assert set(items[0]) == set(statements)


def test_an_unknown_activity_type_is_a_400_naming_it(bulk):
    response = bulk.get("/activities/fields", params={"activityType": "Telepathy"})
    assert response.status_code == 400
    assert response.json()["failures"][0]["field"] == "activityType"


def test_without_a_type_the_activity_import_fields_are_listed(bulk):
    statements = {item["statement"] for item in bulk.items("/activities/fields")}
    assert "{{Activity.Type}}" in statements


def test_activity_exports_read_contact_fields_from_the_activitys_contact(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "ann@example.com"}, {EMAIL: "bob@example.com"}])
    emulator.control.seed(
        "/activities", [{"{{Activity.Contact.Id}}": "2"}, {"{{Activity.Contact.Id}}": "99"}], activityType="EmailOpen"
    )
    fields = {"Contact": "{{Activity.Contact.Id}}", "Email": "{{Activity.Contact.Field(C_EmailAddress)}}"}
    response = bulk.post("/activities/exports", json={"name": "with contacts", "fields": fields})
    sync = bulk.wait(bulk.start_sync(response.json()["uri"]))
    assert bulk.get(sync["uri"] + "/data").json()["items"] == [
        {"Contact": "2", "Email": "bob@example.com"},
        {"Contact": "99", "Email": ""},
    ]


def test_imported_activities_export_with_the_date_they_carry_read_in_the_sites_zone(emulator, bulk):
    fields = {"Type": "{{Activity.Type}}", "Date": "{{Activity.CreatedAt}}"}
    row = {"Type": "FormSubmit", "Date": "2026-01-05 09:00:00", "Ext": "x1"}
    bulk.load("/activities/imports", fields | {"Ext": "{{Activity.Field(ExternalId)}}"}, "Ext", [row])
    body = {"name": "imported", "fields": fields, "areSystemTimestampsInUTC": True}
    sync = bulk.wait(bulk.start_sync(bulk.post("/activities/exports", json=body).json()["uri"]))
    assert bulk.get(sync["uri"] + "/data").json()["items"] == [
        {"Type": "FormSubmit", "Date": "2026-01-05 14:00:00.000"}
    ]


def test_an_sms_export_may_name_activity_fields_oracle_does_not_list(bulk):
    fields = {"Id": "{{Activity.Id}}", "Message": "{{Activity.Field(SmsMessage)}}"}
    body = {"name": "sms", "fields": fields, "filter": "'{{Activity.Type}}' = 'SmsSend'"}
    assert bulk.post("/activities/exports", json=body).status_code == 201
    body["filter"] = "'{{Activity.Type}}' = 'EmailSend'"
    response = bulk.post("/activities/exports", json=body)
    assert response.status_code == 400
    assert response.json()["failures"][0]["field"] == "fields.Message"
