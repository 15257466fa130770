"""Repeated queries through a real gateway: kept rewrites and listings never hide a change to the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gateway.storage.open import open_backend
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

COUNT = "SELECT count(*) FROM cpu WHERE time >= TIMESTAMPTZ '2024-01-01 00:00:00+00'"
HOUR_SUM = ("SELECT sum(usage) FROM cpu WHERE time >= TIMESTAMPTZ '2024-01-01 00:00:00+00' "
            "AND time < TIMESTAMPTZ '2024-01-01 01:00:00+00'")


def insert(connection: psycopg.Connection, hour: int, usage: float, host: str = "a") -> None:
    connection.execute("INSERT INTO cpu (time, host, usage) VALUES (%s, %s, %s)",
                       (datetime(2024, 1, 1, hour, tzinfo=UTC), host, usage))
    connection.execute("CHECKPOINT")


def scalar(connection: psycopg.Connection, sql: str) -> object:
    row = connection.execute(sql).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def connection(gateway: GatewayProcess) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gateway.dsn, dbname="telemetry", autocommit=True) as client:
        client.execute("CREATE DATABASE telemetry")
        insert(client, 0, 1.0)
        yield client


def test_repeated_query_sees_flushed_rows(connection: psycopg.Connection) -> None:
    for expected in range(1, 6):
        assert scalar(connection, COUNT) == expected
        assert scalar(connection, COUNT) == expected
        insert(connection, expected % 3, 1.0, host=f"h{expected}")


def test_repeated_query_sees_buffered_rows(connection: psycopg.Connection) -> None:
    assert scalar(connection, COUNT) == 1
    connection.execute("INSERT INTO cpu (time, host, usage) VALUES ('2024-01-01 02:00:00+00', 'b', 2.0)")
    assert scalar(connection, COUNT) == 2
    connection.execute("CHECKPOINT")
    assert scalar(connection, COUNT) == 2


def test_repeated_query_after_delete(connection: psycopg.Connection) -> None:
    insert(connection, 0, 5.0, host="b")
    assert scalar(connection, HOUR_SUM) == 6.0
    connection.execute("DELETE FROM cpu WHERE host = 'b'")
    assert scalar(connection, HOUR_SUM) == 1.0
    connection.execute("TRUNCATE cpu")
    with pytest.raises(psycopg.Error) as excinfo:
        connection.execute(HOUR_SUM)
    assert excinfo.value.sqlstate == "42P01"


def test_new_column_reaches_repeated_star_query(connection: psycopg.Connection) -> None:
    star = "SELECT * FROM cpu WHERE time >= TIMESTAMPTZ '2024-01-01 00:00:00+00' ORDER BY time"
    assert [column.name for column in connection.execute(star).description or []] == ["time", "host", "usage"]
    connection.execute("INSERT INTO cpu (time, host, usage, load) VALUES ('2024-01-01 03:00:00+00', 'c', 1.0, 7)")
    connection.execute("CHECKPOINT")
    cursor = connection.execute(star)
    assert [column.name for column in cursor.description or []] == ["time", "host", "load", "usage"]
    assert [row[2] for row in cursor.fetchall()] == [None, 7]


def test_parameter_bounds_are_not_reused(connection: psycopg.Connection) -> None:
    insert(connection, 5, 1.0, host="late")
    bounded = "SELECT count(*) FROM cpu WHERE time >= %s"
    assert connection.execute(bounded, (datetime(2024, 1, 1, tzinfo=UTC),)).fetchone() == (2,)
    assert connection.execute(bounded, (datetime(2024, 1, 1, 5, tzinfo=UTC),)).fetchone() == (1,)
    assert connection.execute(bounded, (datetime(2024, 1, 1, 6, tzinfo=UTC),)).fetchone() == (0,)


@pytest.fixture
def second_gateway(storage: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    # The reading gateway keeps no S3 or Azure listing between queries (uncached_gateway), so
    # the files this one writes must be seen at once on every backend.
    process = start_gateway(storage.settings, tmp_path / "second.log")
    yield process
    process.stop()


@pytest.fixture
def uncached_gateway(storage: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    process = start_gateway(storage.settings, tmp_path / "first.log", "--listing-cache-ttl", "0")
    yield process
    process.stop()


def test_other_gateways_files_are_seen(uncached_gateway: GatewayProcess, second_gateway: GatewayProcess) -> None:
    with psycopg.connect(uncached_gateway.dsn, dbname="telemetry", autocommit=True) as reader, \
            psycopg.connect(second_gateway.dsn, dbname="telemetry", autocommit=True) as writer:
        writer.execute("CREATE DATABASE telemetry")
        insert(writer, 0, 1.0)
        for expected in range(1, 5):
            assert scalar(reader, COUNT) == expected
            assert scalar(reader, COUNT) == expected
            insert(writer, expected, 1.0)


@pytest.fixture
def long_listing_gateway(storage: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    process = start_gateway(storage.settings, tmp_path / "gateway.log", "--listing-cache-ttl", "600")
    yield process
    process.stop()


def test_file_removed_by_another_writer(long_listing_gateway: GatewayProcess, storage: StorageTarget) -> None:
    with psycopg.connect(long_listing_gateway.dsn, dbname="telemetry", autocommit=True) as connection:
        connection.execute("CREATE DATABASE telemetry")
        insert(connection, 0, 1.0)
        insert(connection, 1, 2.0)
        assert scalar(connection, COUNT) == 2

        # Removed around the gateway, whose kept listing of S3 or Azure still names the file.
        backend = open_backend(storage.url, storage.settings)
        second_hour = [path for path in backend.list("telemetry/cpu/") if "/2024/01/01/01/" in path]
        assert len(second_hour) == 1
        backend.delete_batch(second_hour)

        assert scalar(connection, COUNT) == 1
        assert scalar(connection, HOUR_SUM) == 1.0
