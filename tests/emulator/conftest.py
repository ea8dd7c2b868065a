"""A thin Bulk API client for the emulator tests: plain ``requests`` over loopback, no mocks."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER, EmulatorServer

BASIC_AUTH = (f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD)
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
FIRST_NAME = "{{Contact.Field(C_FirstName)}}"
TERMINAL = ("success", "warning", "error", "errored")
#: Oracle's opportunity import tutorial: the statements, and the definition that links opportunities to contacts.
OPPORTUNITY_FIELDS = {
    "OpportunityID": "{{Opportunity.Id}}",
    "OpportunityName": "{{Opportunity.Field(Name)}}",
    "Stage": "{{Opportunity.Field(Stage)}}",
    "Amount": "{{Opportunity.Field(Amount)}}",
    "CloseDate": "{{Opportunity.Field(CloseDate)}}",
}
LINK = {
    "fields": {"EmailAddress": "{{Opportunity.Contact.Field(C_EmailAddress)}}", "OpportunityID": "{{Opportunity.Id}}"},
    "identifierFieldName": "EmailAddress",
    "linkOpportunitiesEntityType": "Contact",
    "linkOpportunitiesMatchFieldName": "OpportunityID",
    "linkOpportunitiesSourceField": "EmailAddress",
    "linkOpportunitiesCaseSensitiveMatchField": False,
    "linkOpportunitiesCaseSensitiveSourceField": "false",  # Oracle's examples also send strings
    "linkOpportunitiesMultipleSourceMatches": True,
}


class Bulk:
    """Requests against ``<root>/api/bulk/2.0`` with Basic auth; paths as Eloqua's ``uri`` fields."""

    def __init__(self, root_url: str) -> None:
        self.base = root_url + "/api/bulk/2.0"
        self.session = requests.Session()
        self.session.auth = BASIC_AUTH

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, collection: str = "/contacts/imports", **overrides: Any) -> dict[str, Any]:
        """Create a definition (contacts by e-mail unless overridden) and return it."""
        body = {
            "name": "test import",
            "fields": {"Email": EMAIL, "First": FIRST_NAME},
            "identifierFieldName": "Email",
            "isSyncTriggeredOnImport": False,
        } | overrides
        response = self.post(collection, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def stage(self, definition_uri: str, rows: list[dict[str, Any]]) -> None:
        response = self.post(definition_uri + "/data", json=rows)
        assert response.status_code == 204, response.text

    def start_sync(self, definition_uri: str) -> str:
        response = self.post("/syncs", json={"syncedInstanceUri": definition_uri})
        assert response.status_code == 201, response.text
        return response.json()["uri"]

    def wait(self, sync_uri: str) -> dict[str, Any]:
        """Poll until terminal (each poll advances the emulated sync)."""
        for _ in range(20):
            sync = self.get(sync_uri).json()
            if sync["status"] in TERMINAL:
                return sync
        raise AssertionError(f"{sync_uri} never finished")

    def sync(self, definition_uri: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Stage rows, sync them and return the finished sync."""
        self.stage(definition_uri, rows)
        return self.wait(self.start_sync(definition_uri))

    def load(
        self, collection: str, fields: dict[str, str], identifier: str, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Import ``rows`` through a new definition of ``collection`` keyed by ``identifier``; the finished sync."""
        return self.sync(self.create(collection, fields=fields, identifierFieldName=identifier)["uri"], rows)

    def items(self, path: str) -> list[dict[str, Any]]:
        return self.items_with(path, {})

    def items_with(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def bulk(emulator: EmulatorServer) -> Bulk:
    return Bulk(emulator.url)
