"""Write docs/clients.md from a run of the real-client tests.

Run with ``make clients-report`` (or ``.venv/bin/python -m tests.clients.report``).
It runs tests/clients with pytest, counts passed and failed tests per client
module, reads each client's installed version, and writes the table together
with the known limits listed below.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "clients.md"

# Module, client, what its tests cover.
CLIENTS = [
    ("test_psql", "psql", "text output, scripts, \\l \\dn \\dt \\d \\d+ \\df \\dv \\di, Ctrl-C cancel"),
    ("test_pgjdbc", "pgjdbc", "getObject per type, prepared statements past prepareThreshold, "
     "getCatalogs/getSchemas/getTables/getColumns/getPrimaryKeys/getTypeInfo, cancel, query timeout"),
    ("test_odbc", "psqlODBC (pyodbc)", "rows, parameters, SQLTables/SQLColumns, cancel"),
    ("test_psycopg", "psycopg 3", "text and binary results, parameters, pipeline mode, cancel"),
    ("test_psycopg2", "psycopg2", "rows, parameters, errors and recovery, cancel"),
    ("test_asyncpg", "asyncpg", "binary results and parameters, type introspection, timeouts"),
    ("test_pg8000", "pg8000", "rows, parameters, errors, cancel request"),
    ("test_sqlalchemy", "SQLAlchemy 2 (psycopg, psycopg2)", "dialect initialisation, Core, Inspector, autoload"),
    ("test_pandas", "pandas", "read_sql and read_sql_table on both dialects"),
    ("test_node_pg", "node-postgres", "rows, typed and untyped parameters, errors, cancel"),
    ("test_tls_scram", "all of the above but pandas", "SCRAM-SHA-256 login over TLS; a wrong password gets 28P01"),
]

KNOWN_LIMITS = [
    "Databases appear as schemas; there is no `public` schema, and the owner of everything is `lakegate`.",
    "`SET TIME ZONE` changes how timestamptz values are shown, but timestamps without a zone in SQL "
    "are still read as UTC, and DuckDB's own casts to text use UTC.",
    "Division by zero returns NULL (DuckDB) where PostgreSQL raises 22012.",
    "`numeric` without a precision is DuckDB's DECIMAL(18,3): `1.5::numeric` prints `1.500`.",
    "A timestamp with an offset but no seconds (`'2024-03-01 00:00+00'`) is rejected with 22007.",
    "COPY FROM STDIN and TO STDOUT work in text and CSV format; binary COPY and SQL-level "
    "`PREPARE` are not supported (0A000). Cursors (`DECLARE`, psycopg and psycopg2 named cursors, "
    "psqlODBC UseDeclareFetch) move forward only and are not binary.",
    "RowDescription carries no table OID or column number, so JDBC's ResultSetMetaData.getTableName is empty.",
    "pg_proc is empty: JDBC getFunctions and ODBC SQLProcedures return no rows.",
    "Error messages use the gateway's words (`measurement \"x\" does not exist`) with PostgreSQL's SQLSTATEs; "
    "no error position is sent.",
]


def client_versions() -> dict[str, str]:
    """Return the installed version of each client."""
    versions = {
        "psql": _command_output(["psql", "--version"]).removeprefix("psql (PostgreSQL) "),
        "pgjdbc": _jdbc_version(),
        "psqlODBC (pyodbc)": f"{_debian_version('odbc-postgresql')} (pyodbc {_package_version('pyodbc')})",
        "psycopg 3": _package_version("psycopg"),
        "psycopg2": _package_version("psycopg2-binary"),
        "asyncpg": _package_version("asyncpg"),
        "pg8000": _package_version("pg8000"),
        "SQLAlchemy 2 (psycopg, psycopg2)": _package_version("SQLAlchemy"),
        "pandas": _package_version("pandas"),
        "node-postgres": _node_package_version("pg"),
    }
    return versions


def _command_output(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    output = subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    return output.split(" (Debian")[0]


def _debian_version(package: str) -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip() or "not installed"


def _jdbc_version() -> str:
    jars = sorted(Path("/usr/share/java").glob("postgresql-[0-9]*.jar"))
    return jars[-1].stem.removeprefix("postgresql-") if jars else "not installed"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _node_package_version(name: str) -> str:
    package = ROOT / "node_modules" / name / "package.json"
    if not package.exists():
        return "not installed"
    return str(json.loads(package.read_text())["version"])


def run_tests() -> tuple[Counter[str], Counter[str]]:
    """Run tests/clients and return (passed, failed) counts per module."""
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "clients.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/clients", f"--junitxml={report}"],
                       cwd=ROOT, check=False)
        tree = ElementTree.parse(report)
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for case in tree.iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        if case.find("failure") is not None or case.find("error") is not None:
            failed[module] += 1
        elif case.find("skipped") is None:
            passed[module] += 1
    return passed, failed


def render(passed: Counter[str], failed: Counter[str], versions: dict[str, str]) -> str:
    """Return the text of docs/clients.md."""
    lines = [
        "# PostgreSQL clients",
        "",
        "Each client below is driven by its own test module in `tests/clients/`, against the gateway and",
        "against a throwaway PostgreSQL 15 that serves as the oracle for spellings, command tags and",
        "SQLSTATEs. This page is written by `make clients-report` from a run of those tests.",
        "",
        "| client | version | tests passed | tests failed | covers |",
        "| --- | --- | --- | --- | --- |",
    ]
    for module, client, covers in CLIENTS:
        version = versions.get(client, "as above")
        lines.append(f"| {client} | {version} | {passed[module]} | {failed[module]} | {covers} |")
    lines += ["", "GUI tools that cannot run here (Grafana, Metabase, Superset, DBeaver) are covered by",
              "replaying their query shapes in `tests/e2e/test_tool_queries.py`.", "", "## Known limits", ""]
    lines += [f"- {limit}" for limit in KNOWN_LIMITS]
    return "\n".join(lines) + "\n"


def main() -> int:
    passed, failed = run_tests()
    OUTPUT.write_text(render(passed, failed, client_versions()))
    print(f"wrote {OUTPUT}: {sum(passed.values())} passed, {sum(failed.values())} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
