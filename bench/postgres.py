"""PostgreSQL 15, the reference server of the benchmarks, and its ``cpu`` tables.

The server is the client tests' throwaway PostgreSQL (imported from
``tests.clients.postgres_oracle``, not copied): a fresh ``initdb`` in a
temporary directory on a free 127.0.0.1 port, started with ``fsync=off``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from bench.cpu_data import FIELDS, TAGS
from tests.clients.postgres_oracle import PostgresProcess, start_postgres

USER = "bench"
DATABASE = "postgres"

# Settings that decide how much of an ingestion the server makes durable.
# The report lists their values next to the figures.
REPORTED_SETTINGS = ("server_version", "fsync", "synchronous_commit", "wal_level", "shared_buffers")


@contextmanager
def running_postgres() -> Iterator[PostgresProcess]:
    """Start the reference server for the block and stop it (deleting its data) afterwards."""
    server = start_postgres(USER)
    try:
        yield server
    finally:
        server.stop()


def conninfo(server: PostgresProcess) -> str:
    return f"host=127.0.0.1 port={server.port} user={USER} dbname={DATABASE}"


def server_settings(server: PostgresProcess) -> dict[str, str]:
    """Return the values of ``REPORTED_SETTINGS`` on the running server."""
    values = {}
    with psycopg.connect(conninfo(server), autocommit=True) as connection:
        for name in REPORTED_SETTINGS:
            row = connection.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            values[name] = "" if row is None else str(row[0])
    return values


def create_cpu_table(server: PostgresProcess, table: str) -> None:
    """(Re)create ``table`` with the cpu columns: timestamptz time, text tags, double precision fields.

    The table has no index and no constraint, the cheapest shape to load.
    """
    columns: list[sql.Composable] = [sql.SQL("time timestamptz NOT NULL")]
    columns += [sql.SQL("{} text").format(sql.Identifier(tag)) for tag in TAGS]
    columns += [sql.SQL("{} double precision").format(sql.Identifier(name)) for name in FIELDS]
    with psycopg.connect(conninfo(server), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table),
                                                                   sql.SQL(", ").join(columns)))
