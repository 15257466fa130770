"""The client sandbox, end to end: no statement leaves the store or changes it outside the write paths.

One real ``lakegate serve`` per backend (local directory, S3 on moto, Azure
on Azurite) serves a store under a key prefix. Next to the store lie
Parquet files that a client must not reach. They sit in a sibling directory,
under a path that starts with the root's name, under another key prefix of
the same bucket or container, and in another bucket or container. Every
case sends one statement through psycopg (or one HTTP write), asserts its
exact SQLSTATE (or HTTP status), and then asserts that every file or object
around the store has the same bytes as before.

The last tests check the second wall on its own: the DuckDB database that
gateway/engine.py sets up rejects files outside the root and changes of
its locked settings even when a statement reaches it unchecked.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.config import Settings
from gateway.engine import Engine
from gateway.storage.duckdb_secrets import secret_statements
from gateway.storage.open import open_backend
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import (
    azurite_settings,
    blob_service_client,
    empty_and_delete_bucket,
    moto_s3_settings,
    s3_client,
)
from tests.hardening import wire_client

DATABASE = "sandbox"
MEASUREMENT = "cpu"
SEED_ROWS = 3
SEED_INSERT = (f"INSERT INTO {MEASUREMENT} (time, host, v) VALUES "
               "('2024-05-01T10:00:00Z', 'a', 1), ('2024-05-01T10:01:00Z', 'a', 2), ('2024-05-01T11:00:00Z', 'b', 3)")
# Scheduled jobs may write leases under _lakegate/, which would change a snapshot, so they run once a day here.
QUIET_JOBS = ("--retention-interval", "24h", "--continuous-query-interval", "24h")

#: Sends one statement and returns nothing, or raises the psycopg.Error the gateway sends.
Statement = Callable[[psycopg.Connection], None]


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"secret": ["outside"]}), sink)
    return sink.getvalue()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Sandbox:
    """A gateway on one backend, the store's root as DuckDB names it, and the files the client must not reach."""

    backend: str
    gateway: GatewayProcess
    settings: Settings
    #: The root as the gateway's DuckDB reads it, without the trailing ``/``.
    root: str
    #: Label -> path or URL of a Parquet file outside the root.
    outside: dict[str, str]
    #: Returns {name: sha256} of every file or object in and around the store.
    snapshot: Callable[[], dict[str, str]]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.gateway.dsn + f" dbname={DATABASE}", autocommit=True)


def _local_sandbox(base: Path) -> tuple[str, dict[str, str], Callable[[], dict[str, str]]]:
    outer = base / "outer"
    root = outer / "root"
    root.mkdir(parents=True)
    (outer / "sibling").mkdir()
    payload = _parquet_bytes()
    (outer / "sibling" / "data.parquet").write_bytes(payload)
    (outer / "rootx.parquet").write_bytes(payload)
    (outer / "notes.csv").write_text("secret\noutside\n")
    outside = {
        "sibling": str(outer / "sibling" / "data.parquet"),
        "name_prefix": str(outer / "rootx.parquet"),
        "dotdot": f"{root}/../sibling/data.parquet",
        "deep_dotdot": f"{root}/{DATABASE}/{MEASUREMENT}/../../../sibling/data.parquet",
        "file_url": f"file://{outer}/sibling/data.parquet",
        "csv": str(outer / "notes.csv"),
    }

    def snapshot() -> dict[str, str]:
        return {str(path.relative_to(outer)): _digest(path.read_bytes())
                for path in sorted(outer.rglob("*")) if path.is_file()}

    return str(root), outside, snapshot


def _s3_sandbox(endpoint: str, bucket: str, other_bucket: str,
                prefix: str) -> tuple[str, dict[str, str], Callable[[], dict[str, str]]]:
    client = s3_client(endpoint)
    payload = _parquet_bytes()
    client.put_object(Bucket=other_bucket, Key="data.parquet", Body=payload)
    client.put_object(Bucket=bucket, Key="elsewhere/data.parquet", Body=payload)
    client.put_object(Bucket=bucket, Key=f"{prefix}x/data.parquet", Body=payload)
    root = f"s3://{bucket}/{prefix}"
    outside = {
        "other_bucket": f"s3://{other_bucket}/data.parquet",
        "other_prefix": f"s3://{bucket}/elsewhere/data.parquet",
        "name_prefix": f"s3://{bucket}/{prefix}x/data.parquet",
        "dotdot": f"{root}/../../../elsewhere/data.parquet",
    }

    def snapshot() -> dict[str, str]:
        found = {}
        for name in (bucket, other_bucket):
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", []):
                    body = client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
                    found[f"{name}/{item['Key']}"] = _digest(body)
        return found

    return root, outside, snapshot


def _azure_sandbox(endpoint: str, container: str, other_container: str,
                   prefix: str) -> tuple[str, dict[str, str], Callable[[], dict[str, str]]]:
    service = blob_service_client(endpoint)
    payload = _parquet_bytes()
    service.get_blob_client(other_container, "data.parquet").upload_blob(payload)
    service.get_blob_client(container, "elsewhere/data.parquet").upload_blob(payload)
    service.get_blob_client(container, f"{prefix}x/data.parquet").upload_blob(payload)
    root = f"az://{container}/{prefix}"
    outside = {
        "other_container": f"az://{other_container}/data.parquet",
        "other_prefix": f"az://{container}/elsewhere/data.parquet",
        "name_prefix": f"az://{container}/{prefix}x/data.parquet",
        "dotdot": f"{root}/../../../elsewhere/data.parquet",
    }

    def snapshot() -> dict[str, str]:
        found = {}
        for name in (container, other_container):
            client = service.get_container_client(name)
            for blob in client.list_blobs():
                found[f"{name}/{blob.name}"] = _digest(client.download_blob(blob.name).readall())
        return found

    return root, outside, snapshot


@pytest.fixture(scope="module", params=["local", "s3", "azure"])
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A gateway per backend for the whole module, on a store under a prefix, with seeded rows."""
    backend: str = request.param
    base = tmp_path_factory.mktemp(f"sandbox-{backend}")
    prefix = "tenant/store"
    cleanup: Callable[[], None] = lambda: None
    if backend == "local":
        root, outside, snapshot = _local_sandbox(base)
        settings = Settings(storage_url=root)
    elif backend == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        client = s3_client(endpoint)
        bucket, other = _bucket_name("sandbox"), _bucket_name("other")
        client.create_bucket(Bucket=bucket)
        client.create_bucket(Bucket=other)
        root, outside, snapshot = _s3_sandbox(endpoint, bucket, other, prefix)
        settings = Settings(storage_url=root, s3=moto_s3_settings(endpoint))

        def cleanup() -> None:
            empty_and_delete_bucket(client, bucket)
            empty_and_delete_bucket(client, other)
    else:
        endpoint = request.getfixturevalue("azurite_endpoint")
        service = blob_service_client(endpoint)
        container, other = _bucket_name("sandbox"), _bucket_name("other")
        service.create_container(container)
        service.create_container(other)
        root, outside, snapshot = _azure_sandbox(endpoint, container, other, prefix)
        settings = Settings(storage_url=root, azure=azurite_settings(endpoint))

        def cleanup() -> None:
            service.delete_container(container)
            service.delete_container(other)

    gateway = start_gateway(settings, base / "gateway.log", *QUIET_JOBS)
    try:
        with psycopg.connect(gateway.dsn + f" dbname={DATABASE}", autocommit=True) as connection:
            connection.execute(SEED_INSERT)
            connection.execute("CHECKPOINT")
        yield Sandbox(backend, gateway, settings, root, outside, snapshot)
    finally:
        gateway.stop()
        cleanup()


def _bucket_name(stem: str) -> str:
    """Return a new bucket or container name: lower case, 3 to 63 characters."""
    return f"{stem}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def unchanged(sandbox: Sandbox) -> Iterator[None]:
    """Assert after the test that every file or object in and around the store has its old bytes."""
    before = sandbox.snapshot()
    yield
    assert sandbox.snapshot() == before


def _rejected(sandbox: Sandbox, statement: str | Statement) -> psycopg.Error:
    """Run ``statement`` on a new connection and return the error it must raise."""
    with sandbox.connect() as connection, pytest.raises(psycopg.Error) as caught:
        if isinstance(statement, str):
            connection.execute(statement)
        else:
            statement(connection)
    error = caught.value
    with sandbox.connect() as connection:
        # The gateway still serves the store, with the seeded rows only.
        assert connection.execute(f"SELECT count(*) FROM {MEASUREMENT}").fetchone() == (SEED_ROWS,)
    return error


# ------------------------------------------------------------------ the store itself


def test_store_reads_and_writes_work(sandbox: Sandbox) -> None:
    """The cases below fail for the sandbox's sake, not because the store is unusable."""
    with sandbox.connect() as connection:
        rows = connection.execute(f"SELECT host, v FROM {MEASUREMENT} ORDER BY time").fetchall()
        tables = connection.execute("SHOW TABLES").fetchall()
    assert rows == [("a", 1), ("a", 2), ("b", 3)]
    assert tables == [(MEASUREMENT,)]
    written = sandbox.snapshot()
    assert any(f"{DATABASE}/{MEASUREMENT}/2024/05/01/10/" in name for name in written)
    assert any(f"{DATABASE}/{MEASUREMENT}/2024/05/01/11/" in name for name in written)


# ------------------------------------------------------------------ reading outside the root

READERS = {
    "read_parquet": ("SELECT * FROM read_parquet('{path}')", "42501"),
    "read_parquet_list": ("SELECT * FROM read_parquet(['{path}'])", "42501"),
    "read_csv": ("SELECT * FROM read_csv('{path}')", "42501"),
    "read_csv_auto": ("SELECT * FROM read_csv_auto('{path}')", "42501"),
    "read_text": ("SELECT * FROM read_text('{path}')", "42501"),
    "read_blob": ("SELECT * FROM read_blob('{path}')", "42501"),
    "read_json": ("SELECT * FROM read_json('{path}')", "42501"),
    "parquet_scan": ("SELECT * FROM parquet_scan('{path}')", "42501"),
    "parquet_metadata": ("SELECT * FROM parquet_metadata('{path}')", "42501"),
    "parquet_schema": ("SELECT * FROM parquet_schema('{path}')", "42501"),
    "sniff_csv": ("SELECT * FROM sniff_csv('{path}')", "42501"),
    "qualified": ("SELECT * FROM main.read_parquet('{path}')", "42501"),
    "upper_case": ("SELECT * FROM READ_PARQUET('{path}')", "42501"),
    "scalar_position": ("SELECT read_text('{path}')", "42501"),
    # PostgreSQL's server file functions do not exist in the gateway.
    "pg_read_file": ("SELECT pg_read_file('{path}')", "42883"),
    "pg_read_binary_file": ("SELECT pg_read_binary_file('{path}')", "42883"),
    "pg_stat_file": ("SELECT * FROM pg_stat_file('{path}')", "42883"),
    "pg_ls_dir": ("SELECT * FROM pg_ls_dir('{path}')", "42883"),
    "lo_import": ("SELECT lo_import('{path}')", "42883"),
    # The PostgreSQL grammar reads GLOB as an operator, so glob(...) fails to parse.
    "glob": ("SELECT * FROM glob('{path}')", "42601"),
    # A quoted path is a name, and no measurement has such a name.
    "replacement_scan": ("SELECT * FROM '{path}'", "42602"),
    "quoted_path": ('SELECT * FROM "{path}"', "42602"),
}


@pytest.mark.parametrize("reader", READERS)
def test_read_outside_root_rejected(sandbox: Sandbox, unchanged: None, reader: str) -> None:
    template, sqlstate = READERS[reader]
    for label, path in sandbox.outside.items():
        error = _rejected(sandbox, template.format(path=path))
        assert error.sqlstate == sqlstate, f"{label}: {error}"


def test_read_inside_root_by_path_rejected(sandbox: Sandbox, unchanged: None) -> None:
    """The store's own files are read by measurement name only, never by path."""
    error = _rejected(sandbox, f"SELECT count(*) FROM read_parquet('{sandbox.root}/{DATABASE}/**/*.parquet')")
    assert error.sqlstate == "42501", str(error)
    assert "function read_parquet is not allowed" in str(error)


def _outside(sandbox: Sandbox) -> str:
    """Return the first outside location of the backend: a sibling directory or another bucket or container."""
    return next(iter(sandbox.outside.values()))


WRAPPED_READS = {
    "cte": "WITH x AS (SELECT * FROM read_parquet('{path}')) SELECT * FROM x",
    "nested_cte": "WITH x AS (WITH y AS (SELECT * FROM read_text('{path}')) SELECT * FROM y) SELECT * FROM x",
    "scalar_subquery": "SELECT (SELECT count(*) FROM read_blob('{path}'))",
    "from_subquery": "SELECT * FROM (SELECT * FROM read_parquet('{path}')) AS s",
    "exists": f"SELECT * FROM {MEASUREMENT} WHERE EXISTS (SELECT * FROM read_text('{{path}}'))",
    "in_list": f"SELECT * FROM {MEASUREMENT} WHERE host IN (SELECT content FROM read_text('{{path}}'))",
    "union": f"SELECT host FROM {MEASUREMENT} UNION ALL SELECT content FROM read_text('{{path}}')",
    "join": f"SELECT * FROM {MEASUREMENT} JOIN read_parquet('{{path}}') ON true",
    "lateral": f"SELECT * FROM {MEASUREMENT}, LATERAL (SELECT * FROM read_parquet('{{path}}')) AS s",
    "allowed_function_join": "SELECT * FROM generate_series(1, 2) AS g(i), read_parquet('{path}')",
    "explain": "EXPLAIN SELECT * FROM read_parquet('{path}')",
    "explain_analyze": "EXPLAIN ANALYZE SELECT * FROM read_parquet('{path}')",
    "insert_select": f"INSERT INTO {MEASUREMENT} (time, host) SELECT now(), content FROM read_text('{{path}}')",
    "copy_out": "COPY (SELECT * FROM read_parquet('{path}')) TO STDOUT",
    "multi_statement": "SELECT 1; SELECT * FROM read_parquet('{path}')",
}


@pytest.mark.parametrize("wrapper", WRAPPED_READS)
def test_wrapped_read_rejected(sandbox: Sandbox, unchanged: None, wrapper: str) -> None:
    statement = WRAPPED_READS[wrapper].format(path=_outside(sandbox))

    if wrapper == "copy_out":
        def copy_out(connection: psycopg.Connection) -> None:
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for _ in copy:
                    pass
        error = _rejected(sandbox, copy_out)
    else:
        error = _rejected(sandbox, statement)

    assert error.sqlstate == "42501", str(error)


def test_cursor_over_outside_read_rejected(sandbox: Sandbox, unchanged: None) -> None:
    def declare(connection: psycopg.Connection) -> None:
        connection.execute("BEGIN")
        connection.execute(f"DECLARE c CURSOR FOR SELECT * FROM read_parquet('{_outside(sandbox)}')")

    error = _rejected(sandbox, declare)

    assert error.sqlstate == "42501", str(error)


def test_delete_with_outside_read_rejected(sandbox: Sandbox, unchanged: None) -> None:
    error = _rejected(sandbox, f"DELETE FROM {MEASUREMENT} WHERE host IN "
                               f"(SELECT content FROM read_text('{_outside(sandbox)}'))")
    assert error.sqlstate == "42501", str(error)


@pytest.mark.parametrize("prepare", [False, True], ids=["unnamed", "named"])
def test_read_path_as_parameter_rejected(sandbox: Sandbox, unchanged: None, prepare: bool) -> None:
    """The extended protocol: the path arrives as a bound parameter of a prepared statement."""
    def run(connection: psycopg.Connection) -> None:
        connection.execute("SELECT * FROM read_parquet(%s)", [_outside(sandbox)], prepare=prepare)

    error = _rejected(sandbox, run)

    assert error.sqlstate == "42501", str(error)


def test_read_path_as_typed_parameter_rejected(sandbox: Sandbox, unchanged: None) -> None:
    def run(connection: psycopg.Connection) -> None:
        connection.execute("SELECT count(*) FROM read_text(%s::varchar) WHERE %s", [_outside(sandbox), True])

    error = _rejected(sandbox, run)

    assert error.sqlstate == "42501", str(error)


# ------------------------------------------------------------------ statements outside the SQL the gateway runs

PRIVILEGED = {
    "attach_store": ("ATTACH '{root}/{db}/evil.duckdb' AS evil", "42501"),
    "attach_memory": ("ATTACH ':memory:' AS evil", "42501"),
    "attach_if_not_exists": ("ATTACH IF NOT EXISTS '{root}/evil.duckdb'", "42501"),
    "attach_after_comment": ("/* setup */ ATTACH '{root}/evil.duckdb'", "42501"),
    "detach": ("DETACH memory", "42501"),
    "install": ("INSTALL httpfs", "42501"),
    "force_install": ("FORCE INSTALL httpfs", "42501"),
    "install_from": ("INSTALL spatial FROM core", "42501"),
    "load": ("LOAD httpfs", "42501"),
    "load_path": ("LOAD '{root}/evil.duckdb_extension'", "42501"),
    "pragma": ("PRAGMA database_list", "42501"),
    "pragma_setting": ("PRAGMA enable_external_access = true", "42501"),
    "call": ("CALL pragma_version()", "42501"),
    "export": ("EXPORT DATABASE '{root}/export'", "42501"),
    "import": ("IMPORT DATABASE '{root}/export'", "42501"),
    "copy_to_store": ("COPY (SELECT 1 AS v) TO '{root}/{db}/{m}/2024/05/01/10/evil.parquet' (FORMAT parquet)",
                      "42501"),
    "copy_table_to_store": ("COPY {m} TO '{root}/{db}/evil.csv'", "42501"),
    "copy_to_s3": ("COPY (SELECT 1) TO 's3://{bucket}/evil.parquet'", "42501"),
    "copy_to_azure": ("COPY (SELECT 1) TO 'az://{bucket}/evil.parquet'", "42501"),
    "copy_from_file": ("COPY {m} FROM '{outside}'", "42501"),
    "copy_from_program": ("COPY {m} FROM PROGRAM 'true'", "42501"),
    "copy_to_program": ("COPY (SELECT 1) TO PROGRAM 'true'", "42501"),
    "create_secret": ("CREATE SECRET evil (TYPE s3, KEY_ID 'k', SECRET 's')", "0A000"),
    "create_persistent_secret": ("CREATE PERSISTENT SECRET evil (TYPE s3, KEY_ID 'k', SECRET 's')", "0A000"),
    "drop_secret": ("DROP SECRET evil", "0A000"),
    "create_table_as": ("CREATE TABLE evil AS SELECT 1 AS v", "0A000"),
    "create_table_path": ("CREATE TABLE \"{root}/{db}/evil\" AS SELECT 1 AS v", "0A000"),
    "create_table_qualified": ("CREATE TABLE {db}.evil AS SELECT * FROM {m}", "0A000"),
    "create_view": ("CREATE VIEW evil AS SELECT 1", "0A000"),
    "create_macro": ("CREATE MACRO evil(p) AS p", "0A000"),
    "update": ("UPDATE {m} SET v = 0", "0A000"),
    "vacuum": ("VACUUM", "0A000"),
    "use": ("USE memory", "0A000"),
    "sql_prepare": ("PREPARE p AS SELECT 1", "0A000"),
    "explain_attach": ("EXPLAIN ATTACH '{root}/evil.duckdb'", "42601"),
    "explain_copy": ("EXPLAIN COPY (SELECT 1) TO '{root}/evil.csv'", "0A000"),
    "cte_attach": ("WITH x AS (SELECT 1) ATTACH '{root}/evil.duckdb'", "42601"),
    "parenthesised_attach": ("(ATTACH '{root}/evil.duckdb')", "42601"),
    "after_select": ("SELECT 1; ATTACH '{root}/evil.duckdb'", "42501"),
    "before_insert": ("COPY (SELECT 1) TO '{root}/evil.csv'; INSERT INTO {m} (time, v) VALUES (now(), 9)",
                      "42501"),
    "set_global": ("SET GLOBAL enable_external_access = true", "42601"),
}
# Every DuckDB setting the gateway locks, SET in each spelling and RESET.
LOCKED = ["enable_external_access", "allowed_directories", "allowed_paths", "lock_configuration", "memory_limit",
          "max_memory", "threads", "worker_threads", "temp_directory", "autoinstall_known_extensions",
          "autoload_known_extensions", "allow_unsigned_extensions", "extension_directory",
          "custom_extension_repository", "home_directory", "secret_directory", "allow_community_extensions",
          "enable_http_metadata_cache"]
for _name in LOCKED:
    PRIVILEGED[f"set_{_name}"] = (f"SET {_name} = 'x'", "42501")
    PRIVILEGED[f"set_session_{_name}"] = (f"SET SESSION {_name} TO 'x'", "42501")
    PRIVILEGED[f"set_quoted_{_name}"] = (f'SET "{_name}" = \'x\'', "42501")
    PRIVILEGED[f"reset_{_name}"] = (f"RESET {_name}", "42501")


@pytest.mark.parametrize("case", PRIVILEGED)
def test_privileged_statement_rejected(sandbox: Sandbox, unchanged: None, case: str) -> None:
    template, sqlstate = PRIVILEGED[case]
    bucket = sandbox.root.split("/")[2] if "://" in sandbox.root else "bucket"
    statement = template.format(root=sandbox.root, db=DATABASE, m=MEASUREMENT, bucket=bucket,
                                outside=_outside(sandbox))

    error = _rejected(sandbox, statement)

    assert error.sqlstate == sqlstate, str(error)


@pytest.mark.parametrize(("statement", "message"), [
    ("CREATE SECRET evil (TYPE s3, KEY_ID 'k', SECRET 's')", "CREATE SECRET statements are not supported"),
    ("CREATE OR REPLACE PERSISTENT SECRET evil (TYPE s3)", "CREATE SECRET statements are not supported"),
    ("DROP SECRET evil", "DROP SECRET statements are not supported"),
    ("CREATE MACRO evil(p) AS p", "CREATE MACRO statements are not supported"),
    ("VACUUM", "VACUUM statements are not supported"),
])
def test_unsupported_statement_named(sandbox: Sandbox, statement: str, message: str) -> None:
    error = _rejected(sandbox, statement)

    assert error.sqlstate == "0A000"
    assert str(error).splitlines()[0] == message


def test_multi_statement_stops_at_privileged(sandbox: Sandbox) -> None:
    """Statements before the rejected one run, and none after it does."""
    with sandbox.connect() as connection:
        with pytest.raises(psycopg.Error) as caught:
            connection.execute(f"SELECT 1; ATTACH '{sandbox.root}/evil.duckdb'; "
                               f"INSERT INTO {MEASUREMENT} (time, v) VALUES ('2024-05-01T12:00:00Z', 9)")
        count = connection.execute(f"SELECT count(*) FROM {MEASUREMENT}").fetchone()
    assert caught.value.sqlstate == "42501"
    assert count == (SEED_ROWS,)


@pytest.mark.parametrize("statement", ["ATTACH %s AS evil", "COPY (SELECT 1) TO %s", "LOAD %s"])
def test_privileged_with_parameter_rejected(sandbox: Sandbox, unchanged: None, statement: str) -> None:
    """The extended protocol: a privileged statement prepared with a bound path."""
    def run(connection: psycopg.Connection) -> None:
        connection.execute(statement, [f"{sandbox.root}/evil.duckdb"])

    error = _rejected(sandbox, run)

    assert error.sqlstate == "42501", str(error)


def test_locked_setting_keeps_value(sandbox: Sandbox) -> None:
    """A rejected SET leaves DuckDB's sandbox on: a read outside is still refused afterwards."""
    with sandbox.connect() as connection:
        for statement in ("SET enable_external_access = true", "RESET enable_external_access"):
            with pytest.raises(psycopg.Error) as caught:
                connection.execute(statement)
            assert caught.value.sqlstate == "42501"
        with pytest.raises(psycopg.Error) as caught:
            connection.execute(f"SELECT * FROM read_parquet('{_outside(sandbox)}')")
        assert caught.value.sqlstate == "42501"


def test_startup_options_do_not_unlock(sandbox: Sandbox) -> None:
    """Settings sent in the startup packet (``options=-c``, extra parameters) leave the sandbox on."""
    options = "-c enable_external_access=true -c allowed_directories=/ -c lock_configuration=false"
    with psycopg.connect(sandbox.gateway.dsn + f" dbname={DATABASE}", options=options,
                         autocommit=True) as connection:
        with pytest.raises(psycopg.Error) as caught:
            connection.execute(f"SELECT * FROM read_parquet('{_outside(sandbox)}')")
        rows = connection.execute(f"SELECT count(*) FROM {MEASUREMENT}").fetchone()
    assert caught.value.sqlstate == "42501"
    assert rows == (SEED_ROWS,)


# ------------------------------------------------------------------ crafted names

CRAFTED_NAMES = {
    "slash": "a/b",
    "dotdot": "..",
    "dot": ".",
    "dotdot_path": "../escape",
    "inner_dotdot": "a/../b",
    "absolute": "/tmp/escape",
    "backslash": "a\\b",
    "backslash_dotdot": "..\\escape",
    "tab": "tab\there",
    "newline": "new\nline",
    "carriage_return": "cr\rname",
    "bell": "bell\x07",
    "escape_char": "esc\x1b[0m",
    "double_quote": 'quo"te',
    "single_quote": "single'quote",
    "star": "star*",
    "question_mark": "what?",
    "bracket": "br[a]ck",
    "space": "two words",
    "leading_underscore": "_lakegate",
    "leading_dash": "-dash",
    "hidden": ".hidden",
    "unicode": "caf\u00e9",
    "length_65": "x" * 65,
    "length_5000": "y" * 5000,
}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_into(target: str) -> Statement:
    def run(connection: psycopg.Connection) -> None:
        with connection.cursor() as cursor, cursor.copy(f"COPY {target} (time, v) FROM STDIN") as copy:
            copy.write_row(("2024-05-01T12:00:00Z", 1))
    return run


NAME_STATEMENTS: dict[str, Callable[[str], str | Statement]] = {
    "select": lambda name: f"SELECT * FROM {name}",
    "select_database": lambda name: f"SELECT * FROM {name}.{MEASUREMENT}",
    "insert_literal": lambda name: f"INSERT INTO {name} (time, v) VALUES ('2024-05-01T12:00:00Z', 1)",
    "insert_expression": lambda name: f"INSERT INTO {name} (time, v) VALUES (now(), abs(-1))",
    "insert_select": lambda name: f"INSERT INTO {name} (time, v) SELECT time, v FROM {MEASUREMENT}",
    "insert_database": lambda name: f"INSERT INTO {name}.{MEASUREMENT} (time, v) VALUES ('2024-05-01T12:00:00Z', 1)",
    "copy_from": _copy_into,
    "copy_from_database": lambda name: _copy_into(f"{name}.{MEASUREMENT}"),
    "delete": lambda name: f"DELETE FROM {name} WHERE time < '2030-01-01'",
    "delete_database": lambda name: f"DELETE FROM {name}.{MEASUREMENT} WHERE time < '2030-01-01'",
    "truncate": lambda name: f"TRUNCATE {name}",
    "drop_table": lambda name: f"DROP TABLE {name}",
    "drop_database": lambda name: f"DROP DATABASE {name}",
    "create_database": lambda name: f"CREATE DATABASE {name}",
    "show_tables_from": lambda name: f"SHOW TABLES FROM {name}",
}


@pytest.mark.parametrize("name", CRAFTED_NAMES)
@pytest.mark.parametrize("kind", NAME_STATEMENTS)
def test_crafted_name_rejected(sandbox: Sandbox, unchanged: None, kind: str, name: str) -> None:
    statement = NAME_STATEMENTS[kind](_quoted(CRAFTED_NAMES[name]))

    error = _rejected(sandbox, statement)

    assert error.sqlstate == "42602", str(error)
    assert "invalid" in str(error)
    assert "name" in str(error)


@pytest.mark.parametrize("name", CRAFTED_NAMES)
def test_crafted_connection_database_rejected(sandbox: Sandbox, unchanged: None, name: str) -> None:
    """The database of the startup packet, sent over a raw socket to read the SQLSTATE of the FATAL error."""
    with wire_client.connect(sandbox.gateway.port) as sock:
        sock.sendall(wire_client.startup_packet(database=CRAFTED_NAMES[name]))
        messages = wire_client.read_until(sock, b"EZ")
        closed = wire_client.closed_by_server(sock)

    assert messages[-1].kind == b"E", messages
    fields = messages[-1].fields()
    assert fields["V"] == "FATAL"
    assert fields["C"] == "42602"
    assert fields["M"].startswith("invalid database name")
    assert closed


def test_longest_name_accepted(sandbox: Sandbox) -> None:
    """A 64-character name is valid, so the 65-character cases fail on length alone."""
    name = "n" * 64
    with sandbox.connect() as connection:
        connection.execute(f"INSERT INTO {name} (time, v) VALUES ('2024-05-01T12:00:00Z', 1)")
        assert connection.execute(f"SELECT v FROM {name}").fetchall() == [(1,)]
        connection.execute(f"DROP TABLE {name}")


# ------------------------------------------------------------------ crafted names over HTTP


def _http_write(sandbox: Sandbox, path: str, body: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.gateway.http_port, timeout=30)
    try:
        connection.request("POST", path, body=body.encode(), headers={"Content-Type": "text/plain"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _line_protocol_name(name: str) -> str:
    """Escape a measurement name for line protocol: backslash before comma and space."""
    return name.replace(",", "\\,").replace(" ", "\\ ")


@pytest.mark.parametrize("endpoint", ["/write?db=", "/api/v2/write?bucket="])
@pytest.mark.parametrize("name", [*CRAFTED_NAMES, "empty"])
def test_http_crafted_database_rejected(sandbox: Sandbox, unchanged: None, endpoint: str, name: str) -> None:
    database = CRAFTED_NAMES.get(name, "")

    status, body = _http_write(sandbox, endpoint + urllib.parse.quote(database, safe="") + "&precision=s",
                               f"{MEASUREMENT},host=z v=9 1714564800")

    assert status == 400, body
    if name == "empty":
        assert b"missing database" in body
    else:
        assert b"invalid database name" in body


# Names that line protocol cannot carry: a newline ends the line, and "\" before a space is an escape.
_NOT_IN_LINE_PROTOCOL = {"newline", "carriage_return"}


@pytest.mark.parametrize("name", [name for name in CRAFTED_NAMES if name not in _NOT_IN_LINE_PROTOCOL])
def test_http_crafted_measurement_rejected(sandbox: Sandbox, unchanged: None, name: str) -> None:
    measurement = _line_protocol_name(CRAFTED_NAMES[name])

    status, body = _http_write(sandbox, f"/write?db={DATABASE}&precision=s", f"{measurement},host=z v=9 1714564800")

    assert status == 400, body
    assert b"invalid measurement name" in body


def test_http_crafted_measurement_keeps_valid_lines(sandbox: Sandbox) -> None:
    """The valid line of a request with a crafted measurement is stored in the right partition only."""
    lines = "a/b,host=z v=9 1714564800\n../up,host=z v=9 1714564800\nhttp_ok,host=z v=7 1714564800"
    before = sandbox.snapshot()

    status, body = _http_write(sandbox, f"/write?db={DATABASE}&precision=s", lines)
    with sandbox.connect() as connection:
        connection.execute("CHECKPOINT")
        rows = connection.execute("SELECT host, v FROM http_ok").fetchall()
        added = set(sandbox.snapshot()) - set(before)
        connection.execute("DROP TABLE http_ok")

    assert status == 400, body
    assert b"line 1" in body
    assert b"line 2" in body
    assert rows == [("z", 7)]
    assert len(added) == 1
    assert all(f"{DATABASE}/http_ok/2024/05/01/12/http_ok_" in name for name in added), added


# ------------------------------------------------------------------ the second wall: DuckDB itself


@pytest.fixture(scope="module")
def engine(sandbox: Sandbox) -> Iterator[Engine]:
    """The gateway's DuckDB set-up on the sandbox's store, in this process, without the gateway's checks."""
    backend = open_backend(sandbox.settings.storage_url, sandbox.settings)
    engine = Engine(backend, lambda: secret_statements(backend))
    yield engine
    engine.close()


def test_engine_reads_store(sandbox: Sandbox, engine: Engine) -> None:
    cursor = engine.cursor()
    rows = cursor.execute(f"SELECT count(*) FROM read_parquet('{sandbox.root}/{DATABASE}/**/*.parquet')").fetchone()
    assert rows == (SEED_ROWS,)


def test_engine_allowed_directories(sandbox: Sandbox, engine: Engine) -> None:
    cursor = engine.cursor()
    allowed = cursor.execute("SELECT current_setting('allowed_directories')").fetchone()
    assert allowed is not None
    assert sorted(allowed[0]) == sorted([f"{sandbox.root}/", f"{engine.temp_directory}/"])
    assert cursor.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    assert cursor.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)


def test_engine_rejects_outside_read(sandbox: Sandbox, engine: Engine) -> None:
    cursor = engine.cursor()
    for label, path in sandbox.outside.items():
        if label == "dotdot" and sandbox.backend != "local":
            continue  # test_engine_object_store_dotdot_is_literal
        with pytest.raises(duckdb.PermissionException, match="Cannot access"):
            cursor.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()


def test_engine_object_store_dotdot_is_literal(sandbox: Sandbox, engine: Engine) -> None:
    """``..`` in an S3 or Azure URL under the root passes DuckDB's check but names no object outside it.

    NOTE: DuckDB 1.5.5 resolves ``..`` in local paths only, so for
    ``s3://`` and ``az://`` it lets the request through. Object keys have no
    parent directories, so the key containing ``..`` is missing and nothing
    outside the root is read. The gateway's own function checks reject such a
    path before the statement reaches DuckDB (test_read_outside_root_rejected).
    """
    path = sandbox.outside["dotdot"]
    cursor = engine.cursor()
    if sandbox.backend == "local":
        with pytest.raises(duckdb.PermissionException, match="Cannot access"):
            cursor.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
        return

    with pytest.raises((duckdb.HTTPException, duckdb.IOException), match="404|No files found"):
        cursor.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()


def test_engine_rejects_outside_write(sandbox: Sandbox, engine: Engine, unchanged: None) -> None:
    target = sandbox.outside.get("sibling") or sandbox.outside["other_prefix"]
    cursor = engine.cursor()

    with pytest.raises(duckdb.PermissionException):
        cursor.execute(f"COPY (SELECT 1 AS v) TO '{target}.copy.parquet' (FORMAT parquet)")


@pytest.mark.parametrize("name", LOCKED)
def test_engine_rejects_setting_change(engine: Engine, name: str) -> None:
    cursor = engine.cursor()

    with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
        cursor.execute(f"SET {name} = 'x'")


def test_engine_rejects_install(engine: Engine) -> None:
    cursor = engine.cursor()

    with pytest.raises(duckdb.Error):
        cursor.execute("INSTALL spatial")


# ------------------------------------------------------------------ crafted column names

CRAFTED_COLUMNS = {
    "quote_statement": 'v"; ATTACH \'evil.duckdb\'; --',
    "single_quote": "it's",
    "function_call": "a) FROM read_text('/etc/hostname') --",
    "semicolon": "semi;colon",
    "backslash": "back\\slash",
    "tab": "tab\tcol",
    "slash_dotdot": "../up/col",
}


@pytest.mark.parametrize("column", CRAFTED_COLUMNS)
def test_crafted_column_name_is_data(sandbox: Sandbox, column: str) -> None:
    """A column name is stored and read back as it was written; it is never part of SQL or paths."""
    name = CRAFTED_COLUMNS[column]
    measurement = f"columns_{column}"
    before = sandbox.snapshot()
    with sandbox.connect() as connection:
        connection.execute(f"INSERT INTO {measurement} (time, {_quoted(name)}) VALUES ('2024-05-01T12:00:00Z', 5)")
        connection.execute(f"INSERT INTO {measurement} (time, {_quoted(name)}) VALUES (now(), abs(-6))")
        connection.execute("CHECKPOINT")
        cursor = connection.execute(f"SELECT {_quoted(name)} FROM {measurement} ORDER BY 1")
        labels = [description.name for description in cursor.description or []]
        rows = cursor.fetchall()
        listed = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY column_name",
            [measurement]).fetchall()
        added = set(sandbox.snapshot()) - set(before)
        connection.execute(f"DROP TABLE {measurement}")

    assert labels == [name]
    assert rows == [(5,), (6,)]
    assert sorted(listed) == sorted([(name,), ("time",)])
    assert added
    assert all(f"{DATABASE}/{measurement}/" in path for path in added), added
