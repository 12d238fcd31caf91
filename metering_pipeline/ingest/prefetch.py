"""Run a generator one step ahead in a thread, so reading the next chunk overlaps inserting this one.

Reading a landed file (I/O, gzip, numpy's line scan) and the engine's insert of the previous
chunk both release the GIL, so on two cores they overlap. The queue holds `depth` items, which
bounds the memory added to `depth` chunks. If the consumer stops early (an insert failed), the
producer is told to stop, closes its generator (and with it the open file) and is joined.
"""

import queue
import threading

_POLL_SECONDS = 0.1
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items, depth: int = 1):
    """Yield what the generator `items` yields, produced in a background thread `depth` items ahead."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            offer(_Failed(error))
        finally:
            items.close()

    worker = threading.Thread(target=produce, name="landing-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
