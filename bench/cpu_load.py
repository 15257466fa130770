"""Loading the TSBS cpu rows through the gateway (COPY, then CHECKPOINT) and into PostgreSQL 15.

Both servers receive the same CSV in the same chunks. After the load, the
gateway's rows are in Parquet files of its store, which the DuckDB and
buenavista references read directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import postgres as reference_server
from bench.copy_load import timed_copy
from bench.cpu_data import CpuGenerator, csv_text
from bench.verify import check_row_count
from tests.clients.postgres_oracle import PostgresProcess

DATABASE = "bench"
MEASUREMENT = "cpu"
#: Rows generated and sent per COPY, which bounds the memory the generated CSV takes.
CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class LoadSummary:
    """Totals of a load: rows, CSV bytes, and the seconds each server spent in its COPYs."""

    rows: int
    csv_bytes: int
    gateway_seconds: float
    postgres_seconds: float


def load_cpu(gateway_conninfo: str, postgres: PostgresProcess, hosts: int, rows: int) -> LoadSummary:
    """COPY ``rows`` cpu rows of ``hosts`` hosts into both servers, CHECKPOINT the gateway and check the counts.

    Raises RowCountMismatch when either server does not return ``rows`` from ``count(*)``.
    """
    postgres_conninfo = reference_server.conninfo(postgres)
    reference_server.create_cpu_table(postgres, MEASUREMENT)
    generator = CpuGenerator(hosts=hosts)
    csv_bytes = 0
    gateway_seconds = postgres_seconds = 0.0
    for start in range(0, rows, CHUNK_ROWS):
        data = csv_text(generator.rows(min(CHUNK_ROWS, rows - start))).encode()
        csv_bytes += len(data)
        gateway_seconds += timed_copy(gateway_conninfo, MEASUREMENT, data)
        postgres_seconds += timed_copy(postgres_conninfo, MEASUREMENT, data)

    # CHECKPOINT writes the gateway's buffered rows to Parquet, so every row is in a file.
    with psycopg.connect(gateway_conninfo, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
    check_row_count(gateway_conninfo, MEASUREMENT, rows)
    check_row_count(postgres_conninfo, MEASUREMENT, rows)
    return LoadSummary(rows, csv_bytes, gateway_seconds, postgres_seconds)


def parquet_glob(store: Path) -> str:
    """Return the glob of every Parquet file of the cpu measurement in a local store, at any hour."""
    return str(store / DATABASE / MEASUREMENT / "*" / "*" / "*" / "*" / "*.parquet")


def parquet_files(store: Path) -> list[Path]:
    """Return the files that ``parquet_glob`` matches."""
    return sorted(store.glob(f"{DATABASE}/{MEASUREMENT}/*/*/*/*/*.parquet"))
