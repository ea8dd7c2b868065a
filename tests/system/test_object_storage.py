"""s3:// for real: a CSV read from a real S3 API on loopback (moto's server), through Airflow's Amazon
provider and s3fs exactly as a user configures them (an ``aws`` connection with ``endpoint_url`` in its
extra, ``ObjectStoragePath("s3://...", conn_id=...)``), loaded by a real EloquaImportOperator run
(``dag.test()``) into the emulator, with the rejects written back to s3://.

What is proven: every row arrives exactly once (the emulator's syncs created one record per valid
row, updated none, and rejected exactly the planted bad rows, which the rejects file on s3:// names
by input row), and the file is streamed: at every moment the worker had asked S3 for at most a few
chunks and one read-ahead block more than Eloqua had already staged, never for the file. That is read
from the servers' own logs, ordered by the host's one monotonic clock (the S3 server logs each GET when
it arrives, the emulator each upload when it is staged), so it is a fact about the order of events, not
about time or about how busy the machine is. Together with the prefetcher's own test (at most two
chunks alive, tests/test_prefetch.py) it is what "flat memory" means here.

Why a 48 MiB file shows what a 320 MiB one would: the bound (``slack`` below) is set by ``chunk_bytes``
and the read-ahead block (the shipped ``READ_BLOCK_BYTES``), never by the file's size, and the file is
more than four times the bound and 48 chunks long, so a reader that kept a share of the file (read it
whole, or with s3fs's default 50 MiB block) breaks the bound at its first GET, and one that ran ahead
a little more with every chunk breaks it before the end. Small chunks (1 MiB) make the file many chunks
long; ``max_bytes_per_sync`` makes it two syncs, as a file past Oracle's 250 MB per sync is. The worker's
peak RSS growth is printed for the record but not asserted: it depends on the allocator and the
machine, and memory figures belong in ``make bench``.

moto, the emulator and the file's generator run in child processes so that only the task's own
memory is measured (``dag.test()`` runs the task in the test process).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from airflow_provider_eloqua.emulator import EmulatorControl, airflow_connection_json
from airflow_provider_eloqua.storage import READ_BLOCK_BYTES
from tests.dag_runner import run_dag
from tests.system.s3_loopback import (
    aws_connection_json,
    bad_rows,
    emulator_process,
    moto_server,
    read_log,
    rows_for,
    write_in_child,
)

DAG_FILE = Path(__file__).with_name("dags") / "eloqua_s3.py"
MIB = 1 << 20
FILE_BYTES = 48 * MIB
CHUNK_BYTES = 1 * MIB
#: Two syncs read from one stream, as a file past Oracle's 250 MB per sync is loaded.
MAX_BYTES_PER_SYNC = 32 * MIB
CONN_ID = "s3_loopback"
BUCKET = "eloqua-input"

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> int:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return that RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


@pytest.fixture
def s3_and_eloqua(airflow_db, monkeypatch, tmp_path):
    reads = tmp_path / "s3-reads.log"
    with moto_server(reads) as endpoint, emulator_process() as eloqua_url:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", aws_connection_json(endpoint))
        monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", airflow_connection_json(eloqua_url, extra={"timeout": 120}))
        yield endpoint, EmulatorControl(eloqua_url, timeout=120), reads


def _s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="loopback-access-key",
        aws_secret_access_key="loopback-secret-key",
    )


def _load(monkeypatch, key: str, rejects_key: str) -> tuple:
    """Run the DAG over s3://BUCKET/key; return the result and the worker's peak RSS growth in bytes."""
    spec = {
        "source": f"s3://{BUCKET}/{key}",
        "conn_id": CONN_ID,
        "rejects": f"s3://{CONN_ID}@{BUCKET}/{rejects_key}",
        "chunk_bytes": CHUNK_BYTES,
        "max_bytes_per_sync": MAX_BYTES_PER_SYNC,
    }
    monkeypatch.setenv("ELOQUA_S3_SPEC", json.dumps(spec))
    baseline = _reset_peak_rss()
    result = run_dag(DAG_FILE, "eloqua_s3")
    return result, _status_kib("VmHWM") * 1024 - baseline


@pytest.mark.timeout(900)
def test_a_csv_from_s3_loads_every_row_once_in_flat_memory(s3_and_eloqua, monkeypatch):
    endpoint, eloqua, reads = s3_and_eloqua
    s3 = _s3_client(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    # A small load first: the worker imports boto, s3fs and the Amazon provider and loads botocore's
    # service models once; that fixed cost is not what the bound is about.
    write_in_child(f"s3://{CONN_ID}@{BUCKET}/small.csv", 2_000, {})
    warm, warm_growth = _load(monkeypatch, "small.csv", "rejects/small.csv")
    assert warm.state == "success", warm.tasks
    assert warm["import"].return_value["created"] == 2_000
    eloqua.reset()

    rows = rows_for(FILE_BYTES)
    bad = bad_rows(rows)
    write_in_child(f"s3://{CONN_ID}@{BUCKET}/contacts.csv", rows, {})
    size = s3.head_object(Bucket=BUCKET, Key="contacts.csv")["ContentLength"]
    assert size >= FILE_BYTES

    result, growth = _load(monkeypatch, "contacts.csv", "rejects/contacts.csv")
    print(
        f"file {size / MIB:.0f} MiB, {rows} rows; worker peak RSS growth {growth / MIB:.0f} MiB "
        f"(small warm-up load: {warm_growth / MIB:.0f} MiB; printed, not asserted)"
    )

    assert result.state == "success", result.tasks
    summary = result["import"].return_value
    assert summary["rows"] == rows
    assert (summary["rows_processed"], summary["created"], summary["updated"]) == (rows, rows - len(bad), 0)
    assert summary["rejected"] == len(bad) > 0
    state = eloqua.state()
    assert state["records"] == {"/contacts": rows - len(bad)}
    syncs = state["syncs"]
    assert len(syncs) == 2  # two batches: the file is past max_bytes_per_sync
    assert sum(s["rows"] for s in syncs) == rows
    assert {s["status"] for s in syncs} <= {"success", "warning"} and "warning" in {s["status"] for s in syncs}
    assert summary["chunks"] >= size // CHUNK_BYTES

    # Streamed, not slurped: whenever the worker asked S3 for bytes, they lay at most a few chunks past
    # what Eloqua had staged by then. The slack: the chunk being sent and the one being built (the
    # prefetcher starts chunk n + 2 only after chunk n's POST was answered), one more chunk for the
    # difference between input bytes and staged CSV bytes, and s3fs's read-ahead block. Reading the
    # file whole, or with s3fs's default 50 MiB block, breaks it at the first GET.
    slack = 3 * CHUNK_BYTES + READ_BLOCK_BYTES
    assert slack < size / 4
    staged = sorted((u["staged_monotonic_ns"], u["bytes"]) for u in state["uploads"])
    gets = read_log(reads, f"{BUCKET}/contacts.csv")  # not rejects/contacts.csv
    assert len(gets) > size // READ_BLOCK_BYTES  # read in blocks; a whole-object GET is logged as -1
    leads = []
    for at, last in gets:
        asked = size if last < 0 else last + 1
        staged_before = sum(n for t, n in staged if t < at)
        leads.append(asked - staged_before)
        assert asked <= staged_before + slack, (
            f"the worker asked S3 for byte {asked / MIB:.0f} MiB of the file when Eloqua had staged "
            f"{staged_before / MIB:.0f} MiB: it read {(asked - staged_before) / MIB:.0f} MiB ahead"
        )
    print(f"{len(gets)} GETs of the file; the furthest read ahead of what was staged: {max(leads) / MIB:.1f} MiB")

    rejects = s3.get_object(Bucket=BUCKET, Key="rejects/contacts.csv")["Body"].read().decode()
    records = list(csv.DictReader(io.StringIO(rejects)))
    assert [int(r["input_row"]) for r in records] == bad
    assert [json.loads(r["field_values"])["Email"] for r in records] == [f"not-an-address-{i}" for i in bad]
    assert {r["status_code"] for r in records} == {"ELQ-00002"}
