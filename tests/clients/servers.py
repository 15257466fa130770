"""The two servers every client test talks to, and the data both contain.

The gateway and the PostgreSQL 15 reference server ("the oracle") each
contain database ``telemetry`` with measurement ``m``, a table on the
oracle. ``m`` has one column per type the gateway stores and reads back, in
the gateway's column order (``time`` first, then alphabetical), and the rows
in ``ROWS``. A scenario
runs against both, and the test asserts the expected result on each, so
that a difference shows which side departs from PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import psycopg
import sqlalchemy as sa

DATABASE = "telemetry"
USER = "tester"
MEASUREMENT = "m"

# NOTE: no UBIGINT column, because the gateway stores one but then fails
# every SELECT of the measurement (XX000), and no interval column, because
# an INSERT of an interval fails (XX000).
COLUMNS = ("time", "day", "healthy", "host", "levels", "payload", "samples", "shift_start", "usage", "wall_clock")
ORACLE_TYPES = ("timestamptz NOT NULL", "date", "boolean", "text", "integer[]", "bytea", "bigint",
                "time", "double precision", "timestamp")

# Ordered by time. The second row has the edge values: a string with a comma
# and quotes, an empty bytea, a fractional second and a float in exponent
# form. The third is NULL in every column but time.
ROWS: list[tuple[object, ...]] = [
    (datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 1), True, "alpha", [1, 2], b"\x00\xff", 42,
     time(8, 30), 0.5, datetime(2024, 1, 1, 9, 0)),
    (datetime(2024, 1, 1, 1, 30, 0, 250000, tzinfo=UTC), date(2023, 12, 31), False, 'beta, "quoted"', [3], b"",
     -7, time(23, 59, 59, 500000), -1.5e20, datetime(2023, 12, 31, 23, 59, 59, 123456)),
    (datetime(2024, 1, 2, tzinfo=UTC), None, None, None, None, None, None, None, None, None),
]

# psql -At output of SELECT * FROM m ORDER BY time, identical on both servers.
ROWS_TEXT = [
    "2024-01-01 00:00:00+00|2024-01-01|t|alpha|{1,2}|\\x00ff|42|08:30:00|0.5|2024-01-01 09:00:00",
    '2024-01-01 01:30:00.25+00|2023-12-31|f|beta, "quoted"|{3}|\\x|-7|23:59:59.5|-1.5e+20|2023-12-31 23:59:59.123456',
    "2024-01-02 00:00:00+00|||||||||",
]

# Values whose text spelling clients see unparsed, and PostgreSQL 15's
# spelling of each (None is SQL NULL).
TEXT_SPELLINGS_QUERY = "SELECT 1.5::float8, true, '2024-01-01 00:00:00+00'::timestamptz, interval '1 day 2 hours', NULL"
TEXT_SPELLINGS = ("1.5", "t", "2024-01-01 00:00:00+00", "1 day 02:00:00", None)

# Seconds a long query runs before the test cancels it.
CANCEL_AFTER = 1.0


@dataclass(frozen=True)
class Server:
    """A server on 127.0.0.1 that the clients connect to as ``tester`` without a password.

    ``long_query`` runs for minutes unless cancelled: DuckDB SQL on the
    gateway, ``pg_sleep`` on PostgreSQL.
    """

    name: str
    port: int
    long_query: str
    host: str = "127.0.0.1"
    user: str = USER
    database: str = DATABASE

    def dsn(self, database: str | None = None) -> str:
        """Return a libpq connection string."""
        return f"host={self.host} port={self.port} user={self.user} dbname={database or self.database}"

    def sqlalchemy_url(self, driver: str) -> str:
        """Return a SQLAlchemy URL for ``driver`` (``psycopg``, ``psycopg2``, ``pg8000``)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{self.database}"

    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}?user={self.user}"

    def connect(self) -> psycopg.Connection:
        """Open an autocommit psycopg connection to ``telemetry``."""
        return psycopg.connect(self.dsn(), autocommit=True)

    def __str__(self) -> str:
        return self.name


GATEWAY_LONG_QUERY = "SELECT count(*) FROM range(10000000000) a, range(1000) b"
ORACLE_LONG_QUERY = "SELECT pg_sleep(600)"


def insert_rows_statement(blob_literal: Callable[[bytes], str]) -> str:
    """Return ``INSERT INTO m (...) VALUES ...`` for ``ROWS``, spelling bytea values with ``blob_literal``."""
    rows = ", ".join("(" + ", ".join(_literal(value, blob_literal) for value in row) + ")" for row in ROWS)
    return f"INSERT INTO {MEASUREMENT} ({', '.join(COLUMNS)}) VALUES {rows}"


def gateway_blob(data: bytes) -> str:
    """Spell a BLOB literal in DuckDB's escape syntax, which the gateway passes through."""
    return "'" + "".join(f"\\x{byte:02X}" for byte in data) + "'::BLOB"


def oracle_bytea(data: bytes) -> str:
    return f"'\\x{data.hex()}'::bytea"


def _literal(value: object, blob_literal: Callable[[bytes], str]) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return blob_literal(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(item, blob_literal) for item in value) + "]"
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'" if value.tzinfo else f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, time):
        return f"TIME '{value.isoformat()}'"
    raise TypeError(f"no SQL literal for {value!r}")


def load_gateway(server: Server) -> None:
    """Write ``ROWS`` into measurement ``m`` through the gateway's INSERT."""
    with server.connect() as connection:
        tag = connection.execute(insert_rows_statement(gateway_blob)).statusmessage
        assert tag == f"INSERT 0 {len(ROWS)}"


def load_oracle(server: Server) -> None:
    """Create database ``telemetry`` with table ``m`` holding ``ROWS``, and schema ``scratch``."""
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
    columns = ", ".join(f"{name} {kind}" for name, kind in zip(COLUMNS, ORACLE_TYPES, strict=True))
    with server.connect() as connection:
        connection.execute(f"CREATE TABLE {MEASUREMENT} ({columns})")
        connection.execute(insert_rows_statement(oracle_bytea))
        connection.execute("CREATE SCHEMA scratch")


def create_scratch_table(oracle: Server) -> str:
    """Create ``scratch.<new name> (time timestamptz, v bigint)`` on the oracle and return its qualified name."""
    name = f"scratch.t{uuid.uuid4().hex[:12]}"
    with oracle.connect() as connection:
        connection.execute(f"CREATE TABLE {name} (time timestamptz NOT NULL, v bigint)")
    return name


@contextmanager
def sqlalchemy_engines(driver: str, *servers: Server) -> Iterator[dict[str, sa.Engine]]:
    """Yield a SQLAlchemy engine without connection pooling per server name, and dispose of them after."""
    built = {server.name: sa.create_engine(server.sqlalchemy_url(driver), poolclass=sa.NullPool) for server in servers}
    try:
        yield built
    finally:
        for engine in built.values():
            engine.dispose()
