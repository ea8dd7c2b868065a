"""The token loop's decisions, without I/O: ``OAuthGrants.steps`` is what the sync and async drivers
(``obtain``/``aobtain``) both carry out, so its order of grants is checked here once; the drivers
themselves are exercised against the emulator in ``test_eloqua.py`` and the trigger tests."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from airflow_provider_eloqua.exceptions import EloquaAuthError
from airflow_provider_eloqua.hooks.auth import GrantRequest, OAuthGrants, ReadStore
from airflow_provider_eloqua.hooks.session import TokenState
from airflow_provider_eloqua.settings import EloquaSettings

PASSWORD = "pw-never-shown"
CLIENT_SECRET = "cs-never-shown"


def settings(*, password: str | None = PASSWORD, store: str | None = "eloqua_rt") -> EloquaSettings:
    return EloquaSettings(
        site="Company",
        user="User",
        password=password,
        auth_type="oauth2",
        client_id="client",
        client_secret=CLIENT_SECRET,
        token_store_variable=store,
    )


def answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body)


REFUSED = answer(400, {"error": "invalid_grant", "error_description": "refresh token spent"})


def test_refused_refresh_token_reads_the_store_once_then_uses_the_password_grant():
    tokens = TokenState("rt-held")
    tokens.issued_here = True
    steps = OAuthGrants(settings(), logging.getLogger(__name__)).steps(tokens)

    first = next(steps)
    assert isinstance(first, GrantRequest) and first.grant["grant_type"] == "refresh_token"
    assert isinstance(steps.send(REFUSED), ReadStore)
    second = steps.send("rt-held")  # the store has nothing newer
    assert isinstance(second, GrantRequest) and second.grant["grant_type"] == "password"
    for request in (first, second):
        assert PASSWORD not in repr(request) and CLIENT_SECRET not in repr(request) and "rt-held" not in repr(request)
    with pytest.raises(StopIteration) as done:
        steps.send(answer(200, {"access_token": "at-1", "refresh_token": "rt-new"}))
    assert done.value.value == "rt-new"  # rotated: the driver masks and stores it
    assert (tokens.access_token, tokens.refresh_token) == ("at-1", "rt-new")


def test_newer_token_in_the_store_is_tried_and_a_second_refusal_is_final_without_a_password():
    tokens = TokenState("rt-held")
    steps = OAuthGrants(settings(password=None), logging.getLogger(__name__)).steps(tokens)

    next(steps)
    assert isinstance(steps.send(REFUSED), ReadStore)
    retry = steps.send("rt-newer")
    assert isinstance(retry, GrantRequest) and json.loads(retry.body)["refresh_token"] == "rt-newer"
    with pytest.raises(EloquaAuthError, match="refresh_token grant was refused") as info:
        steps.send(REFUSED)  # the store is read once per production, never again
    assert "rt-newer" not in str(info.value) and CLIENT_SECRET not in str(info.value)
