"""pgjdbc 42.x (Debian's libpostgresql-jdbc-java) against the gateway and PostgreSQL.

``JdbcScenarios.java`` is compiled once per module with javac and run once
per server with ``-Duser.timezone=UTC``. It prints one ``key TAB value`` line
per observation, and the tests compare those between the two servers and
with the expected values. pgjdbc uses the extended protocol for every statement
and names a prepared statement after its fifth execution.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.servers import TEXT_SPELLINGS, Server, create_scratch_table

JDBC_JAR = Path("/usr/share/java/postgresql.jar")
SOURCE = Path(__file__).with_name("JdbcScenarios.java")

Output = dict[str, str]


def _java_tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed; .ci/run installs a JDK"
    return path


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert JDBC_JAR.exists(), f"{JDBC_JAR} is missing; .ci/run installs libpostgresql-jdbc-java"
    directory = tmp_path_factory.mktemp("jdbc-classes")
    subprocess.run([_java_tool("javac"), "-d", str(directory), "-cp", str(JDBC_JAR), str(SOURCE)],
                   check=True, capture_output=True, text=True, timeout=120)
    return directory


def _run_scenarios(classes: Path, server: Server, scratch_table: str) -> Output:
    result = subprocess.run(
        [_java_tool("java"), "-Duser.timezone=UTC", "-cp", f"{JDBC_JAR}:{classes}", "JdbcScenarios",
         server.jdbc_url(), server.long_query, scratch_table],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"{server}: {result.stderr}"
    output: Output = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("\t")
        output[key] = value
    return output


@pytest.fixture(scope="module")
def outputs(classes: Path, gateway: Server, oracle: Server) -> dict[str, Output]:
    scratch_table = create_scratch_table(oracle)
    return {server.name: _run_scenarios(classes, server, scratch_table) for server in (gateway, oracle)}


def _both(outputs: dict[str, Output], key: str) -> tuple[str | None, str | None]:
    return outputs["gateway"].get(key), outputs["postgresql"].get(key)


def _assert_both(outputs: dict[str, Output], key: str, expected: str) -> None:
    assert _both(outputs, key) == (expected, expected), key


def test_connect(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "connect.product", "PostgreSQL")
    _assert_both(outputs, "connect.major", "15")
    _assert_both(outputs, "connect.valid", "true")


def test_rows_and_types(outputs: dict[str, Output]) -> None:
    gateway_rows = {key: value for key, value in outputs["gateway"].items() if key.startswith("rows.")}
    oracle_rows = {key: value for key, value in outputs["postgresql"].items() if key.startswith("rows.")}
    assert gateway_rows == oracle_rows
    expected = {
        "rows.column.1": "time timestamptz 93",
        "rows.column.5": "levels _int4 2003",
        "rows.0.time": "Timestamp 2024-01-01 00:00:00.0",
        "rows.0.levels": "Array [1, 2]",
        "rows.0.payload": "byte[] 00ff",
        "rows.1.host": 'String beta, "quoted"',
        "rows.1.usage": "Double -1.5E20",
        "rows.1.wall_clock": "Timestamp 2023-12-31 23:59:59.123456",
        "rows.2.healthy": "null",
    }
    assert {key: gateway_rows.get(key) for key in expected} == expected
    assert len(gateway_rows) == 10 + 3 * 10


def test_text_spellings(outputs: dict[str, Output]) -> None:
    for column, spelling in enumerate(TEXT_SPELLINGS, start=1):
        _assert_both(outputs, f"text.{column}", "null" if spelling is None else spelling)


def test_prepared_statement_past_threshold(outputs: dict[str, Output]) -> None:
    for run in range(6):
        _assert_both(outputs, f"params.run.{run}", "alpha,42")
    _assert_both(outputs, "params.typed", "42,x")
    _assert_both(outputs, "params.timestamptz", "2")


def test_update_count(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "update.count", "2")


def test_batch_insert(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "batch.count", "50")
    _assert_both(outputs, "batch.rows", "50,1225")


def test_errors_and_recovery(outputs: dict[str, Output]) -> None:
    for index, sqlstate in enumerate(["42P01", "42601", "42703"]):
        _assert_both(outputs, f"error.{index}", sqlstate)
        _assert_both(outputs, f"error.{index}.after", "3")


def test_failed_transaction(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "transaction.first", "42P01")
    _assert_both(outputs, "transaction.next", "25P02")
    _assert_both(outputs, "transaction.after", "3")


def test_cancel(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "cancel", "57014 within 10 s")
    _assert_both(outputs, "cancel.after", "3")


def test_query_timeout(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "timeout", "57014 within 10 s")
    _assert_both(outputs, "timeout.after", "3")


def test_catalog_columns(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "catalogs", "telemetry")
    _assert_both(outputs, "columns", "time timestamptz 93;day date 91;healthy bool -7;host text 12;"
                 "levels _int4 2003;payload bytea -2;samples int8 -5;shift_start time 92;usage float8 8;"
                 "wall_clock timestamp 93")


def test_catalog_tables(outputs: dict[str, Output]) -> None:
    # NOTE: only the name and type, because the gateway reports schema
    # "telemetry" (the database) where PostgreSQL reports "public".
    for output in outputs.values():
        assert output.get("tables", "").endswith(".m TABLE"), output.get("tables")


def test_catalog_primary_keys(outputs: dict[str, Output]) -> None:
    # Measurements have no primary key, and the oracle's table m has none either.
    _assert_both(outputs, "primarykeys", "")


def test_catalog_type_info(outputs: dict[str, Output]) -> None:
    _assert_both(outputs, "typeinfo.int8", "true")
    _assert_both(outputs, "typeinfo.timestamptz", "true")
