"""Per-measurement locks, so that DELETE, TRUNCATE and DROP of one measurement run one at a time.

The locks serialise the statements of this process only. Two gateways
serving the same store do not see each other's locks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_locks: dict[tuple[str, str], threading.Lock] = {}
_registry = threading.Lock()


@contextmanager
def measurement_lock(database: str, measurement: str) -> Iterator[None]:
    """Hold the lock of ``database.measurement`` (the stored spelling) for the duration of the block."""
    with _registry:
        lock = _locks.setdefault((database, measurement), threading.Lock())
    with lock:
        yield
