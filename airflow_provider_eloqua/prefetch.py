"""Build the next chunk while the current one is on the wire, with at most two chunks in memory.

An upload alternates two waits: building a chunk (reading, validating and encoding the input:
CPU) and sending it (the network: the link's bandwidth and Eloqua's round trip). Done one after
the other the two add up; done side by side the upload takes about as long as the slower of the
two. :func:`prefetched` runs the chunk iterator in one producer thread, one chunk ahead of the
caller. The HTTP send releases the GIL while it waits on the socket, so the two overlap.

Memory stays flat: the producer may only start chunk ``n + 1`` once the caller holds chunk
``n``, and chunk ``n + 2`` only once the caller is done with chunk ``n``, so at most two chunks
are alive at any time (the one being sent, the one being built), whatever the input's size.

The first chunk is built in the caller's thread, so opening the input (and any error in it)
happens where it would without prefetching. An error in a later chunk is raised in the
caller's thread when it asks for that chunk, in input order: a bad row still stops the upload
before the chunk holding it is sent.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
#: How often a blocked producer checks whether the caller has gone away (seconds).
_POLL = 0.1


def prefetched(items: Iterator[T], *, sends: bool = False) -> Generator[T, None, None]:
    """Yield ``items`` in order, producing item ``n + 1`` in a thread while the caller uses item ``n``.

    The caller must be done with an item (have dropped it) when it asks for the next one. When
    the caller stops early (an exception, or closing this generator) the producer is stopped,
    ``items`` is closed in the producer's thread and the thread is joined before this returns.

    :param items: the chunk iterator; it is advanced from one thread at a time, never two.
    :param sends: the caller sends each item over the network. Before each build the producer then
        leaves it the GIL for one switch interval, in which its request gets onto the socket; else the
        caller waits up to a switch interval each time it takes the GIL back (20 to 50 ms before a
        first data POST, measured).
    """
    try:
        first = next(items)
    except StopIteration:
        return
    permits = threading.Semaphore(1)  # chunks the producer may build before the caller is done with one
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                while not permits.acquire(timeout=_POLL):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                if sends:
                    time.sleep(sys.getswitchinterval())  # the caller has just taken an item to send it
                try:
                    item = next(items)
                except StopIteration:
                    _put(ready, (_DONE, None), stop)
                    return
                if not _put(ready, (item, None), stop):
                    return
                del item
        except BaseException as exc:  # handed to the caller's thread, raised there
            _put(ready, (None, exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="eloqua-chunk-prefetch", daemon=True)
    thread.start()
    try:
        item = first
        del first
        while True:
            yield item
            del item  # the caller is done with it: let it go before the next one is built
            permits.release()
            got, exc = ready.get()
            if exc is not None:
                raise exc
            if got is _DONE:
                return
            item = got
            del got
    finally:
        stop.set()
        permits.release()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get_nowait()  # unblock a producer waiting to hand over a chunk
            thread.join(_POLL)


def _put(ready: queue.Queue, entry: tuple, stop: threading.Event) -> bool:
    """Hand ``entry`` to the caller; False if the caller went away first."""
    while True:
        try:
            ready.put(entry, timeout=_POLL)
            return True
        except queue.Full:
            if stop.is_set():
                return False
