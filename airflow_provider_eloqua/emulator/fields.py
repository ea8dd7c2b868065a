"""The small, fixed field catalogue served by ``GET <entity root>/fields``.

Real sites have hundreds of fields; a handful per entity is enough for field discovery and for
mapping checks in tests, and keeps answers readable.
"""

from __future__ import annotations

from typing import Any

# (display name, internal name, statement, data type, read-only, unique)
_Field = tuple[str, str, str, str, bool, bool]

_CONTACT_FIELDS: list[_Field] = [
    ("Email Address", "C_EmailAddress", "{{Contact.Field(C_EmailAddress)}}", "emailAddress", False, True),
    ("First Name", "C_FirstName", "{{Contact.Field(C_FirstName)}}", "string", False, False),
    ("Last Name", "C_LastName", "{{Contact.Field(C_LastName)}}", "string", False, False),
    ("Company", "C_Company", "{{Contact.Field(C_Company)}}", "string", False, False),
    ("Country", "C_Country", "{{Contact.Field(C_Country)}}", "string", False, False),
    ("Contact ID (External)", "ContactIDExt", "{{Contact.Field(ContactIDExt)}}", "string", False, True),
    ("Eloqua Contact ID", "Id", "{{Contact.Id}}", "number", True, True),
    ("Last Purchase Date", "C_Last_Purchase_Date1", "{{Contact.Field(C_Last_Purchase_Date1)}}", "date", False, False),
    ("Date Created", "C_DateCreated", "{{Contact.Field(C_DateCreated)}}", "date", True, False),
    ("Date Modified", "C_DateModified", "{{Contact.Field(C_DateModified)}}", "date", True, False),
]
_ACCOUNT_FIELDS: list[_Field] = [
    ("Company Name", "M_CompanyName", "{{Account.Field(M_CompanyName)}}", "string", False, False),
    ("Country", "M_Country", "{{Account.Field(M_Country)}}", "string", False, False),
    ("City", "M_City", "{{Account.Field(M_City)}}", "string", False, False),
    ("Company ID (External)", "CompanyIDExt", "{{Account.Field(CompanyIDExt)}}", "string", False, True),
    ("Date Created", "M_DateCreated", "{{Account.Field(M_DateCreated)}}", "date", True, False),
    ("Date Modified", "M_DateModified", "{{Account.Field(M_DateModified)}}", "date", True, False),
]
_ACTIVITY_FIELDS: list[_Field] = [
    ("Activity Type", "ActivityType", "{{Activity.Type}}", "string", False, False),
    ("Activity Date", "ActivityDate", "{{Activity.CreatedAt}}", "date", False, False),
    ("Asset Name", "AssetName", "{{Activity.Asset.Name}}", "string", False, False),
    ("Asset Type", "AssetType", "{{Activity.Asset.Type}}", "string", False, False),
    ("Contact ID", "ContactId", "{{Activity.Contact.Id}}", "number", False, False),
    ("External ID", "ExternalId", "{{Activity.Field(ExternalId)}}", "string", False, False),
]
#: Statements from Oracle's opportunity import tutorial; Id, Name, Stage and Amount are required.
_OPPORTUNITY_FIELDS: list[_Field] = [
    ("Opportunity ID", "RemoteOpportunityID", "{{Opportunity.Id}}", "string", False, False),
    ("Opportunity Name", "OpportunityName", "{{Opportunity.Field(Name)}}", "string", False, False),
    ("Created Date", "CreatedDate", "{{Opportunity.CreatedAt}}", "date", False, False),
    ("Stage", "OpportunityStageID", "{{Opportunity.Field(Stage)}}", "string", False, False),
    ("Amount", "Amount", "{{Opportunity.Field(Amount)}}", "number", False, False),
    ("Account Name", "AccountName", "{{Opportunity.Field(AccountName)}}", "string", False, False),
    ("Close Date", "CloseDate", "{{Opportunity.Field(CloseDate)}}", "date", False, False),
    ("Currency", "Currency", "{{Opportunity.Field(Currency)}}", "string", False, False),
    (
        "Forecast To Close Date",
        "ForecastToCloseDate",
        "{{Opportunity.Field(ForecastToCloseDate)}}",
        "date",
        False,
        False,
    ),
    ("Territory", "Territory", "{{Opportunity.Field(Territory)}}", "string", False, False),
]


def _parented_fields(kind: str, parent_id: str) -> list[_Field]:
    """Generic fields of custom object / event ``parent_id``: record ids plus four data fields."""
    return [
        ("Record ID", "Id", f"{{{{{kind}[{parent_id}].Id}}}}", "number", True, True),
        ("External ID", "ExternalId", f"{{{{{kind}[{parent_id}].ExternalId}}}}", "string", False, True),
        ("Email Address", "Field1", f"{{{{{kind}[{parent_id}].Field[1]}}}}", "emailAddress", False, False),
        ("Name", "Field2", f"{{{{{kind}[{parent_id}].Field[2]}}}}", "string", False, False),
        ("Last Name", "Field3", f"{{{{{kind}[{parent_id}].Field[3]}}}}", "string", False, False),
        ("Date", "Field4", f"{{{{{kind}[{parent_id}].Field[4]}}}}", "date", False, False),
    ]


_CATALOGUES: dict[str, list[_Field]] = {
    "contacts": _CONTACT_FIELDS,
    "accounts": _ACCOUNT_FIELDS,
    "activities": _ACTIVITY_FIELDS,
    "opportunities": _OPPORTUNITY_FIELDS,
}


def date_statements(root: str) -> frozenset[str]:
    """The statements of date fields under an entity root (their values are checked on import)."""
    return frozenset(item["statement"] for item in fields_for(root) or [] if item["dataType"] == "date")


def fields_for(root: str) -> list[dict[str, Any]] | None:
    """Field items for an entity root such as ``/contacts`` or ``/events/12``; None if it has none."""
    parts = root.strip("/").split("/")
    catalogue: list[_Field] | None
    if parts[0] == "customObjects" and len(parts) == 2:
        catalogue = _parented_fields("CustomObject", parts[1])
    elif parts[0] == "events" and len(parts) == 2:
        catalogue = _parented_fields("Event", parts[1])
    else:
        catalogue = _CATALOGUES.get(root.strip("/"))
    if catalogue is None:
        return None
    return [
        {
            "name": name,
            "internalName": internal,
            "statement": statement,
            "dataType": data_type,
            "hasReadOnlyConstraint": read_only,
            "hasNotNullConstraint": False,
            "hasUniquenessConstraint": unique,
            "uri": f"{root}/fields/{100001 + index}",
            # Oracle's "Fields (metadata)" example shows standard fields stamped so.
            "createdAt": "1900-01-01T05:00:00.0000000Z",
            "updatedAt": "1900-01-01T05:00:00.0000000Z",
        }
        for index, (name, internal, statement, data_type, read_only, unique) in enumerate(catalogue)
    ]
