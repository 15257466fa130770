"""Result streaming: psql over the gateway, PostgreSQL 15 and stock buenavista, and the gateway's memory.

Every server returns the same rows: the first ``rows`` rows of ``cpu`` in
time order, selected by a time bound (and a LIMIT), six columns each. Runs
of the gateway and PostgreSQL alternate, so a slow moment of the machine
falls on both. buenavista, about 35 times slower, runs fewer times.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.cpu_data import INTERVAL, START
from bench.percentiles import median
from bench.process_stats import RssSampler, memory_kib
from bench.psql_client import Endpoint, Output, captured_output, timed_run
from bench.row_drain import drain
from bench.tsbs_queries import timestamp_literal

COLUMNS = ("time", "hostname", "usage_user", "usage_system", "usage_idle", "usage_iowait")


@dataclass(frozen=True)
class StreamingTimes:
    """Seconds of every timed psql run per server, and whether the outputs matched PostgreSQL's."""

    query: str
    rows: int
    gateway: list[float]
    postgres: list[float]
    buenavista: list[float]
    #: Empty when the gateway printed exactly PostgreSQL's lines (in any order), else what differs.
    output_difference: str

    @property
    def gateway_over_postgres(self) -> float:
        return median(self.gateway) / median(self.postgres)

    @property
    def buenavista_over_gateway(self) -> float:
        return median(self.buenavista) / median(self.gateway)


@dataclass(frozen=True)
class StreamingMemory:
    """The gateway's resident memory while one client received ``rows`` rows."""

    query: str
    rows: int
    seconds: float
    idle_kib: int
    peak_kib: int
    sampled_peak_kib: int
    samples: int

    @property
    def above_idle_mib(self) -> float:
        return (self.peak_kib - self.idle_kib) / 1024


def stream_query(rows: int, hosts: int) -> str:
    """Return the SELECT of the first ``rows`` rows of ``cpu`` (in time order, ``hosts`` rows a step), six columns.

    The time bound selects exactly ``rows`` rows when ``rows`` is a multiple
    of ``hosts``, so every server returns the same set of rows.
    """
    steps = -(-rows // hosts)
    bound = START + steps * INTERVAL
    return (f"SELECT {', '.join(COLUMNS)} FROM cpu WHERE time < {timestamp_literal(bound)} LIMIT {rows}")


def time_streaming(gateway: Endpoint, postgres: Endpoint, buenavista: Endpoint, query: str, rows: int,
                   runs: int, buenavista_runs: int) -> StreamingTimes:
    """Time ``runs`` psql runs on the gateway and PostgreSQL (alternating) and ``buenavista_runs`` on buenavista.

    One untimed run per server first captures the output, to compare the
    gateway's text with PostgreSQL's and to check every server's line count.
    """
    outputs = {name: captured_output(endpoint, query)
               for name, endpoint in (("gateway", gateway), ("postgres", postgres), ("buenavista", buenavista))}
    _check_line_counts(outputs, rows)
    gateway_times: list[float] = []
    postgres_times: list[float] = []
    for _ in range(runs):
        gateway_times.append(timed_run(gateway, query))
        postgres_times.append(timed_run(postgres, query))
    buenavista_times = [timed_run(buenavista, query) for _ in range(buenavista_runs)]
    return StreamingTimes(query, rows, gateway_times, postgres_times, buenavista_times,
                          _difference(outputs["gateway"], outputs["postgres"]))


def measure_memory(conninfo: str, pid: int, query: str, expected_rows: int) -> StreamingMemory:
    """Drain ``query`` from the gateway ``pid`` and return its VmRSS before and VmHWM after.

    Call it on a gateway that has run only small queries, because VmHWM is
    the highest resident memory since the process started. Raises
    LineCountMismatch unless ``expected_rows`` rows arrive.
    """
    idle_kib = memory_kib(pid)["VmRSS"]
    with RssSampler(pid) as sampler:
        rows, seconds = drain(conninfo, query)
    if rows != expected_rows:
        raise LineCountMismatch(f"the gateway returned {rows:,} rows, expected {expected_rows:,}: {query}")
    peak_kib = memory_kib(pid)["VmHWM"]
    return StreamingMemory(query, rows, seconds, idle_kib, peak_kib, sampler.peak_kib, sampler.samples)


def memory_query(rows: int, loaded_rows: int) -> str:
    """Return a SELECT of ``rows`` rows of the six columns, repeating the loaded rows as often as needed."""
    copies = -(-rows // loaded_rows)
    return (f"SELECT {', '.join(COLUMNS)} FROM cpu CROSS JOIN range({copies}) AS copies(copy) LIMIT {rows}")


class LineCountMismatch(RuntimeError):
    """A server printed another number of lines than the rows selected."""


def _check_line_counts(outputs: dict[str, Output], rows: int) -> None:
    for name, output in outputs.items():
        if output.lines != rows:
            raise LineCountMismatch(f"psql printed {output.lines:,} lines from {name}, expected {rows:,}")


def _difference(gateway: Output, postgres: Output) -> str:
    if gateway.sorted_digest == postgres.sorted_digest:
        return ""
    return (f"the gateway's {gateway.lines:,} lines differ from PostgreSQL's; first sorted lines "
            f"{list(gateway.sample)} and {list(postgres.sample)}")

