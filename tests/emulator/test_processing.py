"""emulator/processing.py, over real HTTP: the sync lifecycle, outcomes, logs, rejects, record upserts and
sync actions; Oracle's import kinds (email addresses, opportunities and their contact links, blank custom
object record ids) and their status codes."""

from __future__ import annotations

from .conftest import EMAIL, LINK, OPPORTUNITY_FIELDS


def _codes(bulk, sync_uri):
    return {log["statusCode"]: log for log in bulk.items(sync_uri + "/logs")}


def test_lifecycle_pending_active_success(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com", "First": "Ann"}])
    created = bulk.post("/syncs", json={"syncedInstanceUri": uri, "callbackUrl": "http://cb"})
    assert created.status_code == 201
    sync = created.json()
    assert (sync["status"], sync["syncedInstanceUri"], sync["callbackUrl"]) == ("pending", uri, "http://cb")
    assert sync["createdBy"] == "API.User" and sync["uri"].startswith("/syncs/")
    assert bulk.items(sync["uri"] + "/logs") == []
    assert bulk.get(sync["uri"]).json()["status"] == "pending"
    assert bulk.get(sync["uri"]).json()["status"] == "active"
    done = bulk.get(sync["uri"]).json()
    assert done["status"] == "success" and done["syncStartedAt"] and done["syncEndedAt"]
    logs = _codes(bulk, sync["uri"])
    assert logs["ELQ-00001"]["count"] == 1 and logs["ELQ-00004"]["count"] == 1
    assert logs["ELQ-00101"]["message"] == f"Sync processed for sync {sync['uri']}, resulting in Success status."
    assert set(logs["ELQ-00001"]) == {"syncUri", "count", "severity", "statusCode", "message", "createdAt"}
    assert bulk.get("/syncs").json()["totalResults"] == 1


def test_poll_counts_are_configurable(emulator, bulk):
    emulator.control.configure(pending_polls=0, active_polls=0)
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com", "First": "Ann"}])
    assert bulk.get(bulk.start_sync(uri)).json()["status"] == "success"


def test_sync_needs_a_known_definition(bulk):
    for body in ({}, {"syncedInstanceUri": "/contacts/imports/999"}):
        response = bulk.post("/syncs", json=body)
        assert response.status_code == 400
        assert response.json()["failures"][0]["field"] == "syncedInstanceUri"


def test_invalid_email_is_rejected_with_warning(emulator, bulk):
    uri = bulk.create()["uri"]
    rows = [{"Email": "a@example.com", "First": "A"}, {"Email": "not-an-email", "First": "B"}, {"Email": ""}]
    sync = bulk.sync(uri, rows)
    assert sync["status"] == "warning"
    rejects = bulk.items(sync["uri"] + "/rejects")
    assert rejects[0] == {
        "fieldValues": {"Email": "not-an-email", "First": "B"},
        "invalidFields": ["Email"],
        "message": "Invalid email address.",
        "recordIndex": 2,
        "statusCode": "ELQ-00002",
    }
    assert rejects[1]["recordIndex"] == 3 and rejects[1]["invalidFields"] == ["Email"]
    logs = _codes(bulk, sync["uri"])
    assert logs["ELQ-00002"]["count"] == 1 and logs["ELQ-00060"]["count"] == 2
    assert logs["ELQ-00002"]["severity"] == "warning"
    assert "Warning status" in logs["ELQ-00101"]["message"]
    assert len(emulator.control.records("/contacts")) == 1


def test_unknown_and_missing_columns_warn(emulator, bulk):
    uri = bulk.create()["uri"]
    sync = bulk.sync(uri, [{"Email": "a@example.com", "Shoe": "42"}])
    assert sync["status"] == "warning"
    logs = _codes(bulk, sync["uri"])
    assert "Shoe" in logs["ELQ-00111"]["message"] and "First" in logs["ELQ-00121"]["message"]
    assert emulator.control.records("/contacts")[0]["identifier"] == "a@example.com"


def test_definition_deleted_mid_sync_errors(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com"}])
    sync_uri = bulk.start_sync(uri)
    assert bulk.delete(uri).status_code == 204
    assert bulk.wait(sync_uri)["status"] == "error"
    logs = _codes(bulk, sync_uri)
    assert logs["ELQ-00143"]["severity"] == "error"
    assert emulator.control.records("/contacts") == []


def test_forced_outcomes(emulator, bulk):
    emulator.control.configure(force_status=["error", "warning"])
    uri = bulk.create()["uri"]
    first = bulk.sync(uri, [{"Email": "a@example.com", "First": "A"}])
    assert first["status"] == "error"
    assert _codes(bulk, first["uri"])["ELQ-00101"]["severity"] == "error"
    assert emulator.control.records("/contacts") == []
    assert bulk.sync(uri, [{"Email": "a@example.com", "First": "A"}])["status"] == "warning"
    assert bulk.sync(uri, [{"Email": "b@example.com", "First": "B"}])["status"] == "success"


def test_same_contact_twice_is_one_record(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.sync(uri, [{"Email": "a@example.com", "First": "Ann"}])
    second = bulk.sync(uri, [{"Email": "A@Example.com", "First": "Anna"}])
    logs = _codes(bulk, second["uri"])
    assert (logs["ELQ-00004"]["count"], logs["ELQ-00022"]["count"]) == (0, 1)
    records = emulator.control.records("/contacts")
    assert len(records) == 1 and records[0]["{{Contact.Field(C_FirstName)}}"] == "Anna"
    assert emulator.control.state()["records"] == {"/contacts": 1}


def test_update_rule_if_new_is_not_null(emulator, bulk):
    uri = bulk.create(updateRule="ifNewIsNotNull")["uri"]
    bulk.sync(uri, [{"Email": "a@example.com", "First": "Ann"}])
    bulk.sync(uri, [{"Email": "a@example.com", "First": None}])
    assert emulator.control.records("/contacts")[0]["{{Contact.Field(C_FirstName)}}"] == "Ann"


def test_activities_never_update(emulator, bulk):
    fields = {"Id": "{{Activity.Field(ExternalId)}}", "Type": "{{Activity.Type}}"}
    uri = bulk.create("/activities/imports", fields=fields, identifierFieldName="Id")["uri"]
    rows = [{"Id": "1", "Type": "FormSubmit"}]
    bulk.sync(uri, rows)
    sync = bulk.sync(uri, rows)
    assert _codes(bulk, sync["uri"])["ELQ-00069"]["count"] == 1
    assert len(emulator.control.records("/activities")) == 2


def test_import_sync_actions_and_sync_action_definitions(emulator, bulk):
    actions = [
        {"action": "add", "destination": "{{ContactList[123]}}"},
        {"action": "setStatus", "destination": "{{EmailGroup[5]}}", "status": "subscribed"},
    ]
    uri = bulk.create(syncActions=actions)["uri"]
    bulk.sync(uri, [{"Email": "a@example.com"}, {"Email": "b@example.com"}, {"Email": "bad"}])
    assert emulator.control.lists() == {"123": ["a@example.com", "b@example.com"]}
    assert emulator.control.statuses()["{{EmailGroup[5]}}"]["a@example.com"] == "subscribed"

    remove = bulk.create(
        "/contacts/syncActions",
        fields={"Email": EMAIL},
        syncActions=[{"action": "remove", "destination": "{{ContactList[123]}}"}],
    )
    assert bulk.sync(remove["uri"], [{"Email": "a@example.com"}])["status"] == "success"
    assert emulator.control.lists() == {"123": ["b@example.com"]}
    assert len(emulator.control.records("/contacts")) == 2  # sync actions do not create records


def _counts(bulk, sync_uri):
    return {log["statusCode"]: log["count"] for log in bulk.items(sync_uri + "/logs")}


def test_email_address_import_unsubscribes_and_logs_addresses_not_records(emulator, bulk):
    definition = bulk.create(
        "/emailAddresses/imports",
        fields={"UnsubEmail": "{{EmailAddress.Field(EmailAddress)}}"},
        identifierFieldName="UnsubEmail",
        syncActions=[{"action": "add", "destination": "{{ContactList[7]}}"}],
    )
    sync = bulk.sync(definition["uri"], [{"UnsubEmail": "A@Example.com"}, {"UnsubEmail": "b@example.com"}])
    assert sync["status"] == "success"
    codes = _counts(bulk, sync["uri"])
    assert (codes["ELQ-00033"], codes["ELQ-00035"]) == (2, 0)  # "Email addresses created./updated."
    assert "ELQ-00004" not in codes  # no contact was created
    again = bulk.sync(definition["uri"], [{"UnsubEmail": "a@example.com"}])
    assert _counts(bulk, again["uri"])["ELQ-00035"] == 1  # matched case-insensitively
    assert emulator.control.lists()["7"] == ["a@example.com", "b@example.com"]


def test_opportunities_are_created_then_linked_to_contacts(emulator, bulk):
    contacts = bulk.create()["uri"]
    bulk.sync(contacts, [{"Email": "ann@example.com", "First": "Ann"}])
    opportunities = bulk.create(
        "/opportunities/imports", fields=OPPORTUNITY_FIELDS, identifierFieldName="OpportunityID"
    )["uri"]
    row = {"OpportunityName": "Deal", "Stage": "Open", "Amount": "100", "CloseDate": "2026-12-31"}
    sync = bulk.sync(opportunities, [{"OpportunityID": "OPP-1", **row}])
    assert sync["status"] == "success" and _counts(bulk, sync["uri"])["ELQ-00049"] == 1  # "Total new records."

    link = bulk.create("/opportunities/contacts/imports", **LINK)["uri"]
    rows = [
        {"EmailAddress": "ANN@example.com", "OpportunityID": "OPP-1"},
        {"EmailAddress": "ann@example.com", "OpportunityID": "OPP-404"},
        {"EmailAddress": "nobody@example.com", "OpportunityID": "OPP-1"},
    ]
    linked = bulk.sync(link, rows)
    assert linked["status"] == "warning"
    codes = _counts(bulk, linked["uri"])
    assert (codes["ELQ-00084"], codes["ELQ-00085"], codes["ELQ-00060"]) == (1, 1, 2)
    assert [r["statusCode"] for r in bulk.items(linked["uri"] + "/rejects")] == ["ELQ-00084", "ELQ-00085"]
    assert [r["identifier"] for r in emulator.control.records("/opportunities/contacts")] == ["OPP-1|ann@example.com"]


def test_blank_custom_object_record_id_creates_new_records(emulator, bulk):
    """Oracle's "Creating new custom object records": identifier = record Id, left blank."""
    fields = {"Id": "{{CustomObject[9].Id}}", "Email": "{{CustomObject[9].Field[1]}}"}
    uri = bulk.create("/customObjects/9/imports", fields=fields, identifierFieldName="Id")["uri"]
    sync = bulk.sync(uri, [{"Id": "", "Email": "a@example.com"}, {"Id": None, "Email": "b@example.com"}])
    assert sync["status"] == "success"
    assert _counts(bulk, sync["uri"])["ELQ-00007"] == 2
    assert len(emulator.control.records("/customObjects/9")) == 2
    # a blank identifier that is not a record id still cannot match anything
    contacts = bulk.create()["uri"]
    assert bulk.sync(contacts, [{"Email": "", "First": "x"}])["status"] == "warning"
