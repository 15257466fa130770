"""Time-range pruning: each query's rows equal an unpruned DuckDB scan, and it reads the expected files.

The store contains measurement ``cpu`` with one row every 10 minutes over 48
hours from 2024-01-01 00:00 UTC (six rows and one file per hour partition),
and measurement ``mem`` with one row per hour over the same span.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pytest

from gateway.config import Settings
from gateway.engine import Engine
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.session import Session
from gateway.sql.catalog.sync import CatalogSync
from gateway.sql.lru import LruCache
from gateway.sql.measurements import Measurements
from gateway.sql.plan_cache import PlanCache
from gateway.storage.local import LocalBackend

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("store")
    backend = LocalBackend(root)
    cpu_times = [START + timedelta(minutes=10 * i) for i in range(48 * 6)]
    cpu = pa.table({
        "time": pa.array(cpu_times, TIME_TYPE),
        "host": pa.array([f"h{i % 3}" for i in range(len(cpu_times))]),
        "usage": pa.array([float(i) for i in range(len(cpu_times))]),
        "end_time": pa.array(cpu_times, TIME_TYPE),
    })
    write_hour_files(backend, "db", "cpu", cpu)
    mem_times = [START + timedelta(hours=i) for i in range(48)]
    mem = pa.table({"time": pa.array(mem_times, TIME_TYPE), "free": pa.array(list(range(48)))})
    write_hour_files(backend, "db", "mem", mem)
    engine = Engine(backend)
    measurements = Measurements(engine)
    runtime = SimpleNamespace(engine=engine, measurements=measurements, backend=backend,
                              catalog=CatalogSync(engine, measurements), settings=Settings(),
                              plans=PlanCache(), statements=LruCache(16))
    return SimpleNamespace(root=root, runtime=runtime)


def _run(store: SimpleNamespace, sql: str) -> tuple[list[tuple[object, ...]], list[int]]:
    session = Session(store.runtime, "db", "test")
    try:
        prepared = session.prepare(sql)
        result = session.run(prepared, [])
        rows = [tuple(row.values()) for batch in result.batches for row in batch.to_pylist()]
        assert session.last_plan is not None
        return rows, [len(scan.chosen) for scan in session.last_plan.scans]
    finally:
        session.close()


def _unpruned(store: SimpleNamespace, sql: str) -> list[tuple[object, ...]]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for name in ("cpu", "mem"):
        connection.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{store.root}/db/{name}/**/*.parquet')"
        )
    return [tuple(row) for row in connection.execute(sql).fetchall()]


CASES = [
    # (query, files read per measurement reference)
    ("SELECT count(*) FROM cpu", [48]),
    ("SELECT count(*) FROM cpu WHERE time >= '2024-01-01 10:00' AND time < '2024-01-01 11:00'", [1]),
    ("SELECT count(*) FROM cpu WHERE time BETWEEN '2024-01-01 10:00' AND '2024-01-01 11:00'", [2]),
    ("SELECT count(*) FROM cpu WHERE time <= '2024-01-01 11:00'", [12]),
    ("SELECT count(*) FROM cpu WHERE time < '2024-01-01 11:00'", [11]),
    ("SELECT count(*) FROM cpu WHERE time > '2024-01-02 22:59:59'", [2]),
    ("SELECT count(*) FROM cpu WHERE time = '2024-01-01 05:20'", [1]),
    ("SELECT count(*) FROM cpu WHERE '2024-01-02 00:00' <= time", [24]),
    ("SELECT count(*) FROM cpu WHERE time >= TIMESTAMPTZ '2024-01-01 12:00:00+02'", [38]),
    ("SELECT count(*) FROM cpu WHERE time >= '2024-01-01 10:00' OR usage > 100", [48]),
    ("SELECT count(*) FROM cpu WHERE NOT (time < '2024-01-01 10:00')", [48]),
    ("SELECT count(*) FROM cpu WHERE end_time >= '2024-01-02 10:00'", [48]),
    ("SELECT count(*) FROM cpu WHERE (time >= '2024-01-01 10:00') AND host = 'h1' AND time < '2024-01-01 12:00'", [2]),
    ("SELECT count(*) FROM cpu WHERE time >= '2024-01-01 10:00' AND time < '2024-01-01 10:00'", [0]),
    ("SELECT count(*) FROM cpu WHERE time > now() - INTERVAL '1 hour'", [0]),
    ("SELECT count(*) FROM cpu WHERE time < now()", [48]),
    ("SELECT count(*) FROM cpu WHERE time >= '2030-01-01'", [0]),
    ("SELECT c.host, count(*) FROM cpu c JOIN mem m ON date_trunc('hour', c.time) = m.time "
     "WHERE c.time >= '2024-01-01 10:00' AND m.time < '2024-01-01 12:00' GROUP BY 1 ORDER BY 1", [38, 12]),
    ("SELECT count(*) FROM cpu LEFT JOIN mem ON cpu.time = mem.time WHERE mem.time >= '2024-01-02 00:00'", [48, 24]),
    ("SELECT count(*) FROM cpu FULL JOIN mem ON cpu.time = mem.time WHERE time_bucket(INTERVAL '1 hour', cpu.time) > '2024-01-01'", [48, 48]),
    ("SELECT count(*) FROM cpu, mem WHERE mem.time > '2024-01-02 00:00' AND cpu.time = mem.time", [48, 24]),
    ("WITH recent AS (SELECT * FROM cpu WHERE time >= '2024-01-02 23:00') SELECT count(*), max(usage) FROM recent", [1]),
    ("SELECT (SELECT count(*) FROM mem WHERE time < '2024-01-01 03:00') AS m, count(*) FROM cpu WHERE time >= '2024-01-02 12:00'", [12, 3]),
    ("SELECT host, avg(usage) OVER (PARTITION BY host ORDER BY time ROWS 2 PRECEDING) FROM cpu "
     "WHERE time BETWEEN '2024-01-01 01:00' AND '2024-01-01 01:30' ORDER BY time, host", [1]),
    ("SELECT count(*) FROM (SELECT * FROM cpu) WHERE time >= '2024-01-02 00:00'", [48]),
    ("SELECT count(*) FROM cpu WHERE time > (SELECT max(time) FROM mem) - INTERVAL '2 hours'", [48, 48]),
    ("SELECT count(*) FROM cpu WHERE time IN ('2024-01-01 00:00', '2024-01-01 05:00')", [48]),
]


@pytest.mark.parametrize(("sql", "files"), CASES)
def test_pruned_query_matches_full_scan(store: SimpleNamespace, sql: str, files: list[int]) -> None:
    rows, files_read = _run(store, sql)
    assert rows == _unpruned(store, sql)
    assert files_read == files


def test_empty_range_keeps_other_tables(store: SimpleNamespace) -> None:
    sql = ("SELECT (SELECT count(*) FROM cpu WHERE time >= '2030-01-01') AS future, "
           "(SELECT count(*) FROM mem) AS everything")
    rows, files_read = _run(store, sql)
    assert rows == [(0, 48)]
    assert files_read == [0, 48]
