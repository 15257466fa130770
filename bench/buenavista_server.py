"""Stock buenavista 0.5.0 serving the gateway's Parquet files, the slow reference of result streaming.

The server is buenavista's own example program
``buenavista.examples.duckdb_postgres`` (installed with the gateway, which
depends on buenavista), unchanged, in a subprocess. It serves the DuckDB
database file given as its argument, and its address comes from the
BUENAVISTA_HOST and BUENAVISTA_PORT variables. The database file contains
only a ``cpu`` view over the Parquet files.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from gateway.allocator import ARROW_POOL_VARIABLE
from gateway.storage.duckdb_extensions import quote_literal
from tests.emulators import ServiceProcess, free_port

MODULE = "buenavista.examples.duckdb_postgres"
#: The example has no users; any user name connects.
USER = "bench"


def create_view_database(path: Path, parquet_glob: str) -> None:
    """Write a DuckDB database file whose view ``cpu`` reads every file of ``parquet_glob``, hive partitioning off."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(f"CREATE OR REPLACE VIEW cpu AS SELECT * FROM read_parquet("
                           f"{quote_literal(parquet_glob)}, hive_partitioning = false)")
    finally:
        connection.close()


@contextmanager
def running_buenavista(parquet_glob: str, directory: Path) -> Iterator[int]:
    """Start the example server on a free 127.0.0.1 port over ``parquet_glob``; yield the port, then stop it."""
    database = directory / "buenavista.duckdb"
    create_view_database(database, parquet_glob)
    port = free_port()
    # Importing the gateway package set pyarrow's pool in this environment.
    # The reference runs with pyarrow's own default.
    env = {key: value for key, value in os.environ.items() if key != ARROW_POOL_VARIABLE}
    env.update({"BUENAVISTA_HOST": "127.0.0.1", "BUENAVISTA_PORT": str(port)})
    service = ServiceProcess("buenavista", [sys.executable, "-m", MODULE, str(database)],
                             directory / "buenavista.log", env)
    try:
        service.wait_until_ready(lambda: _accepts_connections(port))
        yield port
    finally:
        service.stop()


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
