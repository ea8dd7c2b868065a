"""Activity types and the fields each one exports, from Oracle's "Activity fields" and "Activities
export definitions" pages (docs/eloqua-behaviour.md, "Exports (the emulator)").

Oracle lists the statements per type; ``GET /activities/fields?activityType=X`` serves them. The
types Oracle documents are below; external activities and the SMS types (24C) are not emulated.
"""

from __future__ import annotations

import re
from typing import Any

ACTIVITY_TYPE = "{{Activity.Type}}"
ACTIVITY_CREATED_AT = "{{Activity.CreatedAt}}"
ACTIVITY_ID = "{{Activity.Id}}"
ACTIVITY_CONTACT_ID = "{{Activity.Contact.Id}}"
#: At most this many contact fields in one activity export (Oracle, "Exporting activities").
MAX_CONTACT_FIELDS = 10
CONTACT_FIELD_PREFIX = "{{Activity.Contact.Field("

#: Labels Oracle's examples use whose statement is not ``{{Activity.Field(<label>)}}``.
_STATEMENTS = {
    "ActivityId": "{{Activity.Id}}",
    "ActivityType": "{{Activity.Type}}",
    "ActivityDate": "{{Activity.CreatedAt}}",
    "ContactId": "{{Activity.Contact.Id}}",
    "VisitorId": "{{Activity.Visitor.Id}}",
    "VisitorExternalId": "{{Activity.Visitor.ExternalId}}",
    "AssetType": "{{Activity.Asset.Type}}",
    "AssetName": "{{Activity.Asset.Name}}",
    "AssetId": "{{Activity.Asset.Id}}",
    "CampaignId": "{{Activity.Campaign.Id}}",
    "CRMCampaignId": "{{Activity.Campaign.Field(CRMCampaignId)}}",
    "CampaignName": "{{Activity.Campaign.Field(CampaignName)}}",
    "ExternalId": "{{Activity.ExternalId}}",
    "DeploymentId": "{{Activity.Field(EmailDeploymentId)}}",
    "CampaignResponseDate": "{{Activity.CampaignResponse.CreatedAt}}",
    "CampaignResponseMemberStatus": "{{Activity.CampaignResponse.Field(MemberStatus)}}",
}
_COMMON = "ActivityId ActivityType ActivityDate "
_EMAIL = "EmailAddress EmailRecipientId AssetType AssetName AssetId CampaignId ExternalId "
_VISITOR = "ContactId VisitorId VisitorExternalId "
_RESPONSE = " CampaignResponseDate CampaignResponseMemberStatus"
_TYPE_LABELS = {
    "EmailOpen": _COMMON
    + _EMAIL
    + _VISITOR
    + "IpAddress SubjectLine EmailWebLink DeploymentId EmailSendType"
    + _RESPONSE,
    "EmailClickthrough": _COMMON
    + _EMAIL
    + _VISITOR
    + "IpAddress SubjectLine EmailWebLink EmailClickedThruLink DeploymentId EmailSendType"
    + _RESPONSE,
    "EmailSend": _COMMON + _EMAIL + "ContactId SubjectLine EmailWebLink DeploymentId EmailSendType" + _RESPONSE,
    "Subscribe": _COMMON + _EMAIL,
    "Unsubscribe": _COMMON + _EMAIL,
    "Bounceback": _COMMON
    + _EMAIL
    + "ContactId DeploymentId SmtpErrorCode SmtpStatusCode SmtpMessage CRMCampaignId CampaignName",
    "WebVisit": _COMMON
    + _VISITOR
    + "ReferrerUrl IpAddress NumberOfPages FirstPageViewUrl Duration ExternalId LinkedToContactDate WebVisitSavedId",
    "PageView": _COMMON
    + _VISITOR
    + "CampaignId WebVisitId Url ReferrerUrl IpAddress IsWebTrackingOptedIn ExternalId LinkedToContactDate"
    + " PageViewSavedId"
    + _RESPONSE,
    "FormSubmit": _COMMON + _VISITOR + "AssetType AssetId AssetName RawData CampaignId ExternalId" + _RESPONSE,
    # SMS types (Oracle's 24C changelog); Oracle's activity-fields page does not list their fields.
    "SmsSend": _COMMON + "ContactId ExternalId",
    "SmsReply": _COMMON + "ContactId ExternalId",
    "SmsClickthrough": _COMMON + "ContactId ExternalId",
}
#: Activity type -> (label, statement) of each field it exports.
ACTIVITY_TYPE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    activity_type: tuple(
        (label, _STATEMENTS.get(label, f"{{{{Activity.Field({label})}}}}")) for label in labels.split()
    )
    for activity_type, labels in _TYPE_LABELS.items()
}
ACTIVITY_TYPES = tuple(ACTIVITY_TYPE_FIELDS)
#: Every statement some activity type exports.
ACTIVITY_STATEMENTS = frozenset(statement for fields in ACTIVITY_TYPE_FIELDS.values() for _, statement in fields)
_CAMPAIGN_FIELD = re.compile(r"^\{\{Activity\.Campaign\.Field\([A-Za-z0-9_]+\)\}\}$")
_NUMERIC_LABELS = ("Id", "NumberOfPages", "Duration", "SmtpErrorCode", "SmtpStatusCode")


def is_campaign_field(statement: str) -> bool:
    """``{{Activity.Campaign.Field(X)}}``: Oracle's examples add campaign fields to several types."""
    return _CAMPAIGN_FIELD.match(statement) is not None


def type_fields(activity_type: str) -> list[dict[str, Any]] | None:
    """The field items of one activity type as ``GET /activities/fields?activityType=X`` lists them."""
    fields = ACTIVITY_TYPE_FIELDS.get(activity_type)
    if fields is None:
        return None
    return [
        {
            "name": label,
            "internalName": label,
            "statement": statement,
            "dataType": _data_type(label, statement),
            "hasReadOnlyConstraint": True,
            "hasNotNullConstraint": False,
            "hasUniquenessConstraint": False,
            "uri": f"/activities/fields/{activity_type}/{index}",
        }
        for index, (label, statement) in enumerate(fields, start=1)
    ]


def _data_type(label: str, statement: str) -> str:
    if statement == ACTIVITY_CREATED_AT or label.endswith("Date"):
        return "date"
    if label == "EmailAddress":
        return "emailAddress"
    if label.endswith(_NUMERIC_LABELS):
        return "number"
    return "string"


def default_values(activity_type: str, number: int) -> dict[str, str]:
    """Plausible values for every field of a seeded activity of ``activity_type`` (number ``number``);
    the id and date come from the record itself, so they are left out."""
    values: dict[str, str] = {}
    for label, statement in ACTIVITY_TYPE_FIELDS[activity_type]:
        if statement in (ACTIVITY_ID, ACTIVITY_CREATED_AT) or _data_type(label, statement) == "date":
            continue
        if statement == ACTIVITY_TYPE:
            values[statement] = activity_type
        elif label == "EmailAddress":
            values[statement] = f"contact{number}@example.com"
        elif statement == "{{Activity.ExternalId}}":  # unique across activity types, as on Eloqua
            values[statement] = f"{activity_type}-{number}"
        elif _data_type(label, statement) == "number" or label.endswith("Id"):
            values[statement] = str(number)
        else:
            values[statement] = f"{label} {number}"
    return values
