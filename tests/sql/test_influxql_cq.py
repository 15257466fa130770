"""InfluxQL continuous query SELECTs translated to SQL, checked by running both sides in DuckDB.

Each case pairs an InfluxQL statement (the text between BEGIN and END) with
a SQL query written by hand for the same result. The translation runs over
table ``cpu`` in an in-memory DuckDB and must return the same rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from gateway.errors import GatewayError
from gateway.sql import parse
from gateway.sql.influxql_cq import translate

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cpu() -> duckdb.DuckDBPyConnection:
    """Rows every 7 minutes for 10 hours, hosts a, b, c in turn, usage NULL on every 5th row."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE TABLE cpu (time TIMESTAMPTZ, host VARCHAR, region VARCHAR, usage DOUBLE, "
                       "idle BIGINT)")
    rows = [(START + timedelta(minutes=7 * i), "abc"[i % 3], "east" if i % 2 else "west",
             None if i % 5 == 0 else float(i % 13) + 0.25, 100 - i) for i in range(86)]
    connection.executemany("INSERT INTO cpu VALUES (?, ?, ?, ?, ?)", rows)
    return connection


CASES = [
    pytest.param(
        "SELECT mean(usage) AS usage INTO cpu_1h FROM cpu GROUP BY time(1h)",
        "SELECT time_bucket(INTERVAL '1 hour', time) AS time, avg(usage) AS usage FROM cpu GROUP BY 1",
        "cpu_1h", timedelta(hours=1), id="mean with alias"),
    pytest.param(
        "SELECT mean(usage), count(usage), sum(idle), min(usage), max(idle) INTO db.cpu_30m FROM cpu "
        "GROUP BY time(30m), host",
        "SELECT time_bucket(INTERVAL '30 minutes', time) AS time, host, avg(usage) AS mean, "
        "count(usage) AS count, sum(idle) AS sum, min(usage) AS min, max(idle) AS max FROM cpu GROUP BY 1, 2",
        "db.cpu_30m", timedelta(minutes=30), id="names from functions"),
    pytest.param(
        "SELECT first(usage), last(usage), first(idle) AS opening INTO cpu_2h FROM cpu GROUP BY time(2h), host",
        "SELECT time_bucket(INTERVAL '2 hours', time) AS time, host, "
        "arg_min(usage, time) FILTER (WHERE usage IS NOT NULL) AS first, "
        "arg_max(usage, time) FILTER (WHERE usage IS NOT NULL) AS last, "
        "arg_min(idle, time) AS opening FROM cpu GROUP BY 1, 2",
        "cpu_2h", timedelta(hours=2), id="first and last"),
    pytest.param(
        "SELECT mean(usage), mean(idle) INTO cpu_1h FROM cpu WHERE host = 'a' OR region = 'east' "
        "GROUP BY time(1h), \"region\" fill(none)",
        "SELECT time_bucket(INTERVAL '1 hour', time) AS time, region, avg(usage) AS mean, avg(idle) AS mean_1 "
        "FROM cpu WHERE host = 'a' OR region = 'east' GROUP BY 1, 2",
        "cpu_1h", timedelta(hours=1), id="where, quoted tag, repeated function, fill none"),
    pytest.param(
        "SELECT count(usage) AS n INTO cpu_1w FROM cpu GROUP BY time(1w)",
        "SELECT time_bucket(INTERVAL '7 days', time, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS time, "
        "count(usage) AS n FROM cpu GROUP BY 1",
        "cpu_1w", timedelta(weeks=1), id="week buckets start at the epoch's weekday"),
    pytest.param(
        "SELECT max(usage) AS peak INTO cpu_90m FROM cpu GROUP BY host, time(1h30m) fill(null)",
        "SELECT time_bucket(INTERVAL '90 minutes', time, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS time, "
        "host, max(usage) AS peak FROM cpu GROUP BY 1, 2",
        "cpu_90m", timedelta(minutes=90), id="time after a tag, compound interval"),
    pytest.param(
        "SELECT mean(usage) AS usage INTO cpu_1h FROM cpu WHERE time > now() - 52000w AND idle < 90 "
        "GROUP BY time(1h)",
        "SELECT time_bucket(INTERVAL '1 hour', time) AS time, avg(usage) AS usage FROM cpu "
        "WHERE time > now() - INTERVAL '52000 weeks' AND idle < 90 GROUP BY 1",
        "cpu_1h", timedelta(hours=1), id="duration literal in WHERE"),
]


def _sorted_rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    cursor = connection.cursor()
    rows = cursor.execute(sql).fetchall()
    columns = [column[0] for column in cursor.description or []]
    return [tuple(zip(columns, row, strict=True)) for row in sorted(rows, key=repr)]


@pytest.mark.parametrize(("influxql", "expected_sql", "destination", "interval"), CASES)
def test_translation_matches_hand_written_sql(cpu: duckdb.DuckDBPyConnection, influxql: str, expected_sql: str,
                                              destination: str, interval: timedelta) -> None:
    translation = translate(influxql)

    stored = translation.select.sql(dialect=parse.READ_DIALECT)
    reparsed = parse.parse_one(stored)
    assert reparsed.sql(dialect=parse.READ_DIALECT) == stored  # the stored text reads back unchanged
    actual = _sorted_rows(cpu, parse.to_duckdb(reparsed))
    expected = _sorted_rows(cpu, expected_sql)
    assert expected
    assert actual == expected
    assert translation.destination.sql() == destination
    assert translation.interval == interval


@pytest.mark.parametrize(("influxql", "sqlstate"), [
    ("SELECT mean(usage) INTO d FROM cpu", "42601"),
    ("SELECT mean(usage) FROM cpu GROUP BY time(1h)", "42601"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY host", "42601"),
    ("SELECT median(usage) INTO d FROM cpu GROUP BY time(1h)", "0A000"),
    ("SELECT usage INTO d FROM cpu GROUP BY time(1h)", "0A000"),
    ("SELECT mean(*) INTO d FROM cpu GROUP BY time(1h)", "0A000"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(1h), *", "0A000"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(1h, 15m)", "0A000"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(1h) fill(0)", "0A000"),
    ("SELECT mean(usage) INTO \"db\".\"autogen\".\"d\" FROM cpu GROUP BY time(1h)", "0A000"),
    ("SELECT mean(usage) INTO d FROM cpu, mem GROUP BY time(1h)", "0A000"),
    ("SELECT mean(usage) AS time INTO d FROM cpu GROUP BY time(1h)", "22023"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(0s)", "22023"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(1 fortnight)", "22007"),
    ("SELECT mean(usage) INTO d FROM cpu GROUP BY time(1h) fill(none) LIMIT 1", "42601"),
    ("SELECT mean(usage) INTO d FROM /cp.*/ GROUP BY time(1h)", "0A000"),
])
def test_untranslatable_select_is_rejected(influxql: str, sqlstate: str) -> None:
    with pytest.raises(GatewayError) as excinfo:
        translate(influxql)
    assert excinfo.value.sqlstate == sqlstate


def test_week_buckets_align_to_epoch(cpu: duckdb.DuckDBPyConnection) -> None:
    translation = translate("SELECT count(usage) AS n INTO cpu_1w FROM cpu GROUP BY time(1w)")

    rows = cpu.execute(parse.to_duckdb(translation.select)).fetchall()

    # 1970-01-01 was a Thursday, so InfluxDB's week containing 2024-01-01 starts on Thursday 2023-12-28.
    assert rows == [(datetime(2023, 12, 28, tzinfo=UTC), 68)]


def test_unsupported_function_is_named_as_written() -> None:
    with pytest.raises(GatewayError) as excinfo:
        translate("SELECT median(usage) AS m INTO d FROM cpu GROUP BY time(1h)")
    assert excinfo.value.message == "median() is not supported in an InfluxQL continuous query"
