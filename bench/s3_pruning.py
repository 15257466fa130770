"""Partition pruning on object storage: a one-hour query through a gateway on a moto S3 bucket versus DuckDB.

The bucket contains ``days`` days of hourly files written by bench/delete_data.py
and uploaded with boto3. The gateway reads only the hour's partition.
DuckDB (httpfs, its S3 endpoint set to the moto server) reads the whole
measurement glob with the same time condition, so with a new database it
lists every object and opens every file to read its footer. Within one
database, DuckDB 1.5.5 reuses what earlier queries read, and a later query
sent GET requests for the matching file only (seen in moto's log), so
both cases are measured. Objects opened by each side are
counted from moto's request log (GET requests on ``.parquet`` keys), and
the gateway's also from its EXPLAIN line ``N of M files``.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg

from bench.delete_data import DATABASE, MEASUREMENT, StoreSize, hour_start, write_store
from bench.moto_log import ObjectReads, lines_since, log_size, object_reads
from bench.store_gateway import gateway_on
from bench.tsbs_queries import timestamp_literal
from gateway.config import Settings
from gateway.storage.duckdb_extensions import extension_path, quote_literal
from gateway.storage.local import LocalBackend
from tests.emulators import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
    moto_s3_settings,
    s3_client,
    start_moto,
)

BUCKET = "lakegate-bench"
UPLOAD_THREADS = 8
#: Seconds to wait for moto to write the log lines of the requests it just completed.
LOG_SETTLE_SECONDS = 0.5
SEED = 5
#: Window lengths in hours whose object reads show that reads grow with the hours queried.
WINDOW_HOURS = (1, 6, 24)


@dataclass(frozen=True)
class SideRuns:
    """Timed runs of one side: seconds and the object reads of each run."""

    seconds: list[float]
    reads: list[ObjectReads]


@dataclass(frozen=True)
class Window:
    """One query of ``hours`` hours through the gateway: its time, its EXPLAIN file count and its reads."""

    hours: int
    seconds: float
    explain: str
    reads: ObjectReads


@dataclass(frozen=True)
class PruningResult:
    """Both sides of the pruning comparison, with the store's size."""

    size: StoreSize
    objects: int
    store_bytes: int
    query: str
    gateway: SideRuns
    #: DuckDB with a new database per run, and with one database whose caches persist across runs.
    duckdb_fresh: SideRuns
    duckdb_warm: SideRuns
    #: The gateway's EXPLAIN line for the first timed hour, such as ``1 of 720 files``.
    explain: str
    #: Windows of one to many hours through the gateway.
    windows: list[Window]


class ResultMismatch(RuntimeError):
    """The gateway and DuckDB returned different rows for the same hour."""


def hour_query(source: str, hour: int, hours: int = 1) -> str:
    """Return the aggregation over ``source`` (``cpu`` or a read_parquet call) of ``hours`` hours from hour ``hour``."""
    start, end = hour_start(hour), hour_start(hour + hours)
    return (f"SELECT hostname, max(usage_user) AS max_usage_user, avg(usage_system) AS mean_usage_system "
            f"FROM {source} WHERE time >= {timestamp_literal(start)} AND time < {timestamp_literal(end)} "
            "GROUP BY hostname ORDER BY hostname")


def measure_pruning(directory: Path, size: StoreSize, runs: int) -> PruningResult:
    """Build the store in a new moto server, time ``runs`` hours on each side and stop the server."""
    source = directory / "s3-source"
    write_store(LocalBackend(source), size)
    files = sorted(path for path in source.rglob("*.parquet"))
    # Timed hours come after the windows, so no timed query reads a file that DuckDB in the gateway cached.
    first_hour = 1 + sum(WINDOW_HOURS)
    if size.files - first_hour < runs:
        raise ValueError(f"{size.days} days of hourly files are too few for {runs} runs; use at least 3 days")
    hours = random.Random(SEED).sample(range(first_hour, size.files), runs)
    moto, endpoint = start_moto(directory)
    try:
        _upload(endpoint, source, files)
        settings = Settings(storage_url=f"s3://{BUCKET}", s3=moto_s3_settings(endpoint))
        with gateway_on(settings, directory / "gateway-s3.log") as gateway:
            conninfo = f"{gateway.dsn} dbname={DATABASE}"
            explain = _explain_files(conninfo, hour_query("cpu", hours[0]))
            windows = _gateway_windows(conninfo, moto.log_path)
            gateway_runs, gateway_rows = _gateway_side(conninfo, hours, moto.log_path)
        duckdb_fresh, duckdb_rows = _duckdb_side(endpoint, hours, moto.log_path, fresh=True)
        duckdb_warm, _ = _duckdb_side(endpoint, hours, moto.log_path, fresh=False)
    finally:
        moto.stop()
    if gateway_rows != duckdb_rows:
        raise ResultMismatch(f"hour {hours[0]}: the gateway returned {gateway_rows[:3]}..., DuckDB {duckdb_rows[:3]}...")
    return PruningResult(size, len(files), sum(path.stat().st_size for path in files), hour_query("cpu", hours[0]),
                         gateway_runs, duckdb_fresh, duckdb_warm, explain, windows)


def _upload(endpoint: str, source: Path, files: list[Path]) -> None:
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(lambda path: client.upload_file(str(path), BUCKET, path.relative_to(source).as_posix()),
                      files))


def _explain_files(conninfo: str, query: str) -> str:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        first = connection.execute("EXPLAIN " + query).fetchone()
    line = str(first[0]) if first else ""
    return line.split(": ", 1)[1].split(",")[0] if ": " in line else line


def _gateway_side(conninfo: str, hours: list[int], log: Path) -> tuple[SideRuns, list[tuple[object, ...]]]:
    """Time the hours through the gateway; return the runs and the first hour's rows."""
    seconds, reads = [], []
    first_rows: list[tuple[object, ...]] = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(hour_query("cpu", 0)).fetchall()  # loads httpfs and fills the listing cache
        for hour in hours:
            offset = log_size(log)
            started = time.perf_counter()
            rows = connection.execute(hour_query("cpu", hour)).fetchall()
            seconds.append(time.perf_counter() - started)
            reads.append(_reads_since(log, offset))
            first_rows = first_rows or _comparable(rows)
    return SideRuns(seconds, reads), first_rows


def _gateway_windows(conninfo: str, log: Path) -> list[Window]:
    """Query windows of WINDOW_HOURS hours, one after the other from hour 1, through the gateway.

    The windows do not overlap and start after hour 0 (the warm-up query's),
    so every file they read is read for the first time, and DuckDB's cache
    of Parquet footers in the gateway cannot hide a read.
    """
    windows = []
    start = 1
    for hours in WINDOW_HOURS:
        query = hour_query("cpu", start, hours)
        explain = _explain_files(conninfo, query)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            offset = log_size(log)
            started = time.perf_counter()
            connection.execute(query).fetchall()
            seconds = time.perf_counter() - started
        windows.append(Window(hours, seconds, explain, _reads_since(log, offset)))
        start += hours
    return windows


def _duckdb_side(endpoint: str, hours: list[int], log: Path,
                 fresh: bool) -> tuple[SideRuns, list[tuple[object, ...]]]:
    """Time the hours in DuckDB over the whole glob; return the runs and the first hour's rows.

    With ``fresh``, each run has a new in-memory database, so no listing or
    Parquet footer is cached from an earlier run. Otherwise all runs share one
    connection, after an untimed run of hour 0.
    """
    pattern = f"s3://{BUCKET}/{DATABASE}/{MEASUREMENT}/*/*/*/*/*.parquet"
    source = f"read_parquet({quote_literal(pattern)}, hive_partitioning = false)"
    shared = None if fresh else duckdb_on_moto(endpoint)
    if shared is not None:
        shared.execute(hour_query(source, 0)).fetchall()
    seconds, reads = [], []
    first_rows: list[tuple[object, ...]] = []
    try:
        for hour in hours:
            connection = shared or duckdb_on_moto(endpoint)
            offset = log_size(log)
            started = time.perf_counter()
            rows = connection.execute(hour_query(source, hour)).fetchall()
            seconds.append(time.perf_counter() - started)
            reads.append(_reads_since(log, offset))
            first_rows = first_rows or _comparable(rows)
            if shared is None:
                connection.close()
    finally:
        if shared is not None:
            shared.close()
    return SideRuns(seconds, reads), first_rows


def duckdb_on_moto(endpoint: str) -> duckdb.DuckDBPyConnection:
    """Return a DuckDB connection whose S3 secret sends every request to the moto server at ``endpoint``.

    httpfs loads from the duckdb-extension-httpfs package's file, so nothing
    is downloaded.
    """
    host = endpoint.removeprefix("http://")
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"LOAD {quote_literal(str(extension_path('httpfs')))}")
    connection.execute(
        "CREATE SECRET moto (TYPE s3, "
        f"KEY_ID {quote_literal(MOTO_ACCESS_KEY_ID)}, SECRET {quote_literal(MOTO_SECRET_ACCESS_KEY)}, "
        f"REGION {quote_literal(MOTO_REGION)}, ENDPOINT {quote_literal(host)}, URL_STYLE 'path', USE_SSL false)")
    return connection


def _comparable(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Return the rows with floats rounded to 9 digits, because parallel sums may differ in the last bits."""
    return [tuple(round(value, 9) if isinstance(value, float) else value for value in row) for row in rows]


def _reads_since(log: Path, offset: int) -> ObjectReads:
    time.sleep(LOG_SETTLE_SECONDS)
    return object_reads(lines_since(log, offset), BUCKET)
