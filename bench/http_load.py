"""Timed line-protocol writes to the gateway's InfluxDB 1.x endpoint, ``POST /write``."""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.process_stats import cpu_seconds

_TIMEOUT = 600.0


class WriteFailed(RuntimeError):
    """The endpoint responded to a write with a status other than 204 No Content."""


@dataclass(frozen=True)
class HttpRun:
    """Wall-clock seconds of a run and the CPU seconds the gateway and this client used meanwhile."""

    seconds: float
    gateway_cpu_seconds: float
    client_cpu_seconds: float


def timed_writes(port: int, pid: int, database: str, bodies: list[bytes], threads: int) -> HttpRun:
    """POST every body to ``/write?db=database&precision=ns`` from ``threads`` client threads.

    Thread ``i`` sends bodies ``i``, ``i + threads``, ... one after another.
    Raises WriteFailed on the first response that is not 204.
    """
    path = f"/write?db={database}&precision=ns"
    shares = [bodies[index::threads] for index in range(threads)]
    gateway_cpu = cpu_seconds(pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-http") as pool:
        for finished in [pool.submit(_post_all, port, path, share) for share in shares]:
            finished.result()
    elapsed = time.perf_counter() - started
    return HttpRun(elapsed, cpu_seconds(pid) - gateway_cpu, time.process_time() - client_cpu)


def _post_all(port: int, path: str, bodies: list[bytes]) -> None:
    # http.client reopens the connection by itself when the server closes it after a response.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_TIMEOUT)
    try:
        for body in bodies:
            connection.request("POST", path, body=body, headers={"Content-Type": "text/plain; charset=utf-8"})
            response = connection.getresponse()
            response_body = response.read()
            if response.status != 204:
                raise WriteFailed(f"POST {path} returned {response.status}: {response_body[:1000]!r}")
    finally:
        connection.close()
