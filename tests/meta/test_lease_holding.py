"""Holding a lease for a block: waiting for it, renewing it, giving it up, and giving up waiting."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import ManualClock, system_clock
from gateway.errors import LockNotAvailable
from gateway.meta import lease
from gateway.storage.local import LocalBackend


def _busy() -> LockNotAvailable:
    return LockNotAvailable("busy")


def test_holding_releases_at_the_end(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    with lease.holding(backend, "measurement", "db/cpu", system_clock, wait=timedelta(seconds=1), busy=_busy):
        assert lease.acquire(backend, "measurement", "db/cpu", system_clock) is None
    again = lease.acquire(backend, "measurement", "db/cpu", system_clock)
    assert again is not None
    assert again.path.endswith("/000000000002.json")


def test_holding_gives_up_after_the_wait(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    assert lease.acquire(backend, "measurement", "db/cpu", system_clock) is not None
    started = time.monotonic()
    with pytest.raises(LockNotAvailable), lease.holding(backend, "measurement", "db/cpu", system_clock,
                                                        wait=timedelta(seconds=0.3), busy=_busy):
        pytest.fail("the block ran without the lease")
    assert 0.3 <= time.monotonic() - started < 5


def test_holding_waits_for_a_release(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    first = lease.acquire(backend, "measurement", "db/cpu", system_clock)
    assert first is not None
    threading.Timer(0.3, lambda: first.release(system_clock())).start()
    with lease.holding(backend, "measurement", "db/cpu", system_clock, wait=timedelta(seconds=10), busy=_busy) as held:
        assert held.path.endswith("/000000000002.json")


def test_holding_renews_a_long_block(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    ttl = timedelta(seconds=0.3)
    with lease.holding(backend, "measurement", "db/cpu", clock, wait=timedelta(seconds=1), ttl=ttl,
                       busy=_busy) as held:
        first_expiry = held.expires
        clock.advance(timedelta(seconds=10))
        deadline = time.monotonic() + 10
        while held.expires != clock() + ttl and time.monotonic() < deadline:
            time.sleep(0.05)  # the renewal runs every ttl / 3
        assert held.expires == clock() + ttl > first_expiry
        assert lease.acquire(backend, "measurement", "db/cpu", clock) is None


def test_lease_names_are_checked(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    with pytest.raises(Exception) as caught:
        lease.acquire(backend, "measurement", "db/../cpu", system_clock)
    assert getattr(caught.value, "sqlstate", None) == "42602"
    assert backend.list("") == []


def test_lease_of_dead_predecessor_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LocalBackend(tmp_path)
    monkeypatch.setattr(lease, "_instance", "vm:/var/lib/lakegate/wal")
    crashed = lease.acquire(backend, "measurement", "db/cpu", system_clock, holder="vm:/var/lib/lakegate/wal#0dead000")
    other = lease.acquire(backend, "measurement", "db/mem", system_clock, holder="vm:/other/wal#12345678")
    assert crashed is not None and other is not None

    taken = lease.acquire(backend, "measurement", "db/cpu", system_clock)
    assert taken is not None
    assert taken.holder == lease.holder_name() != crashed.holder
    assert lease.acquire(backend, "measurement", "db/mem", system_clock) is None  # another instance's
    assert lease.acquire(backend, "measurement", "db/cpu", system_clock) is None  # now this process's own
