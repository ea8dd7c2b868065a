"""The chunk prefetcher: order, at most two chunks alive, errors in order, clean stop."""

from __future__ import annotations

import threading
import time
import weakref

import pytest

from airflow_provider_eloqua.prefetch import prefetched


class Item:
    """A stand-in chunk that counts how many instances of the running test are alive."""

    alive = 0
    most_alive = 0
    #: The running test's: an item an earlier test left for the garbage collector is not counted.
    generation = 0
    lock = threading.Lock()

    def __init__(self, n: int) -> None:
        self.n = n
        with Item.lock:
            Item.alive += 1
            Item.most_alive = max(Item.most_alive, Item.alive)
        weakref.finalize(self, Item._gone, Item.generation)

    @staticmethod
    def _gone(generation: int) -> None:
        with Item.lock:
            if generation == Item.generation:
                Item.alive -= 1


@pytest.fixture(autouse=True)
def _reset():
    with Item.lock:
        Item.generation += 1
        Item.alive = Item.most_alive = 0
    yield
    assert not [t for t in threading.enumerate() if t.name == "eloqua-chunk-prefetch"]


def source(n: int, log: list, fail_at: int | None = None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"bad item {i}")
            yield Item(i)
    finally:
        log.append(("closed", threading.current_thread().name))


def test_yields_every_item_in_order_with_at_most_two_alive():
    log: list = []
    seen = []
    for item in prefetched(source(50, log)):
        if item.n == 0:
            # The producer builds the next item while this one is held (the overlap).
            deadline = time.monotonic() + 60
            while Item.alive < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert Item.alive == 2
        seen.append(item.n)
        del item
    assert seen == list(range(50))
    assert Item.most_alive == 2  # never a third
    assert log and log[0][0] == "closed"


def test_empty_and_single():
    log: list = []
    assert list(prefetched(source(0, log))) == []
    assert [i.n for i in prefetched(source(1, log))] == [0]


def test_error_in_the_first_item_is_raised_in_the_callers_thread():
    log: list = []
    gen = prefetched(source(5, log, fail_at=0))
    with pytest.raises(ValueError, match="bad item 0"):
        next(gen)
    assert log == [("closed", threading.current_thread().name)]


def test_error_in_a_later_item_comes_after_the_items_before_it():
    log: list = []
    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item in prefetched(source(10, log, fail_at=3)):
            seen.append(item.n)
            del item
    assert seen == [0, 1, 2]
    assert [entry[0] for entry in log] == ["closed"]


def test_stopping_early_stops_the_producer_and_closes_the_source():
    log: list = []
    gen = prefetched(source(1000, log))
    first = next(gen)
    second = next(gen)
    assert (first.n, second.n) == (0, 1)
    del first, second
    gen.close()
    assert [entry[0] for entry in log] == ["closed"]
    assert log[0][1] == "eloqua-chunk-prefetch"  # closed in the thread that advanced it
