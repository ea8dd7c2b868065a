"""Deferred wait: HTTP requests per poll interval, and proof that a deferred sensor holds no worker slot.

Runs real Airflow (`airflow standalone`: scheduler, triggerer, dag-processor, API server; SQLite;
[core] parallelism = 1) against the emulator. The sync takes ``polls`` status checks to end. The
benchmark DAG's low-priority ``probe`` task can only get the single worker slot while the sensor
is deferred. Reported: the sensor's states over time, whether the probe ran inside the deferral,
and the status GETs the sync received against the poll intervals the wait lasted.

    python -m benchmarks.deferred_wait [--polls 10] [--poll-seconds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from airflow_provider_eloqua.emulator import EmulatorServer, airflow_connection_json

DAG_ID = "eloqua_bench_deferred_wait"
DAG_FILE = Path(__file__).parent / "dags" / "deferred_wait_dag.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(home: Path, emulator_url: str, poll_seconds: float) -> dict[str, str]:
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__PARALLELISM="1",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        ELOQUA_BENCH_POLL_SECONDS=str(poll_seconds),
        AIRFLOW_CONN_ELOQUA_DEFAULT=airflow_connection_json(emulator_url),
    )
    return env


def _query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []


def _wait_for_api(env: dict[str, str], deadline: float) -> None:
    """Tasks talk to the execution API: trigger only once the API server answers."""
    url = env["AIRFLOW__API__BASE_URL"] + "/api/v2/monitor/health"
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError("the Airflow API server never answered")


def _trigger(env: dict[str, str], deadline: float) -> None:
    while time.time() < deadline:
        done = subprocess.run(["airflow", "dags", "trigger", DAG_ID], env=env, capture_output=True, timeout=120)
        if done.returncode == 0:
            return
        time.sleep(2)
    raise TimeoutError(f"{DAG_ID} was never parsed by the dag-processor")


def run(polls: int = 10, poll_seconds: float = 1.0, limit_seconds: float = 240) -> dict:
    """Run the benchmark DAG once under `airflow standalone`; return the measurements."""
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-deferred-") as tmp, EmulatorServer() as emulator:
        home = Path(tmp)
        (home / "dags").mkdir()
        shutil.copyfile(DAG_FILE, home / "dags" / DAG_FILE.name)
        emulator.control.configure(pending_polls=polls // 2, active_polls=polls - polls // 2)
        env = _env(home, emulator.url, poll_seconds)
        deadline = time.time() + limit_seconds
        log = (home / "standalone.log").open("w")
        airflow = subprocess.Popen(
            ["timeout", "-s", "KILL", str(int(limit_seconds) + 30), "airflow", "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_api(env, deadline)
            _trigger(env, deadline)
            db = home / "airflow.db"
            timeline: list[tuple[float, str]] = []
            run_state = None
            while time.time() < deadline:
                rows = _query(db, "SELECT state FROM task_instance WHERE dag_id=? AND task_id='wait'", (DAG_ID,))
                state = rows[0][0] if rows else None
                if state and (not timeline or timeline[-1][1] != state):
                    timeline.append((time.time(), state))
                runs = _query(db, "SELECT state FROM dag_run WHERE dag_id=?", (DAG_ID,))
                run_state = runs[0][0] if runs else None
                if run_state in ("success", "failed"):
                    break
                time.sleep(0.2)
            tasks = {
                task_id: (state, start, end)
                for task_id, state, start, end in _query(
                    db,
                    "SELECT task_id, state, start_date, end_date FROM task_instance WHERE dag_id=?",
                    (DAG_ID,),
                )
            }
            if run_state != "success":
                print((home / "standalone.log").read_text()[-5000:], file=sys.stderr)
                for path in sorted((home / "logs").rglob("*.log")):
                    print(f"--- {path.relative_to(home)}\n" + path.read_text()[-3000:], file=sys.stderr)
        finally:
            os.killpg(airflow.pid, 9)
            airflow.wait()
            log.close()
        sync_gets = [r for r in emulator.control.requests() if r["method"] == "GET" and "/syncs/" in r["path"]]
    deferred = [t for t, s in timeline if s == "deferred"]
    left = [t for t, s in timeline if deferred and t > deferred[0] and s != "deferred"]
    start, end = (deferred[0], left[0]) if deferred and left else (None, None)
    in_deferral = [r for r in sync_gets if start and start <= r["ts"] <= end]
    probe_state, probe_start, probe_end = tasks.get("probe", (None, None, None))
    # With one slot, the probe can start only after the sensor's first run gave the slot up; it must
    # also end before the sensor resumed. (State changes are observed every 0.2 s, so the sensor's
    # "running" sighting, not the later "deferred" sighting, bounds the window from below.)
    first_run = next((t for t, s in timeline if s == "running"), None)
    probe_inside = bool(
        first_run
        and start
        and probe_start
        and probe_end
        and first_run <= _epoch(probe_start)
        and _epoch(probe_end) <= end
    )
    return {
        "dag_run": run_state,
        "polls_to_finish": polls,
        "poll_seconds": poll_seconds,
        "sensor_states": [s for _, s in timeline],
        "sensor_deferred_seconds": round(end - start, 2) if start else None,
        "poll_intervals_in_deferral": round((end - start) / poll_seconds, 2) if start else None,
        "sync_gets_in_deferral": len(in_deferral),
        "sync_gets_total": len(sync_gets),
        "probe_state": probe_state,
        "probe_ran_inside_deferral": probe_inside,
        "probe_start_end_after_deferral_s": (
            [round(_epoch(t) - start, 2) for t in (probe_start, probe_end)] if start and probe_end else None
        ),
        "parallelism": 1,
    }


def _epoch(value: str) -> float:
    stamp = datetime.fromisoformat(value)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    result = run(args.polls, args.poll_seconds)
    print(json.dumps(result, indent=2))
    ok = result["dag_run"] == "success" and result["probe_ran_inside_deferral"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
