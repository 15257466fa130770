"""psql 15 against the gateway and PostgreSQL: output compared line for line.

psql sends every statement over the simple query protocol and prints text
format values unchanged, so its output shows the server's own spellings.
``VERBOSITY=sqlstate`` reduces error reports to severity and SQLSTATE, which
both servers must agree on.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.clients.servers import (
    CANCEL_AFTER,
    ROWS_TEXT,
    TEXT_SPELLINGS,
    TEXT_SPELLINGS_QUERY,
    Server,
)


def _psql_command(server: Server, *args: str) -> list[str]:
    psql = shutil.which("psql")
    assert psql is not None, "psql is not installed; .ci/run installs postgresql-client"
    return [psql, "-X", "-h", server.host, "-p", str(server.port), "-U", server.user, "-d", server.database,
            "-v", "VERBOSITY=sqlstate", *args]


def _psql_output(server: Server, *args: str, script: str = "") -> list[str]:
    """Run psql with ``-At`` (unaligned rows, no headers) and return its output lines; ``script`` is its stdin."""
    result = subprocess.run(_psql_command(server, "-At", *args), input=script, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, f"{server}: {result.stderr}"
    return result.stdout.splitlines()


def test_rows_match_postgresql(gateway: Server, oracle: Server) -> None:
    query = "SELECT * FROM m ORDER BY time"
    assert _psql_output(gateway, "-c", query) == ROWS_TEXT
    assert _psql_output(oracle, "-c", query) == ROWS_TEXT


def test_text_spellings(gateway: Server, oracle: Server) -> None:
    expected = ["|".join("" if value is None else value for value in TEXT_SPELLINGS)]
    assert _psql_output(gateway, "-c", TEXT_SPELLINGS_QUERY) == expected
    assert _psql_output(oracle, "-c", TEXT_SPELLINGS_QUERY) == expected


def test_variable_in_query(gateway: Server, oracle: Server) -> None:
    # psql interpolates variables in scripts only, not in -c strings.
    args = ("-v", "host=beta, \"quoted\"", "-f", "-")
    script = "SELECT samples, usage FROM m WHERE host = :'host';"
    assert _psql_output(gateway, *args, script=script) == ["-7|-1.5e+20"]
    assert _psql_output(oracle, *args, script=script) == ["-7|-1.5e+20"]


@pytest.mark.parametrize(("command", "expected"), [
    ("SELECT 1; SELECT 'two'", ["1", "two"]),
    ("", []),
    (";", []),
    ("-- only a comment", []),
])
def test_simple_query_results(gateway: Server, oracle: Server, command: str, expected: list[str]) -> None:
    assert _psql_output(gateway, "-c", command) == expected
    assert _psql_output(oracle, "-c", command) == expected


def test_script_errors_tags_and_recovery(
    gateway: Server, oracle: Server, scratch_table: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.sql"
    script.write_text(
        "BEGIN;\n"
        "SELECT * FROM nosuch;\n"
        "SELECT 1;\n"
        "ROLLBACK;\n"
        "SELECT 2;\n"
        "SELECT * FROM m WHERE nosuch = 1;\n"
        "SELEC 3;\n"
        "SELECT host FROM m WHERE samples > 0;\n"
        f"INSERT INTO {scratch_table} (time, v) VALUES ('2024-01-01', 1), ('2024-01-01 01:00', 2);\n"
        f"SELECT sum(v) FROM {scratch_table};\n"
        "BEGIN;\n"
        "COMMIT;\n"
        "SELECT 1 AS a, 'x' AS b \\gx\n"
    )
    expected = [
        "BEGIN",
        "psql:{script}:2: ERROR:  42P01",
        "psql:{script}:3: ERROR:  25P02",
        "ROLLBACK",
        "2",
        "psql:{script}:6: ERROR:  42703",
        "psql:{script}:7: ERROR:  42601",
        "alpha",
        "INSERT 0 2",
        "3",
        "BEGIN",
        "COMMIT",
        "a|1",
        "b|x",
    ]
    expected = [line.format(script=script) for line in expected]
    for server in (gateway, oracle):
        result = subprocess.run(_psql_command(server, "-At", "-f", str(script)), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{server}: {result.stdout}"
        assert result.stdout.splitlines() == expected, server


def test_interrupt_cancels_query(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        process = subprocess.Popen(_psql_command(server, "-c", server.long_query), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        time.sleep(CANCEL_AFTER)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)

        assert time.monotonic() - started < 10, server
        assert process.returncode == 1, f"{server}: {stderr}"
        assert stderr.splitlines() == ["Cancel request sent", "ERROR:  57014"], server
        assert _psql_output(server, "-c", "SELECT 2") == ["2"]


def test_list_tables(gateway: Server, oracle: Server) -> None:
    # Name and type only: the gateway reports schema "telemetry" (the
    # database) and owner "lakegate" where PostgreSQL has "public" and "tester".
    for server in (gateway, oracle):
        rows = [line.split("|") for line in _psql_output(server, "-c", "\\dt")]
        assert [(row[1], row[2]) for row in rows] == [("m", "table")], server


def test_describe_measurement(gateway: Server, oracle: Server) -> None:
    # NOTE: names and types only, because the gateway leaves "Nullable" of
    # time empty where PostgreSQL shows "not null" for the oracle's column.
    expected = [
        ("time", "timestamp with time zone"), ("day", "date"), ("healthy", "boolean"), ("host", "text"),
        ("levels", "integer[]"), ("payload", "bytea"), ("samples", "bigint"), ("shift_start", "time without time zone"),
        ("usage", "double precision"), ("wall_clock", "timestamp without time zone"),
    ]
    for server in (gateway, oracle):
        for command in ("\\d m", "\\d+ m"):
            rows = [line.split("|") for line in _psql_output(server, "-c", command)]
            assert [(row[0], row[1]) for row in rows] == expected, (server, command)


@pytest.mark.parametrize("command", ["\\df", "\\dv", "\\di", "\\d nosuch"])
def test_empty_catalog_listings(gateway: Server, oracle: Server, command: str) -> None:
    outcomes = []
    for server in (gateway, oracle):
        result = subprocess.run(_psql_command(server, "-At", "-c", command), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
        outcomes.append((result.returncode, result.stdout))
    assert outcomes[0] == outcomes[1]
    assert "ERROR" not in outcomes[0][1]


def test_list_databases(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        names = [line.split("|")[0] for line in _psql_output(server, "-c", "\\l")]
        assert "telemetry" in names, server
