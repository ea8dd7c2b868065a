"""What makes two tries of a task the same load: the same input, and the same definition to stage into.

A later try resumes what an earlier one did (reattaches to its sync, skips its batches, reuses its
load definition) only when both are the same; anything else is a new load (see
:meth:`airflow_provider_eloqua.load.engine.Load.run`). The input is identified by a SHA-256 of rows
given as ``data`` or of a local file, by a query's own ``identity``, and by the path, size and version
the store reports for an object in object storage; the definition by its
:class:`~airflow_provider_eloqua.load.load_definition.Blueprint` version. Why each, and what it costs:
docs/retries-and-clears.md, "A later try resumes only the same load".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.spec import InputSpec
from airflow_provider_eloqua.storage import as_path, check_input_path, open_path

_READ_BYTES = 1024 * 1024
#: What an object store reports about an object that changes when the object is rewritten.
VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "VersionId", "version_id", "LastModified", "last_modified")
#: ... and, where it reports none of those, its modification time.
TIME_KEYS = ("mtime", "updated", "modified", "created")


def digest(value: str | bytes) -> str:
    """16 hex digits of a SHA-256: enough to tell versions apart, short enough to log."""
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).hexdigest()[:16]


@dataclass(frozen=True)
class LoadIdentity:
    """One load: its input and the definition it stages into, each as a short text that is logged.

    :param input: see :func:`input_fingerprint`.
    :param definition: the blueprint's version (what the load definition is made from).
    :param definition_name: what the definition is made from, for the log ("the template ...").
    """

    input: str
    definition: str
    definition_name: str = "the definition arguments"

    @property
    def key(self) -> str:
        """One short key of both: what the checkpoint's batches and load definition belong to."""
        return digest(f"{self.input}\x1f{self.definition}")

    def to_json(self) -> dict[str, str]:
        return {"input": self.input, "definition": self.definition, "definition_name": self.definition_name}

    @classmethod
    def from_json(cls, value: Any) -> LoadIdentity | None:
        if not isinstance(value, Mapping) or not {"input", "definition"} <= set(value):
            return None
        return cls(str(value["input"]), str(value["definition"]), str(value.get("definition_name") or ""))

    def same_as(self, other: LoadIdentity | None) -> bool:
        return other is not None and (self.input, self.definition) == (other.input, other.definition)

    def change_since(self, earlier: LoadIdentity) -> str:
        """Why ``earlier`` is another load, in words: what changed, from what to what."""
        changes = []
        if earlier.input != self.input:
            changes.append(f"the input changed ({earlier.input}; now {self.input})")
        if earlier.definition != self.definition:
            changes.append(f"{self.definition_name} changed ({earlier.definition}; now {self.definition})")
        return " and ".join(changes)


def input_fingerprint(source: InputSpec) -> str:
    """What identifies ``source`` across tries (see the module docstring for each kind of input).

    A path that does not exist fails here, naming it, before anything is sent to Eloqua.
    """
    if source.rows is not None:
        return f"rows of {source.rows.identity}"
    if source.data is not None:
        encoded = msgspec.json.encode(list(source.data), enc_hook=str)
        return f"{len(source.data)} rows, sha256 {digest(encoded)}"
    assert source.path is not None  # InputSpec: exactly one input
    check_input_path(source.path)
    target = as_path(source.path)
    if isinstance(target, Path) or getattr(target, "protocol", None) in ("file", "local"):
        sha, size = hashlib.sha256(), 0
        with open_path(target, "rb") as stream:
            while block := stream.read(_READ_BYTES):
                sha.update(block)
                size += len(block)
        return f"{source.format} file of {size} bytes, sha256 {sha.hexdigest()[:16]}"
    try:
        info = dict(target.fs.info(target.path))
    except OSError as exc:
        raise EloquaInputError(f"path {str(source.path)!r} cannot be read: {exc}") from exc
    version = {key: str(info[key]) for key in VERSION_KEYS if info.get(key) is not None}
    if not version:
        version = {key: str(info[key]) for key in TIME_KEYS if info.get(key) is not None}
    described = json.dumps({"path": str(source.path), **version}, sort_keys=True)
    return f"{source.format} object of {info.get('size')} bytes, version {digest(described)}"
