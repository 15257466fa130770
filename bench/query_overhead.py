"""TSBS queries through the gateway (psycopg, all rows fetched) next to DuckDB alone on the same Parquet files.

DuckDB runs in this process with default settings and a ``cpu`` view over
``read_parquet(<the measurement's glob>, hive_partitioning = false)``, so
both sides run the same SQL text over the same files, and both return
every row to Python. Runs of the two sides alternate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import psycopg

from bench.percentiles import median
from bench.tsbs_queries import TsbsQuery
from gateway.storage.duckdb_extensions import quote_literal


@dataclass(frozen=True)
class QueryTimes:
    """Seconds of every timed run of one query on each side, and the rows it returns."""

    query: TsbsQuery
    rows: int
    gateway: list[float]
    duckdb: list[float]
    #: Gateway runs whose text differs each time (a leading comment), so no kept parse or rewrite is reused.
    gateway_new_text: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Return the gateway's median time over DuckDB's: 1.10 means 10% slower through the gateway."""
        return median(self.gateway) / median(self.duckdb)

    @property
    def new_text_ratio(self) -> float:
        """Return the median time of the new-text gateway runs over DuckDB's."""
        return median(self.gateway_new_text) / median(self.duckdb)


class RowCountMismatch(RuntimeError):
    """The gateway and DuckDB returned different numbers of rows for one query."""


def duckdb_over(parquet_glob: str) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB connection with a ``cpu`` view over the files and TimeZone UTC."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"CREATE VIEW cpu AS SELECT * FROM read_parquet({quote_literal(parquet_glob)}, "
                       "hive_partitioning = false)")
    return connection


def time_queries(conninfo: str, parquet_glob: str, queries: list[TsbsQuery], runs: int) -> list[QueryTimes]:
    """Run each query once untimed on both sides (checking the row counts match), then ``runs`` timed times each.

    Raises RowCountMismatch when the two sides return different row counts.
    """
    reference = duckdb_over(parquet_glob)
    results = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            for query in queries:
                rows = _gateway_rows(connection, query.sql)
                expected = len(reference.execute(query.sql).fetchall())
                if rows != expected:
                    raise RowCountMismatch(f"{query.kind}: the gateway returned {rows} rows, DuckDB {expected}; "
                                           f"query {query.sql}")
                gateway_times: list[float] = []
                duckdb_times: list[float] = []
                new_text_times: list[float] = []
                for run in range(runs):
                    sides = [(gateway_times, connection.execute, query.sql),
                             (new_text_times, connection.execute, f"/* run {run} */ {query.sql}"),
                             (duckdb_times, reference.execute, query.sql)]
                    # Each side goes first, second and third in turn: the run after another side's
                    # run can find the processor's caches and DuckDB's threads in a different state.
                    for times, execute, sql in sides[run % 3:] + sides[:run % 3]:
                        times.append(_timed(execute, sql))
                results.append(QueryTimes(query, rows, gateway_times, duckdb_times, new_text_times))
    finally:
        reference.close()
    return results


def median_ratio(times: list[QueryTimes]) -> float:
    """Return the median over the queries of each query's gateway/DuckDB ratio."""
    return median([entry.ratio for entry in times])


def _gateway_rows(connection: psycopg.Connection, sql: str) -> int:
    return len(connection.execute(sql).fetchall())


def _timed(execute: Callable[[str], psycopg.Cursor[Any] | duckdb.DuckDBPyConnection], sql: str) -> float:
    """Return the seconds of ``execute(sql).fetchall()``."""
    started = time.perf_counter()
    execute(sql).fetchall()
    return time.perf_counter() - started
