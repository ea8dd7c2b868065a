"""exceptions.py: what each error says, and which ones Airflow must not retry (pure)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaAuthError,
    EloquaDefinitionRefused,
    EloquaError,
    EloquaInputError,
    EloquaOutcomeRefused,
    EloquaProxyError,
    EloquaRejectedRowsError,
    EloquaRowCountError,
    EloquaSyncError,
    EloquaSyncGone,
    EloquaSyncTimeout,
    EloquaTransportError,
)

FAILURES = {
    "failures": [
        {"field": "identifierFieldName", "constraint": "Must be a field name.", "value": "Mail"},
        "not a failure",
        {"field": "name"},
    ]
}


def test_an_api_error_names_the_call_status_and_eloquas_failures():
    error = EloquaApiError("POST", "/contacts/imports", 400, FAILURES)
    assert str(error) == (
        "Eloqua answered 400 to POST /contacts/imports; failures: identifierFieldName: Must be a field name. "
        "(value 'Mail'); name: ? (value None)"
    )
    assert error.failures == [FAILURES["failures"][0], FAILURES["failures"][2]]
    assert (error.method, error.path, error.status, error.body, error.retry_after) == (
        "POST",
        "/contacts/imports",
        400,
        FAILURES,
        None,
    )


def test_an_api_error_carries_a_readable_part_of_any_other_body_and_its_hint():
    long = EloquaApiError("GET", "/syncs/1", 502, "x" * 5000)
    assert str(long) == "Eloqua answered 502 to GET /syncs/1; body: " + "x" * 2000
    assert str(EloquaApiError("GET", "/syncs/1", 500, b"")) == "Eloqua answered 500 to GET /syncs/1"
    assert (
        str(EloquaApiError("GET", "/syncs/1", 500, {"a": 1})) == "Eloqua answered 500 to GET /syncs/1; body: {'a': 1}"
    )
    # One full stop before the hint, whether or not the body brings its own.
    assert str(EloquaAuthError("GET", "/syncs/1", 401, "Not authenticated.", hint="Check the password.")) == (
        "Eloqua answered 401 to GET /syncs/1; body: Not authenticated. Check the password."
    )
    assert str(EloquaApiError("GET", "/syncs/1", 404, hint="It is gone.")) == (
        "Eloqua answered 404 to GET /syncs/1. It is gone."
    )


def test_a_proxy_error_is_the_proxys_answer_and_names_no_url():
    error = EloquaProxyError("GET", "/id", 407, "Proxy-Authenticate: Basic", hint="Put them in proxy_url.")
    assert str(error) == "The proxy (connection extra 'proxy_url') answered 407 to GET /id. Put them in proxy_url."
    assert (
        str(EloquaProxyError("GET", "/id", 403)) == "The proxy (connection extra 'proxy_url') answered 403 to GET /id"
    )
    assert isinstance(error, EloquaApiError)


def test_a_refused_definition_keeps_eloquas_answer_and_says_why_it_is_not_retried():
    refused = EloquaDefinitionRefused.of(EloquaApiError("POST", "/contacts/imports", 400, FAILURES, retry_after=3))
    assert (refused.status, refused.body, refused.failures, refused.retry_after) == (
        400,
        FAILURES,
        [FAILURES["failures"][0], FAILURES["failures"][2]],
        3,
    )
    assert str(refused).startswith("Eloqua answered 400 to POST /contacts/imports; failures: identifierFieldName")
    assert "A retry would send the same definition, so the task is not retried" in str(refused)


def test_a_transport_error_says_eloqua_did_not_answer_and_whether_it_was_reached():
    error = EloquaTransportError("POST", "/syncs", "read timed out")
    assert str(error) == "POST /syncs failed before Eloqua answered: read timed out"
    assert error.connect_phase is False
    assert EloquaTransportError("POST", "/syncs", "refused", connect_phase=True).connect_phase is True


@pytest.mark.parametrize(
    ("error_type", "fails_at_once"),
    [
        (EloquaAuthError, True),
        (EloquaInputError, True),
        (EloquaDefinitionRefused, True),
        (EloquaRowCountError, True),
        (EloquaSyncGone, True),
        (EloquaOutcomeRefused, True),
        (EloquaRejectedRowsError, True),
        (EloquaApiError, False),
        (EloquaProxyError, False),
        (EloquaTransportError, False),
        (EloquaSyncError, False),
        (EloquaSyncTimeout, False),
    ],
)
def test_only_failures_a_retry_cannot_change_skip_airflows_retries(error_type, fails_at_once):
    assert issubclass(error_type, EloquaError)
    assert issubclass(error_type, AirflowFailException) is fails_at_once


def test_bad_input_is_also_a_value_error():
    assert issubclass(EloquaInputError, ValueError)
