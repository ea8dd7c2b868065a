"""Shared fixtures: one emulated Eloqua site per test session, reset before every test.

Airflow reads AIRFLOW_HOME and the dags folder when it is first imported, so the throwaway
Airflow environment (SQLite metadata DB in a temp dir) is set here, before anything imports it.
Each pytest-xdist worker is a process of its own, so each has its own AIRFLOW_HOME and emulator.
"""

from __future__ import annotations

import os
import tempfile

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="eloqua-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_AIRFLOW_HOME, "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
# A DAG id run again with other arguments (the next test's spec) is read back as the test wrote it:
# Airflow's in-process cache of serialized DAGs would otherwise serve a version it read up to 30 s ago.
os.environ["AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL"] = "0"
os.environ.pop("AIRFLOW_CONN_ELOQUA_DEFAULT", None)
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_eloqua.emulator import EmulatorServer

#: Modules whose tests share something costly to make (a module-scoped server, a cached probe): with
#: ``-n N`` each runs on one worker, so only one worker makes it.
ONE_WORKER_MODULES = ("tests/transfers/test_sql_rows.py", "tests/test_layout.py")


def _work_unit(nodeid: str) -> str:
    """What one worker runs together: every deployment test (one venv, Airflow's components as processes,
    nothing else heavy beside them), each of ``ONE_WORKER_MODULES``, and any other test on its own."""
    path = nodeid.split("::")[0]
    if path.startswith("tests/deployment/"):
        return "tests/deployment/"
    return path if path in ONE_WORKER_MODULES else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``make test`` (``-n N``): tests go to the workers in collection order (see
    ``pytest_collection_modifyitems``), each work unit (``_work_unit``) to one worker, the next unit to
    whichever worker runs out first. An explicit ``--dist`` other than ``load`` is left to xdist."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    config.option.loadscopereorder = False  # keep the collection order: the long tests first
    return SuiteScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deployment tests first, then the system tests, the benchmark smokes and the private PostgreSQL
    servers, then the rest: with ``-n N`` the long runs start at once and the short ones fill the end."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        if path.startswith("tests/deployment/"):
            return 0
        slow = item.get_closest_marker("postgres") or path.startswith("tests/system/") or "benchmark" in path
        return 1 if slow else 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """The emulator, started once: uvicorn start-up is the slow part, a reset is cheap."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session emulator, reset to a fresh site (default credentials, no data or faults)."""
    emulator_server.control.reset()
    return emulator_server


@pytest.fixture(autouse=True)
def provider_log_level() -> Iterator[None]:
    """Every test sees the provider's log lines: a benchmark run in process quiets its logger, and
    that level would otherwise stay for every later test of the worker."""
    import logging

    logger = logging.getLogger("airflow_provider_eloqua")
    level, disabled = logger.level, logger.disabled
    yield
    logger.setLevel(level)
    logger.disabled = disabled


@pytest.fixture(autouse=True)
def fresh_shared_sessions() -> Iterator[None]:
    """Every test starts without the pods and tokens an earlier test's hooks shared (a fresh process)."""
    from airflow_provider_eloqua.hooks.session import forget_sessions

    forget_sessions()
    yield
    forget_sessions()


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB in the session's throwaway AIRFLOW_HOME."""
    from airflow.utils import db

    db.initdb()
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture
def eloqua_conn(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """``eloqua_default`` pointing at the emulator (basic auth, pod discovery), short example intervals."""
    from tests.dag_runner import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    monkeypatch.setenv("ELOQUA_EXAMPLE_POLL_SECONDS", "0.1")
    monkeypatch.setenv("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "60")
    return emulator


@pytest.fixture
def worker_clock(monkeypatch: pytest.MonkeyPatch):
    """The clock and sleeps of a wait in the worker (sync/waiting.py) and of the hook's retries (retry.py
    and tenacity's sleep) and of an upload's restarts (staging.py), emulated: a sleep advances the clock at once and is recorded in ``slept``,
    so a deadline is reached by the code's own arithmetic, never by how fast the machine is. The
    clock starts at the real time: a deadline an operator sets from the real clock is reached after
    its timeout's worth of sleeps."""
    import time
    import types

    import tenacity.nap

    from airflow_provider_eloqua import retry, staging
    from airflow_provider_eloqua.sync import waiting

    clock = types.SimpleNamespace(now=float(int(time.time())), slept=[])

    def sleep(seconds: float) -> None:
        clock.slept.append(seconds)
        clock.now += seconds

    fake = types.SimpleNamespace(time=lambda: clock.now, sleep=sleep)
    monkeypatch.setattr(waiting, "time", fake)
    monkeypatch.setattr(retry, "time", fake)
    monkeypatch.setattr(tenacity.nap, "time", fake)
    monkeypatch.setattr(staging, "time", fake)
    return clock


@pytest.fixture
def conn(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch):
    """Point ``tests.triggers.helpers.CONN_ID`` at the emulator (basic auth by default); returns a function
    to re-point it."""
    from tests.dag_runner import connection_json
    from tests.triggers.helpers import CONN_ID

    def set_conn(**overrides: Any) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(emulator, **overrides))

    set_conn()
    return set_conn
