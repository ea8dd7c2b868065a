"""emulator/query.py: the ``q`` and ``orderBy`` parameters of list endpoints, as Oracle documents them."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.emulator.errors import ApiError
from airflow_provider_eloqua.emulator.query import filter_items, order_items


def test_definition_lists_take_orderby_and_q_as_oracle_documents(bulk):
    for name in ("beta", "alpha", "Gamma test"):
        bulk.create(name=name)

    def names(params):
        return [d["name"] for d in bulk.items_with("/contacts/imports", params)]

    assert names({"orderBy": "name ASC"}) == ["Gamma test", "alpha", "beta"]  # plain text order
    assert names({"orderBy": "name DESC"}) == ["beta", "alpha", "Gamma test"]
    assert names({"q": '"name=*test*"'}) == ["Gamma test"]  # Oracle's example: quoted, "*" wildcards
    assert names({"q": "name!='beta'", "orderBy": "createdAt DESC"}) == ["Gamma test", "alpha"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "colour='red'"}, "q"),  # not a property of a definition
        ({"q": "name~'x'"}, "q"),  # an operator Oracle does not document
        ({"orderBy": "colour ASC"}, "orderBy"),
        ({"orderBy": "name SIDEWAYS"}, "orderBy"),
    ],
)
def test_unsupported_search_or_order_is_a_400_naming_the_parameter(bulk, params, field):
    response = bulk.get("/contacts/imports", params=params)
    assert response.status_code == 400
    assert response.json()["failures"][0]["field"] == field


def test_sync_list_takes_orderby_and_q_as_oracle_documents(bulk):
    first = bulk.create(name="first")["uri"]
    second = bulk.create(name="second")["uri"]
    uris = [bulk.start_sync(first), bulk.start_sync(second), bulk.start_sync(first)]

    def listed(params):
        return [s["uri"] for s in bulk.items_with("/syncs", params)]

    assert listed({}) == uris  # creation order when no order is asked for
    assert listed({"orderBy": "createdAt DESC"}) == uris[::-1]
    assert listed({"q": f"syncedInstanceUri='{first}'", "orderBy": "createdAt DESC"}) == [uris[2], uris[0]]
    assert listed({"q": "status=pending", "orderBy": "uri ASC"}) == uris
    refused = bulk.get("/syncs", params={"q": "name='x'"})  # syncs have no name
    assert refused.status_code == 400 and refused.json()["failures"][0]["field"] == "q"


ITEMS = [{"name": "beta", "uri": "/3"}, {"name": "Alpha test", "uri": "/1"}, {"name": None, "uri": "/2"}]
TERMS = frozenset({"name", "uri"})


def test_q_matches_with_wildcards_ignoring_case_and_quotes():
    assert filter_items(ITEMS, None, TERMS) == ITEMS
    assert filter_items(ITEMS, "  ", TERMS) == ITEMS
    assert filter_items(ITEMS, "name='BETA'", TERMS) == [ITEMS[0]]
    assert filter_items(ITEMS, '"name=*TEST"', TERMS) == [ITEMS[1]]
    assert filter_items(ITEMS, "name!=beta", TERMS) == [ITEMS[1], ITEMS[2]]  # a missing value is ""
    assert filter_items(ITEMS, "name=a.c", TERMS) == []  # only * is special


def test_order_by_sorts_as_text_and_keeps_creation_order_for_ties():
    assert order_items(ITEMS, None, TERMS) == ITEMS
    assert [i["uri"] for i in order_items(ITEMS, "uri", TERMS)] == ["/1", "/2", "/3"]
    assert [i["uri"] for i in order_items(ITEMS, "uri desc", TERMS)] == ["/3", "/2", "/1"]
    ties = [{"n": "a", "i": 0}, {"n": "a", "i": 1}]
    assert order_items(ties, "n ASC", frozenset({"n"})) == ties
    assert order_items(ties, "n DESC", frozenset({"n"})) == ties[::-1]


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (lambda: filter_items(ITEMS, "colour=red", TERMS), "q", "Unsupported search term 'colour'; one of name, uri."),
        (lambda: filter_items(ITEMS, "name>b", TERMS), "q", "Must be a single criterion"),
        (lambda: order_items(ITEMS, "colour ASC", TERMS), "orderBy", "Unsupported order term 'colour'"),
        (lambda: order_items(ITEMS, "name UP", TERMS), "orderBy", "Must be 'term ASC' or 'term DESC'."),
    ],
)
def test_an_unsupported_parameter_is_eloquas_400_naming_it(call, field, words):
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.status == 400
    (failure,) = caught.value.body["failures"]
    assert failure["field"] == field and words in failure["constraint"]
