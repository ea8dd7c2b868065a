"""Dependency rules of the package layout. Imports are cached, so each rule needs a fresh import of its
modules: one interpreter imports the heavy third-party packages once (Airflow, whose provider discovery
also loads this package's ``get_provider_info``, as any interpreter that imports Airflow does), then
forks a child per rule that imports the rule's modules and reports ``sys.modules``."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Capabilities and their parts: the sync layer and the trigger import none of them.
CAPABILITIES = ("load", "export", "transfers", "chunking", "staging")
SYNC_LAYER = ("waiting", "lifecycle", "checkpoint", "logs", "ending")
#: Every import the rules below check, each a comma-separated list imported together in one child.
IMPORTS = (
    "airflow_provider_eloqua.hooks.eloqua",
    "airflow_provider_eloqua.staging",
    "airflow_provider_eloqua.triggers.eloqua",
    ",".join(f"airflow_provider_eloqua.sync.{name}" for name in SYNC_LAYER),
    "airflow_provider_eloqua.load.engine",
    "airflow_provider_eloqua.load.field_mapping",
    "airflow_provider_eloqua.export.engine",
    "airflow_provider_eloqua.export.plan,airflow_provider_eloqua.export.download",
)
_PROBE = """
import importlib, json, os, sys, traceback
import airflow.sdk, httpx, requests
loaded = {}
for names in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            for name in names.split(","):
                importlib.import_module(name)
            with os.fdopen(write, "w") as out:
                out.write("\\n".join(sorted(sys.modules)))
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        loaded[names] = answer.read().split()
    _, status = os.waitpid(pid, 0)
    if status:
        raise SystemExit(f"importing {names} failed")
print(json.dumps(loaded))
"""


@functools.cache
def _loaded() -> dict[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(IMPORTS)], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-5000:]
    return {names: set(modules) for names, modules in json.loads(out.stdout).items()}


def _modules_loaded_by(module: str) -> set[str]:
    return _loaded()[module]


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


def test_the_sync_layer_imports_no_capability():
    """``load/`` (and every other capability) imports ``sync/``; ``sync/`` imports none of them."""
    loaded = _modules_loaded_by(",".join(f"airflow_provider_eloqua.sync.{name}" for name in SYNC_LAYER))
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


def test_the_export_engine_sits_on_top_of_the_plan_and_the_download():
    """export/: download imports plan, the engine imports both; neither imports the engine."""
    loaded = _modules_loaded_by("airflow_provider_eloqua.export.plan,airflow_provider_eloqua.export.download")
    assert {"airflow_provider_eloqua.export.plan", "airflow_provider_eloqua.export.download"} <= loaded
    assert "airflow_provider_eloqua.export.engine" not in loaded


PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_eloqua"
TESTS = Path(__file__).resolve().parent


def _mirrored_test(module: Path) -> Path:
    """``tests/<package path>/test_<module>.py`` (a private ``_module`` is ``test_module``)."""
    relative = module.relative_to(PACKAGE)
    return TESTS.joinpath(*relative.parts[:-1], f"test_{module.stem.lstrip('_')}.py")


def test_every_package_module_has_its_mirrored_test_module():
    """tests/ mirrors the package one to one: a module's tests live in its mirrored test module."""
    modules = [m for m in sorted(PACKAGE.rglob("*.py")) if m.name != "__init__.py"]
    assert len(modules) > 50
    missing = [str(_mirrored_test(m).relative_to(TESTS.parent)) for m in modules if not _mirrored_test(m).is_file()]
    assert not missing, f"package modules without their test module: {missing}"


def test_every_test_module_outside_the_system_and_deployment_tests_mirrors_a_package_module():
    """No test module stands beside the mirror (benchmark smokes mirror benchmarks/ under tests/benchmarks)."""
    mirrored = {_mirrored_test(m) for m in PACKAGE.rglob("*.py") if m.name != "__init__.py"}
    benchmarks = TESTS.parent / "benchmarks"
    mirrored |= {TESTS / "benchmarks" / f"test_{m.stem}.py" for m in benchmarks.glob("*.py")}
    outside = {TESTS / "system", TESTS / "deployment"}
    strays = [
        str(t.relative_to(TESTS.parent))
        for t in sorted(TESTS.rglob("test_*.py"))
        if t not in mirrored and not outside.intersection(t.parents) and t != Path(__file__).resolve()
    ]
    assert not strays, f"test modules that mirror no package module: {strays}"
