"""The state one gateway process shares across sessions: storage, DuckDB, the catalog and the writer."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.clock import Clock, system_clock
from gateway.config import Settings
from gateway.engine import Engine
from gateway.errors import InvalidCatalogName, UndefinedTable
from gateway.ingest.arrow_writer import ArrowWriter, FlushLimits
from gateway.ingest.wal import WriteAheadLog
from gateway.jobs import retention as retention_jobs
from gateway.jobs.continuous import ContinuousRunner
from gateway.meta import lease
from gateway.meta.store import MetaStore
from gateway.scheduler import Scheduler
from gateway.sql.catalog.sync import CatalogSync
from gateway.sql.lru import LruCache
from gateway.sql.measurements import Measurements
from gateway.sql.plan_cache import PlanCache
from gateway.storage.backend import StorageBackend
from gateway.storage.duckdb_secrets import SecretRefresher, secret_statements
from gateway.storage.local import LocalBackend
from gateway.storage.open import open_backend

logger = logging.getLogger(__name__)

#: Parsed statements kept for reuse by their text.
STATEMENTS_KEPT = 512


@dataclass
class Runtime:
    """Storage backend, DuckDB engine and measurement catalog of one process."""

    settings: Settings
    backend: StorageBackend
    engine: Engine
    measurements: Measurements
    catalog: CatalogSync
    writer: ArrowWriter
    refresher: SecretRefresher | None = None
    #: Retention policies and continuous queries, stored under ``_lakegate/meta/``.
    meta: MetaStore | None = None
    #: Where scheduled work reads the time; tests pass a ManualClock.
    clock: Clock = system_clock
    #: Periodic jobs; ``lakegate serve`` starts it, other commands do not.
    scheduler: Scheduler | None = None
    #: Rewritten queries that sessions reuse while the files they read are unchanged.
    plans: PlanCache = field(default_factory=PlanCache)
    #: Parsed query statements by text, shared by sessions (see Session.prepare).
    statements: LruCache[Any] = field(default_factory=lambda: LruCache(STATEMENTS_KEPT))

    @classmethod
    def start(cls, settings: Settings, *, write_ahead: bool = True, clock: Clock = system_clock) -> Runtime:
        """Open and check the store, set up DuckDB, replay the WAL and start the writer.

        Raises ConfigurationError on a bad store or an unusable WAL
        directory. Without ``write_ahead`` (a one-shot import) rows are not
        logged: they are in Parquet once ``close`` returns.
        """
        backend = open_backend(settings.storage_url, settings)
        backend.check()
        wal = WriteAheadLog(wal_directory(settings, backend), settings.writer.wal_sync,
                            settings.writer.wal_sync_interval) if write_ahead else None
        if wal is not None:
            # The log's lock file keeps its directory to one process: it names this gateway instance.
            lease.set_instance(f"{socket.gethostname()}:{wal.directory.resolve()}")
        engine = Engine(backend, lambda: secret_statements(backend))
        refresher = None
        if secret_statements(backend):
            refresher = SecretRefresher(backend, engine.execute_admin)
            refresher.start()
        measurements = Measurements(engine, listing_ttl=settings.listing_cache_ttl)
        catalog = CatalogSync(engine, measurements)
        limits = FlushLimits(rows=settings.writer.flush_rows, bytes=settings.writer.flush_bytes,
                             age=settings.writer.flush_age, memory=settings.writer.buffer_memory)
        writer = ArrowWriter(backend, lambda database, name: _file_columns(measurements, database, name),
                             wal=wal, limits=limits, on_flush=catalog.invalidate)
        replayed = writer.replay()
        if replayed:
            logger.info("recovered %d acknowledged rows from the write-ahead log", replayed)
        measurements.buffered = writer
        writer.start()
        runtime = cls(settings, backend, engine, measurements, catalog, writer, refresher,
                      MetaStore(backend), clock, Scheduler(clock))
        runtime._add_jobs()
        return runtime

    def _add_jobs(self) -> None:
        """Register the periodic jobs (retention, continuous queries) on the scheduler."""
        assert self.scheduler is not None
        self.scheduler.add("retention", self.settings.retention_interval,
                           lambda now: retention_jobs.run_active_policies(self, now))
        continuous_queries = ContinuousRunner(self)
        self.scheduler.add("continuous queries", self.settings.continuous_query_interval,
                           continuous_queries.run_scheduled)

    def recover_jobs(self) -> None:
        """Finish the continuous-query windows a stopped process left pending (before serving clients)."""
        ContinuousRunner(self).recover_pending(self.clock())

    def start_jobs(self) -> None:
        """Start running the periodic jobs in the background (``lakegate serve`` only)."""
        if self.scheduler is not None:
            self.scheduler.start()

    def stored_columns(self, database: str, measurement: str) -> dict[str, str]:
        """Return {column: DuckDB type} of a measurement, buffered rows included; empty when it does not exist."""
        try:
            stored = self.measurements.resolve(database, measurement)
        except (UndefinedTable, InvalidCatalogName):
            return {}
        return {column.name: column.type for column in self.measurements.columns(database, stored)}

    def close(self) -> None:
        """Stop the jobs and flush buffered rows, then stop; rows that cannot be flushed stay in the WAL."""
        if self.scheduler is not None:
            self.scheduler.stop()
        try:
            self.writer.close()
        except Exception as error:  # noqa: BLE001 (closing must go on; the WAL keeps the rows)
            logger.error("buffered rows could not be flushed at shutdown; they stay in the WAL: %s", error)
        if self.refresher is not None:
            self.refresher.stop()
        self.engine.close()


def _file_columns(measurements: Measurements, database: str, measurement: str) -> dict[str, str]:
    """Return {column: DuckDB type} of the files of a measurement (the writer adds its own buffers)."""
    try:
        stored = measurements.resolve(database, measurement)
    except (UndefinedTable, InvalidCatalogName):
        return {}
    return {column.name: column.type for column in measurements.file_columns(database, stored)}


def wal_directory(settings: Settings, backend: StorageBackend) -> Path:
    """Return --wal-dir, or by default ``<root>/_lakegate/wal`` for a local store and a
    directory under ``$XDG_STATE_HOME/lakegate/wal`` named by a hash of the URL for a remote one."""
    if settings.writer.wal_dir:
        return Path(settings.writer.wal_dir)
    if isinstance(backend, LocalBackend):
        return backend.root / "_lakegate" / "wal"
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(settings.storage_url.encode()).hexdigest()[:16]
    return state / "lakegate" / "wal" / digest
