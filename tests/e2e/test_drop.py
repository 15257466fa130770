"""TRUNCATE, DROP TABLE and DROP DATABASE | SCHEMA on every backend: files gone, SHOW output updated.

Each test writes measurements ``telemetry.cpu`` (two hour files),
``telemetry.mem`` (one) and ``other.disk`` (one), flushed to Parquet.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.store_files import file_hashes, store_backend
from tests.emulators import StorageTarget


def _connect(gateway: GatewayProcess, database: str = "telemetry") -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True)


def _load(connection: psycopg.Connection) -> None:
    connection.execute("INSERT INTO cpu (time, host, usage) VALUES "
                       "('2024-01-01 00:10:00+00', 'a', 1.5), ('2024-01-01 01:10:00+00', 'b', 2.5)")
    connection.execute("INSERT INTO mem (time, free) VALUES ('2024-01-01 00:20:00+00', 7)")
    connection.execute("INSERT INTO other.disk (time, used) VALUES ('2024-01-01 00:30:00+00', 9)")
    connection.execute("CHECKPOINT")


def _names(connection: psycopg.Connection, statement: str) -> list[str]:
    return [name for (name,) in connection.execute(statement).fetchall()]


def _sqlstate(connection: psycopg.Connection, statement: str) -> str | None:
    with pytest.raises(psycopg.Error) as excinfo:
        connection.execute(statement)
    return excinfo.value.sqlstate


def test_truncate_keeps_database(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        assert len(file_hashes(storage, "telemetry/cpu/")) == 2
        untouched = file_hashes(storage, "telemetry/mem/") | file_hashes(storage, "other/")

        assert connection.execute("TRUNCATE cpu").statusmessage == "TRUNCATE TABLE"

        assert file_hashes(storage, "telemetry/cpu/") == {}
        assert file_hashes(storage, "telemetry/mem/") | file_hashes(storage, "other/") == untouched
        assert _names(connection, "SHOW TABLES") == ["mem"]
        assert _names(connection, "SHOW DATABASES") == ["other", "telemetry"]
        assert _sqlstate(connection, "SELECT count(*) FROM cpu") == "42P01"

        connection.execute("INSERT INTO cpu (time, host, usage) VALUES ('2024-01-02 00:00:00+00', 'c', 3.5)")
        assert connection.execute("SELECT host FROM cpu").fetchall() == [("c",)]


def test_truncate_buffered_rows_and_lists(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        connection.execute("INSERT INTO mem (time, free) VALUES ('2024-01-01 03:00:00+00', 8)")  # buffered
        assert connection.execute("SELECT count(*) FROM mem").fetchone() == (2,)

        assert connection.execute("TRUNCATE TABLE telemetry.cpu, mem").statusmessage == "TRUNCATE TABLE"

        assert file_hashes(storage, "telemetry/cpu/") == {}
        assert file_hashes(storage, "telemetry/mem/") == {}
        assert _names(connection, "SHOW TABLES") == []
        assert _names(connection, "SHOW TABLES FROM other") == ["disk"]
        assert _sqlstate(connection, "TRUNCATE cpu") == "42P01"


def test_drop_tables(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        store_backend(storage).write("telemetry/cpu/notes.txt", b"not a partition file")
        other = file_hashes(storage, "other/")

        assert connection.execute("DROP TABLE cpu, telemetry.mem").statusmessage == "DROP TABLE"

        assert file_hashes(storage, "telemetry/cpu/") == {}
        assert file_hashes(storage, "telemetry/mem/") == {}
        assert file_hashes(storage, "other/") == other
        assert _names(connection, "SHOW TABLES") == []
        assert _names(connection, "SHOW DATABASES") == ["other", "telemetry"]
        assert _sqlstate(connection, "DROP TABLE cpu") == "42P01"
        assert _sqlstate(connection, "DROP TABLE nodb.cpu") == "3D000"
        assert _sqlstate(connection, "DROP TABLE other.disk, cpu") == "42P01"
        assert _names(connection, "SHOW TABLES FROM other") == ["disk"]  # nothing is dropped when one is missing


def test_drop_table_if_exists(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        notices: list[str] = []
        connection.add_notice_handler(lambda notice: notices.append(str(notice.message_primary)))

        assert connection.execute("DROP TABLE IF EXISTS cpu, nope, nodb.x").statusmessage == "DROP TABLE"

        assert notices == ['measurement "nope" does not exist, skipping', 'measurement "x" does not exist, skipping']
        assert _names(connection, "SHOW TABLES") == ["mem"]


def test_drop_database(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        connection.execute("INSERT INTO mem (time, free) VALUES ('2024-01-01 03:00:00+00', 8)")  # buffered
        other = file_hashes(storage, "other/")

        assert connection.execute("DROP DATABASE telemetry").statusmessage == "DROP DATABASE"

        assert file_hashes(storage, "telemetry/") == {}
        assert file_hashes(storage, "other/") == other
        assert _names(connection, "SHOW DATABASES") == ["other"]
        assert _sqlstate(connection, "DROP DATABASE telemetry") == "3D000"
        assert _sqlstate(connection, "SELECT count(*) FROM mem") == "3D000"


def test_drop_schema_variants(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        notices: list[str] = []
        connection.add_notice_handler(lambda notice: notices.append(str(notice.message_primary)))

        assert _sqlstate(connection, "DROP SCHEMA other RESTRICT") == "2BP01"
        assert _names(connection, "SHOW TABLES FROM other") == ["disk"]
        assert connection.execute("CREATE SCHEMA empty").statusmessage == "CREATE SCHEMA"
        assert connection.execute("DROP SCHEMA empty RESTRICT").statusmessage == "DROP SCHEMA"
        assert connection.execute("DROP SCHEMA IF EXISTS nope").statusmessage == "DROP SCHEMA"
        assert connection.execute("DROP SCHEMA other CASCADE").statusmessage == "DROP SCHEMA"

        assert notices == ['database "nope" does not exist, skipping']
        assert file_hashes(storage, "other/") == {}
        assert _names(connection, "SHOW DATABASES") == ["telemetry"]
        assert _sqlstate(connection, "DROP VIEW v") == "0A000"
