"""Run the DELETE benchmark, print its table and rewrite the DELETE section of docs/benchmarks.md.

    python -m bench.delete                 # 7 and 30 days of hourly files, 20 hosts
    python -m bench.delete --days 30       # one store size only
    python -m bench.delete --hosts 100     # TSBS's default host count (5 times the data)

For each store size, a fresh local store is generated and DuckDB rewrites
the whole measurement by hand. Then a gateway serves the store and
deletes one hour (a whole file) and one host in one hour (a rewritten
file), three times each. The exit status is 1 when a DELETE does not remove
exactly what EXPLAIN DELETE reported, and the page is then left unchanged.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.delete_cases import (
    CheckFailed,
    GatewayRun,
    ReferenceRun,
    gateway_delete,
    reference_rewrite,
)
from bench.delete_data import DATABASE, StoreSize, hour_start, write_store
from bench.delete_report import CaseResult, DeleteResults, section, table
from bench.machine import (
    load_average,
    machine_description,
    software_versions,
    source_revision,
)
from bench.page import PAGE, replace_section
from gateway.config import Settings
from gateway.storage.local import LocalBackend
from tests.e2e.gateway_process import start_gateway

SECTION = "delete"
RUNS = 3


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.delete", description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="7,30",
                        help="comma-separated store sizes in days of hourly files (default 7,30)")
    parser.add_argument("--hosts", type=int, default=20, help="hosts reporting every 10 s (default 20)")
    parser.add_argument("--page", type=Path, default=PAGE, help=f"results page to rewrite (default {PAGE})")
    parser.add_argument("--no-page", action="store_true", help="print the table only; leave the page unchanged")
    return parser.parse_args(argv)


def _hour_condition(hour: int) -> str:
    start = hour_start(hour)
    return f"time >= '{start.isoformat()}' AND time < '{(start + timedelta(hours=1)).isoformat()}'"


def _host_condition(hour: int) -> str:
    return f"hostname = 'host_1' AND {_hour_condition(hour)}"


#: (case name, condition for a given hour)
CASES: list[tuple[str, Callable[[int], str]]] = [
    ("one hour", _hour_condition),
    ("one host in one hour", _host_condition),
]


def run_size(size: StoreSize, directory: Path) -> list[CaseResult]:
    """Generate a store of ``size``, run both sides of every case, and return the results."""
    store = directory / f"store-{size.days}d"
    store.mkdir()
    _progress(f"writing {size.files} hour files of {size.rows_per_file:,} rows")
    backend = LocalBackend(store)
    write_store(backend, size)
    store_bytes = sum(info.size for info in backend.list_objects(f"{DATABASE}/"))
    # Each run deletes a different hour, spread over the store.
    hours = [size.files * (run + 1) // (RUNS + 1) for run in range(RUNS)]

    references: dict[str, list[ReferenceRun]] = {}
    for name, condition in CASES:
        _progress(f"DuckDB by hand, {name}, {size.days} days")
        references[name] = [reference_rewrite(store, directory / "rewritten", condition(hour)) for hour in hours]

    runs: dict[str, list[GatewayRun]] = {name: [] for name, _ in CASES}
    gateway = start_gateway(Settings(storage_url=str(store)), directory / f"gateway-{size.days}d.log")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname={DATABASE}", autocommit=True) as connection:
            connection.execute("SELECT count(*) FROM cpu").fetchone()  # loads extensions, fills caches
            for offset, (name, condition) in enumerate(CASES):
                _progress(f"Lakegate DELETE, {name}, {size.days} days")
                runs[name] = [gateway_delete(connection, backend, condition(hour + offset)) for hour in hours]
    except BaseException:
        print(f"gateway log (last 4000 characters):\n{gateway.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        gateway.stop()
    return [CaseResult(name, condition(hours[0]), size, store_bytes, runs[name], references[name])
            for name, condition in CASES]


def run(sizes: list[StoreSize], command: str) -> DeleteResults:
    started = datetime.now(UTC)
    load_at_start = load_average()
    directory = Path(tempfile.mkdtemp(prefix="lakegate-bench-delete-"))
    try:
        cases = [case for size in sizes for case in run_size(size, directory)]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return DeleteResults(started, command, machine_description(), software_versions(), source_revision(),
                         (load_at_start, load_average()), cases)


def _progress(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    sizes = [StoreSize(int(days), arguments.hosts) for days in arguments.days.split(",")]
    command = shlex.join(["python", "-m", "bench.delete", *(sys.argv[1:] if argv is None else argv)])
    try:
        results = run(sizes, command)
    except CheckFailed as error:
        print(f"bench.delete: {error}", file=sys.stderr)
        return 1
    print(table(results.cases))
    if not arguments.no_page:
        replace_section(arguments.page, SECTION, section(results))
        print(f"wrote the DELETE section of {arguments.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
