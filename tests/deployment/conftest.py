"""The real deployments (tests/deployment/harness.py) the deployment tests run against.

One venv serves both topologies; each deployment is started once for the tests that use it and
always stopped. After a failure its folder (process logs, Airflow's logs) is kept and printed for CI
to show; the artifacts folder (the connection form's screenshots) is always kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_eloqua.emulator import airflow_connection_json
from tests.deployment.harness import Deployment, install_venv
from tests.system.s3_loopback import aws_connection_json, moto_server

#: The Celery topology's object store: moto's S3 server on loopback, reached through this connection.
S3_CONN_ID = "aws_loopback"
S3_BUCKET = "eloqua-deployment"
CELERY_DAGS = Path(__file__).parent / "dags" / "eloqua_celery_checks.py"


@pytest.fixture(scope="package")
def deployment_venv() -> Iterator[Path]:
    """Installed once for every topology; ``ELOQUA_DEPLOYMENT_VENV=<dir>`` keeps one across local runs
    (never in CI: a kept venv would hide a missing install step)."""
    reuse = os.environ.get("ELOQUA_DEPLOYMENT_VENV")
    venv = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="eloqua-deploy-venv-")) / "venv"
    started = time.monotonic()
    install_venv(venv, venv.parent / "pip.log")
    print(f"\ndeployment venv {venv} installed in {time.monotonic() - started:.0f} s")
    yield venv
    if not reuse:
        shutil.rmtree(venv.parent, ignore_errors=True)


def _run(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    print(f"\ndeployment folder: {deployment.root}\ndeployment artifacts: {deployment.artifacts}")
    failed_before = request.session.testsfailed
    started = False
    try:
        deployment.start()
        started = True
        yield deployment
    finally:
        deployment.stop()
        print(f"\ndeployment timings ({deployment.executor}): {deployment.timings}")
        if started and request.session.testsfailed == failed_before:
            deployment.cleanup()
        else:
            print(f"deployment kept for inspection: {deployment.root}")


@pytest.fixture(scope="package")
def deployment(deployment_venv: Path, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """LocalExecutor; the Eloqua connection is created through the REST API by the tests that need it."""
    yield from _run(Deployment(deployment_venv), request)


@pytest.fixture(scope="module")
def celery_deployment(deployment_venv: Path, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """CeleryExecutor, two workers. The connections (Eloqua's, and the S3 store's) are environment
    variables of the workers and the triggerer only; every file the tasks write goes to S3."""
    import boto3

    with moto_server() as s3_endpoint:
        boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="loopback-access-key",
            aws_secret_access_key="loopback-secret-key",
        ).create_bucket(Bucket=S3_BUCKET)
        deployment = Deployment(
            deployment_venv,
            executor="CeleryExecutor",
            settings={
                "ELOQUA_EXAMPLE_OUTPUT_DIR": f"s3://{S3_CONN_ID}@{S3_BUCKET}/examples",
                "ELOQUA_DEPLOY_OUTPUT_DIR": f"s3://{S3_CONN_ID}@{S3_BUCKET}/checks",
            },
            extra_dags=(CELERY_DAGS,),
        )
        deployment.s3_endpoint = s3_endpoint
        deployment.runner_env = {
            "AIRFLOW_CONN_ELOQUA_DEFAULT": airflow_connection_json(deployment.emulator_url),
            f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": aws_connection_json(s3_endpoint),
        }
        yield from _run(deployment, request)
