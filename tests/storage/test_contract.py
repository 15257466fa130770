"""The storage contract: one suite that the local, S3 and Azure backends all pass.

Each subclass of BackendContract supplies ``target`` (a fresh root from
conftest) and ``stored_keys`` (every object in the surrounding directory,
bucket or container, read without the backend).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.asyn import sync

from gateway.storage.backend import StorageBackend
from gateway.storage.duckdb_extensions import load_statements, quote_literal
from gateway.storage.duckdb_secrets import secret_statements
from gateway.storage.open import open_backend
from gateway.storage.s3 import S3Backend
from tests.emulators import StorageTarget, blob_service_client, s3_client

# Object stores record modification times in whole seconds and the
# emulators run on this machine, so a write lands within this margin of
# the test's own clock.
_CLOCK_MARGIN = timedelta(seconds=2)


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialise ``table`` as one Parquet file."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.fixture
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with httpfs and azure loaded from their packages, never downloaded."""
    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    for statement in load_statements():
        connection.execute(statement)
    yield connection
    connection.close()


class BackendContract:
    """Behaviour every StorageBackend must show, whatever the store."""

    @pytest.fixture
    def target(self) -> StorageTarget:
        raise NotImplementedError

    def stored_keys(self, target: StorageTarget) -> list[str]:
        raise NotImplementedError

    def expected_key(self, target: StorageTarget, path: str) -> str:
        """Return the key that ``stored_keys`` lists for the backend path ``path``."""
        return f"{target.prefix}/{path}"

    @pytest.fixture
    def backend(self, target: StorageTarget) -> StorageBackend:
        return open_backend(target.url, target.settings)

    def test_write_read_round_trip(self, backend: StorageBackend) -> None:
        data = bytes(range(256)) * 40

        backend.write("telemetry/cpu/2024/01/02/03/cpu.parquet", data)

        assert backend.read("telemetry/cpu/2024/01/02/03/cpu.parquet") == data

    def test_overwrite_replaces_whole(self, backend: StorageBackend) -> None:
        backend.write("db/m/file", b"a much longer first version")
        backend.write("db/m/file", b"short")

        assert backend.read("db/m/file") == b"short"
        assert [(info.path, info.size) for info in backend.list_objects("db")] == [
            ("db/m/file", 5)
        ]

    def test_empty_object(self, backend: StorageBackend) -> None:
        backend.write("db/empty", b"")

        assert backend.read("db/empty") == b""
        assert [(info.path, info.size) for info in backend.list_objects("db")] == [
            ("db/empty", 0)
        ]

    def test_exists(self, backend: StorageBackend) -> None:
        assert backend.exists("db/m/file") is False

        backend.write("db/m/file", b"x")

        assert backend.exists("db/m/file") is True
        assert backend.exists("db/m") is False
        assert backend.exists("db/m/fil") is False

    def test_list_recursive_sorted(self, backend: StorageBackend) -> None:
        for path in ["b/2", "a/c/3", "top", "a/1", "a/b/4"]:
            backend.write(path, path.encode())

        assert backend.list("") == ["a/1", "a/b/4", "a/c/3", "b/2", "top"]

    def test_list_under_prefix_only(self, backend: StorageBackend) -> None:
        for path in ["a/b/x", "a/bc/y", "a/b/c/z", "a/b.txt"]:
            backend.write(path, b"1")

        assert backend.list("a/b") == ["a/b/c/z", "a/b/x"]
        assert backend.list("a/b/") == ["a/b/c/z", "a/b/x"]
        assert backend.list("a/bc") == ["a/bc/y"]
        assert backend.list("a/missing") == []

    def test_list_sees_write_at_once(self, backend: StorageBackend) -> None:
        assert backend.list("db") == []

        backend.write("db/m/one", b"1")
        assert backend.list("db") == ["db/m/one"]

        backend.delete("db/m/one")
        assert backend.list("db") == []

    def test_list_directories_immediate_only(self, backend: StorageBackend) -> None:
        for path in [
            "db1/cpu/2024/01/f",
            "db1/mem/f",
            "db1/readme",
            "db2/x/f",
            "top.txt",
        ]:
            backend.write(path, b"1")

        assert backend.list_directories("") == ["db1", "db2"]
        assert backend.list_directories("db1") == ["cpu", "mem"]
        assert backend.list_directories("db1/cpu") == ["2024"]
        assert backend.list_directories("db1/mem") == []
        assert backend.list_directories("missing") == []

    def test_list_directories_after_delete(self, backend: StorageBackend) -> None:
        backend.write("db/cpu/f", b"1")
        backend.write("db/mem/f", b"1")

        backend.delete("db/cpu/f")

        assert backend.list_directories("db") == ["mem"]

    def test_list_objects_sizes_and_times(self, backend: StorageBackend) -> None:
        before = datetime.now(UTC)
        backend.write("db/m/three", b"abc")
        backend.write("db/m/thousand", b"x" * 1000)
        backend.write("db/other", b"z")
        after = datetime.now(UTC)

        objects = backend.list_objects("db/m")

        assert [(info.path, info.size) for info in objects] == [
            ("db/m/thousand", 1000),
            ("db/m/three", 3),
        ]
        for info in objects:
            assert info.last_modified.utcoffset() == timedelta(0)
            assert before - _CLOCK_MARGIN <= info.last_modified <= after + _CLOCK_MARGIN

    def test_create_only_when_absent(self, backend: StorageBackend) -> None:
        assert backend.create("meta/lease-1.json", b"first") is True
        assert backend.create("meta/lease-1.json", b"second") is False
        assert backend.read("meta/lease-1.json") == b"first"
        assert backend.list("meta/") == ["meta/lease-1.json"]

    def test_create_races_have_one_winner(self, backend: StorageBackend) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda n: backend.create("meta/race.json", str(n).encode()), range(8)))
        assert results.count(True) == 1
        assert backend.read("meta/race.json") == str(results.index(True)).encode()

    def test_delete(self, backend: StorageBackend) -> None:
        backend.write("db/m/file", b"x")
        backend.write("db/m/keep", b"y")

        backend.delete("db/m/file")

        assert backend.exists("db/m/file") is False
        assert backend.list("") == ["db/m/keep"]
        with pytest.raises(FileNotFoundError):
            backend.read("db/m/file")

    def test_delete_missing_is_fine(self, backend: StorageBackend) -> None:
        backend.delete("never/written")

        assert backend.list("") == []

    def test_delete_batch_few(self, backend: StorageBackend) -> None:
        paths = [f"db/m/{number}" for number in range(5)]
        for path in paths:
            backend.write(path, b"1")

        backend.delete_batch([*paths[:3], "db/m/missing", "other/missing"])

        assert backend.list("") == ["db/m/3", "db/m/4"]

    def test_read_missing_raises(self, backend: StorageBackend) -> None:
        backend.write("db/m/present", b"1")

        with pytest.raises(FileNotFoundError):
            backend.read("db/m/absent")
        with pytest.raises(FileNotFoundError):
            backend.read("nowhere/at/all")

    @pytest.mark.parametrize(
        "path", ["", "/abs", "../up", "a/../b", "a//b", "./a", "a/."]
    )
    def test_rejects_paths_leaving_root(
        self, backend: StorageBackend, path: str
    ) -> None:
        with pytest.raises(ValueError):
            backend.write(path, b"x")
        with pytest.raises(ValueError):
            backend.read(path)
        with pytest.raises(ValueError):
            backend.delete(path)

    def test_everything_stays_under_root(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        backend.write("db/m/2024/01/f.parquet", b"1")
        backend.write("top", b"2")

        assert self.stored_keys(target) == [
            self.expected_key(target, "db/m/2024/01/f.parquet"),
            self.expected_key(target, "top"),
        ]

    def test_uri_is_under_root_uri(self, backend: StorageBackend) -> None:
        root = backend.root_uri()

        assert root.endswith("/")
        assert backend.uri("db/m/f.parquet") == f"{root}db/m/f.parquet"

    def test_duckdb_reads_uri(
        self, backend: StorageBackend, duckdb_connection: duckdb.DuckDBPyConnection
    ) -> None:
        table = pa.table(
            {
                "time": pa.array([1, 2, 3], pa.int64()),
                "host": ["a", "b", "c"],
                "value": [0.5, 1.5, 2.5],
            }
        )
        backend.write("telemetry/cpu/2024/01/02/03/cpu_1.parquet", parquet_bytes(table))
        backend.write(
            "telemetry/cpu/2024/01/02/04/cpu_2.parquet",
            parquet_bytes(table.slice(0, 1)),
        )
        for statement in secret_statements(backend):
            duckdb_connection.execute(statement)

        file_uri = quote_literal(
            backend.uri("telemetry/cpu/2024/01/02/03/cpu_1.parquet")
        )
        rows = duckdb_connection.execute(
            f"SELECT time, host, value FROM read_parquet({file_uri}) ORDER BY time"
        ).fetchall()
        glob_uri = quote_literal(f"{backend.root_uri()}telemetry/cpu/*/*/*/*/*.parquet")
        count = duckdb_connection.execute(
            f"SELECT count(*) FROM read_parquet({glob_uri})"
        ).fetchone()

        assert rows == [(1, "a", 0.5), (2, "b", 1.5), (3, "c", 2.5)]
        assert count == (4,)

    def test_check_passes_and_cleans_up(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        backend.check()

        assert backend.list("") == []
        assert self.stored_keys(target) == []


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def target(self, local_storage_url: StorageTarget) -> StorageTarget:
        return local_storage_url

    def stored_keys(self, target: StorageTarget) -> list[str]:
        outer = Path(target.url).parent
        return sorted(
            path.relative_to(outer).as_posix()
            for path in outer.rglob("*")
            if path.is_file()
        )

    def expected_key(self, target: StorageTarget, path: str) -> str:
        return f"root/{path}"

    def test_uri_is_absolute_path(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        assert backend.uri("db/m/f.parquet") == f"{target.url}/db/m/f.parquet"

    def test_list_skips_temporary_files(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        backend.write("db/m/f", b"1")
        (Path(target.url) / "db" / "m" / ".f.abc.tmp").write_bytes(b"partial")

        assert backend.list("") == ["db/m/f"]
        assert [info.path for info in backend.list_objects("")] == ["db/m/f"]

    def test_write_leaves_no_temporary_file(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        backend.write("db/m/f", b"1")
        backend.write("db/m/f", b"2")

        assert sorted(
            path.name for path in (Path(target.url) / "db" / "m").iterdir()
        ) == ["f"]

    def test_check_rejects_file_root(self, tmp_path: Path) -> None:
        from gateway.errors import ConfigurationError
        from gateway.storage.local import LocalBackend

        root = tmp_path / "not-a-directory"
        root.write_bytes(b"")

        with pytest.raises(ConfigurationError) as excinfo:
            LocalBackend(root).check()

        assert (
            str(excinfo.value)
            == f'storage "{root}" is not usable: it is a file, not a directory; fix --storage'
        )


class TestS3Backend(BackendContract):
    @pytest.fixture
    def target(self, s3_storage_url: StorageTarget) -> StorageTarget:
        return s3_storage_url

    def stored_keys(self, target: StorageTarget) -> list[str]:
        client = s3_client(target.settings.s3.endpoint_url or "")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket)
        return sorted(
            item["Key"] for page in pages for item in page.get("Contents", [])
        )

    def test_uri_names_bucket_and_prefix(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        assert backend.root_uri() == f"s3://{target.bucket}/{target.prefix}/"
        assert (
            backend.uri("db/f.parquet")
            == f"s3://{target.bucket}/{target.prefix}/db/f.parquet"
        )

    def test_delete_batch_2500_in_3_requests(self, backend: StorageBackend) -> None:
        assert isinstance(backend, S3Backend)
        paths = [f"db/m/{number:05d}" for number in range(2500)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda path: backend.write(path, b"1"), paths))
        assert len(backend.list("db")) == 2500
        requests: list[int] = []
        client = sync(backend.fs.loop, backend.fs.set_session)
        client.meta.events.register(
            "before-call.s3.DeleteObjects", lambda **kwargs: requests.append(1)
        )

        backend.delete_batch(paths)

        assert len(requests) == 3
        assert backend.list("") == []


class TestAzureBackend(BackendContract):
    @pytest.fixture
    def target(self, azure_storage_url: StorageTarget) -> StorageTarget:
        return azure_storage_url

    def stored_keys(self, target: StorageTarget) -> list[str]:
        service = blob_service_client(target.settings.azure.endpoint or "")
        return sorted(
            blob.name
            for blob in service.get_container_client(target.bucket).list_blobs()
        )

    def test_uri_names_container_and_prefix(
        self, backend: StorageBackend, target: StorageTarget
    ) -> None:
        assert backend.root_uri() == f"az://{target.bucket}/{target.prefix}/"
        assert (
            backend.uri("db/f.parquet")
            == f"az://{target.bucket}/{target.prefix}/db/f.parquet"
        )

    def test_delete_batch_300_over_two_batches(self, backend: StorageBackend) -> None:
        paths = [f"db/m/{number:03d}" for number in range(300)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda path: backend.write(path, b"1"), paths))
        assert len(backend.list("db")) == 300

        backend.delete_batch([*paths, "db/m/missing"])

        assert backend.list("") == []
