"""Export benchmark through the public operator, in real DAG runs (issue 16, "Speed and memory").

    python -m benchmarks.exports [--rows 1000000] [--peer-rows 200000] [--links 25:40,100:40]
                                 [--repeat 3] [--rss-rows 10000,1000000] [--no-rss] [--smoke]

``EloquaExportOperator`` (``benchmarks/dags/export_dag.py``) exports 1M contacts of five columns
(the upload benchmark's rows) to a CSV and to an NDJSON file under ``dag.test()``, against
``benchmarks/link_server.py`` serving the export (definition, sync, log, then ``GET
/syncs/N/data`` pages of 50,000 rows sent at the capped rate after the RTT).

* **window**: from the first data page's request to the answer of the last (server times).
* **limit**: plain ``requests`` GETs of the same JSON pages on one session, bodies read, nothing
  decoded, timed the same way.
* **json decode / csv parse**: the same pages GET as JSON and decoded with msgspec (what the
  hook does), or GET with ``Accept: text/csv`` (Oracle documents CSV for sync data) and parsed with
  ``csv``: is CSV on the wire worth it?
* **pyeloqua**: 0.5.11's ``Bulk.get_export_data`` (1,000-row pages of the definition's ``/data``,
  ``requests.get`` without a session, the whole export held in a list) at ``--peer-rows``, beside
  the limit at that size.
* **task**: the export task's wall time (``start_date`` to ``end_date``) against its window.
* **peak RSS**: ``VmHWM`` of a fresh DAG-run process per output format at each of ``--rss-rows``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import operators as ops
from benchmarks import run as bench

DAG_FILE = Path(__file__).parent / "dags" / "export_dag.py"
DAG_ID = "eloqua_bench_export"
PAGE = 50_000
OUTPUTS = ("csv", "ndjson")
DEFAULT_PEER_ROWS = 200_000
SMOKE = {"rows": 2_000, "peer_rows": 1_000, "rss_rows": (), "links": ((1000.0, 1.0),), "repeat": 1}
#: The issue's target: every output at least this share of the limit, on both links.
TARGET = 0.9


def write_export(directory: Path, n: int) -> Path:
    """The rows an export serves: ``rows.ndjson`` (compact JSON a line) and ``rows.csv``."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "rows.ndjson", "w", encoding="utf-8") as nd:
        for row in bench.contact_rows(n):
            nd.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    with open(directory / "rows.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(bench.FIELDS)
        writer.writerows([r[k] for k in bench.FIELDS] for r in bench.contact_rows(n))
    return directory


def data_window(log: list[dict[str, Any]]) -> float:
    """From the first data page's request to the answer of the last (server times)."""
    pages = [e for e in log if e["method"] == "GET" and "/data" in e["path"]]
    return max(e["end"] for e in pages) - min(e["start"] for e in pages)


def page_urls(server: bench.LinkServer, n: int, page: int = PAGE) -> list[str]:
    return [f"{server.url}/api/bulk/2.0/syncs/7/data?offset={o}&limit={page}" for o in range(0, n, page)]


def get_pages(server: bench.LinkServer, n: int, how: str) -> tuple[int, int]:
    """GET every page on one session: ``raw`` reads the bodies, ``json`` decodes them as the hook
    does, ``csv`` asks for ``text/csv`` and parses the records. Returns (rows, wire bytes)."""
    import msgspec
    import requests

    rows = wire = 0
    headers = {"Accept": "text/csv"} if how == "csv" else {}
    with requests.Session() as session:
        for url in page_urls(server, n):
            body = session.get(url, headers=headers, timeout=300).content
            wire += len(body)
            if how == "json":
                rows += len(msgspec.json.decode(body)["items"])
            elif how == "csv":
                rows += sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8"), newline=""))) - 1
            else:
                rows += min(PAGE, n - rows)
    return rows, wire


def run_pyeloqua(server: bench.LinkServer) -> int:
    from pyeloqua import Bulk

    bulk = Bulk(test=True)  # no login call: point it at the link server instead
    bulk.bulk_base = f"{server.url}/api/bulk/2.0"
    bulk.auth = ("BenchSite\\Bench.User", "bench-password")
    bulk.exports("contacts")
    bulk.job_def = {"uri": "/contacts/exports/1"}
    return len(bulk.get_export_data())


@dataclass
class Row:
    link: tuple[float, float]
    path: str  # limit, json decode, csv parse, csv, ndjson (the operator), limit@peer, pyeloqua
    rows: int
    time: ops.Figure
    limit: ops.Figure
    wire_bytes: int = 0
    task: ops.Figure | None = None
    rss: dict[int, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.limit.best / self.time.best


def measure(server: bench.LinkServer, repeat: int, fn: Any, rows: int) -> tuple[ops.Figure, int]:
    figure, wire = ops.Figure(), 0
    for _ in range(repeat):
        server.log(reset=True)
        got = fn()
        got_rows, wire = got if isinstance(got, tuple) else (got, 0)
        if got_rows != rows:
            raise RuntimeError(f"read {got_rows} rows of {rows}")
        figure.add(data_window(server.log()), ops.load())
    return figure, wire


def operator_rows(
    link: tuple[float, float], home: Path, server: bench.LinkServer, out: Path, n: int, repeat: int, limit: ops.Figure
) -> list[Row]:
    jobs = [
        {
            "dag_id": DAG_ID,
            "conf": {"path": str(out / f"contacts.{kind}")},
            "warm_up": {"path": str(out / f"warm-up.{kind}")},
            "repeat": repeat,
        }
        for kind in OUTPUTS
    ]
    done = ops.run_child(home, server.port, jobs)["jobs"]
    rows = []
    for kind, runs in zip(OUTPUTS, done, strict=True):
        windows, tasks = ops.Figure(), ops.Figure()
        for run in runs:
            result = run["returns"].get("export") or {}
            if run["state"] != "success" or result.get("rows") != n:
                raise RuntimeError(f"export {kind}: the DAG run ended {run['state']} with {result}")
            windows.add(data_window(run["log"]), run["load"])
            task = run["tasks"]["export"]
            tasks.add(task["end"] - task["start"], run["load"])
        rows.append(Row(link, kind, n, windows, limit, result.get("bytes") or 0, tasks))
    return rows


def measure_rss(link: tuple[float, float], directory: Path, kind: str, size: int) -> float:
    """Peak RSS (MiB) of a fresh process whose DAG run exports ``size`` rows to a ``kind`` file."""
    export = write_export(directory / f"export-{size}", size)
    home = ops.prepare_home(directory / f"airflow-rss-{size}", DAG_FILE)
    with bench.LinkServer(*link, export_dir=export) as server:
        job = {
            "dag_id": DAG_ID,
            "conf": {"path": str(directory / f"rss-{size}.{kind}")},
            "warm_up": {"path": str(directory / f"rss-warm-up.{kind}")},
            "repeat": 1,
        }
        return ops.run_child(home, server.port, [job])["peak_mb"]


def run(
    n: int = bench.DEFAULT_ROWS,
    peer_n: int = DEFAULT_PEER_ROWS,
    links: tuple[tuple[float, float], ...] = bench.DEFAULT_LINKS,
    repeat: int = 3,
    rss_rows: tuple[int, ...] = bench.DEFAULT_RSS_ROWS,
) -> list[Row]:
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-exports-") as tmp:
        directory = Path(tmp)
        export, peer = write_export(directory / "export", n), write_export(directory / "peer", peer_n)
        out = directory / "out"
        out.mkdir()
        for link in links:
            printed = len(results)
            home = ops.prepare_home(directory / f"airflow-{link[0]:g}", DAG_FILE)
            with bench.LinkServer(*link, export_dir=export) as server:
                limit, wire = measure(server, repeat, lambda: get_pages(server, n, "raw"), n)
                results.append(Row(link, "limit", n, limit, limit, wire))
                for how, name in (("json", "json decode"), ("csv", "csv parse")):
                    figure, wire = measure(server, repeat, lambda h=how: get_pages(server, n, h), n)
                    results.append(Row(link, name, n, figure, limit, wire))
                results += operator_rows(link, home, server, out, n, repeat, limit)
            with bench.LinkServer(*link, export_dir=peer) as server:
                peer_limit, wire = measure(server, repeat, lambda: get_pages(server, peer_n, "raw"), peer_n)
                results.append(Row(link, "limit@peer", peer_n, peer_limit, peer_limit, wire))
                if bench.pyeloqua_version():
                    figure, _ = measure(server, repeat, lambda: run_pyeloqua(server), peer_n)
                    results.append(Row(link, "pyeloqua", peer_n, figure, peer_limit))
            for row in results[printed:]:
                print(_line(row), flush=True)
        if rss_rows:
            for row in results:
                if row.link == links[-1] and row.path in OUTPUTS:
                    row.rss = {size: measure_rss(links[-1], directory, row.path, size) for size in rss_rows}
    return results


def _line(r: Row) -> str:
    task = (
        f"{r.task.best:>7.2f} {r.task.best / r.time.seconds[r.task.seconds.index(r.task.best)]:>6.2f}"
        if r.task
        else f"{'':>14}"
    )
    return (
        f"{ops._link(r.link):<15} {r.path:<12} {r.rows:>9,} {r.wire_bytes / 1e6:>8.1f} {r.time.best:>7.2f} "
        f"{r.ratio:>5.2f} {task} {r.time.load:>5.1f}"
    )


def report(results: list[Row]) -> str:
    head = f"{'link':<15} {'path':<12} {'rows':>9} {'wire MB':>8} {'time s':>7} {'ratio':>5} {'task s':>7} {'task/w':>6} {'load':>5}"
    lines = [head, "-" * len(head), *(_line(r) for r in results)]
    lines += [
        "",
        "time = from the first data page's request to the last page's answer (server times), best of the runs;",
        "ratio = limit / time (limit@peer for pyeloqua); limit = requests GETs of the JSON pages, nothing decoded;",
        "csv/ndjson = EloquaExportOperator in a DAG run (wire MB there = the file written); task = its task's",
        "start_date to end_date, task/w = task / its window; load = 1-min load average when the best run ended.",
        "",
        "targets:",
    ]
    for r in results:
        if r.path in OUTPUTS:
            verdict = "met" if r.ratio >= TARGET else "NOT MET"
            lines.append(f"  {ops._link(r.link):<15} {r.path:<7} ratio {r.ratio:.2f} (>= {TARGET}: {verdict})")
    lines += ops.rss_lines(results)
    if not any(r.path == "pyeloqua" for r in results):
        lines += ["", "pyeloqua: not installed in this environment (pip install -e '.[bench]')"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help=f"contacts exported (default {bench.DEFAULT_ROWS:,})")
    parser.add_argument(
        "--peer-rows", type=int, default=None, help=f"rows for pyeloqua (default {DEFAULT_PEER_ROWS:,})"
    )
    parser.add_argument("--links", default=None, help="comma-separated RATE_MBps:RTT_ms (default 25:40,100:40)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per path; the best counts (default 3)")
    parser.add_argument("--rss-rows", default=None, help="row counts for peak RSS (default 10000,1000000)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS processes")
    parser.add_argument("--smoke", action="store_true", help="tiny export on a fast link, one run each")
    args = parser.parse_args(argv)
    base = (
        SMOKE
        if args.smoke
        else {
            "rows": bench.DEFAULT_ROWS,
            "peer_rows": DEFAULT_PEER_ROWS,
            "rss_rows": bench.DEFAULT_RSS_ROWS,
            "links": bench.DEFAULT_LINKS,
            "repeat": 3,
        }
    )
    start = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {ops.load():.1f}"
    rss_rows = tuple(int(s) for s in args.rss_rows.split(",")) if args.rss_rows else base["rss_rows"]
    results = run(
        n=args.rows or base["rows"],
        peer_n=args.peer_rows or base["peer_rows"],
        links=bench._links(args.links) if args.links else base["links"],
        repeat=args.repeat or base["repeat"],
        rss_rows=() if args.no_rss else rss_rows,
    )
    print()
    print(f"started {start}; ended {datetime.now(UTC):%H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    print(report(results))
    return results


if __name__ == "__main__":
    main()
