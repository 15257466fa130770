"""The literal-only INSERT fast path: what it accepts, and that it stores what the general path stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.config import Settings, WriterSettings
from gateway.errors import DatatypeMismatch, NotNullViolation, SqlSyntaxError
from gateway.runtime import Runtime
from gateway.session import Session
from gateway.sql.commands.insert_literals import literal_table, match


def test_match_reads_target_columns_and_values() -> None:
    statement = match("insert into db.\"My-m\" (time, \"Host\", v, ok, n) VALUES "
                      "('2024-01-01 00:00:00+00', 'it''s', -1.5e3, TRUE, NULL), ('2024-01-02', 'b', 2, false, 3);")
    assert statement is not None
    assert (statement.database, statement.measurement) == ("db", "My-m")
    assert statement.columns == ["time", "Host", "v", "ok", "n"]
    assert statement.rows == [["2024-01-01 00:00:00+00", "it's", -1500.0, True, None],
                              ["2024-01-02", "b", 2, False, 3]]


@pytest.mark.parametrize("text", [
    "INSERT INTO m VALUES (1)",  # no column list
    "INSERT INTO m (a) VALUES (now())",
    "INSERT INTO m (a) VALUES ('x'::text)",
    "INSERT INTO m (a) VALUES ($1)",
    "INSERT INTO m (a) VALUES (1 + 2)",
    "INSERT INTO m (a) VALUES (1), (2, 3)",
    "INSERT INTO m (a) VALUES (1) RETURNING a",
    "INSERT INTO m (a) VALUES (1); SELECT 1",
    "INSERT INTO m (a) SELECT 1",
    "INSERT INTO m (a) VALUES (1",
    "INSERT INTO m (a) VALUES (1e)",
    "INSERT INTO m (a) VALUES (E'x')",
    "INSERT INTO m (a) VALUES (1) ON CONFLICT DO NOTHING",
])
def test_match_leaves_other_statements(text: str) -> None:
    assert match(text) is None


def test_literal_table_types_columns_like_duckdb() -> None:
    statement = match("INSERT INTO m (time, s, i, f, b, empty) VALUES "
                      "('2024-01-01 01:00:00', 'a', 1, 1, true, NULL), ('2024-01-01T02:00:00+02:00', NULL, 2, 2.5, "
                      "NULL, NULL)")
    table = literal_table(statement)
    assert table.schema.types == [pa.timestamp("us", tz="UTC"), pa.string(), pa.int64(), pa.float64(), pa.bool_(),
                                  pa.null()]
    assert table["time"].to_pylist() == [datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, tzinfo=UTC)]
    assert table["f"].to_pylist() == [1.0, 2.5]


@pytest.mark.parametrize("text", [
    "INSERT INTO m (time) VALUES ('not a time')",
    "INSERT INTO m (time) VALUES (5)",
    "INSERT INTO m (a) VALUES (1), ('x')",
    "INSERT INTO m (a) VALUES (true), (1)",
    "INSERT INTO m (a) VALUES (99999999999999999999)",
])
def test_literal_table_gives_way_when_unsure(text: str) -> None:
    assert literal_table(match(text)) is None


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    settings = Settings(storage_url=str(tmp_path / "store"), http_port=None,
                        writer=WriterSettings(wal_dir=str(tmp_path / "wal")))
    (tmp_path / "store").mkdir()
    runtime = Runtime.start(settings)
    yield Session(runtime, "db", "tester")
    runtime.close()


def _run(session: Session, sql: str) -> list[dict[str, object]]:
    [prepared] = session.execute_simple(sql)
    result = session.run(prepared, [])
    if result.schema is None:
        return [result.tag]
    return [row for batch in result.batches for row in batch.to_pylist()]


def test_fast_and_general_paths_store_the_same(session: Session) -> None:
    rows = "('2024-01-01 00:00:00+00', 'a', 1, 1.5, true), ('2024-01-01 00:00:01', 'b', NULL, 2, NULL)"
    assert _run(session, f"INSERT INTO fast (time, host, n, x, ok) VALUES {rows}") == ["INSERT 0 2"]
    # A cast makes the same rows take the general path through DuckDB.
    general = rows.replace("'a'", "'a'::varchar")
    assert _run(session, f"INSERT INTO general (time, host, n, x, ok) VALUES {general}") == ["INSERT 0 2"]
    columns = "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{}' ORDER BY 1"
    assert _run(session, columns.format("fast")) == _run(session, columns.format("general"))
    assert _run(session, "SELECT * FROM fast ORDER BY time") == _run(session, "SELECT * FROM general ORDER BY time")
    assert _run(session, "SELECT n, x FROM fast ORDER BY time") == [{"n": 1, "x": 1.5}, {"n": None, "x": 2.0}]


def test_fast_path_checks_stored_types(session: Session) -> None:
    _run(session, "INSERT INTO m (time, n) VALUES ('2024-01-01', 1)")
    with pytest.raises(DatatypeMismatch):
        _run(session, "INSERT INTO m (time, n) VALUES ('2024-01-02', 'text')")
    with pytest.raises(NotNullViolation):
        _run(session, "INSERT INTO m (time, n) VALUES (NULL, 2)")
    with pytest.raises(SqlSyntaxError, match="more than once"):
        _run(session, "INSERT INTO m (time, n, N) VALUES ('2024-01-02', 1, 2)")
    assert _run(session, "SELECT count(*) AS c FROM m") == [{"c": 1}]
