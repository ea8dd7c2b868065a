"""Provider registration as Airflow itself sees it: ProvidersManager, the ``airflow`` CLI, and the
connection test the UI and ``airflow connections test`` run (connections travel as URIs there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_eloqua import __version__
from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorServer
from airflow_provider_eloqua.get_provider_info import get_provider_info
from airflow_provider_eloqua.hooks.eloqua import EloquaHook

PACKAGE = "airflow-provider-eloqua"
HOOK_CLASS = "airflow_provider_eloqua.hooks.eloqua.EloquaHook"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def manager():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_provider_is_registered(manager):
    provider = manager.providers[PACKAGE]
    assert provider.version == __version__
    assert provider.data["name"] == "Oracle Eloqua"
    assert provider.data["package-name"] == PACKAGE
    assert provider.data["description"]


def test_connection_type_and_hook(manager):
    hook_info = manager.hooks["eloqua"]
    assert hook_info is not None
    assert hook_info.hook_class_name == HOOK_CLASS
    assert hook_info.connection_id_attribute_name == "eloqua_conn_id"
    assert hook_info.package_name == PACKAGE
    assert hook_info.hook_name == "Oracle Eloqua"
    assert EloquaHook.conn_type == "eloqua"
    assert EloquaHook.default_conn_name == "eloqua_default"


def test_extra_links_are_registered(manager):
    assert {
        "airflow_provider_eloqua.links.EloquaSyncLink",
        "airflow_provider_eloqua.links.EloquaDefinitionLink",
    } <= set(manager.extra_links_class_names)


def test_connection_form_fields(manager):
    widgets = {k: v for k, v in manager.connection_form_widgets.items() if k.startswith("extra__eloqua__")}
    names = {w.field_name for w in widgets.values()}
    assert {"site", "auth_type", "client_id", "client_secret", "refresh_token", "login_url", "timeout"} <= names
    assert {"token_store_variable", "redirect_uri", "verify_tls", "proxy_url"} <= names  # documented extras too
    sensitive = {w.field_name for w in widgets.values() if w.is_sensitive}
    # proxy_url may carry the proxy's user:password (and Airflow redacts "proxy" extras anyway)
    assert sensitive == {"client_secret", "refresh_token", "proxy_url"}
    proxy = widgets["extra__eloqua__proxy_url"].field
    assert proxy["schema"]["title"] == "Proxy URL"
    assert "http://proxy.corp:3128" in proxy["description"]
    assert all(w.hook_class_name == HOOK_CLASS for w in widgets.values())
    site = widgets["extra__eloqua__site"].field
    assert site["schema"]["title"] == "Site name"
    assert widgets["extra__eloqua__verify_tls"].field["value"] is True
    # The UI preselects nothing and offers exactly the two auth types (no "null" choice).
    auth = widgets["extra__eloqua__auth_type"].field
    assert auth["value"] is None
    assert auth["schema"]["enum"] == ["basic", "oauth2"]
    assert set(auth["schema"]["values_display"]) == {"basic", "oauth2"}


def test_ui_field_behaviour(manager):
    behaviour = manager.field_behaviours["eloqua"]
    assert set(behaviour["hidden_fields"]) == {"schema"}  # port: see get_provider_info
    assert behaviour["relabeling"]["host"].startswith("Bulk API base URL")
    assert behaviour["placeholders"]["login"].startswith("API.User")
    # Airflow 3.3's UI renders placeholders on standard fields only: extra fields carry examples in
    # their descriptions instead (see get_provider_info._field).
    assert set(behaviour["placeholders"]) == {"login", "host", "port"}


def test_every_declared_module_imports():
    import importlib

    info = get_provider_info()
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[kind]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for entry in info["transfers"]:
        importlib.import_module(entry["python-module"])
    for conn_type in info["connection-types"]:
        module, _, name = conn_type["hook-class-name"].rpartition(".")
        assert getattr(importlib.import_module(module), name).conn_type == conn_type["connection-type"]


# ---------------------------------------------------------------------------------------- the airflow CLI


def _airflow(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_") and not k.startswith("AIRFLOW__")
    }
    full_env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    full_env.update(env or {})
    return subprocess.run(
        [AIRFLOW, *args], capture_output=True, text=True, timeout=120, env=full_env, cwd=tmp_path, check=False
    )


def test_airflow_providers_hooks_lists_the_eloqua_hook(tmp_path):
    """What a fresh ``airflow`` process finds (the package and its version: ``test_provider_is_registered``)."""
    hooks = _airflow(["providers", "hooks", "-o", "json"], tmp_path)
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    eloqua = [h for h in json.loads(hooks.stdout) if h["connection_type"] == "eloqua"]
    assert eloqua == [
        {
            "connection_type": "eloqua",
            "class": HOOK_CLASS,
            "conn_id_attribute_name": "eloqua_conn_id",
            "package_name": PACKAGE,
            "hook_name": "Oracle Eloqua",
        }
    ]


def connection_uri(emulator: EmulatorServer, login: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD) -> str:
    query = f"site={DEFAULT_SITE}&login_url={quote(emulator.url, safe='')}&timeout=10"
    return f"eloqua://{quote(login, safe='')}:{quote(password, safe='')}@?{query}"


def test_airflow_connections_test_against_the_emulator(emulator, tmp_path):
    """As a URI, the form the UI's test sends; a JSON connection gives the same settings
    (tests/test_settings.py) and is what every DAG run of the suite uses."""
    env = {"AIRFLOW__CORE__TEST_CONNECTION": "Enabled", "AIRFLOW_CONN_ELOQUA_DEFAULT": connection_uri(emulator)}
    result = _airflow(["connections", "test", "eloqua_default"], tmp_path, env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "Connection success!" in result.stdout
    assert [r["status"] for r in emulator.control.requests() if r["path"].endswith("/contacts/imports")] == [200]


def test_airflow_connections_test_failure_hides_the_password(emulator, tmp_path):
    env = {
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_ELOQUA_DEFAULT": connection_uri(emulator, password="Wr0ng-pass!"),
    }
    result = _airflow(["connections", "test", "eloqua_default"], tmp_path, env)
    assert result.returncode == 1
    assert "Connection failed!" in result.stdout
    # /id refuses bad credentials with 200 "Not authenticated." (Oracle); the hint follows it
    assert "Not authenticated. Check the user and password" in " ".join(result.stdout.split())
    assert "Wr0ng-pass!" not in result.stdout + result.stderr
