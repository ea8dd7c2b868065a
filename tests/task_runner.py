"""Run one operator's ``execute(context)`` in the test's process, as Airflow's task runner would.

No DagBag, no metadata DB: the context holds a task instance that keeps its XComs, a dict task
state store and the task's outlet events. :func:`run_task` goes through the tries Airflow would
make (a fresh try after any failure but :class:`AirflowFailException`, the store kept, XComs
cleared) and through a deferral (the trigger, rebuilt from its serialized kwargs, runs until its
first event; then the method it names resumes the task). :func:`clear_and_rerun` is a Clear of a
task that ended (``max_tries`` grown, the store kept), then its tries. The hook talks real HTTP to the
emulator. Real DAG runs (tests/dag_runner.py) stay for what only Airflow shows.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, TaskDeferred


class Store(dict):
    """What the task state store offers a task: get, set, delete (values JSON-plain)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = json.loads(json.dumps(value))  # the store keeps JSON, not objects

    def delete(self, key: str) -> None:
        self.pop(key, None)


class OutletEvents(dict):
    """The task's ``outlet_events``: what it attaches to each alias, as ``(asset, extra)`` pairs."""

    def __missing__(self, key: Any) -> SimpleNamespace:
        added: list[tuple[Any, Any]] = []
        self[key] = SimpleNamespace(added=added, add=lambda asset, extra=None: added.append((asset, extra)))
        return self[key]


@dataclass
class TaskInstance:
    """The parts of Airflow's task instance the provider's tasks use."""

    task_id: str
    dag_id: str = "tests"
    run_id: str = "manual__2026-01-01"
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 0
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = json.loads(json.dumps(value))  # XCom keeps JSON, not objects

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def task_context(task_id: str = "task", store: Store | None = None, **ti: Any) -> dict[str, Any]:
    """A task's context: ``ti`` (a :class:`TaskInstance`), ``task_state_store``, ``outlet_events``."""
    return {
        "ti": TaskInstance(task_id=task_id, **ti),
        "task_state_store": Store() if store is None else store,
        "outlet_events": OutletEvents(),
    }


@dataclass
class TaskRun:
    """How a task ended: its state, its last try's number, XComs, error, and what it deferred."""

    state: str
    try_number: int
    context: dict[str, Any]
    return_value: Any = None
    error: BaseException | None = None
    #: the error of every failed try, in order
    errors: list[BaseException] = field(default_factory=list)
    #: every trigger event the task resumed with
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def xcoms(self) -> dict[str, Any]:
        return {**self.context["ti"].xcoms, "return_value": self.return_value}

    @property
    def store(self) -> Store:
        return self.context["task_state_store"]


def run_trigger(trigger: Any) -> dict[str, Any]:
    """The first event of ``trigger``, rebuilt from what it serializes (kwargs plain JSON), as the triggerer runs it."""
    classpath, kwargs = trigger.serialize()
    json.dumps(kwargs)  # a triggerer stores them as JSON
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)

    async def first_event() -> dict[str, Any]:
        runner = rebuilt.run()
        try:
            event = await runner.__anext__()
        finally:
            await runner.aclose()
        return event.payload

    return asyncio.run(first_event())


def _execute(task: Any, context: dict[str, Any], events: list[dict[str, Any]]) -> Any:
    try:
        return task.execute(context)
    except TaskDeferred as deferred:
        while True:
            event = run_trigger(deferred.trigger)
            events.append(event)
            try:
                return getattr(task, deferred.method_name)(context, event=event)
            except TaskDeferred as again:
                deferred = again


def run_task(task: Any, *, retries: int = 0, store: Store | None = None) -> TaskRun:
    """Run ``task`` through its tries as Airflow would (at most ``retries`` retries; the store kept
    across them, XComs cleared before each)."""
    return _tries(task, Store() if store is None else store, first_try=1, max_tries=retries)


def clear_and_rerun(task: Any, earlier: TaskRun, *, retries: int = 0) -> TaskRun:
    """A Clear of the task instance that ran as ``earlier`` (failed for good, or succeeded), then its
    tries: as Airflow's Clear, ``max_tries`` becomes the try number reached plus ``retries``, the
    next try's number follows the last one, the task state store is kept and XComs are cleared.
    ``task`` may differ from the one that ran (a user who fixed the DAG before the Clear)."""
    return _tries(task, earlier.store, first_try=earlier.try_number + 1, max_tries=earlier.try_number + retries)


def _tries(task: Any, store: Store, *, first_try: int, max_tries: int) -> TaskRun:
    errors: list[BaseException] = []
    events: list[dict[str, Any]] = []
    try_number = first_try - 1
    while True:
        try_number += 1
        context = task_context(task.task_id, store, try_number=try_number, max_tries=max_tries)
        try:
            value = _execute(task, context, events)
        except AirflowSkipException as exc:
            return TaskRun("skipped", try_number, context, error=exc, errors=errors, events=events)
        except Exception as exc:
            errors.append(exc)
            final = isinstance(exc, AirflowFailException | AirflowSensorTimeout)
            if final or try_number > max_tries:
                return TaskRun("failed", try_number, context, error=exc, errors=errors, events=events)
            continue
        return TaskRun("success", try_number, context, return_value=value, errors=errors, events=events)
