"""The "DELETE" section of the results page: context, table, interpretation and method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bench.delete_cases import GatewayRun, ReferenceRun, median_seconds
from bench.delete_data import STEP_SECONDS, StoreSize

#: The "How they were measured" paragraphs, one list item each.
_METHOD = [
    ("- Lakegate: `lakegate serve` with default settings on the local store, one psycopg connection. The time "
     "runs from sending the DELETE to its command tag. Files read, removed and rewritten come from "
     "EXPLAIN DELETE run just before, and the run stops with an error unless the store's listing before and "
     "after (the newest version of each file, with its size and modification time) shows exactly those "
     "files removed and rewritten and "
     "`count(*)` dropped by the tag's row count."),
    ("- DuckDB by hand: a new in-process DuckDB connection (default threads) runs "
     "`COPY (SELECT *, year(time), month(time), day(time), hour(time) FROM read_parquet('<store>/bench/cpu/*/*/*/*/*.parquet') "
     "WHERE (<condition>) IS NOT TRUE) TO '<new directory>' (FORMAT parquet, COMPRESSION zstd, "
     "PARTITION_BY (year, month, day, hour))`: every file read, filtered, and every hour written again. "
     "The output is removed after each run; the input is the store before the gateway's DELETEs."),
    ("- The gateway, the client and DuckDB ran on this one machine; the operating system's page cache held "
     "the store for both, as the data generation had just written it."),
]


@dataclass(frozen=True)
class CaseResult:
    """One kind of DELETE on one store size: the gateway's runs and the reference's runs."""

    name: str
    condition: str
    size: StoreSize
    store_bytes: int
    gateway: list[GatewayRun]
    reference: list[ReferenceRun]


@dataclass(frozen=True)
class DeleteResults:
    started: datetime
    command: str
    machine: str
    software: str
    revision: str
    load_averages: tuple[float, float]
    cases: list[CaseResult]


def section(results: DeleteResults) -> str:
    """Return the Markdown of the section, between (not including) its markers."""
    return "\n".join([
        "## DELETE",
        "",
        f"Recorded {results.started:%Y-%m-%d %H:%M} UTC with `{results.command}`.",
        "",
        f"- Machine: {results.machine}.",
        f"- Software: {results.software}; Lakegate source {results.revision}.",
        (f"- Load average (1 min): {results.load_averages[0]:.2f} at the start, "
        f"{results.load_averages[1]:.2f} at the end."),
        f"- Data: TSBS-style `cpu` rows (time, 10 tags, 10 double fields), {results.cases[0].size.hosts} hosts, "
        f"one row per host every {STEP_SECONDS} s, one Parquet file per hour from 2024-01-01 00:00 UTC. "
        + "; ".join(_store_line(case) for case in _one_case_per_size(results.cases)) + ".",
        "",
        table(results.cases),
        "",
        ("Times are medians of the runs; each run deletes a different hour. Ratio is DuckDB's time divided by "
        "Lakegate's: above 1 Lakegate is faster."),
        "",
        "### What the figures say",
        "",
        *_findings(results.cases),
        "",
        "### How they were measured",
        "",
        *_METHOD,
    ])


def table(cases: list[CaseResult]) -> str:
    header = ("| case | days of hourly files | files read | files removed | files rewritten | bytes rewritten "
              "| rows deleted | Lakegate DELETE (s) | DuckDB by hand (s) | DuckDB files read / written | ratio |")
    lines = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for case in cases:
        run = case.gateway[0]
        reference = case.reference[0]
        gateway_seconds = median_seconds(case.gateway)
        reference_seconds = median_seconds(case.reference)
        lines.append(
            f"| {case.name} | {case.size.days} | {run.files_read} of {run.files_total} | {run.files_removed} "
            f"| {run.files_rewritten} | {run.bytes_rewritten:,} | {run.rows:,} | {gateway_seconds:.3f} "
            f"| {reference_seconds:.3f} | {reference.files_read} / {reference.files_written} "
            f"| {reference_seconds / gateway_seconds:.1f}x |")
    return "\n".join(lines)


def _findings(cases: list[CaseResult]) -> list[str]:
    lines = []
    for name in dict.fromkeys(case.name for case in cases):
        same = sorted((case for case in cases if case.name == name), key=lambda case: case.size.days)
        if len(same) < 2:
            continue
        small, large = same[0], same[-1]
        lines.append(
            f"- {name}: from {small.size.days} to {large.size.days} days ({large.size.files / small.size.files:.1f} "
            f"times the files), Lakegate's DELETE went from {median_seconds(small.gateway):.3f} s to "
            f"{median_seconds(large.gateway):.3f} s and read {large.gateway[0].files_read} of "
            f"{large.gateway[0].files_total} files; "
            f"DuckDB's full rewrite went from {median_seconds(small.reference):.3f} s to "
            f"{median_seconds(large.reference):.3f} s.")
    lines.append("- Lakegate lists every object of the measurement three times per DELETE (for the column union, "
                 "and before and after flushing buffered rows), so part of its time still grows with the number "
                 "of files; its reading and writing grow with the affected partitions only.")
    return lines


def _store_line(case: CaseResult) -> str:
    return (f"{case.size.days} days: {case.size.files} files, {case.size.rows:,} rows, "
            f"{case.store_bytes / 1024 / 1024:.1f} MiB")


def _one_case_per_size(cases: list[CaseResult]) -> list[CaseResult]:
    return list({case.size.days: case for case in cases}.values())
