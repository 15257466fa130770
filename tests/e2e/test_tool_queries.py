"""Query shapes that GUI tools send (Grafana, Metabase, Superset, DBeaver), replayed with psycopg.

These tools cannot run here, so their statements, taken from their public
source, are sent as they would be and the results checked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess

GRAFANA_TABLES = (
    "select quote_ident(table_name) as \"table\" from information_schema.tables "
    "where quote_ident(table_schema) not in ('information_schema', 'pg_catalog', '_timescaledb_cache') "
    "and table_type = 'BASE TABLE' and quote_ident(table_schema) IN ("
    "select CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END "
    "from generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), "
    "array_upper(string_to_array(current_setting('search_path'),','),1)) as i, "
    "string_to_array(current_setting('search_path'),',') s)"
)

METABASE_PRIVILEGES = (
    "with table_privileges as (select NULL as role, t.schemaname as schema, t.objectname as table, "
    "pg_catalog.has_any_column_privilege(current_user, '\"' || t.schemaname || '\".\"' || t.objectname || '\"', "
    "'update') as update, pg_catalog.has_any_column_privilege(current_user, '\"' || t.schemaname || '\".\"' "
    "|| t.objectname || '\"', 'select') as select from (select schemaname, tablename as objectname "
    "from pg_catalog.pg_tables union select schemaname, viewname as objectname from pg_catalog.pg_views "
    "union select schemaname, matviewname as objectname from pg_catalog.pg_matviews) t "
    "where t.schemaname !~ '^pg_' and t.schemaname <> 'information_schema' "
    "and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')) select t.* from table_privileges t"
)

METABASE_TABLES = (
    'SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN \'r\' THEN \'TABLE\' '
    "WHEN 'v' THEN 'VIEW' ELSE NULL END AS \"type\", \"d\".\"description\" AS \"description\", "
    '"stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" '
    'INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" '
    'LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) '
    "AND (\"d\".\"classoid\" = 'pg_class'::regclass) LEFT JOIN \"pg_stat_user_tables\" AS \"stat\" "
    'ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") '
    "WHERE (\"n\".\"nspname\" !~ '^pg_') AND (\"n\".\"nspname\" <> 'information_schema') "
    "AND c.relkind in ('r', 'p', 'v', 'f', 'm') ORDER BY \"type\", \"schema\", \"name\""
)


@pytest.fixture
def connection(local_gateway: GatewayProcess) -> psycopg.Connection:
    connection = psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True)
    connection.execute("INSERT INTO cpu (time, host, usage) VALUES "
                       "('2024-01-01 00:05', 'a', 1.5), ('2024-01-01 00:12', 'b', 2.5)")
    return connection


def test_grafana_health_and_version(connection: psycopg.Connection) -> None:
    assert connection.execute("-- ping").description is None
    assert connection.execute("SELECT current_setting('server_version_num')::int/100 as version").fetchall() \
        == [(1500,)]
    assert connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchall() == []


def test_grafana_schema_browsing(connection: psycopg.Connection) -> None:
    assert connection.execute(GRAFANA_TABLES).fetchall() == [("cpu",)]
    columns = connection.execute(
        "select quote_ident(column_name) as \"column\", data_type as \"type\" from information_schema.columns "
        "where quote_ident(table_name) = 'cpu' order by ordinal_position"
    ).fetchall()
    assert columns == [("time", "timestamp with time zone"), ("host", "text"), ("usage", "double precision")]


def test_grafana_time_series_panel(connection: psycopg.Connection) -> None:
    rows = connection.execute(
        "SELECT floor(extract(epoch from time)/300)*300 AS \"time\", avg(usage) AS \"usage\" FROM cpu "
        "WHERE time BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T00:00:00Z' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [(1704067500.0, 1.5), (1704067800.0, 2.5)]


def test_metabase_sync(connection: psycopg.Connection) -> None:
    assert connection.execute("SHOW TRANSACTION ISOLATION LEVEL").fetchall() == [("read committed",)]
    connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
    assert connection.execute("show timezone").fetchall() == [("UTC",)]
    assert connection.execute(METABASE_PRIVILEGES).fetchall() == [(None, "telemetry", "cpu", True, True)]
    assert connection.execute(METABASE_TABLES).fetchall() == [("telemetry", "cpu", "TABLE", None, 0)]


def test_superset_queries(connection: psycopg.Connection) -> None:
    assert connection.execute("SELECT datname FROM pg_database WHERE datistemplate = false").fetchall() \
        == [("telemetry",)]
    assert connection.execute('set search_path = "telemetry"').statusmessage == "SET"
    pid = connection.execute("SELECT pg_backend_pid()").fetchone()
    assert pid == (connection.info.backend_pid,)
    assert connection.execute("SELECT TO_DATE('2024-01-02','YYYY-MM-DD')").fetchall() == [(date(2024, 1, 2),)]
    rows = connection.execute("SELECT DATE_TRUNC('hour', time) AS t, count(*) FROM cpu GROUP BY 1").fetchall()
    assert rows == [(datetime(2024, 1, 1, tzinfo=UTC), 2)]


def test_dbeaver_connect_queries(connection: psycopg.Connection) -> None:
    assert connection.execute("SELECT current_schema(),session_user").fetchall() == [("telemetry", "tester")]
    database = connection.execute(
        "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='telemetry'").fetchone()
    assert database is not None
    assert database[2] == "telemetry"
    assert connection.execute("SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1").fetchall() == []
    assert connection.execute("SELECT reltype FROM pg_class WHERE 1<>1 LIMIT 1").fetchall() == []
    keywords = connection.execute(
        "SELECT string_agg(word, ',') FROM pg_catalog.pg_get_keywords() "
        "WHERE word <> ALL ('{abort,access}'::text[])").fetchone()
    assert keywords is not None
    assert "select" in keywords[0].split(",")
    assert "abort" not in keywords[0].split(",")
    assert connection.execute(
        "select setting from pg_catalog.pg_settings where name='standard_conforming_strings'"
    ).fetchall() == [("on",)]
    types = connection.execute(
        "SELECT t.typname, format_type(nullif(t.typbasetype, 0), t.typtypmod) FROM pg_catalog.pg_type t "
        "LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem WHERE t.typname IN ('int4', '_text') "
        "ORDER BY 1").fetchall()
    assert types == [("_text", None), ("int4", None)]
