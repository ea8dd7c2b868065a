"""The import operators' ``fields`` left out: columns mapped to the site's fields (no DAG run needed
to show what the definition is made of)."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.operators.eloqua import EloquaCreateImportOperator, EloquaImportOperator
from tests.dag_runner import connection_json


@pytest.fixture
def conn(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    return emulator


def test_create_import_maps_columns_to_the_site_fields(conn):
    operator = EloquaCreateImportOperator(
        task_id="create", entity="accounts", name="accounts", columns=["Company Name", "m_country", "CompanyIDExt"]
    )
    spec = operator.definition_spec()
    assert spec.fields == {
        "Company Name": "{{Account.Field(M_CompanyName)}}",
        "m_country": "{{Account.Field(M_Country)}}",
        "CompanyIDExt": "{{Account.Field(CompanyIDExt)}}",
    }
    assert spec.identifier_field_name == "CompanyIDExt"  # the accounts' one unique field among them


def test_create_import_takes_fields_or_columns_not_both():
    with pytest.raises(EloquaInputError, match="exactly one of fields"):
        EloquaCreateImportOperator(task_id="c", entity="contacts", name="n")
    with pytest.raises(EloquaInputError, match="exactly one of fields"):
        EloquaCreateImportOperator(
            task_id="c", entity="contacts", name="n", fields={"E": "{{Contact.Id}}"}, columns=["E"]
        )


def test_import_without_fields_needs_only_a_name():
    EloquaImportOperator(task_id="ok", entity="contacts", name="n", data=[])
    with pytest.raises(EloquaInputError, match="identifier_field_name is needed with fields"):
        EloquaImportOperator(task_id="i", entity="contacts", name="n", fields={"E": "{{Contact.Id}}"}, data=[])
    with pytest.raises(EloquaInputError, match="give definition_uri, or name"):
        EloquaImportOperator(task_id="n", entity="contacts", data=[])
