"""Unit tests of definitions.py and load/spec.py's DefinitionSpec: every validation error names the argument a DAG
author passed; the best-effort delete against the emulator over loopback HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_eloqua.definitions import (
    RequestedDefinition,
    delete_lost_definition,
    discard_definition,
    parse_duration,
    same_definition,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.spec import DefinitionSpec
from tests.sync.helpers import emulator_hook
from tests.system.dags.matrix import captured

EMAIL = "{{Contact.Field(C_EmailAddress)}}"
FIRST = "{{Contact.Field(C_FirstName)}}"
LIST_ADD = {"action": "add", "destination": "{{ContactList[123]}}"}


def build_import_definition(**args: Any) -> dict[str, Any]:
    return DefinitionSpec(kind="imports", **args).body()


def build_sync_action_definition(**args: Any) -> dict[str, Any]:
    return DefinitionSpec(kind="syncActions", **args).body()


def import_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "entity": "contacts",
        "parent_id": None,
        "name": "Contacts by email",
        "fields": {"Email": EMAIL, "First": FIRST},
        "identifier_field_name": "Email",
    }
    args.update(overrides)
    return args


def sync_action_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "entity": "contacts",
        "parent_id": None,
        "name": "Add to list",
        "fields": {"Email": EMAIL},
        "identifier_field_name": "Email",
        "sync_actions": [LIST_ADD],
    }
    args.update(overrides)
    return args


def test_import_definition_body():
    body = build_import_definition(
        **import_args(
            update_rule="ifNewIsNotNull",
            sync_actions=[
                LIST_ADD,
                {"action": "setStatus", "destination": "{{EmailGroup[5]}}", "status": "subscribed"},
            ],
            data_retention_duration="PT1H",
            auto_delete_duration="P2W",
            definition_extra={"isUpdatingMultipleMatchedRecords": False},
        )
    )
    assert body == {
        "name": "Contacts by email",
        "fields": {"Email": EMAIL, "First": FIRST},
        "identifierFieldName": "Email",
        "isSyncTriggeredOnImport": False,  # always explicit: Oracle's docs disagree on the default
        "updateRule": "ifNewIsNotNull",
        "syncActions": [
            LIST_ADD,
            {"action": "setStatus", "destination": "{{EmailGroup[5]}}", "status": "subscribed"},
        ],
        "dataRetentionDuration": "PT1H",
        "autoDeleteDuration": "P2W",
        "isUpdatingMultipleMatchedRecords": False,
    }


def test_defaults_and_parented_entities():
    body = build_import_definition(**import_args())
    assert body["updateRule"] == "always"
    assert body["isSyncTriggeredOnImport"] is False
    assert "syncActions" not in body and "dataRetentionDuration" not in body
    fields = {"Id": "{{CustomObject[5].ExternalId}}"}
    assert build_import_definition(
        **import_args(entity="customObjects", parent_id=5, fields=fields, identifier_field_name="Id")
    )
    assert build_import_definition(**import_args(is_sync_triggered_on_import=True))["isSyncTriggeredOnImport"] is True


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"fields": {f"c{i}": EMAIL for i in range(101)}}, r"fields has 101 entries; Eloqua allows at most 100"),
        ({"fields": {}}, r"fields must be a non-empty mapping"),
        ({"fields": ["Email"]}, r"fields must be a non-empty mapping"),
        ({"fields": {"Email": "C_EmailAddress"}}, r"fields\['Email'\] must be an Eloqua markup statement"),
        ({"fields": {"Email": "{{Contact.Field(C_EmailAddress)"}}, r"fields\['Email'\] must be an Eloqua markup"),
        ({"fields": {"Email": None}}, r"fields\['Email'\] must be an Eloqua markup"),
        ({"fields": {"": EMAIL}}, r"fields has an empty or non-string column name"),
        ({"identifier_field_name": "Phone"}, r"identifier_field_name 'Phone' must be one of the fields: Email, First"),
        ({"identifier_field_name": None}, r"identifier_field_name None must be one of the fields"),
        ({"update_rule": "sometimes"}, r"update_rule must be one of always, ifNewIsNotNull"),
        ({"name": ""}, r"name must be a non-empty string"),
        ({"name": "x" * 101}, r"name is 101 characters; Eloqua allows at most 100"),
        (
            {"data_retention_duration": "PT30M"},
            r"data_retention_duration must be an ISO-8601 duration from PT1H to P14D",
        ),
        ({"data_retention_duration": "P15D"}, r"data_retention_duration"),
        ({"data_retention_duration": "7 days"}, r"data_retention_duration"),
        ({"auto_delete_duration": "PT59M"}, r"auto_delete_duration must be an ISO-8601 duration of at least PT1H"),
        ({"auto_delete_duration": "P"}, r"auto_delete_duration"),
        ({"sync_actions": [LIST_ADD] * 11}, r"sync_actions has 11 actions; Eloqua allows at most 10"),
        ({"sync_actions": LIST_ADD}, r"sync_actions must be a list"),
        ({"sync_actions": ["add"]}, r"sync_actions\[0\] must be a mapping"),
        ({"sync_actions": [{"action": "move", "destination": "{{ContactList[1]}}"}]}, r"sync_actions\[0\]\.action"),
        ({"sync_actions": [{"action": "add", "destination": "ContactList[1]"}]}, r"sync_actions\[0\]\.destination"),
        (
            {"sync_actions": [LIST_ADD, {"action": "setStatus", "destination": "{{EmailGroup[5]}}"}]},
            r"sync_actions\[1\]\.status must be one of",
        ),
        ({"entity": "leads"}, r"entity must be one of"),
        ({"entity": "customObjects"}, r"parent_id \(a positive integer\) is required for entity 'customObjects'"),
        ({"entity": "events", "parent_id": "x"}, r"parent_id \(a positive integer\) is required for entity 'events'"),
        ({"parent_id": 4}, r"parent_id is only used with customObjects and events"),
        (
            {"definition_extra": {"name": "other"}},
            r"definition_extra repeats arguments the operator already sets: name",
        ),
        ({"definition_extra": ["x"]}, r"definition_extra must be a mapping"),
    ],
)
def test_import_definition_errors_name_the_argument(overrides, match):
    with pytest.raises(EloquaInputError, match=match):
        build_import_definition(**import_args(**overrides))


def test_events_imports_have_no_sync_actions():
    fields = {"Id": "{{Event[3].ExternalId}}"}
    args = import_args(entity="events", parent_id=3, fields=fields, identifier_field_name="Id", sync_actions=[LIST_ADD])
    with pytest.raises(EloquaInputError, match="sync_actions are not available for events"):
        build_import_definition(**args)


def test_exactly_100_fields_and_10_actions_are_allowed():
    fields = {f"c{i}": EMAIL for i in range(100)}
    body = build_import_definition(
        **import_args(fields=fields, identifier_field_name="c0", sync_actions=[LIST_ADD] * 10)
    )
    assert len(body["fields"]) == 100
    assert len(body["syncActions"]) == 10


@pytest.mark.parametrize("statement", ["{{Contact.Id}}", EMAIL, "{{Contact.Field(ContactIDExt)}}"])
def test_sync_action_definition_body(statement):
    body = build_sync_action_definition(**sync_action_args(fields={"Id": statement}, identifier_field_name="Id"))
    assert body == {
        "name": "Add to list",
        "fields": {"Id": statement},
        "identifierFieldName": "Id",
        "syncActions": [LIST_ADD],
        "isSyncTriggeredOnImport": False,
    }


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            {"fields": {"Email": EMAIL, "First": FIRST}},
            r"a sync-action definition has exactly one field; got 2: Email, First",
        ),
        (
            {"fields": {"First": FIRST}, "identifier_field_name": "First"},
            r"the field of a contacts sync action must be one of",
        ),
        ({"sync_actions": []}, r"sync_actions must name at least one action"),
        ({"sync_actions": None}, r"sync_actions must name at least one action"),
        ({"sync_actions": [LIST_ADD] * 11}, r"sync_actions has 11 actions; Eloqua allows at most 10"),
        (
            {"entity": "events", "parent_id": 3},
            r"entity must be one of contacts, accounts, customObjects for sync actions; got 'events'",
        ),
        ({"entity": "customObjects"}, r"parent_id \(a positive integer\) is required"),
        ({"identifier_field_name": "Id"}, r"identifier_field_name 'Id' must be one of the fields: Email"),
        ({"data_retention_duration": "P30D"}, r"data_retention_duration"),
        ({"name": None}, r"name must be a non-empty string"),
    ],
)
def test_sync_action_definition_errors_name_the_argument(overrides, match):
    with pytest.raises(EloquaInputError, match=match):
        build_sync_action_definition(**sync_action_args(**overrides))


def test_account_sync_action_accepts_any_single_statement():
    args = sync_action_args(
        entity="accounts", fields={"Id": "{{Account.Field(CompanyIDExt)}}"}, identifier_field_name="Id"
    )
    assert build_sync_action_definition(**args)["fields"] == {"Id": "{{Account.Field(CompanyIDExt)}}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("P14D", timedelta(days=14)),
        ("P2W", timedelta(weeks=2)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("P", None),
        ("PT", None),
        ("P1Y", None),
        ("1H", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_same_definition():
    wanted = build_import_definition(**import_args())
    existing = {**wanted, "uri": "/contacts/imports/3", "createdAt": "2024-01-01T00:00:00Z"}
    assert same_definition(existing, wanted)
    assert not same_definition({**existing, "fields": {"Email": EMAIL}}, wanted)
    assert not same_definition({**existing, "identifierFieldName": "First"}, wanted)
    assert not same_definition({**existing, "isSyncTriggeredOnImport": True}, wanted)
    assert not same_definition({**existing, "syncActions": [LIST_ADD]}, wanted)
    # a different update rule or retention is not the same definition; defaults Eloqua filled in are
    assert not same_definition({**existing, "updateRule": "ifNewIsNotNull"}, wanted)
    assert not same_definition({**existing, "dataRetentionDuration": "P1D"}, wanted)
    assert same_definition(
        {**existing, "dataRetentionDuration": "P7D", "isUpdatingMultipleMatchedRecords": False}, wanted
    )


# ------------------------------------------------------------------ Oracle's rules per entity (issue 10)

OPPORTUNITY_FIELDS = {
    "Id": "{{Opportunity.Id}}",
    "Name": "{{Opportunity.Field(Name)}}",
    "Stage": "{{Opportunity.Field(Stage)}}",
    "Amount": "{{Opportunity.Field(Amount)}}",
}
LINK = {
    "linkOpportunitiesEntityType": "Contact",
    "linkOpportunitiesMatchFieldName": "Id",
    "linkOpportunitiesSourceField": "Email",
}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            {
                "entity": "opportunities",
                "fields": {**OPPORTUNITY_FIELDS, "Id": "{{Opportunity.Field(Id)}}"},
                "identifier_field_name": "Id",
            },
            r"must map \{\{Opportunity.Id\}\}",
        ),
        (
            {"entity": "opportunities", "fields": OPPORTUNITY_FIELDS, "identifier_field_name": "Name"},
            r"must name the \{\{Opportunity.Id\}\} field; got 'Name'",
        ),
        (
            {
                "entity": "opportunities/contacts",
                "fields": {"Id": "{{Opportunity.Id}}", "Email": "{{Opportunity.Contact.Field(C_EmailAddress)}}"},
                "identifier_field_name": "Email",
                "definition_extra": {"linkOpportunitiesEntityType": "Contact"},
            },
            r"needs definition_extra linkOpportunitiesMatchFieldName, linkOpportunitiesSourceField",
        ),
        (
            {
                "entity": "opportunities/contacts",
                "fields": {"Id": "{{Opportunity.Id}}", "Email": "{{Opportunity.Contact.Field(C_EmailAddress)}}"},
                "identifier_field_name": "Email",
                "definition_extra": {**LINK, "linkOpportunitiesEntityType": "Company"},
            },
            r"definition_extra\['linkOpportunitiesEntityType'\] must be Contact or Account; got 'Company'",
        ),
        (
            {
                "entity": "opportunities",
                "fields": OPPORTUNITY_FIELDS,
                "identifier_field_name": "Id",
                "sync_actions": [LIST_ADD],
            },
            "not available for opportunities imports",
        ),
        ({"entity": "campaignResponses", "sync_actions": [LIST_ADD]}, "not available for campaignResponses imports"),
        ({"definition_extra": {"linkUsers": True}}, r"'linkUsers'\] is a property of accounts imports, not 'contacts'"),
        ({"definition_extra": {"importPriorityUri": "/priorities/1"}}, "must be a URI like /imports/priorities/1"),
        ({"definition_extra": {"externalSystemId": "12"}}, r"'externalSystemId'\] must be an integer"),
        (
            {"update_rule": "useFieldRule", "definition_extra": {"updateRuleByField": {"Phone": "always"}}},
            r"updateRuleByField'\] names columns not in fields: Phone",
        ),
        (
            {"definition_extra": {"updateRuleByField": {"Email": "sometimes"}}},
            "must be a mapping of column name to update rule",
        ),
    ],
    ids=[
        "opportunity-without-id",
        "opportunity-keyed-on-name",
        "link-without-columns",
        "link-entity-type",
        "opportunity-sync-actions",
        "campaign-response-sync-actions",
        "link-users-on-contacts",
        "import-priority-uri",
        "external-system-id",
        "field-rules-for-unknown-columns",
        "field-rule-value",
    ],
)
def test_oracles_rules_per_entity_name_the_argument(overrides, match):
    with pytest.raises(EloquaInputError, match=match):
        build_import_definition(**import_args(**overrides))


def test_documented_kinds_and_properties_are_accepted():
    opportunity = build_import_definition(
        **import_args(entity="opportunities", fields=OPPORTUNITY_FIELDS, identifier_field_name="Id")
    )
    assert opportunity["identifierFieldName"] == "Id"
    unsubscribe = build_import_definition(
        **import_args(
            entity="emailAddresses",
            fields={"Email": "{{EmailAddress.Field(EmailAddress)}}"},
            sync_actions=[LIST_ADD],  # Oracle's emailAddresses import schema has syncActions
            definition_extra={"nullIdentifierFieldName": "false", "importPriorityUri": "/imports/priorities/2"},
        )
    )
    assert unsubscribe["syncActions"] == [LIST_ADD]
    rules = build_import_definition(
        **import_args(update_rule="useFieldRule", definition_extra={"updateRuleByField": {"First": "ifNewIsNotNull"}})
    )
    assert rules["updateRuleByField"] == {"First": "ifNewIsNotNull"}
    assert build_import_definition(**import_args(entity="phoneNumbers"))["fields"]
    unknown = build_import_definition(**import_args(definition_extra={"someFutureProperty": [1]}))
    assert unknown["someFutureProperty"] == [1]  # not in Oracle's reference we know: passed through


@pytest.mark.parametrize(
    ("entity", "parent_id", "statement", "ok"),
    [
        ("accounts", None, "{{Account.Field(M_CompanyName)}}", True),
        ("accounts", None, "{{Account.Field(M_City)}}", False),
        ("customObjects", 5, "{{CustomObject[5].ExternalId}}", True),
        ("customObjects", 5, "{{CustomObject[6].ExternalId}}", False),
        ("customObjects", 5, "{{CustomObject[5].Field[1]}}", False),
    ],
)
def test_sync_action_identifiers_are_checked_for_every_entity(entity, parent_id, statement, ok):
    args = sync_action_args(entity=entity, parent_id=parent_id, fields={"Id": statement}, identifier_field_name="Id")
    if ok:
        assert build_sync_action_definition(**args)["fields"] == {"Id": statement}
    else:
        with pytest.raises(EloquaInputError, match=f"the field of a {entity} sync action must be one of"):
            build_sync_action_definition(**args)


def test_same_definition_compares_values_by_meaning():
    """Eloqua may hold the booleans Oracle's examples spell as strings: that is the same definition."""
    wanted = build_import_definition(**import_args(definition_extra={"isUpdatingMultipleMatchedRecords": False}))
    existing = {
        **wanted,
        "isSyncTriggeredOnImport": "false",
        "isUpdatingMultipleMatchedRecords": "False",
        "fields": {"Email": f" {EMAIL} ", "First": FIRST},
    }
    assert same_definition(existing, wanted)
    assert not same_definition({**existing, "isUpdatingMultipleMatchedRecords": "true"}, wanted)


def test_discarding_a_definition_is_best_effort_and_one_already_gone_is_not_missed(
    emulator, monkeypatch, capfd, caplog
):
    """A definition the provider made for itself (a load's, an export's) is deleted once it is done with;
    a refusal is logged and left to its autoDeleteDuration, and one already gone (404, or 410 as an
    export's may answer) is what was wanted: nothing to say."""
    caplog.set_level("INFO")
    hook = emulator_hook(emulator, monkeypatch)
    uri = hook.create_definition("contacts", {"name": "n", "fields": {"Email": EMAIL}}, None, "exports")["uri"]
    emulator.control.add_fault(method="DELETE", path="^/contacts/exports/", status=400, times=1)
    discard_definition(hook, uri, "export definition")  # refused: left to Eloqua
    assert [d["uri"] for d in emulator.control.state()["definitions"]] == [uri]
    discard_definition(hook, uri, "export definition")
    emulator.control.add_fault(method="DELETE", path="^/contacts/exports/", status=410, times=1)
    discard_definition(hook, uri, "export definition")  # gone (410)
    discard_definition(hook, uri, "export definition")  # gone (404)
    output = captured(capfd, caplog)
    assert emulator.control.state()["definitions"] == []
    assert output.count(f"Could not delete export definition {uri}") == 1 and "deletes it when it expires" in output
    assert output.count(f"Deleted export definition {uri}") == 1


def test_a_lost_definition_is_deleted_by_its_exact_name_and_nothing_else_is(emulator, monkeypatch, capfd, caplog):
    """The definition an earlier try asked for and never heard the answer of is found by the name noted:
    only that exact name (Oracle's name search may match more: another case, a longer name) is deleted;
    a search that fails leaves it to its autoDeleteDuration with a warning, and fails nothing."""
    caplog.set_level("INFO")
    hook = emulator_hook(emulator, monkeypatch)
    name = "n [airflow-export a1b2c3d4e5f6]"

    def create(named: str) -> str:
        return hook.create_definition("contacts", {"name": named, "fields": {"Email": EMAIL}}, None, "exports")["uri"]

    lost, kept = create(name), [create(name.upper()), create(name + " copy"), create("n")]
    requested = RequestedDefinition(name, "contacts", None, "exports", "export 1")
    emulator.control.add_fault(method="GET", path="^/contacts/exports$", status=403, times=1)
    delete_lost_definition(hook, requested, "export definition")  # could not look: left to Eloqua
    assert len(emulator.control.state()["definitions"]) == 4

    delete_lost_definition(hook, requested, "export definition")

    assert sorted(d["uri"] for d in emulator.control.state()["definitions"]) == sorted(kept)
    output = captured(capfd, caplog)
    assert f"Could not look for export definition {name!r}, asked for by an earlier try" in output
    assert f"Found export definition {lost} ({name}), which an earlier try asked for" in output
    assert output.count("Deleted export definition") == 1
