"""emulator/resources.py: the Bulk API resources the emulator serves, read from Oracle's reference
(docs/eloqua-behaviour.md) on their own: every import kind is a collection, and the emulator imports
nothing from the provider's client modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_eloqua.emulator as emulator_package
from airflow_provider_eloqua.emulator.resources import entity_of, parse_collection


def test_the_emulator_imports_nothing_from_the_provider_client():
    """It parses what it receives on its own: a client parsing bug must not be mirrored."""
    offenders = []
    for path in Path(emulator_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith("airflow_provider_eloqua")
                and not name.startswith("airflow_provider_eloqua.emulator")
                and name != "airflow_provider_eloqua"  # the package itself (for __version__) is no client code
            ]
    assert offenders == []


@pytest.mark.parametrize(
    "collection",
    ["/emailAddresses/imports", "/phoneNumbers/imports", "/campaignResponses/imports", "/opportunities/imports"],
)
def test_every_import_kind_of_the_reference_is_a_collection(bulk, collection):
    assert bulk.get(collection).status_code == 200
    assert bulk.get(collection.replace("/imports", "/syncActions")).status_code == 404  # no sync actions there


@pytest.mark.parametrize(
    ("root", "kind", "entity", "parent_id"),
    [
        ("/contacts", "imports", "contacts", None),
        ("/opportunities/contacts", "imports", "opportunities/contacts", None),
        ("/customObjects/5", "imports", "customObjects", 5),
        ("/events/12", "exports", "events", 12),
        ("/accounts", "syncActions", "accounts", None),
        ("/activities", "exports", "activities", None),
    ],
)
def test_a_collection_oracle_documents_is_parsed(root, kind, entity, parent_id):
    collection = parse_collection(root, kind)
    assert collection is not None
    assert (collection.entity, collection.parent_id, collection.path) == (entity, parent_id, f"{root}/{kind}")
    assert entity_of(root) == entity


@pytest.mark.parametrize(
    ("root", "kind"),
    [
        ("/customObjects", "imports"),  # a custom object needs its id
        ("/contacts/5", "imports"),  # and a contact has none
        ("/customObjects/0", "imports"),
        ("/widgets", "imports"),
        ("/activities", "syncActions"),
        ("/opportunities", "exports"),
        ("/contacts", "deletes"),
        ("contacts", "imports"),
    ],
)
def test_anything_else_is_no_collection(root, kind):
    assert parse_collection(root, kind) is None
