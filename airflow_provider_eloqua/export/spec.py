"""Typed descriptions of what an export is asked to do, each validated once, when it is built.

* :class:`ExportSpec`: the export definition (entity, fields, filter, window, activity type, list
  or segment, durations). Built when the task runs (``since``/``until`` are templated), before
  anything is sent to Eloqua; :meth:`ExportSpec.body` is the definition's JSON.
* :class:`OutputSpec`: where and how the rows are written (path, CSV or NDJSON, page size).

Every check is a small named function listed in :data:`EXPORT_CHECKS`, in the order they run, and
raises :class:`~airflow_provider_eloqua.exceptions.EloquaInputError` naming the argument. What
Oracle documents for each check, with sources: docs/exports.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.definitions import check_durations, check_name, check_statement, check_sync_actions
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.export.filters import (
    And,
    Comparison,
    Exists,
    Node,
    Or,
    Status,
    all_and,
    check_length,
    parse_filter,
    walk,
)
from airflow_provider_eloqua.export.window import Window, timestamp_statement
from airflow_provider_eloqua.storage import output_format

EXPORT_ENTITIES = urls.EXPORT_ENTITIES
#: Oracle's limits: fields per export definition, records per ``GET /syncs/{id}/data``.
MAX_FIELDS = 250
MAX_PAGE_SIZE = 50_000
#: Oracle's Bulk FAQ: an activity export sync holds at most 5 million records.
ACTIVITY_SYNC_LIMIT = 5_000_000
#: "There is a maximum of 10 contact fields allowed in an activity export definition."
MAX_ACTIVITY_CONTACT_FIELDS = 10
#: An export definition (and its synced data) lives two days: long enough for a nightly DAG's
#: retries to reattach and download again, and deleted by the provider once the file is written.
DEFAULT_EXPORT_AUTO_DELETE = "P2D"
DEFAULT_EXPORT_RETENTION = "P2D"
OUTPUT_FORMATS = ("csv", "ndjson", "json")

#: The properties an :class:`ExportSpec` sets itself (``definition_extra`` may not repeat them), and
#: the ones Eloqua computes.
OWN_PROPERTIES = frozenset(
    {
        "name",
        "fields",
        "filter",
        "areSystemTimestampsInUTC",
        "autoDeleteDuration",
        "dataRetentionDuration",
        "maxRecords",
    }
)
READ_ONLY_PROPERTIES = frozenset({"uri", "createdAt", "createdBy", "updatedAt", "updatedBy", "kbUsed"})

#: The containers ``EXISTS`` may test, and the export entity each belongs to.
MEMBER_ENTITIES = {
    "ContactList": "contacts",
    "ContactSegment": "contacts",
    "ContactFilter": "contacts",
    "AccountList": "accounts",
}
_MEMBER = re.compile(
    r"^\s*(?:\{\{)?(?P<kind>ContactList|ContactSegment|ContactFilter|AccountList)\[(?P<id>[1-9]\d*)\](?:\}\})?\s*$"
)
#: What a contact export filtered by a segment may add (Oracle, 19B segment export rules).
SEGMENT_DATE_STATEMENTS = frozenset(
    {
        "{{Contact.UpdatedAt}}",
        "{{Contact.CreatedAt}}",
        "{{Contact.Field(C_DateModified)}}",
        "{{Contact.Field(C_DateCreated)}}",
    }
)

_ACTIVITY_BASE = ("{{Activity.Id}}", "{{Activity.Type}}", "{{Activity.CreatedAt}}", "{{Activity.ExternalId}}")
_ASSET = ("{{Activity.Asset.Type}}", "{{Activity.Asset.Name}}", "{{Activity.Asset.Id}}")
_VISITOR = ("{{Activity.Visitor.Id}}", "{{Activity.Visitor.ExternalId}}")
_RESPONSE = ("{{Activity.CampaignResponse.CreatedAt}}", "{{Activity.CampaignResponse.Field(MemberStatus)}}")
_EMAIL = (
    "{{Activity.Field(EmailAddress)}}",
    "{{Activity.Contact.Id}}",
    "{{Activity.Field(EmailRecipientId)}}",
    *_ASSET,
    "{{Activity.Field(SubjectLine)}}",
    "{{Activity.Field(EmailWebLink)}}",
    "{{Activity.Campaign.Id}}",
    "{{Activity.Field(EmailDeploymentId)}}",
    "{{Activity.Field(EmailSendType)}}",
    *_RESPONSE,
)
_SUBSCRIPTION = (
    "{{Activity.Field(EmailAddress)}}",
    "{{Activity.Contact.Id}}",
    "{{Activity.Field(EmailRecipientId)}}",
    *_ASSET,
    "{{Activity.Campaign.Id}}",
)
_WEB = ("{{Activity.Contact.Id}}", *_VISITOR, "{{Activity.Field(ReferrerUrl)}}", "{{Activity.Field(IpAddress)}}")
#: Oracle's activity fields, by activity type (its "Activity fields" reference and the example
#: definitions of "Activities export definitions"); ``{{Activity.Contact.Field(...)}}`` (at most
#: 10) and ``{{Activity.Campaign.Field(...)}}`` are allowed besides.
ACTIVITY_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset((*_ACTIVITY_BASE, *statements))
    for name, statements in {
        "EmailOpen": (*_EMAIL, "{{Activity.Field(IpAddress)}}", *_VISITOR),
        "EmailClickthrough": (
            *_EMAIL,
            "{{Activity.Field(IpAddress)}}",
            *_VISITOR,
            "{{Activity.Field(EmailClickedThruLink)}}",
        ),
        "EmailSend": _EMAIL,
        "Subscribe": _SUBSCRIPTION,
        "Unsubscribe": _SUBSCRIPTION,
        "Bounceback": (
            "{{Activity.Field(EmailAddress)}}",
            "{{Activity.Contact.Id}}",
            *_ASSET,
            "{{Activity.Campaign.Id}}",
            "{{Activity.Field(EmailRecipientId)}}",
            "{{Activity.Field(EmailDeploymentId)}}",
            "{{Activity.Field(SmtpErrorCode)}}",
            "{{Activity.Field(SmtpStatusCode)}}",
            "{{Activity.Field(SmtpMessage)}}",
        ),
        "WebVisit": (
            *_WEB,
            "{{Activity.Field(NumberOfPages)}}",
            "{{Activity.Field(FirstPageViewUrl)}}",
            "{{Activity.Field(Duration)}}",
            "{{Activity.Field(LinkedToContactDate)}}",
            "{{Activity.Field(WebVisitSavedId)}}",
        ),
        "PageView": (
            *_WEB,
            "{{Activity.Campaign.Id}}",
            "{{Activity.Field(WebVisitId)}}",
            "{{Activity.Field(Url)}}",
            "{{Activity.Field(IsWebTrackingOptedIn)}}",
            "{{Activity.Field(LinkedToContactDate)}}",
            "{{Activity.Field(PageViewSavedId)}}",
            *_RESPONSE,
        ),
        "FormSubmit": (
            "{{Activity.Contact.Id}}",
            *_VISITOR,
            *_ASSET,
            "{{Activity.Field(RawData)}}",
            "{{Activity.Campaign.Id}}",
            *_RESPONSE,
        ),
    }.items()
}
#: SMS activity types (Oracle's 24C changelog). Their fields are not on Oracle's activity-fields
#: page, so only their form (``{{Activity....}}``) is checked; their filters may use contact fields.
SMS_ACTIVITY_TYPES = ("SmsSend", "SmsReply", "SmsClickthrough")
ACTIVITY_TYPES = (*ACTIVITY_FIELDS, *SMS_ACTIVITY_TYPES)
_CONTACT_FIELD = re.compile(r"^\{\{Activity\.Contact\.Field\([^()]+\)\}\}$")
_CAMPAIGN_FIELD = re.compile(r"^\{\{Activity\.Campaign\.Field\([^()]+\)\}\}$")

#: Documented export properties a DAG may pass through ``definition_extra``, and their checks.
EXTRA_PROPERTIES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "crmAccountIdField": ("an Eloqua markup statement", lambda v: isinstance(v, str) and v.strip().startswith("{{")),
    "externalSystemId": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "productIdField": ("an Eloqua markup statement", lambda v: isinstance(v, str) and v.strip().startswith("{{")),
    "syncActions": ("a list of sync actions", lambda v: bool(check_sync_actions(v) or True)),
}


def parse_member(member_of: Any) -> Exists | None:
    """``"ContactSegment[3]"`` (or ``"{{ContactSegment[3]}}"``) as the EXISTS it becomes; None for None."""
    if member_of is None or member_of == "":
        return None
    match = _MEMBER.match(member_of) if isinstance(member_of, str) else None
    if not match:
        raise EloquaInputError(
            "member_of must name a contact list, segment or filter, or an account list, by id: "
            f"ContactList[12], ContactSegment[3], ContactFilter[7] or AccountList[4]; got {member_of!r}"
        )
    return Exists(match["kind"], int(match["id"]))


def _statement_root(entity: str, parent_id: int | None) -> str:
    """What every statement of ``entity`` starts with: ``{{Contact.``, ``{{CustomObject[12].``."""
    return {
        "contacts": "{{Contact.",
        "accounts": "{{Account.",
        "activities": "{{Activity.",
        "customObjects": f"{{{{CustomObject[{parent_id}].",
        "events": f"{{{{Event[{parent_id}].",
    }[entity]


@dataclass(frozen=True)
class ExportSpec:
    """An export definition as the DAG describes it, validated when made; see :meth:`body` for Eloqua's JSON.

    Every field but ``window`` is the operator argument of the same name (documented on
    :class:`airflow_provider_eloqua.operators.export._ExportDefinitionOperator`); ``window`` is
    ``[since, until)`` on the entity's system timestamp (open: no bound).
    """

    entity: str
    name: str
    fields: Mapping[str, str]
    filter: str | None = None
    parent_id: int | str | None = None
    activity_type: str | None = None
    member_of: str | None = None
    window: Window = field(default_factory=Window)
    max_records: int | None = None
    auto_delete_duration: str = DEFAULT_EXPORT_AUTO_DELETE
    data_retention_duration: str = DEFAULT_EXPORT_RETENTION
    definition_extra: Mapping[str, Any] | None = None
    #: ``member_of`` and ``filter`` parsed, by their text: shared with the copies :meth:`with_window` and
    #: :meth:`with_name` make, so that a description is parsed once however often it is re-windowed.
    _parsed: dict[tuple[str, str], Node | None] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        for check in EXPORT_CHECKS:
            check(self)

    # ------------------------------------------------------------------ derived, once checked

    @property
    def parent(self) -> int | None:
        return int(self.parent_id) if self.parent_id is not None else None

    @property
    def labels(self) -> tuple[str, ...]:
        """The column labels, in order: the CSV header."""
        return tuple(self.fields)

    @property
    def timestamp(self) -> str:
        """The system timestamp the window filters on (see :mod:`.window`)."""
        return timestamp_statement(self.entity, self.parent)

    @property
    def member(self) -> Exists | None:
        """``member_of`` as the EXISTS it becomes (parsed once)."""
        member = self._parse_once("member_of", self.member_of, parse_member)
        assert member is None or isinstance(member, Exists)
        return member

    @property
    def own_filter(self) -> Node | None:
        """The user's ``filter`` as a tree (parsed once)."""
        return self._parse_once("filter", self.filter, parse_filter)

    def _parse_once(self, argument: str, text: Any, parse: Callable[[Any], Node | None]) -> Node | None:
        if text is None or text == "":
            return None
        key = (argument, str(text))
        if key not in self._parsed:
            self._parsed[key] = parse(text)
        return self._parsed[key]

    def filter_tree(self) -> Node | None:
        """The whole filter: ``member_of``, the activity type, the user's filter, the window."""
        kind = Comparison("{{Activity.Type}}", "=", self.activity_type) if self.activity_type else None
        return all_and(self.member, kind, self.own_filter, *self.window.criteria(self.timestamp))

    def filter_text(self) -> str | None:
        tree = self.filter_tree()
        return tree.text() if tree is not None else None

    def body(self) -> dict[str, Any]:
        """The JSON body that creates the definition."""
        body: dict[str, Any] = {
            "name": self.name,
            "fields": dict(self.fields),
            "areSystemTimestampsInUTC": True,
            "autoDeleteDuration": self.auto_delete_duration,
            "dataRetentionDuration": self.data_retention_duration,
        }
        text = self.filter_text()
        if text:
            body["filter"] = text
        if self.max_records is not None:
            body["maxRecords"] = self.max_records
        return {**body, **(self.definition_extra or {})}

    def with_window(self, window: Window) -> ExportSpec:
        """This export over another window (checked again: the filter's length may change)."""
        return replace(self, window=window)

    def with_name(self, name: str) -> ExportSpec:
        return replace(self, name=name)

    @classmethod
    def from_template(
        cls,
        template: urls.DefinitionUri,
        body: Mapping[str, Any],
        *,
        name: str | None,
        activity_type: str | None,
        max_records: int | None,
        definition_extra: Mapping[str, Any] | None,
        **task: Any,
    ) -> ExportSpec:
        """The export a template definition describes (``body``: its ``GET`` answer): its fields, filter
        (its ``'{{Activity.Type}}' = 'X'`` becomes ``activity_type``) and other properties, with the
        task's window and durations; ``name``, ``activity_type``, ``max_records`` and ``definition_extra``
        given by the task win over the template's."""
        template_type, own_filter, own_tree = _split_activity_type(body.get("filter"))
        extra = {key: value for key, value in body.items() if key not in OWN_PROPERTIES | READ_ONLY_PROPERTIES}
        return cls(
            entity=template.entity,
            name=name or str(body.get("name") or "Airflow export"),
            fields=body.get("fields") or {},
            filter=own_filter,
            parent_id=template.parent_id,
            activity_type=activity_type or template_type,
            max_records=max_records if max_records is not None else body.get("maxRecords"),
            definition_extra={**extra, **(definition_extra or {})} or None,
            _parsed={("filter", own_filter): own_tree} if own_filter else {},
            **task,
        )


def _split_activity_type(text: Any) -> tuple[str | None, str | None, Node | None]:
    """A template's filter as its ``'{{Activity.Type}}' = 'X'`` criterion's X (or None) and the rest,
    as text and as a tree."""
    if not text:
        return None, None, None
    tree = parse_filter(str(text), "the template's filter")
    operands = list(tree.operands) if isinstance(tree, And) else [tree]
    found = [
        node
        for node in operands
        if isinstance(node, Comparison) and node.statement == "{{Activity.Type}}" and node.op == "="
    ]
    if not found:
        return None, str(text), tree
    rest = [node for node in operands if node not in found]
    own = (rest[0] if len(rest) == 1 else And(tuple(rest))) if rest else None
    return found[0].value, own.text() if own else None, own


# ------------------------------------------------------------------ checks, in order


def check_entity(spec: ExportSpec) -> None:
    parented = re.fullmatch(r"(customObjects|events)/(\d+)", str(spec.entity))
    if parented:
        raise EloquaInputError(
            f"entity {spec.entity!r} is given as entity={parented[1]!r}, parent_id={parented[2]} (the custom object's "
            "or event's id)"
        )
    if spec.entity not in EXPORT_ENTITIES:
        raise EloquaInputError(f"entity must be one of {', '.join(EXPORT_ENTITIES)} for an export; got {spec.entity!r}")
    try:
        urls.entity_root(spec.entity, spec.parent_id)
    except ValueError as exc:
        raise EloquaInputError(str(exc)) from None


def check_export_name(spec: ExportSpec) -> None:
    check_name(spec.name)


def check_activity_type(spec: ExportSpec) -> None:
    """Activities need exactly one type (Oracle: one activity type per export); others take none."""
    if spec.entity != "activities":
        if spec.activity_type is not None:
            raise EloquaInputError(f"activity_type is only for entity 'activities', not {spec.entity!r}")
        return
    if spec.activity_type not in ACTIVITY_TYPES:
        raise EloquaInputError(
            f"activity_type must be one of {', '.join(ACTIVITY_TYPES)} (one type per export, as Oracle advises); "
            f"got {spec.activity_type!r}"
        )


def check_export_fields(spec: ExportSpec) -> None:
    """1 to 250 fields, each a statement of the exported entity, none listed twice."""
    fields = spec.fields
    if not isinstance(fields, Mapping) or not fields:
        raise EloquaInputError(f"fields must be a non-empty mapping of column label to statement; got {fields!r}")
    if len(fields) > MAX_FIELDS:
        raise EloquaInputError(f"fields has {len(fields)} entries; Eloqua allows at most {MAX_FIELDS} in an export")
    root = _statement_root(spec.entity, spec.parent)
    seen: dict[str, str] = {}
    for label, statement in fields.items():
        if not isinstance(label, str) or not label.strip():
            raise EloquaInputError(f"fields has an empty or non-string column label: {label!r}")
        where = f"fields[{label!r}]"
        check_statement(statement, where)
        text = statement.strip()
        if not text.startswith(root):
            raise EloquaInputError(
                f"{where} must be a statement of {spec.entity} (starting {root}...); got {statement!r}"
            )
        if text in seen:
            # tap-eloqua saw shuffled rows when one statement was exported twice.
            raise EloquaInputError(f"{where} repeats the statement of fields[{seen[text]!r}]: {text}")
        seen[text] = label


def check_activity_fields(spec: ExportSpec) -> None:
    """Each field one the activity type has (Oracle's activity fields), at most 10 contact fields."""
    if spec.entity != "activities":
        return
    allowed = ACTIVITY_FIELDS.get(spec.activity_type or "")
    contact_fields = 0
    for label, statement in spec.fields.items():
        text = statement.strip()
        if _CONTACT_FIELD.match(text):
            contact_fields += 1
            continue
        if allowed is None or text in allowed or _CAMPAIGN_FIELD.match(text):
            continue
        raise EloquaInputError(
            f"fields[{label!r}]: {text} is not a field of {spec.activity_type} activities; they have "
            f"{', '.join(sorted(allowed))}, and {{{{Activity.Contact.Field(...)}}}} contact fields"
        )
    if contact_fields > MAX_ACTIVITY_CONTACT_FIELDS:
        raise EloquaInputError(
            f"fields has {contact_fields} contact fields; Eloqua allows at most {MAX_ACTIVITY_CONTACT_FIELDS} in an "
            "activity export"
        )


def check_member_of(spec: ExportSpec) -> None:
    member = spec.member
    if member is not None and MEMBER_ENTITIES[member.kind] != spec.entity:
        raise EloquaInputError(
            f"member_of {member.kind}[{member.id}] restricts {MEMBER_ENTITIES[member.kind]} exports, not {spec.entity}"
        )


def check_own_filter(spec: ExportSpec) -> None:
    """The user's filter: EEL as Oracle documents it, on the exported entity's statements."""
    tree = spec.own_filter
    if tree is None:
        return
    root = _statement_root(spec.entity, spec.parent)
    for node in walk(tree):
        if isinstance(node, Exists) and MEMBER_ENTITIES[node.kind] != spec.entity:
            raise EloquaInputError(
                f"filter: EXISTS on a {node.kind} works only in {MEMBER_ENTITIES[node.kind]} exports, not {spec.entity}"
            )
        if not isinstance(node, Comparison):
            continue
        if not node.statement.startswith(root):
            raise EloquaInputError(
                f"filter: {node.statement} is not a statement of {spec.entity} (they start {root}...)"
            )
        if spec.entity == "activities":
            if node.statement == "{{Activity.Type}}":
                raise EloquaInputError(
                    "filter must not name {{Activity.Type}}: give activity_type (one type per export, as Oracle advises)"
                )
            if _CONTACT_FIELD.match(node.statement) and spec.activity_type not in SMS_ACTIVITY_TYPES:
                raise EloquaInputError(
                    f"filter: {node.statement} is a contact field; Eloqua does not filter activity exports on them"
                )
        if spec.window.bounded and node.statement == spec.timestamp:
            raise EloquaInputError(
                f"filter must not name {spec.timestamp} when since or until is given: the window already filters on it"
            )


def check_whole_filter(spec: ExportSpec) -> None:
    """The filter as sent: one EXISTS and one STATUS at most, Oracle's segment rules, 1,000 characters."""
    tree = spec.filter_tree()
    if tree is None:
        return
    nodes = list(walk(tree))
    exists = [node for node in nodes if isinstance(node, Exists)]
    if len(exists) > 1:
        raise EloquaInputError(
            "filter and member_of add up to more than one EXISTS; Eloqua allows one per filter: "
            + ", ".join(node.text() for node in exists)
        )
    if sum(isinstance(node, Status) for node in nodes) > 1:
        raise EloquaInputError("filter has more than one STATUS; Eloqua allows one per filter")
    if exists and exists[0].kind == "ContactSegment":
        _check_segment_shape(tree, exists[0])
    check_length(tree.text(), "the export filter (filter, member_of, activity type and window together)")


def _check_segment_shape(tree: Node, segment: Exists) -> None:
    """Oracle: a contact export filtered by a segment may add at most two date criteria on
    ``{{Contact.UpdatedAt}}``, ``{{Contact.CreatedAt}}``, ``C_DateModified`` or ``C_DateCreated``,
    as ``seg AND d``, ``seg AND d1 AND d2`` or ``seg AND (d1 OR d2)``."""

    def is_date(node: Node) -> bool:
        return isinstance(node, Comparison) and node.statement in SEGMENT_DATE_STATEMENTS

    rest = [node for node in tree.operands if node != segment] if isinstance(tree, And) else []
    allowed = (
        tree == segment
        or (len(rest) in (1, 2) and all(is_date(node) for node in rest))
        or (
            len(rest) == 1
            and isinstance(rest[0], Or)
            and len(rest[0].operands) == 2
            and all(map(is_date, rest[0].operands))
        )
    )
    if not allowed:
        raise EloquaInputError(
            f"a contact export filtered by {segment.text()} may add only one or two date criteria on "
            f"{', '.join(sorted(SEGMENT_DATE_STATEMENTS))} (seg AND d, seg AND d1 AND d2, seg AND (d1 OR d2)), "
            f"as Oracle's segment rules say; the filter would be {tree.text()!r}"
        )


def check_max_records(spec: ExportSpec) -> None:
    value = spec.max_records
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise EloquaInputError(f"max_records must be a positive integer or None; got {value!r}")


def check_export_durations(spec: ExportSpec) -> None:
    check_durations(spec.data_retention_duration, spec.auto_delete_duration)


def check_export_extra(spec: ExportSpec) -> None:
    """Other documented properties, never overriding the ones the spec sets itself."""
    extra = spec.definition_extra
    if not extra:
        return
    if not isinstance(extra, Mapping):
        raise EloquaInputError(f"definition_extra must be a mapping; got {extra!r}")
    clash = sorted(set(extra) & OWN_PROPERTIES)
    if clash:
        raise EloquaInputError(
            f"definition_extra repeats properties the operator sets: {', '.join(clash)} (areSystemTimestampsInUTC is "
            "always true: windows are in UTC)"
        )
    for name, value in extra.items():
        if name in EXTRA_PROPERTIES:
            expected, valid = EXTRA_PROPERTIES[name]
            if not valid(value):
                raise EloquaInputError(f"definition_extra[{name!r}] must be {expected}; got {value!r}")


ExportCheck = Callable[[ExportSpec], None]
#: The checks of an export definition, in the order they run.
EXPORT_CHECKS: tuple[ExportCheck, ...] = (
    check_entity,
    check_export_name,
    check_activity_type,
    check_export_fields,
    check_activity_fields,
    check_member_of,
    check_own_filter,
    check_whole_filter,
    check_max_records,
    check_export_durations,
    check_export_extra,
)


def check_row_limit(row_limit: Any) -> int:
    """``row_limit``: the rows at which an activity sync counts as stopped at Eloqua's limit."""
    if isinstance(row_limit, bool) or not isinstance(row_limit, int) or row_limit < 1:
        raise EloquaInputError(f"row_limit must be a positive integer (Eloqua's is 5,000,000); got {row_limit!r}")
    return row_limit


# ------------------------------------------------------------------ output


@dataclass(frozen=True)
class OutputSpec:
    """Where the rows go and how they are read: ``path``, ``format`` and ``page_size`` as
    :class:`airflow_provider_eloqua.operators.export.EloquaExportOperator` takes them (``path`` may also be an
    ObjectStoragePath). A ``format`` of None is inferred from the extension (``.csv``; ``.ndjson``, ``.jsonl``;
    ``.json``: one JSON array) and set here, so it is decided once.
    """

    path: Any
    format: str | None = None
    page_size: int = MAX_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.path is None or self.path == "":
            raise EloquaInputError("path is required: the local path or object storage URL of the file to write")
        if self.format is None:
            object.__setattr__(self, "format", output_format(self.path, "path"))
        elif self.format not in OUTPUT_FORMATS:
            raise EloquaInputError(f"format must be one of {', '.join(OUTPUT_FORMATS)}; got {self.format!r}")
        size = self.page_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
            raise EloquaInputError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE:,}; got {size!r}")
