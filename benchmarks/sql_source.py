"""SQL source benchmark: SqlToEloquaOperator's query rows from PostgreSQL against the upload benchmark's link.

    python -m benchmarks.sql_source [--rows 1000000] [--link 25:40] [--repeat 3] [--rss-rows 10000,1000000] [--smoke]

A private PostgreSQL server (``tests/deployment/postgres.py``: a cluster in a temp dir on a free
loopback port) holds the upload benchmark's contact rows (``benchmarks.run.contact_rows``: 5 text
columns, about 1 in 10 needing CSV quoting, many non-ASCII names), loaded with ``COPY``. Then, on
one capped link (``benchmarks/link_server.py``, the upload benchmark's):

* **limit**: the rows as pre-built CSV chunks POSTed one after another (``benchmarks.run``'s limit).
* **sql**: the query's rows as ``SqlToEloquaOperator`` reads them (``QueryRows`` on the connection's
  ``DbApiHook``: psycopg 3 streaming the result, ``fetch_size`` rows a batch, in a reading thread),
  chunked by the operators' row chunker and staged with ``staging.stage_input`` through an
  ``EloquaHook``. ``ratio`` = limit time / sql time; the target is >= 0.9 at 25 MB/s. ``cpu s``
  is the CPU time of reading the query and building the chunks alone, both threads, no HTTP: on a
  busy machine the wall-clock ratio says more about the machine than the code, this does not.
* **rows/s and peak RSS** (``VmHWM``) of the sql path at each ``--rss-rows`` size, each in a fresh
  process: the result must not be held whole, so 1M rows may peak at most 1.5x 10k rows.

Every run is checked against the link server's own count of requests, body bytes and rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks import run as upload

CONN_ID = "eloqua_bench_warehouse"
QUERY = 'SELECT "Email", "FirstName", "LastName", "Company", "Country" FROM contacts'
FETCH_SIZE = 10_000
DEFAULT_ROWS = 1_000_000
DEFAULT_LINK = (25.0, 40.0)
DEFAULT_RSS_ROWS = (10_000, 1_000_000)
SMOKE = {"rows": 1_000, "link": (1000.0, 1.0), "rss_rows": (200, 1_000), "repeat": 1}
TARGET = 0.9
RSS_TARGET = 1.5


@contextmanager
def postgres(tables: tuple[int, ...]) -> Iterator[Any]:
    """A private PostgreSQL server whose tables ``contacts_<n>`` hold the first n benchmark rows."""
    import psycopg

    from tests.deployment.postgres import DB_NAME, DB_USER, PostgresServer

    server = PostgresServer()
    try:
        server.start()
        with psycopg.connect(host="127.0.0.1", port=server.port, user=DB_USER, dbname=DB_NAME) as conn:
            for n in tables:
                columns = ", ".join(f'"{name}" text' for name in upload.FIELDS)
                conn.execute(f"CREATE TABLE contacts_{n} ({columns})")
                text = io.StringIO()
                csv.writer(text, lineterminator="\n").writerows(
                    [r[k] for k in upload.FIELDS] for r in upload.contact_rows(n)
                )
                with conn.cursor().copy(f"COPY contacts_{n} FROM STDIN WITH (FORMAT csv)") as copy:
                    copy.write(text.getvalue())
                del text
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": server.port, "login": DB_USER, "schema": DB_NAME}
        )
        yield server
    finally:
        server.stop()


def query_rows(n: int) -> Any:
    """The operator's row source for ``contacts_<n>``, built as the operator builds it."""
    from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator

    operator = SqlToEloquaOperator(
        task_id="bench",
        sql=QUERY.replace("FROM contacts", f"FROM contacts_{n}"),
        sql_conn_id=CONN_ID,
        definition_uri=upload.DEFINITION_URI,
        fetch_size=FETCH_SIZE,
    )
    return operator.query_rows


def sql_chunks(rows: Any) -> Iterator:
    """The chunks the operator builds from the query's rows."""
    from airflow_provider_eloqua.chunking import DEFAULT_CHUNK_BYTES, iter_row_chunks

    with rows.open() as it:
        yield from iter_row_chunks(it, upload.FIELDS, upload.IDENTIFIER, DEFAULT_CHUNK_BYTES)


def run_sql(hook: Any, rows: Any) -> Any:
    from airflow_provider_eloqua.staging import stage_input

    return stage_input(hook, upload.DEFINITION_URI, lambda: sql_chunks(rows))


def rss_child(n: int, port: int) -> dict[str, Any]:
    """One sql upload of ``contacts_<n>`` in this (fresh) process: rows, seconds and peak RSS."""
    hook = upload.make_hook(port)
    hook.session  # noqa: B018 - build the session before measuring
    rows = query_rows(n)
    before = upload._maxrss_mb()
    start = time.perf_counter()
    result = run_sql(hook, rows)
    seconds = time.perf_counter() - start
    return {
        "rows": result.rows,
        "bytes": result.bytes,
        "chunks": result.chunks,
        "seconds": seconds,
        "before_mb": before,
        "peak_mb": upload._maxrss_mb(),
    }


def measure_rss(n: int, port: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.sql_source", "--rss-child", str(n), str(port)]
    out = subprocess.run(
        cmd, cwd=upload.REPO, capture_output=True, text=True, timeout=1800, check=False, env=os.environ
    )
    if out.returncode != 0:
        raise RuntimeError(f"RSS child {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    n: int = DEFAULT_ROWS,
    link: tuple[float, float] = DEFAULT_LINK,
    repeat: int = 3,
    rss_rows: tuple[int, ...] = DEFAULT_RSS_ROWS,
) -> dict[str, Any]:
    """Limit and sql rows on ``link``, then each ``rss_rows`` size in a fresh process; checked, not judged."""
    import tempfile
    from pathlib import Path

    import requests

    from airflow_provider_eloqua.chunking import CSV_CONTENT_TYPE

    results: dict[str, Any] = {"link": link, "rss": {}}
    with postgres(tuple(sorted({n, *rss_rows}))), upload.LinkServer(*link) as server:
        hook = upload.make_hook(server.port)
        with tempfile.TemporaryDirectory(prefix="eloqua-bench-sql-") as tmp:
            bodies = upload.limit_bodies(upload.write_inputs(Path(tmp), n).paths["csv"])
        session = requests.Session()
        upload.run_limit(session, server.data_url, bodies[:1], CSV_CONTENT_TYPE)  # open the connection
        server.stats(reset=True)
        limit_s, _ = upload.best_time(
            lambda b=bodies: upload.run_limit(session, server.data_url, b, CSV_CONTENT_TYPE), repeat
        )
        limit = upload.Row(link, "limit", n, len(bodies), sum(map(len, bodies)), limit_s, limit_s, runs=repeat)
        upload._check_server(limit, server.stats(reset=True))
        del bodies
        print(upload._line(limit), flush=True)
        rows = query_rows(n)
        # CPU seconds of this process (the reading thread's included) building the chunks alone, no HTTP:
        # what the path costs whatever else the machine is doing at the time.
        cpu_s, _ = upload.best_time(lambda: sum(1 for _ in sql_chunks(rows)), repeat, time.process_time)
        seconds, staged = upload.best_time(lambda: run_sql(hook, rows), repeat)
        sql = upload.Row(link, "sql", staged.rows, staged.chunks, staged.bytes, seconds, limit_s, cpu_s, runs=repeat)
        upload._check_server(sql, server.stats(reset=True))
        print(upload._line(sql), flush=True)
        results.update(limit=limit, sql=sql)
        for size in rss_rows:
            results["rss"][size] = measure_rss(size, server.port)
            got = results["rss"][size]
            print(
                f"  {size:,} rows: {got['rows'] / got['seconds']:,.0f} rows/s, peak RSS {got['peak_mb']:.0f} MiB",
                flush=True,
            )
    return results


def report(results: dict[str, Any]) -> str:
    limit, sql = results["limit"], results["sql"]
    head = (
        f"{'link':<16} {'path':<15} {'rows':>9} {'POSTs':>5} {'wire MB':>8} {'time s':>7} {'MB/s':>7} {'ratio':>6} "
        f"{'cpu s':>6}"
    )
    met = "met" if sql.ratio >= TARGET else "NOT MET"
    lines = [head, "-" * len(head), upload._line(limit), upload._line(sql) + f"  (target >= {TARGET}: {met})", ""]
    sizes = sorted(results["rss"])
    for size in sizes:
        got = results["rss"][size]
        lines.append(
            f"  {size:>9,} rows from PostgreSQL: {got['rows'] / got['seconds']:>9,.0f} rows/s, "
            f"peak RSS {got['peak_mb']:.0f} MiB (before the upload {got['before_mb']:.0f}), {got['chunks']} chunk(s)"
        )
    if len(sizes) > 1:
        x = results["rss"][sizes[-1]]["peak_mb"] / results["rss"][sizes[0]]["peak_mb"]
        lines.append(
            f"  peak RSS {sizes[-1]:,} / {sizes[0]:,} rows: {x:.2f}x (target <= {RSS_TARGET}x: "
            f"{'met' if x <= RSS_TARGET else 'NOT MET'})"
        )
    lines += [
        "",
        "ratio = limit time / sql time; limit = the rows as pre-built CSV chunks POSTed by requests.Session;",
        f"sql = the query's rows (streamed, fetch_size {FETCH_SIZE:,}) chunked and staged as the operator does;",
        "cpu s = CPU time of reading the query and building the chunks alone (both threads), no HTTP.",
        f"load average (1 min) at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sql_source", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=None, help=f"rows for the throughput run (default {DEFAULT_ROWS:,})"
    )
    parser.add_argument("--link", default=None, help="RATE_MBps:RTT_ms of the capped link (default 25:40)")
    parser.add_argument("--repeat", type=int, default=None, help="runs; the best counts (default 3)")
    parser.add_argument("--rss-rows", default=None, help="comma-separated row counts for rows/s and peak RSS")
    parser.add_argument("--smoke", action="store_true", help="tiny rows on a fast link, one run: checks the harness")
    parser.add_argument("--rss-child", nargs=2, metavar=("N", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        print(json.dumps(rss_child(int(args.rss_child[0]), int(args.rss_child[1]))))
        return {}
    base = (
        SMOKE if args.smoke else {"rows": DEFAULT_ROWS, "link": DEFAULT_LINK, "rss_rows": DEFAULT_RSS_ROWS, "repeat": 3}
    )
    results = run(
        n=args.rows or base["rows"],
        link=upload._links(args.link)[0] if args.link else base["link"],
        repeat=args.repeat or base["repeat"],
        rss_rows=tuple(int(s) for s in args.rss_rows.split(",")) if args.rss_rows else base["rss_rows"],
    )
    print()
    print(report(results))
    return results


if __name__ == "__main__":
    # A killed run still stops its PostgreSQL server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
