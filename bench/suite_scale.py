"""Data sizes, run counts and durations of one ``python -m bench`` run: the full run and the quick one."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bench.cpu_data import INTERVAL


@dataclass(frozen=True)
class SuiteScale:
    """How much data each suite uses and how often it repeats a measurement."""

    #: Hosts and hours of TSBS cpu rows loaded through the gateway (one row per host every 10 s).
    hosts: int
    hours: int
    #: Rows of each timed psql run, and rows streamed for the memory figure.
    stream_rows: int
    memory_rows: int
    stream_runs: int
    buenavista_runs: int
    #: Timed runs of each TSBS query on each side, after one untimed run.
    query_runs: int
    #: Days of hourly files and hosts of the object-storage store, and timed runs on each side.
    s3_days: int
    s3_hosts: int
    s3_runs: int
    clients: int
    concurrency_seconds: float

    @property
    def rows(self) -> int:
        """Return the rows loaded: hosts times 10-second steps in ``hours``."""
        return self.hosts * self.hours * 3600 // int(INTERVAL.total_seconds())

    def check(self) -> None:
        """Raise ValueError when the sizes do not fit together."""
        if self.hours < 12:
            raise ValueError(f"--hours must be at least 12, the window of the longest TSBS query, not {self.hours}")
        if self.stream_rows > self.rows:
            raise ValueError(f"{self.stream_rows:,} rows per psql run need more than the {self.rows:,} rows loaded "
                             f"({self.hosts} hosts for {self.hours} hours); raise --hosts or --hours")
        if self.stream_rows % self.hosts:
            raise ValueError(f"{self.stream_rows:,} rows per psql run are not whole 10-second steps of "
                             f"{self.hosts} hosts, so the servers could return different rows")
        if min(self.hosts, self.stream_runs, self.buenavista_runs, self.query_runs, self.s3_days, self.s3_hosts,
               self.s3_runs, self.clients) < 1:
            raise ValueError("every size and run count must be at least 1")

    def with_data(self, hosts: int | None, hours: int | None) -> SuiteScale:
        """Return a copy with other hosts or hours of loaded data (None keeps the value)."""
        return replace(self, hosts=hosts or self.hosts, hours=hours or self.hours)


#: 100 hosts for 28 hours are 1,008,000 rows, enough for psql runs of 1,000,000.
FULL = SuiteScale(hosts=100, hours=28, stream_rows=1_000_000, memory_rows=10_000_000, stream_runs=5,
                  buenavista_runs=3, query_runs=10, s3_days=30, s3_hosts=10, s3_runs=5, clients=32,
                  concurrency_seconds=60.0)

QUICK = SuiteScale(hosts=20, hours=14, stream_rows=100_000, memory_rows=1_000_000, stream_runs=3,
                   buenavista_runs=1, query_runs=5, s3_days=30, s3_hosts=2, s3_runs=3, clients=32,
                   concurrency_seconds=10.0)
