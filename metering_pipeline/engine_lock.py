"""One process at a time per chDB directory: a polite, bounded, reentrant file lock.

chDB refuses a second process on the same directory with an opaque error. This lock
sits beside the directory, records who holds it, lets the holder re-enter (nested
steps in one process), and makes everyone else wait up to a limit, then fail with a
message that names the holder.
"""

import fcntl
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class EngineBusyError(RuntimeError):
    """The embedded ClickHouse directory stayed locked by another process past the wait limit."""


_held: dict[str, list] = {}
_guard = threading.RLock()


def lock_path_for(directory: str | Path) -> Path:
    directory = Path(directory)
    return directory.with_name(directory.name + ".lock")


def _describe_holder(handle) -> str:
    try:
        handle.seek(0)
        holder = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    if not holder:
        return "an unknown process"
    return f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('purpose')}, since {holder.get('since')})"


@contextmanager
def engine_lock(directory: str | Path, timeout_seconds: float = 600.0, purpose: str = "metering-pipeline"):
    path = lock_path_for(directory)
    key = str(path.resolve())
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key][1] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    deadline = time.monotonic() + timeout_seconds
    delay = 0.05
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EngineBusyError(
                        f"embedded ClickHouse at {directory} is held by {_describe_holder(handle)}; "
                        f"gave up after waiting {timeout_seconds:g}s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        handle.seek(0)
        handle.truncate()
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": purpose,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        handle.write(json.dumps(holder))
        handle.flush()
        with _guard:
            _held[key] = [handle, 1]
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
