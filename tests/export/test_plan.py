"""export/plan.py: the plan and the checkpoint over a dict for the task state store; the export's own
definitions, named and recognized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_provider_eloqua.definitions import RequestedDefinition
from airflow_provider_eloqua.export.plan import (
    ExportCheckpoint,
    Part,
    Plan,
    created_by_export,
    export_name,
    new_definition_key,
    origin_of,
)
from airflow_provider_eloqua.export.spec import ExportSpec
from airflow_provider_eloqua.export.window import Window
from tests.sync.helpers import Store

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}"}
D1, D2, D3 = (datetime(2026, 12, d, tzinfo=UTC) for d in (1, 2, 3))


def test_a_long_name_is_cut_to_fit_eloquas_100_characters():
    name = export_name("x" * 100, "a1b2c3d4e5f6")
    assert len(name) == 100 and name.endswith(" [airflow-export a1b2c3d4e5f6]")


def test_only_a_name_an_export_gave_is_recognized_as_its_own():
    assert created_by_export(export_name("Nightly", "a1b2c3d4e5f6"))
    assert not created_by_export("Nightly")
    assert not created_by_export("Nightly [airflow-export a1b2c3d4e5f6] copy")
    assert created_by_export(export_name("Nightly", new_definition_key()))
    assert len({new_definition_key() for _ in range(100)}) == 100  # each create's name is its own


def test_a_definition_asked_for_is_noted_until_its_uri_replaces_the_note():
    store = Store()
    requested = RequestedDefinition("n [airflow-export a1b2c3d4e5f6]", "contacts", None, "exports", "export 1")
    ExportCheckpoint(store).requesting_definition(requested, Window(D1, D2))
    assert ExportCheckpoint(store).requested_definition == (requested, Window(D1, D2))
    assert ExportCheckpoint(store).definition is None
    ExportCheckpoint(store).created_definition("/contacts/exports/4", Window(D1, D2))
    assert ExportCheckpoint(store).definition == ("/contacts/exports/4", Window(D1, D2))
    assert ExportCheckpoint(store).requested_definition is None
    ExportCheckpoint(store).requesting_definition(requested, Window(D1, D2))
    ExportCheckpoint(store).forget_export()
    assert store == {}


def test_an_open_until_is_closed_once_and_kept_for_every_try():
    store = Store()
    since = datetime(2026, 12, 1, tzinfo=UTC)
    first = ExportCheckpoint(store).window(Window(since), datetime(2026, 12, 3, 10, tzinfo=UTC), timedelta(hours=1))
    later = ExportCheckpoint(store).window(Window(since), datetime(2026, 12, 3, 18, tzinfo=UTC), timedelta(hours=1))
    assert first == later == Window(since, datetime(2026, 12, 3, 9, tzinfo=UTC))
    given = Window(since, since + timedelta(days=1))
    assert ExportCheckpoint(store).window(given, datetime(2027, 1, 1, tzinfo=UTC), timedelta(hours=1)) == given
    assert ExportCheckpoint(store).window(Window(), datetime(2027, 1, 1, tzinfo=UTC), timedelta(hours=1)) == Window()


def test_a_plan_is_found_again_by_the_next_try_only_for_the_same_export():
    day = ExportSpec(entity="contacts", name="n", fields=FIELDS, window=Window(D1, D2))
    other = day.with_window(Window(D2, D3))
    assert origin_of(day) == origin_of(day.with_window(Window(D1, D2))) != origin_of(other)
    store = Store()
    plan = Plan(origin_of(day), [Part(Window(D1, D2), "/contacts/exports/4", "/syncs/9", 12)], resyncs=1)
    ExportCheckpoint(store).save_plan(plan)
    assert ExportCheckpoint(store).plan(origin_of(day)) == plan and plan.next_pending() is None
    assert ExportCheckpoint(store).plan(origin_of(other)) is None
    assert ExportCheckpoint(store).other_plan(origin_of(other)) == plan  # its definitions are cleaned up
    ExportCheckpoint(store).forget_export()
    assert store == {}
