"""The eloqua:// asset scheme: URIs built and checked, registered with Airflow through the provider info."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_provider_eloqua.assets import alias_for, asset_for_definition, asset_uri, eloqua_asset


def test_uris_name_the_site_and_the_entity():
    assert asset_uri("AcmeCorp", "contacts") == "eloqua://AcmeCorp/contacts"
    assert eloqua_asset("AcmeCorp", "customObjects", 12).uri == "eloqua://AcmeCorp/customObjects/12"
    assert asset_for_definition("AcmeCorp", "/events/7/imports/3").uri == "eloqua://AcmeCorp/events/7"
    assert asset_for_definition("AcmeCorp", "/contacts/syncActions/5") is None
    assert asset_for_definition("AcmeCorp", "/opportunities/contacts/imports/4").uri == (
        "eloqua://AcmeCorp/opportunities/contacts"
    )
    assert alias_for("eloqua_default").name == "eloqua:eloqua_default"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "contacts"), "site"),
        (("Acme Corp", "contacts"), "site"),
        (("AcmeCorp", "nonsense"), "import entity"),
        (("AcmeCorp", "customObjects"), "parent id"),
        (("AcmeCorp", "contacts", 3), "no parent id"),
    ],
)
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        asset_uri(*args)


def test_airflow_checks_eloqua_uris_with_the_registered_handler():
    """Airflow finds the handler through the installed provider's ``asset-uris``."""
    assert Asset("eloqua://AcmeCorp/contacts/").uri == "eloqua://AcmeCorp/contacts"
    assert Asset("eloqua://AcmeCorp/opportunities/contacts").uri == "eloqua://AcmeCorp/opportunities/contacts"
    assert Asset("eloqua://AcmeCorp/events/7").uri == "eloqua://AcmeCorp/events/7"
    with pytest.raises(ValueError, match="import entity"):
        Asset("eloqua://AcmeCorp/contactz")
    with pytest.raises(ValueError, match="parent id"):
        Asset("eloqua://AcmeCorp/customObjects/abc")
    with pytest.raises(ValueError, match="parent id"):
        Asset("eloqua://AcmeCorp/customObjects")
    with pytest.raises(ValueError, match="import entity"):
        Asset("eloqua://AcmeCorp/contacts/12/more")


def test_the_provider_registers_factory_and_openlineage_converter():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.asset_factories["eloqua"](site="AcmeCorp", entity="accounts").uri == "eloqua://AcmeCorp/accounts"
    dataset = manager.asset_to_openlineage_converters["eloqua"](eloqua_asset("AcmeCorp", "customObjects", 12), None)
    assert (dataset.namespace, dataset.name) == ("eloqua://AcmeCorp", "customObjects/12")


# ------------------------------------------------------------------ which task attaches the Asset, and when
# The asset events of real DAG runs, the queued downstream DAG and its run: tests/system/test_assets.py.

EVENT_KEYS = ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")


def _attached(run) -> list[tuple[str, str, dict]]:
    """What a task's run attached to its outlet aliases: (alias, asset URI, extra)."""
    return [
        (alias.name, asset.uri, extra)
        for alias, events in run.context["outlet_events"].items()
        for asset, extra in events.added
    ]


@pytest.mark.parametrize(
    ("status", "on_warning", "deferrable", "task_state"),
    [
        ("success", "succeed", False, "success"),
        ("error", "succeed", False, "failed"),
        ("error", "succeed", True, "failed"),
        ("warning", "skip", False, "skipped"),
        ("warning", "succeed", True, "success"),
    ],
    ids=["success-poke", "error-poke", "error-deferred", "warning-skipped", "warning-accepted-deferred"],
)
def test_the_sensor_attaches_the_asset_only_for_a_sync_it_accepts(
    eloqua_conn, status, on_warning, deferrable, task_state
):
    """On the split path the upload attaches nothing (its sync has only started); the sensor
    attaches the Asset once it accepts the ended sync, with the sync's counts."""
    from tests.operators.tasks import run_split
    from tests.system.dags.matrix import contacts

    eloqua_conn.control.configure(force_status=[status])

    runs = run_split(data=contacts(4), deferrable=deferrable, sensor={"on_warning": on_warning, "timeout": 120})

    assert runs["upload"].state == "success" and _attached(runs["upload"]) == []
    wait = runs["wait"]
    assert wait.state == task_state, wait.error
    if task_state != "success":
        assert _attached(wait) == []
        return
    ((alias, uri, extra),) = _attached(wait)
    assert (alias, uri) == ("eloqua:eloqua_default", "eloqua://AcmeCorp/contacts")
    assert extra["status"] == status
    assert extra == {key: wait.return_value[key] for key in EVENT_KEYS}
