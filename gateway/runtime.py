"""The state one gateway process shares across sessions: storage, DuckDB and the catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.config import Settings
from gateway.errors import InvalidCatalogName, UndefinedTable
from gateway.engine import Engine
from gateway.sql.catalog.sync import CatalogSync
from gateway.sql.measurements import Measurements
from gateway.storage.backend import StorageBackend
from gateway.storage.duckdb_secrets import SecretRefresher, secret_statements
from gateway.storage.open import open_backend

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Storage backend, DuckDB engine and measurement catalog of one process."""

    settings: Settings
    backend: StorageBackend
    engine: Engine
    measurements: Measurements
    catalog: CatalogSync
    refresher: SecretRefresher | None = None

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        """Open and check the store, then set up DuckDB; raise ConfigurationError on a bad store."""
        backend = open_backend(settings.storage_url, settings)
        backend.check()
        engine = Engine(backend, lambda: secret_statements(backend))
        refresher = None
        if secret_statements(backend):
            refresher = SecretRefresher(backend, engine.execute_admin)
            refresher.start()
        measurements = Measurements(engine)
        return cls(settings, backend, engine, measurements, CatalogSync(engine, measurements), refresher)

    def stored_columns(self, database: str, measurement: str) -> dict[str, str]:
        """Return {column: DuckDB type} of a stored measurement; empty when it does not exist."""
        try:
            stored = self.measurements.resolve(database, measurement)
        except (UndefinedTable, InvalidCatalogName):
            return {}
        return {column.name: column.type for column in self.measurements.columns(database, stored)}

    def close(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()
        self.engine.close()
