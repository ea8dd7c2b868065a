"""The rows of one SQL query, streamed from the connection's ``DbApiHook`` in batches of ``fetch_size``.

A :class:`QueryRows` is the load engine's :class:`~airflow_provider_eloqua.load.spec.RowSource`:
each :meth:`QueryRows.open` runs the query (again: on a staging restart, a retry, or to find the
input rows of rejects) and yields its rows as dicts keyed by the result's column names. Nothing
holds the result whole. A thread of its own connects and runs the query; a connection that may
move between threads (psycopg 2 and 3) is then read by the thread that reads the rows, any other
stays with that thread, which hands at most two batches ahead to the reader, so drivers that tie a
connection to its thread (sqlite3) work however the rows are consumed. On PostgreSQL the result
stays with the server until it is read (psycopg 3: streamed as the server sends it; psycopg2: a
named cursor); other databases' cursors are read with ``fetchmany``.

Values are made what Eloqua's import reads (see :mod:`airflow_provider_eloqua.date_values`):
dates and datetimes as text, an aware datetime first converted to the site's time zone; a UUID as
its text. Text, integers, floats, booleans, Decimals and NULLs go as they are. Any other type fails
naming the column and the query row.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any

from airflow_provider_eloqua.date_values import eloqua_date_text
from airflow_provider_eloqua.exceptions import EloquaInputError

log = logging.getLogger(__name__)

DEFAULT_FETCH_SIZE = 10_000
#: Batches the reading thread may hold ready ahead of the reader.
_AHEAD = 2
_POLL = 0.1
_DONE = object()
#: Types the chunker sends as they are (it names a row and column for a NaN or a lone surrogate).
_AS_IS = frozenset({str, int, float, bool, type(None), Decimal})
#: Drivers whose connections may be used from any thread (DB-API ``threadsafety`` 2).
_SHAREABLE = frozenset({"psycopg", "psycopg2"})
#: PostgreSQL types (OIDs) that psycopg 2 and 3 read as text, int, float, bool or Decimal: the
#: values of such a column need no type check (the chunker still checks what it sends).
_PG_AS_IS = frozenset({16, 18, 19, 20, 21, 23, 25, 26, 700, 701, 1042, 1043, 1700})


def _open_result(conn: Any, sql: str, parameters: Any, fetch_size: int) -> tuple[Any, Iterator[Sequence[Any]]]:
    """Run the query; its cursor, and its rows in batches of at most ``fetch_size``, read as they are needed.

    psycopg 3 streams the result as the server sends it (libpq's chunked rows); psycopg2 reads a
    named cursor, whose result the server keeps (in a transaction); other drivers' cursors are
    read with ``fetchmany``.
    """
    args = (sql,) if parameters is None else (sql, parameters)
    driver = type(conn).__module__.split(".")[0]
    if driver == "psycopg":
        cursor = conn.cursor()

        def streamed() -> Iterator[Sequence[Any]]:
            rows = cursor.stream(*args, size=fetch_size)
            try:
                while batch := list(islice(rows, fetch_size)):
                    yield batch
            finally:
                # A stream left early holds the connection until it is closed, which cancels the
                # query on the server (rather than reading the rest of its result).
                rows.close()

        return cursor, streamed()
    if driver == "psycopg2":
        if conn.autocommit:
            conn.autocommit = False
        cursor = conn.cursor(name=f"eloqua_{uuid.uuid4().hex[:16]}")
        cursor.itersize = fetch_size
    else:
        cursor = conn.cursor()
        with contextlib.suppress(AttributeError, TypeError):
            cursor.arraysize = fetch_size
    cursor.execute(*args)

    def fetched() -> Iterator[Sequence[Any]]:
        while batch := cursor.fetchmany(fetch_size):
            yield batch

    return cursor, fetched()


class _Result:
    """One run of the query on ``conn``, its first batch read (so that its columns are known)."""

    def __init__(self, conn: Any, sql: str, parameters: Any, fetch_size: int) -> None:
        self.conn = conn
        try:
            self.cursor, self._batches = _open_result(conn, sql, parameters, fetch_size)
            self._first = next(self._batches, [])  # a named cursor describes its result on the first fetch
            if self.cursor.description is None:
                raise EloquaInputError("sql returns no result columns: it must be a query (SELECT ...)")
        except BaseException:
            self.close()
            raise
        description = self.cursor.description
        self.columns = [str(column[0]) for column in description]
        #: The columns whose values' types are checked (and converted) batch by batch; None: all.
        self.checked: list[int] | None = None
        if type(conn).__module__.split(".")[0] in _SHAREABLE:
            self.checked = [index for index, column in enumerate(description) if column[1] not in _PG_AS_IS]

    def batches(self) -> Iterator[Sequence[Any]]:
        batch, self._first = self._first, []
        while batch:
            yield batch
            del batch
            batch = next(self._batches, [])

    def close(self) -> None:
        """Stop the query if it was not read to its end, end its transaction, close the connection."""
        for close in (
            getattr(getattr(self, "_batches", None), "close", None),  # before the cursor: stops the query
            getattr(getattr(self, "cursor", None), "close", None),
            self.conn.rollback,  # a read: end the transaction the query (or its named cursor) opened
            self.conn.close,
        ):
            if close is not None:
                with contextlib.suppress(Exception):
                    close()


class _Reader:
    """One run of the query, started in a thread of its own that connects and reads the first batch.

    Connections of drivers that may move between threads (psycopg 2 and 3) are then handed to
    whichever thread reads the batches: one thread competing for the GIL fewer. Others (sqlite3
    ties a connection to its thread) stay in the reading thread, their batches handed over through
    a bounded queue.
    """

    def __init__(self, connect: Callable[[], Any], sql: str, parameters: Any, fetch_size: int) -> None:
        self._connect = connect
        self._sql = sql
        self._parameters = parameters
        self._fetch_size = fetch_size
        self._batches: queue.Queue = queue.Queue(maxsize=_AHEAD)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._described = threading.Event()
        self._handed: _Result | None = None
        self.columns: list[str] = []
        self.checked: list[int] | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="eloqua-sql-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            try:
                conn = self._connect()
            finally:
                self._connected.set()
            result = _Result(conn, self._sql, self._parameters, self._fetch_size)
            self.columns, self.checked = result.columns, result.checked
            if type(conn).__module__.split(".")[0] in _SHAREABLE:
                self._handed = result
                self._described.set()
                return
            self._described.set()
            try:
                for batch in result.batches():
                    if not self._put((batch, None)):
                        return
                    del batch
                self._put((_DONE, None))
            finally:
                result.close()
        except BaseException as exc:  # handed to the reader's thread, raised there
            self.error = exc
            self._described.set()
            self._put((None, exc))

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._batches.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def connected(self) -> None:
        """Wait until the connection is open (or failed to open: :meth:`described` raises its error)."""
        self._connected.wait()

    def described(self) -> list[str]:
        """The result's column names, once the query has run (its error, if it failed)."""
        self._described.wait()
        if self.error is not None:
            raise self.error
        return self.columns

    def batches(self) -> Iterator[Sequence[Any]]:
        self.described()
        if self._handed is not None:
            yield from self._handed.batches()
            return
        while True:
            batch, exc = self._batches.get()
            if exc is not None:
                raise exc
            if batch is _DONE:
                return
            yield batch

    def close(self) -> None:
        """Stop reading (the current fetch ends first) and wait until the connection is closed."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._batches.get_nowait()
            self._thread.join(_POLL)
        if self._handed is not None:
            self._handed.close()
            self._handed = None


class QueryRows:
    """The rows of ``sql`` on ``connect()``'s database: a :class:`~airflow_provider_eloqua.load.spec.RowSource`.

    :param connect: opens a DB-API connection (a ``DbApiHook``'s ``get_conn``); called in the reading thread.
    :param sql: one query, rendered.
    :param parameters: its bind parameters, or None.
    :param fetch_size: rows per ``fetchmany``.
    :param time_zone: the zone aware datetimes are converted to (the site's) before their zone is dropped.
    :param identity: what the rows are (see :func:`query_identity`).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        sql: str,
        parameters: Any,
        fetch_size: int,
        time_zone: _dt.tzinfo,
        identity: str,
    ) -> None:
        self._connect = connect
        self.sql = sql
        self.parameters = parameters
        self.fetch_size = fetch_size
        self.time_zone = time_zone
        self.identity = identity
        self._pending: _Reader | None = None  # run to read the columns, handed to the next open()

    def start(self) -> _Reader:
        """Run the query in its reading thread, for the next :meth:`open` to read, and return once it has
        connected: opening the connection may ask Airflow's supervisor for it (a connection lookup), and
        ``dag.test()``'s in-process supervisor serves one thread at a time, so the caller's thread asks
        Airflow for nothing meanwhile. The query then runs, and its first batch is read, while the caller
        does other work."""
        if self._pending is None:
            self._pending = _Reader(self._connect, self.sql, self.parameters, self.fetch_size)
        self._pending.connected()
        return self._pending

    @property
    def columns(self) -> list[str]:
        """The result's column names (runs the query, whose result the next :meth:`open` reads)."""
        columns = self.start().described()
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise EloquaInputError(
                f"the query returns more than one column named {', '.join(map(repr, repeated))}: give each "
                "column a name of its own (SELECT ... AS ...)"
            )
        return columns

    @contextlib.contextmanager
    def open(self) -> Iterator[Iterator[dict[str, Any]]]:
        """The query's rows as dicts, from the first (the query runs again unless :attr:`columns` just ran it)."""
        columns = self.columns
        with self.open_records() as records:
            yield map(dict, map(zip, repeat(columns), records))

    @contextlib.contextmanager
    def open_records(self) -> Iterator[Iterator[tuple]]:
        """The query's rows as tuples of their values in :attr:`columns` order, as :meth:`open` reads them."""
        columns = self.columns
        reader, self._pending = self._pending, None
        assert reader is not None  # set by columns
        try:
            yield self._records(reader, columns)
        finally:
            reader.close()

    def close(self) -> None:
        """Close a run that :attr:`columns` started and no :meth:`open` read."""
        if self._pending is not None:
            self._pending.close()
            self._pending = None

    def _records(self, reader: _Reader, columns: list[str]) -> Iterator[tuple]:
        number = 0
        for batch in reader.batches():
            if batch and not isinstance(batch[0], tuple):  # a dict-row (or other) cursor factory
                batch = [tuple(row.values() if isinstance(row, Mapping) else row) for row in batch]
            batch = _sendable(batch, columns, number, self.time_zone, reader.checked)
            number += len(batch)
            yield from batch
        log.info("Read %d row(s) from the query", number)


def _sendable(
    batch: Sequence[Sequence[Any]],
    columns: list[str],
    before: int,
    zone: _dt.tzinfo,
    checked: Sequence[int] | None = None,
) -> Sequence[Any]:
    """The batch with every value Eloqua's import can read: the value types of the ``checked``
    columns (None: all) are checked at once (no copy of the batch), and only columns holding dates,
    datetimes or UUIDs are converted."""
    if checked is None:
        if set(map(type, chain.from_iterable(batch))) <= _AS_IS:
            return batch
        checked = range(len(columns))
    convert = [index for index in checked if not set(map(type, map(itemgetter(index), batch))) <= _AS_IS]
    if not convert:
        return batch
    values = list(zip(*batch, strict=True))
    for index in convert:
        values[index] = tuple(
            _convert(value, columns[index], before + row, zone) for row, value in enumerate(values[index], 1)
        )
    return list(zip(*values, strict=True))


def _convert(value: Any, column: str, row: int, zone: _dt.tzinfo) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, _dt.datetime) and value.utcoffset() is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    if isinstance(value, _dt.date):
        return eloqua_date_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str | int | float | Decimal):  # subclasses (an enum's, a driver's own)
        return value
    raise EloquaInputError(
        f"column {column!r}, query row {row}: a {type(value).__name__} value cannot be sent to Eloqua; "
        "cast it in the query to text, a number, a boolean or a date/timestamp"
    )


def query_identity(conn_id: str, sql: str, parameters: Any) -> str:
    """What a query's rows are, the same on every try: a digest of the connection id, the rendered
    SQL and its parameters."""
    text = json.dumps([conn_id, sql, parameters], sort_keys=True, default=str)
    return "sql " + hashlib.sha256(text.encode()).hexdigest()[:16]
