"""sync/ending.py: the end of every sync task, in order (a dict stands in for the task state store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_provider_eloqua.exceptions import (
    EloquaInputError,
    EloquaOutcomeRefused,
    EloquaRowCountError,
    EloquaSyncError,
)
from airflow_provider_eloqua.sync.checkpoint import StartedSync, SyncCheckpoint
from airflow_provider_eloqua.sync.ending import check_on_warning, end_sync, enforce_outcome
from tests.sync.helpers import Store


@dataclass
class Outcome:
    """A capability's report, as ``end_sync`` sees it."""

    sync_uri: str = "/syncs/5"
    status: str = "success"
    errors: list[str] = field(default_factory=list)
    counted: str = ""

    def issues(self) -> str:
        return self.counted

    def summary(self) -> dict[str, Any]:
        return {"sync_uri": self.sync_uri, "status": self.status}


class Ending:
    """Runs ``end_sync`` and notes, in order, what it did."""

    def __init__(self) -> None:
        self.store = Store()
        self.checkpoint = SyncCheckpoint(self.store)
        self.checkpoint.started_sync(StartedSync("/syncs/5", {"rows": 3}))
        self.done: list[Any] = []

    def run(self, outcome: Outcome | Exception, on_warning: str = "succeed") -> dict[str, Any]:
        def report() -> Outcome:
            self.done.append("report")
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return end_sync(
            report,
            on_warning=on_warning,
            delete_definition=lambda: self.done.append("delete"),
            checkpoint=self.checkpoint,
            record_asset=lambda summary: self.done.append(("asset", summary["status"])),
        )


def test_an_accepted_sync_is_reported_its_definition_deleted_forgotten_then_recorded():
    ending = Ending()
    assert ending.run(Outcome(status="warning")) == {"sync_uri": "/syncs/5", "status": "warning"}
    assert ending.done == ["report", "delete", ("asset", "warning")]
    assert not ending.store  # forgotten: a later run starts over


@pytest.mark.parametrize(
    ("outcome", "on_warning", "raised", "message"),
    [
        (
            Outcome(status="error", errors=["ELQ-00143 Definition deleted."], counted="2 rejected"),
            "succeed",
            EloquaSyncError,
            r"/syncs/5 ended with status 'error' \(ELQ-00143 Definition deleted\.\): 2 rejected",
        ),
        (
            Outcome(status="warning", counted="2 rejected"),
            "fail",
            EloquaOutcomeRefused,
            r"ended with warnings \(2 rejected\) and on_warning='fail'\. A retry cannot change what Eloqua did",
        ),
        (Outcome(status="warning"), "skip", AirflowSkipException, "ended with warnings; on_warning='skip'"),
        (EloquaRowCountError("processed 2 row(s), but this load staged 3"), "succeed", EloquaRowCountError, "staged 3"),
    ],
)
def test_a_refused_sync_still_deletes_its_definition_but_is_kept_for_the_retry(outcome, on_warning, raised, message):
    ending = Ending()
    with pytest.raises(raised, match=message):
        ending.run(outcome, on_warning)
    assert ending.done == ["report", "delete"]  # no Asset event
    assert SyncCheckpoint(ending.store).sync_uri == "/syncs/5"  # the retry reattaches and reports again


def test_only_a_refused_outcome_fails_without_retries():
    """A warning refused by on_warning='fail' cannot change on a retry; a sync that ended in error is
    loaded again by the retry."""
    with pytest.raises(EloquaOutcomeRefused) as refused:
        enforce_outcome(Outcome(status="warning"), "fail")
    assert isinstance(refused.value, AirflowFailException)
    with pytest.raises(EloquaSyncError) as errored:
        enforce_outcome(Outcome(status="error"), "fail")
    assert not isinstance(errored.value, AirflowFailException)


def test_without_issues_the_failure_says_so_plainly():
    with pytest.raises(EloquaSyncError) as info:
        enforce_outcome(Outcome(status="errored"), "succeed")
    assert str(info.value) == "Eloqua sync /syncs/5 ended with status 'errored', see the sync log above"


def test_nothing_to_delete_forget_or_record_is_fine():
    assert end_sync(Outcome, on_warning="succeed") == {"sync_uri": "/syncs/5", "status": "success"}


def test_on_warning_is_checked():
    assert check_on_warning("skip") == "skip"
    with pytest.raises(EloquaInputError, match="on_warning must be one of succeed, fail, skip; got 'ignore'"):
        check_on_warning("ignore")
