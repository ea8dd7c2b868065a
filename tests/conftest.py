"""Shared fixtures: one emulated Eloqua site per test session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_eloqua.emulator import EmulatorServer


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
