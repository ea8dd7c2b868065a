"""Fault rules: scripted misbehaviour the control API arms so tests can exercise retries.

A rule matches a method, a regular expression (``re.search``) over the path after the Bulk
base (``/contacts/imports/3/data``), or the full path for ``/id`` and ``/auth/oauth2/token``, and
one over the query string (``query``, "" when there is none: ``offset=100000(&|$)`` picks one page
of ``/syncs/{id}/data``), and is consumed after ``times`` matches (``None``: forever).

``truncate`` lets the request through and sends its status, headers and the first half of its body,
then drops the connection: a download cut off mid-page.

``hold`` parks the request until the control API releases held requests (or a reset drops it):
a test can stop one client mid-upload at an exact point, let another act, then let it go on,
without depending on timing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_eloqua.emulator.errors import ApiError

ACTIONS = ("status", "drop", "drop_after", "delay", "hold", "truncate")


@dataclass
class FaultRule:
    """One armed fault; see the module docstring for matching and ``ACTIONS`` for what it does."""

    method: str = "*"
    path: str = ".*"
    query: str = ".*"
    times: int | None = 1
    action: str = "status"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """Build a rule from a control-API body; raises ApiError(400) naming what is wrong."""
        if not isinstance(data, dict):
            raise ApiError(400, {"error": "a fault rule must be a JSON object"})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ApiError(400, {"error": f"unknown fault keys: {sorted(unknown)}"})
        rule = cls(**data)
        rule.method = rule.method.upper()
        if rule.action not in ACTIONS:
            raise ApiError(400, {"error": f"action must be one of {ACTIONS}; got {rule.action!r}"})
        if rule.times is not None and (not isinstance(rule.times, int) or rule.times < 1):
            raise ApiError(400, {"error": "times must be a positive integer or null"})
        for name in ("path", "query"):
            try:
                re.compile(getattr(rule, name))
            except re.error as exc:
                raise ApiError(400, {"error": f"{name} is not a valid regular expression: {exc}"}) from exc
        return rule

    def matches(self, method: str, path: str, query: str = "") -> bool:
        return (
            self.method in ("*", method.upper())
            and re.search(self.path, path) is not None
            and re.search(self.query, query) is not None
        )


class FaultBook:
    """The armed rules, first match wins; thread-safe because control and API calls interleave."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        #: Requests parked by ``hold`` rules right now, and how many releases there have been.
        self.held = 0
        self.releases = 0

    def release(self) -> int:
        """Let every held request go on; returns how many were held."""
        with self._lock:
            self.releases += 1
            return self.held

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def take(self, method: str, path: str, query: str = "") -> FaultRule | None:
        """The first rule matching the request, counting one use of it (and dropping it when spent)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, query):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None
