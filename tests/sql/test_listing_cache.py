"""The listing cache on a real local directory and a real moto S3 bucket: when a listing is reused, when not."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.engine import Engine
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.sql.listing_cache import ListingCache
from gateway.sql.measurements import Measurements
from gateway.sql.time_bounds import TimeRange
from gateway.storage.backend import ObjectInfo
from gateway.storage.local import LocalBackend
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget

PREFIX = "db/cpu/"
FIRST = "db/cpu/2024/01/01/00/a.parquet"


class CountingLister:
    """Lists a backend's objects and counts how often it had to."""

    def __init__(self, backend: object) -> None:
        self.backend = backend
        self.calls = 0

    def __call__(self) -> list[ObjectInfo]:
        self.calls += 1
        return self.backend.list_objects(PREFIX)  # type: ignore[attr-defined,no-any-return]


def age_directories(root: Path, seconds: float = 60.0) -> None:
    """Set every directory's modification time into the past, as if nothing had changed for a while."""
    past = time.time() - seconds
    for directory, _, _ in os.walk(root):
        os.utime(directory, (past, past))


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(tmp_path)
    backend.write(FIRST, b"one")
    age_directories(tmp_path)
    return backend


def test_local_listing_is_reused(local: LocalBackend) -> None:
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST]
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST]
    assert lister.calls == 1


def test_local_file_from_another_writer(local: LocalBackend) -> None:
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    cache.objects(PREFIX, lister)
    # Written around the backend object, as another process would, so only the directory's time changes.
    (local.root / "db/cpu/2024/01/01/00/b.parquet").write_bytes(b"two")
    paths = [info.path for info in cache.objects(PREFIX, lister)]
    assert paths == [FIRST, "db/cpu/2024/01/01/00/b.parquet"]
    assert lister.calls == 2


def test_local_new_hour_from_another_writer(local: LocalBackend) -> None:
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    cache.objects(PREFIX, lister)
    new_hour = local.root / "db/cpu/2024/01/02/05"
    new_hour.mkdir(parents=True)
    (new_hour / "c.parquet").write_bytes(b"three")
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST, "db/cpu/2024/01/02/05/c.parquet"]


def test_local_file_into_empty_directory(local: LocalBackend) -> None:
    empty = local.root / "db/cpu/2024/01/01/07"
    empty.mkdir()
    age_directories(local.root)
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    cache.objects(PREFIX, lister)
    (empty / "d.parquet").write_bytes(b"four")
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST, "db/cpu/2024/01/01/07/d.parquet"]


def test_local_removed_file(local: LocalBackend) -> None:
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    cache.objects(PREFIX, lister)
    (local.root / FIRST).unlink()
    assert cache.objects(PREFIX, lister) == []


def test_local_recent_change_is_not_kept(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.write(FIRST, b"one")  # its directories changed just now
    cache, lister = ListingCache(backend, ttl=0), CountingLister(backend)
    cache.objects(PREFIX, lister)
    cache.objects(PREFIX, lister)
    assert lister.calls == 2


def test_local_directory_listing(local: LocalBackend) -> None:
    cache = ListingCache(local, ttl=0)
    calls: list[int] = []

    def load() -> list[str]:
        calls.append(1)
        return local.list_directories("db/")

    assert cache.directories("db/", load) == ["cpu"]
    assert cache.directories("db/", load) == ["cpu"]
    (local.root / "db/mem").mkdir()
    assert cache.directories("db/", load) == ["cpu", "mem"]
    assert len(calls) == 2


def test_own_write_ends_reuse(local: LocalBackend) -> None:
    cache, lister = ListingCache(local, ttl=0), CountingLister(local)
    cache.objects(PREFIX, lister)
    local.delete(FIRST)
    assert cache.objects(PREFIX, lister) == []
    assert lister.calls == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_s3_listing_lives_for_ttl(s3_storage_url: StorageTarget) -> None:
    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)
    backend.write(FIRST, b"one")
    clock = FakeClock()
    cache, lister = ListingCache(backend, ttl=2.0, clock=clock), CountingLister(backend)
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST]

    # Another writer's object is not seen until the listing has lived its ttl.
    other = open_backend(s3_storage_url.url, s3_storage_url.settings)
    other.write("db/cpu/2024/01/01/01/b.parquet", b"two")
    clock.now += 1.0
    assert [info.path for info in cache.objects(PREFIX, lister)] == [FIRST]
    clock.now += 1.5
    assert len(cache.objects(PREFIX, lister)) == 2
    assert lister.calls == 2

    # This backend's own write is seen at once.
    backend.write("db/cpu/2024/01/01/02/c.parquet", b"three")
    assert len(cache.objects(PREFIX, lister)) == 3
    assert lister.calls == 3


def test_s3_zero_ttl_lists_every_time(s3_storage_url: StorageTarget) -> None:
    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)
    backend.write(FIRST, b"one")
    cache, lister = ListingCache(backend, ttl=0), CountingLister(backend)
    cache.objects(PREFIX, lister)
    cache.objects(PREFIX, lister)
    assert lister.calls == 2


def test_measurement_files_follow_listing_changes(tmp_path: Path) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    backend = LocalBackend(tmp_path)
    write_hour_files(backend, "db", "cpu", pa.table({"time": pa.array([start], TIME_TYPE), "usage": [1.0]}))
    age_directories(tmp_path)
    measurements = Measurements(Engine(backend))

    first = measurements.files("db", "cpu", TimeRange(), cached=True)
    again = measurements.files("db", "cpu", TimeRange(), cached=True)
    assert again.listed is first.listed
    assert [column.name for column in measurements.columns_of(again)] == ["time", "usage"]

    # Another writer adds an hour with a new column.
    later_hour = pa.table({"time": pa.array([start + timedelta(hours=1)], TIME_TYPE), "usage": [2.0],
                           "host": ["a"]})
    write_hour_files(LocalBackend(tmp_path), "db", "cpu", later_hour)
    later = measurements.files("db", "cpu", TimeRange(), cached=True)
    one_hour = measurements.files("db", "cpu", TimeRange(start + timedelta(minutes=70), None), cached=True)

    assert later.listed is not first.listed
    assert [info.path.split("/")[5] for info in later.chosen] == ["00", "01"]
    assert [info.path.split("/")[5] for info in one_hour.chosen] == ["01"]
    assert [column.name for column in measurements.columns_of(later)] == ["time", "host", "usage"]
