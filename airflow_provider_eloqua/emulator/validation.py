"""Definition validation with Eloqua's rules and its ``failures`` answer shape.

POST and PUT share one validator because Eloqua's PUT replaces the whole definition: it must
carry every required property, exactly as a create does.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from airflow_provider_eloqua.emulator.errors import failure
from airflow_provider_eloqua.emulator.resources import Collection

MAX_NAME = 100
#: Oracle's Bulk limits: an import definition maps at most 100 fields.
MAX_IMPORT_FIELDS = 100
MARKUP = re.compile(r"^\{\{.+\}\}$", re.DOTALL)
UPDATE_RULES = ("always", "ifNewIsNotNull", "ifExistingIsNull", "useFieldRule")
SYNC_ACTION_TYPES = ("add", "remove", "setStatus")
#: Boolean definition properties of Oracle's import schemas.
BOOLEAN_PROPERTIES = (
    "isSyncTriggeredOnImport",
    "isUpdatingMultipleMatchedRecords",
    "isIdentifierFieldCaseSensitive",
    "nullIdentifierFieldName",
    "mapDataCards",
    "mapDataCardsCaseSensitiveMatch",
)
#: Properties Eloqua computes itself: ignored when a client sends them.
READ_ONLY = frozenset({"uri", "createdAt", "createdBy", "updatedAt", "updatedBy", "kbUsed"})

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: Any) -> timedelta | None:
    """An ISO-8601 duration without years or months (``PT1H``, ``P14D``); None when malformed."""
    if not isinstance(text, str) or text in ("P", "PT") or text.endswith("T"):
        return None
    match = _DURATION.match(text)
    if not match:
        return None
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return timedelta(weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def named_fields_failures(body: dict[str, Any], max_fields: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What imports and exports check alike: ``name`` required, at most 100 characters; ``fields``
    1..``max_fields``, each a markup statement. The failures, and the fields (``{}`` when unusable)."""
    failures = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        failures.append(failure("name", name, "Is required."))
    elif len(name) > MAX_NAME:
        failures.append(failure("name", name, f"Must be a string value, at most {MAX_NAME} characters long."))
    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        failures.append(failure("fields", fields, "Is required and must contain at least one field."))
        fields = {}
    elif len(fields) > max_fields:
        failures.append(failure("fields", len(fields), f"Must contain at most {max_fields} fields."))
    for column, statement in fields.items():
        if not isinstance(statement, str) or not MARKUP.match(statement):
            failures.append(failure(f"fields.{column}", statement, "Must be a valid Eloqua markup statement."))
    return failures, fields


def validate_definition(body: Any, collection: Collection) -> list[dict[str, Any]]:
    """Every failure of an import or sync-action definition body posted to ``collection``."""
    kind = collection.kind
    if not isinstance(body, dict):
        return [failure("body", body, "Must be a JSON object.")]
    failures, fields = named_fields_failures(body, MAX_IMPORT_FIELDS)

    identifier = body.get("identifierFieldName")
    if not isinstance(identifier, str) or not identifier:
        failures.append(failure("identifierFieldName", identifier, "Is required."))
    elif identifier not in fields:
        failures.append(failure("identifierFieldName", identifier, "Must be one of the fields keys."))

    if "updateRule" in body and body["updateRule"] not in UPDATE_RULES:
        failures.append(failure("updateRule", body["updateRule"], f"Must be one of {', '.join(UPDATE_RULES)}."))
    failures += durations(body)
    for flag in BOOLEAN_PROPERTIES:
        if flag in body and not is_boolean(body[flag]):
            failures.append(failure(flag, body[flag], "Must be a boolean."))
    if body.get("updateRule") == "useFieldRule" and not isinstance(body.get("updateRuleByField"), dict):
        message = "Is required (a field name to update rule map) when updateRule is useFieldRule."
        failures.append(failure("updateRuleByField", body.get("updateRuleByField"), message))
    failures += sync_action_failures(body.get("syncActions"))

    if kind == "syncActions":
        if len(fields) > 1:
            failures.append(failure("fields", len(fields), "A sync action definition has exactly one field."))
        if not body.get("syncActions"):
            failures.append(failure("syncActions", body.get("syncActions"), "Must contain at least one action."))
        failures += _sync_action_identifier(fields, collection)
    elif collection.entity == "opportunities":
        failures += _opportunity_fields(fields, identifier)
    elif collection.entity == "opportunities/contacts":
        failures += _opportunity_linkage(body, fields)
    if "syncActions" in body and collection.entity == "events":
        failures.append(failure("syncActions", body["syncActions"], "There are no sync actions for events."))
    return failures


#: Oracle's reference: the one field of a sync-action definition identifies the record with one of these.
SYNC_ACTION_IDENTIFIERS = {
    "contacts": ("{{Contact.Field(C_EmailAddress)}}", "{{Contact.Field(ContactIDExt)}}", "{{Contact.Id}}"),
    "accounts": ("{{Account.Field(CompanyIDExt)}}", "{{Account.Field(M_CompanyName)}}", "{{Account.Id}}"),
}
#: Oracle's opportunity import tutorial: statements every opportunity import must map.
OPPORTUNITY_REQUIRED = (
    "{{Opportunity.Id}}",
    "{{Opportunity.Field(Name)}}",
    "{{Opportunity.Field(Stage)}}",
    "{{Opportunity.Field(Amount)}}",
)
LINK_ENTITY_TYPES = ("Contact", "Account")
_LINK_FLAGS = (
    "linkOpportunitiesCaseSensitiveMatchField",
    "linkOpportunitiesCaseSensitiveSourceField",
    "linkOpportunitiesMultipleSourceMatches",
)


def _sync_action_identifier(fields: dict[str, Any], collection: Collection) -> list[dict[str, Any]]:
    if collection.entity == "customObjects":
        allowed: tuple[str, ...] = (f"{{{{CustomObject[{collection.parent_id}].ExternalId}}}}",)
    else:
        allowed = SYNC_ACTION_IDENTIFIERS.get(collection.entity, ())
    return [
        failure(f"fields.{column}", statement, f"A sync action identifies records with one of {', '.join(allowed)}.")
        for column, statement in fields.items()
        if allowed and statement not in allowed
    ]


def _opportunity_fields(fields: dict[str, Any], identifier: Any) -> list[dict[str, Any]]:
    statements = set(fields.values())
    failures = [
        failure("fields", statement, "Is required for an opportunity import.")
        for statement in OPPORTUNITY_REQUIRED
        if statement not in statements
    ]
    if isinstance(identifier, str) and identifier in fields and fields[identifier] != "{{Opportunity.Id}}":
        failures.append(failure("identifierFieldName", identifier, "Must name the {{Opportunity.Id}} field."))
    return failures


def _opportunity_linkage(body: dict[str, Any], fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``linkOpportunities*`` properties of an opportunity-contact linkage import."""
    failures = []
    if "{{Opportunity.Id}}" not in fields.values():
        failures.append(failure("fields", None, "Must map {{Opportunity.Id}} to link opportunities."))
    entity_type = body.get("linkOpportunitiesEntityType")
    if entity_type not in LINK_ENTITY_TYPES:
        failures.append(
            failure("linkOpportunitiesEntityType", entity_type, f"Must be one of {', '.join(LINK_ENTITY_TYPES)}.")
        )
    for name in ("linkOpportunitiesMatchFieldName", "linkOpportunitiesSourceField"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            failures.append(failure(name, value, "Is required to link opportunities."))
    for flag in _LINK_FLAGS:
        if flag in body and not is_boolean(body[flag]):
            failures.append(failure(flag, body[flag], "Must be a boolean."))
    return failures


def is_boolean(value: Any) -> bool:
    """Eloqua's examples send booleans as JSON booleans and as the strings "true"/"false"."""
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))


def durations(body: dict[str, Any]) -> list[dict[str, Any]]:
    failures = []
    if "dataRetentionDuration" in body:
        value = body["dataRetentionDuration"]
        duration = parse_duration(value)
        if duration is None or not timedelta(hours=1) <= duration <= timedelta(days=14):
            failures.append(failure("dataRetentionDuration", value, "Must be an ISO-8601 duration from PT1H to P14D."))
    if "autoDeleteDuration" in body:
        value = body["autoDeleteDuration"]
        duration = parse_duration(value)
        if duration is None or duration < timedelta(hours=1):
            failures.append(failure("autoDeleteDuration", value, "Must be an ISO-8601 duration of at least PT1H."))
    return failures


def sync_action_failures(actions: Any) -> list[dict[str, Any]]:
    if actions is None:
        return []
    if not isinstance(actions, list):
        return [failure("syncActions", actions, "Must be an array.")]
    failures = []
    if len(actions) > 10:
        failures.append(failure("syncActions", len(actions), "Must contain at most 10 actions."))
    for index, action in enumerate(actions):
        where = f"syncActions[{index}]"
        if not isinstance(action, dict):
            failures.append(failure(where, action, "Must be an object."))
            continue
        if action.get("action") not in SYNC_ACTION_TYPES:
            failures.append(
                failure(f"{where}.action", action.get("action"), f"Must be one of {', '.join(SYNC_ACTION_TYPES)}.")
            )
        destination = action.get("destination")
        if not isinstance(destination, str) or not MARKUP.match(destination):
            failures.append(failure(f"{where}.destination", destination, "Must be a valid Eloqua markup statement."))
        if action.get("action") == "setStatus" and not action.get("status"):
            failures.append(failure(f"{where}.status", action.get("status"), "Is required for setStatus."))
    return failures
