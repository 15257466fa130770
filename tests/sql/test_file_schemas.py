"""Each file's columns, and scans over files of different schemas read as one relation.

The store contains measurement ``cpu`` in four hour partitions of three
schemas: hours 0 and 3 store (time, usage DOUBLE, host); hour 1 stores
usage as BIGINT and has no host; hour 2 adds a column ``region`` and
spells the host column ``Host``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from gateway.config import Settings
from gateway.engine import Engine
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.session import Session
from gateway.sql import measurements as measurements_module
from gateway.sql import parse
from gateway.sql.catalog.sync import CatalogSync
from gateway.sql.file_schemas import Column, FileGone, FileSchema, read_file_schemas
from gateway.sql.lru import LruCache
from gateway.sql.measurements import Measurements
from gateway.sql.plan_cache import PlanCache
from gateway.sql.rewrite import QueryRewriter
from gateway.sql.time_bounds import TimeRange
from gateway.storage.backend import ObjectInfo
from gateway.storage.local import LocalBackend

START = datetime(2024, 1, 1, tzinfo=UTC)
TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"


def _hour(hour: int, **columns: pa.Array) -> pa.Table:
    times = [START + timedelta(hours=hour, minutes=minute) for minute in (10, 20)]
    return pa.table({"time": pa.array(times, TIME_TYPE), **columns})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("store")
    backend = LocalBackend(root)
    write_hour_files(backend, "db", "cpu", _hour(0, usage=pa.array([1.5, 2.5]), host=pa.array(["a", "b"])))
    write_hour_files(backend, "db", "cpu", _hour(1, usage=pa.array([3, 4], pa.int64())))
    write_hour_files(backend, "db", "cpu", _hour(2, usage=pa.array([5.5, 6.5]), Host=pa.array(["c", "d"]),
                                                 region=pa.array(["eu", "us"])))
    write_hour_files(backend, "db", "cpu", _hour(3, usage=pa.array([7.5, 8.5]), host=pa.array(["e", "f"])))
    engine = Engine(backend)
    measurements = Measurements(engine)
    runtime = SimpleNamespace(engine=engine, measurements=measurements, backend=backend,
                              catalog=CatalogSync(engine, measurements), settings=Settings(),
                              plans=PlanCache(), statements=LruCache(16))
    return SimpleNamespace(root=root, backend=backend, engine=engine, measurements=measurements,
                           runtime=runtime)


def _files(store: SimpleNamespace) -> list[ObjectInfo]:
    return _files_of(store.backend)


def test_each_file_has_its_own_columns(store: SimpleNamespace) -> None:
    files = _files(store)
    schemas = read_file_schemas(store.engine, files)

    assert [schemas[info.path] for info in files] == [
        (Column("time", TIMESTAMPTZ), Column("usage", "DOUBLE"), Column("host", "VARCHAR")),
        (Column("time", TIMESTAMPTZ), Column("usage", "BIGINT")),
        (Column("time", TIMESTAMPTZ), Column("usage", "DOUBLE"), Column("Host", "VARCHAR"),
         Column("region", "VARCHAR")),
        (Column("time", TIMESTAMPTZ), Column("usage", "DOUBLE"), Column("host", "VARCHAR")),
    ]


def test_missing_file_is_reported(store: SimpleNamespace) -> None:
    missing = ObjectInfo(path="db/cpu/2024/01/01/09/cpu_missing.parquet", size=1, last_modified=START)
    with pytest.raises(FileGone):
        read_file_schemas(store.engine, [*_files(store), missing])


def test_union_widens_types_keeps_first_spelling(store: SimpleNamespace) -> None:
    columns = store.measurements.columns("db", "cpu")

    assert columns == [Column("time", TIMESTAMPTZ), Column("host", "VARCHAR"), Column("region", "VARCHAR"),
                       Column("usage", "DOUBLE")]


def test_files_of_one_schema_share_one_read(store: SimpleNamespace) -> None:
    files = store.measurements.files("db", "cpu", TimeRange())
    rewriter = QueryRewriter(store.measurements, "db", lambda expression: None)
    tree, _ = rewriter.rewrite(parse.parse_one("SELECT * FROM cpu"))
    reads = [node for node in tree.find_all(exp.Anonymous) if node.name.lower() == "read_parquet"]

    assert len(files.chosen) == 4
    assert sorted(len(read.expressions[0].expressions) for read in reads) == [1, 1, 2]
    assert all(len(read.expressions) == 1 for read in reads)


def test_scan_matches_union_by_name(store: SimpleNamespace) -> None:
    session = Session(store.runtime, "db", "test")
    try:
        result = session.run(session.prepare('SELECT time, "Host", region, usage FROM cpu ORDER BY time'), [])
        rows = [tuple(row.values()) for batch in result.batches for row in batch.to_pylist()]
        types = [str(field.type) for field in result.schema]
    finally:
        session.close()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    expected = connection.execute(
        f"SELECT time, host, region, usage::DOUBLE FROM read_parquet('{store.root}/db/cpu/**/*.parquet', "
        "union_by_name = true) ORDER BY time").fetchall()

    assert rows == [tuple(row) for row in expected]
    assert len(rows) == 8
    assert rows[2][1:] == (None, None, 3.0)
    assert rows[4][1:] == ("c", "eu", 5.5)
    assert types == ["timestamp[us, tz=UTC]", "string", "string", "double"]


def test_removed_file_rereads_no_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LocalBackend(tmp_path)
    for hour in range(3):
        write_hour_files(backend, "db", "cpu", _hour(hour, usage=pa.array([1.0, 2.0])))
    measurements = Measurements(Engine(backend))
    assert [column.name for column in measurements.columns("db", "cpu")] == ["time", "usage"]
    read: list[str] = []

    def recording(engine: Engine, files: list[ObjectInfo], *, again: bool = False) -> dict[str, FileSchema]:
        read.extend(info.path for info in files)
        return read_file_schemas(engine, files, again=again)

    monkeypatch.setattr(measurements_module, "read_file_schemas", recording)
    backend.delete_batch([_files_of(backend)[0].path])
    write_hour_files(backend, "db", "cpu", _hour(5, usage=pa.array([3.0, 4.0]), host=pa.array(["a", "b"])))

    assert [column.name for column in measurements.columns("db", "cpu")] == ["time", "host", "usage"]
    assert [path.split("/")[5] for path in read] == ["05"]


def _files_of(backend: LocalBackend) -> list[ObjectInfo]:
    return sorted(backend.list_objects("db/cpu/"), key=lambda info: info.path)
