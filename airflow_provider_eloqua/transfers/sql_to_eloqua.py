"""``SqlToEloquaOperator``: a warehouse query loaded into Eloqua in one task, its rows never held whole
(read by :mod:`.sql_rows`, loaded by the same engine as files)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.sdk import BaseHook, Context

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.spec import InputSpec
from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator
from airflow_provider_eloqua.transfers.sql_rows import DEFAULT_FETCH_SIZE, QueryRows, query_identity

__all__ = ["SqlToEloquaOperator"]

#: Oracle: "Oracle Eloqua servers are set to Eastern Standard Time", and imported values are read
#: in the site's time zone (docs/eloqua-behaviour.md, "Date values").
DEFAULT_TIME_ZONE = "America/New_York"


def _zone(name: str) -> _dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise EloquaInputError(
            f"time_zone must be an IANA time zone name such as 'America/New_York'; got {name!r}"
        ) from None


def open_query(query: Mapping[str, Any]) -> QueryRows:
    """The rows of a query described by :meth:`SqlToEloquaOperator.query_description` (the query is
    run when they are read); raises EloquaInputError when its connection's hook is not a DbApiHook."""
    conn_id, sql, parameters = query["sql_conn_id"], query["sql"], query.get("parameters")
    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise EloquaInputError(
            f"sql_conn_id {conn_id!r}: its hook, {type(hook).__name__}, is not a common.sql DbApiHook"
        )
    fetch_size = _check_fetch_size(query.get("fetch_size", DEFAULT_FETCH_SIZE))
    identity = query_identity(conn_id, sql, parameters)
    return QueryRows(
        hook.get_conn, sql, parameters, fetch_size, _zone(query.get("time_zone", DEFAULT_TIME_ZONE)), identity
    )


def _check_fetch_size(fetch_size: Any) -> int:
    if isinstance(fetch_size, bool) or not isinstance(fetch_size, int) or fetch_size < 1:
        raise EloquaInputError(f"fetch_size must be a positive integer; got {fetch_size!r}")
    return fetch_size


class SqlToEloquaOperator(EloquaImportOperator):
    """Load the rows of a SQL query into Eloqua: :class:`EloquaImportOperator` with a query as its input.

    Takes every argument of the import operator but ``data``, ``path`` and ``format``; rejects are mapped back
    to query rows (the query runs again to find them). Why and how: README, "From a SQL query", and
    docs/sql-to-eloqua.md.

    :param sql: one query, or the path of a ``.sql`` file (templated).
    :param sql_conn_id: the Airflow connection of the database; its hook must be a common.sql ``DbApiHook``.
    :param parameters: the query's bind parameters (templated).
    :param fetch_size: rows read from the database at a time (PostgreSQL keeps the rest until they are read).
    :param time_zone: the site's IANA zone, which aware datetimes (``timestamptz``) are converted to.
    """

    template_fields: Sequence[str] = (
        *(name for name in EloquaImportOperator.template_fields if name not in ("data", "path", "format")),
        "sql",
        "parameters",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql", "parameters": "json"}
    ui_color = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str,
        sql_conn_id: str,
        parameters: Any = None,
        fetch_size: int = DEFAULT_FETCH_SIZE,
        time_zone: str = DEFAULT_TIME_ZONE,
        **kwargs: Any,
    ) -> None:
        given = sorted({"data", "path", "format"} & set(kwargs))
        if given:
            raise EloquaInputError(f"SqlToEloquaOperator reads its rows from sql; {', '.join(given)} cannot be given")
        super().__init__(**kwargs)
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.parameters = parameters
        self.fetch_size = _check_fetch_size(fetch_size)
        self.time_zone = time_zone
        self._zone = _zone(time_zone)

    @cached_property
    def query_rows(self) -> QueryRows:
        """The query's rows (read lazily; rendered SQL and parameters)."""
        return open_query(self.query_description())

    def query_description(self) -> dict[str, Any]:
        """The query as plain JSON (see :func:`open_query`): the sensor after a ``wait=False`` task runs it
        again with it, to give the sync's rejects their query rows."""
        return {
            "sql_conn_id": self.sql_conn_id,
            "sql": self._one_statement(),
            "parameters": self.parameters,
            "fetch_size": self.fetch_size,
            "time_zone": self.time_zone,
        }

    def staged_rows(self) -> dict[str, Any] | None:
        return self.query_description()

    def _one_statement(self) -> str:
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise EloquaInputError(f"sql must be a query; got {self.sql!r}")
        statements = DbApiHook.split_sql_string(self.sql, strip_semicolon=True)
        if len(statements) != 1:
            raise EloquaInputError(f"sql must be one query; got {len(statements)} statements")
        return DbApiHook.strip_sql_string(self.sql)

    def input_spec(self) -> InputSpec:
        return InputSpec(rows=self.query_rows)

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            # The query runs, and its first rows are read, while the task reads its checkpoint and the
            # template (its connection is open before either asks Airflow for anything).
            self.query_rows.start()
            return super().execute(context)
        finally:
            self._close_query()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return super().execute_complete(context, event)
        finally:
            self._close_query()

    def _close_query(self) -> None:
        if "query_rows" in self.__dict__:
            self.query_rows.close()
