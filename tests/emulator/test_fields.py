"""emulator/fields.py: the field catalogue served by ``GET <entity root>/fields``."""

from __future__ import annotations

from airflow_provider_eloqua.emulator.fields import date_statements, fields_for

from .conftest import EMAIL


def test_fields_listing(bulk):
    contact_fields = bulk.get("/contacts/fields").json()
    by_internal = {f["internalName"]: f for f in contact_fields["items"]}
    assert by_internal["C_EmailAddress"]["statement"] == EMAIL
    assert by_internal["C_EmailAddress"]["name"] == "Email Address"
    assert {"C_FirstName", "C_LastName", "C_Company", "C_Country", "ContactIDExt", "Id"} <= set(by_internal)
    assert set(by_internal["Id"]) == {
        "name",
        "internalName",
        "statement",
        "dataType",
        "hasReadOnlyConstraint",
        "hasNotNullConstraint",
        "hasUniquenessConstraint",
        "uri",
        "createdAt",
        "updatedAt",
    }
    paged = bulk.get("/contacts/fields", params={"limit": 2}).json()
    assert paged["count"] == 2 and paged["hasMore"] is True
    accounts = {f["internalName"] for f in bulk.items("/accounts/fields")}
    assert {"M_CompanyName", "M_Country", "M_City", "CompanyIDExt"} <= accounts
    custom = bulk.items("/customObjects/12/fields")
    assert any(f["statement"] == "{{CustomObject[12].Field[1]}}" for f in custom)
    assert any(f["statement"].startswith("{{Event[4]") for f in bulk.items("/events/4/fields"))
    assert bulk.get("/widgets/fields").status_code == 404


def test_every_entity_root_has_its_catalogue_and_unknown_roots_none():
    for root in ("/contacts", "/accounts", "/customObjects/7", "/events/3", "/opportunities"):
        fields = fields_for(root)
        assert fields, root
        statements = [f["statement"] for f in fields]
        assert len(statements) == len(set(statements)), root
    assert fields_for("/widgets") is None
    assert "{{CustomObject[7].Field[1]}}" in {f["statement"] for f in fields_for("/customObjects/7") or []}


def test_date_statements_are_the_date_fields_of_the_root():
    assert date_statements("/contacts") == {
        "{{Contact.Field(C_Last_Purchase_Date1)}}",
        "{{Contact.Field(C_DateCreated)}}",
        "{{Contact.Field(C_DateModified)}}",
    }
    assert date_statements("/events/12") == {"{{Event[12].Field[4]}}"}
    assert date_statements("/widgets") == frozenset()


def test_opportunity_fields_are_oracles_statements(bulk):
    statements = {item["statement"] for item in bulk.items("/opportunities/fields")}
    assert {"{{Opportunity.Id}}", "{{Opportunity.Field(Name)}}", "{{Opportunity.Field(Stage)}}"} <= statements
    assert "{{Opportunity.Field(OpportunityID)}}" not in statements
