"""Per-measurement locks, so that DELETE, TRUNCATE and DROP of one measurement run one at a time.

Within a process a thread lock orders the statements. Across gateways
serving the same store, a lease object in the store does
(``_lakegate/leases/measurement/<db>/<m>/``, see gateway/meta/lease.py):
without it, two gateways rewriting the same file would each write a new
version from the old one, and the rows the first one deleted would come
back with the second one's version.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from gateway.clock import system_clock
from gateway.errors import LockNotAvailable
from gateway.meta import lease
from gateway.storage.backend import StorageBackend

#: How long a statement waits for another gateway's change of the same measurement.
LOCK_WAIT = timedelta(minutes=2)
#: Expiry of the lease; the holder renews it every third of this while it works.
LOCK_TTL = timedelta(minutes=2)

_locks: dict[tuple[str, str], threading.Lock] = {}
_registry = threading.Lock()


@contextmanager
def measurement_lock(database: str, measurement: str, backend: StorageBackend) -> Iterator[None]:
    """Hold the lock of ``database.measurement`` (the stored spelling) for the duration of the block.

    Raises LockNotAvailable (55P03) when another gateway holds it for longer
    than ``LOCK_WAIT``.
    """
    with _registry:
        lock = _locks.setdefault((database, measurement), threading.Lock())
    with lock, lease.holding(backend, "measurement", f"{database}/{measurement}", system_clock,
                             wait=LOCK_WAIT, ttl=LOCK_TTL, busy=lambda: _busy(database, measurement)):
        yield


def _busy(database: str, measurement: str) -> LockNotAvailable:
    return LockNotAvailable(
        f'measurement "{database}.{measurement}" is being changed by another gateway',
        detail=f"waited {int(LOCK_WAIT.total_seconds())} seconds for its DELETE, TRUNCATE, DROP or retention run",
        hint="try again when it has finished",
    )
