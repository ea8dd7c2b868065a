"""A real deployment, the way an Airflow team runs it, for the deployment and connection-form tests.

- The provider ``pip install``-ed from this checkout into a fresh venv, as a user installs it (with
  ``psycopg2-binary`` and ``asyncpg`` for the metadata DB), pinned to the test venv's versions so pip resolves
  nothing new and takes every wheel from its cache.
- The emulator as its own process, through the installed ``eloqua-emulator`` command.
- PostgreSQL (tests/deployment/postgres.py) as the metadata database.
- Airflow's components as separate processes: scheduler (LocalExecutor), triggerer, dag-processor
  and api-server, with the SimpleAuthManager (a user and password we choose) and connection testing
  enabled; the example DAGs copied into the dags folder.

Every process runs under ``timeout -s KILL`` (nothing outlives a crashed test run) in its own
process group, and ``stop()`` ends them all, then PostgreSQL, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorControl
from tests.deployment.postgres import PostgresServer, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
#: Upper bound on the life of every process the harness starts (a safety net, not a timing check).
PROCESS_LIMIT_SECONDS = 3600
ADMIN_USER = "admin"
COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")


def wait_until(condition: Callable[[], Any], what: str, timeout: float, interval: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; raise naming ``what`` at the bound."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)


def install_fresh_venv(venv: Path, log: Path) -> None:
    """``python -m venv`` + ``pip install <checkout> psycopg2-binary asyncpg``, constrained to the test venv's
    versions (``pip freeze``) so the resolver has nothing to choose and pip's cache serves the wheels."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    constraints = venv.parent / "constraints.txt"
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    constraints.write_text(
        "\n".join(line for line in frozen.splitlines() if not line.lower().startswith("airflow-provider-eloqua"))
    )
    with log.open("a") as out:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, stdout=out, stderr=out)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-compile",  # byte-compiling Airflow is most of the install's time; imports compile lazily
                "-c",
                str(constraints),
                str(REPO),
                # Airflow's PostgreSQL drivers (its sync and async engines), as its `postgres` extra has them
                "psycopg2-binary",
                "asyncpg",
            ],
            check=True,
            timeout=1800,
            stdout=out,
            stderr=out,
        )


class Deployment:
    """See the module docstring; ``start()`` returns once the API answers and the DAGs are parsed."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="eloqua-deploy-"))
        self.venv = self.root / "venv"
        self.home = self.root / "airflow"
        self.logs = self.root / "process-logs"
        self.output = self.root / "output"
        self.artifacts = Path(tempfile.mkdtemp(prefix="eloqua-deploy-artifacts-"))
        for folder in (self.home / "dags", self.logs, self.output):
            folder.mkdir(parents=True)
        self.postgres: PostgresServer | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.api_port = free_port()
        self.emulator_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.emulator_url = f"http://127.0.0.1:{self.emulator_port}"
        self.admin_password = secrets.token_urlsafe(12)
        self.session = requests.Session()
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ start and stop

    def start(self) -> Deployment:
        started = time.monotonic()
        reuse = os.environ.get("ELOQUA_DEPLOYMENT_VENV")
        if reuse:  # development only: a venv an earlier run installed; this checkout reinstalled into it
            self.venv = Path(reuse)
            if not (self.venv / "bin" / "airflow").exists():
                install_fresh_venv(self.venv, self.logs / "pip.log")
            subprocess.run(
                [
                    str(self.venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "--force-reinstall",
                    str(REPO),
                ],
                check=True,
                timeout=600,
                capture_output=True,
            )
        else:
            install_fresh_venv(self.venv, self.logs / "pip.log")
        self.timings["venv_install_s"] = time.monotonic() - started
        self.postgres = PostgresServer().start()
        self.env = self._environment()
        for dag_file in sorted(EXAMPLE_DAGS.glob("example_*.py")):
            shutil.copy(dag_file, self.home / "dags" / dag_file.name)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.admin_password}))
        self._spawn("emulator", ["eloqua-emulator", "--host", "127.0.0.1", "--port", str(self.emulator_port)])
        self.emulator = EmulatorControl(self.emulator_url)
        wait_until(self._emulator_up, "the emulator answering", 120)
        migrated = subprocess.run(
            ["timeout", "-s", "KILL", "900", str(self.venv / "bin" / "airflow"), "db", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        (self.logs / "db-migrate.log").write_text(migrated.stdout + migrated.stderr)
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")
        for component in COMPONENTS:
            self._spawn(component, ["airflow", component])
        wait_until(self._api_up, "the Airflow API server answering", 300)
        self.login()
        self.timings["start_s"] = time.monotonic() - started
        return self

    def _environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        assert self.postgres is not None
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "ELOQUA"))}
        env.update(
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.postgres.url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__BASE_URL=self.api_url,
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.home / "logs"),
            # The example DAGs' own knobs: poll every second, fail at a bounded deadline.
            ELOQUA_EXAMPLE_POLL_SECONDS="1",
            ELOQUA_EXAMPLE_TIMEOUT_SECONDS="600",
            ELOQUA_EXAMPLE_OUTPUT_DIR=str(self.output),
        )
        return env

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            ["timeout", "-s", "KILL", str(PROCESS_LIMIT_SECONDS), *argv],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        if dead:
            raise RuntimeError(f"processes exited early: {dead}; see {self.logs}")

    def _emulator_up(self) -> bool:
        self._check_alive()
        with contextlib.suppress(requests.RequestException):
            return self.emulator.state() is not None
        return False

    def _api_up(self) -> bool:
        self._check_alive()
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=10).status_code == 200
        return False

    def stop(self) -> None:
        """End every process (TERM to its group, KILL after 30 s), then PostgreSQL; never raises."""
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        for proc in self.processes.values():  # workers a component forked into the same group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.postgres is not None:
            self.postgres.stop()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ REST API (public API v2)

    def login(self) -> None:
        """A JWT from the SimpleAuthManager's ``POST /auth/token``, as the UI and API clients get it."""
        answer = requests.post(
            f"{self.api_url}/auth/token",
            json={"username": ADMIN_USER, "password": self.admin_password},
            timeout=30,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def api(self, method: str, path: str, expect: int | tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """A call of ``/api/v2<path>``; raises with the body unless the status is expected."""
        kwargs.setdefault("timeout", 60)
        answer = self.session.request(method, f"{self.api_url}/api/v2{path}", **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if answer.status_code not in expected:
            raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json() if answer.content and "json" in answer.headers.get("content-type", "") else answer.text

    def eloqua_connection(self, connection_id: str = "eloqua_default") -> dict[str, Any]:
        """The connection as a user creates it for the emulator: Site\\User + password, ``login_url``."""
        return {
            "connection_id": connection_id,
            "conn_type": "eloqua",
            "login": DEFAULT_USER,
            "password": DEFAULT_PASSWORD,
            "extra": json.dumps({"site": DEFAULT_SITE, "login_url": self.emulator_url}),
        }

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 600) -> None:
        def parsed() -> bool:
            self._check_alive()
            found = {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}
            return dag_ids <= found

        wait_until(parsed, f"the dag-processor parsing {sorted(dag_ids)}", timeout, interval=2)

    def trigger(self, dag_id: str) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        def finished() -> str | None:
            self._check_alive()
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        return wait_until(finished, f"{dag_id} run {run_id} finishing", timeout, interval=2)

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        items = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti for ti in items}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The task's log as the UI reads it (``full_content``: every source, the triggerer's included)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        body = self.api("GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"})
        content = body["content"] if isinstance(body, dict) else body
        if isinstance(content, list):
            return "\n".join(json.dumps(entry) if not isinstance(entry, str) else entry for entry in content)
        return str(content)

    def every_log_text(self) -> dict[Path, str]:
        """Every file the deployment logged to: the processes' output and Airflow's log folder."""
        files = [*self.logs.rglob("*"), *(self.home / "logs").rglob("*")]
        return {path: path.read_text(errors="replace") for path in files if path.is_file()}
