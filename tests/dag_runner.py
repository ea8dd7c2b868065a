"""Run real DAG files in-process with ``dag.test()`` against a throwaway SQLite metadata DB.

Airflow 3.3 only runs a DAG that its dags folder also defines, so DAG files are copied into the
session's dags folder (set in conftest.py) and parsed from there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_eloqua.emulator import EmulatorServer, airflow_connection_json

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"


@dataclass
class TaskResult:
    state: str | None
    try_number: int
    xcoms: dict[str, Any] = field(default_factory=dict)

    @property
    def return_value(self) -> Any:
        return self.xcoms.get("return_value")


@dataclass
class DagResult:
    state: str
    run_id: str
    tasks: dict[str, TaskResult]

    def __getitem__(self, task_id: str) -> TaskResult:
        return self.tasks[task_id]


def connection_json(emulator: EmulatorServer, **overrides: Any) -> str:
    """An ``eloqua`` connection for AIRFLOW_CONN_*: basic auth, the pod discovered through ``/id``."""
    extra = {"timeout": 10, **overrides.pop("extra", {})}
    return airflow_connection_json(emulator.url, extra=extra, **overrides)


def install_dag_file(source: Path) -> Path:
    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / source.name
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return target


def write_dag_file(name: str, code: str) -> Path:
    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / name
    target.write_text(code)
    return target


def _xcoms(dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    found: dict[str, dict[str, Any]] = {}
    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id))
        for row in rows:
            found.setdefault(row.task_id, {})[row.key] = XComModel.deserialize_value(row)
    return found


@contextmanager
def _short_idle_waits() -> Iterator[None]:
    """``dag.test()`` sleeps 1 s whenever no task is ready (a sensor waiting for its reschedule date, a
    task waiting for its retry): here it looks again after 0.1 s, so a run ends as soon as its tasks can.
    Only the sleeps of ``DAG.test`` itself are shortened; every other caller sleeps as asked."""
    import time

    from airflow.sdk.definitions.dag import DAG

    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if sys._getframe(1).f_code is DAG.test.__code__:
            seconds = min(seconds, 0.1)
        real_sleep(seconds)

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real_sleep


def run_dag(dag_file: Path, dag_id: str, run_conf: dict[str, Any] | None = None, logical_date: Any = None) -> DagResult:
    """Parse ``dag_file`` from the dags folder, run ``dag_id`` once with ``dag.test()``, collect results.

    With ``logical_date`` the run gets its timetable's data interval for that date (a scheduled
    DAG's run of that day); without it, a manual run's data interval (no length).
    """
    from airflow.dag_processing.dagbag import DagBag

    path = install_dag_file(dag_file)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not in {path}"
    with _short_idle_waits():
        run = dag.test(run_conf=run_conf, **({"logical_date": logical_date} if logical_date is not None else {}))
    xcoms = _xcoms(dag_id, run.run_id)
    tasks = {
        ti.task_id: TaskResult(state=ti.state, try_number=ti.try_number, xcoms=xcoms.get(ti.task_id, {}))
        for ti in run.get_task_instances()
    }
    return DagResult(state=run.state, run_id=run.run_id, tasks=tasks)


def clear_and_rerun(dag_file: Path, dag_id: str, run_id: str) -> DagResult:
    """Clear every task of the DAG run ``run_id`` as the UI's Clear does (each task instance's
    ``max_tries`` grows by its retries, its task state store is kept) and run it again.

    The DAG file is parsed again first, so a test can change the DAG (its spec) in between, as a
    user who fixes a DAG and clears the failed task does. ``dag.test()`` would start a new run
    (a new task instance, whose state store is empty), so its run loop is given this one.
    """
    from unittest import mock

    import airflow.models.dagrun as dagrun_module
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    path = install_dag_file(dag_file)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not in {path}"
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        assert run is not None, f"no run {run_id} of {dag_id}"
        logical_date = run.logical_date

    def the_cleared_run(*, dag: Any, session: Any, **_: Any) -> DagRun:
        found = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        found.dag = dag
        found.state = DagRunState.RUNNING
        session.commit()
        return found

    # dag.test() clears the task instances of the run's logical date (SerializedDAG.clear_dags, as
    # the UI's Clear does) and is given the cleared run instead of creating another.
    with mock.patch.object(dagrun_module, "get_or_create_dagrun", the_cleared_run), _short_idle_waits():
        run = dag.test(logical_date=logical_date)
    xcoms = _xcoms(dag_id, run.run_id)
    tasks = {
        ti.task_id: TaskResult(state=ti.state, try_number=ti.try_number, xcoms=xcoms.get(ti.task_id, {}))
        for ti in run.get_task_instances()
    }
    return DagResult(state=run.state, run_id=run.run_id, tasks=tasks)


def resolved_links(dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
    """What Airflow's extra-links API answers for a task of a run: each link of the serialized task,
    resolved from the XCom its try stored (an empty link is None, as the API gives it)."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag = SerializedDagModel.get_dag(dag_id)
    assert dag is not None
    task = dag.get_task(task_id)
    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        return {name: task.get_extra_links(ti, name) or None for name in task.extra_links}


CHILD_CODE = """
import json, sys
from pathlib import Path
from tests.dag_runner import run_dag

result = run_dag(Path(sys.argv[1]), sys.argv[2])
plain = lambda value: getattr(value, "value", value)
tasks = {
    task_id: {"state": plain(task.state), "try_number": task.try_number, "return_value": task.return_value}
    for task_id, task in result.tasks.items()
}
Path(sys.argv[3]).write_text(json.dumps({"state": plain(result.state), "tasks": tasks}, default=str))
"""


@dataclass
class DagProcess:
    """A DAG run in a process of its own, for a run that overlaps one in the test's process (two
    Airflow workers on one Eloqua site) or that is killed. It has its own AIRFLOW_HOME with a copy
    of the session's metadata DB: what the two runs share is the Eloqua site, as in production."""

    process: subprocess.Popen
    home: Path

    @property
    def log(self) -> str:
        return (self.home / "run.log").read_text(errors="replace")

    def result(self, timeout: float = 300) -> dict[str, Any]:
        """``{"state", "tasks": {task_id: {"state", "try_number", "return_value"}}}`` once it has ended."""
        self.process.wait(timeout)
        result_file = self.home / "result.json"
        assert result_file.exists(), f"the DAG run process exited {self.process.returncode}:\n{self.log[-5000:]}"
        return json.loads(result_file.read_text())

    def kill(self) -> None:
        """SIGKILL: the run gets no chance to clean up, as when a worker is killed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)


def start_dag_process(dag_file: Path, dag_id: str, env: dict[str, str]) -> DagProcess:
    """Start ``dag_id`` of ``dag_file`` (run with ``dag.test()``) in a child process; ``env`` adds to ours."""
    home = Path(tempfile.mkdtemp(prefix="eloqua-tests-airflow-child-"))
    (home / "dags").mkdir()
    # A consistent copy of the migrated metadata DB (SQLite in WAL mode: copy through the backup API).
    with (
        closing(sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")) as source,
        closing(sqlite3.connect(home / "airflow.db")) as target,
    ):
        source.backup(target)
    child_env = {
        **os.environ,
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    with (home / "run.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE, str(dag_file), dag_id, str(home / "result.json")],
            cwd=REPO,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return DagProcess(process=process, home=home)
