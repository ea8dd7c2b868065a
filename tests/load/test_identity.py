"""load/identity.py and the checkpoint's note of it: what makes two tries the same load (pure, no HTTP)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.identity import LoadIdentity, input_fingerprint
from airflow_provider_eloqua.load.spec import InputSpec
from tests.load.test_checkpoint import Store

ROWS = [{"Email": f"p{i}@x.io", "FirstName": f"F{i}"} for i in range(3)]


def test_rows_are_the_same_input_only_with_the_same_values():
    same = input_fingerprint(InputSpec(data=[dict(row) for row in ROWS]))
    assert input_fingerprint(InputSpec(data=ROWS)) == same
    assert same.startswith("3 rows, sha256 ")
    changed = [*ROWS[:2], {**ROWS[2], "FirstName": "other"}]
    assert input_fingerprint(InputSpec(data=changed)) != same


def test_a_local_file_is_identified_by_its_bytes_not_its_timestamp(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"Email\na@x.io\n")
    first = input_fingerprint(InputSpec(path=str(path)))
    path.write_bytes(b"Email\na@x.io\n")  # rewritten with the same bytes
    os.utime(path, (1, 1))
    assert input_fingerprint(InputSpec(path=str(path))) == first == "csv file of 13 bytes, sha256 " + first[-16:]
    path.write_bytes(b"Email\nb@x.io\n")  # same size, other bytes
    assert input_fingerprint(InputSpec(path=str(path))) != first
    assert input_fingerprint(InputSpec(path=f"file://{path}")) == input_fingerprint(InputSpec(path=str(path)))


def test_an_object_is_identified_by_what_the_store_reports_of_its_version():
    import fsspec
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))  # an object store without a server: fsspec's in-memory one
    target = ObjectStoragePath("memory://bucket/identity/contacts.csv")
    target.write_bytes(b"Email\na@x.io\n")
    source = InputSpec(path=str(target))
    first = input_fingerprint(source)
    assert first.startswith("csv object of 13 bytes, version ")
    assert input_fingerprint(source) == first
    target.write_bytes(b"Email\na@x.io\nb@x.io\n")  # rewritten: a new size and creation time
    assert input_fingerprint(source) != first


def test_a_missing_path_fails_naming_it(tmp_path):
    with pytest.raises(EloquaInputError, match=r"path '.*missing\.csv' does not exist"):
        input_fingerprint(InputSpec(path=str(tmp_path / "missing.csv")))


def test_the_log_line_says_what_changed():
    earlier = LoadIdentity("3 rows, sha256 a", "properties 1", "the template /contacts/imports/4")
    assert LoadIdentity("3 rows, sha256 a", "properties 1").same_as(earlier)
    now = LoadIdentity("4 rows, sha256 b", "properties 2", "the template /contacts/imports/4")
    assert now.change_since(earlier) == (
        "the input changed (3 rows, sha256 a; now 4 rows, sha256 b) and "
        "the template /contacts/imports/4 changed (properties 1; now properties 2)"
    )
    assert now.key != earlier.key


def test_the_checkpoint_keeps_the_load_until_it_is_done_and_then_its_last_sync():
    store = Store()
    checkpoint = Checkpoint(store)
    identity = LoadIdentity("3 rows, sha256 a", "properties 1")
    checkpoint.begin_load(identity)
    checkpoint.created_load_definition("/contacts/imports/7", identity.key)
    assert Checkpoint(store).load_identity == identity
    assert Checkpoint(store).earlier_work() == ["load definition /contacts/imports/7"]
    store.set("eloqua_sync_uri", "/syncs/100")
    checkpoint.loaded()
    assert Checkpoint(store).load_identity is None and Checkpoint(store).earlier_work() == []
    assert Checkpoint(store).loaded_before == "/syncs/100"


def _context(store, try_number, max_tries):
    return {"task_state_store": store, "ti": SimpleNamespace(try_number=try_number, max_tries=max_tries)}


def test_a_try_after_a_clear_is_told_from_an_automatic_retry():
    store = Store()  # retries=2: max_tries is 2 until a Clear
    assert Checkpoint.of(_context(store, 1, 2)).after_clear  # the task's first try
    assert not Checkpoint.of(_context(store, 2, 2)).after_clear  # an automatic retry
    assert not Checkpoint.of(_context(store, 3, 2)).after_clear
    assert Checkpoint.of(_context(store, 4, 5)).after_clear  # a Clear at try 3: max_tries = 3 + 2
    assert not Checkpoint.of(_context(store, 5, 5)).after_clear
