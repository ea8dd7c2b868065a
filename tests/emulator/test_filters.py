"""The export filter language: what the emulator selects, and what it refuses at creation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import EMAIL, FIRST_NAME, Bulk

MODIFIED = "{{Contact.Field(C_DateModified)}}"
COUNTRY = "{{Contact.Field(C_Country)}}"


def exported(
    bulk: Bulk, collection: str = "/contacts/exports", fields: dict[str, str] | None = None, **body: Any
) -> list:
    """Create an export with ``body`` (a filter...), sync it and return the exported items."""
    definition = {"name": "filtered", "fields": fields or {"Email": EMAIL}} | body
    response = bulk.post(collection, json=definition)
    assert response.status_code == 201, response.text
    sync = bulk.wait(bulk.start_sync(response.json()["uri"]))
    assert sync["status"] == "success", sync
    return bulk.get(sync["uri"] + "/data", params={"limit": 50_000}).json()["items"]


def emails(bulk: Bulk, text: str, **body: Any) -> list[str]:
    return [item["Email"] for item in exported(bulk, filter=text, **body)]


def refused(bulk: Bulk, text: str, collection: str = "/contacts/exports", fields: dict[str, str] | None = None) -> str:
    body = {"name": "bad", "fields": fields or {"Email": EMAIL}, "filter": text}
    response = bulk.post(collection, json=body)
    assert response.status_code == 400, response.text
    [problem] = response.json()["failures"]
    assert problem["field"] == "filter"
    return problem["constraint"]


@pytest.fixture
def people(emulator):
    emulator.control.seed(
        "/contacts",
        [
            {EMAIL: "ann@example.com", FIRST_NAME: "Ann", COUNTRY: "Belgium"},
            {EMAIL: "bob@example.com", FIRST_NAME: "Bob", COUNTRY: "France"},
            {EMAIL: "cy@example.org", FIRST_NAME: "Cy", COUNTRY: "belgium"},
            {EMAIL: "dee@example.org", FIRST_NAME: "Dee", COUNTRY: ""},
        ],
    )
    return emulator


def test_comparisons_match_without_letter_case(bulk, people):
    assert emails(bulk, "'{{Contact.Field(C_Country)}}' = 'BELGIUM'") == ["ann@example.com", "cy@example.org"]
    assert emails(bulk, "'{{Contact.Field(C_Country)}}' != 'Belgium'") == ["bob@example.com", "dee@example.org"]
    assert emails(bulk, "'{{Contact.Field(C_FirstName)}}' >= 'bob'") == [
        "bob@example.com",
        "cy@example.org",
        "dee@example.org",
    ]
    assert emails(bulk, "'{{Contact.Field(C_FirstName)}}' < 'Bob'") == ["ann@example.com"]


def test_like_uses_sql_server_wildcards(bulk, people):
    assert emails(bulk, "'{{Contact.Field(C_EmailAddress)}}' ~ '%@example.org'") == [
        "cy@example.org",
        "dee@example.org",
    ]
    assert emails(bulk, "'{{Contact.Field(C_FirstName)}}' ~ '_o_'") == ["bob@example.com"]
    assert emails(bulk, "'{{Contact.Field(C_FirstName)}}' ~ '[AC]%'") == ["ann@example.com", "cy@example.org"]
    assert emails(bulk, "'{{Contact.Field(C_FirstName)}}' ~ '[^AC]%'") == ["bob@example.com", "dee@example.org"]


def test_and_or_not_and_parentheses(bulk, people):
    both = "'{{Contact.Field(C_Country)}}' = 'Belgium' AND '{{Contact.Field(C_FirstName)}}' = 'Cy'"
    assert emails(bulk, both) == ["cy@example.org"]
    either = "'{{Contact.Field(C_FirstName)}}' = 'Ann' or '{{Contact.Field(C_FirstName)}}' = 'Dee'"
    assert emails(bulk, either) == ["ann@example.com", "dee@example.org"]
    grouped = (
        "NOT ('{{Contact.Field(C_Country)}}' = 'Belgium' OR '{{Contact.Field(C_Country)}}' = 'France') "
        "AND '{{Contact.Id}}' > '1'"
    )
    assert emails(bulk, grouped) == ["dee@example.org"]


def test_a_quote_in_a_value_is_doubled(bulk, emulator):
    emulator.control.seed("/contacts", [{EMAIL: "o@example.com", "{{Contact.Field(C_LastName)}}": "O'Neil"}])
    assert emails(bulk, "'{{Contact.Field(C_LastName)}}' = 'O''Neil'") == ["o@example.com"]


def test_a_half_open_utc_window_puts_a_record_at_until_in_the_next_window(bulk, emulator):
    for name, stamp in (
        ("early", "2026-03-01T23:59:59.999Z"),
        ("since", "2026-03-02T00:00:00Z"),
        ("until", "2026-03-03T00:00:00Z"),
    ):
        emulator.control.seed("/contacts", [{EMAIL: f"{name}@example.com"}], createdAt=stamp)

    def window(since: str, until: str) -> list[str]:
        text = f"'{MODIFIED}' >= '{since}' AND '{MODIFIED}' < '{until}'"
        return emails(bulk, text, areSystemTimestampsInUTC=True)

    assert window("2026-03-02 00:00:00", "2026-03-03 00:00:00") == ["since@example.com"]
    assert window("2026-03-03 00:00:00", "2026-03-04 00:00:00") == ["until@example.com"]


def test_filter_values_are_read_in_the_sites_zone_unless_utc_is_asked(bulk, emulator):
    emulator.control.seed("/contacts", [{EMAIL: "noon@example.com"}], createdAt="2026-07-01T12:00:00Z")  # 08:00 EDT
    eastern = "'{{Contact.UpdatedAt}}' >= '2026-07-01 08:00:00' AND '{{Contact.UpdatedAt}}' < '2026-07-01 08:00:01'"
    assert emails(bulk, eastern) == ["noon@example.com"]
    assert emails(bulk, eastern, areSystemTimestampsInUTC=True) == []
    utc = "'{{Contact.UpdatedAt}}' = '2026-07-01 12:00:00'"
    assert emails(bulk, utc, areSystemTimestampsInUTC=True) == ["noon@example.com"]


def test_exists_selects_list_members_from_sync_actions_and_the_control_api(bulk, emulator, people):
    imports = bulk.create(syncActions=[{"action": "add", "destination": "{{ContactList[12]}}"}])
    bulk.sync(imports["uri"], [{"Email": "bob@example.com"}])
    assert emails(bulk, "EXISTS('{{ContactList[12]}}')") == ["bob@example.com"]
    emulator.control.define_container("ContactFilter", 3, ["CY@example.org", 1])
    assert emails(bulk, "EXISTS('{{ContactFilter[3]}}')") == ["ann@example.com", "cy@example.org"]
    assert emails(bulk, "NOT EXISTS('{{ContactFilter[3]}}')") == ["bob@example.com", "dee@example.org"]


def test_a_segment_export_may_add_one_or_two_date_criteria(bulk, emulator, people):
    emulator.control.define_container("ContactSegment", 5, ["ann@example.com", "bob@example.com"], name="Buyers")
    segment = "EXISTS('{{ContactSegment[5]}}')"
    day = "'{{Contact.CreatedAt}}' >= '2000-01-01 00:00:00'"
    modified = f"'{MODIFIED}' < '2100-01-01 00:00:00'"
    assert emails(bulk, segment) == ["ann@example.com", "bob@example.com"]
    assert emails(bulk, f"{segment} AND {day}") == ["ann@example.com", "bob@example.com"]
    assert emails(bulk, f"{segment} AND {day} AND {modified}") == ["ann@example.com", "bob@example.com"]
    assert emails(bulk, f"{segment} AND ({day} OR {modified})") == ["ann@example.com", "bob@example.com"]
    for bad in (
        f"{segment} AND '{COUNTRY}' = 'Belgium'",
        f"{segment} OR {day}",
        f"{segment} AND {day} AND {modified} AND {day}",
        f"NOT {segment}",
    ):
        assert "segment" in refused(bulk, bad), bad


def test_account_lists_filter_account_exports(bulk, emulator):
    name = "{{Account.Field(M_CompanyName)}}"
    emulator.control.seed("/accounts", [{name: "Acme"}, {name: "Beta"}])
    emulator.control.define_container("AccountList", 9, [2])
    items = exported(bulk, "/accounts/exports", {"Name": name}, filter="EXISTS('{{AccountList[9]}}')")
    assert items == [{"Name": "Beta"}]


def test_containers_can_be_read_as_oracle_shows_them(bulk, emulator, people):
    emulator.control.define_container("ContactSegment", 5, ["ann@example.com"], name="Buyers")
    segment = bulk.get("/contacts/segments/5").json()
    assert {k: segment[k] for k in ("name", "count", "statement", "uri")} == {
        "name": "Buyers",
        "count": 1,
        "statement": "{{ContactSegment[5]}}",
        "uri": "/contacts/segments/5",
    }
    assert [item["uri"] for item in bulk.items("/contacts/segments")] == ["/contacts/segments/5"]
    assert bulk.get("/contacts/lists/77").status_code == 404
    emulator.control.define_container("AccountList", 2, [])
    assert bulk.get("/accounts/lists/2").json()["statement"] == "{{AccountList[2]}}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("'{{Contact.Field(C_Country)}}' = 'Belgium' AND", "end of the filter"),
        ("('{{Contact.Field(C_Country)}}' = 'Belgium'", "')'"),
        ("{{Contact.Field(C_Country)}} = 'Belgium'", "unexpected"),
        ("'{{Contact.Field(C_Country)}}' == 'Belgium'", "quoted value"),
        ("'{{Contact.Field(C_Country)}}' LIKE 'B%'", "operator"),
        ("'C_Country' = 'Belgium'", "markup statement"),
        ("'{{Contact.Field(C_Nope)}}' = 'x'", "not a field of contacts"),
        ("'{{Account.Field(M_City)}}' = 'x'", "not a field of contacts"),
        (f"'{MODIFIED}' >= 'yesterday'", "not a date"),
        ("EXISTS('{{ContactList[1]}}') AND EXISTS('{{ContactList[2]}}')", "one EXISTS"),
        ("EXISTS('{{AccountList[1]}}')", "accounts exports only"),
        ("EXISTS('{{ContactList[404]}}')", "does not exist"),
        ("EXISTS('{{Campaign[1]}}')", "EXISTS takes"),
        ("STATUS('{{CloudConnector[1]}}') = 'complete'", "STATUS"),
        ("", "empty"),
    ],
)
def test_filters_eloqua_would_refuse_are_a_400_at_creation(bulk, emulator, text, says):
    emulator.control.define_container("ContactList", 1, [])
    emulator.control.define_container("ContactList", 2, [])
    assert says in refused(bulk, text)


def test_activity_filters_select_a_type_and_refuse_contact_fields(bulk, emulator):
    emulator.control.seed("/activities", count=2, activityType="EmailSend")
    emulator.control.seed("/activities", count=3, activityType="EmailOpen")
    fields = {"Id": "{{Activity.Id}}", "Type": "{{Activity.Type}}"}
    items = exported(bulk, "/activities/exports", fields, filter="'{{Activity.Type}}' = 'EmailOpen'")
    assert [item["Type"] for item in items] == ["EmailOpen"] * 3
    contact = "'{{Activity.Contact.Field(C_Country)}}' = 'Belgium'"
    assert "contact fields" in refused(
        bulk, f"'{{{{Activity.Type}}}}' = 'EmailOpen' AND {contact}", "/activities/exports", fields
    )
    sms = exported(bulk, "/activities/exports", fields, filter=f"'{{{{Activity.Type}}}}' = 'SmsSend' AND {contact}")
    assert sms == []


def test_activity_window_on_created_at(bulk, emulator):
    emulator.control.seed(
        "/activities", count=4, activityType="EmailOpen", createdAt="2026-01-01T00:00:00Z", stepSeconds=3600
    )
    text = (
        "'{{Activity.Type}}' = 'EmailOpen' AND '{{Activity.CreatedAt}}' >= '2026-01-01 01:00:00' "
        "AND '{{Activity.CreatedAt}}' < '2026-01-01 03:00:00'"
    )
    fields = {"Id": "{{Activity.Id}}", "At": "{{Activity.CreatedAt}}"}
    items = exported(bulk, "/activities/exports", fields, filter=text, areSystemTimestampsInUTC=True)
    assert items == [{"Id": "2", "At": "2026-01-01 01:00:00.000"}, {"Id": "3", "At": "2026-01-01 02:00:00.000"}]
