"""Which DuckDB errors mean a listed file is gone, and how reading a measurement recovers from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from gateway.engine import Engine
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.sql.duckdb_errors import names_missing_file
from gateway.sql.measurements import Measurements
from gateway.sql.time_bounds import TimeRange
from gateway.storage.local import LocalBackend


def test_missing_file_at_binding_retried(tmp_path: Path) -> None:
    missing = tmp_path / "cpu_1.parquet"
    with duckdb.connect() as connection, pytest.raises(duckdb.IOException) as excinfo:
        connection.execute(f"SELECT count(*) FROM read_parquet(['{missing}'])")
    assert names_missing_file(excinfo.value)


# DuckDB gives this text when a file goes between binding and reading. That
# is a race no test can make happen on demand, so the errors below are built
# from the text a load run logged (docs/reliability.md, load).
RACE = ('cannot open file "/store/telemetry/cpu/2024/01/01/03/cpu_20261205_084628_1185683786e68'
        '.v01796460568525734946.parquet": No such file or directory')


def test_file_removed_after_binding_retried() -> None:
    assert names_missing_file(duckdb.IOException(f"IO Error: {RACE}"))
    # The spelling DuckDB used while reading the footers of a column union.
    assert names_missing_file(duckdb.IOException(f"IO Error: C{RACE[1:]}"))


@pytest.mark.parametrize("text", [
    'IO Error: cannot open file "/store/telemetry/cpu/x.parquet": Permission denied',
    "IO Error: No space left on device",
    "IO Error: HTTP 403 (Forbidden)",
])
def test_other_io_errors_not_retried(text: str) -> None:
    assert not names_missing_file(duckdb.IOException(text))


def test_schema_union_lists_again_after_removal(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    first = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    first_hour = pa.table({"time": pa.array([first], TIME_TYPE), "usage": [1.0]})
    second_hour = pa.table({"time": pa.array([first + timedelta(hours=1)], TIME_TYPE),
                            "usage": [2.0], "extra": ["x"]})
    write_hour_files(backend, "db", "cpu", first_hour)
    write_hour_files(backend, "db", "cpu", second_hour)
    measurements = Measurements(Engine(backend))
    listed = measurements.files("db", "cpu", TimeRange())
    assert len(listed.listed) == 2

    # The second hour's file goes after the listing, before its footer is read.
    second_file = [path for path in backend.list("db/cpu/") if "/2024/01/01/01/" in path]
    assert len(second_file) == 1
    backend.delete_batch(second_file)

    columns = measurements.columns_of(listed)
    assert [column.name for column in columns] == ["time", "usage"]
    assert [column.type for column in columns] == ["TIMESTAMP WITH TIME ZONE", "DOUBLE"]
