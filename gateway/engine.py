"""The process's one DuckDB database: extensions, secrets and the client sandbox.

Extensions load from the files shipped in the ``duckdb_extension_httpfs``
and ``duckdb_extension_azure`` packages, so nothing is downloaded. After
set-up, external access is limited to the storage root (and DuckDB's own
private spill directory) and the configuration is locked: no client
statement can read or write elsewhere, ATTACH, INSTALL, LOAD or change a
setting.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable

import duckdb
import pyarrow as pa

from gateway.storage.backend import StorageBackend
from gateway.storage.duckdb_extensions import load_statements, quote_literal
from gateway.storage.local import LocalBackend

logger = logging.getLogger(__name__)

#: Rows per Arrow batch when a whole DuckDB result is fetched as one table.
#: DuckDB reserves each column's buffers for a full batch before it appends,
#: and its default batch of 1,000,000 rows made every ten-row INSERT allocate
#: tens of MiB. Under 100 connections that grew the process by hundreds of
#: MiB a minute (docs/reliability.md, load).
TABLE_BATCH_ROWS = 2_048


def fetch_table(cursor: duckdb.DuckDBPyConnection) -> pa.Table:
    """Fetch the rest of the result of ``cursor``'s last statement as an Arrow table.

    A result shorter than one batch is copied into buffers of its own size:
    the write buffer keeps INSERT rows for seconds and counts their memory
    by their size, not by DuckDB's reserve.
    """
    table = cursor.to_arrow_table(TABLE_BATCH_ROWS)
    if table.num_rows < TABLE_BATCH_ROWS:
        table = table.take(pa.array(range(table.num_rows), pa.int64()))
    return table


class Engine:
    """One DuckDB database per process, sandboxed to the storage root.

    ``cursor()`` gives an independent connection for one client session or
    one internal task; DuckDB cursors may be used from different threads.
    """

    def __init__(
        self,
        backend: StorageBackend,
        secret_statements: Callable[[], list[str]] | None = None,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._secret_statements = secret_statements or (lambda: [])
        # DuckDB adds its temp_directory to allowed_directories. The default is
        # ``.tmp`` in the working directory, which may hold other files, so
        # spill files go to a new private directory under TMPDIR instead.
        self.temp_directory = tempfile.mkdtemp(prefix="lakegate-duckdb-")
        config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
        self.connection = duckdb.connect(":memory:", config=config)
        self._set_up(memory_limit, threads)

    def _set_up(self, memory_limit: str | None, threads: int | None) -> None:
        con = self.connection
        for statement in load_statements():
            con.execute(statement)
        # GLOBAL, or the setting would hold for this connection only and not for
        # the cursors that sessions get.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        # PostgreSQL divides integers by integers without a fraction (7 / 2 = 3).
        con.execute("SET GLOBAL integer_division = true")
        con.execute("SET parquet_metadata_cache = true")
        if isinstance(self.backend, LocalBackend):
            # The operating system caches local files already. DuckDB's own
            # cache of file contents kept every file version it had read, and
            # grew by about 1 MiB/s under the load run (docs/reliability.md).
            con.execute("SET enable_external_file_cache = false")
        con.execute(f"SET temp_directory = {quote_literal(self.temp_directory)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        self.refresh_secrets()
        root = self.backend.root_uri()
        con.execute(f"SET allowed_directories = [{quote_literal(root)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        logger.info("DuckDB %s ready, external access limited to %s", duckdb.__version__,
                    self.backend.description)

    def refresh_secrets(self) -> None:
        """Create or replace the storage secrets (also called before credentials expire)."""
        with self._lock:
            for statement in self._secret_statements():
                self.connection.execute(statement)

    def execute_admin(self, sql: str) -> None:
        """Run one gateway-built statement (never client SQL) on the shared connection."""
        with self._lock:
            self.connection.execute(sql)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a new cursor on the shared database."""
        with self._lock:
            return self.connection.cursor()

    def close(self) -> None:
        self.connection.close()
        shutil.rmtree(self.temp_directory, ignore_errors=True)
