"""One real deployment (tests/deployment/harness.py) shared by the deployment and connection-form tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deployment.harness import Deployment


@pytest.fixture(scope="package")
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Started once (installing the venv and Airflow's start-up are the slow parts), always stopped.

    After a failure its folder (process logs, Airflow's logs) is kept and printed for CI to show;
    the artifacts folder (the connection form's screenshot) is always kept.
    """
    deployment = Deployment()
    print(f"\ndeployment folder: {deployment.root}\ndeployment artifacts: {deployment.artifacts}")
    failed_before = request.session.testsfailed
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        print(f"\ndeployment timings: {deployment.timings}")
        if request.session.testsfailed == failed_before:
            deployment.cleanup()
        else:
            print(f"deployment kept for inspection: {deployment.root}")
