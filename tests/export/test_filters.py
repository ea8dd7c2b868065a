"""export/filters.py: EEL filters parsed as Oracle documents them, and written back (pure, no HTTP)."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.export.filters import (
    And,
    Comparison,
    Exists,
    Not,
    Or,
    Status,
    all_and,
    check_length,
    parse_filter,
    walk,
)

COUNTRY = "{{Contact.Field(C_Country)}}"


def test_a_comparison_is_a_quoted_statement_an_operator_and_a_quoted_value():
    assert parse_filter(f"'{COUNTRY}' = 'Belgium'") == Comparison(COUNTRY, "=", "Belgium")
    for op in (">", ">=", "<", "<=", "!=", "=", "~"):
        assert parse_filter(f"'{COUNTRY}'{op}'B%'").op == op  # spaces are optional


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    tree = parse_filter(f"'{COUNTRY}' = 'A' OR '{COUNTRY}' = 'B' AND NOT '{COUNTRY}' = 'C'")
    assert tree == Or(
        (
            Comparison(COUNTRY, "=", "A"),
            And((Comparison(COUNTRY, "=", "B"), Not(Comparison(COUNTRY, "=", "C")))),
        )
    )


def test_parentheses_group_and_keywords_are_read_in_any_case():
    tree = parse_filter(f"('{COUNTRY}' = 'A' or '{COUNTRY}' = 'B') and exists('{{{{ContactList[12]}}}}')")
    assert tree == And((Or((Comparison(COUNTRY, "=", "A"), Comparison(COUNTRY, "=", "B"))), Exists("ContactList", 12)))


def test_text_round_trips_with_the_parentheses_the_meaning_needs():
    text = f"('{COUNTRY}' = 'A' OR '{COUNTRY}' = 'B') AND NOT ('{COUNTRY}' = 'C' AND '{COUNTRY}' = 'D')"
    tree = parse_filter(text)
    assert tree.text() == text
    assert parse_filter(tree.text()) == tree


def test_status_takes_a_statement_and_a_value():
    tree = parse_filter("STATUS('{{CloudConnector[1].Execution[2]}}') = 'complete'")
    assert tree == Status("{{CloudConnector[1].Execution[2]}}", "complete")
    assert tree.text() == "STATUS('{{CloudConnector[1].Execution[2]}}') = 'complete'"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "it is empty"),
        (f"{COUNTRY} = 'Belgium'", "unexpected"),  # the statement is not quoted
        (f"'{COUNTRY}' = Belgium", "unexpected word 'Belgium'"),
        (f"'{COUNTRY}' = 'O'Brien'", "unexpected word 'Brien'"),  # no documented escape for a quote
        (f"'{COUNTRY}' == 'x'", "a value in single quotes"),
        (f"'{COUNTRY}' = 'x' '{COUNTRY}' = 'y'", "AND or OR missing"),
        (f"('{COUNTRY}' = 'x'", "expected ')'"),
        (f"'{COUNTRY}' LIKE 'x'", "unexpected word 'LIKE'"),
        ("'Country' = 'x'", "quoted statement"),
        (f"'{COUNTRY}' = '{COUNTRY}'", "not another statement"),
        ("EXISTS('{{ContactGroup[3]}}')", "EXISTS takes a contact filter"),
        ("EXISTS('{{ContactList[0]}}')", "EXISTS takes a contact filter"),
        (f"'{COUNTRY}' = 'x' AND", "the end of the filter"),
        (f"'{COUNTRY}' = 'x' ; DROP", "unexpected ';"),
    ],
)
def test_what_oracle_does_not_document_is_refused_naming_the_argument(text, reason):
    with pytest.raises(EloquaInputError, match=r"^filter is not a filter Eloqua documents") as caught:
        parse_filter(text)
    assert reason in str(caught.value)


def test_the_error_names_the_argument_it_was_given():
    with pytest.raises(EloquaInputError, match=r"^my_filter "):
        parse_filter("nonsense", "my_filter")
    with pytest.raises(EloquaInputError, match="must be a string"):
        parse_filter(None)  # type: ignore[arg-type]


def test_all_and_flattens_and_skips_nothing():
    a, b, c = (Comparison(COUNTRY, "=", v) for v in "abc")
    assert all_and(None, None) is None
    assert all_and(a, None) == a
    assert all_and(And((a, b)), c) == And((a, b, c))
    assert all_and(Or((a, b)), c).text() == f"('{COUNTRY}' = 'a' OR '{COUNTRY}' = 'b') AND '{COUNTRY}' = 'c'"


def test_walk_visits_every_node():
    tree = parse_filter(f"NOT ('{COUNTRY}' = 'a' OR EXISTS('{{{{ContactSegment[3]}}}}'))")
    assert [type(node).__name__ for node in walk(tree)] == ["Not", "Or", "Comparison", "Exists"]


def test_length_is_at_most_1000_characters():
    assert check_length("x" * 1000, "filter") == "x" * 1000
    with pytest.raises(EloquaInputError, match="filter is 1001 characters; Eloqua allows at most 1000"):
        check_length("x" * 1001, "filter")
