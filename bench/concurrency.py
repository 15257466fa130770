"""Many clients at once: each runs TSBS queries of random types through the gateway for a fixed time.

Every client is a thread of this process with its own psycopg connection,
opened before the clock starts. A client draws each query's type and
parameters from its own seeded Random, so a run is repeatable. The
gateway's CPU time divided by the wall time is the number of cores it kept
busy on average.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg

from bench.percentiles import percentile
from bench.process_stats import cpu_seconds
from bench.tsbs_queries import QUERY_TYPES, DataSpan, generate


@dataclass
class ClientLog:
    """One client's record: the latency of each successful query by type, and its errors."""

    latencies: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConcurrencyResult:
    """Totals of a run of ``clients`` clients for ``seconds``."""

    clients: int
    seconds: float
    latencies: list[float]
    queries_by_type: dict[str, int]
    errors: list[str]
    gateway_cpu_seconds: float
    client_cpu_seconds: float

    @property
    def throughput(self) -> float:
        """Return completed queries per second of wall time."""
        return len(self.latencies) / self.seconds

    @property
    def gateway_cores(self) -> float:
        """Return the gateway's CPU seconds per wall second: above 1 means more than one core was busy."""
        return self.gateway_cpu_seconds / self.seconds

    def latency_percentile(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


def run_clients(conninfo: str, gateway_pid: int, span: DataSpan, clients: int, seconds: float,
                seed: int) -> ConcurrencyResult:
    """Run ``clients`` clients for ``seconds`` against the gateway and return the totals."""
    connections = [psycopg.connect(conninfo, autocommit=True) for _ in range(clients)]
    logs = [ClientLog() for _ in range(clients)]
    start_together = threading.Barrier(clients + 1)
    deadline: list[float] = []
    threads = [threading.Thread(target=_client, name=f"bench-client-{index}",
                                args=(connections[index], logs[index], span, random.Random(seed + index),
                                      start_together, deadline))
               for index in range(clients)]
    for thread in threads:
        thread.start()

    cpu_before, client_before = cpu_seconds(gateway_pid), _own_cpu_seconds()
    started = time.perf_counter()
    deadline.append(started + seconds)
    start_together.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu_after, client_after = cpu_seconds(gateway_pid), _own_cpu_seconds()
    for connection in connections:
        connection.close()

    latencies = [latency for log in logs for _, latency in log.latencies]
    by_type = Counter(kind for log in logs for kind, _ in log.latencies)
    return ConcurrencyResult(clients, wall, latencies, {kind: by_type[kind] for kind in QUERY_TYPES},
                             [error for log in logs for error in log.errors], cpu_after - cpu_before,
                             client_after - client_before)


def _client(connection: psycopg.Connection, log: ClientLog, span: DataSpan, chooser: random.Random,
            start_together: threading.Barrier, deadline: list[float]) -> None:
    start_together.wait()
    while time.perf_counter() < deadline[0]:
        query = generate(chooser.choice(QUERY_TYPES), span, chooser)
        started = time.perf_counter()
        try:
            connection.execute(query.sql).fetchall()
        except psycopg.Error as error:
            log.errors.append(f"{query.kind}: {error}")
            if connection.closed:
                return
            continue
        log.latencies.append((query.kind, time.perf_counter() - started))


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
