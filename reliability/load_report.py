"""The figures of a load run, printed and written to the ``load`` section of docs/reliability.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.machine import machine_description, software_versions, source_revision
from bench.page import replace_section
from bench.percentiles import percentile
from bench.tsbs_queries import DataSpan
from reliability.crash_report import PAGE
from reliability.load_mix import COPY_ROWS, DELETE_HOURS, INSERT_ROWS, KIND_WEIGHTS


@dataclass(frozen=True)
class LoadFigures:
    """Figures of one load run, latencies in seconds and memory in KiB."""

    connections: int
    duration: float
    elapsed: float
    warmup: float
    loaded_rows: int
    span: DataSpan
    gateway_flags: tuple[str, ...]
    latencies: dict[str, list[float]]
    errors: Counter[str]
    rss_after_warmup: int
    rss_at_end: int
    rss_after_close: int
    rss_curve: list[tuple[float, int]]
    command: str


def figures_table(figures: LoadFigures) -> str:
    """Return a Markdown table: operations, errors, p50 and p99 latency by kind, and all kinds together."""
    lines = ["| kind | operations | errors | p50 latency (ms) | p99 latency (ms) |", "| --- | --- | --- | --- | --- |"]
    everything = [value for values in figures.latencies.values() for value in values]
    for kind, values in [*((kind, figures.latencies.get(kind, [])) for kind in KIND_WEIGHTS), ("all", everything)]:
        errors = sum(figures.errors.values()) if kind == "all" else figures.errors.get(kind, 0)
        lines.append(f"| {kind} | {len(values)} | {errors} | {_milliseconds(values, 0.5)} | "
                     f"{_milliseconds(values, 0.99)} |")
    return "\n".join(lines)


def memory_line(figures: LoadFigures) -> str:
    growth = figures.rss_at_end - figures.rss_after_warmup
    return (f"Gateway VmRSS: {figures.rss_after_warmup / 1024:.0f} MiB after {figures.warmup:.0f} s, "
            f"{figures.rss_at_end / 1024:.0f} MiB when the last operation ended, growth {growth / 1024:+.0f} MiB; "
            f"{figures.rss_after_close / 1024:.0f} MiB once the clients had disconnected.")


def memory_table(figures: LoadFigures) -> str:
    """Return a Markdown table of VmRSS over the run, in MiB, one column per sample."""
    seconds = " | ".join(f"{elapsed:.0f}" for elapsed, _ in figures.rss_curve)
    mebibytes = " | ".join(f"{kib / 1024:.0f}" for _, kib in figures.rss_curve)
    rule = " | ".join("---" for _ in figures.rss_curve)
    return f"| seconds | {seconds} |\n| --- | {rule} |\n| VmRSS (MiB) | {mebibytes} |"


def print_figures(figures: LoadFigures) -> None:
    print(figures_table(figures))
    print(f"The last operation ended {figures.elapsed:.0f} s after the start.")
    print(memory_line(figures))
    print(memory_table(figures))


def write_section(figures: LoadFigures) -> None:
    """Rewrite the ``load`` section of docs/reliability.md."""
    weights = ", ".join(f"{kind} {weight}%" for kind, weight in KIND_WEIGHTS.items())
    flags = " ".join(figures.gateway_flags) or "no flags beyond the defaults"
    body = f"""## Load

`{figures.command}` starts one `lakegate serve` on a fresh local store
({flags}). It loads {figures.loaded_rows:,} TSBS-style `cpu` rows
({figures.span.hosts} hosts, {figures.span.hours} hours, one row per host every
10 s) and flushes them. Then it runs {figures.connections} psycopg connections at
once for {figures.duration:.0f} s, one thread each. Each connection picks its
next operation at random ({weights}). An
operation is a TSBS query of a random type, an INSERT
of {INSERT_ROWS} new rows, a COPY of {COPY_ROWS} new rows, or a DELETE of one
host in one of the first {DELETE_HOURS} hours. Latency is the client's time
from sending a statement to reading its whole result. Operations started
before the end ran to their end, and the last one ended {figures.elapsed:.0f} s
after the start. VmRSS is read from /proc/PID/status every second.

{figures_table(figures)}

{memory_line(figures)}

{memory_table(figures)}

Machine: {machine_description()}. Software: {software_versions()}.
Source: {source_revision()}. The clients ran on the same machine as the gateway.
"""
    replace_section(PAGE, "load", body)


def _milliseconds(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.1f}" if values else "-"
