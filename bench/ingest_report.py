"""The "Ingestion" section of the results page: context, table, interpretation and method."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bench.cpu_data import DEFAULT_HOSTS, DEFAULT_SEED, INTERVAL
from bench.results import Figure
from bench.scale import FULL, Scale
from bench.tables import format_value, markdown_table, ratio_text

#: A 1-minute load average at or above this before the run means other work shared the machine.
BUSY_LOAD_AVERAGE = 0.5


@dataclass
class IngestResults:
    """Everything one run of ``bench.ingest`` measured, with the conditions it ran under."""

    started: datetime
    command: str
    scale: Scale
    machine: str
    software: str
    revision: str
    #: 1-minute load averages at the start and the end of the run; other work on the machine raises them.
    load_averages: tuple[float, float]
    postgres_settings: dict[str, str]
    copy: Figure
    http: list[Figure]
    insert: Figure
    executemany: Figure
    memory: list[Figure] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        return [self.copy, *self.http, self.insert, self.executemany, *self.memory]


def section(results: IngestResults) -> str:
    """Return the Markdown of the ingestion section, from its heading to its method notes."""
    ratio_note = ("Ratio is Lakegate's figure divided by the reference's: above 1 Lakegate loads faster, "
                  "except for memory, where below 1 is better.")
    parts = [
        "## Ingestion",
        _context(results),
        markdown_table(results.figures),
        ratio_note,
        "### What the figures say\n\n" + "\n".join(f"- {line}" for line in interpretation(results)),
        "### How they were measured\n\n" + "\n".join(f"- {line}" for line in _method(results)),
    ]
    return "\n\n".join(parts)


def _context(results: IngestResults) -> str:
    scale = results.scale
    if scale.factor == 1:
        scale_text = "full scale"
    else:
        scale_text = (f"{scale.factor:g} of the full scale (full: COPY of {FULL.copy_rows:,} rows, "
                      f"{FULL.memory_rows:,} for memory)")
    settings = ", ".join(f"{name}={value}" for name, value in results.postgres_settings.items()
                         if name != "server_version")
    data = (f"- Data: TSBS-style `cpu` rows of {DEFAULT_HOSTS} hosts, one row per host every "
            f"{INTERVAL.total_seconds():.0f} s from 2024-01-01 00:00 UTC, seed {DEFAULT_SEED}: "
            f"time, 10 tags, 10 double fields. Sizes: COPY {scale.copy_rows:,} rows; HTTP {scale.http_lines:,} "
            f"lines per thread setting; INSERT {scale.insert_rows:,} rows; executemany "
            f"{scale.executemany_rows:,} rows; memory {scale.memory_rows:,} rows in COPYs of "
            f"{scale.memory_chunk_rows:,}.")
    start_load, end_load = results.load_averages
    return "\n".join([
        f"Recorded {results.started:%Y-%m-%d %H:%M} UTC with `{results.command}`, at {scale_text}.",
        "",
        f"- Machine: {results.machine}.",
        f"- Software: {results.software}; Lakegate source {results.revision}.",
        f"- Load average (1 min): {start_load:.2f} at the start, {end_load:.2f} at the end.",
        f"- Reference: PostgreSQL {results.postgres_settings.get('server_version', '?')} with {settings}.",
        data,
    ])


def interpretation(results: IngestResults) -> list[str]:
    """Return one sentence or two per kind of load, computed from the figures of this run."""
    lines = []
    if results.load_averages[0] >= BUSY_LOAD_AVERAGE:
        lines.append(f"Other processes were running before the run started (load average "
                     f"{results.load_averages[0]:.2f}), so they competed with both servers and the client, "
                     "and every figure may be lower than on an idle machine.")
    lines.append(_versus_postgres("COPY", results.copy, aim=1.0))
    lines.append(_http_sentence(results.http))
    lines.append(_versus_postgres("Multi-row INSERT", results.insert))
    lines.append(_versus_postgres("executemany", results.executemany))
    if results.memory:
        peak = results.memory[0]
        ratio = peak.ratio
        relative = f", {ratio_text(ratio)} times the size of the CSV data of one COPY" if ratio is not None else ""
        lines.append(f"Memory: resident memory rose at most {format_value(peak.gateway, 'MiB')} MiB above "
                     f"idle while loading{relative}.")
    return lines


def _versus_postgres(label: str, figure: Figure, aim: float | None = None) -> str:
    ratio = figure.ratio or 0.0
    sentence = (f"{label}: Lakegate stored {format_value(figure.gateway, figure.unit)} {figure.unit}, "
                f"{ratio_text(ratio)} times PostgreSQL's {format_value(figure.reference or 0.0, figure.unit)}.")
    if aim is not None:
        verdict = "met" if ratio >= aim else "not met"
        sentence += f" The aim of at least PostgreSQL's rate is {verdict}."
    return sentence


def _http_sentence(figures: list[Figure]) -> str:
    per_core = [figure for figure in figures if figure.reference is not None]
    totals = [figure for figure in figures if figure.reference is None]
    rates = " and ".join(f"{format_value(figure.gateway, figure.unit)} ({ratio_text(figure.ratio or 0)} of the target)"
                         for figure in per_core)
    verdict = "met" if per_core and all((figure.ratio or 0) >= 1 for figure in per_core) else "not met"
    sentence = (f"Line protocol over HTTP: {rates} lines per second per gateway core with "
                f"{' and '.join(str(index + 1) for index in range(len(per_core)))} client threads; "
                f"the aim of 300,000 per core is {verdict}.")
    if len(totals) == 2:
        change = totals[1].gateway / totals[0].gateway - 1
        sentence += (f" A second client thread changed the total from {format_value(totals[0].gateway, 'lines/s')} "
                     f"to {format_value(totals[1].gateway, 'lines/s')} lines/s ({change:+.0%}).")
    return sentence


def _method(results: IngestResults) -> list[str]:
    scale = results.scale
    no_flush = ", and with fsync=off it never waits for the disk to flush" \
        if results.postgres_settings.get("fsync") == "off" else ""
    return [
        ("Both servers, the client and the data generator ran on this one machine and share its processors; "
         "the HTTP rows list the CPU time of the gateway and of the client."),
        ("Lakegate: `lakegate serve` with its default settings on an empty local store in a temporary "
         "directory. PostgreSQL: a fresh `initdb` in a temporary directory on the same disk, tables without "
         f"indexes or constraints{no_flush}."),
        ("Every case ran once, after a 1,000-row COPY into each server to load code and open files, so each "
         "figure includes run-to-run variation. The COPY rate of the memory case, over many COPYs, is a "
         "second reading of Lakegate's COPY rate. Data was generated and encoded before the clock started."),
        ("COPY: psycopg `cursor.copy()` with the column list, timed from sending the statement to the "
         f"command completion. INSERT: statements of {scale.insert_batch_rows:,} literal rows, autocommit. "
         "executemany: psycopg `executemany` of a single-row INSERT with 21 parameters, autocommit. "
         f"HTTP: `POST /write?precision=ns` with {scale.http_batch_lines:,} lines per request, every "
         "response a 204; CPU seconds are user plus system time from /proc/PID/stat."),
        ("Memory: a separate, new gateway; idle is VmRSS after start-up, the peak is VmHWM from "
         "/proc/PID/status after the last COPY, read directly because psutil is not a project dependency."),
        ("After every load, `SELECT count(*)` on the loaded table must return exactly the rows sent, "
         "or the run stops with an error."),
    ]
