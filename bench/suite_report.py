"""The sections of the results page that ``python -m bench`` writes: targets, streaming, queries, pruning, concurrency.

Every section states the command, machine, software, data sizes and the
targets it measured with "met" or the gap, so it can be read on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.cpu_data import DEFAULT_SEED
from bench.percentiles import median
from bench.query_overhead import median_ratio
from bench.s3_pruning import PruningResult, SideRuns
from bench.streaming import StreamingMemory
from bench.suite_results import SuiteResults, targets
from bench.suite_scale import FULL, SuiteScale
from bench.tables import ratio_text
from bench.tsbs_queries import HIGH_CPU_THRESHOLD

#: A 1-minute load average at or above this before the run means other work shared the machine.
BUSY_LOAD_AVERAGE = 0.5
_MIB = 1024 * 1024


def context(results: SuiteResults) -> str:
    """Return the lines that open every section: when, which command, machine, software and load."""
    run = results.context
    start_load, end_load = run.load_averages
    busy = (" Other processes were running when the run started, so every figure may be worse than on an "
            "idle machine." if start_load >= BUSY_LOAD_AVERAGE else "")
    return "\n".join([
        (f"Recorded {run.started:%Y-%m-%d %H:%M} UTC with `{run.command}` (`make bench` runs "
         "`python -m bench $(BENCH_ARGS)`)."),
        "",
        f"- Machine: {run.machine}.",
        f"- Software: {run.software}; Lakegate source {run.revision}.",
        f"- Load average (1 min): {start_load:.2f} at the start, {end_load:.2f} at the end.{busy}",
    ])


def data_line(results: SuiteResults) -> str:
    """Return the data bullet of the sections on the local store."""
    scale = results.scale
    load = results.load
    loaded = "" if load is None else (
        f" Loaded through the gateway with COPY (FORMAT csv) in chunks of 200,000 rows, then CHECKPOINT: "
        f"{load.rows:,} rows, {load.csv_bytes / _MIB:.1f} MiB of CSV; the same CSV went into PostgreSQL "
        f"{results.postgres_version}.")
    return (f"- Data: TSBS-style `cpu` rows of {scale.hosts} hosts for {scale.hours} hours, one row per host every "
            f"10 s from 2024-01-01 00:00 UTC, seed {DEFAULT_SEED}: time, 10 tags, 10 double fields.{loaded}")


def targets_section(results: SuiteResults) -> str:
    """Return the overview: every target this run measured, with met or the gap."""
    lines = [f"| {target.name} | {target.measured_text} | {target.requirement} | {target.verdict} |"
             for target in targets(results)]
    return "\n\n".join([
        "## Performance targets",
        context(results) + _scale_note(results.scale),
        "| figure | measured | target | result |\n| --- | ---: | ---: | --- |\n" + "\n".join(lines),
        "The sections below give each figure's method and raw times.",
    ])


def _scale_note(scale: SuiteScale) -> str:
    if scale == FULL:
        return ""
    return (f"\n- Sizes: smaller than the full run's: psql runs of {scale.stream_rows:,} rows (full: "
            f"{FULL.stream_rows:,}), memory while streaming {scale.memory_rows:,} rows (full: {FULL.memory_rows:,}), "
            f"{scale.rows:,} rows loaded (full: {FULL.rows:,}). `make bench` without BENCH_ARGS measures the "
            "full sizes.")


def streaming_section(results: SuiteResults) -> str:
    """Return the result-streaming section: psql times of three servers, and the gateway's memory."""
    times = results.streaming
    memory = results.memory
    assert times is not None and memory is not None
    rows = [
        ("Lakegate", times.gateway, "1.00x"),
        (f"PostgreSQL {results.postgres_version}", times.postgres,
         f"{ratio_text(median(times.postgres) / median(times.gateway))}x"),
        ("buenavista 0.5.0 (stock example server over DuckDB)", times.buenavista,
         f"{ratio_text(times.buenavista_over_gateway)}x"),
    ]
    table = "| server | median (s) | runs (s) | time / Lakegate's |\n| --- | ---: | --- | ---: |\n" + "\n".join(
        f"| {name} | {median(values):.3f} | {_runs(values)} | {ratio} |" for name, values, ratio in rows)
    output_check = ("the gateway's output was byte for byte PostgreSQL's (same lines, compared sorted)"
                    if not times.output_difference else f"gateway output differs: {times.output_difference}")
    return "\n\n".join([
        "## Result streaming",
        context(results) + "\n" + data_line(results),
        f"Query, the same on every server: `{times.query}` ({times.rows:,} rows x 6 columns).",
        table,
        _memory_table(memory),
        _target_lines(results, ("gateway time /", "buenavista time /", "gateway peak RSS")),
        "![psql times of the three servers](bench/streaming.png)",
        "### How they were measured\n\n" + _bullets([
            ("Each run is `psql -X -At -h 127.0.0.1 -p PORT -U USER -d DB -c '<query>' > /dev/null` (psql "
             "15, `-X` skips ~/.psqlrc), timed from start to exit by the benchmark, so it includes connecting "
             "and psql's own formatting."),
            (f"{len(times.gateway)} runs each on Lakegate and PostgreSQL, alternating; {len(times.buenavista)} on "
             "buenavista. Before the timed runs, one run per server kept the output: every server printed "
             f"{times.rows:,} lines, and {output_check}."),
            ("Lakegate: a `lakegate serve` with default settings, started after the load on the loaded store. "
             "PostgreSQL: a fresh initdb (fsync=off), table without indexes. buenavista: `python -m "
             "buenavista.examples.duckdb_postgres <file>` unchanged, the file a DuckDB database whose view `cpu` "
             "reads the gateway's Parquet files (read_parquet over the measurement's glob)."),
            ("Memory: the same gateway, before any other large query; idle is VmRSS after one 1-row query, "
             "the peak is VmHWM from /proc/PID/status after the result was received. The client uses libpq's "
             "chunked-rows mode through psycopg and discards each chunk, because psql would keep the whole "
             "result in its own memory."),
        ]),
    ])


def _memory_table(memory: StreamingMemory) -> str:
    return "\n".join([
        "| memory case | rows | seconds | idle VmRSS (MiB) | VmHWM (MiB) | above idle (MiB) | largest sampled VmRSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        (f"| `{memory.query}` | {memory.rows:,} | {memory.seconds:.2f} | {memory.idle_kib / 1024:.0f} | "
         f"{memory.peak_kib / 1024:.0f} | {memory.above_idle_mib:.1f} | {memory.sampled_peak_kib / 1024:.0f} "
         f"({memory.samples:,} samples) |"),
    ])


def queries_section(results: SuiteResults) -> str:
    """Return the query-overhead section: each TSBS query through the gateway and in DuckDB alone."""
    times = results.queries
    assert times
    runs = len(times[0].gateway)
    table = ("| query type | rows | Lakegate median (ms) | DuckDB median (ms) | ratio | "
             "Lakegate, new text each run (ms) | its ratio |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n") + "\n".join(
                f"| {entry.query.kind} | {entry.rows:,} | {median(entry.gateway) * 1000:.1f} | "
                f"{median(entry.duckdb) * 1000:.1f} | {ratio_text(entry.ratio)}x | "
                f"{median(entry.gateway_new_text) * 1000:.1f} | {ratio_text(entry.new_text_ratio)}x |"
                for entry in times)
    new_text_median = median([entry.new_text_ratio for entry in times])
    statements = "\n".join(f"- {entry.query.kind}: `{entry.query.sql}`" for entry in times)
    return "\n\n".join([
        "## Query overhead",
        context(results) + "\n" + data_line(results),
        table,
        (f"Ratio is Lakegate's median time over DuckDB's; the median of the ratios is "
         f"{ratio_text(median_ratio(times))}x. Each query's timed runs send the same text, as a dashboard "
         "refreshing a panel does, so after the first run the gateway reuses the parsed statement and its "
         "rewrite while the files are unchanged. The new-text columns time the same query with a different "
         "leading comment each run, so every run is parsed and rewritten again; the median of those ratios is "
         f"{ratio_text(new_text_median)}x."),
        _target_lines(results, ("median of gateway time",)),
        "![TSBS query times](bench/queries.png)",
        ("### The queries\n\nTSBS query types written for PostgreSQL and DuckDB alike; hosts and windows come from "
         f"a Random with a fixed seed (see bench/tsbs_queries.py). high-cpu uses usage_user > {HIGH_CPU_THRESHOLD:g}."
         "\n\n" + statements),
        "### How they were measured\n\n" + _bullets([
            ("Lakegate: one psycopg connection to the same gateway as the streaming section, "
             "`execute(sql).fetchall()`, timed around that call."),
            ("DuckDB alone: a new in-memory DuckDB in the benchmark's process, default settings, TimeZone UTC, "
             "with `CREATE VIEW cpu AS SELECT * FROM read_parquet('<store>/bench/cpu/*/*/*/*/*.parquet', "
             "hive_partitioning = false)`, timed around `execute(sql).fetchall()`."),
            (f"Per query: one untimed run on each side (the row counts must be equal, or the run stops), then "
             f"{runs} timed runs each of the gateway, the gateway with new text and DuckDB, taking turns to go "
             "first."),
        ]),
    ])


def pruning_section(results: SuiteResults) -> str:
    """Return the object-storage section: the one-hour query through the gateway and DuckDB on moto S3."""
    pruning = results.pruning
    assert pruning is not None
    size = pruning.size
    sides = [("Lakegate", pruning.gateway), ("DuckDB, new database per query", pruning.duckdb_fresh),
             ("DuckDB, one database for all queries", pruning.duckdb_warm)]
    table = "| side | median (s) | runs (s) | GET requests per query | objects read per query | listings per query |\n" \
            "| --- | ---: | --- | --- | --- | --- |\n" + "\n".join(
                f"| {name} | {median(runs.seconds):.3f} | {_runs(runs.seconds)} | {_reads(runs, 'requests')} | "
                f"{_reads(runs, 'objects')} | {_reads(runs, 'listings')} |" for name, runs in sides)
    return "\n\n".join([
        "## Pruning on object storage",
        context(results) + "\n" + f"- Data: `bench.cpu` of {size.days} days of hourly Parquet files "
        f"({pruning.objects} objects, {pruning.store_bytes / _MIB:.1f} MiB), {size.hosts} hosts every 10 s, "
        "written by bench/delete_data.py and uploaded to a moto S3 server on 127.0.0.1.",
        f"Query, one hour per run (a different hour each run): `{pruning.query}`.",
        table,
        f"The gateway's EXPLAIN of the first hour: {pruning.explain}.",
        _windows_table(pruning),
        _listing_note(pruning),
        _target_lines(results, ("DuckDB time /",)),
        "![one-hour query on S3](bench/pruning.png)",
        "### How they were measured\n\n" + _bullets([
            ("Lakegate: `lakegate serve --storage s3://lakegate-bench` with the moto endpoint, one psycopg "
             "connection, one untimed query first; `execute(sql).fetchall()` is timed."),
            ("DuckDB: the same query over `read_parquet('s3://lakegate-bench/bench/cpu/*/*/*/*/*.parquet', "
             "hive_partitioning = false)`, httpfs loaded from the duckdb-extension-httpfs package, a secret "
             "with ENDPOINT set to the moto server, URL_STYLE 'path', USE_SSL false. The target compares with "
             "a new database per query (nothing cached, as a one-off query runs); the warm database ran "
             "one untimed query first."),
            ("Objects read: GET requests on `.parquet` keys in moto's request log between the start and the "
             "end of each query (HEAD requests not counted), and distinct keys among them. Listings: GET "
             "requests on the bucket itself (ListObjectsV2 pages of up to 1,000 keys)."),
            ("DuckDB inside the gateway keeps what it read: in development runs, a query sent no GET for a "
             "file that an earlier query of the same gateway had read. The windows of 1, 6 and 24 hours follow each other from hour 1 and "
             "the timed hours come after them, so no timed query or window reads a file twice."),
        ]),
    ])


def _windows_table(pruning: PruningResult) -> str:
    lines = ["| hours queried through Lakegate | seconds | EXPLAIN | GET requests | objects read | listings |",
             "| ---: | ---: | --- | ---: | ---: | ---: |"]
    lines += [f"| {window.hours} | {window.seconds:.3f} | {window.explain} | {window.reads.requests:,} | "
              f"{window.reads.objects:,} | {window.reads.listings:,} |" for window in pruning.windows]
    return "\n".join(lines)


def _listing_note(pruning: PruningResult) -> str:
    listings = median([reads.listings for reads in pruning.gateway.reads])
    if not listings:
        return "Lakegate sent no listing request during the timed queries: its listing came from its cache."
    return (f"Lakegate sent {listings:g} listing requests per query (ListObjectsV2 pages of up to 1,000 keys), so "
            f"part of its time grows with the {pruning.objects} objects of the measurement, not with the hours "
            "queried.")


def concurrency_section(results: SuiteResults) -> str:
    """Return the concurrency section: throughput, latency percentiles, errors and the gateway's CPU use."""
    result = results.concurrency
    assert result is not None
    table = "\n".join([
        ("| clients | seconds | queries | queries/s | p50 (ms) | p99 (ms) | errors | gateway CPU s / wall s | "
         "client CPU s / wall s |"),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        (f"| {result.clients} | {result.seconds:.1f} | {len(result.latencies):,} | {result.throughput:.1f} | "
         f"{result.latency_percentile(0.5) * 1000:,.0f} | {result.latency_percentile(0.99) * 1000:,.0f} | "
         f"{len(result.errors)} | {result.gateway_cores:.2f} | {result.client_cpu_seconds / result.seconds:.2f} |"),
    ])
    mix = ", ".join(f"{kind} {count:,}" for kind, count in result.queries_by_type.items())
    errors = "" if not result.errors else f"\n\nFirst errors: {'; '.join(result.errors[:3])}"
    return "\n\n".join([
        "## Concurrent clients",
        context(results) + "\n" + data_line(results),
        table + errors,
        f"Completed queries by type: {mix}.",
        _target_lines(results, ("query errors", "gateway CPU seconds")),
        "![latency distribution](bench/concurrency.png)",
        "### How they were measured\n\n" + _bullets([
            (f"{result.clients} threads of the benchmark process run queries back to back until the time is up, "
             "each on its own psycopg connection opened before the clock starts. For each query, a thread picks "
             "a TSBS query type at random and draws its hosts and window from a Random seeded per client."),
            ("Latency is the time of `execute(sql).fetchall()` of one query; p50 and p99 are linear "
             "interpolations between ranks. Throughput counts completed queries over the wall time, "
             "including the last queries that finished after the time was up."),
            ("CPU: user plus system seconds of the gateway process from /proc/PID/stat, and of the benchmark "
             "process (the clients) from os.times(), over the same wall time. Above 1.0 the gateway kept more "
             "than one core busy on average."),
        ]),
    ])


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _target_lines(results: SuiteResults, prefixes: tuple[str, ...]) -> str:
    chosen = [target for target in targets(results) if target.name.startswith(prefixes)]
    return "\n".join(f"- Target: {target.line()}" for target in chosen)


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.3f}" for value in values)


def _reads(runs: SideRuns, attribute: str) -> str:
    values: list[int] = [getattr(reads, attribute) for reads in runs.reads]
    return ", ".join(f"{value:,}" for value in values)


SECTIONS: dict[str, Callable[[SuiteResults], str]] = {
    "targets": targets_section,
    "streaming": streaming_section,
    "queries": queries_section,
    "pruning": pruning_section,
    "concurrency": concurrency_section,
}

