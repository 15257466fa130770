"""Run the ingestion benchmarks, print their table and rewrite the Ingestion section of docs/benchmarks.md.

    python -m bench.ingest            # full scale: COPY of 1,000,000 rows, 10,000,000 for memory
    python -m bench.ingest --quick    # a tenth of every size
    python -m bench.ingest --rows N   # COPY of N rows, every other size in proportion

The exit status is 1 when a load loses rows (a count check fails) or a
server fails, and the page is then left unchanged.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import postgres as reference_server
from bench.cpu_data import CpuGenerator
from bench.gateway import running_gateway
from bench.ingest_cases import (
    Servers,
    copy_case,
    executemany_case,
    http_case,
    insert_case,
    warm_up,
)
from bench.ingest_report import IngestResults, section
from bench.machine import (
    load_average,
    machine_description,
    software_versions,
    source_revision,
)
from bench.memory_case import memory_case
from bench.page import PAGE, replace_section
from bench.scale import FULL, Scale
from bench.tables import text_table

SECTION = "ingest"
QUICK_FACTOR = 10
WARM_UP_ROWS = 1_000


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true",
                       help=f"divide every data size by {QUICK_FACTOR} (COPY of {FULL.copy_rows // QUICK_FACTOR:,} rows)")
    sizes.add_argument("--rows", type=int, metavar="N",
                       help=f"rows of the COPY case (default {FULL.copy_rows:,}); the other sizes scale in proportion")
    parser.add_argument("--page", type=Path, default=PAGE, help=f"results page to rewrite (default {PAGE})")
    parser.add_argument("--no-page", action="store_true", help="print the table only; leave the page unchanged")
    return parser.parse_args(argv)


def scale_from(arguments: argparse.Namespace) -> Scale:
    if arguments.quick:
        return FULL.scaled(FULL.copy_rows // QUICK_FACTOR)
    if arguments.rows is not None:
        if arguments.rows < 1:
            raise SystemExit("--rows must be at least 1")
        return FULL.scaled(arguments.rows)
    return FULL


def run(scale: Scale, command: str) -> IngestResults:
    """Run every case at ``scale`` and return the results.

    Raises RowCountMismatch when a load loses rows, WriteFailed when an HTTP
    write is not acknowledged, and the servers' start errors.
    """
    started = datetime.now(UTC)
    load_at_start = load_average()
    revision = source_revision()
    largest = max(scale.copy_rows, scale.http_lines, scale.insert_rows, scale.executemany_rows)
    rows = CpuGenerator().rows(largest)
    warm_up_rows = CpuGenerator(seed=1).rows(WARM_UP_ROWS)
    with reference_server.running_postgres() as postgres, running_gateway() as gateway:
        servers = Servers(gateway, postgres)
        settings = reference_server.server_settings(postgres)
        _progress("warming up both servers")
        warm_up(servers, warm_up_rows)
        _progress(f"COPY of {scale.copy_rows:,} rows")
        copy = copy_case(servers, rows[:scale.copy_rows])
        http = []
        for threads in (1, 2):
            _progress(f"line protocol over HTTP, {scale.http_lines:,} lines, client threads: {threads}")
            http += http_case(servers, rows[:scale.http_lines], scale.http_batch_lines, threads)
        _progress(f"multi-row INSERT of {scale.insert_rows:,} rows")
        insert = insert_case(servers, rows[:scale.insert_rows], scale.insert_batch_rows)
        _progress(f"executemany of {scale.executemany_rows:,} rows")
        executemany = executemany_case(servers, rows[:scale.executemany_rows])
    del rows
    _progress(f"memory while loading {scale.memory_rows:,} rows in COPYs of {scale.memory_chunk_rows:,}")
    memory = memory_case(scale.memory_rows, scale.memory_chunk_rows)
    return IngestResults(started, command, scale, machine_description(), software_versions(), revision,
                         (load_at_start, load_average()), settings, copy, http, insert, executemany, memory)


def _progress(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    scale = scale_from(arguments)
    command = shlex.join(["python", "-m", "bench.ingest", *(sys.argv[1:] if argv is None else argv)])
    results = run(scale, command)
    print(text_table(results.figures))
    if not arguments.no_page:
        replace_section(arguments.page, SECTION, section(results))
        print(f"wrote the ingestion section of {arguments.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
