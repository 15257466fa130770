"""Load run: many psycopg connections reading, writing and deleting at once against one gateway.

    python -m reliability.load [--connections 100] [--duration 60] [--warmup 15]

The gateway serves a fresh local store loaded with TSBS-style ``cpu`` rows.
Every connection runs a mix of TSBS queries, INSERTs and COPYs of new rows
and DELETEs of one host in one old hour (see load_mix.py) until the
duration is over. The run reports operations and errors by kind, p50 and
p99 latency, and the gateway's VmRSS after the warm-up and at the end, and
rewrites the ``load`` section of docs/reliability.md. The exit status is 1
when any operation failed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg

from bench.cpu_data import COLUMNS, START, CpuGenerator
from bench.tsbs_queries import DataSpan
from gateway.config import Settings
from reliability.load_mix import LoadClient
from reliability.load_report import LoadFigures, print_figures, write_section
from reliability.memory import RssSeries
from tests.e2e.gateway_process import GatewayProcess, start_gateway

DATABASE = "telemetry"


def load_data(gateway: GatewayProcess, span: DataSpan) -> int:
    """COPY ``span``'s rows into ``cpu``, flush them to Parquet and return the row count."""
    generator = CpuGenerator(hosts=span.hosts, start=span.start)
    count = span.hosts * span.hours * 360
    with psycopg.connect(f"{gateway.dsn} dbname={DATABASE}", autocommit=True) as connection:
        with connection.cursor().copy(f"COPY cpu ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in generator.rows(count):
                copy.write_row(row)
        connection.execute("CHECKPOINT")
    return count


#: How many VmRSS samples the report shows over the run, besides the last one.
CURVE_POINTS = 10


def run_clients(gateway: GatewayProcess, span: DataSpan, connections: int, duration: float,
                seed: int) -> tuple[dict[str, list[float]], Counter[str], list[str], float]:
    """Run ``connections`` clients for ``duration`` seconds.

    Returns the latencies and errors by kind, the error messages, and the
    seconds until the last operation ended: operations started before the
    end of ``duration`` run to their end and are counted.
    """
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    messages: list[str] = []
    lock = threading.Lock()
    opened = [psycopg.connect(f"{gateway.dsn} dbname={DATABASE}", autocommit=True, connect_timeout=60)
              for _ in range(connections)]
    started = time.monotonic()
    deadline = started + duration

    def work(index: int) -> None:
        client = LoadClient(index, opened[index], span, seed)
        while time.monotonic() < deadline:
            kind = client.next_kind()
            began = time.monotonic()
            try:
                client.run(kind)
            except (psycopg.Error, RuntimeError) as error:
                with lock:
                    errors[kind] += 1
                    messages.append(f"{kind}: {error}")
                continue
            with lock:
                latencies[kind].append(time.monotonic() - began)

    threads = [threading.Thread(target=work, args=(index,), daemon=True) for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for connection in opened:
        connection.close()
    return latencies, errors, messages, elapsed


def connection_flags() -> tuple[str, ...]:
    """Return ``--max-connections 110`` when this gateway has the flag, so 100 clients stay under the limit."""
    help_text = subprocess.run([sys.executable, "-m", "gateway", "serve", "--help"], capture_output=True,
                               text=True, check=False).stdout
    return ("--max-connections", "110") if "--max-connections" in help_text else ()


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    span = DataSpan(START, arguments.hours, arguments.hosts)
    directory = Path(tempfile.mkdtemp(prefix="lakegate-load-"))
    store = directory / "store"
    store.mkdir()
    flags = connection_flags()
    gateway = start_gateway(Settings(storage_url=str(store)), directory / "gateway.log", *flags)
    try:
        loaded = load_data(gateway, span)
        print(f"loaded {loaded} rows; running {arguments.connections} connections for {arguments.duration} s",
              flush=True)
        with RssSeries(gateway.process.pid) as memory:
            latencies, errors, messages, elapsed = run_clients(gateway, span, arguments.connections, arguments.duration,
                                                      arguments.seed)
    finally:
        gateway.stop()

    command = shlex.join(["python", "-m", "reliability.load", *(argv if argv is not None else sys.argv[1:])])
    figures = LoadFigures(arguments.connections, arguments.duration, elapsed, arguments.warmup, loaded, span,
                          flags, latencies, errors, memory.at(arguments.warmup), memory.last_within(elapsed),
                          memory.last(), memory.curve(arguments.duration / CURVE_POINTS, elapsed), command)
    print_figures(figures)
    for message in messages[:10]:
        print(f"error: {message}", file=sys.stderr)
    if not arguments.no_report:
        write_section(figures)
    if not errors:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        print(f"gateway log kept in {directory / 'gateway.log'}", file=sys.stderr)
    return 1 if errors else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reliability.load", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100, help="concurrent connections (default 100)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds after the start at which the warm-up VmRSS is read (default 15)")
    parser.add_argument("--hosts", type=int, default=10, help="hosts of the loaded cpu rows (default 10)")
    parser.add_argument("--hours", type=int, default=24, help="hours of the loaded cpu rows (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the clients' choices (default 1)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/reliability.md")
    return parser


if __name__ == "__main__":
    sys.exit(main())
