"""TSBS query generation: fixed seeds give fixed SQL, and every query runs in DuckDB with the expected shape."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from bench.cpu_data import COLUMNS, START, CpuGenerator
from bench.tsbs_queries import (
    HIGH_CPU_THRESHOLD,
    QUERY_TYPES,
    DataSpan,
    generate,
    query_set,
    timestamp_literal,
)

HOSTS = 3
HOURS = 13
SPAN = DataSpan(START, HOURS, HOSTS)
SEED = 42


@pytest.fixture(scope="module")
def cpu() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with table ``cpu`` holding SPAN's rows, one per host every 10 s."""
    rows = CpuGenerator(hosts=HOSTS).rows(HOSTS * HOURS * 360)
    table = pa.table({name: list(values) for name, values in zip(COLUMNS, zip(*rows))})
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("generated", table)
    connection.execute("CREATE TABLE cpu AS SELECT * FROM generated")
    yield connection
    connection.close()


def test_query_set_has_one_query_per_type_in_order() -> None:
    assert [query.kind for query in query_set(SPAN, SEED)] == list(QUERY_TYPES)


def test_same_seed_gives_same_sql() -> None:
    assert query_set(SPAN, SEED) == query_set(SPAN, SEED)
    assert query_set(SPAN, SEED) != query_set(SPAN, SEED + 1)


def test_lastpoint_sql() -> None:
    query = generate("lastpoint", SPAN, random.Random(SEED))
    assert query.sql == "SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC"


def test_timestamp_literal_is_utc_with_offset() -> None:
    moment = datetime(2024, 1, 1, 5, 7, tzinfo=UTC)
    assert timestamp_literal(moment) == "TIMESTAMPTZ '2024-01-01 05:07:00+00'"


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate("single-groupby-9-9-9", SPAN, random.Random(SEED))


def test_window_longer_than_data_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate("double-groupby-1", DataSpan(START, 11, HOSTS), random.Random(SEED))


def test_single_groupby_1_1_1_returns_60_minutes(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("single-groupby-1-1-1", SPAN, random.Random(SEED)).sql).fetchall()
    assert len(rows) == 60
    assert [len(row) for row in rows] == [2] * 60
    assert rows[1][0] - rows[0][0] == timedelta(minutes=1)


def test_single_groupby_5_1_12_returns_720_minutes_of_5_maxima(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("single-groupby-5-1-12", SPAN, random.Random(SEED)).sql).fetchall()
    assert len(rows) == 720
    assert len(rows[0]) == 6


def test_double_groupby_1_returns_each_host_each_hour(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("double-groupby-1", SPAN, random.Random(SEED)).sql).fetchall()
    hours = {row[0] for row in rows}
    assert len(rows) == len(hours) * HOSTS
    assert len(hours) in (12, 13)  # 13 when the window does not start on a whole hour


def test_high_cpu_1_returns_one_host_above_threshold(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("high-cpu-1", SPAN, random.Random(SEED)).sql).fetchall()
    usage_user = COLUMNS.index("usage_user")
    assert len({row[1] for row in rows}) <= 1
    assert all(row[usage_user] > HIGH_CPU_THRESHOLD for row in rows)


def test_high_cpu_all_matches_count_of_rows_above_threshold(cpu: duckdb.DuckDBPyConnection) -> None:
    query = generate("high-cpu-all", SPAN, random.Random(SEED))
    rows = cpu.execute(query.sql).fetchall()
    window = query.sql.split("WHERE ", 1)[1]
    counted = cpu.execute(f"SELECT count(*) FROM cpu WHERE {window}").fetchone()
    assert counted is not None
    assert len(rows) == counted[0]


def test_lastpoint_returns_last_row_of_every_host(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("lastpoint", SPAN, random.Random(SEED)).sql).fetchall()
    assert [row[1] for row in rows] == [f"host_{index}" for index in range(HOSTS)]
    last = START + timedelta(hours=HOURS) - timedelta(seconds=10)
    assert {row[0] for row in rows} == {last}


def test_groupby_orderby_limit_returns_5_minutes_descending(cpu: duckdb.DuckDBPyConnection) -> None:
    rows = cpu.execute(generate("groupby-orderby-limit", SPAN, random.Random(SEED)).sql).fetchall()
    assert len(rows) == 5
    minutes = [row[0] for row in rows]
    assert minutes == sorted(minutes, reverse=True)
