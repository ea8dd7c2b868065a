"""storage.py: input and output files as local paths or ObjectStoragePath URLs (file:// here; s3:// in
tests/system/test_object_storage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.storage import (
    as_path,
    check_input_path,
    check_not_a_directory,
    open_path,
    output_format,
)


def test_a_local_path_is_a_path_and_a_url_an_object_storage_path(tmp_path):
    assert as_path(str(tmp_path / "a.csv")) == tmp_path / "a.csv"
    assert isinstance(as_path(f"file://{tmp_path}/a.csv"), ObjectStoragePath)
    given = ObjectStoragePath(f"file://{tmp_path}/a.csv")
    assert as_path(given) is given


@pytest.mark.parametrize("url", [False, True])
def test_text_written_and_bytes_read_back_through_either(tmp_path, url):
    target = tmp_path / "new" / "dir" / "out.csv"
    where = f"file://{target}" if url else str(target)
    if url:
        target.parent.mkdir(parents=True)  # object storage has no directories to make
    with open_path(where, "w") as out:
        out.write("Email,Name\r\na@x.io,Zoë\n")
    with open_path(where, "rb") as back:
        assert back.read() == "Email,Name\r\na@x.io,Zoë\n".encode()  # UTF-8, newlines as written


@pytest.mark.parametrize(
    ("path", "fmt"),
    [("a.csv", "csv"), ("s3://b/A.CSV", "csv"), ("a.ndjson", "ndjson"), ("a.jsonl", "ndjson"), ("x/a.json", "json")],
)
def test_the_output_format_comes_from_the_extension(path, fmt):
    assert output_format(path, "path") == fmt


def test_an_output_extension_that_is_no_format_names_the_setting():
    with pytest.raises(
        EloquaInputError, match=r"^output_path must end in .csv, .ndjson, .jsonl or .json; got 'a.parquet'"
    ):
        output_format("a.parquet", "output_path")


def test_an_input_path_must_be_an_existing_file(tmp_path):
    (tmp_path / "in.csv").write_text("Email\n")
    check_input_path(str(tmp_path / "in.csv"))
    check_input_path(f"file://{tmp_path}/in.csv")
    check_input_path(tmp_path / "in.csv")
    for missing in (str(tmp_path / "nope.csv"), f"file://{tmp_path}/nope.csv"):
        with pytest.raises(EloquaInputError, match=r"^path '.*nope.csv' does not exist$"):
            check_input_path(missing)
    with pytest.raises(EloquaInputError, match=r"is not a file \(a directory\?\)$"):
        check_input_path(str(tmp_path))


def test_a_directory_is_named_and_anything_unreadable_left_to_the_caller(tmp_path):
    check_not_a_directory(str(tmp_path / "in.csv"))  # missing: the caller's own error says so
    check_not_a_directory(Path("\0bad"))  # not a path here at all
    with pytest.raises(EloquaInputError, match=rf"^path '{tmp_path}' is not a file \(a directory\?\)$"):
        check_not_a_directory(str(tmp_path))
