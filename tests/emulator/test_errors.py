"""emulator/errors.py: Eloqua-shaped error answers, and the app sending their bodies as they are."""

from __future__ import annotations

from airflow_provider_eloqua.emulator.errors import (
    NOT_AUTHENTICATED,
    ApiError,
    failure,
    not_found,
    unauthorized,
    validation_error,
)


def test_each_error_has_the_status_and_body_eloqua_answers_with():
    assert failure("name", None, "Is required.") == {"field": "name", "value": None, "constraint": "Is required."}
    refused = validation_error([failure("name", None, "Is required.")])
    assert (refused.status, refused.body, refused.headers) == (
        400,
        {"failures": [failure("name", None, "Is required.")]},
        {},
    )
    assert (unauthorized().status, unauthorized().body) == (401, "Not authenticated.") == (401, NOT_AUTHENTICATED)
    missing = not_found("/contacts/imports/9")
    assert missing.status == 404
    assert missing.body == {"failures": [failure("uri", "/contacts/imports/9", "Must reference an existing resource.")]}
    assert str(ApiError(429, None, {"Retry-After": "3"})) == "429: None"


def test_the_app_answers_with_the_body_as_it_is_not_wrapped(emulator, bulk):
    answer = bulk.get("/contacts/imports/999")
    assert answer.status_code == 404
    assert answer.json() == not_found("/contacts/imports/999").body
    assert "detail" not in answer.text
    bulk.session.auth = ("wrong", "credentials")
    refused = bulk.get("/contacts/imports")
    assert (refused.status_code, refused.json()) == (401, NOT_AUTHENTICATED)
