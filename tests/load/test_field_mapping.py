"""load/field_mapping.py: input columns mapped to the site's fields (pure), and a load whose definition is
made from that mapping against the emulator's field lists, with a dict standing in for the task state store."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.field_mapping import (
    FieldMapping,
    MappedDefinition,
    fetch_field_mapping,
    input_columns,
    map_columns,
)
from airflow_provider_eloqua.load.load_definition import from_mapping
from airflow_provider_eloqua.load.spec import DefinitionSpec, InputSpec, UploadSpec
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store


def _field(name, internal, statement, *, read_only=False, unique=False):
    return {
        "name": name,
        "internalName": internal,
        "statement": statement,
        "hasReadOnlyConstraint": read_only,
        "hasUniquenessConstraint": unique,
    }


SITE = [
    _field("Email Address", "C_EmailAddress", "{{Contact.Field(C_EmailAddress)}}", unique=True),
    _field("First Name", "C_FirstName", "{{Contact.Field(C_FirstName)}}"),
    _field("Last Name", "C_LastName", "{{Contact.Field(C_LastName)}}"),
    _field("Contact ID (External)", "ContactIDExt", "{{Contact.Field(ContactIDExt)}}", unique=True),
    _field("Eloqua Contact ID", "Id", "{{Contact.Id}}", read_only=True, unique=True),
    # A display name that is another field's internal name, as a site's own fields can have.
    _field("C_Region", "C_Territory", "{{Contact.Field(C_Territory)}}"),
    _field("Region", "C_Region", "{{Contact.Field(C_Region)}}"),
]


def test_columns_map_by_internal_or_display_name_case_and_spaces_ignored():
    mapping = map_columns(["  email address ", "C_FIRSTNAME", "Last Name"], SITE, "contacts")
    assert mapping == FieldMapping(
        {
            "  email address ": "{{Contact.Field(C_EmailAddress)}}",
            "C_FIRSTNAME": "{{Contact.Field(C_FirstName)}}",
            "Last Name": "{{Contact.Field(C_LastName)}}",
        },
        "  email address ",
    )


def test_an_unknown_column_is_named_with_the_closest_field_names():
    with pytest.raises(EloquaInputError) as info:
        map_columns(["Email Address", "frist name"], SITE, "contacts")
    message = str(info.value)
    assert "column 'frist name' matches no contacts field" in message
    assert "C_FirstName ('First Name')" in message


def test_a_column_matching_two_fields_names_both():
    with pytest.raises(EloquaInputError, match=r"column 'c_region' matches 2 contacts fields: .*C_Territory.*C_Region"):
        map_columns(["Email Address", "c_region"], SITE, "contacts")


def test_a_read_only_field_is_refused():
    with pytest.raises(EloquaInputError, match=r"column 'Eloqua Contact ID' maps to Id .* read-only"):
        map_columns(["Email Address", "Eloqua Contact ID"], SITE, "contacts")


def test_two_columns_for_one_field_are_refused():
    with pytest.raises(EloquaInputError, match=r"columns 'Email Address' and 'C_EmailAddress' both map to"):
        map_columns(["Email Address", "C_EmailAddress"], SITE, "contacts")


def test_the_identifier_is_the_entity_unique_field_unless_given():
    columns = ["ContactIDExt", "Email Address"]
    assert map_columns(columns, SITE, "contacts").identifier == "Email Address"  # contacts: the e-mail address
    assert map_columns(columns, SITE, "contacts", identifier="ContactIDExt").identifier == "ContactIDExt"
    assert map_columns(["ContactIDExt", "First Name"], SITE, "contacts").identifier == "ContactIDExt"
    with pytest.raises(EloquaInputError, match="no column maps to a unique contacts field"):
        map_columns(["First Name"], SITE, "contacts")
    with pytest.raises(EloquaInputError, match="give identifier_field_name"):
        map_columns(["ContactIDExt", "Email Address"], SITE, "accounts")  # no preferred one: two candidates
    with pytest.raises(EloquaInputError, match="identifier_field_name 'Email' is not one of the input's columns"):
        map_columns(columns, SITE, "contacts", identifier="Email")


def test_input_columns_of_every_input_kind(tmp_path):
    assert input_columns(InputSpec(data=[{"a": 1}, {"b": 2, "a": 3}])) == ["a", "b"]
    csv_file = tmp_path / "in.csv"
    csv_file.write_bytes("\ufeffEmail Address,First Name\nx@y.io,X\n".encode())
    assert input_columns(InputSpec(path=str(csv_file))) == ["Email Address", "First Name"]
    ndjson = tmp_path / "in.ndjson"
    ndjson.write_text(json.dumps({"C_EmailAddress": "x@y.io", "Last Name": "Y"}) + "\n")
    assert input_columns(InputSpec(path=str(ndjson))) == ["C_EmailAddress", "Last Name"]


# ------------------------------------------------------------------ against the emulator's field lists


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_MAPPING_TEST", connection_json(emulator))
    return EloquaHook("eloqua_mapping_test")


def test_the_site_field_list_is_read_for_custom_objects(hook):
    mapping = fetch_field_mapping(hook, "customObjects", 9, ["ExternalId", "email address", "Name"])
    assert mapping.fields == {
        "ExternalId": "{{CustomObject[9].ExternalId}}",
        "email address": "{{CustomObject[9].Field[1]}}",
        "Name": "{{CustomObject[9].Field[2]}}",
    }
    assert mapping.identifier == "ExternalId"  # the one unique writable field among the columns


def contacts_spec(mapping: FieldMapping) -> DefinitionSpec:
    return DefinitionSpec("imports", "contacts", "mapped", mapping.fields, mapping.identifier)


def mapped_load(
    hook: EloquaHook, checkpoint: Checkpoint, source: InputSpec, mapped: MappedDefinition | None = None, **kwargs
) -> Load:
    """A load of ``source`` into a contacts definition made from its columns mapped to the site's fields."""
    mapped = mapped or MappedDefinition("contacts", None, None, contacts_spec, "mapped test")
    return Load(
        hook,
        checkpoint,
        blueprint=lambda: from_mapping(lambda: mapped.spec_for(hook, source), mapped.origin, "0123456789ab"),
        source=source,
        **{"upload": UploadSpec(), "poll_interval": 0.05, **kwargs},
    )


def test_a_load_without_fields_creates_its_definition_from_the_mapping(hook, emulator):
    rows = [{"Email Address": f"p{i}@example.com", "first name": f"F{i}"} for i in range(3)]
    result = mapped_load(hook, Checkpoint(Store()), InputSpec(data=rows)).run()
    definition = hook.get_definition(result.totals.definition_uri)
    assert definition["fields"] == {
        "Email Address": "{{Contact.Field(C_EmailAddress)}}",
        "first name": "{{Contact.Field(C_FirstName)}}",
    }
    assert definition["identifierFieldName"] == "Email Address"
    for _ in range(100):
        if hook.get_sync(result.sync_uri)["status"] == "success":
            break
        time.sleep(0.05)
    records = emulator.control.records("/contacts")
    assert sorted(r["{{Contact.Field(C_FirstName)}}"] for r in records) == ["F0", "F1", "F2"]


def test_an_unknown_column_fails_before_any_definition_is_created(hook, emulator):
    source = InputSpec(data=[{"Email Address": "p@example.com", "Shoe Size": 44}])
    with pytest.raises(EloquaInputError, match="column 'Shoe Size' matches no contacts field"):
        mapped_load(hook, Checkpoint(Store()), source).run()
    assert emulator.control.state()["definitions"] == []
