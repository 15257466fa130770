"""One SELECT / SHOW / INSERT session through psycopg, with identical results on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from tests.e2e.gateway_process import GatewayProcess


def _connect(gateway: GatewayProcess, database: str = "telemetry") -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sqlstate(connection: psycopg.Connection, query: str) -> str | None:
    with pytest.raises(psycopg.Error) as excinfo:
        connection.execute(query)
    return excinfo.value.sqlstate


def _count(connection: psycopg.Connection) -> int:
    row = connection.execute("SELECT count(*) FROM cpu").fetchone()
    assert row is not None
    return int(row[0])


def test_insert_then_select_and_show(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        assert connection.execute("SHOW DATABASES").fetchall() == []

        first = connection.execute(
            "INSERT INTO cpu (time, host, usage) VALUES "
            "('2024-01-01 10:15:00+00', 'a', 1.5), ('2024-01-01 10:45:00', 'b', 2), "
            "('2024-01-01 11:05:00', 'a', 3.25)"
        )
        assert first.statusmessage == "INSERT 0 3"
        second = connection.execute("INSERT INTO cpu (time, host, idle) VALUES ('2024-01-01 12:00:00', 'c', 7)")
        assert second.statusmessage == "INSERT 0 1"

        assert connection.execute("SHOW DATABASES").fetchall() == [("telemetry",)]
        assert connection.execute("SHOW TABLES").fetchall() == [("cpu",)]
        assert connection.execute("SHOW MEASUREMENTS FROM telemetry").fetchall() == [("cpu",)]
        assert connection.execute("SHOW COLUMNS FROM telemetry.cpu").fetchall() == [
            ("time", "TIMESTAMP WITH TIME ZONE"), ("host", "VARCHAR"), ("idle", "BIGINT"), ("usage", "DOUBLE"),
        ]

        cursor = connection.execute("SELECT * FROM cpu ORDER BY time")
        assert [column.name for column in cursor.description] == ["time", "host", "idle", "usage"]
        assert cursor.fetchall() == [
            (_at("2024-01-01 10:15:00"), "a", None, 1.5),
            (_at("2024-01-01 10:45:00"), "b", None, 2.0),
            (_at("2024-01-01 11:05:00"), "a", None, 3.25),
            (_at("2024-01-01 12:00:00"), "c", 7, None),
        ]
        hour = connection.execute(
            "SELECT host, usage FROM telemetry.cpu WHERE time >= '2024-01-01 10:00' "
            "AND time < '2024-01-01 11:00' ORDER BY host"
        ).fetchall()
        assert hour == [("a", 1.5), ("b", 2.0)]


def test_pruning_reads_one_hour(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        for hour in range(5):
            connection.execute(
                sql.SQL("INSERT INTO cpu (time, usage) VALUES ({}, {})").format(
                    f"2024-02-01 {hour:02d}:30:00+00", float(hour))
            )
        connection.execute("CHECKPOINT")  # flush the buffered rows: one file per hour
        plan = [row[0] for row in connection.execute(
            "EXPLAIN SELECT * FROM cpu WHERE time >= '2024-02-01 02:00' AND time < '2024-02-01 03:00'"
        )]
        assert plan[0] == "Lakegate scan telemetry.cpu: 1 of 5 files, 1 partitions"
        assert plan[1] == "  partition telemetry/cpu/2024/02/01/02"
        rows = connection.execute(
            "SELECT usage FROM cpu WHERE time >= '2024-02-01 02:00' AND time < '2024-02-01 03:00'"
        ).fetchall()
        assert rows == [(2.0,)]
        open_end = [row[0] for row in connection.execute("EXPLAIN SELECT * FROM cpu WHERE time <= '2024-02-01 01:30'")]
        assert open_end[0] == "Lakegate scan telemetry.cpu: 2 of 5 files, 2 partitions"


def test_errors_keep_connection_usable(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        connection.execute("INSERT INTO cpu (time, usage) VALUES ('2024-01-01 00:00:00', 1.0)")
        assert _sqlstate(connection, "SELECT * FROM nosuch") == "42P01"
        assert _sqlstate(connection, "SELEC 1") == "42601"
        assert _sqlstate(connection, "SELECT nocolumn FROM cpu") == "42703"
        assert _sqlstate(connection, 'SELECT * FROM "../x"') == "42602"
        assert _sqlstate(connection, 'SELECT * FROM "a/b"') == "42602"
        assert _sqlstate(connection, "SELECT * FROM nodb.cpu") == "3D000"
        assert _sqlstate(connection, "SHOW COLUMNS FROM nodb.cpu") == "3D000"
        assert _sqlstate(connection, "SHOW TABLES FROM nodb") == "3D000"
        assert _sqlstate(connection, "SELECT 'abc'::integer") == "22P02"
        assert _sqlstate(connection, "UPDATE cpu SET usage = 1") == "0A000"
        assert connection.execute("SELECT count(*) FROM cpu").fetchone() == (1,)


def test_errors_while_streaming_keep_sqlstate(gateway: GatewayProcess) -> None:
    # The errors come after millions of rows, once the result streams: DuckDB
    # then raises them through its Arrow reader, as OSError text (was XX000).
    # Now and then another of DuckDB's threads reports "Interrupted" in place
    # of the error, which the gateway can only pass on as 57014.
    failing_late = "SELECT CASE WHEN range > 5000000 THEN {} ELSE range END FROM range(10000000) LIMIT 9000000"
    with _connect(gateway) as connection:
        first = _streaming_error(connection, failing_late.format("error('late failure')"))
        assert first in (("22023", "late failure"), ("57014", "interrupted"))

        # The failed result is over: the next statement gets its own error, not the first one again.
        second = _streaming_error(connection, failing_late.format("('x' || range)::INTEGER"))
        assert second in (("22P02", "could not convert string 'x5000001' to INT32"), ("57014", "interrupted"))
        assert connection.execute("SELECT 1").fetchone() == (1,)


def _streaming_error(connection: psycopg.Connection, query: str) -> tuple[str | None, str]:
    with pytest.raises(psycopg.Error) as excinfo:
        connection.execute(query)
    return excinfo.value.sqlstate, excinfo.value.diag.message_primary or ""


def test_bad_inserts_change_nothing(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        connection.execute("INSERT INTO cpu (time, host, usage) VALUES ('2024-01-01 00:00:00', 'a', 1.0)")
        assert _sqlstate(connection, "INSERT INTO cpu (time, usage) VALUES ('not a time', 2.0)") == "22007"
        assert _sqlstate(connection, "INSERT INTO cpu (time, usage) VALUES ('2024-01-01', 'text')") == "42804"
        assert _sqlstate(connection, "INSERT INTO cpu (time, usage) VALUES (NULL, 2.0)") == "23502"
        assert _sqlstate(connection, "INSERT INTO cpu (time, usage) VALUES ('2024-01-01', 2.0, 3)") == "42601"
        assert _sqlstate(connection, 'INSERT INTO "../evil" (time, v) VALUES (now(), 1)') == "42602"
        assert _sqlstate(connection, "INSERT INTO newm VALUES (now(), 1)") == "42601"
        assert _count(connection) == 1
        assert connection.execute("SHOW TABLES").fetchall() == [("cpu",)]


def test_sandbox_rejects_file_access(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        for query in [
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM read_parquet('s3://other-bucket/x.parquet')",
            "SELECT getenv('HOME')",
            "SELECT * FROM read_text('/etc/passwd')",
            "SELECT * FROM parquet_metadata('/etc/passwd')",
            "SELECT * FROM duckdb_secrets()",
        ]:
            assert _sqlstate(connection, query) == "42501", query
        for query in ["ATTACH '/tmp/x.db' AS x", "INSTALL spatial", "LOAD httpfs",
                      "COPY (SELECT 1) TO '/tmp/lakegate-out.csv'", "SET enable_external_access = true"]:
            with pytest.raises(psycopg.Error) as excinfo:
                connection.execute(query)
            assert excinfo.value.sqlstate == "42501", query
        assert _sqlstate(connection, "SELECT * FROM '/etc/passwd'") == "42602"
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_create_database_listed(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        assert connection.execute("CREATE DATABASE metrics").statusmessage == "CREATE DATABASE"
        assert connection.execute("CREATE SCHEMA IF NOT EXISTS metrics").statusmessage == "CREATE SCHEMA"
        assert _sqlstate(connection, "CREATE DATABASE metrics") == "42P06"
        assert _sqlstate(connection, 'CREATE DATABASE "bad/name"') == "42602"
        assert connection.execute("SHOW DATABASES").fetchall() == [("metrics",)]
        assert connection.execute("SHOW TABLES FROM metrics").fetchall() == []


def test_join_across_databases(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        connection.execute("INSERT INTO cpu (time, host, usage) VALUES "
                           "('2024-03-01 10:00', 'a', 1.0), ('2024-03-01 11:00', 'b', 2.0)")
        connection.execute("INSERT INTO inventory.hosts (time, host, rack) VALUES "
                           "('2024-03-01 00:00', 'a', 'r1'), ('2024-03-01 00:00', 'c', 'r3')")
        inner = connection.execute(
            "SELECT c.host, h.rack FROM cpu c JOIN inventory.hosts h ON c.host = h.host"
        ).fetchall()
        assert inner == [("a", "r1")]
        full = connection.execute(
            "SELECT coalesce(c.host, h.host) AS host, c.usage, h.rack FROM telemetry.cpu c "
            "FULL JOIN inventory.hosts h ON c.host = h.host ORDER BY 1"
        ).fetchall()
        assert full == [("a", 1.0, "r1"), ("b", 2.0, None), ("c", None, "r3")]
        ranked = connection.execute(
            "WITH u AS (SELECT host, usage FROM cpu) "
            "SELECT host, rank() OVER (ORDER BY usage DESC) FROM u "
            "WHERE host IN (SELECT host FROM inventory.hosts) OR usage > 1 ORDER BY host"
        ).fetchall()
        assert ranked == [("a", 2), ("b", 1)]
