"""In-memory emulator of Oracle Eloqua's login endpoints and Bulk API 2.0 imports and exports, with
fault injection, so the provider can be tested end to end over real HTTP without an Eloqua site.

Everything lives in the process's memory: restarting the emulator loses every definition, sync and
record. Tests reset it between tests instead (``EmulatorControl.reset``).
"""

from airflow_provider_eloqua.emulator.app import create_app
from airflow_provider_eloqua.emulator.server import EmulatorControl, EmulatorServer, airflow_connection_json
from airflow_provider_eloqua.emulator.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SITE,
    DEFAULT_USER,
    EmulatorState,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_SITE",
    "DEFAULT_USER",
    "EmulatorControl",
    "EmulatorServer",
    "EmulatorState",
    "airflow_connection_json",
    "create_app",
]
