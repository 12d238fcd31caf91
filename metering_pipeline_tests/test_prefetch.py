"""prefetch: same items in the same order, errors raised in the consumer, an early stop closes the source."""

import threading

import pytest

from metering_pipeline.ingest.prefetch import prefetch


def test_items_arrive_in_order_from_another_thread():
    threads = set()

    def numbers():
        for n in range(1000):
            threads.add(threading.current_thread().name)
            yield n

    assert list(prefetch(numbers(), depth=3)) == list(range(1000))
    assert threads == {"landing-prefetch"}


def test_an_error_in_the_producer_is_raised_in_the_consumer_after_the_items_before_it():
    def failing():
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(failing()):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_closes_the_source_and_joins_the_thread():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="insert failed"):
        for item in prefetch(endless()):
            if item == 5:
                raise RuntimeError("insert failed")
    assert closed.is_set()
    assert threading.active_count() == before
