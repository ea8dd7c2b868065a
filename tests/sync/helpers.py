"""What the sync-layer tests share: a dict standing in for the task state store, a hook on the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_eloqua.emulator import EmulatorServer
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.retry import RetryPolicy
from tests.dag_runner import connection_json

FAST = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.1)
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
CONTACTS = {
    "name": "sync layer test",
    "fields": {"Email": EMAIL},
    "identifierFieldName": "Email",
    "isSyncTriggeredOnImport": False,
}


class Store(dict):
    """What the task state store offers a task: get, set, delete (values JSON-plain)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = json.loads(json.dumps(value))  # the store keeps JSON, not objects

    def delete(self, key: str) -> None:
        self.pop(key, None)


def emulator_hook(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, retry_policy: RetryPolicy | None = FAST
) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_SYNC_LAYER", connection_json(emulator))
    return EloquaHook("eloqua_sync_layer", retry_policy=retry_policy)


def staged_definition(hook: EloquaHook, rows: int = 2) -> str:
    """An import definition with ``rows`` contacts staged: something to sync."""
    uri = hook.create_definition("contacts", CONTACTS)["uri"]
    hook.upload_rows(uri, [{"Email": f"c{i}@example.com"} for i in range(rows)])
    return uri


def requests_to(emulator: EmulatorServer, method: str, suffix: str) -> list[dict[str, Any]]:
    """The emulator's request log (full paths) filtered by method and by the end of the path."""
    return [r for r in emulator.control.requests() if r["method"] == method and r["path"].endswith(suffix)]
