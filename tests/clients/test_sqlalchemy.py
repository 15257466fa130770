"""SQLAlchemy 2 with the psycopg and psycopg2 dialects, against the gateway and PostgreSQL.

Connecting runs the dialect's ``initialize()``: ``pg_catalog.version()``,
``current_schema()``, ``show transaction isolation level``, ``show
standard_conforming_strings`` and a probe for the hstore type. The tests
use textual SQL, Core constructs over a Table declared in Python, and the
Inspector calls for which the gateway returns what PostgreSQL returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.clients.servers import (
    CANCEL_AFTER,
    COLUMNS,
    ROWS,
    Server,
    sqlalchemy_engines,
)

DRIVERS = ["psycopg", "psycopg2"]

metadata = sa.MetaData()
m = sa.Table(
    "m", metadata,
    sa.Column("time", sa.DateTime(timezone=True)),
    sa.Column("host", sa.Text),
    sa.Column("samples", sa.BigInteger),
    sa.Column("usage", sa.Double),
)


@pytest.fixture(params=DRIVERS)
def engines(request: pytest.FixtureRequest, gateway: Server, oracle: Server) -> Iterator[dict[str, sa.Engine]]:
    with sqlalchemy_engines(request.param, gateway, oracle) as built:
        yield built


def _sqlstate(error: BaseException | None) -> str | None:
    """Return the SQLSTATE of a psycopg (``sqlstate``) or psycopg2 (``pgcode``) error."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def _as_bytes(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(bytes(value) if isinstance(value, memoryview) else value for value in row)


def test_connect_reads_server_version(engines: dict[str, sa.Engine]) -> None:
    for name, engine in engines.items():
        with engine.connect():
            assert engine.dialect.server_version_info is not None
            assert engine.dialect.server_version_info[0] == 15, name


def test_text_query_rows(engines: dict[str, sa.Engine]) -> None:
    for name, engine in engines.items():
        with engine.connect() as connection:
            result = connection.execute(sa.text("SELECT * FROM m ORDER BY time"))
            assert [_as_bytes(tuple(row)) for row in result] == ROWS, name


def test_text_query_parameters(engines: dict[str, sa.Engine]) -> None:
    query = sa.text("SELECT host, samples FROM m WHERE samples > :n AND host <> :host ORDER BY time")
    for name, engine in engines.items():
        with engine.connect() as connection:
            assert connection.execute(query, {"n": 0, "host": "zeta"}).all() == [("alpha", 42)], name


def test_core_select(engines: dict[str, sa.Engine]) -> None:
    since = datetime(2024, 1, 1, 1, tzinfo=UTC)
    query = sa.select(m.c.host, m.c.usage).where(m.c.time >= since, m.c.samples.is_not(None)).order_by(m.c.time)
    for name, engine in engines.items():
        with engine.connect() as connection:
            assert connection.execute(query).all() == [('beta, "quoted"', -1.5e20)], name
            assert connection.execute(sa.select(sa.func.count()).select_from(m)).scalar_one() == 3, name


def test_core_insert(engines: dict[str, sa.Engine], scratch_table: str) -> None:
    schema, name = scratch_table.split(".")
    table = sa.Table(name, sa.MetaData(), sa.Column("time", sa.DateTime(timezone=True)),
                     sa.Column("v", sa.BigInteger), schema=schema)
    rows = [{"time": datetime(2024, 3, 1, tzinfo=UTC), "v": 1}, {"time": datetime(2024, 3, 1, 1, tzinfo=UTC), "v": 2}]
    rowcounts = {}
    for server_name, engine in engines.items():
        with engine.begin() as connection:
            rowcounts[server_name] = connection.execute(sa.insert(table).values(rows)).rowcount
        with engine.connect() as connection:
            inserted = connection.execute(sa.text(f"SELECT v FROM {scratch_table} ORDER BY time"))
            assert inserted.scalars().all() == [1, 2], server_name
    # SQLAlchemy 2.1 reports -1 (unknown) with psycopg 3 and 2 with psycopg2.
    assert rowcounts["gateway"] == rowcounts["postgresql"]


def test_inspector(engines: dict[str, sa.Engine]) -> None:
    for name, engine in engines.items():
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert inspector.has_table("m"), name
            assert not inspector.has_table("nosuch"), name
            assert inspector.get_view_names() == [], name
            assert inspector.get_pk_constraint("m") == {"name": None, "constrained_columns": []}, name
            assert inspector.get_indexes("m") == [], name
            assert inspector.get_foreign_keys("m") == [], name
            assert inspector.get_table_comment("m") == {"text": None}, name


def test_inspector_columns(engines: dict[str, sa.Engine]) -> None:
    # NOTE: without nullable, because the gateway reports time as nullable
    # where the oracle's column is NOT NULL, like the gateway's time.
    expected = [("time", "TIMESTAMP"), ("day", "DATE"), ("healthy", "BOOLEAN"), ("host", "TEXT"),
                ("levels", "ARRAY"), ("payload", "BYTEA"), ("samples", "BIGINT"), ("shift_start", "TIME"),
                ("usage", "DOUBLE PRECISION"), ("wall_clock", "TIMESTAMP")]
    for name, engine in engines.items():
        with engine.connect() as connection:
            columns = sa.inspect(connection).get_columns("m")
            assert [(column["name"], str(column["type"])) for column in columns] == expected, name
            assert columns[0]["type"].timezone, name


def test_table_autoload(gateway: Server, oracle: Server) -> None:
    # NOTE: psycopg2 only, because with psycopg 3 the gateway fails the
    # table-options query, which binds current_setting($1) on the server (42601).
    with sqlalchemy_engines("psycopg2", gateway, oracle) as engines:
        for name, engine in engines.items():
            with engine.connect() as connection:
                table = sa.Table("m", sa.MetaData(), autoload_with=connection)
                assert [column.name for column in table.columns] == list(COLUMNS), name


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("SELECT * FROM nosuch", "42P01"),
    ("SELEC 1", "42601"),
    ("SELECT nosuch FROM m", "42703"),
])
def test_error_then_recovery(engines: dict[str, sa.Engine], query: str, sqlstate: str) -> None:
    for name, engine in engines.items():
        with engine.connect() as connection:
            with pytest.raises(sa.exc.ProgrammingError) as excinfo:
                connection.execute(sa.text(query))
            assert _sqlstate(excinfo.value.orig) == sqlstate, name
            connection.rollback()
            assert connection.execute(sa.text("SELECT count(*) FROM m")).scalar_one() == 3, name


def test_cancel(engines: dict[str, sa.Engine], gateway: Server, oracle: Server) -> None:
    long_queries = {gateway.name: gateway.long_query, oracle.name: oracle.long_query}
    for name, engine in engines.items():
        with engine.connect() as connection:
            driver_connection = connection.connection.dbapi_connection
            assert driver_connection is not None
            timer = threading.Timer(CANCEL_AFTER, driver_connection.cancel)
            timer.start()
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError) as excinfo:
                connection.execute(sa.text(long_queries[name]))
            timer.join()

            assert _sqlstate(excinfo.value.orig) == "57014", name
            assert time.monotonic() - started < CANCEL_AFTER + 10, name
            connection.rollback()
            assert connection.execute(sa.text("SELECT count(*) FROM m")).scalar_one() == 3, name
