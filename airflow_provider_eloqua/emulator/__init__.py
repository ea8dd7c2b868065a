"""In-memory emulator of Oracle Eloqua's login endpoints and Bulk API 2.0 imports, with fault
injection, so the provider can be tested end to end over real HTTP without an Eloqua site."""

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
