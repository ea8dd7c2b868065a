"""The rows an upload operator's ``data`` argument holds, as Airflow stores and shows them: a summary.

``data`` is a template field, so Airflow walks its value through the secrets masker and its
rendered-fields serializer, and keeps the result in the ``rendered_task_instance_fields`` table
(and, for a literal list, in the serialized DAG). For rows that is a walk over every row before
the task starts (seconds per 100k rows) and a table holding the first rows of customer data.
Both of Airflow's serializers use an object's own ``serialize()`` before walking it, so the
operators keep ``data`` as a :class:`DataRows`: the rows themselves for the task, a row count
and column names for Airflow's table and the UI's rendered-template view.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload


class DataRows(Sequence[Mapping[str, Any]]):
    """A read-only view of a sequence of rows whose ``serialize()``, ``str`` and ``repr`` are a
    summary: how many rows, and the first row's column names. Never a value of any row."""

    __slots__ = ("rows",)

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = rows

    @classmethod
    def of(cls, value: Any) -> Any:
        """``value`` as :class:`DataRows` when it is a sequence of rows; anything else as it is
        (``None``, an XComArg or a Jinja string to render, or a value the input checks refuse)."""
        if isinstance(value, DataRows) or not isinstance(value, Sequence) or isinstance(value, str | bytes):
            return value
        return cls(value)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        return self.rows[index]

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows)

    def __eq__(self, other: object) -> bool:
        return self.rows == (other.rows if isinstance(other, DataRows) else other)

    __hash__ = None  # type: ignore[assignment]  # as the list it holds

    def serialize(self) -> str:
        """What Airflow stores for the rendered ``data`` field and shows in the UI."""
        count = len(self.rows)
        first = self.rows[0] if count else None
        columns = ", ".join(map(str, first)) if isinstance(first, Mapping) else ""
        noun = "row" if count == 1 else "rows"
        return f"{count:,} {noun}" + (f"; columns of the first row: {columns}" if columns else "")

    def __repr__(self) -> str:
        return f"<DataRows: {self.serialize()}>"

    __str__ = __repr__
