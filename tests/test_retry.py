"""retry.py: which failures are transient, how long to wait, and when to stop (pure: no HTTP, no sleep).

The hook's and the trigger's use of the policy over real HTTP: tests/hooks/test_eloqua.py and
tests/triggers/test_eloqua.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from airflow_provider_eloqua import retry
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaInputError,
    EloquaProxyError,
    EloquaTransportError,
)
from airflow_provider_eloqua.retry import (
    RetryPolicy,
    is_retryable_status,
    is_safe_to_resend,
    is_transient,
    may_have_taken_effect,
    parse_retry_after,
)

NOW = 1_800_000_000.0


def api(status: int, retry_after: float | None = None) -> EloquaApiError:
    return EloquaApiError("GET", "/syncs/1", status, retry_after=retry_after)


def proxy(status: int) -> EloquaProxyError:
    return EloquaProxyError("GET", "/syncs/1", status)


def transport(connect_phase: bool) -> EloquaTransportError:
    return EloquaTransportError("POST", "/contacts/imports/1/data", "boom", connect_phase=connect_phase)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 120 ", 120.0),
        ("-1", None),
        ("soon", None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date passed already: no wait
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable"),
    [(429, None, True), (502, None, True), (503, None, True), (504, None, True), (500, None, False), (500, 1.0, True)]
    + [(status, 1.0, False) for status in (400, 401, 404, 409, 501)],
)
def test_retryable_statuses(status, retry_after, retryable):
    assert is_retryable_status(status, retry_after) is retryable


@pytest.mark.parametrize(
    ("exc", "transient", "resend", "took_effect"),
    [
        (api(503), True, False, True),
        (api(429), True, True, False),
        (api(500), False, False, True),
        (api(500, retry_after=2), True, False, True),
        (api(400), False, False, False),
        (transport(connect_phase=True), True, True, False),
        (transport(connect_phase=False), True, False, True),
        (proxy(503), True, True, False),  # the proxy refused the tunnel: nothing reached Eloqua
        (proxy(407), False, False, False),
        (ValueError("not ours"), False, False, False),
    ],
)
def test_what_a_failure_allows(exc, transient, resend, took_effect):
    """GET, PUT and DELETE retry every transient failure; a POST is resent only when Eloqua certainly
    did nothing, and one that may have taken effect must be found out or undone instead."""
    assert is_transient(exc) is transient
    assert is_safe_to_resend(exc) is resend
    assert may_have_taken_effect(exc) is took_effect


def test_a_policy_is_checked_and_given_as_a_dict_or_none():
    assert RetryPolicy.from_setting(None) == RetryPolicy() == RetryPolicy(5, 1.0, 60.0)
    policy = RetryPolicy(2, 0.5, 3.0)
    assert RetryPolicy.from_setting(policy) is policy
    assert RetryPolicy.from_setting(policy.to_dict()) == policy
    assert RetryPolicy.from_setting({"max_attempts": 2}) == RetryPolicy(max_attempts=2)
    with pytest.raises(ValueError, match="max_attempts must be >= 1; got 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="retry waits must be >= 0"):
        RetryPolicy(initial_wait=-1)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([3], r"^http_retry_policy must be a dict of \['initial_wait', 'max_attempts', 'max_wait'\]; got \[3\]"),
        ({"attempts": 3}, r"^http_retry_policy has unknown key\(s\) \['attempts'\]"),
        ({"max_attempts": 0}, r"^http_retry_policy: retry max_attempts must be >= 1; got 0"),
        ({"max_wait": "a"}, r"^http_retry_policy: "),
    ],
)
def test_a_bad_policy_is_input_error_naming_the_setting(value, words):
    with pytest.raises(EloquaInputError, match=words):
        RetryPolicy.from_setting(value, "http_retry_policy")


def test_backoff_is_full_jitter_up_to_a_doubling_ceiling_capped_at_max_wait(monkeypatch):
    bounds: list[tuple[float, float]] = []
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: bounds.append((low, high)) or high)
    policy = RetryPolicy(max_attempts=9, initial_wait=1.0, max_wait=6.0)
    assert [policy.backoff(attempt) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 6.0]
    assert {low for low, _ in bounds} == {0}


def test_retry_after_is_waited_for_up_to_max_wait():
    policy = RetryPolicy(max_attempts=3, initial_wait=0.0, max_wait=10.0)
    assert policy.wait_after(api(429, retry_after=3), 1) == 3.0
    assert policy.wait_after(api(429, retry_after=3600), 1) == 10.0  # never an unbounded wait
    assert policy.wait_after(api(503), 1) == 0.0  # the backoff, from 0 here


class Flaky:
    """A request that fails with the given errors, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


NO_WAIT = RetryPolicy(max_attempts=3, initial_wait=0.0, max_wait=0.0)


def test_a_get_is_retried_up_to_max_attempts_then_the_last_failure_is_raised():
    flaky = Flaky(api(503), transport(connect_phase=False))
    assert NO_WAIT.retrying()(flaky) == "answer" and flaky.calls == 3
    failing = Flaky(api(503), api(502), api(504), api(503))
    with pytest.raises(EloquaApiError) as caught:
        NO_WAIT.retrying()(failing)
    assert (failing.calls, caught.value.status) == (3, 504)


def test_a_post_is_resent_only_when_eloqua_certainly_did_nothing():
    assert NO_WAIT.retrying(idempotent=False)(Flaky(api(429), transport(connect_phase=True))) == "answer"
    for failure in (api(503), transport(connect_phase=False)):
        once = Flaky(failure)
        with pytest.raises(type(failure)):
            NO_WAIT.retrying(idempotent=False)(once)
        assert once.calls == 1


def test_no_retry_sleeps_past_the_deadline(worker_clock):
    """A Retry-After that ends after the deadline is not waited for: the failure is raised at once."""
    policy = RetryPolicy(max_attempts=5, initial_wait=0.0, max_wait=60.0)
    late = Flaky(api(503, retry_after=30))
    with pytest.raises(EloquaApiError):
        policy.retrying(deadline=worker_clock.now + 10)(late)
    assert late.calls == 1
    in_time = Flaky(api(503, retry_after=0))
    assert policy.retrying(deadline=worker_clock.now + 10)(in_time) == "answer" and in_time.calls == 2


def test_the_event_loop_retries_by_the_same_rules():
    async def run(flaky: Flaky, **kwargs) -> str:
        async def call() -> str:
            return flaky()

        return await NO_WAIT.async_retrying(**kwargs)(call)

    flaky = Flaky(api(503), api(429))
    assert asyncio.run(run(flaky)) == "answer" and flaky.calls == 3
    once = Flaky(api(503))
    with pytest.raises(EloquaApiError):
        asyncio.run(run(once, idempotent=False))
    assert once.calls == 1
    late = Flaky(api(503, retry_after=30))
    with pytest.raises(EloquaApiError):
        asyncio.run(run(late, deadline=time.time() - 1))
    assert late.calls == 1
