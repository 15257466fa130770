"""Running the suites of ``python -m bench`` in order, each with the servers it needs, and stopping them.

One store is loaded through a first gateway, which then stops. A second,
fresh gateway on the same store serves the memory case first (its
high-water mark of memory then covers that case only), then the streaming,
query and concurrency suites. Object storage uses its own store in a moto
server.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import postgres as reference_server
from bench.buenavista_server import USER as BUENAVISTA_USER
from bench.buenavista_server import running_buenavista
from bench.concurrency import ConcurrencyResult, run_clients
from bench.cpu_data import START
from bench.cpu_load import DATABASE, LoadSummary, load_cpu, parquet_glob
from bench.delete_data import StoreSize
from bench.psql_client import Endpoint
from bench.query_overhead import QueryTimes, time_queries
from bench.s3_pruning import PruningResult, measure_pruning
from bench.store_gateway import gateway_on
from bench.streaming import (
    StreamingMemory,
    StreamingTimes,
    measure_memory,
    memory_query,
    stream_query,
    time_streaming,
)
from bench.suite_scale import SuiteScale
from bench.tsbs_queries import DataSpan, query_set
from gateway.config import Settings
from tests.clients.postgres_oracle import PostgresProcess
from tests.e2e.gateway_process import GatewayProcess

LOCAL_SUITES = ("streaming", "queries", "concurrency")
SUITES = (*LOCAL_SUITES, "pruning", "ingest")
#: Seeds of the query parameters: one for the timed query set, one base for the concurrent clients.
QUERY_SEED = 20240102
CLIENT_SEED = 1000


class LocalResults:
    """The figures of the suites on the local store, filled in as they run."""

    def __init__(self) -> None:
        self.postgres_version = ""
        self.load: LoadSummary | None = None
        self.memory: StreamingMemory | None = None
        self.streaming: StreamingTimes | None = None
        self.queries: list[QueryTimes] | None = None
        self.concurrency: ConcurrencyResult | None = None


def run_local_suites(scale: SuiteScale, suites: set[str]) -> LocalResults:
    """Load the store and run the chosen suites of LOCAL_SUITES on it; delete the store afterwards."""
    results = LocalResults()
    directory = Path(tempfile.mkdtemp(prefix="lakegate-bench-suite-"))
    store = directory / "store"
    store.mkdir()
    settings = Settings(storage_url=str(store))
    try:
        with reference_server.running_postgres() as postgres:
            results.postgres_version = reference_server.server_settings(postgres)["server_version"]
            with gateway_on(settings, directory / "gateway-load.log") as loader:
                progress(f"loading {scale.rows:,} cpu rows ({scale.hosts} hosts, {scale.hours} hours) "
                         "into the gateway and PostgreSQL")
                results.load = load_cpu(_conninfo(loader), postgres, scale.hosts, scale.rows)
            with gateway_on(settings, directory / "gateway.log") as gateway:
                _run_on_gateway(gateway, postgres, store, directory, scale, suites, results)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return results


def _run_on_gateway(gateway: GatewayProcess, postgres: PostgresProcess, store: Path, directory: Path,
                    scale: SuiteScale, suites: set[str], results: LocalResults) -> None:
    conninfo = _conninfo(gateway)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SELECT * FROM cpu LIMIT 1").fetchall()  # loads code, lists the store
    span = DataSpan(START, scale.hours, scale.hosts)
    if "streaming" in suites:
        progress(f"gateway memory while streaming {scale.memory_rows:,} rows")
        results.memory = measure_memory(conninfo, gateway.process.pid, memory_query(scale.memory_rows, scale.rows),
                                        scale.memory_rows)
        progress(f"psql of {scale.stream_rows:,} rows: gateway, PostgreSQL and buenavista")
        with running_buenavista(parquet_glob(store), directory) as buenavista_port:
            results.streaming = time_streaming(
                Endpoint(gateway.port, "tester", DATABASE),
                Endpoint(postgres.port, reference_server.USER, reference_server.DATABASE),
                Endpoint(buenavista_port, BUENAVISTA_USER, "memory"),
                stream_query(scale.stream_rows, scale.hosts), scale.stream_rows, scale.stream_runs,
                scale.buenavista_runs)
    if "queries" in suites:
        progress(f"TSBS queries, gateway and DuckDB, {scale.query_runs} runs each")
        results.queries = time_queries(conninfo, parquet_glob(store), query_set(span, QUERY_SEED), scale.query_runs)
    if "concurrency" in suites:
        progress(f"{scale.clients} concurrent clients for {scale.concurrency_seconds:g} s")
        results.concurrency = run_clients(conninfo, gateway.process.pid, span, scale.clients,
                                          scale.concurrency_seconds, CLIENT_SEED)


def run_pruning(scale: SuiteScale) -> PruningResult:
    """Measure pruning on a moto S3 server in a temporary directory, deleted afterwards."""
    size = StoreSize(scale.s3_days, scale.s3_hosts)
    progress(f"object storage: {size.files} hourly files of {scale.s3_hosts} hosts on moto, {scale.s3_runs} runs")
    directory = Path(tempfile.mkdtemp(prefix="lakegate-bench-s3-"))
    try:
        return measure_pruning(directory, size, scale.s3_runs)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def progress(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _conninfo(gateway: GatewayProcess) -> str:
    return f"{gateway.dsn} dbname={DATABASE}"
