"""export/writer.py: pages streamed to a file that appears at its path whole, or not at all.

Local paths, ``file://`` URLs, and s3:// against moto's S3 server on loopback (a real S3 API).
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from airflow_provider_eloqua.export.spec import OutputSpec
from airflow_provider_eloqua.export.writer import ExportFile
from tests.system.s3_loopback import aws_connection_json, moto_server

LABELS = ("Email", "First Name", "Note")
PAGE_1 = [
    {"Email": "a@example.com", "First Name": "Ann", "Note": 'says "hi", twice'},
    {"Email": "b@example.com", "First Name": None, "Note": "line\nbreak"},
]
PAGE_2 = [{"Email": "c@example.com", "First Name": "Çé", "Note": ""}]


def _write(path, *pages, fmt=None, key="k1") -> ExportFile:
    with ExportFile(OutputSpec(str(path), format=fmt), LABELS, key=key) as out:
        for page in pages:
            out.write_rows(page)
        out.commit()
    return out


def test_csv_has_a_header_of_the_labels_and_every_row_once(tmp_path):
    target = tmp_path / "deep" / "contacts.csv"
    out = _write(target, PAGE_1, [], PAGE_2)
    data = target.read_bytes()
    assert out.rows == 3 and out.bytes == len(data)
    assert list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""))) == [
        list(LABELS),
        ["a@example.com", "Ann", 'says "hi", twice'],
        ["b@example.com", "", "line\nbreak"],
        ["c@example.com", "Çé", ""],
    ]
    assert [p.name for p in target.parent.iterdir()] == ["contacts.csv"]  # no part file left


def test_ndjson_has_one_object_per_row_with_nulls_kept(tmp_path):
    target = tmp_path / "contacts.ndjson"
    out = _write(target, PAGE_1, PAGE_2)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [*PAGE_1, *PAGE_2]
    assert list(json.loads(lines[0])) == list(LABELS)  # the labels' order
    assert out.bytes == target.stat().st_size


def test_json_is_one_array_of_the_rows_as_the_import_reads_a_json_file(tmp_path):
    from airflow_provider_eloqua.chunking import iter_file_rows

    target = tmp_path / "contacts.json"
    out = _write(target, PAGE_1, [], PAGE_2)
    assert json.loads(target.read_text(encoding="utf-8")) == [*PAGE_1, *PAGE_2]
    assert out.rows == 3 and out.bytes == target.stat().st_size
    with target.open("rb") as stream:
        assert list(iter_file_rows(stream, "json")) == [*PAGE_1, *PAGE_2]
    _write(tmp_path / "none.json")
    assert json.loads((tmp_path / "none.json").read_text()) == []  # not a 0-byte file: the import refuses those
    _write(tmp_path / "lines.json", PAGE_1, fmt="ndjson")
    assert len((tmp_path / "lines.json").read_text().splitlines()) == 2  # NDJSON when asked for


def test_a_key_missing_from_an_item_is_written_empty(tmp_path):
    _write(tmp_path / "a.csv", [{"Email": "x@example.com"}])
    assert (tmp_path / "a.csv").read_text().splitlines()[1] == "x@example.com,,"


def test_nothing_is_at_the_path_until_commit(tmp_path):
    target = tmp_path / "contacts.csv"
    with ExportFile(OutputSpec(str(target)), LABELS, key="k1") as out:
        out.write_rows(PAGE_1)
        assert not target.exists()
        assert (tmp_path / ".contacts.csv.k1.part").exists()
        out.commit()
    assert target.exists() and not (tmp_path / ".contacts.csv.k1.part").exists()


def test_a_failed_try_leaves_nothing_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "contacts.csv"
    target.write_text("yesterday's file\n")
    with (
        pytest.raises(RuntimeError, match="page 2 failed"),
        ExportFile(OutputSpec(str(target)), LABELS, key="k1") as out,
    ):
        out.write_rows(PAGE_1)
        raise RuntimeError("page 2 failed")
    assert target.read_text() == "yesterday's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]


def test_a_retry_writes_over_what_a_killed_try_left(tmp_path):
    target = tmp_path / "contacts.csv"
    (tmp_path / ".contacts.csv.k1.part").write_text("half a file from a killed worker")
    _write(target, PAGE_2, key="k1")
    assert target.read_text().splitlines()[1] == "c@example.com,Çé,"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]


def test_a_file_url_is_written_like_a_local_path(tmp_path):
    target = tmp_path / "contacts.ndjson"
    with ExportFile(OutputSpec(f"file://{target}"), LABELS, key="k2") as out:
        out.write_rows(PAGE_1)
        assert not target.exists()
        out.commit()
    assert len(target.read_text().splitlines()) == 2


@pytest.fixture(scope="module")
def s3():
    with moto_server() as endpoint:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="loopback-access-key",
            aws_secret_access_key="loopback-secret-key",
        )
        client.create_bucket(Bucket="exports")
        yield endpoint, client


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket="exports").get("Contents", []))


def test_an_object_appears_only_when_complete_and_never_after_a_failure(s3, monkeypatch):
    endpoint, client = s3
    monkeypatch.setenv("AIRFLOW_CONN_EXPORT_S3", aws_connection_json(endpoint))
    url = "s3://export_s3@exports/daily/contacts.csv"
    with pytest.raises(RuntimeError, match="dropped"), ExportFile(OutputSpec(url), LABELS, key="k3") as out:
        out.write_rows(PAGE_1)
        raise RuntimeError("dropped")
    assert _keys(client) == []
    assert client.list_multipart_uploads(Bucket="exports").get("Uploads", []) == []  # aborted

    with ExportFile(OutputSpec(url), LABELS, key="k3") as out:
        out.write_rows(PAGE_1 * 40_000)  # > 5 MiB: several parts
        assert _keys(client) == []
        out.write_rows(PAGE_2)
        out.commit()
    assert _keys(client) == ["daily/contacts.csv"]
    body = client.get_object(Bucket="exports", Key="daily/contacts.csv")["Body"].read()
    assert len(body) == out.bytes
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert len(rows) == 1 + 80_001 and rows[-1] == ["c@example.com", "Çé", ""]


def test_a_one_column_export_and_a_page_with_an_odd_item(tmp_path):
    with ExportFile(OutputSpec(str(tmp_path / "one.csv")), ("Email",), key="k") as out:
        out.write_rows([{"Email": "a@example.com"}, {"Email": None}])
        out.commit()
    assert (tmp_path / "one.csv").read_text().splitlines() == [
        "Email",
        "a@example.com",
        '""',
    ]  # a lone empty field is quoted
    with ExportFile(OutputSpec(str(tmp_path / "odd.ndjson")), LABELS, key="k") as out:
        out.write_rows([PAGE_1[0], {"Email": "x@example.com", "Extra": 1}])  # not every item has the labels
        out.commit()
    lines = [json.loads(line) for line in (tmp_path / "odd.ndjson").read_text().splitlines()]
    assert lines == [PAGE_1[0], {"Email": "x@example.com", "First Name": None, "Note": None}]
