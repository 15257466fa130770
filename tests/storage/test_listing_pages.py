"""Listings longer than one page of the object store, on moto S3 and on Azurite.

S3's ListObjectsV2 returns at most 1,000 keys per request and Azure's List
Blobs at most 5,000 blobs, so each case stores more objects than fit in one
page under one measurement. The backend and a real ``lakegate serve`` must
then see every object exactly once, and ``delete_batch`` must remove them all.
The objects are uploaded with the SDK clients (boto3, azure-storage-blob), so
the backend under test only reads and deletes them.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.asyn import sync  # type: ignore[import-untyped]  # fsspec ships no type information

from gateway.storage.backend import StorageBackend
from gateway.storage.open import open_backend
from gateway.storage.s3 import S3Backend
from tests.e2e.gateway_process import start_gateway
from tests.emulators import StorageTarget, blob_service_client, s3_client

DAY = datetime(2024, 3, 5, tzinfo=UTC)
DAY_PREFIX = "db/m/2024/03/05"
HOURS = [f"{hour:02d}" for hour in range(24)]
#: The hour the one-hour query reads.
QUERIED_HOUR = 7
#: A file of another measurement whose name starts with "m": listings of
#: "db/m" must leave it out, and deleting every file of "m" must keep it.
NEIGHBOUR = "db/m2/2024/03/05/00/m2_00000.parquet"
#: Threads uploading objects, fewer than the 10 connections botocore pools per host by default.
UPLOAD_WORKERS = 8
S3_DELETE_BATCH = 1000


@dataclass(frozen=True)
class Case:
    """A store to fill: its fixture name, its number of objects and the maximum entries of one listing page."""

    fixture: str
    objects: int
    page_size: int


CASES = [
    pytest.param(Case("s3_storage_url", 2500, 1000), id="s3"),
    pytest.param(Case("azure_storage_url", 5200, 5000), id="azure"),
]


@dataclass(frozen=True)
class StoredFile:
    """One uploaded Parquet file: path under the root, hour directory, size in bytes and rows."""

    path: str
    hour: int
    size: int
    rows: int


@dataclass(frozen=True)
class FilledStore:
    """A storage target containing ``files`` of measurement db.m (sorted by path) and the neighbour file."""

    target: StorageTarget
    case: Case
    files: list[StoredFile]


# ---------------------------------------------------------------- test data


def parquet_file(hour: int, rows: int) -> bytes:
    """Return a Parquet file of ``rows`` rows, a second apart, in the given hour of DAY."""
    start = DAY + timedelta(hours=hour)
    table = pa.table(
        {
            "time": pa.array(
                [start + timedelta(seconds=second) for second in range(rows)],
                pa.timestamp("us", tz="UTC"),
            ),
            "value": pa.array([float(second) for second in range(rows)], pa.float64()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def planned_contents(count: int) -> dict[str, tuple[int, bytes]]:
    """Return path -> (hour, bytes) for ``count`` files spread over the 24 hours of DAY.

    Files hold 1 to 3 rows, so their sizes differ and a wrong size or a
    lost file changes the row counts.
    """
    variants = {
        (hour, rows): parquet_file(hour, rows)
        for hour in range(24)
        for rows in (1, 2, 3)
    }
    contents = {}
    for number in range(count):
        hour = number % 24
        rows = 1 + number % 3
        path = f"{DAY_PREFIX}/{hour:02d}/m_{number:05d}.parquet"
        contents[path] = (hour, variants[(hour, rows)])
    return contents


def rows_of(data: bytes) -> int:
    return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)


# ---------------------------------------------------------------- SDK access


def upload_s3(target: StorageTarget, contents: dict[str, bytes]) -> None:
    client = s3_client(target.settings.s3.endpoint_url or "")

    def put(path: str) -> None:
        client.put_object(
            Bucket=target.bucket, Key=f"{target.prefix}/{path}", Body=contents[path]
        )

    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        list(pool.map(put, contents))


def upload_azure(target: StorageTarget, contents: dict[str, bytes]) -> None:
    service = blob_service_client(target.settings.azure.endpoint or "")
    container = service.get_container_client(target.bucket)

    def put(path: str) -> None:
        container.upload_blob(f"{target.prefix}/{path}", contents[path], overwrite=True)

    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        list(pool.map(put, contents))


def sdk_paths_s3(target: StorageTarget) -> list[str]:
    """Return every path under the root, listed by boto3's paginator (not by the backend)."""
    client = s3_client(target.settings.s3.endpoint_url or "")
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=target.bucket, Prefix=f"{target.prefix}/"
    )
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sorted(key.removeprefix(f"{target.prefix}/") for key in keys)


def sdk_paths_azure(target: StorageTarget) -> list[str]:
    """Return every path under the root, listed by azure-storage-blob (not by the backend)."""
    service = blob_service_client(target.settings.azure.endpoint or "")
    blobs = service.get_container_client(target.bucket).list_blobs(
        name_starts_with=f"{target.prefix}/"
    )
    return sorted(blob.name.removeprefix(f"{target.prefix}/") for blob in blobs)


UPLOADERS: dict[str, Callable[[StorageTarget, dict[str, bytes]], None]] = {
    "s3_storage_url": upload_s3,
    "azure_storage_url": upload_azure,
}
SDK_LISTERS: dict[str, Callable[[StorageTarget], list[str]]] = {
    "s3_storage_url": sdk_paths_s3,
    "azure_storage_url": sdk_paths_azure,
}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(params=CASES)
def filled_store(request: pytest.FixtureRequest) -> FilledStore:
    """A fresh bucket or container root containing more files of db.m than one listing page, plus NEIGHBOUR."""
    case: Case = request.param
    target: StorageTarget = request.getfixturevalue(case.fixture)
    planned = planned_contents(case.objects)
    contents = {path: data for path, (_, data) in planned.items()}
    contents[NEIGHBOUR] = parquet_file(0, 1)

    UPLOADERS[case.fixture](target, contents)

    files = [
        StoredFile(path, hour, len(data), rows_of(data))
        for path, (hour, data) in sorted(planned.items())
    ]
    return FilledStore(target, case, files)


@pytest.fixture
def backend(filled_store: FilledStore) -> StorageBackend:
    target = filled_store.target
    return open_backend(target.url, target.settings)


def count_s3_requests(backend: StorageBackend, operation: str) -> list[int]:
    """Return a list that grows by one for each ``operation`` request the S3 backend's client sends."""
    assert isinstance(backend, S3Backend)
    requests: list[int] = []
    client = sync(backend.fs.loop, backend.fs.set_session)

    def record(**_: Any) -> None:
        requests.append(1)

    client.meta.events.register(f"before-call.s3.{operation}", record)
    return requests


# ---------------------------------------------------------------- checks


def check_list_objects(store: FilledStore, backend: StorageBackend) -> None:
    expected = [file.path for file in store.files]
    list_requests = (
        count_s3_requests(backend, "ListObjectsV2")
        if isinstance(backend, S3Backend)
        else None
    )

    objects = backend.list_objects("db/m")

    paths = [info.path for info in objects]
    assert len(expected) > store.case.page_size
    assert sorted(set(expected) - set(paths)) == []
    assert [path for path, seen in Counter(paths).items() if seen > 1] == []
    assert len(objects) == store.case.objects
    assert paths == expected
    assert [info.size for info in objects] == [file.size for file in store.files]
    if list_requests is not None:
        assert len(list_requests) >= math.ceil(
            store.case.objects / store.case.page_size
        )


def check_list(store: FilledStore, backend: StorageBackend) -> None:
    expected = [file.path for file in store.files]

    assert backend.list("db/m") == expected
    assert backend.list("db") == sorted([*expected, NEIGHBOUR])
    assert backend.list(f"{DAY_PREFIX}/{QUERIED_HOUR:02d}") == [
        file.path for file in store.files if file.hour == QUERIED_HOUR
    ]


def check_list_directories(backend: StorageBackend) -> None:
    assert backend.list_directories(DAY_PREFIX) == HOURS
    assert backend.list_directories("db/m/2024/03") == ["05"]
    assert backend.list_directories("db") == ["m", "m2"]
    assert backend.list_directories(f"{DAY_PREFIX}/00") == []


def check_gateway(store: FilledStore, tmp_path: Path) -> None:
    files = store.files
    hour_files = [file for file in files if file.hour == QUERIED_HOUR]
    hour_filter = (
        f"WHERE time >= '2024-03-05 {QUERIED_HOUR:02d}:00:00+00' "
        f"AND time < '2024-03-05 {QUERIED_HOUR + 1:02d}:00:00+00'"
    )
    gateway = start_gateway(store.target.settings, tmp_path / "gateway.log")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=db", autocommit=True) as connection:
            whole = [
                row[0] for row in connection.execute("EXPLAIN SELECT count(*) FROM m")
            ]
            hour = [
                row[0]
                for row in connection.execute(
                    f"EXPLAIN SELECT count(*) FROM m {hour_filter}"
                )
            ]
            hour_rows = connection.execute(
                f"SELECT count(*) FROM m {hour_filter}"
            ).fetchone()
    finally:
        gateway.stop()

    assert (
        whole[0]
        == f"Lakegate scan db.m: {len(files)} of {len(files)} files, 24 partitions"
    )
    assert whole[1:25] == [f"  partition {DAY_PREFIX}/{name}" for name in HOURS]
    assert (
        hour[0]
        == f"Lakegate scan db.m: {len(hour_files)} of {len(files)} files, 1 partitions"
    )
    assert hour[1] == f"  partition {DAY_PREFIX}/{QUERIED_HOUR:02d}"
    assert hour_rows == (sum(file.rows for file in hour_files),)


def check_delete_batch(store: FilledStore, backend: StorageBackend) -> None:
    paths = [file.path for file in store.files]
    delete_requests = (
        count_s3_requests(backend, "DeleteObjects")
        if isinstance(backend, S3Backend)
        else None
    )

    backend.delete_batch(paths)

    assert backend.list_objects("db/m") == []
    assert backend.list_directories("db") == ["m2"]
    assert SDK_LISTERS[store.case.fixture](store.target) == [NEIGHBOUR]
    if delete_requests is not None:
        assert len(delete_requests) == math.ceil(len(paths) / S3_DELETE_BATCH)


# ---------------------------------------------------------------- test


def test_paged_store_listed_then_deleted(
    filled_store: FilledStore, backend: StorageBackend, tmp_path: Path
) -> None:
    # One test per store, because filling it takes most of the run time.
    # Every check before the deletion only reads.
    check_list_objects(filled_store, backend)
    check_list(filled_store, backend)
    check_list_directories(backend)
    check_gateway(filled_store, tmp_path)
    check_delete_batch(filled_store, backend)
