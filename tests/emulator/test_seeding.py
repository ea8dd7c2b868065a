"""The control API that writes records straight into the emulated site, and the emulator's clock."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.conftest import EMAIL, FIRST_NAME


def test_a_template_seeds_numbered_records_with_ids_and_timestamps(emulator):
    summary = emulator.control.seed(
        "/contacts",
        count=3,
        start=10,
        template={EMAIL: "c{n}@example.com", FIRST_NAME: "N{n}"},
        createdAt="2026-01-01T00:00:00Z",
        stepSeconds=60,
    )
    assert summary == {"entity": "/contacts", "created": 3, "updated": 0, "total": 3, "firstId": 1, "lastId": 3}
    records = emulator.control.records("/contacts")
    assert [(r["identifier"], r["id"], r[FIRST_NAME], r["createdAt"], r["updatedAt"]) for r in records] == [
        ("c10@example.com", 1, "N10", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"),
        ("c11@example.com", 2, "N11", "2026-01-01T00:01:00.000000Z", "2026-01-01T00:01:00.000000Z"),
        ("c12@example.com", 3, "N12", "2026-01-01T00:02:00.000000Z", "2026-01-01T00:02:00.000000Z"),
    ]


def test_explicit_records_carry_their_own_timestamps_and_ids_continue(emulator):
    emulator.control.seed("/accounts", [{"{{Account.Field(M_CompanyName)}}": "Acme"}])
    emulator.control.seed(
        "/accounts",
        [
            {
                "{{Account.Field(M_CompanyName)}}": "Beta",
                "createdAt": "2026-05-01 10:00:00",
                "updatedAt": "2026-05-02T00:00:00+02:00",
            }
        ],
    )
    beta = emulator.control.records("/accounts")[1]
    assert (beta["id"], beta["createdAt"], beta["updatedAt"]) == (
        2,
        "2026-05-01T10:00:00.000000Z",
        "2026-05-01T22:00:00.000000Z",
    )


def test_a_seeded_contact_is_updated_by_an_import_matching_its_email(emulator, bulk):
    emulator.control.seed("/contacts", [{EMAIL: "Ann@Example.com", FIRST_NAME: "Ann"}])
    imports = bulk.create()
    bulk.sync(imports["uri"], [{"Email": "ann@example.com", "First": "Anne"}])
    [record] = emulator.control.records("/contacts")
    assert (record["id"], record[FIRST_NAME]) == (1, "Anne")


def test_activities_of_a_type_get_every_field_of_the_type(emulator):
    emulator.control.seed(
        "/activities", count=2, activityType="EmailSend", template={"{{Activity.Field(SubjectLine)}}": "Hello {n}"}
    )
    first = emulator.control.records("/activities")[0]
    assert first["{{Activity.Type}}"] == "EmailSend"
    assert first["{{Activity.Field(SubjectLine)}}"] == "Hello 1"
    assert first["{{Activity.Field(EmailAddress)}}"] == "contact1@example.com"
    assert first["{{Activity.ExternalId}}"] == "EmailSend-1"


@pytest.mark.parametrize(
    "spec",
    [
        {"entity": "/opportunities"},
        {"entity": "/contacts", "bogus": 1},
        {"entity": "/contacts", "count": -1},
        {"entity": "/contacts", "createdAt": "yesterday"},
        {"entity": "/contacts", "activityType": "EmailSend"},
        {"entity": "/activities", "activityType": "Telepathy"},
        {"entity": "/contacts", "template": {EMAIL: 5}},
        {"entity": "/contacts", "stepSeconds": "x"},
        {"entity": "/contacts", "records": [{"email": "a@example.com"}]},
    ],
)
def test_bad_seed_bodies_are_refused_naming_the_problem(emulator, spec):
    response = requests.post(emulator.url + "/_emulator/seed", json=spec, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]


def test_set_timestamps_moves_one_record(emulator):
    emulator.control.seed("/contacts", count=2, template={EMAIL: "c{n}@example.com"}, createdAt="2026-01-01T00:00:00Z")
    moved = emulator.control.set_timestamps("/contacts", "c2@example.com", updatedAt="2026-02-01T00:00:00Z")
    assert (moved["createdAt"], moved["updatedAt"]) == ("2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z")
    by_id = emulator.control.set_timestamps("/contacts", id=1, createdAt="2025-12-31T00:00:00Z")
    assert (by_id["id"], by_id["createdAt"]) == (1, "2025-12-31T00:00:00.000000Z")
    with pytest.raises(requests.HTTPError):
        emulator.control.set_timestamps("/contacts", "nobody@example.com", updatedAt="2026-02-01T00:00:00Z")


def test_the_clock_stops_moves_and_follows_real_time_again(emulator):
    assert emulator.control.set_clock("2026-04-01T00:00:00Z") == "2026-04-01T00:00:00.000000Z"
    assert emulator.control.set_clock(advance=90) == "2026-04-01T00:01:30.000000Z"
    assert emulator.control.clock() == "2026-04-01T00:01:30.000000Z"
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com"}])
    assert emulator.control.records("/contacts")[0]["createdAt"] == "2026-04-01T00:01:30.000000Z"
    assert not emulator.control.set_clock().startswith("2026-04-01T00:01:30")
    emulator.control.set_clock("2026-04-01T00:00:00Z")
    emulator.control.reset()
    assert not emulator.control.clock().startswith("2026-04-01T00:00:00")


def test_many_contacts_seed_in_one_call(emulator):
    summary = emulator.control.seed("/contacts", count=50_000, template={EMAIL: "c{n}@example.com"})
    assert (summary["created"], summary["lastId"]) == (50_000, 50_000)
    assert emulator.control.state()["records"]["/contacts"] == 50_000


def test_seeding_an_identifier_again_updates_that_record(emulator):
    emulator.control.seed("/contacts", [{EMAIL: "a@example.com", FIRST_NAME: "A"}], createdAt="2026-01-01T00:00:00Z")
    summary = emulator.control.seed(
        "/contacts",
        [{EMAIL: "A@example.com", FIRST_NAME: "B"}, {EMAIL: "c@example.com"}],
        createdAt="2026-02-01T00:00:00Z",
    )
    assert (summary["created"], summary["updated"], summary["total"]) == (1, 1, 2)
    first = emulator.control.records("/contacts")[0]
    assert (first["id"], first[FIRST_NAME], first["createdAt"], first["updatedAt"]) == (
        1,
        "B",
        "2026-01-01T00:00:00.000000Z",
        "2026-02-01T00:00:00.000000Z",
    )
