"""``lakegate ingest`` imports line-protocol, CSV and Parquet files into a local store."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from tests.e2e.gateway_process import start_gateway
from tests.emulators import StorageTarget

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _ingest(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "ingest", "--storage", store, *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_ingest_files_then_query(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    csv = tmp_path / "temps.csv"
    csv.write_text("time,host,v\n2024-01-01T00:00:00Z,a,1\n2024-01-01 01:30:00+02:00,b,2.5\n2024-01-02,c,3\n")
    parquet = tmp_path / "readings.parquet"
    pq.write_table(pa.table({"time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
                             "x": [7]}), parquet)
    result = _ingest(local_storage_url.url, str(SHARED_DATA / "noaa-ndbc-latest-observations.lp"),
                     str(SHARED_DATA / "bitcoin-currentprice.lp"), str(csv), str(parquet), "--db", "imported")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ingested 803 rows into database imported:")

    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=imported", autocommit=True) as connection:
            assert connection.execute("SHOW TABLES").fetchall() == [
                ("coindesk",), ("ndbc",), ("readings",), ("temps",)]
            assert connection.execute("SELECT count(*) FROM ndbc").fetchone() == (796,)
            assert connection.execute("SELECT host, v FROM temps ORDER BY time").fetchall() == [
                ("b", 2.5), ("a", 1.0), ("c", 3.0)]
            first_b = connection.execute("SELECT time FROM temps WHERE host = 'b'").fetchone()
            assert first_b == (datetime(2023, 12, 31, 23, 30, tzinfo=UTC),)
            assert connection.execute("SELECT x FROM readings").fetchall() == [(7,)]
    finally:
        gateway.stop()


def test_ingest_reports_bad_input(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    lines = tmp_path / "mixed.lp"
    lines.write_text("cpu v=1 1000000000\ncpu v=oops 2000000000\n")
    result = _ingest(local_storage_url.url, str(lines), "--db", "metrics")
    assert result.returncode == 1
    assert "ingested 1 rows into database metrics" in result.stdout
    assert 'mixed.lp line 2: invalid field value "oops" for field "v"' in result.stderr

    bad_time = tmp_path / "bad.csv"
    bad_time.write_text("time,v\nyesterday,1\n")
    rejected = _ingest(local_storage_url.url, str(bad_time), "--db", "metrics")
    assert rejected.returncode == 2
    assert 'invalid time "yesterday" in row 1 of bad.csv' in rejected.stderr
    assert _ingest(local_storage_url.url, str(tmp_path / "notes.txt"), "--db", "metrics").returncode == 2
    assert _ingest(local_storage_url.url, str(lines), "--db", "../x").returncode == 2
