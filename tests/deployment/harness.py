"""A real deployment, the way an Airflow team runs it, for the deployment and connection-form tests.

- The provider ``pip install``-ed from this checkout into a venv of its own, as a user installs it (a
  wheel, not editable). Airflow and the rest (the amazon, celery and postgres providers, the PostgreSQL
  drivers: the ``test`` extra) come from the test venv, which the venv's path continues into, so
  nothing but the provider is installed again. One venv serves every topology (``install_venv``).
- The emulator as its own process, through the installed ``eloqua-emulator`` command.
- PostgreSQL (tests/deployment/postgres.py) as the metadata database: one server for every
  topology, a database each, copied from one that ``migrate`` brought to Airflow's schema.
- Airflow's components as separate processes: scheduler, triggerer, dag-processor and api-server,
  with the SimpleAuthManager (a user and password we choose) and connection testing enabled; every
  file of example_dags/ copied into the dags folder and parsed once. Two topologies:
  - ``LocalExecutor``: tasks run in the scheduler's subprocesses;
  - ``CeleryExecutor``: two Celery workers (``WORKERS``), each with a queue of its own besides
    ``default``, Redis as the broker (Debian's ``redis-server`` on a free loopback port, installed
    with apt-get when missing) and PostgreSQL as the result backend. ``runner_env`` (connections)
    goes to the workers and the triggerer only, the processes that call Eloqua.
- The examples' settings: a poll a second, exports without a lag, and the SQL example's warehouse
  connection, a database of the same PostgreSQL server.

Every process runs under ``timeout -s KILL`` (nothing outlives a crashed test run) in its own
process group, and ``stop()`` ends them all and their descendants, whatever happened. ``timings``
has the seconds of each phase and ``cpu_seconds`` the CPU each process used; the fixtures print both.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorControl
from tests.deployment.postgres import PostgresServer, apt_install, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
#: Upper bound on the life of every process the harness starts (a safety net, not a timing check).
PROCESS_LIMIT_SECONDS = 3600
ADMIN_USER = "admin"
COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")
WAREHOUSE_DB, WAREHOUSE_CONN = "warehouse", "AIRFLOW_CONN_ELOQUA_EXAMPLE_WAREHOUSE"
#: The CeleryExecutor topology's workers; each serves ``default`` and a queue named after itself.
WORKERS = ("worker_a", "worker_b")
#: ``venv/bin/airflow``, as pip writes the console script of apache-airflow-core.
AIRFLOW_SCRIPT = """#!{python}
import sys
from airflow.__main__ import main
if __name__ == "__main__":
    sys.exit(main())
"""
#: Importable by the Celery workers only (on their PYTHONPATH): the hostname a task instance records is
#: the worker's name, so the REST API says which of two workers on one machine ran a try.
WORKER_HOSTNAME_MODULE = """import os


def hostname():
    return os.environ["ELOQUA_DEPLOY_WORKER"]
"""


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


def install_venv(venv: Path, log: Path) -> None:
    """This checkout ``pip install``-ed into a new ``venv`` as a user installs it: a wheel
    built from the checkout, not editable. Everything else (Airflow, the amazon, celery and postgres
    providers, the PostgreSQL drivers: the ``test`` extra) is the test venv's, which ``venv``'s path
    continues into, so only the provider is installed here (``--no-deps``). ``venv/bin/airflow`` runs
    ``venv``'s Python. Raises unless ``venv``'s Python imports the provider from ``venv``."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300, stdout=out, stderr=out
        )
        site_packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        # A path line, not `import site`: the test venv's own .pth files (its editable install of this
        # checkout among them) are not run, so the provider imports only from `venv`.
        (site_packages / "test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check"),
                # --ignore-installed: the test venv's editable install is seen and left alone;
                # --no-build-isolation: built with the test venv's setuptools, none installed first
                *("--no-deps", "--no-build-isolation", "--no-compile", "--ignore-installed", str(REPO)),
            ],
            check=True,
            timeout=600,
            stdout=out,
            stderr=out,
        )
    (venv / "bin" / "airflow").write_text(AIRFLOW_SCRIPT.format(python=python))
    (venv / "bin" / "airflow").chmod(0o755)
    origin = subprocess.run(
        [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('airflow_provider_eloqua').origin)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=venv,  # not the checkout, which `python -c` would import from
    ).stdout.strip()
    if not origin.startswith(str(site_packages)):
        raise RuntimeError(f"the deployment venv imports the provider from {origin}, not from {site_packages}")


def airflow_environment(venv: Path, home: Path, database_url: str) -> dict[str, str]:
    """What every Airflow command of a deployment runs with: ``venv`` first on PATH, its own home and
    metadata database, the SimpleAuthManager, and nothing of the caller's AIRFLOW_* or ELOQUA_* variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "ELOQUA"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database_url,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    return env


def migrate(venv: Path, postgres: PostgresServer, database: str, log: Path) -> None:
    """``airflow db migrate`` of ``database``, which the deployments then copy as their metadata database
    (``createdb -T``): Airflow's schema is migrated once for every topology."""
    home = Path(tempfile.mkdtemp(prefix="eloqua-deploy-migrate-"))
    try:
        migrated = subprocess.run(
            ["timeout", "-s", "KILL", "900", str(venv / "bin" / "airflow"), "db", "migrate"],
            env=airflow_environment(venv, home, postgres.database_url(database)),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    log.write_text(migrated.stdout + migrated.stderr)
    if migrated.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")


def redis_server_bin() -> str:
    """Debian's ``redis-server``, installed with apt-get when missing (as PostgreSQL is)."""
    found = shutil.which("redis-server")
    if not found:
        apt_install("redis-server")
        found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server installed, but not on PATH")
    return found


def redis_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and every process below it (a task's process may sit in a process group of its own)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid``, everything below it, and the descendants they have reaped."""
    total = 0.0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(proc.cpu_times()[:4])  # user, system, children_user, children_system
    return round(total, 1)


def kill_tree(pid: int) -> None:
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


class Deployment:
    """See the module docstring; ``start()`` returns once the API answers.

    :param venv: the deployment venv (``install_venv``).
    :param postgres: the PostgreSQL server the deployment's databases are created on.
    :param template: the database, migrated by ``migrate``, that the metadata database is a copy of.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param settings: environment every process gets, over the defaults (e.g. the examples' settings).
    :param runner_env: environment only the processes that run tasks and triggers get.
    :param extra_dags: DAG files copied beside the examples.
    """

    def __init__(
        self,
        venv: Path,
        postgres: PostgresServer,
        template: str,
        executor: str = "LocalExecutor",
        settings: dict[str, str] | None = None,
        runner_env: dict[str, str] | None = None,
        extra_dags: tuple[Path, ...] = (),
    ) -> None:
        self.venv = venv
        self.postgres = postgres
        self.template = template
        self.executor = executor
        self.settings = dict(settings or {})
        self.runner_env = dict(runner_env or {})
        self.extra_dags = extra_dags
        self.root = Path(tempfile.mkdtemp(prefix="eloqua-deploy-"))
        self.home = self.root / "airflow"
        self.logs = self.root / "process-logs"
        self.output = self.root / "output"
        self.artifacts = Path(tempfile.mkdtemp(prefix="eloqua-deploy-artifacts-"))
        for folder in (self.home / "dags", self.logs, self.output):
            folder.mkdir(parents=True)
        # Databases of their own on the shared server: the metadata DB and the SQL example's warehouse.
        self.database = f"airflow_{executor.lower()}"
        self.warehouse = f"{WAREHOUSE_DB}_{executor.lower()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.killed: dict[str, subprocess.Popen] = {}  # by kill(): not expected alive any more
        self.api_port = free_port()
        self.emulator_port = free_port()
        self.redis_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.emulator_url = f"http://127.0.0.1:{self.emulator_port}"
        self.admin_password = secrets.token_urlsafe(12)
        self.session = requests.Session()
        self.timings: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}  # by process, when stop() began

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Adds the seconds the block takes to ``timings[name]`` (printed when the deployment stops)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0) + time.monotonic() - started, 1)

    # ------------------------------------------------------------------ start and stop

    def start(self) -> Deployment:
        with self.phase("start"):
            # The SQL example's warehouse (the default ELOQUA_EXAMPLE_SQL_CONN_ID): a database of this server.
            warehouse = {"conn_type": "postgres", "host": "127.0.0.1", "port": self.postgres.port, "login": "airflow"}
            self.runner_env.setdefault(WAREHOUSE_CONN, json.dumps({**warehouse, "schema": self.warehouse}))
            self.env = self._environment()
            if self.celery:
                redis = [redis_server_bin(), "--bind", "127.0.0.1", "--port", str(self.redis_port)]
                redis += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
                self._spawn("redis", redis, env=os.environ)
            self._spawn("emulator", ["eloqua-emulator", "--host", "127.0.0.1", "--port", str(self.emulator_port)])
            self.emulator = EmulatorControl(self.emulator_url)
            self.postgres.create_database(self.database, template=self.template)
            self.postgres.create_database(self.warehouse)
            shutil.copytree(
                EXAMPLE_DAGS, self.home / "dags", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
            for dag_file in self.extra_dags:
                shutil.copy(dag_file, self.home / "dags" / dag_file.name)
            (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.admin_password}))
            if self.celery:
                wait_until(lambda: self._check_alive() or redis_answers(self.redis_port), "Redis answering PING", 120)
            runs_tasks = ("triggerer",) if self.celery else ("scheduler", "triggerer")
            for component in COMPONENTS:
                self._spawn(component, ["airflow", component], self.runner_env if component in runs_tasks else {})
            if self.celery:
                self._start_workers()
            wait_until(self._emulator_up, "the emulator answering", 120)
            wait_until(self._api_up, "the Airflow API server answering", 300)
            self.login()
        return self

    def _start_workers(self) -> None:
        pythonpath = self.root / "worker-pythonpath"
        pythonpath.mkdir()
        (pythonpath / "eloqua_deploy_worker.py").write_text(WORKER_HOSTNAME_MODULE)
        for worker in WORKERS:
            argv = ["airflow", "celery", "worker", "--queues", f"default,{worker}", "--concurrency", "4"]
            argv += ["--celery-hostname", f"{worker}@%h", "--without-mingle", "--without-gossip"]
            self._spawn(
                worker,
                argv,
                {
                    **self.runner_env,
                    "PYTHONPATH": str(pythonpath),
                    "ELOQUA_DEPLOY_WORKER": worker,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "eloqua_deploy_worker.hostname",
                    # two workers on one machine: a log server port each
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                },
            )

    def _environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        env = airflow_environment(self.venv, self.home, self.postgres.database_url(self.database))
        env.update(
            AIRFLOW__CORE__EXECUTOR=self.executor,
            # The examples run about ten tasks at once; the LocalExecutor forks this many workers at start.
            AIRFLOW__CORE__PARALLELISM="16",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__BASE_URL=self.api_url,
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            # Each file is parsed once: its DAGs never change during a test, and a parse costs CPU.
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="3600",
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.home / "logs"),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),  # not 8793: other Airflows may run here
            # The example DAGs' own knobs: poll every second, fail at a bounded deadline.
            ELOQUA_EXAMPLE_POLL_SECONDS="1",
            ELOQUA_EXAMPLE_TIMEOUT_SECONDS="600",
            ELOQUA_EXAMPLE_OUTPUT_DIR=str(self.output),
            ELOQUA_EXAMPLE_EXPORT_LAG="0",  # the daily exports ask for their interval at once
        )
        if self.celery:
            env.update(
                AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                # postgresql+psycopg2://
                AIRFLOW__CELERY__RESULT_BACKEND="db+" + self.postgres.database_url(self.database),
                # A try whose worker died is failed (and retried) once its heartbeats are this old; a live
                # try heartbeats every 2 s, so ten in a row must go missing first.
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="1",
                AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="2",
            )
        env.update(self.settings)
        return env

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None, env: Any = None) -> None:
        """Start ``argv`` in a process group of its own with ``env`` (default: the deployment's) plus ``extra_env``."""
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            ["timeout", "-s", "KILL", str(PROCESS_LIMIT_SECONDS), *argv],
            env={**(self.env if env is None else env), **(extra_env or {})},
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        if dead:
            tails = {name: (self.logs / f"{name}.log").read_text(errors="replace")[-3000:] for name in dead}
            raise RuntimeError(f"processes exited early: {dead}; see {self.logs}; their logs end:\n{tails}")

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

    def kill(self, name: str) -> None:
        """SIGKILL process ``name`` and everything below it, as a machine that dies takes them all."""
        proc = self.processes.pop(name)
        self.killed[name] = proc
        kill_tree(proc.pid)
        proc.wait(60)

    def stop(self) -> None:
        """End every process (TERM to its group, KILL after 3 s) and whatever it started; never raises. The
        deployment is thrown away: the short grace only lets the processes flush their logs. The databases
        go with the PostgreSQL server, which outlives the deployment."""
        with self.phase("stop"):
            self.cpu_seconds = {name: tree_cpu_seconds(proc.pid) for name, proc in self.processes.items()}
            trees = {pid.pid for proc in self.processes.values() for pid in process_tree(proc.pid)}
            for proc in self.processes.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 3
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
            for pid in trees:  # and those in groups of their own (a task's process may be)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

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

    def example_dags(self, timeout: float = 600) -> dict[str, str]:
        """Every DAG of the copied example_dags/ files, once the deployment's dag-processor has parsed each
        of them, as the REST API lists them: dag_id -> ``manual`` (no schedule), ``assets`` (scheduled on
        Assets) or ``scheduled`` (on time). An import error fails here, naming the file."""
        files = {path.relative_to(EXAMPLE_DAGS).as_posix() for path in EXAMPLE_DAGS.rglob("*.py")}

        def parsed() -> dict[str, str] | None:
            self._check_alive()
            errors = self.api("GET", "/importErrors", params={"limit": 1000})["import_errors"]
            failed = {error["filename"]: error["stack_trace"] for error in errors if error["filename"] in files}
            assert not failed, f"example DAG files that do not import: {failed}"
            dags = [
                d for d in self.api("GET", "/dags", params={"limit": 1000})["dags"] if d["relative_fileloc"] in files
            ]
            if {d["relative_fileloc"] for d in dags} != files:
                return None
            kinds = {None: "manual", "Asset": "assets"}
            return {d["dag_id"]: kinds.get(d["timetable_summary"], "scheduled") for d in dags}

        return wait_until(parsed, f"the dag-processor parsing every file of {EXAMPLE_DAGS}", timeout, interval=1)

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 600) -> None:
        def parsed() -> bool:
            self._check_alive()
            found = {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 1000})["dags"]}
            return dag_ids <= found

        wait_until(parsed, f"the dag-processor parsing {sorted(dag_ids)}", timeout, interval=1)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        def finished() -> str | None:
            self._check_alive()
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        return wait_until(finished, f"{dag_id} run {run_id} finishing", timeout, interval=1)

    def run_examples(self, conf: dict[str, dict[str, Any]] | None = None, also: tuple[str, ...] = ()) -> dict:
        """Run every example DAG (and the DAGs in ``also``) once, all at the same time, and wait for them.

        A DAG without a schedule is triggered. A DAG scheduled on time is unpaused and runs as its
        schedule says (``catchup=False``: one run, for the last interval). A DAG scheduled on Assets is
        unpaused and runs on the events the others record; it is done once no event is queued for it
        and its runs have ended. Returns dag_id -> its runs:
        ``[{"run_id", "run_type", "state", "tasks": {task_id: task instance}}]``.
        """
        kinds = {**self.example_dags(), **dict.fromkeys(also, "manual")}
        self.wait_for_dags(set(also))
        for dag_id in sorted(dag_id for dag_id, kind in kinds.items() if kind != "manual"):
            self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run_ids = {
            dag_id: [self.trigger(dag_id, (conf or {}).get(dag_id))]
            for dag_id, kind in kinds.items()
            if kind == "manual"
        }
        for dag_id, (run_id,) in run_ids.items():
            self.wait_for_run(dag_id, run_id)

        def runs_ended(dag_id: str) -> list[str] | None:
            self._check_alive()
            if self.api("GET", f"/dags/{dag_id}/assets/queuedEvents")["queued_events"]:
                return None
            runs = self.api("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
            ended = runs and all(run["state"] in ("success", "failed") for run in runs)
            return [run["dag_run_id"] for run in runs] if ended else None

        for dag_id in sorted(dag_id for dag_id, kind in kinds.items() if kind != "manual"):
            run_ids[dag_id] = wait_until(partial(runs_ended, dag_id), f"{dag_id}'s {kinds[dag_id]} runs", 900, 1)
        result: dict[str, list[dict[str, Any]]] = {}
        for dag_id, ids in run_ids.items():
            for run_id in ids:
                run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
                tasks = self.task_instances(dag_id, run_id)
                result.setdefault(dag_id, []).append({**run, "run_id": run_id, "tasks": tasks})
        return result

    @staticmethod
    def timeline(runs: dict[str, list[dict[str, Any]]]) -> str:
        """``run_examples``' runs as seconds since the first one was queued: each run's start and end, and
        each task's (for reading where the time goes)."""
        from datetime import datetime

        def at(stamp: str | None) -> float | None:
            return datetime.fromisoformat(stamp).timestamp() if stamp else None

        origin = min(at(run["queued_at"]) or 0 for dag_runs in runs.values() for run in dag_runs)

        def span(item: dict[str, Any]) -> str:
            start, end = at(item["start_date"]), at(item["end_date"])
            return f"{(start or origin) - origin:5.1f} -> {(end or origin) - origin:5.1f}"

        lines = []
        for dag_id, dag_runs in sorted(runs.items()):
            for run in dag_runs:
                lines.append(f"{span(run)}  {dag_id}")
                tasks = sorted(run["tasks"].items(), key=lambda item: item[1]["start_date"] or "")
                lines += [f"  {span(ti)}    {task} (try {ti['try_number']})" for task, ti in tasks]
        return "\n".join(lines)

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
