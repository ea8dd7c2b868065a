"""Uploading and clearing staged data: formats, encodings, size limits and sync-on-import."""

from __future__ import annotations


def _staged(emulator, uri):
    return next(d for d in emulator.control.state()["definitions"] if d["uri"] == uri)


def test_json_and_csv_uploads_are_staged_and_recorded(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com", "First": "Ann"}])
    csv_body = '\ufeffEmail,First\r\nb@example.com,Bob\r\nc@example.com,"Cy, Jr"\r\n'.encode()
    response = bulk.post(uri + "/data", data=csv_body, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert response.status_code == 204 and response.content == b""
    assert _staged(emulator, uri)["staged_rows"] == 3
    uploads = emulator.control.state()["uploads"]
    assert [(u["rows"], u["content_type"]) for u in uploads] == [(1, "application/json"), (2, "text/csv")]
    assert uploads[1]["bytes"] == len(csv_body)
    # The BOM did not end up in the first column name: the header maps to the Email field.
    assert bulk.wait(bulk.start_sync(uri))["status"] == "success"
    emails = {r["identifier"] for r in emulator.control.records("/contacts")}
    assert emails == {"a@example.com", "b@example.com", "c@example.com"}
    assert any(r.get("{{Contact.Field(C_FirstName)}}") == "Cy, Jr" for r in emulator.control.records("/contacts"))


def test_oversized_post_is_404_and_stages_nothing(emulator, bulk):
    emulator.control.configure(max_post_bytes=200)
    uri = bulk.create()["uri"]
    rows = [{"Email": f"user{i}@example.com"} for i in range(20)]
    response = bulk.post(uri + "/data", json=rows)
    assert response.status_code == 404
    assert _staged(emulator, uri)["staged_rows"] == 0 and emulator.control.state()["uploads"] == []
    bulk.stage(uri, rows[:2])  # the connection and the definition still work afterwards
    assert _staged(emulator, uri)["staged_rows"] == 2


def test_staging_quota_is_413(emulator, bulk):
    emulator.control.configure(staging_quota_bytes=100)
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com"}])
    response = bulk.post(uri + "/data", json=[{"Email": f"u{i}@example.com"} for i in range(5)])
    assert response.status_code == 413
    assert _staged(emulator, uri)["staged_rows"] == 1


def test_bad_bodies_are_400(emulator, bulk):
    uri = bulk.create()["uri"]
    latin1 = "Email,First\r\nz@example.com,Zoë\r\n".encode("latin-1")
    assert bulk.post(uri + "/data", data=latin1, headers={"Content-Type": "text/csv"}).status_code == 400
    assert bulk.post(uri + "/data", json={"Email": "a@example.com"}).status_code == 400
    assert bulk.post(uri + "/data", json=["a@example.com"]).status_code == 400
    assert bulk.post("/contacts/imports/999/data", json=[]).status_code == 404
    assert _staged(emulator, uri)["staged_rows"] == 0


def test_delete_data_clears_staging_but_not_while_syncing(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.stage(uri, [{"Email": "a@example.com"}])
    assert bulk.delete(uri + "/data").status_code == 204
    assert _staged(emulator, uri)["staged_rows"] == 0
    bulk.stage(uri, [{"Email": "b@example.com"}])
    sync_uri = bulk.start_sync(uri)
    conflict = bulk.delete(uri + "/data")
    assert conflict.status_code == 409 and conflict.json()
    assert bulk.get(sync_uri).json()["status"] == "pending"
    assert bulk.delete(uri + "/data").status_code == 409
    bulk.wait(sync_uri)
    assert bulk.delete(uri + "/data").status_code == 204


def test_sync_triggered_on_import_answers_201_with_a_sync(emulator, bulk):
    uri = bulk.create(isSyncTriggeredOnImport=True)["uri"]
    response = bulk.post(uri + "/data", json=[{"Email": "a@example.com", "First": "Ann"}])
    assert response.status_code == 201
    sync = response.json()
    assert sync["status"] == "pending" and sync["syncedInstanceUri"] == uri
    assert bulk.wait(sync["uri"])["status"] == "success"
    assert len(emulator.control.records("/contacts")) == 1


def test_staging_belongs_to_the_definition_shared_by_every_post_and_swept_by_a_sync(emulator, bulk):
    """As on Eloqua: every client's POST to a definition adds to one staging area, a sync takes all
    of it (whoever staged it) and leaves it empty, a DELETE clears all of it, and another
    definition's staging is untouched throughout. The provider's load definitions rely on this."""
    shared, other = bulk.create()["uri"], bulk.create()["uri"]
    second_client = type(bulk)(emulator.url)
    bulk.stage(shared, [{"Email": "a@example.com", "First": "A"}])
    second_client.stage(shared, [{"Email": "b@example.com", "First": "B"}, {"Email": "c@example.com", "First": "C"}])
    bulk.stage(other, [{"Email": "z@example.com", "First": "Z"}])
    assert (_staged(emulator, shared)["staged_rows"], _staged(emulator, other)["staged_rows"]) == (3, 1)

    first = bulk.start_sync(shared)
    assert _staged(emulator, shared)["staged_rows"] == 0  # swept into the sync at once
    bulk.stage(shared, [{"Email": "d@example.com", "First": "D"}])  # staged while the sync runs: for the next one
    assert bulk.wait(first)["status"] == "success"
    synced = [s for s in emulator.control.state()["syncs"] if s["uri"] == first]
    assert [s["rows"] for s in synced] == [3]
    processed = [log["count"] for log in bulk.items(first + "/logs") if log["statusCode"] == "ELQ-00001"]
    assert processed == [3]
    assert _staged(emulator, shared)["staged_rows"] == 1

    assert bulk.delete(shared + "/data").status_code == 204
    assert _staged(emulator, shared)["staged_rows"] == 0
    assert _staged(emulator, other)["staged_rows"] == 1
    emails = {r["identifier"] for r in emulator.control.records("/contacts")}
    assert emails == {"a@example.com", "b@example.com", "c@example.com"}
