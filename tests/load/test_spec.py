"""load/spec.py: the typed descriptions of a load, each validated once when built (pure, no HTTP).

The definition checks themselves are covered rule by rule in tests/test_definitions.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_eloqua.chunking import CUT_RULES_VERSION
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.spec import (
    IMPORT_CHECKS,
    SYNC_ACTION_CHECKS,
    DefinitionSpec,
    InputSpec,
    UploadSpec,
)

EMAIL = "{{Contact.Field(C_EmailAddress)}}"


def test_specs_are_frozen():
    spec = DefinitionSpec(
        kind="imports", entity="contacts", name="n", fields={"Email": EMAIL}, identifier_field_name="Email"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        UploadSpec().chunk_bytes = 1  # type: ignore[misc]


def test_a_sync_action_spec_has_its_actions_and_no_update_rule():
    spec = DefinitionSpec(
        kind="syncActions",
        entity="customObjects",
        parent_id="9",
        name="n",
        fields={"Id": "{{CustomObject[9].ExternalId}}"},
        identifier_field_name="Id",
        sync_actions=[{"action": "add", "destination": "{{ContactList[1]}}"}],
    )
    assert spec.body()["syncActions"] == [{"action": "add", "destination": "{{ContactList[1]}}"}]
    assert "updateRule" not in spec.body()


def test_update_rule_is_refused_on_a_sync_action_naming_it():
    with pytest.raises(EloquaInputError, match="update_rule is a property of import definitions"):
        DefinitionSpec(
            kind="syncActions",
            entity="contacts",
            name="n",
            fields={"Email": EMAIL},
            identifier_field_name="Email",
            sync_actions=[{"action": "add", "destination": "{{ContactList[1]}}"}],
            update_rule="always",
        )


def test_unknown_kind_is_refused():
    with pytest.raises(EloquaInputError, match="definition kind"):
        DefinitionSpec(
            kind="exports", entity="contacts", name="n", fields={"Email": EMAIL}, identifier_field_name="Email"
        )


def test_checks_are_named_functions_in_order():
    assert all(callable(check) and check.__name__.startswith("check_") for check in IMPORT_CHECKS + SYNC_ACTION_CHECKS)
    assert IMPORT_CHECKS[0].__name__ == "check_import_entity"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"chunk_bytes": 10}, "chunk_bytes=10 is outside"),
        (
            {"chunk_bytes": 2048, "max_bytes_per_sync": 1024},
            r"max_bytes_per_sync must be an integer from chunk_bytes \(2048\)",
        ),
        ({"max_bytes_per_sync": True}, "max_bytes_per_sync"),
        ({"max_bytes_per_sync": 250_000_001}, "max_bytes_per_sync"),
    ],
)
def test_upload_spec_refuses_bad_settings_naming_them(args, match):
    with pytest.raises(EloquaInputError, match=match):
        UploadSpec(**args)


def test_upload_spec_cut():
    assert UploadSpec(chunk_bytes=1024, max_bytes_per_sync=4096).cut == [1024, 4096, CUT_RULES_VERSION]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({}, "exactly one of data"),
        ({"data": [], "path": "a.csv"}, "exactly one of data"),
        ({"data": "Email\na@b.c"}, "data must be a list of row dicts; got str"),
        ({"path": "rows.xml"}, "cannot infer the format"),
        ({"path": "rows.csv", "format": "xml"}, "format='xml' is not supported"),
    ],
)
def test_input_spec_refuses_bad_input_naming_it(args, match):
    with pytest.raises(EloquaInputError, match=match):
        InputSpec(**args)


def test_input_spec_decides_a_files_format_once():
    assert InputSpec(path="s3://bucket/rows.jsonl").format == "ndjson"
    assert InputSpec(path="rows.txt", format="CSV").format == "csv"
    assert InputSpec(data=[{"Email": "a@b.c"}], format="csv").format == "csv"  # rows are sent as JSON whatever it says
