"""Reading input blocks and building POST bodies: the buffer helper every parser shares."""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

from airflow_provider_eloqua.exceptions import EloquaInputError

BOM = codecs.BOM_UTF8
#: Bytes read from a file at a time. Big enough that per-block Python work is negligible, small
#: enough that a block's validation passes stay in the CPU cache.
READ_BYTES = 1 << 20

#: The first chunk of an input is cut at this size (or ``chunk_bytes``, if smaller). Nothing can
#: be sent before the first chunk is whole, so a small first chunk starts the upload early; the
#: chunks after it are built while the one before is sent (``prefetch``), so they can be full
#: (CSV files) or ramp up to full (rows: :func:`ramped_chunk_limit`). It costs one more POST
#: (one round trip) per input. A record bigger than this still goes in
#: the first chunk, whole, up to ``chunk_bytes``.
FIRST_CHUNK_BYTES = 4 * 1024 * 1024
#: The version of the rules that decide where chunks end (the first chunk's size above, the
#: ramp of row chunks, and which rows go as CSV or JSON). Bump it with any change that moves a
#: chunk boundary: a batched load resumed by a retry under other rules would skip or repeat
#: rows, so it is refused instead.
CUT_RULES_VERSION = 3


def first_chunk_limit(chunk_bytes: int) -> int:
    """Where the first chunk of an input is cut: see :data:`FIRST_CHUNK_BYTES`."""
    return min(chunk_bytes, FIRST_CHUNK_BYTES)


def ramped_chunk_limit(limit: int, chunk_bytes: int) -> int:
    """Where the chunk after one cut at ``limit`` is cut, for rows (JSON inputs): twice as far,
    up to ``chunk_bytes`` (4, 8, 16, then 30 MiB by default).

    Rows cost about ten times the CPU per byte of CSV text (parsing, checking, encoding), so a
    full chunk of rows takes longer to build than the 4 MiB first chunk takes to send, and the
    link would wait for it. Each chunk twice the size of the one before can be built while that
    one is sent as long as rows are built at least twice as fast as the link carries them
    (measured in ``benchmarks/``). CSV files are cheap enough to go 4 MiB, then full chunks.
    """
    return min(chunk_bytes, 2 * limit)


class BinaryReader:
    """Wraps ``stream.read`` with the checks every reader needs (binary mode, offsets)."""

    __slots__ = ("offset", "read", "stream")

    def __init__(self, stream: BinaryIO) -> None:
        read = getattr(stream, "read", None)
        if read is None:
            raise EloquaInputError(f"stream must be a binary file object, got {type(stream).__name__}")
        self.stream = stream
        self.read = read
        self.offset = 0

    def block(self, size: int | None = None) -> bytes:
        data = self.read(size or READ_BYTES)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EloquaInputError(
                f"stream must be opened in binary mode ('rb'): read() returned {type(data).__name__}"
            )
        if not isinstance(data, bytes):
            data = bytes(data)
        self.offset += len(data)
        return data

    def remaining(self) -> int | None:
        """Bytes left to read, if the stream can tell cheaply (a seekable file); else None."""
        try:
            if not self.stream.seekable():
                return None
            here = self.stream.tell()
            end = self.stream.seek(0, io.SEEK_END)
            self.stream.seek(here)
        except (AttributeError, OSError, ValueError):
            return None
        return max(end - here, 0) if isinstance(end, int) else None


class Body:
    """A POST body written in place and handed over as ``bytes`` without a final copy.

    The buffer is a ``BytesIO``; ``getvalue`` then returns its buffer itself. So a chunk being
    built costs about one chunk of memory, where collecting parts and joining them would briefly
    cost two. With an ``expected`` size (known for a CSV file: the bytes left in it) the buffer
    is sized once up front and written through a memoryview; without one, writes append and
    ``BytesIO`` grows the buffer in place (by an eighth at a time, touching only what is
    written), since sizing for a whole chunk that turns out short would touch memory never used.
    Nothing is allocated before the first write after ``prefix`` (a CSV header), so an empty
    next chunk costs nothing.
    """

    __slots__ = ("_bio", "_cap", "_expected", "_limit", "_prefix", "_view", "size")

    def __init__(self, limit: int, expected: int | None = None, prefix: bytes = b"") -> None:
        self._bio: io.BytesIO | None = None
        self._view: memoryview | None = None
        self._limit = limit
        self._expected = expected
        self._prefix = prefix
        self._cap = 0
        self.size = len(prefix)

    def _reserve(self, bio: io.BytesIO, cap: int) -> memoryview:
        if self._view is not None:
            self._view.release()
        bio.seek(cap - 1)
        bio.write(b"\0")
        self._view = view = bio.getbuffer()
        self._cap = cap
        return view

    def write(self, data: bytes | memoryview) -> None:
        end = self.size + len(data)
        bio, view = self._bio, self._view
        if self._expected is None:
            if bio is None:
                self._bio = bio = io.BytesIO()
                bio.write(self._prefix)
            bio.write(data)
            self.size = end
            return
        if bio is None:
            self._bio = bio = io.BytesIO()
            view = self._reserve(bio, max(min(self._limit, self._expected), end))
            view[: len(self._prefix)] = self._prefix
        elif view is None or end > self._cap:
            view = self._reserve(bio, max(end, min(self._limit, 2 * self._cap)))
        view[self.size : end] = data
        self.size = end

    def take(self) -> bytes:
        if self._bio is None:
            return self._prefix
        if self._view is not None:
            self._view.release()
            self._view = None
            self._bio.truncate(self.size)
        data = self._bio.getvalue()
        self._bio = None
        return data
