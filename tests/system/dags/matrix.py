"""Helpers shared by the fault, bad-input and security matrices (not a DAG file).

``run_matrix`` runs tests/system/dags/eloqua_matrix.py with a spec; the other helpers read what
the emulator saw (its request log and state) or act on it directly over HTTP, as a second client
of the same Eloqua site would.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorServer
from tests.dag_runner import DagResult, run_dag

DAG_FILE = Path(__file__).with_name("eloqua_matrix.py")
DAG_ID = "eloqua_matrix"
CONTACT_FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
    "LastName": "{{Contact.Field(C_LastName)}}",
}
ACTIVITY_FIELDS = {
    "ExternalId": "{{Activity.Field(ExternalId)}}",
    "ActivityType": "{{Activity.Type}}",
    "AssetName": "{{Activity.Asset.Name}}",
    "ContactId": "{{Activity.Contact.Id}}",
}


def contacts(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"Email": f"person{i}@example.com", "FirstName": f"First{i}", "LastName": f"Last{i}"}
        for i in range(start, start + n)
    ]


def activities(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"ExternalId": f"act-{i}", "ActivityType": "FormSubmit", "AssetName": f"Form {i}", "ContactId": str(i)}
        for i in range(start, start + n)
    ]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def run_matrix(monkeypatch: Any, **spec: Any) -> DagResult:
    """Run the matrix DAG once with ``spec`` (see eloqua_matrix.py for the keys)."""
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps(spec))
    return run_dag(DAG_FILE, DAG_ID)


def api_requests(emulator: EmulatorServer, method: str | None = None, pattern: str = ".*") -> list[dict[str, Any]]:
    """Requests the emulator logged (control calls excluded), filtered by method and path regex."""
    found = [
        r
        for r in emulator.control.requests()
        if (method is None or r["method"] == method) and re.search(pattern, r["path"])
    ]
    return sorted(found, key=lambda r: r["ts"])  # logged on completion; ordered here by arrival


def data_posts(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return api_requests(emulator, "POST", r"/data$")


def staged_rows(emulator: EmulatorServer) -> dict[str, int]:
    """Definition URI -> rows waiting in its staging area."""
    return {d["uri"]: d["staged_rows"] for d in emulator.control.state()["definitions"]}


def syncs(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return emulator.control.state()["syncs"]


def assert_nothing_staged(emulator: EmulatorServer) -> None:
    """Nothing is left in any staging area and no sync took any row."""
    state = emulator.control.state()
    assert all(d["staged_rows"] == 0 for d in state["definitions"]), state["definitions"]
    assert state["syncs"] == [], state["syncs"]
    assert not any(state["records"].values()), state["records"]


def skip_first(emulator: EmulatorServer, method: str, path: str, count: int = 1) -> None:
    """Arm a no-op rule that consumes the first ``count`` matches, so a rule armed next hits a later one."""
    emulator.control.add_fault(method=method, path=path, times=count, action="delay", delay=0)


class HeldRequests:
    """Which of a client's requests ``hold`` faults park: ``held`` maps (method, path regex) to the
    numbers (1 = the first) of the matching requests the faults hold, or None for all of them."""

    def __init__(self, emulator: EmulatorServer, held: dict[tuple[str, str], set[int] | None]) -> None:
        self.emulator, self.held = emulator, held
        self.seen: dict[tuple[str, str], int] = {}
        self.sent = 0

    def take(self, method: str, url: str) -> bool:
        """Whether this request will be held. A matching request that will not be is sent once the
        emulator holds the ones before it, so it never takes their rule."""
        path = str(url).split("?", 1)[0]
        for (held_method, pattern), numbers in self.held.items():
            if held_method == method and re.search(pattern, path):
                self.seen[held_method, pattern] = self.seen.get((held_method, pattern), 0) + 1
                if numbers is None or self.seen[held_method, pattern] in numbers:
                    self.sent += 1
                    return True
                assert eventually(lambda: self.emulator.control.held() >= self.sent), "a held request never came"
        return False


def only_held_requests_time_out(
    monkeypatch: Any,
    emulator: EmulatorServer,
    session: requests.Session,
    held: dict[tuple[str, str], set[int] | None],
    wait: float = 60,
) -> None:
    """Requests that ``hold`` faults park (see :class:`HeldRequests`) keep the hook's short timeout;
    every other request of ``session`` (the connection's shared one) waits up to ``wait`` seconds for
    its answer. A held request is answered only once released, after its client gave up, so it times
    out however busy the machine is, and an answered one never does."""
    real, which = session.request, HeldRequests(emulator, held)

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if which.take(method, url):
            return real(method, url, *args, **kwargs)
        return real(method, url, *args, **{**kwargs, "timeout": (wait, wait)})

    monkeypatch.setattr(session, "request", request)


def only_held_async_requests_time_out(
    monkeypatch: Any, emulator: EmulatorServer, held: dict[tuple[str, str], set[int] | None], wait: float = 60
) -> None:
    """:func:`only_held_requests_time_out` for every ``httpx.AsyncClient`` (a trigger's)."""
    import httpx

    real, which = httpx.AsyncClient.request, HeldRequests(emulator, held)

    async def request(client: httpx.AsyncClient, method: str, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if not which.take(method, url):
            kwargs["timeout"] = httpx.Timeout(wait)
        return await real(client, method, url, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "request", request)


def refuse_next_definition(emulator: EmulatorServer) -> None:
    """Eloqua refuses the next contacts import definition (400 with its ``failures``: "Must be unique.")."""
    emulator.control.add_fault(
        method="POST",
        path=r"^/contacts/imports$",
        times=1,
        status=400,
        body={"failures": [{"field": "name", "value": "matrix import", "constraint": "Must be unique."}]},
    )


class Site:
    """A second client of the emulated site (basic auth, direct HTTP), for setting up and tampering."""

    def __init__(self, emulator: EmulatorServer) -> None:
        raw = f"{DEFAULT_SITE}\\{DEFAULT_USER}:{DEFAULT_PASSWORD}".encode()
        self.base = emulator.url + "/api/bulk/2.0"
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path, json=body, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_import(self, root: str = "/contacts", fields: dict[str, str] | None = None, identifier: str = "Email"):
        body = {
            "name": "pre-made import",
            "fields": fields or CONTACT_FIELDS,
            "identifierFieldName": identifier,
            "isSyncTriggeredOnImport": False,
        }
        return self.call("POST", f"{root}/imports", body)["uri"]

    def stage(self, uri: str, rows: list[dict[str, Any]]) -> None:
        self.call("POST", f"{uri}/data", rows)

    def start_sync(self, uri: str) -> str:
        return self.call("POST", "/syncs", {"syncedInstanceUri": uri})["uri"]


def when(condition: Callable[[], bool], action: Callable[[], None], timeout: float = 60) -> threading.Thread:
    """In a background thread: wait until ``condition()`` holds, then run ``action()`` once.

    Lets a test act on the emulator mid-DAG-run (expire tokens, delete a definition) while
    ``dag.test()`` runs in the test's own thread. Syncs are held in ``pending`` (pending_polls)
    until the action has run, so nothing depends on timing.
    """

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                action()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def eventually(condition: Callable[[], bool], timeout: float = 60) -> bool:
    """Wait for something the emulator finishes after the client gave up on it (bounded generously:
    a bound on a hung run, not on how fast the machine is)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def captured(capfd: Any, caplog: Any) -> str:
    """Everything the run logged: under dag.test() task logs and tracebacks go to the console
    (``capfd``), and records of plain ``logging`` loggers are also kept by ``caplog``."""
    out, err = capfd.readouterr()
    return out + err + "\n" + caplog.text
