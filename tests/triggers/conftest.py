"""What the trigger tests share: the connection they point at the emulator, and quick retries."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorServer
from tests.dag_runner import connection_json

CONN_ID = "eloqua_trigger_test"
FAST = {"max_attempts": 3, "initial_wait": 0.01, "max_wait": 0.5}
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
OAUTH_EXTRA = {"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}


@pytest.fixture
def conn(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch):
    """Point ``CONN_ID`` at the emulator (basic auth by default); returns a function to re-point it."""

    def set_conn(**overrides: Any) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(emulator, **overrides))

    set_conn()
    return set_conn
