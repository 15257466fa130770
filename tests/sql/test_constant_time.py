"""Timestamp literals read in Python give the same instant as DuckDB's cast, or are left to DuckDB."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
import sqlglot

from gateway.sql import parse
from gateway.sql.constant_time import EPOCH, written_timestamp

CASES = [
    "'2024-01-01 00:10:00+00'", "'2024-01-01'", "'2024-01-01T00:10:00Z'", "'2024-01-01 00:10'",
    "'2024-01-01 00:10:00.5-05:30'", "'2024-01-01 00:10:00+0130'", "'2024-01-01 23:59:59.999999'",
    "TIMESTAMPTZ '2024-03-01 10:00:00+02'", "TIMESTAMP '2024-03-01 10:00:00'", "'2024-01-01'::date",
    "CAST('1999-12-31 23:00:00-01' AS TIMESTAMPTZ)",
]
LEFT_TO_DUCKDB = [
    "'2024-01-01 10:00'::date", "TIMESTAMP '2024-03-01 10:00:00+02'", "'2024-02-30'", "'yesterday'",
    "now()", "'2024-01-01 00:10:00+00' || ''", "'20240101'",
]


@pytest.fixture(scope="module")
def cursor() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _node(text: str) -> sqlglot.exp.Expression:
    return sqlglot.parse_one(f"SELECT {text}", read="postgres").expressions[0]


@pytest.mark.parametrize("text", CASES)
def test_python_reading_matches_duckdb(text: str, cursor: duckdb.DuckDBPyConnection) -> None:
    node = _node(text)
    row = cursor.execute(f"SELECT epoch_us(CAST(({parse.to_duckdb(node)}) AS TIMESTAMPTZ))").fetchone()
    assert row is not None
    assert written_timestamp(node) == EPOCH + timedelta(microseconds=row[0])


@pytest.mark.parametrize("text", LEFT_TO_DUCKDB)
def test_other_expressions_are_left_to_duckdb(text: str) -> None:
    assert written_timestamp(_node(text)) is None
