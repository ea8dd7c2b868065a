"""Fault injection, the request log and reset."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import requests

from .conftest import BASIC_AUTH


def test_status_fault_with_retry_after_is_consumed(emulator, bulk):
    emulator.control.add_fault(
        method="GET", path=r"^/contacts/imports$", status=503, headers={"Retry-After": "1"}, body={"x": 1}
    )
    faulted = bulk.get("/contacts/imports")
    assert faulted.status_code == 503 and faulted.headers["Retry-After"] == "1" and faulted.json() == {"x": 1}
    assert bulk.get("/contacts/imports").status_code == 200
    assert emulator.control.faults() == []


def test_status_fault_does_not_process(emulator, bulk):
    emulator.control.add_fault(method="POST", path="/imports$", status=429, times=2)
    assert bulk.post("/contacts/imports", json={}).status_code == 429
    assert bulk.post("/contacts/imports", json={}).status_code == 429
    assert bulk.post("/contacts/imports", json={}).status_code == 400
    assert bulk.get("/contacts/imports").json()["totalResults"] == 0


def test_fault_on_token_endpoint_uses_full_path(emulator):
    emulator.control.add_fault(path="^/auth/oauth2/token$", status=502, body="Bad Gateway")
    response = requests.post(emulator.url + "/auth/oauth2/token", json={}, timeout=10)
    assert response.status_code == 502 and response.text == "Bad Gateway"


def test_drop_is_a_connection_error_for_requests_and_httpx(emulator, bulk):
    uri = bulk.create()["uri"]
    emulator.control.add_fault(method="POST", path="/data$", action="drop", times=2)
    rows = [{"Email": "a@example.com"}]
    with pytest.raises(requests.ConnectionError):
        bulk.post(uri + "/data", json=rows)
    with pytest.raises(httpx.TransportError):
        httpx.post(bulk.base + uri + "/data", json=rows, auth=BASIC_AUTH, timeout=10)
    assert emulator.control.state()["uploads"] == []
    bulk.stage(uri, rows)


def test_drop_after_processes_then_drops(emulator, bulk):
    uri = bulk.create()["uri"]
    emulator.control.add_fault(method="POST", path="/data$", action="drop_after")
    with pytest.raises(requests.ConnectionError):
        bulk.post(uri + "/data", json=[{"Email": "a@example.com"}])
    state = emulator.control.state()
    assert state["definitions"][0]["staged_rows"] == 1 and len(state["uploads"]) == 1


def delayed_get_in_flight(emulator, bulk, client_timeout: float | None) -> tuple[threading.Thread, list]:
    """A GET /contacts/imports held by a delay fault far longer than any test (ended by a reset),
    sent from a thread; returns once the emulator has taken the fault, i.e. holds the request."""
    emulator.control.add_fault(method="GET", path="^/contacts/imports$", action="delay", delay=3600)
    outcome: list = []

    def call() -> None:
        try:
            outcome.append(bulk.get("/contacts/imports", timeout=client_timeout).status_code)
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    for _ in range(6000):  # bounded (60 s); a fault is taken when its request arrives
        if not emulator.control.faults():
            break
        time.sleep(0.01)
    assert emulator.control.faults() == [], "the delayed request never reached the emulator"
    return thread, outcome


def test_delay_times_out_the_client_without_blocking_others(emulator, bulk):
    thread, outcome = delayed_get_in_flight(emulator, bulk, client_timeout=0.05)
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ReadTimeout)
    # The delayed request is still in flight (an hour to go), and the emulator answers others.
    assert requests.get(bulk.base + "/contacts/fields", auth=BASIC_AUTH, timeout=30).status_code == 200
    assert [r["path"] for r in emulator.control.requests()] == ["/api/bulk/2.0/contacts/fields"]


def test_invalid_fault_rule_is_rejected(emulator):
    with pytest.raises(requests.HTTPError):
        emulator.control.add_fault(action="explode")
    with pytest.raises(requests.HTTPError):
        emulator.control.add_fault(path="(unclosed")


def test_reset_restores_a_fresh_site(emulator, bulk):
    uri = bulk.create()["uri"]
    bulk.sync(uri, [{"Email": "a@example.com"}])
    emulator.control.add_fault(path="anything", times=None)
    emulator.control.configure(password="changed", pod="p09", pending_polls=5)
    emulator.control.reset()
    state = emulator.control.state()
    assert state["definitions"] == [] and state["syncs"] == [] and state["records"] == {}
    assert state["settings"]["pending_polls"] == 1 and state["settings"]["pod"] == ""
    assert emulator.control.faults() == [] and emulator.control.refresh_token() == "emulator-refresh-token-0"
    assert bulk.get("/contacts/imports").status_code == 200
    assert bulk.create()["uri"] == "/contacts/imports/1"


def test_hold_parks_a_request_until_released(emulator, bulk):
    """``hold`` stops a client at an exact request (no timing): it is staged only once released."""
    uri = bulk.create()["uri"]
    emulator.control.add_fault(method="POST", path="/data$", action="hold")
    answers: list[int] = []
    client = threading.Thread(
        target=lambda: answers.append(bulk.post(uri + "/data", json=[{"Email": "a@x.io"}]).status_code)
    )
    client.start()
    # No clock: a request that was not held ends its client, which fails here; a hang is pytest-timeout's.
    while emulator.control.held() != 1:
        assert client.is_alive(), f"the request was never held: it was answered {answers}"
        time.sleep(0.01)
    assert emulator.control.state()["uploads"] == [] and answers == []
    bulk.stage(uri, [{"Email": "b@x.io"}])  # other requests go through meanwhile

    assert emulator.control.release_held() == 1
    client.join(10)

    assert answers == [204]
    assert emulator.control.held() == 0
    assert [u["rows"] for u in emulator.control.state()["uploads"]] == [1, 1]


def _export_sync(emulator, bulk, count: int) -> str:
    """A finished contact export sync of ``count`` seeded contacts."""
    emulator.control.seed("/contacts", count=count, template={"{{Contact.Field(C_EmailAddress)}}": "c{n}@example.com"})
    body = {"name": "paged", "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"}}
    definition = bulk.post("/contacts/exports", json=body).json()["uri"]
    return bulk.wait(bulk.start_sync(definition))["uri"]


@pytest.mark.parametrize(("status", "headers"), [(429, {"Retry-After": "2"}), (503, {}), (500, {"Retry-After": "120"})])
def test_one_page_of_sync_data_can_be_made_to_fail(emulator, bulk, status, headers):
    sync_uri = _export_sync(emulator, bulk, 30)
    emulator.control.add_fault(
        method="GET", path=r"^/syncs/\d+/data$", query=r"(^|&)offset=20(&|$)", status=status, headers=headers
    )
    assert bulk.get(sync_uri + "/data", params={"limit": 10, "offset": 10}).status_code == 200
    failed = bulk.get(sync_uri + "/data", params={"limit": 10, "offset": 20})
    assert failed.status_code == status
    assert all(failed.headers[name] == value for name, value in headers.items())
    again = bulk.get(sync_uri + "/data", params={"limit": 10, "offset": 20})
    assert [item["Email"] for item in again.json()["items"]] == [f"c{n}@example.com" for n in range(21, 31)]


def test_a_page_can_be_cut_off_mid_body_then_served_whole(emulator, bulk):
    sync_uri = _export_sync(emulator, bulk, 2000)
    emulator.control.add_fault(method="GET", path=r"/data$", query="offset=1000", action="truncate")
    with pytest.raises(requests.exceptions.RequestException):
        bulk.get(sync_uri + "/data", params={"limit": 1000, "offset": 1000}).json()
    assert bulk.get(sync_uri + "/data", params={"limit": 1000, "offset": 1000}).json()["count"] == 1000


def test_a_page_request_can_be_dropped_without_an_answer(emulator, bulk):
    sync_uri = _export_sync(emulator, bulk, 5)
    emulator.control.add_fault(method="GET", path=r"/data$", query="offset=0", action="drop")
    with pytest.raises(requests.ConnectionError):
        bulk.get(sync_uri + "/data", params={"offset": 0})
    assert bulk.get(sync_uri + "/data", params={"offset": 0}).json()["totalResults"] == 5


def test_a_query_pattern_that_is_not_a_regular_expression_is_refused(emulator):
    with pytest.raises(requests.HTTPError):
        emulator.control.add_fault(query="offset=(")
