"""Everything one ``python -m bench`` run measured, the conditions it ran under, and its targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bench.concurrency import ConcurrencyResult
from bench.cpu_load import LoadSummary
from bench.percentiles import median
from bench.query_overhead import QueryTimes, median_ratio
from bench.s3_pruning import PruningResult
from bench.streaming import StreamingMemory, StreamingTimes
from bench.suite_scale import SuiteScale
from bench.targets import Target

#: Streaming through the gateway must take at most PostgreSQL 15's time for the same rows.
STREAMING_VERSUS_POSTGRES = 1.0
#: Stock buenavista must take at least this many times the gateway's time.
BUENAVISTA_FACTOR = 20.0
#: Peak resident memory above idle while streaming the memory case's rows, in MiB.
STREAMING_MEMORY_MIB = 300.0
#: Median over the TSBS queries of gateway time / DuckDB time.
QUERY_OVERHEAD = 1.10
#: DuckDB's time over the gateway's for the one-hour query on object storage.
PRUNING_FACTOR = 5.0
#: Gateway CPU seconds per wall second under the concurrent clients: above 1, both cores worked.
CONCURRENCY_CORES = 1.0


@dataclass(frozen=True)
class RunContext:
    """When, how and where the run happened."""

    started: datetime
    command: str
    machine: str
    software: str
    revision: str
    #: 1-minute load averages at the start and the end; other work on the machine raises them.
    load_averages: tuple[float, float]


@dataclass(frozen=True)
class SuiteResults:
    """The figures of every suite that ran; a suite that did not run is None."""

    context: RunContext
    scale: SuiteScale
    postgres_version: str
    load: LoadSummary | None
    memory: StreamingMemory | None
    streaming: StreamingTimes | None
    queries: list[QueryTimes] | None
    pruning: PruningResult | None
    concurrency: ConcurrencyResult | None


def targets(results: SuiteResults) -> list[Target]:
    """Return a Target for every figure with an aim that this run measured."""
    found = []
    if results.streaming is not None:
        found.append(Target("gateway time / PostgreSQL 15 time, psql", results.streaming.gateway_over_postgres,
                            STREAMING_VERSUS_POSTGRES, at_most=True))
        found.append(Target("buenavista time / gateway time, psql", results.streaming.buenavista_over_gateway,
                            BUENAVISTA_FACTOR, at_most=False))
    if results.memory is not None:
        found.append(Target(f"gateway peak RSS above idle, streaming {results.memory.rows:,} rows",
                            results.memory.above_idle_mib, STREAMING_MEMORY_MIB, at_most=True, unit=" MiB"))
    if results.queries:
        found.append(Target("median of gateway time / DuckDB time, TSBS queries", median_ratio(results.queries),
                            QUERY_OVERHEAD, at_most=True))
    if results.pruning is not None:
        found.append(Target("DuckDB time / gateway time, one hour on S3", pruning_factor(results.pruning),
                            PRUNING_FACTOR, at_most=False))
    if results.concurrency is not None:
        concurrency = results.concurrency
        found.append(Target(f"query errors, {concurrency.clients} clients", len(concurrency.errors), 0,
                            at_most=True, unit=""))
        found.append(Target("gateway CPU seconds per wall second, concurrent clients", concurrency.gateway_cores,
                            CONCURRENCY_CORES, at_most=False, unit=""))
    return found


def pruning_factor(pruning: PruningResult) -> float:
    """Return the median time of DuckDB with a new database per query over the gateway's median time."""
    return median(pruning.duckdb_fresh.seconds) / median(pruning.gateway.seconds)
