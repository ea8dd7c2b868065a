"""Run the emulator in a background thread (tests, benchmarks, demos) and drive its control API.

``EmulatorServer`` binds its own loopback socket first, so port 0 gives a free port whose number
is known before uvicorn starts, and start-up waits only until uvicorn is listening.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import requests
import uvicorn

from airflow_provider_eloqua.emulator.app import create_app
from airflow_provider_eloqua.emulator.state import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorState


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """Settings shared by EmulatorServer and the CLI; h11 because drop faults rely on its cycle."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        ws="none",
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )


def airflow_connection_json(emulator_url: str, **overrides: Any) -> str:
    """An ``eloqua`` Airflow connection (for ``AIRFLOW_CONN_*``) to the emulator's default site.

    Basic auth, and no host: the hook discovers the pod through the emulator's ``/id`` exactly as it
    would on Eloqua. ``extra`` in ``overrides`` is merged into the extras; other keys replace fields.
    """
    extra = {"site": DEFAULT_SITE, "login_url": emulator_url}
    extra.update(overrides.pop("extra", {}))
    conn = {"conn_type": "eloqua", "login": DEFAULT_USER, "password": DEFAULT_PASSWORD, "extra": extra}
    conn.update(overrides)
    return json.dumps(conn)


class EmulatorServer:
    """An emulated Eloqua site served on ``host`` (port 0: a free one) until ``stop()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: EmulatorState | None = None,
        log_level: str = "warning",
    ) -> None:
        self.state = state or EmulatorState()
        self.app = create_app(self.state)
        self.host = host
        self.port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None

    @property
    def url(self) -> str:
        """Root URL (``http://127.0.0.1:54321``); the Bulk API is under ``/api/bulk/2.0``."""
        return f"http://{self.host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        """Control-API client of the running server (one shared HTTP session)."""
        if self._control is None:
            if self._thread is None:
                raise RuntimeError("start the emulator server before using its control API")
            self._control = EmulatorControl(self.url)
        return self._control

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("emulator server already started")
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port, self._log_level))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="eloqua-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Eloqua emulator did not start on {self.url} within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = self._control = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class EmulatorControl:
    """Client of the ``/_emulator`` control API (no auth); every call raises on an HTTP error.

    For export tests: ``seed`` writes records (a million contacts cheaply), ``set_clock`` stops and
    moves the emulator's clock (it stamps records and ages export data), ``set_timestamps`` moves
    one record's system timestamps, ``define_container`` makes the lists, segments and filters an
    export filter's EXISTS names, ``configure`` sets the activity sync cap and what happens above it,
    the answer to expired data and the site's time zone, and ``add_fault`` can fail any page of
    ``/syncs/{id}/data``. What the emulated exports do, fact by fact: docs/eloqua-behaviour.md, "Exports (the emulator)".
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/") + "/_emulator"
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        response = self._session.request(method, self.base_url + path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        """Fresh site: default credentials and settings, no data, faults or request log."""
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def add_fault(self, **rule: Any) -> list[dict[str, Any]]:
        r"""Arm a fault rule (keys as in faults.FaultRule); returns the armed rules.

        To fail one page of an export's data: ``path=r"^/syncs/\d+/data$", query=r"offset=100000(&|$)"``
        with ``status=429, headers={"Retry-After": "1"}`` (or a 5xx), ``action="drop"`` (no answer),
        ``action="truncate"`` (half the page, then the connection drops) or ``action="hold"``.
        """
        return self._call("POST", "/faults", json=rule)["faults"]

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def held(self) -> int:
        """How many requests ``hold`` faults are parking right now."""
        return self._call("GET", "/faults/held")["held"]

    def release_held(self) -> int:
        """Let every held request go on; returns how many were held."""
        return self._call("POST", "/faults/release")["released"]

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings (see EmulatorState.configure); returns the resulting settings.

        Export settings: ``site_time_zone`` (IANA name, default ``America/New_York``: system timestamps
        of definitions without ``areSystemTimestampsInUTC``, in their data and their filters),
        ``activity_sync_cap`` (records one activity export sync holds, default 5,000,000; lower it in
        tests), ``activity_sync_cap_outcome`` (``"truncate"``, the default: a sync matching more holds
        exactly the cap and logs it in ELQ-00102; ``"error"``: it ends in error with a "Too many
        records" log), ``expired_data_status`` (410, the default, or 404: the answer to
        ``/syncs/{id}/data`` once ``dataRetentionDuration`` has passed on the emulator's clock).
        """
        return self._call("POST", "/config", json=settings)

    def records(self, entity_root: str) -> list[dict[str, Any]]:
        """Records of ``/contacts``, ``/customObjects/3``...: statement -> value plus ``identifier`` (the key
        imports match), ``id`` (the Eloqua id) and ``createdAt`` / ``updatedAt`` (ISO-8601 UTC)."""
        return self._call("GET", "/records", params={"entity": entity_root})["items"]

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/requests")["items"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def refresh_token(self) -> str:
        return self._call("GET", "/oauth")["refresh_token"]

    def seed(self, entity: str, records: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
        """Write records straight into ``entity`` (``/contacts``, ``/activities``, ``/customObjects/7``...),
        without staging or a sync. Returns ``{"entity", "created", "updated", "total", "firstId", "lastId"}``
        (``updated``: records whose identifier was already there, updated in place).

        - ``records``: dicts of markup statement -> value, each with optional ``createdAt`` / ``updatedAt``.
        - ``count=N, template={statement: "text {n}"}``: N generated records, ``{n}`` = 1..N (from ``start=``);
          a million contacts take a few seconds.
        - ``createdAt=`` / ``updatedAt=`` (ISO-8601, UTC without an offset): the system timestamps of every
          record without its own (default: the emulator's clock); ``stepSeconds=s`` moves record i on by i*s.
        - ``identifier=statement``: the value that keys a record, so a later import updates it (contacts:
          the e-mail address by default).
        - ``activityType="EmailSend"`` (``/activities``): the type of every record, whose other fields get
          plausible values unless given.

        Each record gets the next Eloqua id of the entity. The system timestamps are what exports show
        as ``C_DateCreated``/``C_DateModified`` (contacts), ``M_DateCreated``/``M_DateModified`` (accounts),
        ``CreatedAt``/``UpdatedAt`` (custom objects, events; activities' ``CreatedAt``). Imports through
        the emulator set them too, from its clock.
        """
        body = {"entity": entity, "records": records or [], **spec}
        return self._call("POST", "/seed", json=body, timeout=max(self.timeout, 300.0))

    def define_container(
        self, kind: str, container_id: int, members: list[str | int], name: str | None = None
    ) -> dict[str, Any]:
        """Create (or replace) a ``ContactList``, ``ContactSegment``, ``ContactFilter`` or ``AccountList``
        whose members are record identifiers (``records()``'s ``identifier``: e-mail addresses for
        contacts) or Eloqua ids (ints). An export filter's ``EXISTS('{{ContactSegment[5]}}')`` then
        selects them, and ``GET /contacts/segments/5`` (lists, filters, ``/accounts/lists``) shows it.
        Contacts added to a list by an import's sync action belong to it too."""
        body: dict[str, Any] = {"kind": kind, "id": container_id, "members": members}
        if name is not None:
            body["name"] = name
        return self._call("POST", "/containers", json=body)

    def set_timestamps(self, entity: str, identifier: str | None = None, **spec: Any) -> dict[str, Any]:
        """Move one record's ``createdAt=`` / ``updatedAt=`` (ISO-8601); find it by its ``identifier`` key (the
        ``identifier`` of ``records()``) or ``id=`` (its Eloqua id). Returns the record as ``records()`` shows it."""
        body: dict[str, Any] = {"entity": entity, **spec}
        if identifier is not None:
            body["identifier"] = identifier
        return self._call("POST", "/timestamps", json=body)

    def set_clock(self, now: str | None = None, advance: float | None = None) -> str:
        """Stop the emulator's clock at ``now`` (ISO-8601) and/or move it on by ``advance`` seconds; with
        neither, let it follow the real time again. Returns the clock's time (ISO-8601 UTC).

        The clock stamps imported and seeded records, definitions and syncs, and ages export data
        (``dataRetentionDuration``). A reset returns it to the real time.
        """
        body: dict[str, Any] = {}
        if now is not None or advance is None:
            body["now"] = now
        if advance is not None:
            body["advance"] = advance
        return self._call("POST", "/clock", json=body)["now"]

    def clock(self) -> str:
        """The emulator's time now (ISO-8601 UTC)."""
        return self._call("GET", "/clock")["now"]

    def lists(self) -> dict[str, list[str]]:
        """Contact list id (``"123"`` for ``{{ContactList[123]}}``) -> sorted member identifiers."""
        return self._call("GET", "/lists")["lists"]

    def statuses(self) -> dict[str, dict[str, str]]:
        """setStatus destination statement -> identifier -> status."""
        return self._call("GET", "/lists")["statuses"]
