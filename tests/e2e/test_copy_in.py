"""COPY ... FROM STDIN in text and CSV format on every backend, with psycopg and psql."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess


def _connect(gateway: GatewayProcess) -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True)


def _copy_in(connection: psycopg.Connection, statement: str, data: bytes) -> None:
    with connection.cursor().copy(statement) as copy:
        copy.write(data)


def test_copy_text_and_csv(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        _copy_in(connection, "COPY cpu (time, host, usage) FROM STDIN",
                 b"2024-01-01 00:00:00+00\ttab\\there\t1.5\n2024-01-01 01:00:00+00\tb\t\\N\n")
        _copy_in(connection, "COPY cpu (time, host, usage) FROM STDIN WITH (FORMAT csv, HEADER, QUOTE '''')",
                 b"time,host,usage\n2024-01-02T00:00:00Z,'c, d',2\n")
        rows = connection.execute("SELECT time, host, usage FROM cpu ORDER BY time").fetchall()
        assert rows == [
            (datetime(2024, 1, 1, tzinfo=UTC), "tab\there", 1.5),
            (datetime(2024, 1, 1, 1, tzinfo=UTC), "b", None),
            (datetime(2024, 1, 2, tzinfo=UTC), "c, d", 2.0),
        ]
        columns = dict(connection.execute("SHOW COLUMNS FROM cpu").fetchall())
        assert columns == {"time": "TIMESTAMP WITH TIME ZONE", "host": "VARCHAR", "usage": "DOUBLE"}


def test_copy_rows_through_psycopg_write_row(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        with connection.cursor().copy("COPY mem (time, free) FROM STDIN") as copy:
            for minute in range(120):
                copy.write_row((datetime(2024, 1, 1, minute // 60, minute % 60, tzinfo=UTC), minute))
        assert connection.execute("SELECT count(*), sum(free) FROM mem").fetchone() == (120, 7140)
        plan = connection.execute("EXPLAIN SELECT * FROM mem").fetchall()
        assert plan[0] == ("Lakegate scan telemetry.mem: 0 of 0 files, 0 partitions, 120 buffered rows",)
        connection.execute("CHECKPOINT")
        assert connection.execute("SELECT count(*), sum(free) FROM mem").fetchone() == (120, 7140)
        plan = connection.execute("EXPLAIN SELECT * FROM mem").fetchall()
        assert plan[0] == ("Lakegate scan telemetry.mem: 2 of 2 files, 2 partitions",)


def test_bad_copy_keeps_nothing(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        _copy_in(connection, "COPY cpu (time, usage) FROM STDIN", b"2024-01-01 00:00:00+00\t1\n")
        with pytest.raises(psycopg.errors.BadCopyFileFormat) as excinfo:
            _copy_in(connection, "COPY cpu (time, usage) FROM STDIN",
                     b"2024-01-02 00:00:00+00\t2\n2024-01-02 01:00:00+00\t3\textra\n")
        assert excinfo.value.diag.message_primary == "extra data after last expected column"
        assert excinfo.value.diag.message_detail == "COPY cpu, line 2"
        with pytest.raises(psycopg.errors.BadCopyFileFormat):
            _copy_in(connection, "COPY cpu (time, usage) FROM STDIN", b"yesterday\t2\n")
        with pytest.raises(psycopg.errors.BadCopyFileFormat):
            _copy_in(connection, "COPY cpu (time, usage) FROM STDIN", b"2024-01-02 00:00:00+00\tnot a number\n")
        with pytest.raises(psycopg.errors.QueryCanceled):
            with connection.cursor().copy("COPY cpu (time, usage) FROM STDIN") as copy:
                copy.write(b"2024-01-03 00:00:00+00\t4\n")
                raise psycopg.errors.QueryCanceled("client gave up")
        with pytest.raises(psycopg.errors.InvalidName):
            _copy_in(connection, 'COPY "../x" (time) FROM STDIN', b"")
        with pytest.raises(psycopg.errors.SyntaxError):
            _copy_in(connection, "COPY newm FROM STDIN", b"")
        assert connection.execute("SELECT time, usage FROM cpu").fetchall() == [(datetime(2024, 1, 1, tzinfo=UTC), 1.0)]


def test_psql_backslash_copy_from_file(local_gateway: GatewayProcess, tmp_path: Path) -> None:
    psql = shutil.which("psql")
    assert psql is not None
    data = tmp_path / "rows.csv"
    data.write_text("time,host,usage\n2024-05-01 00:00:00+00,a,0.5\n2024-05-01 00:10:00+00,b,0.75\n")
    result = subprocess.run(
        [psql, "-X", "-h", "127.0.0.1", "-p", str(local_gateway.port), "-U", "tester", "-d", "telemetry",
         "-c", rf"\copy cpu (time, host, usage) from '{data}' csv header",
         "-c", "SELECT host, usage FROM cpu ORDER BY time"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "COPY 2"
    assert "a    |   0.5" in result.stdout


def test_copy_csv_options_through_psycopg(local_gateway: GatewayProcess) -> None:
    with _connect(local_gateway) as connection:
        _copy_in(connection,
                 "COPY notes (time, host, note, usage) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER '|', NULL 'NULL')",
                 b'time|host|note|usage\n'
                 b'2024-01-01 00:00:00+00|a|"x|y\nz"|1.5\n'
                 b'2024-01-01 02:00:00+01:00|NULL|"say ""hi"""|NULL\n'
                 b'2024-01-01T02:00:00Z|c|plain|-2\n'
                 b'\\.\n')
        rows = connection.execute("SELECT time, host, note, usage FROM notes ORDER BY time").fetchall()
        assert rows == [
            (datetime(2024, 1, 1, tzinfo=UTC), "a", "x|y\nz", 1.5),
            (datetime(2024, 1, 1, 1, tzinfo=UTC), None, 'say "hi"', None),
            (datetime(2024, 1, 1, 2, tzinfo=UTC), "c", "plain", -2.0),
        ]
        columns = dict(connection.execute("SHOW COLUMNS FROM notes").fetchall())
        assert columns == {"time": "TIMESTAMP WITH TIME ZONE", "host": "VARCHAR", "note": "VARCHAR",
                           "usage": "DOUBLE"}


def test_copy_text_custom_delimiter_and_null(local_gateway: GatewayProcess) -> None:
    with _connect(local_gateway) as connection:
        _copy_in(connection, "COPY mem (time, host, free) FROM STDIN WITH (DELIMITER ',', NULL '-')",
                 b"2024-01-01 00:00:00,a,-\n2024-01-01 00:00:10,-,7\n")
        rows = connection.execute("SELECT time, host, free FROM mem ORDER BY time").fetchall()
        assert rows == [(datetime(2024, 1, 1, tzinfo=UTC), "a", None),
                        (datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC), None, 7)]
        columns = dict(connection.execute("SHOW COLUMNS FROM mem").fetchall())
        assert columns == {"time": "TIMESTAMP WITH TIME ZONE", "host": "VARCHAR", "free": "BIGINT"}


def test_copy_empty_data_stores_nothing(local_gateway: GatewayProcess) -> None:
    with _connect(local_gateway) as connection:
        _copy_in(connection, "COPY cpu (time, usage) FROM STDIN", b"2024-01-01 00:00:00+00\t1\n")
        cursor = connection.cursor()
        with cursor.copy("COPY cpu (time, usage) FROM STDIN WITH (FORMAT csv)"):
            pass
        assert cursor.rowcount == 0
        assert connection.execute("SELECT count(*) FROM cpu").fetchone() == (1,)


def _usage_rows(count: int) -> bytes:
    return b"".join(b"2024-01-01T%02d:%02d:%02d+00,host_%d,%d.25\n"
                    % (number // 3600 % 24, number // 60 % 60, number % 60, number % 10, number)
                    for number in range(count))


def test_large_copy_and_its_errors(local_gateway: GatewayProcess) -> None:
    statement = "COPY cpu (time, host, usage) FROM STDIN WITH (FORMAT csv)"
    with _connect(local_gateway) as connection:
        cursor = connection.cursor()
        with cursor.copy(statement) as copy:
            copy.write(_usage_rows(50_000))
        assert cursor.rowcount == 50_000

        bad_line = _usage_rows(39_999) + b"2024-01-02T00:00:00+00,host_1,1.5,extra\n" + _usage_rows(10_000)
        with pytest.raises(psycopg.errors.BadCopyFileFormat) as excinfo:
            _copy_in(connection, statement, bad_line)
        assert excinfo.value.diag.message_primary == "extra data after last expected column"
        assert excinfo.value.diag.message_detail == "COPY cpu, line 40000"

        bad_value = _usage_rows(20_000) + b"2024-01-02T00:00:00+00,host_1,abc\n"
        with pytest.raises(psycopg.errors.BadCopyFileFormat) as excinfo:
            _copy_in(connection, statement, bad_value)
        assert excinfo.value.diag.message_primary == (
            "invalid input for column \"usage\" of measurement \"cpu\": could not convert string to float: 'abc'")

        count, total = connection.execute("SELECT count(*), sum(usage) FROM cpu").fetchone()
        assert count == 50_000
        assert total == sum(number + 0.25 for number in range(50_000))
