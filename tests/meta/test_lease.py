"""Leases on a real local store, S3 (moto, with a key prefix) and Azure (Azurite), with a ManualClock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from gateway.clock import ManualClock
from gateway.errors import InvalidName
from gateway.meta.lease import LEASE_PREFIX, Lease, acquire
from gateway.storage.backend import StorageBackend
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)
PREFIX = f"{LEASE_PREFIX}retention/nightly/"


@pytest.fixture(params=["local", "s3", "azure"])
def backend(request: pytest.FixtureRequest) -> StorageBackend:
    target: StorageTarget = request.getfixturevalue(f"{request.param}_storage_url")
    return open_backend(target.url, target.settings)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _take(backend: StorageBackend, clock: ManualClock, holder: str) -> Lease | None:
    return acquire(backend, "retention", "nightly", clock, holder=holder, ttl=TTL)


def _stored(backend: StorageBackend, path: str) -> dict[str, str]:
    document: dict[str, str] = json.loads(backend.read(path))
    return document


def test_acquire_stores_holder_and_expiry(backend: StorageBackend, clock: ManualClock) -> None:
    lease = _take(backend, clock, "gateway-a")

    assert lease is not None
    assert lease.holder == "gateway-a"
    assert lease.expires == START + TTL
    assert backend.list(PREFIX) == [f"{PREFIX}000000000001.json"]
    assert _stored(backend, lease.path) == {"holder": "gateway-a", "expires": (START + TTL).isoformat()}


def test_live_lease_blocks_others(backend: StorageBackend, clock: ManualClock) -> None:
    assert _take(backend, clock, "gateway-a") is not None
    clock.advance(TTL - timedelta(seconds=1))

    assert _take(backend, clock, "gateway-b") is None
    assert _take(backend, clock, "gateway-a") is None  # the same holder does not take it twice either
    assert backend.list(PREFIX) == [f"{PREFIX}000000000001.json"]


def test_expired_lease_is_taken_over(backend: StorageBackend, clock: ManualClock) -> None:
    assert _take(backend, clock, "gateway-a") is not None
    clock.advance(TTL)

    lease = _take(backend, clock, "gateway-b")

    assert lease is not None
    assert lease.holder == "gateway-b"
    assert backend.list(PREFIX) == [f"{PREFIX}000000000002.json"]


def test_renew_extends_expiry(backend: StorageBackend, clock: ManualClock) -> None:
    lease = _take(backend, clock, "gateway-a")
    assert lease is not None
    clock.advance(timedelta(minutes=8))

    lease.renew(clock(), TTL)
    clock.advance(timedelta(minutes=8))

    assert lease.expires == START + timedelta(minutes=18)
    assert _stored(backend, lease.path)["expires"] == (START + timedelta(minutes=18)).isoformat()
    assert _take(backend, clock, "gateway-b") is None
    clock.advance(timedelta(minutes=2))
    assert _take(backend, clock, "gateway-b") is not None


def test_release_frees_at_once(backend: StorageBackend, clock: ManualClock) -> None:
    lease = _take(backend, clock, "gateway-a")
    assert lease is not None

    lease.release(clock())

    assert _stored(backend, lease.path)["expires"] == START.isoformat()
    second = _take(backend, clock, "gateway-b")
    assert second is not None
    assert second.path == f"{PREFIX}000000000002.json"
    assert backend.list(PREFIX) == [second.path]


def test_racing_threads_one_wins(backend: StorageBackend, clock: ManualClock) -> None:
    contenders = 6
    barrier = threading.Barrier(contenders)
    results: dict[str, Lease | None] = {}

    def contend(holder: str) -> None:
        barrier.wait()
        results[holder] = _take(backend, clock, holder)

    threads = [threading.Thread(target=contend, args=(f"gateway-{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [holder for holder, lease in results.items() if lease is not None]
    assert len(results) == contenders
    assert len(winners) == 1
    assert backend.list(PREFIX) == [f"{PREFIX}000000000001.json"]
    assert _stored(backend, f"{PREFIX}000000000001.json")["holder"] == winners[0]


def test_racing_after_expiry_one_wins(backend: StorageBackend, clock: ManualClock) -> None:
    assert _take(backend, clock, "old-holder") is not None
    clock.advance(TTL + timedelta(seconds=1))
    contenders = 4
    barrier = threading.Barrier(contenders)
    won: list[str] = []

    def contend(holder: str) -> None:
        barrier.wait()
        if _take(backend, clock, holder) is not None:
            won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"gateway-{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert _stored(backend, f"{PREFIX}000000000002.json")["holder"] == won[0]


def test_invalid_lease_name_rejected(backend: StorageBackend, clock: ManualClock) -> None:
    with pytest.raises(InvalidName) as excinfo:
        acquire(backend, "retention", "../escape", clock)

    assert excinfo.value.sqlstate == "42602"
    assert backend.list(LEASE_PREFIX) == []
