"""emulator/middleware.py: the outermost layer, over real HTTP: the request log (written before the client
has its answer, never holding a secret) and a reset that retires the requests still in flight."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.test_faults import delayed_get_in_flight

from .conftest import BASIC_AUTH


def test_reset_retires_requests_in_flight(emulator, bulk):
    """A request of a finished test never reaches the next test's site: a reset ends a pending delay
    with a dropped connection and waits for it, and the request is logged nowhere."""
    thread, outcome = delayed_get_in_flight(emulator, bulk, client_timeout=None)
    emulator.control.reset()
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)
    assert emulator.control.requests() == []
    assert bulk.get("/contacts/imports").status_code == 200
    assert [r["path"] for r in emulator.control.requests()] == ["/api/bulk/2.0/contacts/imports"]


def test_a_request_is_logged_before_its_client_has_the_answer(emulator, bulk):
    """No waiting needed, for answers and for dropped connections alike."""
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", action="drop")
    with pytest.raises(requests.ConnectionError):
        bulk.get("/contacts/imports")
    assert [(r["status"], r.get("fault")) for r in emulator.control.requests()] == [(None, "drop")]
    assert bulk.get("/contacts/imports").status_code == 200
    assert [(r["status"], r.get("fault")) for r in emulator.control.requests()] == [(None, "drop"), (200, None)]


def test_request_log_has_no_secrets(emulator, bulk):
    emulator.control.clear_requests()
    bulk.get("/contacts/imports")
    requests.get(emulator.url + "/id", headers={"Authorization": "Bearer secret-token-xyz"}, timeout=10)
    log = emulator.control.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/api/bulk/2.0/contacts/imports", 200),
        ("GET", "/id", 200),  # Oracle answers bad credentials on /id with 200 "Not authenticated."
    ]
    text = repr(log)
    assert "Authorization" not in text and "secret-token-xyz" not in text and BASIC_AUTH[1] not in text
    assert set(log[0]) >= {"method", "path", "status", "content_length", "ts"}
    emulator.control.clear_requests()
    assert emulator.control.requests() == []
