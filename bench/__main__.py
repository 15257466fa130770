"""Run every benchmark suite, print the targets, and rewrite docs/benchmarks.md and docs/bench/*.png.

    python -m bench                   # the full run (make bench)
    python -m bench --quick           # small data and short runs, for a check that everything works
    python -m bench --suites queries,pruning

Suites: result streaming and the gateway's memory (PostgreSQL 15 and stock
buenavista as references), TSBS query overhead (DuckDB alone as the
reference), pruning on object storage (moto S3), concurrent clients, and
the ingestion suite of bench/ingest.py. Every server listens on 127.0.0.1
only and is stopped at the end. The exit status is 1 when a check fails
(a row count, an output or a server error), and the page is then left
unchanged.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest, plots
from bench.machine import (
    load_average,
    machine_description,
    software_versions,
    source_revision,
)
from bench.page import PAGE, replace_section
from bench.psql_client import PsqlFailed
from bench.query_overhead import RowCountMismatch as QueryRowCountMismatch
from bench.row_drain import DrainFailed
from bench.s3_pruning import ResultMismatch
from bench.streaming import LineCountMismatch
from bench.suite_report import SECTIONS
from bench.suite_results import RunContext, SuiteResults, targets
from bench.suite_run import (
    LOCAL_SUITES,
    SUITES,
    progress,
    run_local_suites,
    run_pruning,
)
from bench.suite_scale import FULL, QUICK, SuiteScale
from bench.verify import RowCountMismatch

#: Errors of a check that failed: the run stops, and the page stays as it was.
CHECK_ERRORS = (RowCountMismatch, LineCountMismatch, QueryRowCountMismatch, ResultMismatch, PsqlFailed, DrainFailed)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.rows:,} rows, psql runs of {QUICK.stream_rows:,} rows, "
                             f"{QUICK.concurrency_seconds:g} s of concurrent clients, the ingestion suite at a "
                             "tenth of its sizes")
    parser.add_argument("--hosts", type=int, help="hosts of the loaded cpu data "
                                                  f"(default {FULL.hosts}, {QUICK.hosts} with --quick)")
    parser.add_argument("--hours", type=int, help="hours of the loaded cpu data, at least 12 "
                                                  f"(default {FULL.hours}, {QUICK.hours} with --quick)")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help=f"comma-separated suites to run (default all: {','.join(SUITES)})")
    parser.add_argument("--page", type=Path, default=PAGE, help=f"results page to rewrite (default {PAGE})")
    parser.add_argument("--plots", type=Path, default=plots.PLOTS,
                        help=f"folder of the PNG charts (default {plots.PLOTS})")
    parser.add_argument("--no-page", action="store_true", help="print the targets only; write no page or chart")
    return parser.parse_args(argv)


def chosen_suites(text: str) -> set[str]:
    """Return the suite names of a comma-separated list; raise SystemExit for an unknown one."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(SUITES)
    if unknown or not names:
        raise SystemExit(f"unknown suites {sorted(unknown)}; choose from {','.join(SUITES)}")
    return names


def run(scale: SuiteScale, suites: set[str], command: str) -> SuiteResults:
    """Run the chosen suites other than ingestion and return their results."""
    started = datetime.now(UTC)
    load_at_start = load_average()
    revision = source_revision()
    local = run_local_suites(scale, suites) if suites & set(LOCAL_SUITES) else None
    pruning = run_pruning(scale) if "pruning" in suites else None
    run_context = RunContext(started, command, machine_description(), software_versions(), revision,
                             (load_at_start, load_average()))
    return SuiteResults(
        run_context, scale, local.postgres_version if local else "", local.load if local else None,
        local.memory if local else None, local.streaming if local else None, local.queries if local else None,
        pruning, local.concurrency if local else None)


def write_page(results: SuiteResults, page: Path, plot_folder: Path) -> None:
    """Rewrite the targets section, and the section and chart of every suite that ran."""
    replace_section(page, "targets", SECTIONS["targets"](results))
    if results.streaming is not None:
        plots.streaming_plot(results.streaming, plot_folder / "streaming.png")
        replace_section(page, "streaming", SECTIONS["streaming"](results))
    if results.queries:
        plots.queries_plot(results.queries, plot_folder / "queries.png")
        replace_section(page, "queries", SECTIONS["queries"](results))
    if results.pruning is not None:
        plots.pruning_plot(results.pruning, plot_folder / "pruning.png")
        replace_section(page, "pruning", SECTIONS["pruning"](results))
    if results.concurrency is not None:
        plots.concurrency_plot(results.concurrency, plot_folder / "concurrency.png")
        replace_section(page, "concurrency", SECTIONS["concurrency"](results))


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    suites = chosen_suites(arguments.suites)
    scale = (QUICK if arguments.quick else FULL).with_data(arguments.hosts, arguments.hours)
    try:
        scale.check()
    except ValueError as error:
        raise SystemExit(f"python -m bench: {error}") from error
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])

    if suites - {"ingest"}:
        try:
            results = run(scale, suites, command)
        except CHECK_ERRORS as error:
            print(f"python -m bench: {error}", file=sys.stderr)
            return 1
        for target in targets(results):
            print(target.line())
        if not arguments.no_page:
            write_page(results, arguments.page, arguments.plots)
            print(f"wrote {arguments.page} and the charts in {arguments.plots}")
    if "ingest" in suites:
        progress("ingestion suite (python -m bench.ingest)")
        ingest_arguments = ["--quick"] if arguments.quick else []
        ingest_arguments += ["--no-page"] if arguments.no_page else ["--page", str(arguments.page)]
        return ingest.main(ingest_arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
