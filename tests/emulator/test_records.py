"""What the site keeps on each record besides its values: an Eloqua id and system timestamps."""

from __future__ import annotations

from tests.emulator.conftest import EMAIL, FIRST_NAME


def test_imports_give_new_records_ids_and_the_clocks_time(emulator, bulk):
    emulator.control.set_clock("2026-01-01T00:00:00Z")
    imports = bulk.create()
    bulk.sync(imports["uri"], [{"Email": "a@example.com"}, {"Email": "b@example.com"}])
    records = emulator.control.records("/contacts")
    assert [(r["identifier"], r["id"], r["createdAt"], r["updatedAt"]) for r in records] == [
        ("a@example.com", 1, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"),
        ("b@example.com", 2, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"),
    ]


def test_an_update_keeps_the_id_and_creation_time_and_moves_the_modification_time(emulator, bulk):
    emulator.control.set_clock("2026-01-01T00:00:00Z")
    imports = bulk.create()
    bulk.sync(imports["uri"], [{"Email": "a@example.com", "First": "A"}])
    emulator.control.set_clock(advance=3600)
    bulk.sync(imports["uri"], [{"Email": "A@example.com", "First": "B"}])
    [record] = emulator.control.records("/contacts")
    assert (record["id"], record[FIRST_NAME]) == (1, "B")
    assert (record["createdAt"], record["updatedAt"]) == ("2026-01-01T00:00:00.000000Z", "2026-01-01T01:00:00.000000Z")


def test_ids_count_per_entity(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    emulator.control.seed("/customObjects/4", [{"{{CustomObject[4].Field[2]}}": "x"}])
    emulator.control.seed("/customObjects/5", [{"{{CustomObject[5].Field[2]}}": "y"}])
    assert [r["id"] for r in emulator.control.records("/customObjects/5")] == [1]
    imports = bulk.create()
    bulk.sync(imports["uri"], [{"Email": "b@example.com"}])
    assert [r["id"] for r in emulator.control.records("/contacts")] == [1, 2]


def test_an_imported_activity_without_a_date_is_stamped_with_the_import_time(emulator, bulk):
    emulator.control.set_clock("2026-02-02T02:02:02Z")
    fields = {"Type": "{{Activity.Type}}", "Ext": "{{Activity.Field(ExternalId)}}"}
    bulk.load("/activities/imports", fields, "Ext", [{"Type": "WebVisit", "Ext": "w1"}])
    [activity] = emulator.control.records("/activities")
    assert activity["createdAt"] == "2026-02-02T02:02:02.000000Z"
