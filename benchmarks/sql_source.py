"""SQL source benchmark: SqlToEloquaOperator in real DAG runs, a query's rows from PostgreSQL over the upload link.

    python -m benchmarks.sql_source [--rows 1000000] [--link 25:40] [--repeat 3] [--rss-rows 10000,1000000] [--smoke]

A private PostgreSQL server (``tests/deployment/postgres.py``: a cluster in a temp dir on a free
loopback port) holds the upload benchmark's contact rows (``benchmarks.run.contact_rows``: 5 text
columns, about 1 in 10 needing CSV quoting, many non-ASCII names), loaded with ``COPY``, one table
per row count. Then, on one capped link (``benchmarks/link_server.py``, the upload benchmark's),
each timed from the server's own log (first request's first byte to the last data POST's answer):

* **limit**: plain ``requests`` POSTing the rows as pre-built CSV in the fewest 30 MiB bodies.
* **operator**: ``SqlToEloquaOperator`` (``benchmarks/dags/sql_dag.py``) in ``dag.test()`` DAG runs in
  a fresh process, on a throwaway SQLite metadata DB, with a Postgres connection to the private server
  and the Eloqua connection to the link server: it reads the template, creates its copy, runs the
  query and stages its rows, and starts the sync (``wait=False``). **window** is its window on the
  link; **task** its wall time as Airflow records it (``start_date`` to ``end_date``).
* **stage_input**: the query's rows (``QueryRows`` on the connection's ``DbApiHook``) chunked by the
  operators' row chunker and staged with ``staging.stage_input`` called directly: the second
  column, so that a regression in either path shows. **cpu s**: the CPU time of reading the query
  and building the chunks alone (every thread, no HTTP), which the machine's load moves less.
* **rows/s and peak RSS** (``VmHWM``) at each ``--rss-rows`` size, each in a fresh process: the
  DAG-run process (Airflow, ``dag.test()`` and the task in it, as a user's DAG run has them) and a
  process that only stages the query's rows (the provider's own footprint). 1M rows may peak at
  most 1.5x 10k rows in each.

``ratio`` = limit / time. Targets: the operator's window >= 0.9 of the limit at 25 MB/s, as given,
and restated with the two definition round trips (the template's ``GET``, the copy's ``POST``) that a
load into a definition of its own cannot do without. Every run is checked against the link server's
own count of requests, body bytes and rows.
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
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import operators
from benchmarks import run as upload

CONN_ID = "eloqua_bench_warehouse"
QUERY = 'SELECT "Email", "FirstName", "LastName", "Company", "Country" FROM contacts'
DAG_FILE = Path(__file__).parent / "dags" / "sql_dag.py"
DAG_ID = "eloqua_bench_sql"
FETCH_SIZE = 10_000  # the operator's default
WARM_UP_ROWS = 10
DEFAULT_ROWS = 1_000_000
DEFAULT_LINK = (25.0, 40.0)
DEFAULT_RSS_ROWS = (10_000, 1_000_000)
SMOKE = {"rows": 1_000, "link": (1000.0, 1.0), "rss_rows": (1_000,), "repeat": 1}
TARGET = 0.9
RSS_TARGET = 1.5
#: The definition calls a load into a definition of its own makes before its first data POST.
DEFINITION_ROUND_TRIPS = 2


def table(n: int) -> str:
    return f"contacts_{n}"


@contextmanager
def postgres(sizes: tuple[int, ...]) -> Iterator[Any]:
    """A private PostgreSQL server whose tables ``contacts_<n>`` hold the first n benchmark rows; the
    ``eloqua_bench_warehouse`` connection (an environment variable, which DAG-run processes inherit)."""
    import psycopg

    from tests.deployment.postgres import DB_NAME, DB_USER, PostgresServer

    server = PostgresServer()
    try:
        server.start()
        with psycopg.connect(host="127.0.0.1", port=server.port, user=DB_USER, dbname=DB_NAME) as conn:
            for n in sizes:
                columns = ", ".join(f'"{name}" text' for name in upload.FIELDS)
                conn.execute(f"CREATE TABLE {table(n)} ({columns})")
                text = io.StringIO()
                csv.writer(text, lineterminator="\n").writerows(
                    [r[k] for k in upload.FIELDS] for r in upload.contact_rows(n)
                )
                with conn.cursor().copy(f"COPY {table(n)} FROM STDIN WITH (FORMAT csv)") as copy:
                    copy.write(text.getvalue())
                del text
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": server.port, "login": DB_USER, "schema": DB_NAME}
        )
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------
# stage_input: the query's rows staged directly, and its CPU time
# ------------------------------------------------------------------------------------------------


def query_rows(n: int) -> Any:
    """The operator's row source for ``contacts_<n>``, built as the operator builds it."""
    from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator

    operator = SqlToEloquaOperator(
        task_id="bench",
        sql=QUERY.replace("FROM contacts", f"FROM {table(n)}"),
        sql_conn_id=CONN_ID,
        definition_uri=upload.DEFINITION_URI,
        fetch_size=FETCH_SIZE,
    )
    return operator.query_rows


def sql_chunks(rows: Any) -> Iterator:
    """The chunks the operator builds from the query's rows."""
    from airflow_provider_eloqua.chunking import DEFAULT_CHUNK_BYTES, iter_record_chunks

    columns = rows.columns
    with rows.open_records() as records:
        yield from iter_record_chunks(records, columns, upload.FIELDS, upload.IDENTIFIER, DEFAULT_CHUNK_BYTES)


def run_sql(hook: Any, rows: Any) -> Any:
    from airflow_provider_eloqua.staging import stage_input

    return stage_input(hook, upload.DEFINITION_URI, lambda: sql_chunks(rows))


def measure_stage_input(server: upload.LinkServer, n: int, repeat: int) -> tuple[operators.Figure, Any]:
    """``stage_input`` of the query's rows, timed on the server's log as the operator is; the last result."""
    hook = upload.make_hook(server.port)
    rows = query_rows(n)
    figure, staged = operators.Figure(), None
    for _ in range(repeat):
        server.stats(reset=True)
        server.log(reset=True)
        staged = run_sql(hook, rows)
        figure.add(operators.window(server.log()), operators.load())
        check_counts("stage_input", server.stats(), staged.rows, staged.chunks, staged.bytes)
    return figure, staged


def check_counts(what: str, stats: dict[str, int], rows: int, posts: int, nbytes: int) -> None:
    """The server received exactly what the path says it sent: its data POSTs, their bytes and rows."""
    want = {"requests": posts, "body_bytes": nbytes, "rows": rows}
    if stats != want:
        raise RuntimeError(f"{what}: the server counted {stats}, the path sent {want}")


def rss_child(n: int, port: int) -> dict[str, Any]:
    """One stage_input of ``contacts_<n>`` in this (fresh) process: rows, seconds and peak RSS."""
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


def measure_stage_rss(n: int, port: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.sql_source", "--rss-child", str(n), str(port)]
    out = subprocess.run(
        cmd, cwd=upload.REPO, capture_output=True, text=True, timeout=1800, check=False, env=os.environ
    )
    if out.returncode != 0:
        raise RuntimeError(f"RSS child {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# the operator in DAG runs
# ------------------------------------------------------------------------------------------------


def job(n: int, repeat: int) -> dict[str, Any]:
    return {
        "dag_id": DAG_ID,
        "conf": {"table": table(n)},
        "warm_up": {"table": table(WARM_UP_ROWS)},
        "repeat": repeat,
    }


def operator_runs(home: Path, server: upload.LinkServer, n: int, repeat: int, profile: str | None = None) -> Any:
    """``repeat`` DAG runs loading ``contacts_<n>`` in a fresh process, each checked against the server's
    counts; the child's result (its runs and its peak RSS)."""
    result = operators.run_child(home, server.port, [job(n, repeat)], profile)
    for run in result["jobs"][0]:
        got = run["returns"].get("upload") or {}
        if run["state"] != "success" or got.get("rows") != n:
            raise RuntimeError(f"operator: the DAG run ended {run['state']} with {got}")
        check_counts("operator", run["stats"], got["rows"], got["chunks"], got["bytes"])
    return result


@dataclass
class Results:
    link: tuple[float, float]
    operator: operators.Row  # limit, stage_input, window and task figures
    cpu_seconds: float
    wire_bytes: int
    #: row count -> {"dag": {rows_per_s, peak_mb}, "stage": rss_child's result}
    rss: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: str = ""
    ended: str = ""

    @property
    def restated_limit(self) -> float:
        """The limit plus the definition round trips an upload into its own definition cannot avoid."""
        return self.operator.limit.best + DEFINITION_ROUND_TRIPS * self.link[1] / 1000


def run(
    n: int = DEFAULT_ROWS,
    link: tuple[float, float] = DEFAULT_LINK,
    repeat: int = 3,
    rss_rows: tuple[int, ...] = DEFAULT_RSS_ROWS,
    profile: str | None = None,
) -> Results:
    """Limit, stage_input and the operator's DAG runs on ``link``, then each ``rss_rows`` size in fresh
    processes; checked against the server's counts, not judged."""
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {operators.load():.1f}"
    with (
        postgres(tuple(sorted({n, WARM_UP_ROWS, *rss_rows}))),
        upload.LinkServer(*link) as server,
        tempfile.TemporaryDirectory(prefix="eloqua-bench-sql-") as tmp,
    ):
        bodies = upload.limit_bodies(upload.write_inputs(Path(tmp), n).paths["csv"])
        wire_bytes = sum(map(len, bodies))
        header = len(bodies[0].partition(b"\n")[0]) + 1
        limit = operators.measure_limit(server, bodies, n, repeat)
        limit_posts = [len(body) for body in bodies]
        del bodies
        stage, staged = measure_stage_input(server, n, repeat)
        if staged.bytes - staged.chunks * header != wire_bytes - len(limit_posts) * header:
            # Text rows go as CSV: the same records as the limit's, a header line per POST.
            raise RuntimeError(
                f"stage_input sent {staged.bytes} bytes in {staged.chunks} POSTs, the limit {wire_bytes}"
            )
        # CPU seconds of this process (the reading thread's included) building the chunks alone, no HTTP.
        rows = query_rows(n)
        cpu_s, _ = upload.best_time(lambda: sum(1 for _ in sql_chunks(rows)), repeat, time.process_time)
        home = operators.prepare_home(Path(tmp) / "airflow", DAG_FILE)
        runs = operator_runs(home, server, n, repeat, profile)["jobs"][0]
        windows, tasks, _, _, posts, calls = operators.operator_figures("sql", runs, n)
        row = operators.Row(link, "sql", n, limit, stage, windows, tasks, posts=posts)
        row.calls = calls
        results = Results(link, row, cpu_s, wire_bytes, started=started)
        print(operators._line(row), flush=True)
        for size in rss_rows:
            dag_run = operator_runs(home, server, size, 1)
            task = dag_run["jobs"][0][0]["tasks"]["upload"]
            results.rss[size] = {
                "dag": {"peak_mb": dag_run["peak_mb"], "rows_per_s": size / (task["end"] - task["start"])},
                "stage": measure_stage_rss(size, server.port),
            }
            print(f"  {size:,} rows: {results.rss[size]}", flush=True)
    results.ended = f"{datetime.now(UTC):%H:%M} UTC, load average {operators.load():.1f}"
    return results


def report(results: Results) -> str:
    r = results.operator
    head = (
        f"{'link':<15} {'input':<10} {'rows':>9} {'POSTs':>5} {'limit s':>7} {'stage s':>7} {'ratio':>5} "
        f"{'window':>7} {'ratio':>5} {'defs':>5} {'1st':>5} {'task s':>7} {'task/w':>6} {'':>8} {'':>8} {'load':>5}"
    )
    as_given = r.ratio(r.window)
    restated = results.restated_limit / r.window.best
    lines = [
        f"started {results.started}; ended {results.ended}",
        head,
        "-" * len(head),
        operators._line(r),
        "",
        f"cpu s (reading the query and building the chunks, no HTTP): {results.cpu_seconds:.2f}; "
        f"wire {results.wire_bytes / 1e6:.1f} MB",
        "",
        "limit = plain requests POSTing the rows as pre-built CSV (30 MiB bodies); stage = the query's rows through",
        "staging.stage_input called directly; window = SqlToEloquaOperator in a DAG run, from its first request to",
        "its last data POST's answer (server times); ratio = limit / time; defs = in that window, the definition calls",
        "(GET template, POST copy); 1st = then the wait for the first chunk; task = the task's start_date to end_date",
        "(it ends once the sync has started); load = the highest 1-min load average among the figures' best runs, on",
        f"{os.cpu_count()} CPUs. Best of each path's runs.",
        "",
        "targets:",
        f"  window ratio {as_given:.3f} as given (>= {TARGET}: {'met' if as_given >= TARGET else 'NOT MET'}); "
        f"restated, limit + {DEFINITION_ROUND_TRIPS} x {results.link[1]:g} ms: {results.restated_limit:.3f} / "
        f"{r.window.best:.3f} = {restated:.3f} (>= {TARGET}: {'met' if restated >= TARGET else 'NOT MET'})",
    ]
    sizes = sorted(results.rss)
    if sizes:
        lines += ["", "rows/s and peak RSS (VmHWM, MiB), a fresh process each:"]
        for size in sizes:
            dag, stage = results.rss[size]["dag"], results.rss[size]["stage"]
            lines.append(
                f"  {size:>9,} rows: DAG-run process {dag['peak_mb']:>4.0f} MiB, task {dag['rows_per_s']:>9,.0f} rows/s; "
                f"stage_input process {stage['peak_mb']:>4.0f} MiB (before the upload {stage['before_mb']:.0f}), "
                f"{stage['rows'] / stage['seconds']:>9,.0f} rows/s, {stage['chunks']} chunk(s)"
            )
    if len(sizes) > 1:
        small, big = results.rss[sizes[0]], results.rss[sizes[-1]]
        for what, key in (("DAG-run process", "dag"), ("stage_input process", "stage")):
            x = big[key]["peak_mb"] / small[key]["peak_mb"]
            lines.append(
                f"  peak RSS {sizes[-1]:,} / {sizes[0]:,} rows, {what}: {x:.2f}x "
                f"(target <= {RSS_TARGET}x: {'met' if x <= RSS_TARGET else 'NOT MET'})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Results | None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sql_source", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=None, help=f"rows for the throughput run (default {DEFAULT_ROWS:,})"
    )
    parser.add_argument("--link", default=None, help="RATE_MBps:RTT_ms of the capped link (default 25:40)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each path; the best counts (default 3)")
    parser.add_argument("--rss-rows", default=None, help="comma-separated row counts for rows/s and peak RSS")
    parser.add_argument("--no-rss", action="store_true", help="skip the rows/s and peak-RSS processes")
    parser.add_argument("--smoke", action="store_true", help="tiny rows on a fast link, one run: checks the harness")
    parser.add_argument("--profile", default=None, help="cProfile the operator's last DAG run into this file")
    parser.add_argument("--rss-child", nargs=2, metavar=("N", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        print(json.dumps(rss_child(int(args.rss_child[0]), int(args.rss_child[1]))))
        return None
    base = (
        SMOKE if args.smoke else {"rows": DEFAULT_ROWS, "link": DEFAULT_LINK, "rss_rows": DEFAULT_RSS_ROWS, "repeat": 3}
    )
    rss_rows = tuple(int(s) for s in args.rss_rows.split(",")) if args.rss_rows else base["rss_rows"]
    results = run(
        n=args.rows or base["rows"],
        link=upload._links(args.link)[0] if args.link else base["link"],
        repeat=args.repeat or base["repeat"],
        rss_rows=() if args.no_rss else rss_rows,
        profile=args.profile,
    )
    print()
    print(report(results))
    return results


if __name__ == "__main__":
    # A killed run still stops its PostgreSQL server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
