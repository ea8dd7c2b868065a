"""emulator/server.py: the emulator in a background thread of this process, and its control-API client."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorServer
from airflow_provider_eloqua.emulator.server import airflow_connection_json


def test_port_0_serves_on_a_free_port_until_stopped():
    server = EmulatorServer()
    with pytest.raises(RuntimeError, match="start the emulator server"):
        server.control  # noqa: B018  # no control API before start
    with server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        answer = requests.get(
            server.url + "/id", auth=(f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD), timeout=10
        )
        assert answer.json()["site"]["name"] == DEFAULT_SITE
        server.control.add_fault(method="GET", path="^/syncs$", status=503)
        assert [f["status"] for f in server.control.faults()] == [503]
        server.control.reset()
        assert server.control.faults() == [] and server.control.requests() == []
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        port = server.port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # nothing listens any more


def test_two_servers_are_two_sites():
    with EmulatorServer() as first, EmulatorServer() as second:
        assert first.port != second.port
        first.control.seed("/contacts", [{"{{Contact.Field(C_EmailAddress)}}": "a@x.io"}])
        assert len(first.control.records("/contacts")) == 1
        assert second.control.records("/contacts") == []


def test_the_airflow_connection_is_basic_auth_to_the_default_site_with_overrides():
    conn = json.loads(airflow_connection_json("http://127.0.0.1:1", extra={"timeout": 5}, password="other"))
    assert conn == {
        "conn_type": "eloqua",
        "login": DEFAULT_USER,
        "password": "other",
        "extra": {"site": DEFAULT_SITE, "login_url": "http://127.0.0.1:1", "timeout": 5},
    }
