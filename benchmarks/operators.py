"""Upload benchmark through the public operator, in real DAG runs (issue 18).

    python -m benchmarks.operators [--rows 1000000] [--xcom-rows 200000] [--links 25:40,100:40]
                                   [--repeat 3] [--rss-rows 10000,1000000] [--no-rss] [--smoke]

A user runs ``EloquaUploadDataOperator`` in a DAG, so that is what is measured: ``dag.test()`` of
``benchmarks/dags/upload_dag.py`` in a fresh process per link and format, against
``benchmarks/link_server.py`` (capped rate, fixed RTT, the definition calls of an upload with
``start_sync=False``), on a throwaway SQLite metadata DB.

* **window**: from the operator's first HTTP request to the end of its last data POST, from the
  server's own timestamps (first byte in, answer out).
* **limit**: plain ``requests`` POSTing the same rows as pre-built CSV in the fewest 30 MiB
  bodies on the same link, timed the same way (first POST's first byte to last POST's answer).
* **stage_input**: ``staging.stage_input`` called directly with the operators' chunks, timed the
  same way: the second column, so that a regression in either path shows.
* **task**: the upload task's wall time as Airflow records it (``start_date`` to ``end_date``),
  against its window.

Times are the best of ``--repeat`` runs; ``ratio`` = limit / time (1.00 = at the wire). Every run
is checked against the server's count of requests, body bytes and rows. The load average is
recorded with every figure. Peak RSS (``VmHWM``) of a fresh DAG-run process per file format at
each of ``--rss-rows``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import run as bench

REPO = bench.REPO
DAG_FILE = Path(__file__).parent / "dags" / "upload_dag.py"
FILE_DAG = "eloqua_bench_upload_file"
ROWS_DAG = "eloqua_bench_upload_rows"
CONN_ID = "eloqua_bench"
#: What the operator uploads: a CSV, JSON array or NDJSON file, or rows from an upstream task's XCom.
PATHS = ("csv", "json-file", "ndjson", "xcom-rows")
DEFAULT_XCOM_ROWS = 200_000
SMOKE = {"rows": 1_000, "xcom_rows": 500, "rss_rows": (), "links": ((1000.0, 1.0),), "repeat": 1}
#: link MB/s -> format -> the least window ratio to the limit (issue 18).
TARGETS = {
    25.0: {"csv": 0.95, "json-file": 0.9, "ndjson": 0.9, "xcom-rows": 0.9},
    100.0: {"csv": 0.9, "json-file": 0.4, "ndjson": 0.4, "xcom-rows": 0.6},
}
#: format -> the most task wall time per window second, on the 25 MB/s link.
WALL_TARGETS = {"csv": 1.3, "json-file": 1.3, "ndjson": 1.3, "xcom-rows": 2.0}
RSS_TARGET = 1.5


def load() -> float:
    return os.getloadavg()[0]


# ------------------------------------------------------------------------------------------------
# the child: DAG runs in a process of its own
# ------------------------------------------------------------------------------------------------


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """The child's environment: its AIRFLOW_HOME, dags folder and the ``eloqua_bench`` connection."""
    connection = {
        "conn_type": "eloqua",
        "host": f"http://127.0.0.1:{port}",
        "login": "Bench.User",
        "password": "bench-password",
        "extra": {"site": "BenchSite", "timeout": 300},
    }
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
    }


def _epoch(value: Any) -> float:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _get(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.loads(answer.read())


def _return_value(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def child(jobs: list[dict[str, Any]], server_url: str, profile: str | None) -> dict[str, Any]:
    """Run each job's DAG ``repeat`` times with ``dag.test()`` and its ``conf``; per run: the tasks'
    times, the upload's result and the server's log. Each DAG runs once with its job's ``warm_up``
    conf (a few rows) first: that run pays what the first task of a ``dag.test()`` process pays and
    a worker does not (building Airflow's in-process execution API, importing the provider)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    warm: set[str] = set()
    results = []
    for job in jobs:
        dag = bag.get_dag(job["dag_id"])
        if job["dag_id"] not in warm:
            dag.test(run_conf=job["warm_up"])
            warm.add(job["dag_id"])
        runs = []
        for _ in range(job["repeat"]):
            _get(server_url + "/_log/reset")
            _get(server_url + "/_stats/reset")
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                run = profiler.runcall(dag.test, run_conf=job["conf"])
                profiler.dump_stats(profile)
            else:
                run = dag.test(run_conf=job["conf"])
            tasks = {
                ti.task_id: {"start": _epoch(ti.start_date), "end": _epoch(ti.end_date)}
                for ti in run.get_task_instances()
                if ti.start_date and ti.end_date
            }
            runs.append(
                {
                    "state": str(getattr(run.state, "value", run.state)),
                    "tasks": tasks,
                    "returns": {task_id: _return_value(job["dag_id"], run.run_id, task_id) for task_id in tasks},
                    "log": _get(server_url + "/_log"),
                    "stats": _get(server_url + "/_stats"),
                    "load": load(),
                }
            )
        results.append(runs)
    return {"jobs": results, "peak_mb": bench._maxrss_mb()}


def job(kind: str, inputs: bench.Inputs, small: bench.Inputs, xcom_rows: int, repeat: int) -> dict[str, Any]:
    """The DAG run that uploads ``kind``: a file of ``inputs`` or ``xcom_rows`` rows from XCom."""
    if kind == "xcom-rows":
        return {"dag_id": ROWS_DAG, "conf": {"rows": xcom_rows}, "warm_up": {"rows": 10}, "repeat": repeat}
    conf, warm_up = {"path": str(inputs.paths[kind])}, {"path": str(small.paths[kind])}
    return {"dag_id": FILE_DAG, "conf": conf, "warm_up": warm_up, "repeat": repeat}


def run_child(home: Path, port: int, jobs: list[dict[str, Any]], profile: str | None = None) -> dict[str, Any]:
    """``child`` in a fresh process on the AIRFLOW_HOME ``home``; its result."""
    result = home / "result.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.operators", "--child", json.dumps(jobs), f"http://127.0.0.1:{port}"]
    cmd += [str(result)] + (["--profile", profile] if profile else [])
    out = subprocess.run(
        cmd, cwd=REPO, env=airflow_env(home, port), capture_output=True, text=True, timeout=3600, check=False
    )
    if out.returncode != 0 or not result.exists():
        raise RuntimeError(f"DAG runs {jobs} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
    return json.loads(result.read_text())


def prepare_home(home: Path, dag_file: Path = DAG_FILE) -> Path:
    """An AIRFLOW_HOME with ``dag_file`` in its dags folder."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dag_file, home / "dags" / dag_file.name)
    return home


# ------------------------------------------------------------------------------------------------
# the parent: links, the limit, stage_input and the operator
# ------------------------------------------------------------------------------------------------


def window(log: list[dict[str, Any]]) -> float:
    """From the first request's first byte to the answer of the last data POST (server times)."""
    posts = [e["end"] for e in log if e["method"] == "POST" and e["path"].endswith("/data")]
    return max(posts) - min(e["start"] for e in log)


def before_data(log: list[dict[str, Any]]) -> tuple[float, float]:
    """The operator's window before its first data POST: its definition calls (first request to the
    last answer before the first data POST) and the wait for the first chunk after them."""
    first_post = min(e["start"] for e in log if e["method"] == "POST" and e["path"].endswith("/data"))
    calls = [e for e in log if e["end"] <= first_post]
    defined = max(e["end"] for e in calls) if calls else first_post
    return defined - min(e["start"] for e in log), first_post - defined


@dataclass
class Figure:
    """The best of several runs of one path, with the load average of each run."""

    seconds: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def add(self, seconds: float, load_1m: float) -> None:
        self.seconds.append(seconds)
        self.loads.append(load_1m)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def load(self) -> float:
        """The load average (1 min) when the best run ended."""
        return self.loads[self.seconds.index(self.best)]


@dataclass
class Row:
    link: tuple[float, float]
    path: str  # a key of PATHS
    rows: int
    limit: Figure
    stage_input: Figure
    window: Figure
    task: Figure  # the upload task's wall time, per run (paired with ``window`` by run)
    pulled: Figure | None = None  # xcom-rows: a task that only pulls the same XCom
    argument: Figure | None = None  # xcom-rows: a @task that only takes it as its argument
    posts: int = 0
    rss: dict[int, float] = field(default_factory=dict)
    #: Per operator run (as ``window``): its definition calls, then the wait for its first chunk.
    calls: list[tuple[float, float]] = field(default_factory=list)

    @property
    def before_data(self) -> tuple[float, float]:
        """``calls`` of the run with the shortest window."""
        return self.calls[self.window.seconds.index(self.window.best)] if self.calls else (0.0, 0.0)

    def ratio(self, figure: Figure) -> float:
        return self.limit.best / figure.best

    @property
    def task_per_window(self) -> float:
        """The run with the shortest task: its task wall time / its own window."""
        best = self.task.seconds.index(self.task.best)
        return self.task.best / self.window.seconds[best]


def _check(what: str, stats: dict[str, int], rows: int, posts: int | None = None) -> None:
    if stats["rows"] != rows or (posts is not None and stats["requests"] != posts):
        raise RuntimeError(f"{what}: the server counted {stats}, expected {rows} rows in {posts} POSTs")


def measure_limit(server: bench.LinkServer, bodies: list[bytes], rows: int, repeat: int) -> Figure:
    import requests

    from airflow_provider_eloqua.chunking import CSV_CONTENT_TYPE

    figure = Figure()
    with requests.Session() as session:
        bench.run_limit(session, server.data_url, bodies[:1], CSV_CONTENT_TYPE)  # open the connection
        for _ in range(repeat):
            server.stats(reset=True)
            server.log(reset=True)
            bench.run_limit(session, server.data_url, bodies, CSV_CONTENT_TYPE)
            figure.add(window(server.log()), load())
            _check("limit", server.stats(), rows, len(bodies))
    return figure


def measure_stage_input(
    server: bench.LinkServer, kind: str, inputs: bench.Inputs, rows: list[dict] | None, repeat: int
) -> Figure:
    """``staging.stage_input`` called directly with the operators' chunks (``benchmarks.run``'s path)."""
    hook = bench.make_hook(server.port)
    make_chunks = bench.chunk_factory(kind, inputs.paths, rows)
    figure = Figure()
    for _ in range(repeat):
        server.stats(reset=True)
        server.log(reset=True)
        staged = bench.run_provider(hook, make_chunks)
        figure.add(window(server.log()), load())
        _check(f"stage_input {kind}", server.stats(), len(rows) if rows is not None else inputs.rows, staged.chunks)
    return figure


def operator_figures(
    kind: str, runs: list[dict[str, Any]], rows: int
) -> tuple[Figure, Figure, Figure | None, Figure | None, int, list[tuple[float, float]]]:
    """The operator's DAG runs of ``kind``: its windows, its task's wall times, for XCom rows the wall
    times of the tasks that only pull the XCom or take it as argument; the data POSTs of a run."""
    windows, tasks, pulled, argument = Figure(), Figure(), Figure(), Figure()
    posts, calls = 0, []
    for run in runs:
        upload = run["returns"].get("upload") or {}
        if run["state"] != "success" or upload.get("rows") != rows:
            raise RuntimeError(f"operator {kind}: the DAG run ended {run['state']} with {upload}")
        posts = upload["chunks"]
        _check(f"operator {kind}", run["stats"], rows, posts)
        windows.add(window(run["log"]), run["load"])
        calls.append(before_data(run["log"]))
        task = run["tasks"]["upload"]
        tasks.add(task["end"] - task["start"], run["load"])
        for task_id, figure in (("pulled", pulled), ("argument", argument)):
            if task_id in run["tasks"]:
                got = run["tasks"][task_id]
                figure.add(got["end"] - got["start"], run["load"])
    return windows, tasks, (pulled if pulled.seconds else None), (argument if argument.seconds else None), posts, calls


def measure_rss(home: Path, server: bench.LinkServer, kind: str, directory: Path, n: int, small: bench.Inputs) -> float:
    """Peak RSS (MiB) of a fresh process whose DAG run uploads ``n`` rows of ``kind``."""
    inputs = bench.Inputs(n, bench.input_paths(directory, n))
    return run_child(home, server.port, [job(kind, inputs, small, 0, 1)])["peak_mb"]


def run(
    n: int = bench.DEFAULT_ROWS,
    xcom_rows: int = DEFAULT_XCOM_ROWS,
    links: tuple[tuple[float, float], ...] = bench.DEFAULT_LINKS,
    repeat: int = 3,
    rss_rows: tuple[int, ...] = bench.DEFAULT_RSS_ROWS,
) -> list[Row]:
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-operators-") as tmp:
        directory = Path(tmp)
        home = prepare_home(directory / "airflow")
        inputs = bench.write_inputs(directory, n)
        (directory / "small").mkdir()
        small = bench.write_inputs(directory / "small", 10)
        (directory / "xcom").mkdir()
        xcom_inputs = bench.write_inputs(directory / "xcom", xcom_rows)
        xcom_list = list(bench.contact_rows(xcom_rows))
        bodies = {n: bench.limit_bodies(inputs.paths["csv"]), xcom_rows: bench.limit_bodies(xcom_inputs.paths["csv"])}
        for link in links:
            with bench.LinkServer(*link) as server:
                limits = {size: measure_limit(server, b, size, repeat) for size, b in bodies.items()}
                stages = {
                    kind: measure_stage_input(
                        server,
                        "json-rows" if kind == "xcom-rows" else kind,
                        inputs,
                        xcom_list if kind == "xcom-rows" else None,
                        repeat,
                    )
                    for kind in PATHS
                }
                # One process for every input's DAG runs: Airflow starts once per link.
                jobs = [job(kind, inputs, small, xcom_rows, repeat) for kind in PATHS]
                done = run_child(home, server.port, jobs)["jobs"]
                for kind, runs in zip(PATHS, done, strict=True):
                    rows = xcom_rows if kind == "xcom-rows" else n
                    windows, tasks, pulled, argument, posts, calls = operator_figures(kind, runs, rows)
                    row = Row(link, kind, rows, limits[rows], stages[kind], windows, tasks, pulled, argument, posts)
                    row.calls = calls
                    results.append(row)
                    print(_line(row), flush=True)
        if rss_rows:
            for size in rss_rows:
                if size != n:
                    bench.write_inputs(directory, size)
            with bench.LinkServer(*links[-1]) as server:
                for row in results:
                    if row.link == links[-1] and row.path != "xcom-rows":
                        row.rss = {
                            size: measure_rss(home, server, row.path, directory, size, small) for size in rss_rows
                        }
                        print(f"  peak RSS {row.path}: {row.rss}", flush=True)
    return results


def _link(link: tuple[float, float]) -> str:
    return f"{link[0]:g} MB/s {link[1]:g} ms"


def _line(r: Row) -> str:
    xcom = "".join(f" {f.best:>8.2f}" if f else f" {'':>8}" for f in (r.pulled, r.argument))
    return (
        f"{_link(r.link):<15} {r.path:<10} {r.rows:>9,} {r.posts:>5} {r.limit.best:>7.2f} "
        f"{r.stage_input.best:>7.2f} {r.ratio(r.stage_input):>5.2f} {r.window.best:>7.2f} {r.ratio(r.window):>5.2f} "
        f"{r.before_data[0]:>5.2f} {r.before_data[1]:>5.2f} "
        f"{r.task.best:>7.2f} {r.task_per_window:>6.2f}{xcom} "
        f"{max(r.limit.load, r.stage_input.load, r.window.load, r.task.load):>5.1f}"
    )


def _verdict(value: float, target: float | None, most: bool = False) -> str:
    if target is None:
        return "no target"
    met = value <= target if most else value >= target
    return f"{'<=' if most else '>='} {target:g}: {'met' if met else 'NOT MET'}"


def report(results: list[Row]) -> str:
    head = (
        f"{'link':<15} {'input':<10} {'rows':>9} {'POSTs':>5} {'limit s':>7} {'stage s':>7} {'ratio':>5} "
        f"{'window':>7} {'ratio':>5} {'defs':>5} {'1st':>5} {'task s':>7} {'task/w':>6} {'pulled':>8} {'argument':>8} {'load':>5}"
    )
    lines = [head, "-" * len(head)]
    lines += [_line(r) for r in results]
    lines += [
        "",
        "limit = plain requests POSTing the rows as pre-built CSV (30 MiB bodies); stage = staging.stage_input called",
        "directly; window = the operator in a DAG run, from its first request to its last data POST's answer (server",
        "times); ratio = limit / time; defs = in that window, the definition calls (GET template, POST copy); 1st = then",
        "the wait for the first chunk; task = the upload task's start_date to end_date; task/w = task / its window;",
        "pulled / argument = a task that only pulls the same XCom / a @task that only takes it as argument;",
        "load = the highest 1-min load average among the figures'",
        f"best runs, on {os.cpu_count()} CPUs. Best of each path's runs.",
        "",
        "targets:",
    ]
    for r in results:
        window_target = TARGETS.get(r.link[0], {}).get(r.path)
        line = f"  {_link(r.link):<15} {r.path:<10} window ratio {r.ratio(r.window):.2f} {_verdict(r.ratio(r.window), window_target)}"
        if r.link[0] == 25.0:
            line += f"; task/window {r.task_per_window:.2f} {_verdict(r.task_per_window, WALL_TARGETS.get(r.path), most=True)}"
        lines.append(line)
    lines += rss_lines(results)
    return "\n".join(lines)


def rss_lines(results: list[Any]) -> list[str]:
    """The peak RSS of each row that has one (``rss``: row count -> MiB): smallest against largest."""
    with_rss = [r for r in results if r.rss]
    if not with_rss:
        return []
    lines = ["", f"peak RSS (VmHWM, MiB) of a fresh DAG-run process, link {_link(with_rss[0].link)}:"]
    for r in with_rss:
        sizes = sorted(r.rss)
        x = r.rss[sizes[-1]] / r.rss[sizes[0]]
        lines.append(
            f"  {r.path:<10} {sizes[0]:>9,} rows {r.rss[sizes[0]]:>5.0f}  {sizes[-1]:>9,} rows {r.rss[sizes[-1]]:>5.0f}  "
            f"{x:.2f}x ({_verdict(x, RSS_TARGET, most=True)})"
        )
    return lines


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.operators", description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("JOBS", "SERVER", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=None, help=f"rows per file (default {bench.DEFAULT_ROWS:,})")
    parser.add_argument("--xcom-rows", type=int, default=None, help=f"rows from XCom (default {DEFAULT_XCOM_ROWS:,})")
    parser.add_argument("--links", default=None, help="comma-separated RATE_MBps:RTT_ms (default 25:40,100:40)")
    parser.add_argument("--repeat", type=int, default=None, help="DAG runs per path; the best counts (default 3)")
    parser.add_argument("--rss-rows", default=None, help="row counts for peak RSS (default 10000,1000000)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS processes")
    parser.add_argument("--smoke", action="store_true", help="tiny inputs on a fast link, one run each")
    args = parser.parse_args(argv)
    if args.child:
        jobs, server, out = args.child
        result = child(json.loads(jobs), server, args.profile)
        Path(out).write_text(json.dumps(result, default=str))
        return []
    base = (
        SMOKE
        if args.smoke
        else {
            "rows": bench.DEFAULT_ROWS,
            "xcom_rows": DEFAULT_XCOM_ROWS,
            "rss_rows": bench.DEFAULT_RSS_ROWS,
            "links": bench.DEFAULT_LINKS,
            "repeat": 3,
        }
    )
    start = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load():.1f}"
    results = run(
        n=args.rows or base["rows"],
        xcom_rows=args.xcom_rows or base["xcom_rows"],
        links=bench._links(args.links) if args.links else base["links"],
        repeat=args.repeat or base["repeat"],
        rss_rows=()
        if args.no_rss
        else (tuple(int(s) for s in args.rss_rows.split(",")) if args.rss_rows else base["rss_rows"]),
    )
    print()
    print(f"started {start}; ended {datetime.now(UTC):%H:%M} UTC, load average {load():.1f}")
    print(report(results))
    return results


if __name__ == "__main__":
    main()
