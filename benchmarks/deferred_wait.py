"""Deferred wait: HTTP requests per poll interval, and proof that a deferred sensor holds no worker slot.

Runs real Airflow (`airflow standalone`: scheduler, triggerer, dag-processor, API server; SQLite;
[core] parallelism = 1) against the emulator. The sync takes ``polls`` status checks to end. The
benchmark DAG's low-priority ``probe`` task can only get the single worker slot while the sensor
is deferred. Reported: the sensor's states over time, whether the probe ran inside the deferral,
and the status GETs the sync received against the poll intervals the wait lasted. ``measure`` runs
the DAG and reads the states through the REST API of any running Airflow; ``run`` starts the
standalone one for it (the smoke test measures on the deployment tests' Airflow instead).

    python -m benchmarks.deferred_wait [--polls 10] [--poll-seconds 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from airflow_provider_eloqua.emulator import EmulatorControl, EmulatorServer, airflow_connection_json

DAG_ID = "eloqua_bench_deferred_wait"
ADMIN = "admin"
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
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        ELOQUA_BENCH_POLL_SECONDS=str(poll_seconds),
        AIRFLOW_CONN_ELOQUA_DEFAULT=airflow_connection_json(emulator_url),
    )
    return env


class AirflowApi:
    """A running Airflow's public REST API (v2), signed in as a SimpleAuthManager user."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        answer = requests.post(f"{self.base_url}/auth/token", json={"username": user, "password": password}, timeout=30)
        answer.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=60, **kwargs)
        answer.raise_for_status()
        return answer.json()


def _wait_for_api(base_url: str, deadline: float) -> None:
    """Tasks talk to the execution API: trigger only once the API server answers."""
    while time.time() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base_url}/api/v2/monitor/health", timeout=5).status_code == 200:
                return
        time.sleep(1)
    raise TimeoutError("the Airflow API server never answered")


def _trigger(api: AirflowApi, deadline: float) -> str:
    """Unpause and trigger the benchmark DAG once the dag-processor has parsed it; returns the run id."""
    while time.time() < deadline:
        try:
            api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        except requests.HTTPError as error:
            if error.response is None or error.response.status_code != 404:
                raise
            time.sleep(1)
            continue
        return api.call("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})["dag_run_id"]
    raise TimeoutError(f"{DAG_ID} was never parsed by the dag-processor")


def measure(api: AirflowApi, emulator: EmulatorControl, polls: int, poll_seconds: float, deadline: float) -> dict:
    """Run the benchmark DAG once on a running Airflow whose dags folder has ``DAG_FILE``, whose sensor polls
    every ``poll_seconds`` and whose ``eloqua_default`` is ``emulator``; return the measurements."""
    emulator.configure(pending_polls=polls // 2, active_polls=polls - polls // 2)
    emulator.clear_requests()
    run_id = _trigger(api, deadline)
    run_path = f"/dags/{DAG_ID}/dagRuns/{run_id}"
    timeline: list[tuple[float, str]] = []
    run_state = None
    while time.time() < deadline:
        state = api.call("GET", f"{run_path}/taskInstances/wait")["state"]
        if state and (not timeline or timeline[-1][1] != state):
            timeline.append((time.time(), state))
        run_state = api.call("GET", run_path)["state"]
        if run_state in ("success", "failed"):
            break
        time.sleep(0.2)
    tasks = {
        ti["task_id"]: (ti["state"], ti["start_date"], ti["end_date"])
        for ti in api.call("GET", f"{run_path}/taskInstances")["task_instances"]
    }
    sync_gets = [r for r in emulator.requests() if r["method"] == "GET" and "/syncs/" in r["path"]]
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
        "run_id": run_id,
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
    }


def run(polls: int = 10, poll_seconds: float = 1.0, limit_seconds: float = 240) -> dict:
    """Run the benchmark DAG once under `airflow standalone`; return the measurements."""
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-deferred-") as tmp, EmulatorServer() as emulator:
        home = Path(tmp)
        (home / "dags").mkdir()
        shutil.copyfile(DAG_FILE, home / "dags" / DAG_FILE.name)
        password = secrets.token_urlsafe(12)
        (home / "passwords.json").write_text(json.dumps({ADMIN: password}))
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
            _wait_for_api(env["AIRFLOW__API__BASE_URL"], deadline)
            api = AirflowApi(env["AIRFLOW__API__BASE_URL"], ADMIN, password)
            result = measure(api, emulator.control, polls, poll_seconds, deadline)
            if result["dag_run"] != "success":
                print((home / "standalone.log").read_text()[-5000:], file=sys.stderr)
                for path in sorted((home / "logs").rglob("*.log")):
                    print(f"--- {path.relative_to(home)}\n" + path.read_text()[-3000:], file=sys.stderr)
        finally:
            os.killpg(airflow.pid, 9)
            airflow.wait()
            log.close()
    return {**result, "parallelism": 1}


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
