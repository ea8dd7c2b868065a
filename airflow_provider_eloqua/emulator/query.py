"""The ``q`` and ``orderBy`` URL parameters of Bulk API list endpoints, as Oracle documents them.

Oracle's reference (``GET /syncs``, ``GET /contacts/imports`` and every other list): ``orderBy`` is
``term ASC | DESC`` (example ``?orderBy=name ASC``); ``q`` is ``term operator value`` with ``*`` as a
wildcard (example ``?q="name=*Test*"``). Oracle lists neither the terms each list accepts nor the
operators beyond ``=``, nor its answer to ones it does not support: the emulator accepts the
properties its items carry, the operators ``=`` and ``!=``, and answers anything else with Eloqua's
400 validation shape naming the parameter (see docs/eloqua-behaviour.md, "Listing syncs and
definitions").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from airflow_provider_eloqua.emulator.errors import failure, validation_error

_CRITERION = re.compile(r"^\s*(?P<term>[A-Za-z]+)\s*(?P<op>!=|=)\s*(?P<value>.*?)\s*$", re.DOTALL)
_ORDER = re.compile(r"^\s*(?P<term>[A-Za-z]+)(?:\s+(?P<direction>ASC|DESC))?\s*$", re.IGNORECASE)


def _unquote(text: str) -> str:
    """``'X'`` or ``"X"`` -> ``X``: Oracle's examples quote the whole criterion or its value."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _pattern(value: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; everything else literally, letter case ignored."""
    return re.compile("^" + ".*".join(re.escape(part) for part in value.split("*")) + "$", re.IGNORECASE | re.DOTALL)


def filter_items(items: Iterable[dict[str, Any]], q: str | None, terms: frozenset[str]) -> list[dict[str, Any]]:
    """The items matching ``q`` (all of them when ``q`` is absent); 400 for a term or operator not supported."""
    items = list(items)
    if q is None or not q.strip():
        return items
    match = _CRITERION.match(_unquote(q.strip()))
    if not match:
        raise validation_error([failure("q", q, "Must be a single criterion 'term=value' or 'term!=value'.")])
    term = match["term"]
    if term not in terms:
        raise validation_error(
            [failure("q", q, f"Unsupported search term {term!r}; one of {', '.join(sorted(terms))}.")]
        )
    pattern = _pattern(_unquote(match["value"]))
    wanted = match["op"] == "="
    return [item for item in items if bool(pattern.match(str(item.get(term) or ""))) is wanted]


def order_items(items: list[dict[str, Any]], order_by: str | None, terms: frozenset[str]) -> list[dict[str, Any]]:
    """The items sorted by ``orderBy`` (``createdAt DESC``); 400 for a term not supported."""
    if order_by is None or not order_by.strip():
        return items
    match = _ORDER.match(order_by)
    if not match:
        raise validation_error([failure("orderBy", order_by, "Must be 'term ASC' or 'term DESC'.")])
    term = match["term"]
    if term not in terms:
        message = f"Unsupported order term {term!r}; one of {', '.join(sorted(terms))}."
        raise validation_error([failure("orderBy", order_by, message)])
    descending = (match["direction"] or "ASC").upper() == "DESC"
    # Ties keep creation order (reversed for DESC), as Eloqua's increasing ids would.
    ranked = sorted(enumerate(items), key=lambda pair: (str(pair[1].get(term) or ""), pair[0]), reverse=descending)
    return [item for _, item in ranked]
