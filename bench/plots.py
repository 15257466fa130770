"""PNG charts of one ``python -m bench`` run, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# The backend is chosen before pyplot is imported, so no display is ever needed.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from bench.concurrency import ConcurrencyResult
from bench.percentiles import median, percentile
from bench.query_overhead import QueryTimes
from bench.s3_pruning import PruningResult
from bench.streaming import StreamingTimes
from bench.tsbs_queries import QUERY_TYPES

#: The folder of the charts, next to the results page that links them.
PLOTS = Path(__file__).resolve().parent.parent / "docs" / "bench"
GATEWAY_COLOUR = "tab:blue"
REFERENCE_COLOUR = "tab:gray"


def streaming_plot(times: StreamingTimes, path: Path) -> None:
    """Draw the median psql time of each server as bars on a log scale."""
    names = ["Lakegate", "PostgreSQL 15", "buenavista 0.5.0"]
    values = [median(times.gateway), median(times.postgres), median(times.buenavista)]
    figure, axes = plt.subplots(figsize=(6, 3.5))
    bars = axes.bar(names, values, color=[GATEWAY_COLOUR, REFERENCE_COLOUR, REFERENCE_COLOUR])
    axes.bar_label(bars, labels=[f"{value:.2f} s" for value in values])
    axes.set_yscale("log")
    axes.margins(y=0.2)
    axes.set_ylabel("seconds (median, log scale)")
    axes.set_title(f"psql -At of {times.rows:,} rows x 6 columns to /dev/null")
    _save(figure, path)


def queries_plot(times: list[QueryTimes], path: Path) -> None:
    """Draw the median time of each TSBS query through the gateway and in DuckDB alone, side by side."""
    figure, axes = plt.subplots(figsize=(8, 4))
    positions = range(len(times))
    width = 0.4
    axes.bar([index - width / 2 for index in positions], [median(entry.gateway) * 1000 for entry in times], width,
             label="Lakegate (psycopg)", color=GATEWAY_COLOUR)
    axes.bar([index + width / 2 for index in positions], [median(entry.duckdb) * 1000 for entry in times], width,
             label="DuckDB alone", color=REFERENCE_COLOUR)
    axes.set_xticks(list(positions), [entry.query.kind for entry in times], rotation=30, ha="right")
    axes.set_ylabel("milliseconds (median)")
    axes.set_title("TSBS queries over the same Parquet files")
    axes.legend()
    _save(figure, path)


def pruning_plot(pruning: PruningResult, path: Path) -> None:
    """Draw the median time and the objects read per query of each side."""
    sides = [("Lakegate", pruning.gateway), ("DuckDB, new database", pruning.duckdb_fresh),
             ("DuckDB, warm database", pruning.duckdb_warm)]
    colours = [GATEWAY_COLOUR, REFERENCE_COLOUR, REFERENCE_COLOUR]
    figure, (time_axes, object_axes) = plt.subplots(1, 2, figsize=(9, 3.5))
    names = [name for name, _ in sides]
    seconds = [median(runs.seconds) for _, runs in sides]
    objects = [median([reads.objects for reads in runs.reads]) for _, runs in sides]
    time_bars = time_axes.bar(names, seconds, color=colours)
    time_axes.bar_label(time_bars, labels=[f"{value:.3f} s" for value in seconds])
    time_axes.set_ylabel("seconds (median)")
    object_bars = object_axes.bar(names, objects, color=colours)
    object_axes.bar_label(object_bars, labels=[f"{value:g}" for value in objects])
    object_axes.set_ylabel("objects read (GET, median)")
    for axes in (time_axes, object_axes):
        axes.tick_params(axis="x", labelrotation=15)
        axes.margins(y=0.15)
    figure.suptitle(f"one hour of {pruning.size.days} days of hourly files on moto S3 ({pruning.objects} objects)")
    _save(figure, path)


def concurrency_plot(result: ConcurrencyResult, path: Path) -> None:
    """Draw the latency distribution of the concurrent clients' queries with p50 and p99 marked."""
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.hist([latency * 1000 for latency in result.latencies], bins=50, color=GATEWAY_COLOUR)
    for fraction, style in ((0.5, "--"), (0.99, ":")):
        value = percentile(result.latencies, fraction) * 1000
        axes.axvline(value, color="black", linestyle=style, label=f"p{fraction * 100:g} {value:,.0f} ms")
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("queries")
    axes.set_title(f"{result.clients} clients, TSBS mix of {len(QUERY_TYPES)} query types, "
                   f"{result.throughput:.1f} queries/s")
    axes.legend()
    _save(figure, path)


def _save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
