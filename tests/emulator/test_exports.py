"""Export definitions, export syncs and their paged data, over real HTTP against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import EMAIL, FIRST_NAME, Bulk

CONTACT_FIELDS = {"Id": "{{Contact.Id}}", "Email": EMAIL, "First": FIRST_NAME}


def create_export(bulk: Bulk, collection: str = "/contacts/exports", **overrides: Any) -> dict[str, Any]:
    body = {"name": "test export", "fields": CONTACT_FIELDS} | overrides
    response = bulk.post(collection, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def run(bulk: Bulk, definition_uri: str) -> dict[str, Any]:
    return bulk.wait(bulk.start_sync(definition_uri))


def data(bulk: Bulk, sync_uri: str, **params: Any) -> dict[str, Any]:
    response = bulk.get(sync_uri + "/data", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def failures(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [item["field"] for item in response.json()["failures"]]


@pytest.mark.parametrize(
    ("collection", "fields"),
    [
        ("/contacts/exports", {"Email": EMAIL}),
        ("/accounts/exports", {"Name": "{{Account.Field(M_CompanyName)}}", "Id": "{{Account.Id}}"}),
        ("/activities/exports", {"Id": "{{Activity.Id}}", "Type": "{{Activity.Type}}"}),
        ("/customObjects/7/exports", {"Id": "{{CustomObject[7].Id}}", "At": "{{CustomObject[7].UpdatedAt}}"}),
        ("/events/3/exports", {"Name": "{{Event[3].Field[2]}}", "At": "{{Event[3].CreatedAt}}"}),
    ],
)
def test_export_definitions_of_every_entity_are_created_read_listed_and_deleted(bulk, collection, fields):
    created = create_export(bulk, collection, fields=fields)
    uri = created["uri"]
    assert uri.startswith(collection + "/")
    assert created["fields"] == fields
    assert created["dataRetentionDuration"] == "PT6H"  # Oracle's 24A default
    assert created["areSystemTimestampsInUTC"] is False
    assert bulk.get(uri).json() == created
    assert [item["uri"] for item in bulk.items(collection)] == [uri]
    assert bulk.delete(uri).status_code == 204
    assert bulk.get(uri).status_code == 404


def test_export_collections_oracle_does_not_have_are_404(bulk):
    for path in ("/opportunities/exports", "/customObjects/exports", "/emailAddresses/exports"):
        assert bulk.post(path, json={"name": "x", "fields": {"A": EMAIL}}).status_code == 404, path


def test_read_only_properties_sent_by_the_client_are_ignored(bulk):
    created = create_export(bulk, uri="/contacts/exports/999", kbUsed=5, createdBy="someone")
    assert created["uri"] != "/contacts/exports/999"
    assert "kbUsed" not in created
    assert created["createdBy"] != "someone"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"fields": {}}, "fields"),
        ({"fields": {f"F{i}": EMAIL for i in range(251)}}, "fields"),
        ({"fields": {"Email": "C_EmailAddress"}}, "fields.Email"),
        ({"fields": {"Email": "{{Contact.Field(C_NoSuchField)}}"}}, "fields.Email"),
        ({"fields": {"Email": "{{Account.Field(M_CompanyName)}}"}}, "fields.Email"),
        ({"filter": "'" + "x" * 1000 + "'"}, "filter"),
        ({"dataRetentionDuration": "PT59M"}, "dataRetentionDuration"),
        ({"dataRetentionDuration": "P15D"}, "dataRetentionDuration"),
        ({"autoDeleteDuration": "PT30M"}, "autoDeleteDuration"),
        ({"areSystemTimestampsInUTC": "yes"}, "areSystemTimestampsInUTC"),
        ({"maxRecords": 0}, "maxRecords"),
    ],
)
def test_invalid_export_definitions_get_400_naming_the_property(bulk, overrides, field):
    body = {"name": "test export", "fields": CONTACT_FIELDS} | overrides
    assert field in failures(bulk.post("/contacts/exports", json=body))


def test_limits_are_inclusive(bulk):
    fields = {f"F{i}": EMAIL for i in range(250)}
    create_export(bulk, name="x" * 100, fields=fields, dataRetentionDuration="P14D", autoDeleteDuration="PT1H")
    text = "'{{Contact.Field(C_FirstName)}}' = '" + "x" * 1000
    create_export(bulk, dataRetentionDuration="PT1H", filter=text[:999] + "'")


def test_activity_exports_take_at_most_ten_contact_fields(bulk):
    contact = [f"{{{{Activity.Contact.Field({name})}}}}" for name in ("C_EmailAddress", "C_FirstName")]
    fields = {"Id": "{{Activity.Id}}"} | {f"C{i}": contact[i % 2] for i in range(11)}
    assert "fields" in failures(bulk.post("/activities/exports", json={"name": "a", "fields": fields}))
    fields = {"Id": "{{Activity.Id}}"} | {f"C{i}": contact[i % 2] for i in range(10)}
    assert bulk.post("/activities/exports", json={"name": "a", "fields": fields}).status_code == 201


def test_an_export_cannot_be_staged_into(bulk):
    uri = create_export(bulk)["uri"]
    assert bulk.post(uri + "/data", json=[{"Email": "a@example.com"}]).status_code == 404


def test_import_then_export_round_trips_with_system_timestamps(emulator, bulk):
    emulator.control.set_clock("2026-03-01T12:00:00Z")
    imports = bulk.create()
    rows = [{"Email": f"c{i}@example.com", "First": f"Name {i}"} for i in range(5)]
    assert bulk.sync(imports["uri"], rows)["status"] == "success"
    fields = {"Email": EMAIL, "First": FIRST_NAME, "Modified": "{{Contact.Field(C_DateModified)}}"}
    sync = run(bulk, create_export(bulk, fields=fields, areSystemTimestampsInUTC=True)["uri"])
    assert sync["status"] == "success"
    page = data(bulk, sync["uri"])
    assert page["items"] == [row | {"Modified": "2026-03-01 12:00:00.000"} for row in rows]
    assert (page["totalResults"], page["count"], page["hasMore"], page["limit"], page["offset"]) == (
        5,
        5,
        False,
        1000,
        0,
    )


def test_system_timestamps_are_in_the_sites_zone_unless_utc_is_asked(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}], createdAt="2026-07-01T12:00:00Z")
    fields = {"Created": "{{Contact.CreatedAt}}", "DateCreated": "{{Contact.Field(C_DateCreated)}}"}
    eastern = data(bulk, run(bulk, create_export(bulk, fields=fields)["uri"])["uri"])["items"]
    assert eastern == [{"Created": "2026-07-01 08:00:00.000", "DateCreated": "2026-07-01 08:00:00.000"}]
    utc = data(bulk, run(bulk, create_export(bulk, fields=fields, areSystemTimestampsInUTC=True)["uri"])["uri"])
    assert utc["items"] == [{"Created": "2026-07-01 12:00:00.000", "DateCreated": "2026-07-01 12:00:00.000"}]
    emulator.control.configure(site_time_zone="Europe/Paris")
    paris = data(bulk, run(bulk, create_export(bulk, fields=fields)["uri"])["uri"])["items"]
    assert paris[0]["Created"] == "2026-07-01 14:00:00.000"


def test_the_sync_logs_the_exported_count_as_oracle_words_it(emulator, bulk):
    emulator.control.seed("/contacts", count=7, template={EMAIL: "c{n}@example.com"})
    sync = run(bulk, create_export(bulk)["uri"])
    logs = bulk.items(sync["uri"] + "/logs")
    exported = [log for log in logs if log["statusCode"] == "ELQ-00102"]
    assert exported == [
        {
            "syncUri": sync["uri"],
            "severity": "information",
            "statusCode": "ELQ-00102",
            "message": "Successfully exported members to csv file.",
            "count": 7,
            "createdAt": exported[0]["createdAt"],
        }
    ]


def test_pages_cover_every_record_once_and_has_more_turns_false_on_the_last(emulator, bulk):
    emulator.control.seed("/contacts", count=25, template={EMAIL: "c{n}@example.com", FIRST_NAME: "F{n}"})
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    seen, offset = [], 0
    while True:
        page = data(bulk, sync_uri, limit=10, offset=offset)
        assert page["totalResults"] == 25
        assert (page["limit"], page["offset"], page["count"]) == (10, offset, len(page["items"]))
        seen += [item["Email"] for item in page["items"]]
        offset += page["count"]
        if not page["hasMore"]:
            break
    assert seen == [f"c{n}@example.com" for n in range(1, 26)]
    past = data(bulk, sync_uri, limit=10, offset=30)
    assert (past["items"], past["count"], past["hasMore"]) == ([], 0, False)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 50_001}, {"offset": -1}, {"limit": "x"}])
def test_out_of_range_paging_is_a_400(emulator, bulk, params):
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    assert failures(bulk.get(sync_uri + "/data", params=params)) == [next(iter(params))]


def test_limit_of_fifty_thousand_is_accepted(emulator, bulk):
    emulator.control.seed("/contacts", count=3, template={EMAIL: "c{n}@example.com"})
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    assert data(bulk, sync_uri, limit=50_000)["count"] == 3


def test_data_is_a_snapshot_from_when_the_sync_ran(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com", FIRST_NAME: "Ann"}])
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    imports = bulk.create()
    bulk.sync(imports["uri"], [{"Email": "a@example.com", "First": "Changed"}, {"Email": "b@example.com"}])
    assert [item["First"] for item in data(bulk, sync_uri)["items"]] == ["Ann"]
    later = run(bulk, create_export(bulk)["uri"])["uri"]
    assert [item["First"] for item in data(bulk, later)["items"]] == ["Changed", ""]


def test_max_records_caps_what_the_sync_exports(emulator, bulk):
    emulator.control.seed("/contacts", count=10, template={EMAIL: "c{n}@example.com"})
    page = data(bulk, run(bulk, create_export(bulk, maxRecords=4)["uri"])["uri"])
    assert page["totalResults"] == 4


def test_data_of_an_import_sync_is_a_400_and_of_an_unknown_sync_a_404(bulk):
    imports = bulk.create()
    sync = bulk.sync(imports["uri"], [{"Email": "a@example.com"}])
    assert failures(bulk.get(sync["uri"] + "/data")) == ["uri"]
    assert bulk.get("/syncs/99999/data").status_code == 404


def test_data_of_a_sync_still_running_is_a_400(emulator, bulk):
    sync_uri = bulk.start_sync(create_export(bulk)["uri"])
    assert failures(bulk.get(sync_uri + "/data")) == ["uri"]


def test_deleted_sync_data_is_gone(emulator, bulk):
    emulator.control.seed("/contacts", count=2, template={EMAIL: "c{n}@example.com"})
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    assert bulk.delete(sync_uri + "/data").status_code == 204
    assert bulk.get(sync_uri + "/data").status_code == 404


def test_custom_object_and_event_records_export_with_their_timestamps(emulator, bulk):
    emulator.control.set_clock("2026-01-02T03:04:05Z")
    fields = {"Ext": "{{CustomObject[7].ExternalId}}", "Name": "{{CustomObject[7].Field[2]}}"}
    bulk.load("/customObjects/7/imports", fields, "Ext", [{"Ext": "E1", "Name": "One"}])
    fields = {"Ext": "{{CustomObject[7].ExternalId}}", "Created": "{{CustomObject[7].CreatedAt}}"}
    export = create_export(bulk, "/customObjects/7/exports", fields=fields, areSystemTimestampsInUTC=True)
    assert data(bulk, run(bulk, export["uri"])["uri"])["items"] == [{"Ext": "E1", "Created": "2026-01-02 03:04:05.000"}]
    emulator.control.seed("/events/3", [{"{{Event[3].Field[2]}}": "Guest"}], updatedAt="2026-02-01T00:00:00Z")
    fields = {"Name": "{{Event[3].Field[2]}}", "Updated": "{{Event[3].UpdatedAt}}"}
    export = create_export(bulk, "/events/3/exports", fields=fields, areSystemTimestampsInUTC=True)
    assert data(bulk, run(bulk, export["uri"])["uri"])["items"] == [
        {"Name": "Guest", "Updated": "2026-02-01 00:00:00.000"}
    ]


def test_data_expires_after_the_retention_duration_on_the_emulators_clock(emulator, bulk):
    emulator.control.set_clock("2026-01-01T00:00:00Z")
    emulator.control.seed("/contacts", count=2, template={EMAIL: "c{n}@example.com"})
    sync_uri = run(bulk, create_export(bulk, dataRetentionDuration="PT2H")["uri"])["uri"]
    emulator.control.set_clock(advance=2 * 3600 - 1)
    assert data(bulk, sync_uri)["totalResults"] == 2
    emulator.control.set_clock(advance=1)
    expired = bulk.get(sync_uri + "/data")
    assert expired.status_code == 410
    assert "expired" in expired.json()["failures"][0]["constraint"]
    assert bulk.get(sync_uri).json()["status"] == "success"  # the sync itself stays
    emulator.control.configure(expired_data_status=404)
    assert bulk.get(sync_uri + "/data").status_code == 404


def test_default_retention_is_six_hours(emulator, bulk):
    emulator.control.set_clock("2026-01-01T00:00:00Z")
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    emulator.control.set_clock(advance=6 * 3600 - 1)
    assert bulk.get(sync_uri + "/data").status_code == 200
    emulator.control.set_clock(advance=1)
    assert bulk.get(sync_uri + "/data").status_code == 410


def test_csv_pages_carry_a_header_of_the_labels(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com", FIRST_NAME: "Ann, Jr"}, {EMAIL: "b@example.com"}])
    fields = {"Email": EMAIL, "First": FIRST_NAME}
    sync_uri = run(bulk, create_export(bulk, fields=fields)["uri"])["uri"]
    response = bulk.get(sync_uri + "/data", headers={"Accept": "text/csv"}, params={"limit": 1, "offset": 1})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "Email,First\r\nb@example.com,\r\n"
    whole = bulk.get(sync_uri + "/data", headers={"Accept": "text/csv"}).text
    assert whole == 'Email,First\r\na@example.com,"Ann, Jr"\r\nb@example.com,\r\n'


@pytest.fixture
def over_the_cap(emulator):
    emulator.control.configure(activity_sync_cap=3)
    emulator.control.seed("/activities", count=5, activityType="EmailOpen")
    return emulator


ACTIVITY_FIELDS = {"Id": "{{Activity.Id}}"}


def test_an_activity_sync_over_the_cap_holds_exactly_the_cap(over_the_cap, bulk):
    export = create_export(bulk, "/activities/exports", fields=ACTIVITY_FIELDS)
    sync = run(bulk, export["uri"])
    assert sync["status"] == "success"
    [exported] = [log for log in bulk.items(sync["uri"] + "/logs") if log["statusCode"] == "ELQ-00102"]
    assert exported["count"] == 3
    assert data(bulk, sync["uri"])["totalResults"] == 3


def test_an_activity_sync_over_the_cap_can_be_made_to_fail(over_the_cap, bulk):
    over_the_cap.control.configure(activity_sync_cap_outcome="error")
    sync = run(bulk, create_export(bulk, "/activities/exports", fields=ACTIVITY_FIELDS)["uri"])
    assert sync["status"] == "error"
    logs = bulk.items(sync["uri"] + "/logs")
    assert not [log for log in logs if log["statusCode"] == "ELQ-00102"]
    assert any("Too many records" in log["message"] and log["severity"] == "error" for log in logs)
    assert bulk.get(sync["uri"] + "/data").status_code == 404


def test_the_cap_applies_to_activities_only(emulator, bulk):
    emulator.control.configure(activity_sync_cap=3)
    emulator.control.seed("/contacts", count=5, template={EMAIL: "c{n}@example.com"})
    assert data(bulk, run(bulk, create_export(bulk)["uri"])["uri"])["totalResults"] == 5
    exactly = create_export(bulk, "/activities/exports", fields=ACTIVITY_FIELDS, filter="'{{Activity.Id}}' <= '3'")
    emulator.control.seed("/activities", count=5, activityType="EmailOpen")
    assert data(bulk, run(bulk, exactly["uri"])["uri"])["totalResults"] == 3


def test_labels_with_quotes_backslashes_and_accents_are_encoded_faithfully(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    fields = {'Say "hi"': EMAIL, "back\\slash": "{{Contact.Id}}", "Prénom": FIRST_NAME}
    sync_uri = run(bulk, create_export(bulk, fields=fields)["uri"])["uri"]
    assert data(bulk, sync_uri)["items"] == [{'Say "hi"': "a@example.com", "back\\slash": "1", "Prénom": ""}]
    csv_text = bulk.get(sync_uri + "/data", headers={"Accept": "text/csv"}).content.decode()
    assert csv_text == '"Say ""hi""",back\\slash,Prénom\r\na@example.com,1,\r\n'


def test_the_definitions_own_data_endpoint_serves_its_latest_sync(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    uri = create_export(bulk)["uri"]
    assert bulk.get(uri + "/data").status_code == 404  # never synced
    run(bulk, uri)
    emulator.control.seed("/contacts", [{EMAIL: "b@example.com"}])
    run(bulk, uri)
    assert [item["Email"] for item in bulk.get(uri + "/data").json()["items"]] == ["a@example.com", "b@example.com"]


def test_deleting_a_definition_or_its_data_takes_its_syncs_data_with_it(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    first, second = create_export(bulk)["uri"], create_export(bulk)["uri"]
    first_sync, second_sync = run(bulk, first)["uri"], run(bulk, second)["uri"]
    assert bulk.delete(first + "/data").status_code == 204
    assert bulk.get(first_sync + "/data").status_code == 404
    assert bulk.delete(second).status_code == 204
    assert bulk.get(second_sync + "/data").status_code == 404
    assert bulk.get(second_sync).json()["status"] == "success"


def test_export_sync_actions_apply_to_the_exported_records(emulator, bulk):
    emulator.control.seed("/contacts", count=3, template={EMAIL: "c{n}@example.com"})
    actions = [{"action": "add", "destination": "{{ContactList[7]}}"}]
    run(bulk, create_export(bulk, filter="'{{Contact.Id}}' >= '2'", syncActions=actions)["uri"])
    assert emulator.control.lists()["7"] == ["c2@example.com", "c3@example.com"]
    bad = bulk.post("/contacts/exports", json={"name": "x", "fields": CONTACT_FIELDS, "syncActions": [{"action": "x"}]})
    assert "syncActions[0].action" in failures(bad)


@pytest.mark.parametrize("forced", ["warning", "error"])
def test_a_forced_status_applies_to_export_syncs(emulator, bulk, forced):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    emulator.control.configure(force_status=forced)
    sync = run(bulk, create_export(bulk)["uri"])
    assert sync["status"] == forced
    assert bulk.get(sync["uri"] + "/data").status_code == (200 if forced == "warning" else 404)


def test_without_total_results_has_more_says_whether_the_page_is_full(emulator, bulk):
    emulator.control.seed("/contacts", count=4, template={EMAIL: "c{n}@example.com"})
    sync_uri = run(bulk, create_export(bulk)["uri"])["uri"]
    full = data(bulk, sync_uri, limit=2, offset=2, totalResults="false")
    assert "totalResults" not in full and (full["count"], full["hasMore"]) == (2, True)
    empty = data(bulk, sync_uri, limit=2, offset=4, totalResults="false")
    assert (empty["count"], empty["hasMore"], empty["items"]) == (0, False, [])
    assert data(bulk, sync_uri, limit=2, offset=2)["hasMore"] is False
    assert failures(bulk.get(sync_uri + "/data", params={"totalResults": "maybe"})) == ["totalResults"]


def test_fields_the_site_holds_values_for_are_exportable_beyond_the_catalogue(emulator, bulk):
    city = "{{Contact.Field(C_City)}}"
    assert "fields.City" in failures(bulk.post("/contacts/exports", json={"name": "x", "fields": {"City": city}}))
    bulk.load(
        "/contacts/imports", {"Email": EMAIL, "City": city}, "Email", [{"Email": "a@example.com", "City": "Ghent"}]
    )
    emulator.control.seed("/contacts", [{EMAIL: "b@example.com", "{{Contact.Field(C_Zip)}}": "9000"}])
    fields = {"City": city, "Zip": "{{Contact.Field(C_Zip)}}"}
    items = data(bulk, run(bulk, create_export(bulk, fields=fields, filter=f"'{city}' = 'ghent'")["uri"])["uri"])[
        "items"
    ]
    assert items == [{"City": "Ghent", "Zip": ""}]
