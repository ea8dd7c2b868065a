"""Opening input and output files: local paths, or any ObjectStoragePath URL (file://, s3://, gs://, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

from airflow_provider_eloqua.exceptions import EloquaInputError

#: Read-ahead block for object storage. Inputs are read front to back in 1 MiB pieces; s3fs's default
#: 50 MiB read-ahead block costs about three blocks at peak (measured: a 200 MiB CSV read from s3://
#: grew the worker by 145 MiB with it, 27 MiB with this), so memory would not stay flat.
READ_BLOCK_BYTES = 8 * 1024 * 1024

_OUTPUT_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}


def as_path(path: str | Any) -> Any:
    """A pathlib.Path for a local path, an ObjectStoragePath for a URL (or an ObjectStoragePath given)."""
    if not isinstance(path, str):
        return path
    if "://" in path:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(path)
    return Path(path)


@overload
def open_path(path: str | Any, mode: Literal["rb"]) -> BinaryIO: ...
@overload
def open_path(path: str | Any, mode: Literal["w"]) -> TextIO: ...
def open_path(path: str | Any, mode: str) -> IO[Any]:
    """Open a local path or URL: ``"rb"`` to read input bytes, ``"w"`` to write UTF-8 text."""
    target = as_path(path)
    if "w" in mode and isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    if "b" in mode:
        if "r" in mode and not isinstance(target, Path):
            return target.open(mode, block_size=READ_BLOCK_BYTES)
        return target.open(mode)
    return target.open(mode, encoding="utf-8", newline="")


def output_format(path: str | Any, setting: str) -> str:
    """``csv``, ``ndjson`` or ``json`` from an output path's extension; the error names the setting."""
    suffix = Path(str(path)).suffix.lower()
    if suffix not in _OUTPUT_FORMATS:
        raise EloquaInputError(f"{setting} must end in .csv, .ndjson, .jsonl or .json; got {str(path)!r}")
    return _OUTPUT_FORMATS[suffix]


def check_not_a_directory(path: str | Any) -> None:
    """Fail with the provider's input error, naming ``path``, if it is a directory."""
    try:
        is_dir = as_path(path).is_dir()
    except (OSError, ValueError):
        return  # not readable as a path here: the caller's own error says what is wrong
    if is_dir:
        raise EloquaInputError(f"path {str(path)!r} is not a file (a directory?)")


def check_input_path(path: str | Any) -> None:
    """Fail with the provider's input error, naming ``path``, unless it is an existing file.

    Called before anything is created in Eloqua, so that a wrong path leaves nothing behind.
    """
    target = as_path(path)
    try:
        exists, is_file = target.exists(), target.is_file()
    except OSError as exc:
        raise EloquaInputError(f"path {str(path)!r} cannot be read: {exc}") from exc
    if not exists:
        raise EloquaInputError(f"path {str(path)!r} does not exist")
    if not is_file:
        check_not_a_directory(path)
        raise EloquaInputError(f"path {str(path)!r} is not a file")
