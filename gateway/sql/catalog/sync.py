"""Mirroring the store's databases and measurements as DuckDB schemas and typed empty views.

The views exist only so that the catalog (pg_class, pg_attribute,
information_schema) lists measurements with their columns. Queries never
read them, because the rewrite replaces measurement references with Parquet
scans first.
"""

from __future__ import annotations

import logging
import threading
import time

from gateway.engine import Engine
from gateway.sql.catalog import objects
from gateway.sql.catalog.objects import SYSTEM_SCHEMAS
from gateway.sql.measurements import Column, Measurements

logger = logging.getLogger(__name__)

# Listing a large object store for every catalog query of a client that
# browses (psql's \d sends about a dozen) would be slow, so results are reused briefly.
MIN_REFRESH_SECONDS = 2.0


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def view_statement(database: str, measurement: str, columns: list[Column]) -> str:
    """Return the CREATE VIEW statement of a measurement's typed empty view."""
    projections = ", ".join(f"CAST(NULL AS {column.type}) AS {_identifier(column.name)}" for column in columns)
    return (f"CREATE OR REPLACE VIEW {_identifier(database)}.{_identifier(measurement)} AS "
            f"SELECT {projections or 'NULL AS time'} WHERE false")


class CatalogSync:
    """Keeps the DuckDB schemas and views in step with storage listings."""

    def __init__(self, engine: Engine, measurements: Measurements) -> None:
        self.engine = engine
        self.measurements = measurements
        self._lock = threading.Lock()
        self._refreshed_at = 0.0
        self._views: dict[tuple[str, str], list[Column]] = {}
        for statement in objects.statements():
            engine.execute_admin(statement)

    def invalidate(self) -> None:
        """Make the next refresh read storage again, after this gateway wrote to it."""
        with self._lock:
            self._refreshed_at = 0.0

    def refresh(self, *, force: bool = False) -> None:
        """Bring the mirror up to date unless it was refreshed within MIN_REFRESH_SECONDS."""
        with self._lock:
            if not force and time.monotonic() - self._refreshed_at < MIN_REFRESH_SECONDS:
                return
            self._apply(self._stored_objects())
            self._refreshed_at = time.monotonic()

    def _stored_objects(self) -> dict[tuple[str, str], list[Column]]:
        stored: dict[tuple[str, str], list[Column]] = {}
        for database in self.measurements.databases():
            if database.lower() in SYSTEM_SCHEMAS:
                continue
            stored[(database, "")] = []
            for measurement in self.measurements.measurements(database):
                stored[(database, measurement)] = self.measurements.columns(database, measurement)
        return stored

    def _apply(self, stored: dict[tuple[str, str], list[Column]]) -> None:
        for (database, measurement), columns in stored.items():
            if measurement == "":
                if (database, "") not in self._views:
                    self.engine.execute_admin(f"CREATE SCHEMA IF NOT EXISTS {_identifier(database)}")
            elif self._views.get((database, measurement)) != columns:
                self.engine.execute_admin(view_statement(database, measurement, columns))
            self._views[(database, measurement)] = columns
        # Views go before their schemas, so that DROP SCHEMA never finds a view it already removed.
        stale = sorted((key for key in self._views if key not in stored), key=lambda key: key[1] == "")
        for database, measurement in stale:
            if measurement:
                self.engine.execute_admin(
                    f"DROP VIEW IF EXISTS {_identifier(database)}.{_identifier(measurement)}")
            else:
                self.engine.execute_admin(f"DROP SCHEMA IF EXISTS {_identifier(database)} CASCADE")
            del self._views[(database, measurement)]
