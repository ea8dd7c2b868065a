"""Writing exported rows to a file that appears whole at its path, or not at all.

Pages of rows are streamed into a file nobody reads, and only a finished file takes the name a
downstream task reads:

* a local path (or a ``file://`` URL) is written to a hidden file beside it,
  ``.<name>.<key>.part``, flushed to disk, then renamed over the path (``os.replace``: atomic on
  one filesystem). A failed try deletes it; a killed worker leaves it beside the path, never at it,
  and the retry (same key) writes over it.
* an object store is written with the filesystem's uncommitted upload (``autocommit=False``: S3's
  multipart upload is completed on commit and aborted on failure), so the object appears at the
  path only when complete. A store that has no uncommitted upload gets a hidden object beside the
  path, moved onto it once complete.

CSV files start with a header of the field labels (the export definition's ``fields`` keys, in
order); NDJSON files hold one JSON object per row with the same keys, and JSON files one array of
those objects (``[]`` when there are none), as the import reads a ``.json`` file. A value Eloqua
sends as null is an empty CSV field and a JSON null.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec

from airflow_provider_eloqua.export.spec import OutputSpec
from airflow_provider_eloqua.storage import as_path

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode


def _local(target: Any) -> Path | None:
    """The local path ``target`` names (a Path, or a ``file://`` ObjectStoragePath), else None."""
    if isinstance(target, Path):
        return target
    if getattr(target, "protocol", None) in ("file", "local"):
        return Path(target.path)
    return None


class ExportFile:
    """One output file, written page by page and committed at the end (see the module docstring).

    :param output: the path and format.
    :param labels: the column labels, in order (the CSV header, the NDJSON keys).
    :param key: names the hidden file; a retry of the same task passes the same key, so that it
        writes over what a killed try left.

    Use as a context manager: leaving the block with an exception discards what was written;
    :meth:`commit` makes the file appear at the path.
    """

    def __init__(self, output: OutputSpec, labels: Sequence[str], key: str | None = None) -> None:
        self.output = output
        self.labels = tuple(labels)
        self._labels_set = set(self.labels)
        #: One item's values in label order, as a tuple (a one-label export too).
        self._row = itemgetter(*self.labels) if len(self.labels) > 1 else (lambda item: (item[self.labels[0]],))
        self.key = key or uuid.uuid4().hex[:12]
        self.rows = 0
        self.bytes = 0
        self._target = as_path(output.path)
        self._handle: Any = None
        self._part: Any = None  # the hidden file or object beside the path (None: an uncommitted upload)
        self._committed = False

    # ------------------------------------------------------------------ opening

    def __enter__(self) -> ExportFile:
        self.open()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if not self._committed:
            self.discard()

    @property
    def path(self) -> str:
        """The final path, as given (its URL for object storage)."""
        return str(self.output.path)

    def _part_name(self) -> str:
        return f".{self._target.name}.{self.key}.part"

    def open(self) -> None:
        local = _local(self._target)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            self._part = local.with_name(self._part_name())
            self._handle = open(self._part, "wb")  # noqa: SIM115 - closed by commit or discard
        else:
            fs, key = self._target.fs, self._target.path
            try:
                self._handle = fs.open(key, "wb", autocommit=False)
            except (NotImplementedError, TypeError, ValueError):
                self._part = self._target.parent / self._part_name()
                log.info("%s has no uncommitted upload; writing %s first", fs.protocol, self._part)
                self._handle = self._part.open("wb")
        if self.output.format == "csv":
            self._write(self._csv_text([self.labels]))
        elif self.output.format == "json":
            self._write(b"[")

    # ------------------------------------------------------------------ writing

    def _write(self, data: bytes) -> None:
        self._handle.write(data)
        self.bytes += len(data)

    def _csv_text(self, rows: Iterable[Sequence[Any]]) -> bytes:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(rows)
        return text.getvalue().encode("utf-8")

    def write_rows(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Append one page of rows (Eloqua's ``items``, keyed by the field labels).

        A page whose every item has exactly the labels (what Eloqua sends) is written by C-level
        loops (``itemgetter`` for CSV, one ``msgspec`` encode per item for JSON); any other page
        is written item by item, a missing label as an empty value.
        """
        if not items:
            return
        whole = self._labels_set == set(items[0]) and all(len(item) == len(self.labels) for item in items)
        if self.output.format == "csv":
            rows = map(self._row, items) if whole else ([item.get(label) for label in self.labels] for item in items)
            data = self._csv_text(rows)  # csv writes None as an empty field
        else:
            labels = self.labels
            objects = map(_encode, items) if whole else (_encode({k: item.get(k) for k in labels}) for item in items)
            if self.output.format == "json":  # ``[`` is written; objects are separated by commas
                data = (b",\n" if self.rows else b"\n") + b",\n".join(objects)
            else:
                data = b"\n".join(objects) + b"\n"
        self._write(data)
        self.rows += len(items)

    # ------------------------------------------------------------------ ending

    def commit(self) -> None:
        """Make the file appear at the path, whole."""
        if self.output.format == "json":
            self._write(b"\n]\n" if self.rows else b"]\n")
        handle = self._handle
        local = _local(self._target)
        if local is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(self._part, local)
        elif self._part is None:
            handle.close()
            handle.commit()
        else:
            handle.close()
            self._target.fs.mv(self._part.path, self._target.path)
        self._handle = None
        self._committed = True
        log.info("Wrote %d row(s), %d bytes, to %s", self.rows, self.bytes, self.path)

    def discard(self) -> None:
        """Forget what was written (best effort): nothing appears at the path."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            if self._part is None and _local(self._target) is None:
                handle.discard()
            else:
                handle.close()
                if isinstance(self._part, Path):
                    self._part.unlink(missing_ok=True)
                else:
                    self._part.unlink()
        except Exception as exc:  # the task is failing already: report the cause, not the clean-up
            log.warning("Could not remove the unfinished output %s: %s", self._part or self.path, exc)
