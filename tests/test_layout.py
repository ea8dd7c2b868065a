"""Dependency rules of the package layout, checked in a fresh interpreter (imports are cached)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Capabilities and their parts: the sync layer and the trigger import none of them.
CAPABILITIES = ("load", "export", "transfers", "chunking", "staging")


def _modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    return set(out.stdout.split())


def _capability_modules(loaded: set[str]) -> set[str]:
    banned = tuple(f"airflow_provider_eloqua.{name}" for name in CAPABILITIES)
    return {m for m in loaded if m in banned or m.startswith(tuple(f"{b}." for b in banned))}


@pytest.mark.parametrize("module", ["airflow_provider_eloqua.hooks.eloqua", "airflow_provider_eloqua.staging"])
def test_http_layer_imports_no_parser(module):
    loaded = _modules_loaded_by(module)
    assert module in loaded
    assert not {m for m in loaded if m.startswith("airflow_provider_eloqua.chunking")}


def test_trigger_takes_its_vocabulary_from_the_sync_layer_and_assumes_no_capability():
    loaded = _modules_loaded_by("airflow_provider_eloqua.triggers.eloqua")
    assert "airflow_provider_eloqua.sync.waiting" in loaded
    assert not _capability_modules(loaded)


SYNC_LAYER = ("waiting", "lifecycle", "checkpoint", "logs", "ending")


def test_the_sync_layer_imports_no_capability():
    """``load/`` (and every other capability) imports ``sync/``; ``sync/`` imports none of them."""
    loaded = _modules_loaded_by(", ".join(f"airflow_provider_eloqua.sync.{name}" for name in SYNC_LAYER))
    assert {f"airflow_provider_eloqua.sync.{name}" for name in SYNC_LAYER} <= loaded
    assert not _capability_modules(loaded)


def test_the_load_engine_knows_no_transfer():
    """transfers/ sits above load/ and feeds it; load/ never imports a transfer."""
    for module in ("airflow_provider_eloqua.load.engine", "airflow_provider_eloqua.load.field_mapping"):
        loaded = _modules_loaded_by(module)
        assert module in loaded
        assert not {m for m in loaded if m.startswith("airflow_provider_eloqua.transfers")}


@pytest.mark.parametrize(
    ("module", "sibling"),
    [("airflow_provider_eloqua.load.engine", "export"), ("airflow_provider_eloqua.export.engine", "load")],
)
def test_capabilities_never_import_each_other(module, sibling):
    loaded = _modules_loaded_by(module)
    assert module in loaded
    assert not {m for m in loaded if m.startswith(f"airflow_provider_eloqua.{sibling}.")}
