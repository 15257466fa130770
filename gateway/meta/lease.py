"""Leases with expiry, so that one gateway at a time runs a given job.

A lease is a numbered series of objects under
``_lakegate/leases/<kind>/<name>/``. To take it, a gateway lists the series.
If the newest object has not expired, someone holds the lease. Otherwise the
gateway creates the next number with the store's create-if-absent write.
Exactly one of several gateways racing for the same number succeeds, so no
conditional delete is needed. The winner removes the older numbers. The
newest object is never removed, so numbers only grow and a gateway that
listed long ago cannot reuse one: releasing rewrites the holder's own object
as expired. A gateway that dies holding a lease blocks the job only until
the expiry.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock
from gateway.storage.backend import StorageBackend
from gateway.storage.layout import METADATA_PREFIX, validate_name

logger = logging.getLogger(__name__)

LEASE_PREFIX = f"{METADATA_PREFIX}/leases/"
DEFAULT_TTL = timedelta(minutes=15)


#: This process's gateway instance (see ``set_instance``), or None.
_instance: str | None = None
#: Tells this process apart from earlier processes of the same instance.
_incarnation = secrets.token_hex(4)


def set_instance(instance: str) -> None:
    """Name the gateway instance this process is: a name only one live process can have at a time.

    The runtime passes its host and write-ahead log directory, which a lock
    file keeps to one process. A lease of the same instance from an earlier
    process is therefore abandoned, because that process would otherwise
    still hold the log. It is taken over at once instead of after its
    expiry, so a gateway restarted after a crash does not wait for itself.
    """
    global _instance
    _instance = instance


def holder_name() -> str:
    """Name this process in lease objects: its instance (or host and process id) and incarnation."""
    return f"{_instance or f'{socket.gethostname()}:{os.getpid()}'}#{_incarnation}"


def _abandoned(holder: str) -> bool:
    """Tell whether ``holder`` is an earlier process of this gateway instance."""
    instance, _, incarnation = holder.rpartition("#")
    return _instance is not None and instance == _instance and incarnation != _incarnation


@dataclass
class Lease:
    """A lease held by this process until ``expires`` or ``release``."""

    backend: StorageBackend
    path: str
    holder: str
    expires: datetime

    def renew(self, now: datetime, ttl: timedelta = DEFAULT_TTL) -> None:
        """Push the expiry to ``now + ttl``; only the holder writes its own object."""
        expires = now + ttl
        self.backend.write(self.path, _encode(self.holder, expires))
        self.expires = expires

    def release(self, now: datetime) -> None:
        """Give the lease up at once by marking it expired at ``now``."""
        self.expires = now
        self.backend.write(self.path, _encode(self.holder, now))


def acquire(backend: StorageBackend, kind: str, name: str, clock: Clock, *,
            holder: str | None = None, ttl: timedelta = DEFAULT_TTL) -> Lease | None:
    """Take the lease on ``kind/name``; return None while another holder's lease is live.

    ``name`` may have several ``/``-separated parts, each a valid name.
    """
    parts = "/".join(validate_name(part) for part in name.split("/"))
    prefix = f"{LEASE_PREFIX}{validate_name(kind, 'lease kind')}/{parts}/"
    holder = holder or holder_name()
    existing = sorted(path for path in backend.list(prefix) if path.endswith(".json"))
    number = 1
    if existing:
        newest = existing[-1]
        if _is_live(backend, newest, clock()):
            return None
        number = _number(prefix, newest) + 1

    expires = clock() + ttl
    path = f"{prefix}{number:012d}.json"
    if not backend.create(path, _encode(holder, expires)):
        return None  # another gateway took this number first
    stale = [old for old in existing if old != path]
    if stale:
        backend.delete_batch(stale)
    return Lease(backend, path, holder, expires)


def _is_live(backend: StorageBackend, path: str, now: datetime) -> bool:
    try:
        document = json.loads(backend.read(path))
        expires = datetime.fromisoformat(document["expires"])
        holder = str(document.get("holder", ""))
    except FileNotFoundError:
        return False  # released between the listing and the read
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("lease object %s is unreadable; treating it as expired", path)
        return False
    if expires > now and _abandoned(holder):
        logger.info("taking over lease %s from %s, an earlier process of this gateway", path, holder)
        return False
    return expires > now


def _number(prefix: str, path: str) -> int:
    try:
        return int(path[len(prefix):-len(".json")])
    except ValueError:
        return 0


def _encode(holder: str, expires: datetime) -> bytes:
    return json.dumps({"holder": holder, "expires": expires.isoformat()}).encode()


@contextmanager
def holding(backend: StorageBackend, kind: str, name: str, clock: Clock, *, wait: timedelta,
            ttl: timedelta = DEFAULT_TTL, busy: Callable[[], Exception]) -> Iterator[Lease]:
    """Hold the lease on ``kind/name`` for the block, waiting up to ``wait`` for it.

    While the block runs, a daemon thread renews the lease every third of
    ``ttl``, so a long block keeps it. If the lease stays taken for
    ``wait``, the exception ``busy()`` returns is raised.
    """
    held = _wait_for(backend, kind, name, clock, wait, ttl)
    if held is None:
        raise busy()
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl.total_seconds() / 3):
            try:
                held.renew(clock(), ttl)
            except Exception as error:  # noqa: BLE001 (the next renewal retries; the expiry is the limit)
                logger.warning("renewing lease %s failed: %s", held.path, error)

    renewer = threading.Thread(target=renew, name=f"lease-{kind}", daemon=True)
    renewer.start()
    try:
        yield held
    finally:
        stop.set()
        renewer.join()
        held.release(clock())


def _wait_for(backend: StorageBackend, kind: str, name: str, clock: Clock, wait: timedelta,
              ttl: timedelta) -> Lease | None:
    deadline = time.monotonic() + wait.total_seconds()
    delay = 0.02
    while True:
        held = acquire(backend, kind, name, clock, ttl=ttl)
        if held is not None or time.monotonic() >= deadline:
            return held
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 1.0)
