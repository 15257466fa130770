"""Reading DELETE statements: the target, the condition as DuckDB SQL, and the statements rejected.

The store contains measurement ``db.cpu`` (time, host, usage) in one hour file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from gateway.engine import Engine
from gateway.errors import GatewayError
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.sql import parse
from gateway.sql.commands.delete_condition import read_delete
from gateway.sql.commands.removal_context import RemovalContext
from gateway.sql.measurements import Measurements
from gateway.storage.local import LocalBackend

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    backend = LocalBackend(tmp_path_factory.mktemp("store"))
    table = pa.table({"time": pa.array([START], TIME_TYPE), "host": ["a"], "usage": [1.0]})
    write_hour_files(backend, "db", "cpu", table)
    return Engine(backend)


def _context(engine: Engine, params: list[object] | None = None) -> RemovalContext:
    return RemovalContext(Measurements(engine), writer=None, engine=engine,  # type: ignore[arg-type]
                          cursor=engine.cursor(), database="db", evaluate=lambda node: None,
                          params=params or [])


def _read(engine: Engine, sql: str, params: list[object] | None = None) -> tuple[str, str, str]:
    tree = parse.parse_one(sql)
    assert isinstance(tree, exp.Delete)
    statement = read_delete(tree, _context(engine, params))
    return statement.database, statement.measurement, parse.to_duckdb(statement.condition)


@pytest.mark.parametrize(("sql", "params", "condition"), [
    ("DELETE FROM cpu WHERE host = 'a'", [], "host = 'a'"),
    ("DELETE FROM db.cpu AS c WHERE c.host = $1 AND db.cpu.usage > $2", ["x", 2],
     "host = 'x' AND usage > 2"),
    ("DELETE FROM ONLY CPU WHERE cpu.usage IS NULL OR NOT host IN ('a', 'b')", [],
     "usage IS NULL OR NOT host IN ('a', 'b')"),
    ("DELETE FROM cpu WHERE time BETWEEN '2024-01-01' AND '2024-01-02'", [],
     "time BETWEEN '2024-01-01' AND '2024-01-02'"),
])
def test_condition_as_duckdb_sql(engine: Engine, sql: str, params: list[object], condition: str) -> None:
    assert _read(engine, sql, params) == ("db", "cpu", condition)


def test_clock_functions_become_constants(engine: Engine) -> None:
    tree = parse.parse_one("DELETE FROM cpu WHERE time < now() - interval '1 day' AND time > current_date")
    assert isinstance(tree, exp.Delete)
    before = datetime.now(UTC)
    statement = read_delete(tree, _context(engine))
    after = datetime.now(UTC)

    constants = {node.to.sql(dialect="duckdb"): parse.to_duckdb(node)
                 for node in statement.condition.find_all(exp.Cast)}
    assert sorted(constants) == ["DATE", "TIMESTAMPTZ"]
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    now = connection.execute(f"SELECT {constants['TIMESTAMPTZ']}").fetchone()
    today = connection.execute(f"SELECT {constants['DATE']}").fetchone()
    assert now is not None and today is not None
    assert before - timedelta(seconds=1) <= now[0] <= after
    assert today[0] in (before.date(), after.date())


@pytest.mark.parametrize(("sql", "sqlstate"), [
    ("DELETE FROM cpu", "0A000"),
    ("DELETE FROM cpu WHERE x.host = 'a'", "42P01"),
    ("DELETE FROM cpu WHERE other.cpu.host = 'a'", "42P01"),
    ("DELETE FROM cpu AS c WHERE m.host = 'a'", "42P01"),
    ("DELETE FROM cpu WHERE host IN (SELECT 'a')", "0A000"),
    ("DELETE FROM cpu WHERE EXISTS (SELECT 1)", "0A000"),
    ("DELETE FROM cpu WHERE usage < random()", "0A000"),
    ("DELETE FROM cpu WHERE host = gen_random_uuid()::text", "0A000"),
    ("DELETE FROM cpu WHERE host IN (SELECT * FROM read_parquet('x'))", "42501"),
    ("DELETE FROM cpu WHERE getenv('HOME') = host", "42501"),
    ("DELETE FROM cpu USING mem WHERE cpu.host = mem.host", "0A000"),
    ("DELETE FROM cpu WHERE true RETURNING host", "0A000"),
    ("WITH x AS (SELECT 1) DELETE FROM cpu WHERE true", "0A000"),
    ("DELETE FROM a.b.cpu WHERE true", "0A000"),
    ("DELETE FROM mem WHERE true", "42P01"),
    ("DELETE FROM nodb.cpu WHERE true", "3D000"),
    ('DELETE FROM "c/../pu" WHERE true', "42602"),
])
def test_rejected_delete(engine: Engine, sql: str, sqlstate: str) -> None:
    with pytest.raises(GatewayError) as excinfo:
        _read(engine, sql)
    assert excinfo.value.sqlstate == sqlstate
