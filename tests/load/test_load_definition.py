"""load/load_definition.py: the load's own definition, named for it, made from a template or the definition
arguments, created once and reused by a later try of the same load; against the emulator over loopback
HTTP with a dict-backed checkpoint where Eloqua is involved (no Airflow run)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.definitions import MAX_NAME_LENGTH, RequestedDefinition
from airflow_provider_eloqua.exceptions import EloquaInputError, EloquaTransportError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.load_definition import (
    Blueprint,
    check_auto_delete,
    copy_body,
    definition_key,
    ensure_load_definition,
    from_spec,
    from_template,
    is_load_definition,
    load_name,
)
from airflow_provider_eloqua.load.spec import DefinitionSpec
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store

KEY = "0123456789ab"
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
SPEC = DefinitionSpec("imports", "contacts", "people", {"Email": EMAIL}, "Email")


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_LOAD_DEFINITION", connection_json(emulator))
    return EloquaHook("eloqua_load_definition")


def test_the_load_name_is_the_users_name_cut_to_fit_with_the_loads_suffix():
    """The suffix's key names the task instance and the load: the name of a load definition is its own."""
    assert load_name("people", KEY) == f"people [airflow-load {KEY}]"
    assert load_name(f"people [airflow-load {'f' * 12}]", KEY) == f"people [airflow-load {KEY}]"  # an earlier load's
    assert load_name("", KEY) == f"Airflow load [airflow-load {KEY}]"
    long = load_name("n" * 300, KEY)
    assert len(long) == MAX_NAME_LENGTH and long.endswith(f"n [airflow-load {KEY}]")
    assert is_load_definition({"name": long}) and not is_load_definition({"name": "people"})
    assert not is_load_definition({})
    assert (
        len({definition_key(KEY, "load-1"), definition_key(KEY, "load-2"), definition_key("ba9876543210", "load-1")})
        == 3
    )
    assert definition_key(KEY, "load-1") == definition_key(KEY, "load-1") and len(definition_key(KEY, "load-1")) == 12


def test_auto_delete_is_at_least_an_hour_and_the_error_names_the_argument():
    assert check_auto_delete("PT1H") == "PT1H"
    with pytest.raises(EloquaInputError, match=r"^auto_delete_duration must be an ISO-8601 duration of at least PT1H"):
        check_auto_delete("PT30M")


def test_a_copy_keeps_every_property_but_the_read_only_ones():
    template = {
        "uri": "/contacts/imports/7",
        "createdAt": "x",
        "createdBy": "y",
        "updatedAt": "z",
        "updatedBy": "w",
        "kbUsed": 3,
        "name": "template",
        "fields": {"Email": EMAIL},
        "identifierFieldName": "Email",
        "updateRule": "ifNewIsNotNull",
        "syncActions": [{"action": "add"}],
        "dataRetentionDuration": "P1D",
    }
    assert copy_body(template, "P2D") == {
        "name": "template",
        "fields": {"Email": EMAIL},
        "identifierFieldName": "Email",
        "updateRule": "ifNewIsNotNull",
        "syncActions": [{"action": "add"}],
        "dataRetentionDuration": "P1D",
        "autoDeleteDuration": "P2D",
    }


def test_a_blueprint_is_made_once_and_only_when_used():
    made: list[int] = []
    blueprint = Blueprint("v1", "made", lambda: made.append(1) or (SPEC, {"fields": {"Email": EMAIL}}), KEY)
    assert blueprint.version == "v1" and made == []
    assert (blueprint.where, blueprint.fields, blueprint.identifier) == (SPEC, {"Email": EMAIL}, "")
    assert made == [1]


def test_a_spec_blueprint_is_versioned_by_its_properties_not_its_name():
    blueprint = from_spec(SPEC, KEY)
    assert blueprint.body == SPEC.body()
    named = f"people [airflow-load {definition_key(KEY, 'load-1')}]"
    assert blueprint.body_for("load-1") == {**SPEC.body(), "name": named}
    renamed = DefinitionSpec("imports", "contacts", "other", {"Email": EMAIL}, "Email")
    assert from_spec(renamed, KEY).version == blueprint.version
    remapped = DefinitionSpec("imports", "contacts", "people", {"Mail": EMAIL}, "Mail")
    assert from_spec(remapped, KEY).version != blueprint.version


def test_a_template_blueprint_copies_it_and_changes_version_when_the_template_changes(hook, emulator):
    template = hook.create_definition("contacts", {**SPEC.body(), "name": "template"})
    where = urls.parse_definition_uri(template["uri"])
    blueprint = from_template(hook, where, KEY, "P2D")
    assert blueprint.where == where
    assert blueprint.body["autoDeleteDuration"] == "P2D"
    assert blueprint.body_for("load-1")["name"] == f"template [airflow-load {definition_key(KEY, 'load-1')}]"
    assert blueprint.fields == {"Email": EMAIL} and blueprint.identifier == "Email"
    assert from_template(hook, where, KEY, "P2D").version == blueprint.version
    hook.update_definition(
        template["uri"],
        {**SPEC.body(), "name": "template", "fields": {"Email": EMAIL, "F": "{{Contact.Field(C_FirstName)}}"}},
    )
    assert from_template(hook, where, KEY, "P2D").version != blueprint.version
    assert [d["name"] for d in emulator.control.state()["definitions"]] == ["template"]  # read, never changed


def test_a_template_that_starts_a_sync_on_every_post_is_refused(hook):
    template = hook.create_definition("contacts", {**SPEC.body(), "isSyncTriggeredOnImport": True})
    with pytest.raises(EloquaInputError, match=r"has isSyncTriggeredOnImport=true"):
        from_template(hook, urls.parse_definition_uri(template["uri"]), KEY, "P2D")


def test_the_definition_is_created_once_and_reused_by_a_later_try_of_the_same_load(hook, emulator):
    store = Store()
    checked: list[str] = []
    first = ensure_load_definition(
        hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY), before_create=lambda: checked.append("checked")
    )
    assert not first.reused and checked == ["checked"]
    assert Checkpoint(store).load_definition == (first.uri, "load-1")
    assert first.body["name"] == f"people [airflow-load {definition_key(KEY, 'load-1')}]"
    assert first.body["uri"] == first.uri
    again = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    assert (again.uri, again.reused) == (first.uri, True)
    assert [d["uri"] for d in emulator.control.state()["definitions"]] == [first.uri]


def test_a_definition_gone_from_eloqua_is_created_again(hook, emulator):
    store = Store()
    first = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    hook.delete_definition(first.uri)
    again = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    assert not again.reused and again.uri != first.uri
    assert Checkpoint(store).load_definition == (again.uri, "load-1")


def test_another_loads_definition_is_deleted_not_reused(hook, emulator):
    store = Store()
    earlier = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    later = ensure_load_definition(hook, Checkpoint(store), "load-2", from_spec(SPEC, KEY))
    assert not later.reused
    assert [d["uri"] for d in emulator.control.state()["definitions"]] == [later.uri]
    assert earlier.uri != later.uri


def test_a_create_is_noted_before_it_is_sent_and_one_that_never_arrived_is_made_by_the_retry(hook, emulator):
    """The connection drops before Eloqua has the POST: the retry looks for the definition by the name
    noted, finds none, and creates it (one definition; the note is replaced by its URI)."""
    store = Store()
    emulator.control.add_fault(method="POST", path=r"^/contacts/imports$", times=1, action="drop")
    with pytest.raises(EloquaTransportError):
        ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    name = f"people [airflow-load {definition_key(KEY, 'load-1')}]"
    noted = RequestedDefinition(name, "contacts", None, "imports", "load-1")
    assert Checkpoint(store).requested_load_definition == noted and Checkpoint(store).load_definition is None
    assert emulator.control.state()["definitions"] == []

    again = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))

    assert not again.reused and [d["uri"] for d in emulator.control.state()["definitions"]] == [again.uri]
    assert Checkpoint(store).load_definition == (again.uri, "load-1")
    assert Checkpoint(store).requested_load_definition is None


def test_a_lost_definition_the_same_load_cannot_use_is_deleted_before_it_creates_its_own(hook, emulator, caplog):
    """The DAG's ``name`` changed between tries (not part of the load: the same load goes on), so the
    definition whose create answer was lost has another name than the one this try would create; it
    is found by the name noted and deleted: one definition is left, the new one."""
    store = Store()
    emulator.control.add_fault(method="POST", path=r"^/contacts/imports$", times=1, action="drop_after")
    with pytest.raises(EloquaTransportError):
        ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(SPEC, KEY))
    ((lost, lost_name),) = [(d["uri"], d["name"]) for d in emulator.control.state()["definitions"]]
    renamed = DefinitionSpec("imports", "contacts", "people, renamed", {"Email": EMAIL}, "Email")

    with caplog.at_level(logging.INFO):
        again = ensure_load_definition(hook, Checkpoint(store), "load-1", from_spec(renamed, KEY))

    assert [d["uri"] for d in emulator.control.state()["definitions"]] == [again.uri] and again.uri != lost
    assert f"Found load definition {lost} ({lost_name}), which an earlier try asked for" in caplog.text


def test_a_check_before_creation_that_fails_creates_nothing(hook, emulator):
    def refuse() -> None:
        raise EloquaInputError("row 2: bad")

    with pytest.raises(EloquaInputError, match="row 2: bad"):
        ensure_load_definition(hook, Checkpoint(Store()), "load-1", from_spec(SPEC, KEY), before_create=refuse)
    assert emulator.control.state()["definitions"] == []


def test_a_template_that_does_not_exist_fails_naming_it(hook, emulator):
    with pytest.raises(EloquaInputError, match=r"definition_uri /contacts/imports/99 does not exist in Eloqua"):
        from_template(hook, urls.parse_definition_uri("/contacts/imports/99"), "0123456789ab", "P2D")
    assert emulator.control.state()["definitions"] == []
