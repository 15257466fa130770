"""Which DuckDB errors make a query list its files afresh and run once more."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from gateway.session import _names_missing_file


def test_missing_file_at_binding_retried(tmp_path: Path) -> None:
    missing = tmp_path / "cpu_1.parquet"
    with duckdb.connect() as connection, pytest.raises(duckdb.IOException) as excinfo:
        connection.execute(f"SELECT count(*) FROM read_parquet(['{missing}'], union_by_name = true)")
    assert _names_missing_file(excinfo.value)


# DuckDB gives this text when a file goes between binding and reading. That
# is a race no test can make happen on demand, so the errors below are built
# from the text a load run logged (docs/reliability.md, load).
RACE = ('cannot open file "/store/telemetry/cpu/2024/01/01/03/cpu_20261205_084628_1185683786e68'
        '.v01796460568525734946.parquet": No such file or directory')


def test_file_removed_after_binding_retried() -> None:
    assert _names_missing_file(duckdb.IOException(f"IO Error: {RACE}"))


@pytest.mark.parametrize("text", [
    'IO Error: cannot open file "/store/telemetry/cpu/x.parquet": Permission denied',
    "IO Error: No space left on device",
    "IO Error: HTTP 403 (Forbidden)",
])
def test_other_io_errors_not_retried(text: str) -> None:
    assert not _names_missing_file(duckdb.IOException(text))
