"""``lakegate serve`` for the benchmarks: default settings, a fresh local store, free loopback ports.

The process is started by the end-to-end tests' ``start_gateway`` (imported,
not copied), so it is ``python -m gateway serve`` itself, and its process id
is the one whose memory and CPU time the benchmarks read.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.config import Settings
from tests.e2e.gateway_process import GatewayProcess, start_gateway


@contextmanager
def running_gateway() -> Iterator[GatewayProcess]:
    """Start a gateway on an empty local store in a temporary directory, then stop it and delete the store."""
    directory = Path(tempfile.mkdtemp(prefix="lakegate-bench-"))
    store = directory / "store"
    store.mkdir()
    process = start_gateway(Settings(storage_url=str(store)), directory / "gateway.log")
    try:
        yield process
    except BaseException:
        print(f"gateway log (last 4000 characters):\n{process.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)


def conninfo(gateway: GatewayProcess, database: str) -> str:
    return f"{gateway.dsn} dbname={database}"
