"""export/spec.py: an export described once and checked before anything is sent (pure, no HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.export.spec import (
    ACTIVITY_FIELDS,
    EXPORT_CHECKS,
    MAX_FIELDS,
    ExportSpec,
    OutputSpec,
)
from airflow_provider_eloqua.export.window import Window

EMAIL = "{{Contact.Field(C_EmailAddress)}}"
DAY = Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
SEND = {"ActivityId": "{{Activity.Id}}", "Email": "{{Activity.Field(EmailAddress)}}", "Date": "{{Activity.CreatedAt}}"}


def contacts(**overrides) -> ExportSpec:
    return ExportSpec(**{"entity": "contacts", "name": "Nightly contacts", "fields": {"Email": EMAIL}, **overrides})


def sends(**overrides) -> ExportSpec:
    return ExportSpec(
        **{"entity": "activities", "name": "Sends", "fields": SEND, "activity_type": "EmailSend", **overrides}
    )


def test_the_body_is_what_eloqua_documents_with_utc_timestamps():
    spec = contacts(window=DAY, max_records=10)
    assert spec.labels == ("Email",)
    assert spec.body() == {
        "name": "Nightly contacts",
        "fields": {"Email": EMAIL},
        "areSystemTimestampsInUTC": True,
        "autoDeleteDuration": "P2D",
        "dataRetentionDuration": "P2D",
        "maxRecords": 10,
        "filter": "'{{Contact.Field(C_DateModified)}}' >= '2026-12-01 00:00:00' AND "
        "'{{Contact.Field(C_DateModified)}}' < '2026-12-02 00:00:00'",
    }
    assert "filter" not in contacts().body()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_an_activity_export_filters_one_type_and_its_window():
    spec = sends(window=DAY, filter="'{{Activity.Asset.Id}}' = '12'")
    assert spec.body()["filter"] == (
        "'{{Activity.Type}}' = 'EmailSend' AND '{{Activity.Asset.Id}}' = '12' AND "
        "'{{Activity.CreatedAt}}' >= '2026-12-01 00:00:00' AND '{{Activity.CreatedAt}}' < '2026-12-02 00:00:00'"
    )
    assert (
        spec.with_window(Window()).body()["filter"]
        == "'{{Activity.Type}}' = 'EmailSend' AND '{{Activity.Asset.Id}}' = '12'"
    )


def test_a_users_or_filter_keeps_its_meaning_inside_the_window():
    spec = contacts(filter=f"'{EMAIL}' ~ '%@a.com' OR '{EMAIL}' ~ '%@b.com'", window=DAY)
    assert spec.body()["filter"].startswith(f"('{EMAIL}' ~ '%@a.com' OR '{EMAIL}' ~ '%@b.com') AND ")


def test_parented_entities_use_their_own_statements_and_paths():
    spec = ExportSpec(
        entity="customObjects", parent_id="12", name="n", fields={"Id": "{{CustomObject[12].Id}}"}, window=DAY
    )
    assert "{{CustomObject[12].UpdatedAt}}" in spec.body()["filter"]
    events = ExportSpec(entity="events", parent_id=7, name="n", fields={"Id": "{{Event[7].Id}}"}, window=DAY)
    assert "{{Event[7].UpdatedAt}}" in events.body()["filter"]
    with pytest.raises(EloquaInputError, match="must be a statement of customObjects"):
        ExportSpec(entity="customObjects", parent_id=12, name="n", fields={"Id": "{{CustomObject[13].Id}}"})


@pytest.mark.parametrize("member_of", ["ContactList[12]", "{{ContactList[12]}}", " ContactList[12] "])
def test_member_of_becomes_the_one_exists(member_of):
    assert contacts(member_of=member_of).body()["filter"] == "EXISTS('{{ContactList[12]}}')"


def test_a_segment_takes_the_window_as_its_two_date_criteria():
    spec = contacts(member_of="ContactSegment[3]", window=DAY)
    assert spec.body()["filter"].startswith(
        "EXISTS('{{ContactSegment[3]}}') AND '{{Contact.Field(C_DateModified)}}' >="
    )
    # seg AND (d1 OR d2) is one of Oracle's shapes too
    contacts(
        member_of="ContactSegment[3]",
        filter="'{{Contact.CreatedAt}}' > '2026-01-01' OR '{{Contact.UpdatedAt}}' > '2026-01-01'",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"filter": f"'{EMAIL}' = 'a@b.com'"}, "may add only one or two date criteria"),
        ({"filter": "'{{Contact.CreatedAt}}' > '2026-01-01'", "window": DAY}, "may add only one or two date criteria"),
        ({"filter": "NOT '{{Contact.CreatedAt}}' > '2026-01-01'"}, "may add only one or two date criteria"),
    ],
)
def test_segment_rules_are_checked_before_eloqua_answers_400_or_elq_00122(overrides, message):
    with pytest.raises(EloquaInputError, match=message):
        contacts(member_of="ContactSegment[3]", **overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"entity": "opportunities"}, "^entity must be one of contacts, accounts, activities, customObjects, events"),
        ({"entity": "customObjects", "fields": {"Id": "{{CustomObject[1].Id}}"}}, "parent_id"),
        (
            {"entity": "customObjects/12"},
            r"^entity 'customObjects/12' is given as entity='customObjects', parent_id=12",
        ),
        ({"entity": "events/7"}, r"^entity 'events/7' is given as entity='events', parent_id=7"),
        ({"name": "x" * 101}, "^name is 101 characters"),
        ({"name": " "}, "^name must be a non-empty string"),
        ({"fields": {}}, "^fields must be a non-empty mapping"),
        ({"fields": {f"c{n}": f"{{{{Contact.Field(C_{n})}}}}" for n in range(MAX_FIELDS + 1)}}, "at most 250"),
        ({"fields": {"Email": "C_EmailAddress"}}, r"fields\['Email'\] must be an Eloqua markup statement"),
        ({"fields": {"Email": "{{Account.Field(M_City)}}"}}, r"fields\['Email'\] must be a statement of contacts"),
        ({"fields": {"A": EMAIL, "B": EMAIL}}, r"fields\['B'\] repeats the statement of fields\['A'\]"),
        ({"fields": {"": EMAIL}}, "empty or non-string column label"),
        ({"activity_type": "EmailSend"}, "^activity_type is only for entity 'activities'"),
        ({"member_of": "AccountList[4]"}, "restricts accounts exports, not contacts"),
        ({"member_of": "Segment 3"}, "^member_of must name"),
        ({"member_of": "ContactList[1]", "filter": "EXISTS('{{ContactFilter[2]}}')"}, "more than one EXISTS"),
        ({"filter": "EXISTS('{{AccountList[2]}}')"}, "works only in accounts exports"),
        ({"filter": "'{{Account.Field(M_City)}}' = 'x'"}, "is not a statement of contacts"),
        ({"filter": "'{{Contact.Field(C_DateModified)}}' > 'x'", "window": DAY}, "the window already filters on it"),
        (
            {"filter": "STATUS('{{A[1]}}') = 'x' AND STATUS('{{A[2]}}') = 'y'"},
            "more than one STATUS",
        ),
        ({"filter": " OR ".join([f"'{EMAIL}' = 'someone{n}@example.com'" for n in range(30)])}, "at most 1000"),
        ({"max_records": 0}, "^max_records must be a positive integer"),
        ({"max_records": True}, "^max_records must be a positive integer"),
        ({"data_retention_duration": "P15D"}, "^data_retention_duration must be"),
        ({"auto_delete_duration": "PT30M"}, "^auto_delete_duration must be"),
        ({"definition_extra": {"areSystemTimestampsInUTC": False}}, "always true"),
        ({"definition_extra": {"externalSystemId": "7"}}, r"definition_extra\['externalSystemId'\] must be an integer"),
        ({"definition_extra": {"syncActions": [{"action": "nope"}]}}, r"sync_actions\[0\].action"),
        ({"definition_extra": ["x"]}, "^definition_extra must be a mapping"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(overrides, message):
    with pytest.raises(EloquaInputError, match=message):
        contacts(**overrides)


def test_unknown_extra_properties_pass_through():
    assert (
        contacts(definition_extra={"crmAccountIdField": "{{Contact.Field(C_CRM)}}", "newThing": 1}).body()["newThing"]
        == 1
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"activity_type": None}, "^activity_type must be one of Email"),
        ({"activity_type": "emailsend"}, "^activity_type must be one of"),
        (
            {"fields": {"Url": "{{Activity.Field(Url)}}"}},
            r"fields\['Url'\]: \{\{Activity.Field\(Url\)\}\} is not a field of EmailSend",
        ),
        ({"fields": {"Email": EMAIL}}, "must be a statement of activities"),
        (
            {"fields": {f"C{n}": f"{{{{Activity.Contact.Field(C_{n})}}}}" for n in range(11)}},
            "11 contact fields; Eloqua allows at most 10",
        ),
        ({"filter": "'{{Activity.Type}}' = 'EmailOpen'"}, "give activity_type"),
        ({"filter": "'{{Activity.Contact.Field(C_Country)}}' = 'BE'"}, "is a contact field"),
        ({"filter": "EXISTS('{{ContactList[1]}}')"}, "works only in contacts exports"),
    ],
)
def test_activity_exports_follow_oracles_activity_rules(overrides, message):
    with pytest.raises(EloquaInputError, match=message):
        sends(**overrides)


def test_every_documented_field_of_a_type_is_accepted_with_campaign_and_contact_fields():
    for activity_type, statements in ACTIVITY_FIELDS.items():
        fields = {f"f{n}": statement for n, statement in enumerate(sorted(statements))}
        fields["Campaign"] = "{{Activity.Campaign.Field(CampaignName)}}"
        fields["Country"] = "{{Activity.Contact.Field(C_Country)}}"
        assert sends(activity_type=activity_type, fields=fields).labels[-1] == "Country"
    assert "{{Activity.Field(EmailClickedThruLink)}}" in ACTIVITY_FIELDS["EmailClickthrough"]
    assert "{{Activity.Field(SmtpErrorCode)}}" in ACTIVITY_FIELDS["Bounceback"]
    assert "{{Activity.Field(WebVisitSavedId)}}" in ACTIVITY_FIELDS["WebVisit"]


def test_sms_types_may_filter_on_contact_fields():
    spec = sends(
        activity_type="SmsSend",
        fields={"Id": "{{Activity.Id}}"},
        filter="'{{Activity.Contact.Field(C_Country)}}' = 'BE'",
    )
    assert "C_Country" in spec.body()["filter"]


def test_checks_run_in_a_stable_order():
    assert [check.__name__ for check in EXPORT_CHECKS][:3] == [
        "check_entity",
        "check_export_name",
        "check_activity_type",
    ]


def test_output_format_comes_from_the_extension_or_format():
    assert OutputSpec("out/contacts.csv").format == "csv"
    assert OutputSpec("s3://bucket/a.jsonl").format == "ndjson"
    assert OutputSpec("a.json").format == "json"
    assert OutputSpec("s3://bucket/a.data", format="csv").format == "csv"
    assert OutputSpec("a.csv").page_size == 50_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "a.parquet"}, "^path must end in .csv"),
        ({"path": ""}, "^path is required"),
        ({"path": "a.csv", "format": "xml"}, "^format must be one of csv, ndjson, json"),
        ({"path": "a.csv", "page_size": 0}, "^page_size must be an integer from 1 to 50,000"),
        ({"path": "a.csv", "page_size": 50_001}, "^page_size must be"),
        ({"path": "a.csv", "page_size": "100"}, "^page_size must be"),
    ],
)
def test_bad_output_settings_name_the_argument(kwargs, message):
    with pytest.raises(EloquaInputError, match=message):
        OutputSpec(**kwargs)


def test_a_template_is_described_with_its_activity_type_split_out_and_the_tasks_window():
    from airflow_provider_eloqua import urls

    body = {
        "uri": "/activities/exports/8",
        "name": "Sends template",
        "fields": SEND,
        "filter": "'{{Activity.Type}}' = 'EmailSend' AND '{{Activity.Asset.Id}}' != '0'",
        "areSystemTimestampsInUTC": False,
        "maxRecords": 10,
        "createdAt": "2026-01-01T00:00:00Z",
        "externalSystemId": 3,
    }
    task = {"member_of": None, "window": DAY, "auto_delete_duration": "P2D", "data_retention_duration": "P2D"}
    own = {"name": None, "activity_type": None, "max_records": None, "definition_extra": None}
    spec = ExportSpec.from_template(urls.parse_definition_uri("/activities/exports/8"), body, **own, **task)
    assert (spec.entity, spec.name, spec.activity_type, spec.max_records) == (
        "activities",
        "Sends template",
        "EmailSend",
        10,
    )
    assert spec.filter == "'{{Activity.Asset.Id}}' != '0'" and spec.definition_extra == {"externalSystemId": 3}
    assert spec.body()["areSystemTimestampsInUTC"] is True  # the window's bounds are UTC
    assert spec.filter_text() == (
        "'{{Activity.Type}}' = 'EmailSend' AND '{{Activity.Asset.Id}}' != '0' AND "
        "'{{Activity.CreatedAt}}' >= '2026-12-01 00:00:00' AND '{{Activity.CreatedAt}}' < '2026-12-02 00:00:00'"
    )
    mine = ExportSpec.from_template(
        urls.parse_definition_uri("/activities/exports/8"),
        body,
        **{
            **own,
            "name": "Mine",
            "activity_type": "EmailOpen",
            "max_records": 5,
            "definition_extra": {"externalSystemId": 4},
        },
        **task,
    )
    assert (mine.name, mine.activity_type, mine.max_records, mine.definition_extra) == (
        "Mine",
        "EmailOpen",
        5,
        {"externalSystemId": 4},
    )


def test_a_spec_and_its_rewindowed_copies_parse_the_filter_once(monkeypatch):
    from airflow_provider_eloqua.export import filters

    parsed: list[str] = []
    parse = filters._Parser.parse
    monkeypatch.setattr(filters._Parser, "parse", lambda parser: parsed.append(parser.text) or parse(parser))
    country = "'{{Contact.Field(C_Country)}}' = 'BE'"
    spec = contacts(filter=country, member_of="ContactList[12]")
    halves = [spec.with_window(half).with_name("part") for half in DAY.halves()]
    assert [half.body()["filter"].count("C_DateModified") for half in halves] == [2, 2]
    assert parsed == [country]
    other = dataclasses.replace(halves[0], filter="'{{Contact.Field(C_Country)}}' = 'NL'")  # another text: parsed
    assert other.own_filter == filters.Comparison("{{Contact.Field(C_Country)}}", "=", "NL")
    assert parsed == [country, other.filter]
