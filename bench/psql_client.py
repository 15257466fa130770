"""Running ``psql -At -c <query>`` against a server, timed end to end, with its output discarded or kept.

``-X`` keeps a ``~/.psqlrc`` from changing the output or adding commands.
The connection goes to 127.0.0.1 over TCP without a password, as every
server of the benchmark trusts loopback clients.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass

PSQL = "/usr/bin/psql"


@dataclass(frozen=True)
class Endpoint:
    """The connection target of psql: a loopback port, a user and a database."""

    port: int
    user: str
    database: str


@dataclass(frozen=True)
class Output:
    """psql's output of one run: line count and a digest of the sorted lines, which ignores row order."""

    lines: int
    sorted_digest: str
    sample: tuple[str, ...]


class PsqlFailed(RuntimeError):
    """psql exited with a non-zero status."""


def command(endpoint: Endpoint, query: str) -> list[str]:
    """Return the psql command line that runs ``query`` on ``endpoint`` with unaligned, tuples-only output."""
    return [PSQL, "-X", "-At", "-h", "127.0.0.1", "-p", str(endpoint.port), "-U", endpoint.user,
            "-d", endpoint.database, "-c", query]


def timed_run(endpoint: Endpoint, query: str) -> float:
    """Run psql with its output sent to /dev/null and return the wall seconds from start to exit.

    Raises PsqlFailed when psql exits with a non-zero status.
    """
    started = time.perf_counter()
    result = subprocess.run(command(endpoint, query), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise PsqlFailed(f"psql on port {endpoint.port} exited with {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()}")
    return elapsed


def captured_output(endpoint: Endpoint, query: str) -> Output:
    """Run psql once, keeping its output, and return the line count, sorted-lines digest and three lines."""
    result = subprocess.run(command(endpoint, query), capture_output=True, check=False)
    if result.returncode != 0:
        raise PsqlFailed(f"psql on port {endpoint.port} exited with {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()}")
    lines = sorted(result.stdout.splitlines())
    digest = hashlib.sha256(b"\n".join(lines)).hexdigest()
    sample = tuple(line.decode(errors="replace") for line in lines[:3])
    return Output(len(lines), digest, sample)
