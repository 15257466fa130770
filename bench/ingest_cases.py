"""The side-by-side ingestion cases: COPY, line protocol over HTTP, multi-row INSERT and executemany.

Each case loads the same rows into the gateway and, where PostgreSQL has
the same interface, into a fresh PostgreSQL table, checks both row counts
with ``SELECT count(*)`` and returns its figures. Every case writes to its
own gateway database (measurement ``cpu``) and PostgreSQL table, so the
counts of one case never include another's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench import gateway as gateway_server
from bench import postgres as reference_server
from bench.copy_load import timed_copy
from bench.cpu_data import CpuRow, batches, csv_text, line_protocol
from bench.http_load import timed_writes
from bench.insert_load import multirow_statements, timed_executemany, timed_statements
from bench.results import Figure
from bench.verify import check_row_count, type_differences
from tests.clients.postgres_oracle import PostgresProcess
from tests.e2e.gateway_process import GatewayProcess

MEASUREMENT = "cpu"
POSTGRES = "PostgreSQL 15"
#: Lines per second and gateway core that the ingestion work aims at.
HTTP_TARGET_PER_CORE = 300_000
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Servers:
    """The gateway and the PostgreSQL server that every case loads."""

    gateway: GatewayProcess
    postgres: PostgresProcess


def warm_up(servers: Servers, rows: Sequence[CpuRow]) -> None:
    """COPY a few rows into both servers first, so no case pays for loading code or opening files."""
    data = csv_text(rows).encode()
    _postgres_copy(servers.postgres, "cpu_warm_up", data, len(rows))
    _gateway_copy(servers.gateway, "bench_warm_up", data, len(rows))


def copy_case(servers: Servers, rows: Sequence[CpuRow]) -> Figure:
    """COPY the rows as CSV into each server in one statement."""
    data = csv_text(rows).encode()
    postgres_seconds = _postgres_copy(servers.postgres, "cpu_copy", data, len(rows))
    gateway_seconds = _gateway_copy(servers.gateway, "bench_copy", data, len(rows))
    types = type_differences(gateway_server.conninfo(servers.gateway, "bench_copy"), MEASUREMENT)
    return Figure(
        "COPY FROM STDIN (FORMAT csv)", "rows/s", len(rows) / gateway_seconds, len(rows) / postgres_seconds,
        POSTGRES,
        detail=_joined(f"{len(rows):,} rows, {len(data) / _MIB:.1f} MiB of CSV in one COPY",
                       f"Lakegate {gateway_seconds:.2f} s, PostgreSQL {postgres_seconds:.2f} s", types))


def _postgres_copy(server: PostgresProcess, table: str, data: bytes, expected: int) -> float:
    reference_server.create_cpu_table(server, table)
    conninfo = reference_server.conninfo(server)
    seconds = timed_copy(conninfo, table, data)
    check_row_count(conninfo, table, expected)
    return seconds


def _gateway_copy(server: GatewayProcess, database: str, data: bytes, expected: int) -> float:
    conninfo = gateway_server.conninfo(server, database)
    seconds = timed_copy(conninfo, MEASUREMENT, data)
    check_row_count(conninfo, MEASUREMENT, expected)
    return seconds


def http_case(servers: Servers, rows: Sequence[CpuRow], batch_lines: int, threads: int) -> list[Figure]:
    """POST the rows as line protocol in batches of ``batch_lines`` from ``threads`` client threads."""
    gateway = servers.gateway
    database = f"bench_http_{threads}"
    bodies = [line_protocol(batch, MEASUREMENT).encode() for batch in batches(rows, batch_lines)]
    run = timed_writes(gateway.http_port, gateway.process.pid, database, bodies, threads)
    check_row_count(gateway_server.conninfo(gateway, database), MEASUREMENT, len(rows))
    types = type_differences(gateway_server.conninfo(gateway, database), MEASUREMENT)

    label = f"line protocol over HTTP, {threads} client thread{'s' if threads > 1 else ''}"
    cores = run.gateway_cpu_seconds / run.seconds
    detail = _joined(f"{len(rows):,} lines in {len(bodies):,} POSTs of {batch_lines:,}, "
                     f"{sum(map(len, bodies)) / _MIB:.1f} MiB", f"{run.seconds:.2f} s",
                     f"gateway used {cores:.2f} cores, this client {run.client_cpu_seconds / run.seconds:.2f}",
                     types)
    per_core = len(rows) / run.gateway_cpu_seconds if run.gateway_cpu_seconds else 0.0
    return [
        Figure(label, "lines/s", len(rows) / run.seconds, detail=detail),
        Figure(f"{label}, per gateway core", "lines/s per core", per_core, HTTP_TARGET_PER_CORE, "target",
               detail=f"lines / gateway CPU seconds ({run.gateway_cpu_seconds:.2f} s user + system)"),
    ]


def insert_case(servers: Servers, rows: Sequence[CpuRow], batch_rows: int) -> Figure:
    """Run multi-row ``INSERT ... VALUES`` statements of ``batch_rows`` rows each, one after another."""
    table = "cpu_insert"
    reference_server.create_cpu_table(servers.postgres, table)
    postgres = reference_server.conninfo(servers.postgres)
    postgres_seconds = timed_statements(postgres, multirow_statements(table, batches(rows, batch_rows)))
    check_row_count(postgres, table, len(rows))

    gateway = gateway_server.conninfo(servers.gateway, "bench_insert")
    gateway_seconds = timed_statements(gateway, multirow_statements(MEASUREMENT, batches(rows, batch_rows)))
    check_row_count(gateway, MEASUREMENT, len(rows))
    statements = -(-len(rows) // batch_rows)
    return Figure(
        f"INSERT ... VALUES, {batch_rows:,} rows per statement", "rows/s", len(rows) / gateway_seconds,
        len(rows) / postgres_seconds, POSTGRES,
        detail=_joined(f"{len(rows):,} rows in {statements:,} statements, autocommit",
                       f"Lakegate {gateway_seconds:.2f} s, PostgreSQL {postgres_seconds:.2f} s",
                       type_differences(gateway, MEASUREMENT)))


def executemany_case(servers: Servers, rows: Sequence[CpuRow]) -> Figure:
    """Insert the rows through psycopg ``executemany`` of a single-row parameterised INSERT."""
    table = "cpu_executemany"
    reference_server.create_cpu_table(servers.postgres, table)
    postgres = reference_server.conninfo(servers.postgres)
    postgres_seconds = timed_executemany(postgres, table, rows)
    check_row_count(postgres, table, len(rows))

    gateway = gateway_server.conninfo(servers.gateway, "bench_executemany")
    gateway_seconds = timed_executemany(gateway, MEASUREMENT, rows)
    check_row_count(gateway, MEASUREMENT, len(rows))
    return Figure(
        "executemany, one row per INSERT", "rows/s", len(rows) / gateway_seconds, len(rows) / postgres_seconds,
        POSTGRES,
        detail=_joined(f"{len(rows):,} rows, autocommit",
                       f"Lakegate {gateway_seconds:.2f} s, PostgreSQL {postgres_seconds:.2f} s",
                       type_differences(gateway, MEASUREMENT)))


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
